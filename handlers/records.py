"""Records: end-of-lesson summaries, a student's 我的记录, and the teacher's CSV export."""

from __future__ import annotations

from datetime import timedelta

from peewee import JOIN, fn

from bot.catalogue import t
from bot.context import Context
from bot.outbox import enqueue_many
from bot.text import fit_lines
from handlers import scope
from handlers.attendance import attendance_sheet, member_during
from models import (
    ABSENT,
    CHECKIN,
    EXCUSED,
    LATE,
    OPEN,
    PRESENT,
    QUIZ,
    Activity,
    Classroom,
    Lesson,
    Membership,
    Response,
    User,
)

EXPORT_TTL = timedelta(hours=1)


def closed_quiz(now):
    """SQL: a quiz whose answers may be graded in front of students at *now* (None: any quiz, for the teacher).

    While a quiz is open nothing a student reads may depend on whether their answer is right."""
    quiz = Activity.kind == QUIZ
    return quiz if now is None else quiz & ((Activity.status != OPEN) | (Activity.deadline < now))


def quiz_counts(where, now) -> dict[int, int]:
    """Closed quizzes per lesson among the lessons *where* selects: one query."""
    rows = (Activity.select(Activity.lesson, fn.COUNT(Activity.id).alias("n")).join(Lesson)
            .where(where & closed_quiz(now)).group_by(Activity.lesson).tuples())
    return dict(rows)


def right_answers(where, now, user=None) -> dict[tuple[int, int], int]:
    """Right answers per (lesson, student) to the closed quizzes of the lessons *where* selects: one query."""
    query = (Response.select(Activity.lesson, Response.user, fn.SUM(Response.right)).join(Activity).join(Lesson)
             .where(where & closed_quiz(now)))
    if user is not None:
        query = query.where(Response.user == user)
    return {(lesson, uid): int(n or 0) for lesson, uid, n in query.group_by(Activity.lesson, Response.user).tuples()}


def latest_checkins(where):
    """The check-in that decides each lesson's attendance (its latest) among the lessons *where* selects."""
    later = Activity.alias()
    newer = later.select(later.id).where(
        (later.lesson == Activity.lesson) & (later.kind == CHECKIN)
        & ((later.opened_at > Activity.opened_at) | ((later.opened_at == Activity.opened_at) & (later.id > Activity.id))))
    return Activity.select().join(Lesson).where(where & (Activity.kind == CHECKIN) & ~fn.EXISTS(newer))


def lesson_summaries(lesson: Lesson, sheet: dict[int, str], now) -> dict[int, str]:
    """A one-line personal summary for every student of the lesson's class."""
    where = Lesson.id == lesson.id
    total = quiz_counts(where, now).get(lesson.id, 0)
    right = right_answers(where, now)
    summaries = {}
    for user_id in scope.student_ids(lesson.classroom):
        parts = []
        if user_id in sheet:
            parts.append(t("summary_attendance", "zh", status=t(f"status_{sheet[user_id]}", "zh")))
        if total:
            parts.append(t("summary_quizzes", "zh", right=right.get((lesson.id, user_id), 0), total=total))
        summaries[user_id] = "；".join(parts) or t("summary_nothing", "zh")
    return summaries


def queue_summaries(lesson: Lesson, now) -> dict[int, str]:
    """Queue every student of the ended *lesson* their summary push; return the attendance sheet."""
    sheet = attendance_sheet(lesson)
    name = lesson.classroom.name
    enqueue_many(((u, "lesson_summary", t("push_summary", "zh", name=name, summary=line), f"lesson:{lesson.id}:summary:{u}")
                  for u, line in lesson_summaries(lesson, sheet, now).items()), now)
    return sheet


def student_record(user: User, classes: list[Classroom], now) -> dict[int, dict]:
    """Per class: the student's attendance counts and right answers / closed quizzes, from three aggregate
    queries whatever the number of lessons, quizzes and classmates."""
    ids = [c.id for c in classes]
    where = Lesson.classroom.in_(ids)
    out = {cid: {PRESENT: 0, LATE: 0, EXCUSED: 0, ABSENT: 0, "right": 0, "total": 0} for cid in ids}
    member = Membership.alias()
    was_member = fn.EXISTS(member.select(member.id).where(
        (member.user == user) & (member.classroom == Lesson.classroom) & member_during(Activity, member)))
    checkins = latest_checkins(where).switch(Activity).join(
        Response, JOIN.LEFT_OUTER, on=((Response.activity == Activity.id) & (Response.user == user)))
    rows = (checkins.select(Lesson.classroom, Response.status, fn.COUNT(Activity.id))
            .where(Response.id.is_null(False) | was_member).group_by(Lesson.classroom, Response.status).tuples())
    for cid, status, n in rows:
        out[cid][status or ABSENT] += n
    lessons = dict(Lesson.select(Lesson.id, Lesson.classroom).where(where).tuples())
    for lesson_id, n in quiz_counts(where, now).items():
        out[lessons[lesson_id]]["total"] += n
    for (lesson_id, _uid), n in right_answers(where, now, user).items():
        out[lessons[lesson_id]]["right"] += n
    return out


def record(ctx: Context) -> str:
    """The student's attendance and quiz scores per class."""
    classes = scope.joined_classes(ctx.user)
    if not classes:
        return ctx.t("no_class_student")
    counts = student_record(ctx.user, classes, ctx.now)
    lines = []
    for classroom in classes:
        mine = counts[classroom.id]
        lines.append(ctx.t("record_line", name=classroom.name, present=mine[PRESENT], late=mine[LATE],
                           excused=mine[EXCUSED], absent=mine[ABSENT], right=mine["right"], total=mine["total"]))
    return fit_lines(ctx.t("record_header"), lines, lambda n: ctx.t("and_more", n=n))


def export(ctx: Context) -> str:
    """Signed links, valid one hour, to the class's attendance and scores as CSV and as an .xlsx grade sheet."""
    classroom = scope.current_class(ctx)
    token = ctx.links.token("export", f"{classroom.id}:{ctx.lang}", ctx.now, EXPORT_TTL)  # the files speak the teacher's language
    url, xlsx = ctx.links.url(f"/export/{token}.csv"), ctx.links.url(f"/export/{token}.xlsx")
    reply = ctx.t("export_link", name=classroom.name, url=url, xlsx=xlsx, at=ctx.hhmm(ctx.now + EXPORT_TTL))
    ever = Membership.select(Membership.user).where(Membership.classroom == classroom)  # the export's rows
    unnamed = User.select().where(User.id.in_(ever) & (User.name.is_null() | (User.name == ""))).count()
    return reply + (ctx.t("export_unnamed", n=unnamed) if unnamed else "")


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value) -> str:
    """A CSV cell Excel shows as text, never runs: one starting with = + - @ tab or CR gets a leading '
    (OWASP's CSV-injection rule). This also keeps a student number such as -1-1 text, not a sum."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text
