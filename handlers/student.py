"""Student commands: join, classes, enter, check in, answer, say, lost, notices, leave."""

from __future__ import annotations

import re
from datetime import timedelta

from peewee import JOIN, Value, fn

from bot.context import Context, UserError
from bot.inbox import mark_read, unread_rows
from bot.prepared import Prepared
from bot.text import MAX_REPLY_BYTES, fit_lines, fit_lines_counted, inline, pages, preview
from handlers import account, extension_points, grading, limits, scope, sections, team
from handlers.attendance import lesson_checkin
from models import (
    ASSISTANT,
    CHECKIN,
    DISCUSSION,
    FILL,
    LATE,
    OPEN,
    PRESENT,
    QUIZ,
    SURVEY,
    Activity,
    Announcement,
    Classroom,
    FailedAttempt,
    Lesson,
    LostSignal,
    Membership,
    Post,
    Response,
    Screen,
    User,
)

JOIN_GUESSES_PER_HOUR = 10
JOIN_WARN_AFTER = 5  # from the 5th wrong class code on, the reply says how many tries are left
PASSCODE_TRIES = 5

# The hot paths' own queries, compiled once (bot/prepared.py): a class checks in at once. Each reads the
# current class, its live lesson, the activity and the student's response to it in one statement
# (scope.in_session); with the write after it and the dispatcher's four, a message is 7 statements at most.
# The count of wrong 口令 rides along: the dispatcher's touch holds the user's row until commit, so no
# concurrent guess of the same student can record a failure between this count and the check-in.
_CHECKIN_IN_VIEW = Prepared(lambda user, since: scope.in_session(
    user, scope.latest_of_lesson(CHECKIN), user,
    FailedAttempt.select(fn.COUNT(FailedAttempt.id)).where(
        (FailedAttempt.user == user) & (FailedAttempt.scope == Value("passcode:").concat(Activity.id))
        & (FailedAttempt.at > since)).alias("passcode_failures")))
_MY_RESPONSE = Prepared(lambda activity, user: Response.select()
                        .where((Response.activity == activity) & (Response.user == user)).limit(1))
_CHECK_IN = Prepared(lambda activity, user, status, now: Response.insert(
    activity=activity, user=user, status=status, created_at=now, updated_at=now).on_conflict_ignore())
_QUESTION_IN_VIEW = Prepared(lambda user: scope.in_session(user, scope.latest_of_lesson(QUIZ, SURVEY), user))
_TOPIC_IN_VIEW = Prepared(lambda user, now: scope.in_session(
    user, scope.latest_of_lesson(DISCUSSION, also=lambda a: (a.status == OPEN) & (a.deadline >= now))))
_CLASS_BY_CODE = Prepared(lambda code, user, scope_name, since: Classroom.select(
    Classroom, Lesson, Activity,
    FailedAttempt.select(fn.COUNT(FailedAttempt.id)).where(
        (FailedAttempt.user == user) & (FailedAttempt.scope == scope_name) & (FailedAttempt.at > since)).alias("failures"),
    Screen.select(fn.COUNT(Screen.id)).where(  # screen: whether the class is on a screen now (see enroll)
        (Screen.classroom == Classroom.id) & Screen.ended_at.is_null() & Screen.paired_at.is_null(False)).alias("on_screen"))
    .join_from(Classroom, Lesson, JOIN.LEFT_OUTER, on=((Lesson.classroom == Classroom.id) & (Lesson.live == 1)), attr="live")
    .join_from(Lesson, Activity, JOIN.LEFT_OUTER, on=(Activity.id == scope.latest_of_lesson(CHECKIN)), attr="activity")
    .where(Classroom.code == code).limit(1))


def join(ctx: Context, code: str) -> str:
    """Join the class whose 6-digit code is *code*."""
    # The class with its live lesson and check-in, and the guesses so far, in one statement (the touch
    # holds the user's row, so the count stands until commit); an unknown code counts them alone.
    classroom = _CLASS_BY_CODE.first(code, ctx.user, "join", ctx.now - timedelta(hours=1))
    tries = classroom.failures if classroom else limits.failures(ctx, "join", timedelta(hours=1))
    if tries >= JOIN_GUESSES_PER_HOUR:
        return ctx.t("too_many_tries", minutes=60)
    if classroom is None and (section := sections.by_code(code)) is not None:  # a section's code (分组): its class
        classroom = Classroom.get_by_id(section.classroom_id)
        reply = enroll(ctx, classroom)
        if classroom.archived_at is not None:
            return reply
        return reply + "\n" + sections.take_seat(ctx, classroom, section)
    if classroom is None:
        limits.record_failure(ctx, "join")
        left = JOIN_GUESSES_PER_HOUR - tries - 1  # the touch holds the user's row: no other guess counted since
        warning = ""
        if tries + 1 >= JOIN_WARN_AFTER:
            warning = ctx.t("join_tries_left", left=left) if left else "\n" + ctx.t("too_many_tries", minutes=60)
        return ctx.t("class_not_found", code=code) + warning
    return enroll(ctx, classroom, classroom.live)


UNREAD_LESSON = object()  # enroll's *lesson* when the caller did not read it


def enroll(ctx: Context, classroom: Classroom, lesson=UNREAD_LESSON) -> str:
    """Make the user a member of *classroom* (idempotent) and make it their current class.

    *lesson*: its live lesson as read with the class (with the check-in as `.activity`), if the caller did.
    An archived class (归档) takes no one."""
    if classroom.archived_at is not None:
        return ctx.t("join_archived", name=classroom.name, code=classroom.code)
    if getattr(ctx.user, "staff", 1) and team.is_assistant_of(ctx.user, classroom.id):
        raise UserError("assistant_cannot_join", name=inline(classroom.name))  # an assistant is never a student of it
    inserted = (
        Membership.insert(user=ctx.user, classroom=classroom, joined_at=ctx.now)
        .on_conflict_ignore()
        .as_rowcount()
        .execute()
    )
    User.update(current_class_id=classroom.id).where(User.id == ctx.user.id).execute()
    read = lesson is not UNREAD_LESSON
    lesson = lesson if read else scope.open_lesson(classroom)
    params = dict(name=classroom.name, code=classroom.code)
    if not inserted:
        return ctx.t("already_joined", **params)
    if getattr(classroom, "on_screen", 1):  # screen: a new member of a class on a screen: its hook bumps it
        ctx.user.on_screen = 1
    question = account.ask_identity_on_join(ctx, classroom)
    checkin = lesson and (lesson.activity if read else lesson_checkin(lesson))
    if question:
        next_step = question
    elif checkin and checkin.is_open(ctx.now):
        next_step = ctx.t("joined_checkin_open", at=ctx.hhmm(checkin.deadline))
    else:
        next_step = ctx.t("joined_live" if lesson else "joined_idle")
    return ctx.t("joined", **params) + "\n" + next_step


def join_by_scene(ctx: Context, scene: str) -> str:
    """Join through a class QR scene (`123456`, `join_123456` or `join:123456`)."""
    code = scene.rsplit("_", 1)[-1].rsplit(":", 1)[-1]
    if not (code.isdigit() and len(code) == 6):
        return ctx.t("welcome")
    if ctx.user.is_teacher:
        return ctx.t("teacher_cannot_join")
    classroom = Classroom.get_or_none(Classroom.code == code)
    if classroom is None:
        return ctx.t("qr_class_gone")
    return enroll(ctx, classroom)


def classes(ctx: Context, everything: bool = False) -> str:
    """List the user's classes, numbered, with 正在上课 / 未上课 and unread marks. A student's archived classes are
    left out unless *everything* (`我的课堂 全部`): then they follow, unnumbered (they cannot be entered)."""
    mine = scope.my_classes(ctx.user)
    archived = [] if ctx.user.is_teacher else _archived_classes(ctx.user)
    if not mine and not (everything and archived):
        if archived:
            return ctx.t("no_class_student") + "\n" + ctx.t("classes_archived_hidden", n=len(archived))
        return ctx.t("no_class_teacher" if ctx.user.is_teacher else "no_class_student")
    lines = scope.class_lines(ctx, mine)
    if not ctx.user.is_teacher:
        memberships = Membership.select().where((Membership.user == ctx.user) & (Membership.active == 1))
        seen = {m.classroom_id: m.notices_seen_at for m in memberships}
        for index, classroom in enumerate(mine):
            if classroom.id in seen and _unread(classroom, seen.get(classroom.id)):
                lines[index] += ctx.t("unread_mark")
            section = sections.section_label(classroom.id, ctx.user) if classroom.id in seen else None
            if section:  # sections: secA — the student's section (the staff's placement of their number wins)
                lines[index] += ctx.t("section_of_report", section=inline(section))
    for index, classroom in enumerate(mine):
        if getattr(classroom, "staff_role", None):  # one the user owns or assists (handlers/team.py)
            lines[index] += ctx.t("member_count", n=len(scope.student_ids(classroom)))
            lines[index] += ctx.t("assisting_mark") if classroom.staff_role == ASSISTANT else ""
    footer = ctx.t("classes_footer")
    if archived and everything:
        lines += [ctx.t("archived_class_line", name=inline(c.name), code=c.code,
                        at=ctx.local(c.archived_at).strftime("%Y-%m-%d")) for c in archived]
    elif archived:
        footer += ctx.t("classes_archived_hidden", n=len(archived))
    listing = fit_lines(ctx.t("classes_header"), lines, lambda n: ctx.t("and_more", n=n),
                        MAX_REPLY_BYTES - len(footer.encode("utf-8")) - 1)
    return listing + "\n" + footer


def _archived_classes(user: User) -> list[Classroom]:
    """The archived classes the student is still a member of, most recently archived first."""
    return list(Classroom.select().join(Membership).where(
        (Membership.user == user) & (Membership.active == 1) & Classroom.archived_at.is_null(False))
        .order_by(Classroom.archived_at.desc(), Classroom.id))


def _unread(classroom: Classroom, seen_at) -> int:
    query = Announcement.select().where(Announcement.classroom == classroom)
    if seen_at is not None:
        query = query.where(Announcement.created_at > seen_at)
    return query.count()


def enter(ctx: Context, ref: str) -> str:
    """Choose the current class by list number or code."""
    classroom = scope.pick_class(ctx, ref)
    User.update(current_class_id=classroom.id).where(User.id == ctx.user.id).execute()
    state = ctx.t("in_session") if scope.open_lesson(classroom) else ctx.t("not_in_session")
    return ctx.t("entered", name=classroom.name, state=state)



def check_in(ctx: Context, passcode: str | None = None) -> str:
    """Check in to the open check-in of the current class (late during an extension)."""
    classroom, lesson = scope.session_of(ctx, _CHECKIN_IN_VIEW.rows(ctx.user, ctx.now - timedelta(days=1)))
    activity = lesson.activity
    if activity is None:
        return ctx.t("no_checkin", name=classroom.name)
    return check_in_to(ctx, classroom, activity, passcode, mine=activity.mine, failures=classroom.passcode_failures)


UNREAD = object()  # check_in_to's *mine* when the caller did not read it


def check_in_to(ctx: Context, classroom: Classroom, activity: Activity, passcode: str | None = None,
                scanned: bool = False, mine=UNREAD, failures: int | None = None) -> str:
    """Check in to *activity*; *scanned*: a fresh screen QR proved presence, as the 口令 would.

    *mine*, *failures*: the student's response and wrong 口令 of the last day, if the caller read them
    with the check-in (see _CHECKIN_IN_VIEW)."""
    mine = _MY_RESPONSE.first(activity, ctx.user) if mine is UNREAD else mine
    if mine and mine.marked_by_id:
        return ctx.t("teacher_marked", status=ctx.t(f"status_{mine.status}"), name=classroom.name)
    if mine:
        return ctx.t("already_checked_in", at=ctx.hhmm(mine.created_at), name=classroom.name)
    if not activity.is_open(ctx.now):
        return ctx.t("checkin_closed", at=ctx.hhmm(activity.closed_time()), name=classroom.name)
    if (activity.passcode or activity.rotating) and not scanned:
        if failures is None:
            failures = limits.failures(ctx, f"passcode:{activity.id}", timedelta(days=1))
        refusal = _check_passcode(ctx, activity, passcode, failures)
        if refusal:
            return refusal
    late = activity.extended_from is not None and ctx.now > activity.extended_from
    inserted = _CHECK_IN.rowcount(activity, ctx.user, LATE if late else PRESENT, ctx.now)
    if not inserted:  # a concurrent duplicate won the unique key
        return ctx.t("already_checked_in", at=ctx.hhmm(ctx.now), name=classroom.name)
    return ctx.t("checked_in_late" if late else "checked_in", name=classroom.name, at=ctx.hhmm(ctx.now))


def _check_passcode(ctx: Context, activity: Activity, passcode: str | None, failures: int) -> str:
    """Return a refusal when the 口令 is missing or wrong ('' when it is right); wrong ones are limited.

    A rotating check-in (Activity.rotating) takes only the code its plugin shows now, judged by that plugin
    (extension_points.CHECKIN_JUDGES) at the time the message was sent; the fixed passcode is not accepted.
    A real code that has just left the screen is refused without using up a try: it is what an honest slow
    typist sends, and it tells a guesser nothing about the code on screen now. *failures*: the wrong guesses
    of the last day, read with the check-in (see _CHECKIN_IN_VIEW)."""
    if failures >= PASSCODE_TRIES:
        return ctx.t("passcode_locked")
    if passcode is None:
        return ctx.t("passcode_needed_rotating" if activity.rotating else "passcode_needed")
    if activity.rotating:
        verdict = extension_points.judge_code(ctx, activity, passcode, ctx.sent_at)
        if verdict is not None:  # "": good; else a real code that rotated out (no try used)
            return verdict
        if passcode == activity.passcode:  # the fixed code from before a screen was paired: retired, no try used
            return ctx.t("passcode_retired")
    elif passcode == activity.passcode:
        return ""
    limits.record_failure(ctx, f"passcode:{activity.id}")
    left = PASSCODE_TRIES - failures - 1  # the touch holds the user's row: no other guess counted since
    return ctx.t("passcode_wrong", left=left) if left else ctx.t("passcode_locked")


def answer(ctx: Context, text: str | None = None) -> str:
    """Answer the open quiz or survey; a new answer before the deadline replaces the old one. `答` alone shows
    the question, its options and the time left."""
    classroom, lesson = scope.session_of(ctx, _QUESTION_IN_VIEW.rows(ctx.user))
    question = lesson.activity
    if question is None:
        raise UserError("no_quiz", name=classroom.name)
    if not question.is_open(ctx.now):
        return ctx.t("quiz_closed", at=ctx.hhmm(question.closed_time())) + _verdict(ctx, question, question.mine)
    if text is None:
        left = -(-int((question.deadline - ctx.now).total_seconds()) // 60)  # minutes, rounded up
        return grading.question_card(question, classroom.name, ctx.lang, ctx.hhmm(question.deadline), left)
    return _answer_open(ctx, question, text)


BARE_ANSWER = re.compile(r"[a-h]{1,8}|对|错|√|×|true|false", re.IGNORECASE)


def bare_answer(ctx: Context, text: str) -> str | None:
    """A bare B, AC or 对 (no command) answers the open quiz or survey of the student's current class.

    Only text no command reads, outside a dialog, gets here (commands and dialog steps come first), and
    only while a quiz or survey with options is open: else it is nothing of ours (None) and the user is told
    it was not understood. A fill-in question needs `答`: any other text would be taken as an answer."""
    if ctx.user.is_teacher or not BARE_ANSWER.fullmatch(text):
        return None
    try:
        _classroom, lesson = scope.session_of(ctx, _QUESTION_IN_VIEW.rows(ctx.user))
    except UserError:  # no class, several to choose from, or no lesson: not an answer
        return None
    question = lesson.activity
    if question is None or question.answer_type == FILL or not question.is_open(ctx.now):
        return None
    return _answer_open(ctx, question, text)


def bare_class_code(ctx: Context, text: str) -> str | None:
    """A bare 6-digit number from a student outside any class: it is likely a class code, so say how to join."""
    if ctx.user.is_teacher or ctx.user.current_class_id is not None or not re.fullmatch(r"\d{6}", text):
        return None
    return ctx.t("bare_code", code=text)


def _answer_open(ctx: Context, question: Activity, text: str) -> str:
    """Record *text* as the student's answer to the open *question* (read with their response, `.mine`)."""
    mine = question.mine
    choice = grading.read_answer(question, text)
    if choice is None:
        return ctx.t(f"bad_answer_{question.answer_type}", options="/".join(question.options))
    right = int(grading.is_right(question, choice)) if question.kind == QUIZ else None  # kept hidden until it closes
    (
        Response.insert(activity=question, user=ctx.user, answer=choice, right=right, created_at=ctx.now, updated_at=ctx.now)
        .on_conflict(conflict_target=[Response.activity, Response.user],
                     update={Response.answer: choice, Response.right: right, Response.updated_at: ctx.now})
        .execute()
    )
    shown = grading.shown_answer(question, choice, ctx.lang)
    if mine and mine.answer != choice:
        old = grading.shown_answer(question, mine.answer, ctx.lang)
        return ctx.t("answer_replaced", answer=shown, old=old, at=ctx.hhmm(question.deadline))
    return ctx.t("answer_saved" if question.kind == QUIZ else "survey_saved", answer=shown, at=ctx.hhmm(question.deadline))


def _verdict(ctx: Context, question: Activity, mine: Response | None) -> str:
    """After a quiz closed: whether the student's answer was right (never before)."""
    if mine is None or question.kind != QUIZ:
        return ""
    right = grading.is_right(question, mine.answer)
    return ctx.t("your_answer_was", answer=grading.shown_answer(question, mine.answer, ctx.lang),
                 verdict=ctx.t("right" if right else "wrong"), correct=grading.shown_key(question, ctx.lang))


def say(ctx: Context, text: str) -> str:
    """Post to the open discussion."""
    classroom, lesson = scope.session_of(ctx, _TOPIC_IN_VIEW.rows(ctx.user, ctx.now))
    topic = lesson.activity
    if topic is None:
        raise UserError("no_discussion", name=classroom.name)
    Post.create(activity=topic, user=ctx.user, text=text[:500], created_at=ctx.now)
    return ctx.t("posted", topic=topic.question[:30])


def lost(ctx: Context, note: str | None = None) -> str:
    """Tell the teacher anonymously that you are lost."""
    classroom = scope.current_class(ctx)
    lesson = scope.live_lesson(ctx, classroom)
    LostSignal.create(lesson=lesson, user=ctx.user, note=(note or "")[:200], created_at=ctx.now)
    return ctx.t("lost_sent")


def leave(ctx: Context, ref: str) -> str:
    """Leave a class (its records stay for the teacher)."""
    classroom = scope.pick_class(ctx, ref)
    scope.leave_classes(ctx.user, ctx.now, classroom)
    if ctx.user.current_class_id == classroom.id:
        User.update(current_class_id=None).where(User.id == ctx.user.id).execute()
    return ctx.t("left_class", name=classroom.name, code=classroom.code)


PREVIEW_CHARS = 40  # what a list shows of each announcement; 公告 <序号> shows it whole
NOTE_ROOM = 200  # bytes a listing leaves for the unread note the dispatcher may add after it
PAGE_BYTES = MAX_REPLY_BYTES - NOTE_ROOM - 200  # one page of an announcement, under its header and footer


def notices(ctx: Context, number: int | None = None, page: int | None = None) -> str:
    """Unread pushes first, if any; else the current class's announcements, newest first, as previews.

    `公告 <序号> [页]` shows one announcement whole, split into pages that fit one reply.
    """
    if number is not None:
        return _notice(ctx, number, page or 1)
    unread = unread_rows(ctx.user)
    if unread:
        lines = [preview(text, PREVIEW_CHARS) for _id, text in unread]
        footer = ctx.t("unread_footer")
        listing, shown = fit_lines_counted(ctx.t("unread_header", n=len(unread)), lines, lambda n: ctx.t("and_more", n=n),
                                           MAX_REPLY_BYTES - NOTE_ROOM - len(footer.encode("utf-8")))
        mark_read([row_id for row_id, _text in unread[:shown]])  # only what the student was shown
        return listing + "\n" + footer
    classroom = scope.current_class(ctx)
    rows = _announcements(classroom)
    Membership.update(notices_seen_at=ctx.now).where(
        (Membership.user == ctx.user) & (Membership.classroom == classroom) & (Membership.active == 1)).execute()
    if not rows:
        return ctx.t("no_notices", name=classroom.name)
    lines = [f"{number}. 【{ctx.hhmm(a.created_at)}】{preview(inline(a.text), PREVIEW_CHARS)}" for number, a in reversed(rows)]
    footer = ctx.t("notices_footer")
    listing = fit_lines(ctx.t("notices_header", name=classroom.name, n=len(rows)), lines, lambda n: ctx.t("and_more", n=n),
                        MAX_REPLY_BYTES - NOTE_ROOM - len(footer.encode("utf-8")))
    return listing + "\n" + footer


def _announcements(classroom: Classroom) -> list[tuple[int, Announcement]]:
    """The class's announcements with their 序号, oldest first: 1 is the first ever posted.

    Numbers never move (announcements are not deleted), so 「公告 2 2」 still means the same page after
    the teacher posts another one; the list shows them newest first.
    """
    rows = Announcement.select().where(Announcement.classroom == classroom).order_by(Announcement.created_at, Announcement.id)
    return list(enumerate(rows, 1))


def _notice(ctx: Context, number: int, page: int) -> str:
    """Page *page* of announcement *number* of the current class."""
    classroom = scope.current_class(ctx)
    rows = _announcements(classroom)
    if not 1 <= number <= len(rows):
        raise UserError("no_such_notice", name=classroom.name, n=number, count=len(rows))
    note = rows[number - 1][1]
    parts = pages(note.text, PAGE_BYTES)
    if page > len(parts):
        raise UserError("no_such_notice_page", n=number, pages=len(parts))
    header = ctx.t("notice_header", name=classroom.name, n=number, at=ctx.hhmm(note.created_at))
    reply = header + "\n" + parts[page - 1]
    if len(parts) > 1:
        key = "notice_page_next" if page < len(parts) else "notice_page_last"
        reply += "\n" + ctx.t(key, page=page, pages=len(parts), n=number, next=page + 1)
    return reply
