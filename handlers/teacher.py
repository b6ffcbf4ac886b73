"""Teacher commands: classes, lessons, check-ins, quizzes, results, announcements."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from peewee import IntegrityError

from bot.context import Context, UserError, enqueue
from bot.text import fit_lines
from handlers import scope
from bot.replies import t
from models import ClassQr
from models import CHECKIN, CLOSED, OPEN, QUIZ, Activity, Announcement, Classroom, Lesson, Membership, Response, User, db

QR_LINK_TTL = timedelta(days=30)
OPTION_MARK = re.compile(r"(?<![A-Za-z])([A-H])\s*[.．、)）:：]")


def create_class(ctx: Context, name: str) -> str:
    """Create a class with a fresh 6-digit code and make it current."""
    for _ in range(50):
        code = f"{secrets.randbelow(900000) + 100000}"
        try:
            with db.atomic():
                classroom = Classroom.create(name=name[:64], code=code, owner=ctx.user, created_at=ctx.now)
            break
        except IntegrityError:
            continue
    else:
        raise RuntimeError("no free class code after 50 tries")
    User.update(current_class_id=classroom.id).where(User.id == ctx.user.id).execute()
    return ctx.t("class_created", name=classroom.name, code=code, qr=qr_link(ctx, classroom))


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
    """Start a lesson in the current class and tell its students."""
    classroom = scope.current_class(ctx)
    running = scope.open_lesson(classroom)
    if running:
        return ctx.t("lesson_already", name=classroom.name, at=ctx.hhmm(running.started_at))
    try:
        with db.atomic():
            lesson = Lesson.create(classroom=classroom, started_at=ctx.now)
    except IntegrityError:  # another message started it a moment ago
        return ctx.t("lesson_already", name=classroom.name, at=ctx.hhmm(ctx.now))
    students = scope.student_ids(classroom)
    text = t("push_lesson_started", "zh", name=classroom.name)
    for user_id in students:
        ctx.push(user_id, "lesson_started", text, f"lesson:{lesson.id}:start:{user_id}")
    return ctx.t("lesson_started", name=classroom.name, n=len(students))


def end_lesson(ctx: Context) -> str:
    """End the lesson, closing every open activity."""
    classroom = scope.current_class(ctx)
    lesson = scope.live_lesson(ctx, classroom)
    closed = _close_open(ctx, lesson)
    Lesson.update(ended_at=ctx.now, live=None).where(Lesson.id == lesson.id).execute()
    checkin = scope.latest_activity(classroom, CHECKIN)
    present = _count(checkin) if checkin and checkin.lesson_id == lesson.id else 0
    return ctx.t("lesson_ended", name=classroom.name, closed=closed, present=present, total=len(scope.student_ids(classroom)))


def _close_open(ctx: Context, lesson: Lesson) -> int:
    return (
        Activity.update(status=CLOSED, closed_at=ctx.now)
        .where((Activity.lesson == lesson) & (Activity.status == OPEN))
        .execute()
    )


def _count(activity: Activity) -> int:
    return Response.select().where(Response.activity == activity).count()


def _open(ctx: Context, kind: str, minutes: int, **fields) -> tuple[Classroom, Activity]:
    classroom = scope.current_class(ctx)
    lesson = scope.live_lesson(ctx, classroom)
    running = scope.open_activities(lesson, kind)
    if running and ctx.now <= running[0].deadline:
        raise UserError("activity_running", kind=ctx.t(kind), at=ctx.hhmm(running[0].deadline))
    _close_expired(ctx, running)
    activity = Activity.create(
        lesson=lesson, kind=kind, opened_at=ctx.now, deadline=ctx.now + timedelta(minutes=minutes), **fields
    )
    text = t(f"push_{kind}_opened", "zh", name=classroom.name, at=ctx.hhmm(activity.deadline))
    for user_id in scope.student_ids(classroom):
        ctx.push(user_id, "activity", text, f"activity:{activity.id}:open:{user_id}")
    return classroom, activity


def _close_expired(ctx: Context, activities: list[Activity]) -> None:
    for activity in activities:
        Activity.update(status=CLOSED, closed_at=activity.deadline).where(
            (Activity.id == activity.id) & (Activity.status == OPEN)
        ).execute()


def open_checkin(ctx: Context, minutes: int = 5, passcode: str | None = None) -> str:
    """Open a check-in, optionally with a 4-digit code shown to the teacher only."""
    code = f"{secrets.randbelow(10000):04d}" if passcode else None
    classroom, activity = _open(ctx, CHECKIN, minutes, passcode=code)
    reply = ctx.t("checkin_opened", name=classroom.name, minutes=minutes, at=ctx.hhmm(activity.deadline))
    return reply + (ctx.t("checkin_code", code=code) if code else "")


def quiz(ctx: Context, correct: str, question: str, minutes: int = 5) -> str:
    """Publish a single-choice quiz."""
    correct = correct.upper()
    letters = sorted(set(OPTION_MARK.findall(question)))
    options = "".join(letters) if len(letters) >= 2 else "ABCD"
    if correct not in options:
        raise UserError("correct_not_an_option", correct=correct, options="/".join(options))
    classroom, activity = _open(ctx, QUIZ, minutes, question=question, options=options, correct=correct)
    return ctx.t("quiz_opened", name=classroom.name, options="/".join(options), correct=correct, at=ctx.hhmm(activity.deadline))


def close(ctx: Context) -> str:
    """Close the open activities of the lesson now."""
    classroom = scope.current_class(ctx)
    lesson = scope.live_lesson(ctx, classroom)
    closed = _close_open(ctx, lesson)
    return ctx.t("closed", n=closed) if closed else ctx.t("nothing_open")


def attendance(ctx: Context) -> str:
    """Counts of the latest check-in and the names missing."""
    classroom = scope.current_class(ctx)
    checkin = scope.latest_activity(classroom, CHECKIN)
    if checkin is None:
        raise UserError("no_checkin_yet", name=classroom.name)
    members = list(
        User.select().join(Membership).where((Membership.classroom == classroom) & (Membership.joined_at <= checkin.deadline))
    )
    came = {r.user_id for r in Response.select(Response.user).where(Response.activity == checkin)}
    missing = [u.display_name for u in members if u.id not in came]
    header = ctx.t(
        "attendance", name=classroom.name, at=ctx.hhmm(checkin.opened_at),
        state=ctx.t("state_open" if checkin.status == OPEN and ctx.now <= checkin.deadline else "state_closed"),
        present=len(came), total=len(members), absent=len(missing),
    )
    if not missing:
        return header
    return fit_lines(header + "\n" + ctx.t("missing_header"), missing, lambda n: ctx.t("and_more", n=n))


def results(ctx: Context) -> str:
    """The latest activity's results as a text bar chart."""
    classroom = scope.current_class(ctx)
    activity = (
        Activity.select().join(Lesson).where(Lesson.classroom == classroom)
        .order_by(Activity.opened_at.desc(), Activity.id.desc()).first()
    )
    if activity is None:
        raise UserError("no_activity_yet", name=classroom.name)
    if activity.kind == CHECKIN:
        return attendance(ctx)
    answers = [r.answer for r in Response.select(Response.answer).where(Response.activity == activity)]
    checkin = scope.latest_activity(classroom, CHECKIN)
    present = _count(checkin) if checkin and checkin.lesson_id == activity.lesson_id else len(scope.student_ids(classroom))
    lines = [ctx.t("results_header", question=activity.question[:60], state=ctx.t("state_open" if activity.status == OPEN and ctx.now <= activity.deadline else "state_closed"))]
    top = max([answers.count(o) for o in activity.options] + [1])
    for option in activity.options:
        n = answers.count(option)
        bar = "█" * round(10 * n / top) if n else "▏"
        mark = " ✓" if option == activity.correct else ""
        lines.append(f"{option} {bar} {n}{mark}")
    right = answers.count(activity.correct)
    rate = f"{100 * right / len(answers):.0f}%" if answers else "—"
    lines.append(ctx.t("results_footer", answered=len(answers), present=present, right=right, rate=rate))
    return "\n".join(lines)


def announce(ctx: Context, text: str) -> str:
    """Post an announcement and queue a push to every student of the class."""
    classroom = scope.current_class(ctx)
    n = post_announcement(classroom, ctx.user, text, ctx.now)
    return ctx.t("announced", name=classroom.name, n=n)


def post_announcement(classroom: Classroom, author, text: str, now) -> int:
    """Create the announcement and queue its push to every student; return how many students."""
    note = Announcement.create(classroom=classroom, author=author, text=text, created_at=now)
    students = scope.student_ids(classroom)
    push = t("push_announcement", "zh", name=classroom.name, text=text)
    for user_id in students:
        enqueue(user_id, "announcement", push, f"announcement:{note.id}:{user_id}", now)
    return len(students)
