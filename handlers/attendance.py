"""Attendance: who counts for a lesson, the teacher's report, manual marks, and roll call."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from peewee import fn

from bot.catalogue import t
from bot.context import Context, UserError
from bot.jobs import claim_each
from bot.outbox import channels, enqueue, enqueue_many
from bot.prepared import Prepared
from bot.text import fit_lines
from handlers import scope
from handlers.requests import record_remark
from handlers.screen.rotation import stale_note  # screen:
from models import ABSENT, CHECKIN, EXCUSED, LATE, PRESENT, VERIFIED, Activity, Lesson, Membership, Response, RollCall, User

STATUS_WORDS = {
    "已到": PRESENT, "到": PRESENT, "present": PRESENT, "迟到": LATE, "late": LATE,
    "请假": EXCUSED, "excused": EXCUSED, "缺勤": ABSENT, "旷课": ABSENT, "absent": ABSENT,
}
ROLL_CALL_WINDOW = timedelta(minutes=2)

# Every check-in looks this up, so it is compiled once (bot/prepared.py).
_LATEST_CHECKIN = Prepared(lambda lesson, kind: Activity.select().where((Activity.lesson == lesson) & (Activity.kind == kind))
                           .order_by(Activity.opened_at.desc(), Activity.id.desc()).limit(1))


def lesson_checkin(lesson: Lesson) -> Activity | None:
    """The lesson's latest check-in: it decides the lesson's attendance."""
    return _LATEST_CHECKIN.first(lesson, CHECKIN)


def member_during(checkin, membership=Membership):
    """SQL: *membership* (a row or alias of Membership) covers *checkin*: joined before it closed and
    had not left before it opened. A student who left later still counts (and is absent if they did not come)."""
    return ((membership.joined_at <= fn.COALESCE(checkin.closed_at, checkin.deadline))
            & (membership.left_at.is_null() | (membership.left_at > checkin.opened_at)))


def sheet_for(checkin: Activity) -> dict[int, str]:
    """Status per student counted for *checkin*: members while it was open (see member_during), and
    whoever has a status on it."""
    members = (Membership.select(Membership.user).join(Activity, on=(Activity.id == checkin.id))
               .where((Membership.classroom == checkin.lesson.classroom_id) & member_during(Activity)))
    sheet = {m.user_id: ABSENT for m in members}
    for response in Response.select(Response.user, Response.status).where(Response.activity == checkin):
        sheet[response.user_id] = response.status
    return sheet


def attendance_sheet(lesson: Lesson) -> dict[int, str]:
    """Status per counted student for *lesson* ({} when no check-in was taken)."""
    checkin = lesson_checkin(lesson)
    return sheet_for(checkin) if checkin else {}


def attendance(ctx: Context) -> str:
    """Present / late / excused / absent counts of the latest check-in, and who is missing."""
    classroom = scope.current_class(ctx)
    checkin = scope.latest_activity(classroom, CHECKIN)
    if checkin is None:
        raise UserError("no_checkin_yet", name=classroom.name)
    sheet = sheet_for(checkin)
    counts = {status: sum(1 for s in sheet.values() if s == status) for status in (PRESENT, LATE, EXCUSED, ABSENT)}
    header = ctx.t(
        "attendance", name=classroom.name, at=ctx.hhmm(checkin.opened_at),
        state=ctx.t("state_open" if checkin.is_open(ctx.now) else "state_closed"), total=len(sheet),
        present=counts[PRESENT], late=counts[LATE], excused=counts[EXCUSED], absent=counts[ABSENT],
    )
    header += stale_note(ctx, checkin)  # screen: how many expired screen codes were tried
    missing = User.select().where(User.id.in_([uid for uid, s in sheet.items() if s == ABSENT]))
    names = [f"{u.student_no or '—'} {u.display_name}" for u in sorted(missing, key=lambda u: (u.student_no or "~", u.id))]
    if not names:
        return header
    return fit_lines(header + "\n" + ctx.t("missing_header"), names, lambda n: ctx.t("and_more", n=n))


def mark(ctx: Context, student_no: str, status: str) -> str:
    """Change a student's status on the latest check-in; the row keeps who changed it and when."""
    classroom = scope.current_class(ctx)
    checkin = scope.latest_activity(classroom, CHECKIN)
    if checkin is None:
        raise UserError("no_checkin_yet", name=classroom.name)
    student, note = _student_by_number(ctx, classroom, student_no)
    value = STATUS_WORDS[status.casefold()]
    record_remark(checkin.id, student, Response.get_or_none((Response.activity == checkin) & (Response.user == student)),
                  value, ctx.user, ctx.now)
    changes = {Response.status: value, Response.marked_by: ctx.user.id, Response.marked_at: ctx.now, Response.updated_at: ctx.now}
    Response.insert(activity=checkin, user=student, status=value, created_at=ctx.now, updated_at=ctx.now,
                    marked_by=ctx.user, marked_at=ctx.now).on_conflict(
        conflict_target=[Response.activity, Response.user], update=changes).execute()
    return note + ctx.t("marked", student_no=student_no, student=student.display_name, at=ctx.hhmm(checkin.opened_at),
                        status=ctx.t(f"status_{value}"))


def _student_by_number(ctx: Context, classroom, student_no: str) -> tuple[User, str]:
    """The current member with *student_no*, and a note ('' or a warning line) when several claim it.

    Anyone may type any number when joining (unverified), so the account the roster verified wins;
    several unverified accounts and none verified is refused rather than guessed."""
    found = list(User.select().join(Membership)
                 .where((Membership.classroom == classroom) & (Membership.active == 1) & (User.student_no == student_no))
                 .order_by(User.id))
    if not found:
        raise UserError("no_such_student", student_no=student_no, name=classroom.name)
    if len(found) == 1:
        return found[0], ""
    names = "、".join(u.display_name for u in found)
    verified = [u for u in found if u.verify_state == VERIFIED]
    if len(verified) != 1:
        raise UserError("mark_ambiguous", student_no=student_no, n=len(found), names=names)
    return verified[0], ctx.t("mark_chose_verified", student_no=student_no, n=len(found), names=names,
                              student=verified[0].display_name) + "\n"


def roll_call(ctx: Context, count: int = 1) -> str:
    """Pick checked-in students at random (never twice a lesson); each must answer 到 within 2 minutes."""
    classroom = scope.current_class(ctx)
    lesson = scope.live_lesson(ctx, classroom)
    checkin = lesson_checkin(lesson)
    if checkin is None:
        raise UserError("roll_call_needs_checkin")
    came = {uid for uid, status in sheet_for(checkin).items() if status in (PRESENT, LATE)}
    came &= set(scope.student_ids(classroom))  # the sheet keeps who left since; they cannot answer 到
    called = {rc.user_id for rc in RollCall.select(RollCall.user).where(RollCall.lesson == lesson)}
    pool = sorted(came - called)
    if not pool:
        raise UserError("roll_call_pool_empty")
    picked = random.SystemRandom().sample(pool, min(count, len(pool)))
    deadline = ctx.now + ROLL_CALL_WINDOW
    text = t("push_roll_call", "zh", name=classroom.name, at=ctx.hhmm(deadline))
    RollCall.insert_many([{"lesson": lesson, "user": u, "picked_at": ctx.now, "deadline": deadline} for u in picked]).execute()
    enqueue_many(((u, "roll_call", text, f"rollcall:{lesson.id}:{u}") for u in picked), ctx.now)
    users = [User.get_by_id(uid) for uid in picked]
    reply = ctx.t("roll_called", names="、".join(u.display_name for u in users), at=ctx.hhmm(deadline),
                  left=len(pool) - len(picked))
    unreachable = [u.display_name for u in users if not channels(u, "roll_call", ctx.now, ctx.settings)]
    if unreachable:  # say so now rather than count them as not answering
        key = "roll_call_unreachable" if ctx.settings.wechat.app_secret else "roll_call_no_pushes"
        reply += "\n" + ctx.t(key, names="、".join(unreachable))
    return reply


def roll_call_report(ctx: Context) -> str:
    """Who was called in this lesson and whether they answered in time."""
    classroom = scope.current_class(ctx)
    lesson = scope.lesson_in_view(classroom)
    calls = list(RollCall.select().where(RollCall.lesson == lesson).order_by(RollCall.picked_at)) if lesson else []
    if not calls:
        raise UserError("no_roll_call")
    lines = []
    for call in calls:
        if call.answered_at:
            state = ctx.t("rc_answered", at=ctx.hhmm(call.answered_at))
        elif ctx.now <= call.deadline:
            state = ctx.t("rc_waiting", at=ctx.hhmm(call.deadline))
        else:
            state = ctx.t("rc_missed")
        lines.append(f"{call.user.display_name} {state}")
    return fit_lines(ctx.t("rc_header", n=len(calls)), lines, lambda n: ctx.t("and_more", n=n))


def here(ctx: Context) -> str:
    """A called student answers 到."""
    classroom = scope.current_class(ctx)
    lesson = scope.live_lesson(ctx, classroom)
    call = RollCall.get_or_none((RollCall.lesson == lesson) & (RollCall.user == ctx.user))
    if call is None:
        return ctx.t("not_called")
    if call.answered_at:
        return ctx.t("already_answered_call", at=ctx.hhmm(call.answered_at))
    if ctx.now > call.deadline:
        return ctx.t("roll_call_missed", at=ctx.hhmm(call.deadline))
    RollCall.update(answered_at=ctx.now).where(RollCall.id == call.id).execute()
    return ctx.t("roll_call_answered", name=classroom.name)


def close_roll_calls(now: datetime) -> int:
    """Close roll-call windows whose deadline passed and push the teacher who answered; return how many calls."""
    due = RollCall.select(RollCall.lesson, RollCall.deadline).where((RollCall.closed_at.is_null()) & (RollCall.deadline < now))
    batches = sorted({(call.lesson_id, call.deadline) for call in due})  # one per 点名: a lesson and a deadline
    return claim_each(
        batches,
        lambda batch: RollCall.update(closed_at=now).where(_roll_call(*batch) & RollCall.closed_at.is_null()).execute(),
        lambda batch: _report_roll_call(*batch, now),
    )


def _roll_call(lesson_id: int, deadline: datetime):
    return (RollCall.lesson == lesson_id) & (RollCall.deadline == deadline)


def _report_roll_call(lesson_id: int, deadline: datetime, now: datetime) -> None:
    """Push the teacher who answered the roll call of *lesson_id* that closed at *deadline*."""
    calls = list(RollCall.select().where(_roll_call(lesson_id, deadline)).order_by(RollCall.picked_at, RollCall.id))
    lesson = Lesson.get_by_id(lesson_id)
    missed = [call.user.display_name for call in calls if call.answered_at is None]
    text = t("push_roll_call_result", "zh", name=lesson.classroom.name, n=len(calls), answered=len(calls) - len(missed),
             missed=t("rc_missed_names", "zh", names="、".join(missed)) if missed else "")
    # The key is the batch: a second scheduler, or a rerun after a crash, cannot push it twice.
    enqueue(lesson.classroom.owner_id, "roll_call_result", text,
            f"rollcall:{lesson_id}:{deadline:%Y%m%d%H%M%S}:result", now)
