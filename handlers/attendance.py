"""Attendance: who counts for a lesson, the teacher's report, manual marks, and roll call."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta

from bot.catalogue import t
from bot.context import Context, UserError
from bot.jobs import claim_each
from bot.outbox import channels, enqueue_each
from bot.prepared import Prepared
from bot.text import fit_lines
from handlers import extension_points, records, scope, sections, team
from handlers.requests import record_remark
from models import (
    ABSENT,
    CHECKIN,
    EXCUSED,
    LATE,
    PRESENT,
    VERIFIED,
    Activity,
    Lesson,
    Membership,
    Response,
    RollCall,
    User,
)

STATUS_WORDS = {
    "已到": PRESENT, "到": PRESENT, "present": PRESENT, "迟到": LATE, "late": LATE,
    "请假": EXCUSED, "excused": EXCUSED, "缺勤": ABSENT, "旷课": ABSENT, "absent": ABSENT,
}
ROLL_CALL_WINDOW = timedelta(minutes=2)

# Every check-in looks this up, so it is compiled once (bot/prepared.py).
_LATEST_CHECKIN = Prepared(lambda lesson, kind: Activity.select().where((Activity.lesson == lesson) & (Activity.kind == kind))
                           .order_by(Activity.opened_at.desc(), Activity.id.desc()).limit(1))


UNNAMED_LABEL = re.compile(r"(?:未实名|unnamed)\((\S{1,4})\)", re.IGNORECASE)


def lesson_checkin(lesson: Lesson) -> Activity | None:
    """The lesson's latest check-in (the one a student may still be able to check in to). The lesson's
    attendance is every check-in's: records.lesson_sheet."""
    return _LATEST_CHECKIN.first(lesson, CHECKIN)


def checkins_of(lesson: Lesson) -> list[Activity]:
    """The lesson's check-ins in the order they were opened."""
    return list(Activity.select().where((Activity.lesson == lesson) & (Activity.kind == CHECKIN))
                .order_by(Activity.opened_at, Activity.id))


def _counts(sheet: dict[int, str]) -> dict[str, int]:
    return {status: sum(1 for s in sheet.values() if s == status) for status in (PRESENT, LATE, EXCUSED, ABSENT)}


def _missing(ctx: Context, header: str, sheet: dict[int, str]) -> str:
    """*header*, then who in *sheet* is absent, by student number."""
    missing = User.select().where(User.id.in_([uid for uid, s in sheet.items() if s == ABSENT]))
    names = [f"{u.student_no or '—'} {u.label(ctx.lang)}" for u in sorted(missing, key=lambda u: (u.student_no or "~", u.id))]
    if not names:
        return header
    return fit_lines(header + "\n" + ctx.t("missing_header"), names, lambda n: ctx.t("and_more", n=n))


def attendance(ctx: Context, section: str | None = None) -> str:
    """签到情况 [分组]: the lesson of the latest check-in, counted by the attendance rule over all its check-ins
    (records.lesson_attendance), and who is missing; of one section's students when one is named, or when the
    asker assists one section only (handlers/sections.view)."""
    classroom = scope.current_class(ctx)
    covered = sections.view(classroom, section)
    latest = scope.latest_activity(classroom, CHECKIN)
    if latest is None:
        raise UserError("no_checkin_yet", name=classroom.name)
    lesson = latest.lesson
    if lesson.cancelled_at:
        raise UserError("attendance_cancelled", name=classroom.name, at=ctx.hhmm(lesson.started_at),
                        cancelled=ctx.hhmm(lesson.cancelled_at))
    sheet = sections.keep(records.lesson_sheet(lesson), sections.students_in(classroom.id, covered))
    counts = _counts(sheet)
    header = ctx.t(
        "attendance", name=classroom.name, at=ctx.hhmm(latest.opened_at),
        state=ctx.t("state_open" if latest.is_open(ctx.now) else "state_closed"), total=len(sheet),
        present=counts[PRESENT], late=counts[LATE], excused=counts[EXCUSED], absent=counts[ABSENT],
    )
    header += sections.note(ctx.lang, covered)
    checkins = checkins_of(lesson)
    if len(checkins) > 1:
        header += "\n" + ctx.t("attendance_several", n=len(checkins))
    header += extension_points.attendance_notes(ctx, checkins)
    return _missing(ctx, header, sheet)


def checkin_report(ctx: Context, checkin: Activity, number: int, allowed: set[int] | None = None) -> str:
    """结果 <n> of a check-in: who checked in to that one check-in (the lesson's attendance is 签到情况's)."""
    if checkin.lesson.cancelled_at:
        raise UserError("attendance_cancelled", name=checkin.lesson.classroom.name, at=ctx.hhmm(checkin.lesson.started_at),
                        cancelled=ctx.hhmm(checkin.lesson.cancelled_at))
    sheet = sections.keep(records.checkin_sheet(checkin), allowed)
    counts = _counts(sheet)
    header = ctx.t("checkin_result", n=number, at=ctx.hhmm(checkin.opened_at),
                   state=ctx.t("state_open" if checkin.is_open(ctx.now) else "state_closed"), total=len(sheet),
                   present=counts[PRESENT], late=counts[LATE], excused=counts[EXCUSED], absent=counts[ABSENT])
    if len(checkins_of(checkin.lesson)) > 1:
        header += "\n" + ctx.t("checkin_result_lesson")
    return _missing(ctx, header, sheet)


def mark(ctx: Context, student_no: str, status: str) -> str:
    """Set a student's attendance for the lesson of the latest check-in: the status goes on every check-in
    of that lesson, so the lesson's best is the teacher's word; each row keeps who changed it and when."""
    classroom = scope.current_class(ctx)
    latest = scope.latest_activity(classroom, CHECKIN)
    if latest is None:
        raise UserError("no_checkin_yet", name=classroom.name)
    if latest.lesson.cancelled_at:
        raise UserError("attendance_cancelled", name=classroom.name, at=ctx.hhmm(latest.lesson.started_at),
                        cancelled=ctx.hhmm(latest.lesson.cancelled_at))
    student, note = _student_by_number(ctx, classroom, student_no)
    sections.check_student(ctx, classroom, student)  # an assistant of one section marks its students only
    value = STATUS_WORDS[status.casefold()]
    checkins = checkins_of(latest.lesson)
    before = {r.activity_id: r for r in Response.select().where(
        Response.activity.in_([c.id for c in checkins]) & (Response.user == student))}
    for checkin in checkins:  # a made-up check-in changed by hand, or any by an assistant, is kept in the audit trail
        record_remark(checkin.id, student, before.get(checkin.id), value, ctx.user, ctx.now, classroom.owner_id)
    changes = {Response.status: value, Response.marked_by: ctx.user.id, Response.marked_at: ctx.now, Response.updated_at: ctx.now}
    rows = [dict(activity=checkin.id, user=student.id, status=value, created_at=ctx.now, updated_at=ctx.now,
                 marked_by=ctx.user.id, marked_at=ctx.now) for checkin in checkins]
    Response.insert_many(rows).on_conflict(conflict_target=[Response.activity, Response.user], update=changes).execute()
    return note + ctx.t("marked", student_no=student.student_no or "—", student=student.label(ctx.lang),
                        at=ctx.hhmm(latest.lesson.started_at),
                        status=ctx.t(f"status_{value}"))


def _student_by_number(ctx: Context, classroom, student_no: str) -> tuple[User, str]:
    """The current member with *student_no*, and a note ('' or a warning line) when several claim it.

    Anyone may type any number when joining (unverified), so the account the roster verified wins;
    several unverified accounts and none verified is refused rather than guessed."""
    unnamed = UNNAMED_LABEL.fullmatch(student_no)  # 未实名(ent4): the label lists give a student with no name
    who = ((User.name.is_null() | (User.name == "")) & User.openid.endswith(unnamed.group(1)) if unnamed
           else User.student_no == student_no)
    found = list(User.select().join(Membership)
                 .where((Membership.classroom == classroom) & (Membership.active == 1) & who)
                 .order_by(User.id))
    if not found:
        raise UserError("no_such_student", student_no=student_no, name=classroom.name)
    if len(found) == 1:
        return found[0], ""
    names = ctx.t("list_sep").join(u.label(ctx.lang) for u in found)
    verified = [u for u in found if u.verify_state == VERIFIED]
    if len(verified) != 1:
        raise UserError("mark_ambiguous", student_no=student_no, n=len(found), names=names)
    return verified[0], ctx.t("mark_chose_verified", student_no=student_no, n=len(found), names=names,
                              student=verified[0].label(ctx.lang)) + "\n"


def roll_call(ctx: Context, count: int = 1) -> str:
    """Pick checked-in students at random (never twice a lesson); each must answer 到 within 2 minutes."""
    classroom = scope.current_class(ctx)
    lesson = scope.live_lesson(ctx, classroom)
    if lesson_checkin(lesson) is None:
        raise UserError("roll_call_needs_checkin")
    came = {uid for uid, status in records.lesson_sheet(lesson).items() if status in records.CAME}
    came &= set(scope.student_ids(classroom))  # the sheet keeps who left since; they cannot answer 到
    mine = sections.students_in(classroom.id, getattr(classroom, "staff_section", None))
    came &= mine if mine is not None else came  # an assistant of one section calls its students only
    called = {rc.user_id for rc in RollCall.select(RollCall.user).where(RollCall.lesson == lesson)}
    pool = sorted(came - called)
    if not pool:
        raise UserError("roll_call_pool_empty")
    picked = random.SystemRandom().sample(pool, min(count, len(pool)))
    deadline = ctx.now + ROLL_CALL_WINDOW
    RollCall.insert_many([{"lesson": lesson, "user": u, "picked_at": ctx.now, "deadline": deadline} for u in picked]).execute()
    users = [User.get_by_id(uid) for uid in picked]
    enqueue_each([(u.id, u.lang) for u in users], "roll_call",
                 lambda lang: t("push_roll_call", lang, name=classroom.name, at=ctx.hhmm(deadline)),
                 lambda u: f"rollcall:{lesson.id}:{u}", ctx.now)
    sep = ctx.t("list_sep")  # names are data; the frame, separators too, is in one language
    reply = ctx.t("roll_called", names=sep.join(u.label(ctx.lang) for u in users), at=ctx.hhmm(deadline),
                  left=len(pool) - len(picked))
    unreachable = [u.label(ctx.lang) for u in users if not channels(u, "roll_call", ctx.now, ctx.settings)]
    if unreachable:  # say so now rather than count them as not answering
        key = "roll_call_unreachable" if ctx.settings.wechat.app_secret else "roll_call_no_pushes"
        reply += "\n" + ctx.t(key, names=sep.join(unreachable))
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
        lines.append(f"{call.user.label(ctx.lang)} {state}")
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
    classroom = lesson.classroom

    def text(lang: str) -> str:
        missed = [call.user.label(lang) for call in calls if call.answered_at is None]
        return t("push_roll_call_result", lang, name=classroom.name, n=len(calls), answered=len(calls) - len(missed),
                 missed=t("rc_missed_names", lang, names=t("list_sep", lang).join(missed)) if missed else "")
    # To the owner, or the whole team (助教通知 开). The key is the batch: a second scheduler, or a rerun after a
    # crash, cannot push it twice (the owner's key is the one it always had).
    # An assistant limited to a section gets it only when every student called is in their section (no other
    # section's names reach them).
    def allowed(user_id: int) -> bool:
        return len(sections.visible(user_id, calls, lambda _call: classroom.id, lambda call: call.user_id)) == len(calls)
    enqueue_each([(u, lang) for u, lang in team.recipients(classroom.id, classroom.owner_id) if allowed(u)],
                 "roll_call_result", text,
                 lambda u: f"rollcall:{lesson_id}:{deadline:%Y%m%d%H%M%S}:result" + ("" if u == classroom.owner_id else f":{u}"),
                 now)
