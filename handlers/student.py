"""Student commands: join, classes, enter, check in, answer, notices."""

from __future__ import annotations

from datetime import timedelta

from bot.context import Context, UserError
from bot.inbox import take_unread
from bot.text import fit_lines, normalize
from handlers import scope
from models import CHECKIN, CLOSED, OPEN, PRESENT, QUIZ, Activity, Announcement, Classroom, Membership, Response, User

JOIN_GUESSES_PER_HOUR = 10
PASSCODE_TRIES = 5


def join(ctx: Context, code: str) -> str:
    """Join the class whose 6-digit code is *code*."""
    if ctx.user.is_teacher:
        return ctx.t("teacher_cannot_join")
    if scope.failures(ctx, "join", timedelta(hours=1)) >= JOIN_GUESSES_PER_HOUR:
        return ctx.t("too_many_tries", minutes=60)
    classroom = Classroom.get_or_none(Classroom.code == code)
    if classroom is None:
        scope.record_failure(ctx, "join")
        return ctx.t("class_not_found", code=code)
    return enroll(ctx, classroom)


def enroll(ctx: Context, classroom: Classroom) -> str:
    """Make the user a member of *classroom* (idempotent) and make it their current class."""
    inserted = (
        Membership.insert(user=ctx.user, classroom=classroom, joined_at=ctx.now)
        .on_conflict_ignore()
        .as_rowcount()
        .execute()
    )
    User.update(current_class_id=classroom.id).where(User.id == ctx.user.id).execute()
    live = scope.open_lesson(classroom) is not None
    params = dict(name=classroom.name, code=classroom.code)
    if not inserted:
        return ctx.t("already_joined", **params)
    return ctx.t("joined", **params) + "\n" + ctx.t("joined_live" if live else "joined_idle")


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


def classes(ctx: Context) -> str:
    """List the user's classes, numbered, with 正在上课 / 未上课 and unread marks."""
    mine = scope.my_classes(ctx.user)
    if not mine:
        return ctx.t("no_class_teacher" if ctx.user.is_teacher else "no_class_student")
    lines = scope.class_listing(ctx, mine).split("\n")
    if not ctx.user.is_teacher:
        seen = {m.classroom_id: m.notices_seen_at for m in Membership.select().where(Membership.user == ctx.user)}
        for index, classroom in enumerate(mine):
            if _unread(classroom, seen.get(classroom.id)):
                lines[index] += ctx.t("unread_mark")
    else:
        for index, classroom in enumerate(mine):
            lines[index] += ctx.t("member_count", n=len(scope.student_ids(classroom)))
    return ctx.t("classes_header") + "\n" + "\n".join(lines) + "\n" + ctx.t("classes_footer")


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


def _closed_at(activity: Activity):
    return min(activity.closed_at or activity.deadline, activity.deadline)


def check_in(ctx: Context, passcode: str | None = None) -> str:
    """Check in to the open check-in of the current class."""
    classroom = scope.current_class(ctx)
    lesson = scope.live_lesson(ctx, classroom)
    activity = next(iter(scope.open_activities(lesson, CHECKIN)), None) or scope.latest_activity(classroom, CHECKIN)
    if activity is None or activity.lesson_id != lesson.id:
        return ctx.t("no_checkin", name=classroom.name)
    mine = Response.get_or_none((Response.activity == activity) & (Response.user == ctx.user))
    if mine:
        return ctx.t("already_checked_in", at=ctx.hhmm(mine.created_at), name=classroom.name)
    if activity.status == CLOSED or ctx.now > activity.deadline:
        return ctx.t("checkin_closed", at=ctx.hhmm(_closed_at(activity)), name=classroom.name)
    if activity.passcode:
        tries = f"passcode:{activity.id}"
        if scope.failures(ctx, tries, timedelta(days=1)) >= PASSCODE_TRIES:
            return ctx.t("passcode_locked")
        if passcode is None:
            return ctx.t("passcode_needed")
        if passcode != activity.passcode:
            scope.record_failure(ctx, tries)
            left = PASSCODE_TRIES - scope.failures(ctx, tries, timedelta(days=1))
            return ctx.t("passcode_wrong", left=left) if left else ctx.t("passcode_locked")
    inserted = (
        Response.insert(activity=activity, user=ctx.user, status=PRESENT, created_at=ctx.now, updated_at=ctx.now)
        .on_conflict_ignore()
        .as_rowcount()
        .execute()
    )
    if not inserted:  # a concurrent duplicate won the unique key
        return ctx.t("already_checked_in", at=ctx.hhmm(ctx.now), name=classroom.name)
    return ctx.t("checked_in", name=classroom.name, at=ctx.hhmm(ctx.now))


def answer(ctx: Context, text: str) -> str:
    """Answer the open quiz; a new answer before the deadline replaces the old one."""
    classroom = scope.current_class(ctx)
    quiz = scope.latest_activity(classroom, QUIZ)
    if quiz is None:
        raise UserError("no_quiz", name=classroom.name)
    mine = Response.get_or_none((Response.activity == quiz) & (Response.user == ctx.user))
    if quiz.status != OPEN or ctx.now > quiz.deadline:
        verdict = ""
        if mine:
            right = mine.answer == quiz.correct
            verdict = ctx.t("your_answer_was", answer=mine.answer, verdict=ctx.t("right" if right else "wrong"), correct=quiz.correct)
        return ctx.t("quiz_closed", at=ctx.hhmm(_closed_at(quiz))) + verdict
    choice = normalize(text).upper()  # "ｂ" and "b" both mean B
    if len(choice) != 1 or choice not in quiz.options:
        return ctx.t("bad_choice", options="/".join(quiz.options))
    (
        Response.insert(activity=quiz, user=ctx.user, answer=choice, created_at=ctx.now, updated_at=ctx.now)
        .on_conflict(conflict_target=[Response.activity, Response.user], update={Response.answer: choice, Response.updated_at: ctx.now})
        .execute()
    )
    key = "answer_replaced" if mine and mine.answer != choice else "answer_saved"
    return ctx.t(key, answer=choice, old=mine.answer if mine else "", at=ctx.hhmm(quiz.deadline))


def notices(ctx: Context) -> str:
    """Show pushes that waited unread, if any; otherwise the current class's announcements, newest first."""
    unread = take_unread(ctx.user)
    if unread:
        listing = fit_lines(ctx.t("unread_header", n=len(unread)), unread, lambda n: ctx.t("and_more", n=n))
        return listing + "\n" + ctx.t("unread_footer")
    classroom = scope.current_class(ctx)
    rows = list(Announcement.select().where(Announcement.classroom == classroom).order_by(Announcement.created_at.desc(), Announcement.id.desc()))
    Membership.update(notices_seen_at=ctx.now).where((Membership.user == ctx.user) & (Membership.classroom == classroom)).execute()
    if not rows:
        return ctx.t("no_notices", name=classroom.name)
    lines = [f"【{ctx.hhmm(a.created_at)}】{a.text}" for a in rows]
    return fit_lines(ctx.t("notices_header", name=classroom.name, n=len(rows)), lines, lambda n: ctx.t("and_more", n=n))

