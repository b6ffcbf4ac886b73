"""Teacher commands: classes, lessons, and publishing activities and announcements."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from peewee import IntegrityError, fn

from bot.catalogue import t
from bot.context import Context, UserError
from bot.jobs import claim_each
from bot.outbox import channels, enqueue_each
from bot.text import MAX_REPLY_BYTES, fit
from handlers import bank, extension_points, scope, sections
from handlers.grading import options_in, question_card, read_key, shown_key
from handlers.records import CAME, came, lesson_sheet, queue_summaries
from models import (
    CHECKIN,
    CLOSED,
    DISCUSSION,
    FILL,
    OPEN,
    QUIZ,
    SINGLE,
    SURVEY,
    TRUE_FALSE,
    Activity,
    Announcement,
    BankQuestion,
    ClassQr,
    Classroom,
    Lesson,
    Membership,
    School,
    User,
    db,
)

log = logging.getLogger("ketang.lessons")
QR_LINK_TTL = timedelta(days=30)


def create_class(ctx: Context, name: str) -> str:
    """Create a class with a fresh 6-digit code and make it current."""
    classroom = new_classroom(ctx, name)
    reply = ctx.t("class_created", name=classroom.name, code=classroom.code, qr=qr_link(ctx, classroom))
    return reply + choose_after_new(ctx, classroom)


def new_classroom(ctx: Context, name: str) -> Classroom:
    """A new class of the teacher's with a fresh 6-digit code."""
    for _ in range(50):
        code = f"{secrets.randbelow(900000) + 100000}"
        if sections.by_code(code) is not None:  # a class code is never a section's (加入 <码> takes either)
            continue
        try:
            with db.atomic():
                classroom = Classroom.create(name=name[:64], code=code, owner=ctx.user, created_at=ctx.now,
                                             school=_school_of(ctx.user))
            break
        except IntegrityError:
            continue
    else:
        raise RuntimeError("no free class code after 50 tries")
    return classroom


def choose_after_new(ctx: Context, classroom: Classroom) -> str:
    """Make the new *classroom* current when it is the teacher's only running (not archived) class; else none is
    current until 进入 chooses, and the reply's end says so."""
    classes = scope.my_classes(ctx.user)  # as 进入 numbers them (the classes one assists too)
    if sum(1 for c in classes if c.archived_at is None) > 1:  # no silent pick: class commands ask which until 进入
        User.update(current_class_id=None).where(User.id == ctx.user.id).execute()
        return "\n" + ctx.t("now_several_classes", n=len(classes), listing=scope.class_listing(ctx, classes))
    User.update(current_class_id=classroom.id).where(User.id == ctx.user.id).execute()
    return ""


def _school_of(teacher: User) -> School | None:
    """The teacher's school, or the only school when the deployment has exactly one."""
    if teacher.school_id:
        return teacher.school_id
    schools = list(School.select().limit(2))
    return schools[0] if len(schools) == 1 else None


def qr_link(ctx: Context, classroom: Classroom) -> str:
    token = ctx.links.token("qr", classroom.code, ctx.now, QR_LINK_TTL)
    return ctx.links.url(f"/qr/{token}.png")


def qr(ctx: Context) -> str:
    """Link to the current class's join QR image."""
    classroom = scope.current_class(ctx)
    official = ClassQr.get_or_none((ClassQr.classroom == classroom) & (ClassQr.expires_at > ctx.now))
    note = ctx.t("qr_official") if official else ctx.t("qr_page", code=classroom.code)
    return ctx.t("qr_link", name=classroom.name, code=classroom.code, qr=qr_link(ctx, classroom)) + note


def start_lesson(ctx: Context) -> str:
    """Start a lesson in the current class and tell its students (an archived class has no new lessons)."""
    classroom = scope.writable(ctx, scope.current_class(ctx))
    running = scope.open_lesson(classroom)
    if running:
        return ctx.t("lesson_already", name=classroom.name, at=ctx.hhmm(running.started_at))
    try:
        with db.atomic():
            lesson = Lesson.create(classroom=classroom, started_at=ctx.now)
    except IntegrityError:  # another message started it a moment ago
        return ctx.t("lesson_already", name=classroom.name, at=ctx.hhmm(ctx.now))
    ended = _end_other_lessons(ctx, classroom)
    students = scope.students(classroom)
    enqueue_each(students, "lesson_started", lambda lang: t("push_lesson_started", lang, name=classroom.name),
                 lambda u: f"lesson:{lesson.id}:start:{u}", ctx.now)
    return ended + ctx.t("lesson_started", name=classroom.name, n=len(students))


def _end_other_lessons(ctx: Context, classroom: Classroom) -> str:
    """A teacher teaches one lesson at a time: end any other class's lesson as 下课 would, and say so."""
    said = []
    others = (Lesson.select().join(Classroom)
              .where((Classroom.owner == ctx.user) & (Lesson.live == 1) & (Lesson.classroom != classroom)))
    for other in list(others):
        closed, sheet = _finish(other, ctx.now, ctx.now)
        said.append(ctx.t("other_lesson_ended", name=other.classroom.name, at=ctx.hhmm(other.started_at),
                          closed=closed, present=came(sheet), total=len(sheet)))
    return "".join(said)


def end_lesson(ctx: Context) -> str:
    """End the lesson: close every open activity and queue each student a personal summary."""
    classroom = scope.current_class(ctx)
    lesson = scope.live_lesson(ctx, classroom)
    closed, sheet = _finish(lesson, ctx.now, ctx.now)
    return ctx.t("lesson_ended", name=classroom.name, closed=closed, present=came(sheet), total=len(sheet))


CANCEL_WINDOW = timedelta(minutes=15)  # after 下课, a lesson started by mistake can still be cancelled


def cancel_lesson(ctx: Context) -> str:
    """取消上课: a lesson started by mistake (the open one, or one ended at most CANCEL_WINDOW ago) counts for
    nobody: it ends, its check-ins and quizzes leave every record, and its students are told by push. The
    lesson row stays with who cancelled it and when (the audit); nothing is deleted."""
    classroom = scope.current_class(ctx)
    lesson = scope.open_lesson(classroom) or (
        Lesson.select().where((Lesson.classroom == classroom) & (Lesson.ended_at >= ctx.now - CANCEL_WINDOW))
        .order_by(Lesson.started_at.desc(), Lesson.id.desc()).first())
    if lesson is None or lesson.cancelled_at:
        raise UserError("no_lesson_to_cancel", name=classroom.name, minutes=CANCEL_WINDOW.seconds // 60)
    if lesson.live:
        _close_open(lesson, ctx.now)
    Lesson.update(cancelled_at=ctx.now, cancelled_by=ctx.user, ended_at=fn.COALESCE(Lesson.ended_at, ctx.now),
                  live=None).where(Lesson.id == lesson.id).execute()
    students = scope.students(classroom)
    enqueue_each(students, "lesson_cancelled",
                 lambda lang: t("push_lesson_cancelled", lang, name=classroom.name, at=ctx.hhmm(lesson.started_at)),
                 lambda u: f"lesson:{lesson.id}:cancelled:{u}", ctx.now)
    return ctx.t("lesson_cancelled", name=classroom.name, at=ctx.hhmm(lesson.started_at), n=len(students))


def end_stale_lessons(now: datetime, max_hours: int = 4) -> int:
    """End lessons left open longer than *max_hours*, closing their open activities; return how many."""
    limit = timedelta(hours=max_hours)
    stale = Lesson.select(Lesson.id, Lesson.started_at).where((Lesson.live == 1) & (Lesson.started_at < now - limit))
    ended = claim_each(
        stale,
        lambda lesson: Lesson.update(live=None).where((Lesson.id == lesson.id) & (Lesson.live == 1)).execute(),
        # as if the teacher had sent 下课 at the limit
        lambda lesson: _finish(Lesson.get_by_id(lesson.id), lesson.started_at + limit, now),
    )
    if ended:
        log.info("ended %d lessons open longer than %d hours", ended, max_hours)
    return ended


def close_due_activities(now: datetime) -> int:
    """Close every open activity whose deadline has passed; return how many this call closed."""
    due = Activity.select(Activity.id, Activity.deadline).where((Activity.status == OPEN) & (Activity.deadline < now))
    closed = claim_each(due, lambda activity: Activity.update(status=CLOSED, closed_at=activity.deadline)
                        .where((Activity.id == activity.id) & (Activity.status == OPEN)).execute())
    if closed:
        log.info("closed %d activities past their deadline", closed)
    return closed


def _finish(lesson: Lesson, end, now) -> tuple[int, dict[int, str]]:
    """End *lesson* at *end*: close what is open, queue the summaries (at *now*); return (closed, sheet)."""
    closed = _close_open(lesson, end)
    Lesson.update(ended_at=end, live=None).where(Lesson.id == lesson.id).execute()
    return closed, queue_summaries(lesson, now)


def _close_open(lesson: Lesson, at) -> int:
    """Close the lesson's open activities at *at*; return how many were still running (not just past due)."""
    still_open = (Activity.lesson == lesson) & (Activity.status == OPEN)
    Activity.update(status=CLOSED, closed_at=Activity.deadline).where(still_open & (Activity.deadline < at)).execute()
    return Activity.update(status=CLOSED, closed_at=at).where(still_open).execute()


ANSWERABLE = (QUIZ, SURVEY)  # both answered with 答: one open at a time


def _open(ctx: Context, kind: str, minutes: int, **fields) -> tuple[Classroom, Activity]:
    classroom = scope.current_class(ctx)
    lesson = scope.live_lesson(ctx, classroom)
    family = ANSWERABLE if kind in ANSWERABLE else (kind,)
    running = [a for a in scope.open_activities(lesson) if a.kind in family]
    if running and ctx.now <= running[0].deadline:
        raise UserError("activity_running", kind=ctx.t(running[0].kind), at=ctx.hhmm(running[0].deadline))
    _close_expired(running)
    activity = Activity.create(
        lesson=lesson, kind=kind, opened_at=ctx.now, deadline=ctx.now + timedelta(minutes=minutes), **fields
    )
    # Another check-in of the lesson is for those who have not come yet: whoever came already is not asked again.
    came_already = {uid for uid, status in lesson_sheet(lesson).items() if status in CAME} if kind == CHECKIN else set()
    students = [(u, lang) for u, lang in scope.students(classroom) if u not in came_already]
    enqueue_each(students, "activity", lambda lang: _opened_push(ctx, classroom, activity, minutes, lang),
                 lambda u: f"activity:{activity.id}:open:{u}", ctx.now)
    return classroom, activity


def _opened_push(ctx: Context, classroom: Classroom, activity: Activity, minutes: int, lang: str) -> str:
    """What a student's phone shows when *activity* opens: a quiz or survey with its question and options."""
    at = ctx.hhmm(activity.deadline)
    if activity.kind in ANSWERABLE:
        return fit(question_card(activity, classroom.name, lang, at, minutes))
    key = f"push_{activity.kind}_opened" + ("_code" if activity.passcode or activity.rotating else "")
    return t(key, lang, name=classroom.name, at=at)


def _close_expired(activities: list[Activity]) -> None:
    for activity in activities:
        Activity.update(status=CLOSED, closed_at=activity.deadline).where(
            (Activity.id == activity.id) & (Activity.status == OPEN)
        ).execute()


def open_checkin(ctx: Context, minutes: int = 5, with_code: bool = False) -> str:
    """Open a check-in, *with_code* (口令) a 4-digit code shown to the teacher only. When a plugin shows a rotating
    code for the class (the classroom screen), only that code or a scan checks in: no fixed code is made."""
    rotating = extension_points.rotating_note(ctx, scope.current_class(ctx))
    code = f"{secrets.randbelow(10000):04d}" if with_code and rotating is None else None
    classroom, activity = _open(ctx, CHECKIN, minutes, passcode=code, rotating=rotating is not None)
    reply = ctx.t("checkin_opened", name=classroom.name, minutes=minutes, at=ctx.hhmm(activity.deadline))
    reply += (ctx.t("checkin_code", code=code) if code else "") + (rotating or "")
    earlier = Activity.select().where((Activity.lesson == activity.lesson_id) & (Activity.kind == CHECKIN)).count() - 1
    return reply + (ctx.t("checkin_again", n=earlier + 1) if earlier else "")


def quiz(ctx: Context, correct: str, question: str, minutes: int = 5) -> str:
    """Publish a quiz: single (B), multiple (AC), true/false (对/错) or fill-in (=答案1/答案2)."""
    answer_type, key, accepted = read_key(correct)
    options = "" if answer_type in (FILL, TRUE_FALSE) else options_in(question, key)
    if options and not set(key) <= set(options):
        raise UserError("correct_not_an_option", correct=key, options="/".join(options))
    fields = dict(question=question, options=options, correct=key, answer_type=answer_type, accepted=accepted)
    return _publish(ctx, QUIZ, fields, minutes)


def survey(ctx: Context, count: int, question: str, minutes: int = 5) -> str:
    """Publish a survey with options A.. (no correct answer; results are anonymous counts)."""
    fields = dict(question=question, options="ABCDEFGH"[:count], correct="", answer_type=SINGLE, accepted="")
    return _publish(ctx, SURVEY, fields, minutes)


def quiz_from_bank(ctx: Context, number: int, minutes: int = 5) -> str:
    """`练习 题库 <题号> [分钟]`: publish an entry of the class owner's bank again in the current lesson, as 练习 (or
    问卷) would; an assistant publishes from the bank of the class they assist."""
    return _publish_entry(ctx, bank.entry(scope.current_class(ctx).owner_id, number), minutes)


def _publish(ctx: Context, kind: str, fields: dict, minutes: int) -> str:
    """Publish a quiz or survey, kept in the bank of the class's owner (whoever of its staff publishes it)."""
    return _publish_entry(ctx, bank.keep(scope.current_class(ctx).owner_id, ctx.now, kind=kind, **fields), minutes)


def _publish_entry(ctx: Context, entry: BankQuestion, minutes: int) -> str:
    """Open *entry* of the bank as the lesson's quiz or survey."""
    classroom, activity = _open(ctx, entry.kind, minutes, bank=entry, **bank.fields_of(entry))
    kept = ctx.t("bank_kept", n=entry.number)
    if entry.kind == SURVEY:
        return ctx.t("survey_opened", name=classroom.name, options="/".join(activity.options),
                     at=ctx.hhmm(activity.deadline)) + kept
    shown_options = ctx.t("options_part", options="/".join(activity.options)) if activity.options else ""
    return ctx.t("quiz_opened", name=classroom.name, kind=ctx.t(f"type_{activity.answer_type}"), options=shown_options,
                 correct=shown_key(activity, ctx.lang), at=ctx.hhmm(activity.deadline)) + kept


def discuss(ctx: Context, topic: str, minutes: int = 10) -> str:
    """Open a discussion; students post with 发言."""
    classroom, activity = _open(ctx, DISCUSSION, minutes, question=topic)
    return ctx.t("discussion_opened", name=classroom.name, at=ctx.hhmm(activity.deadline))


def extend(ctx: Context, minutes: int) -> str:
    """Move the open activity's deadline; check-ins during an extension count as late. An activity past its
    deadline is closed for every purpose, whether or not the close job has run: it is not extended."""
    classroom = scope.current_class(ctx)
    lesson = scope.live_lesson(ctx, classroom)
    running = [a for a in scope.open_activities(lesson) if a.is_open(ctx.now)]
    if not running:
        raise UserError("nothing_open")
    activity = running[0]
    deadline = max(activity.deadline, ctx.now) + timedelta(minutes=minutes)
    Activity.update(deadline=deadline, extended_from=activity.extended_from or activity.deadline).where(
        Activity.id == activity.id
    ).execute()
    late = ctx.t("extend_late_note") if activity.kind == CHECKIN else ""
    return ctx.t("extended", kind=ctx.t(activity.kind), at=ctx.hhmm(deadline)) + late


def close(ctx: Context, number: int | None = None) -> str:
    """`结束`: close every open activity of the lesson now; `结束 <序号>`: only activity *number* (numbered as
    结果 numbers them, in order of publishing)."""
    classroom = scope.current_class(ctx)
    lesson = scope.live_lesson(ctx, classroom)
    if number is None:
        closed = _close_open(lesson, ctx.now)
        return ctx.t("closed", n=closed) if closed else ctx.t("nothing_open")
    activities = list(Activity.select().where(Activity.lesson == lesson).order_by(Activity.opened_at, Activity.id))
    if not 1 <= number <= len(activities):
        raise UserError("no_such_activity", n=number, total=len(activities))
    activity = activities[number - 1]
    if not activity.is_open(ctx.now):
        return ctx.t("activity_not_open", n=number, kind=ctx.t(activity.kind), at=ctx.hhmm(activity.closed_time()))
    Activity.update(status=CLOSED, closed_at=ctx.now).where((Activity.id == activity.id) & (Activity.status == OPEN)).execute()
    still = sum(1 for a in activities if a.id != activity.id and a.is_open(ctx.now))
    return ctx.t("closed_one", n=number, kind=ctx.t(activity.kind)) + (ctx.t("closed_one_others", n=still) if still else "")



MAX_ANNOUNCEMENT = 2000  # characters: at most ~6 KB, read in 4 pages of 公告 <序号>; the README says so


def check_announcement(text: str) -> str:
    """Return *text* if it may be published, else refuse with the limit and its length."""
    if len(text) > MAX_ANNOUNCEMENT:
        raise UserError("notice_too_long", max=MAX_ANNOUNCEMENT, n=len(text))
    return text


def announce(ctx: Context, text: str) -> str:
    """Post an announcement, queue a push to every student, and say how many it reaches now."""
    check_announcement(text)
    classroom = scope.writable(ctx, scope.current_class(ctx))
    post_announcement(classroom, ctx.user, text, ctx.now)
    now, unread, unfollowed = 0, 0, 0
    for student in User.select(User.id, User.subscribed, User.last_seen_at).join(Membership).where(
            (Membership.classroom == classroom) & (Membership.active == 1)):  # current members: whom it was pushed to
        if not student.subscribed:
            unfollowed += 1
        elif channels(student, "announcement", ctx.now, ctx.settings):
            now += 1
        else:
            unread += 1
    reply = ctx.t("announced", name=classroom.name, now=now)
    reply += ctx.t("announced_unread", n=unread) if unread else ""
    reply += ctx.t("announced_unfollowed", n=unfollowed) if unfollowed else ""
    return reply + ctx.t("announced_footer")


def post_announcement(classroom: Classroom, author, text: str, now) -> None:
    """Create the announcement and queue its push to every student."""
    note = Announcement.create(classroom=classroom, author=author, text=text, created_at=now)
    enqueue_each(scope.students(classroom), "announcement", lambda lang: _announcement_push(classroom, text, lang),
                 lambda u: f"announcement:{note.id}:{u}", now)


def _announcement_push(classroom: Classroom, text: str, lang: str) -> str:
    text = t("push_announcement", lang, name=classroom.name, text=text)
    if len(text.encode("utf-8")) > MAX_REPLY_BYTES:  # one WeChat message: the start, and where the rest is
        more = t("push_announcement_more", lang)
        text = fit(text, MAX_REPLY_BYTES - len(more.encode("utf-8"))) + more
    return text
