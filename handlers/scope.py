"""Which class a command acts on, and the lesson and activity inside it."""

from __future__ import annotations

from peewee import JOIN

from bot.context import Context, UserError
from bot.prepared import Prepared
from bot.text import fit_lines, inline
from models import OPEN, OWNER, Activity, Classroom, ClassStaff, Lesson, Membership, Response, User

# The hot queries (every student command runs them), compiled once: bot/prepared.py.
_OPEN_LESSON = Prepared(lambda classroom: Lesson.select().where((Lesson.classroom == classroom) & (Lesson.live == 1)).limit(1))
# A student's classes leave out archived ones (归档, handlers/terms.py): gone from 我的课堂, 进入 and every command.
_JOINED = Prepared(lambda user: Classroom.select().join(Membership).where((Membership.user == user) & (Membership.active == 1)
                                                                          & Classroom.archived_at.is_null())
                   .order_by(Membership.joined_at, Classroom.id))
_OPEN_ACTIVITIES = Prepared(lambda lesson: Activity.select().where((Activity.lesson == lesson) & (Activity.status == OPEN))
                            .order_by(Activity.opened_at.desc(), Activity.id.desc()))
_OPEN_ACTIVITIES_OF = Prepared(lambda lesson, kind: Activity.select()
                               .where((Activity.lesson == lesson) & (Activity.status == OPEN) & (Activity.kind == kind))
                               .order_by(Activity.opened_at.desc(), Activity.id.desc()))


def open_lesson(classroom: Classroom) -> Lesson | None:
    return _OPEN_LESSON.first(classroom)


def lesson_in_view(classroom: Classroom) -> Lesson | None:
    """The lesson a teacher's report is about: the open one, else the most recent."""
    return open_lesson(classroom) or (
        Lesson.select().where(Lesson.classroom == classroom).order_by(Lesson.started_at.desc(), Lesson.id.desc()).first()
    )


def joined_classes(user: User) -> list[Classroom]:
    return _JOINED.rows(user)


def owned_classes(user: User) -> list[Classroom]:
    return list(Classroom.select().where(Classroom.owner == user).order_by(Classroom.created_at, Classroom.id))


# Who may act for a class (handlers/team.py): its owner (Classroom.owner) and its assistants (ClassStaff rows).
# A command's `staff` level in the table says what it needs: LESSON any of the staff; SETTINGS any of them to
# read, the owner to change (the command given arguments); EXPORT the owner or an assistant granted export;
# OWNER the owner alone. current_class checks it for the class it picks: one rule, one place.
LESSON, SETTINGS, EXPORT = "lesson", "settings", "export"
# The guided dialogs a staff command starts (handlers/guides.py): their steps act at the command's level.
STAFF_FLOWS = {"quiz_guide": LESSON, "announce_guide": LESSON}


def staffed_by(user) -> object:
    """SQL: the ids of the classes *user* owns or assists."""
    return Classroom.select(Classroom.id).where(
        (Classroom.owner == user) | Classroom.id.in_(ClassStaff.select(ClassStaff.classroom).where(ClassStaff.user == user)))


def staff_classes(user: User) -> list[Classroom]:
    """The classes *user* owns or assists (one statement), each with `.staff_role` (owner | assistant),
    `.staff_export` (whether they may export its identity data) and `.staff_section` (the id of the one section an
    assistant is limited to, handlers/sections.py; None: the whole class)."""
    rows = list(Classroom.select(Classroom, ClassStaff.role.alias("staff_role"), ClassStaff.can_export.alias("staff_export"),
                                 ClassStaff.section.alias("staff_section"))
                .join(ClassStaff, JOIN.LEFT_OUTER, on=((ClassStaff.classroom == Classroom.id) & (ClassStaff.user == user)))
                .where((Classroom.owner == user) | ClassStaff.id.is_null(False))
                .order_by(Classroom.created_at, Classroom.id).objects())
    for classroom in rows:
        if classroom.owner_id == user.id:
            classroom.staff_role, classroom.staff_export, classroom.staff_section = OWNER, True, None
    return rows


def my_classes(user: User) -> list[Classroom]:
    """The classes 进入 numbers: a teacher's own and assisted ones; a student's joined ones, then those they assist."""
    if user.is_teacher:
        return staff_classes(user)
    joined = joined_classes(user)
    return joined + staff_classes(user) if getattr(user, "staff", 1) else joined


def current_class(ctx: Context, level: str | None = None) -> Classroom:
    """Return the class the user's command is about, or raise a reply saying how to choose one. A staff command
    (its level, or *level*) picks among the classes the user owns or assists and checks the level there."""
    if level is None and ctx.command is not None:
        level = ctx.command.staff
    elif level is None and ctx.at_step is not None:
        level = STAFF_FLOWS.get(ctx.at_step[0])
    if level is None and not ctx.user.is_teacher:
        classes = joined_classes(ctx.user)
        if not classes:
            raise UserError("no_class_student")
        return _choose(ctx, classes, lambda c: open_lesson(c) is not None)
    classes = staff_classes(ctx.user)
    if not classes:
        raise UserError("no_class_teacher" if ctx.user.is_teacher else "no_class_student")
    chosen = next((c for c in classes if c.id == ctx.user.current_class_id), None)
    chosen = classes[0] if len(classes) == 1 else chosen
    if chosen is None:  # the only class not archived: last term's stay one 进入 away
        running = [c for c in classes if c.archived_at is None]
        chosen = running[0] if len(running) == 1 else None
    if chosen is None:
        raise UserError("choose_class", listing=class_listing(ctx, my_classes(ctx.user)))
    if level is not None:
        permit(ctx, chosen, level)
    return chosen


def permit(ctx: Context, classroom: Classroom, level: str) -> None:
    """Raise the refusal unless the user's place in *classroom*'s team allows a command of *level*."""
    if classroom.staff_role == OWNER or level == LESSON:
        return
    if level == EXPORT and classroom.staff_export:
        return
    if level == SETTINGS and not any(ctx.args.values()):
        return
    command = ctx.command.alias(ctx.lang) if ctx.command is not None else ""
    raise UserError("staff_export_refused" if level == EXPORT else "staff_owner_only", command=command,
                    name=inline(classroom.name))


def writable(ctx: Context, classroom: Classroom) -> Classroom:
    """*classroom*, or the reply saying it is archived (read-only: no new lessons or announcements) and what to do."""
    if classroom.archived_at is not None:
        number = next((i for i, c in enumerate(my_classes(ctx.user), 1) if c.id == classroom.id), 0)
        raise UserError("class_archived", name=classroom.name, n=number)
    return classroom


def _choose(ctx: Context, classes: list[Classroom], in_session) -> Classroom:
    """A student's current class among *classes* (in joining order): the only one, else the one in
    session, else the one chosen with 进入; otherwise a reply listing them."""
    if len(classes) == 1:
        return classes[0]
    live = [c for c in classes if in_session(c)]
    if len(live) == 1:
        return live[0]  # the one class in session wins: no need to 进入 first
    chosen = next((c for c in classes if c.id == ctx.user.current_class_id), None)
    if chosen and (chosen in live or not live):
        return chosen
    raise UserError("choose_class", listing=class_listing(ctx, classes))


def in_session(user, activity=None, mine=None, *columns):
    """One statement for a student's hot path: their classes in joining order, each with its live lesson
    as `.live` (None when not in session), and in it the activity whose id is the (correlated) subquery
    *activity* as `.live.activity`, with *mine*'s response to it as `.live.activity.mine`; *columns* ride along."""
    query = (Classroom.select(Classroom, Lesson, *columns)
             .join(Membership, on=(Membership.classroom == Classroom.id))
             .join_from(Classroom, Lesson, JOIN.LEFT_OUTER, on=((Lesson.classroom == Classroom.id) & (Lesson.live == 1)),
                        attr="live"))
    if activity is not None:
        query = query.select_extend(Activity).join_from(Lesson, Activity, JOIN.LEFT_OUTER, on=(Activity.id == activity),
                                                        attr="activity")
    if mine is not None:
        query = query.select_extend(Response).join_from(
            Activity, Response, JOIN.LEFT_OUTER, on=((Response.activity == Activity.id) & (Response.user == mine)), attr="mine")
    return (query.where((Membership.user == user) & (Membership.active == 1) & Classroom.archived_at.is_null())
            .order_by(Membership.joined_at, Classroom.id))


def latest_of_lesson(*kinds, also=None):
    """SQL: the id of the live lesson's latest activity of *kinds* (and *also*), for in_session."""
    latest = Activity.alias("latest")
    where = (latest.lesson == Lesson.id) & latest.kind.in_(kinds)
    if also is not None:
        where &= also(latest)
    return latest.select(latest.id).where(where).order_by(latest.opened_at.desc(), latest.id.desc()).limit(1)


def session_of(ctx: Context, rows: list[Classroom]) -> tuple[Classroom, Lesson]:
    """From in_session's rows: the student's current class and its live lesson, or the reply saying why not."""
    if not rows:
        raise UserError("no_class_student")
    classroom = _choose(ctx, rows, lambda c: c.live is not None)
    if classroom.live is None:
        raise UserError("class_not_in_session", name=classroom.name)
    return classroom, classroom.live


def class_lines(ctx: Context, classes: list[Classroom]) -> list[str]:
    """One numbered line per class (the 序号 of 进入), with whether it is in session."""
    lines = []
    for index, classroom in enumerate(classes, 1):
        if classroom.archived_at is not None:
            state = ctx.t("archived_state", at=ctx.local(classroom.archived_at).strftime("%Y-%m-%d"))
        else:
            state = ctx.t("in_session") if open_lesson(classroom) else ctx.t("not_in_session")
        lines.append(ctx.t("class_line", n=index, name=inline(classroom.name), code=classroom.code, state=state))
    return lines


LISTING_BYTES = 1600  # a class list inside a reply leaves room for the reply's own words


def class_listing(ctx: Context, classes: list[Classroom]) -> str:
    """The numbered class list, ending in "…… 还有 N 条" when it does not all fit in a reply."""
    return fit_lines("", class_lines(ctx, classes), lambda n: ctx.t("and_more", n=n), LISTING_BYTES)


def pick_class(ctx: Context, ref: str) -> Classroom:
    """Resolve `进入 <序号或课堂码>` against the user's classes."""
    classes = my_classes(ctx.user)
    if ref.isdigit() and len(ref) == 6:
        found = next((c for c in classes if c.code == ref), None)
    else:
        index = int(ref)
        found = classes[index - 1] if 1 <= index <= len(classes) else None
    if found is None:
        if not classes:
            raise UserError("no_class_teacher" if ctx.user.is_teacher else "no_class_student")
        raise UserError("no_such_class_ref", ref=ref, listing=class_listing(ctx, classes))
    return found


def live_lesson(ctx: Context, classroom: Classroom) -> Lesson:
    lesson = open_lesson(classroom)
    if lesson is None:
        raise UserError("lesson_not_started" if ctx.user.is_teacher else "class_not_in_session", name=classroom.name)
    return lesson


def open_activities(lesson: Lesson, kind: str | None = None) -> list[Activity]:
    return _OPEN_ACTIVITIES_OF.rows(lesson, kind) if kind else _OPEN_ACTIVITIES.rows(lesson)


def latest_activity(classroom: Classroom, kind: str) -> Activity | None:
    """The most recent activity of *kind* in the class's latest lesson."""
    return (
        Activity.select()
        .join(Lesson)
        .where((Lesson.classroom == classroom) & (Activity.kind == kind))
        .order_by(Activity.opened_at.desc(), Activity.id.desc())
        .first()
    )


def student_ids(classroom: Classroom) -> list[int]:
    """The class's current members (not those who left)."""
    return [m.user_id for m in Membership.select(Membership.user)
            .where((Membership.classroom == classroom) & (Membership.active == 1))]


def students(classroom: Classroom) -> list[tuple[int, str]]:
    """The class's current members with their language, (user id, lang): whom a push goes to, and in what."""
    return list(Membership.select(Membership.user, User.lang).join(User)
                .where((Membership.classroom == classroom) & (Membership.active == 1)).tuples())


def leave_classes(user: User, now, classroom: Classroom | None = None) -> int:
    """End *user*'s current membership of *classroom* (of every class when None); the rows stay as history."""
    current = (Membership.user == user) & (Membership.active == 1)
    if classroom is not None:
        current &= Membership.classroom == classroom
    return Membership.update(active=None, left_at=now).where(current).execute()
