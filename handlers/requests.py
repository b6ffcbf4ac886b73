"""Make-up (补签) and leave (请假) requests: the student asks with a reason, the teacher decides with one reply.

Every request and decision is a row of AbsenceRequest (who asked, when, why, who decided, when, what it
changed); every status a decision changed is a row of AttendanceChange, as is a teacher's later 改签 of a
made-up check-in. A made-up check-in's Response has made_up set, so records show it as such (请假(补)).
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone

from peewee import fn

from bot.catalogue import t
from bot.context import Context, UserError
from bot.database import transaction
from bot.outbox import enqueue
from bot.text import MAX_REPLY_BYTES, fit_lines, fit_lines_counted, fold_width, inline
from handlers import scope, sections, team
from models import (
    ABSENT,
    APPROVED,
    CHECKIN,
    EXCUSED,
    LATE,
    LEAVE,
    MAKE_UP,
    OPEN,
    OWNER,
    PRESENT,
    REJECTED,
    WAITING,
    AbsenceRequest,
    Activity,
    AttendanceChange,
    Classroom,
    ClassRules,
    Lesson,
    Membership,
    Response,
    User,
)

REASON_MAX = 100  # characters of a reason (or a rejection's): one line, shown to the teacher as typed
LEAVE_AHEAD = timedelta(days=60)  # 请假 reaches this far ahead
BATCH = timedelta(minutes=1)  # requests arriving within a minute of the teacher's last push wait for one push
APPROVE_STATUS = {"已到": PRESENT, "到": PRESENT, "present": PRESENT, "迟到": LATE, "late": LATE,
                  "请假": EXCUSED, "excused": EXCUSED}
DAY = re.compile(r"(?:(\d{4})[-/.年])?(\d{1,2})[-/.月](\d{1,2})日?")
ALL = ("全部", "all")


# --- the student ------------------------------------------------------------------------------------


def make_up(ctx: Context, text: str | None = None) -> str:
    """补签: a student asks about a missed check-in; a teacher turns requests on or off (补签 开|关)."""
    if ctx.user.is_teacher:
        return _switch(ctx, text)
    if not text:
        return _missed_listing(ctx)
    first, rest = _split(text)
    when = _parse_day(ctx, first)
    if not rest.strip() and (when or first.isdigit()):
        raise UserError("make_up_usage")  # a date or a number and no reason
    if when is None and not (first.isdigit() and len(first) <= 2 and rest.strip()):
        checkin, classroom = _most_recent_missed(ctx)
        return _ask(ctx, classroom, MAKE_UP, _reason(text), checkin=checkin)
    classroom = scope.current_class(ctx)
    checkin = _checkin_on(ctx, classroom, when) if when else _checkin_numbered(ctx, classroom, int(first))
    return _ask(ctx, classroom, MAKE_UP, _reason(rest), checkin=checkin)


def leave_request(ctx: Context, text: str) -> str:
    """请假 <日期> <理由>: ask ahead for a day off; once approved, that day's check-ins count as excused."""
    first, rest = _split(text)
    day = _parse_day(ctx, first)
    if day is None or not rest.strip():
        raise UserError("leave_usage")
    classroom = scope.current_class(ctx)
    today = ctx.local(ctx.now).date()
    if day < today:
        raise UserError("leave_in_past", day=_md(day))
    if day > today + LEAVE_AHEAD:
        raise UserError("leave_too_far", days=LEAVE_AHEAD.days)
    return _ask(ctx, classroom, LEAVE, _reason(rest), day=day)


def _ask(ctx: Context, classroom: Classroom, kind: str, reason: str, checkin: Activity | None = None,
         day: date | None = None) -> str:
    """Record the request (once per check-in or day: the unique key decides) and say what happens next."""
    rules = ClassRules.get_or_none(ClassRules.classroom == classroom)
    if rules is not None and not rules.requests_on:
        raise UserError("requests_off", name=classroom.name)
    key = f"{kind}:{ctx.user.id}:" + (f"a{checkin.id}" if checkin else f"c{classroom.id}:{day.isoformat()}")
    inserted = AbsenceRequest.insert(student=ctx.user, classroom=classroom, kind=kind, activity=checkin, day=day,
                                     reason=reason, key=key, created_at=ctx.now).on_conflict_ignore().as_rowcount().execute()
    if not inserted:
        before = AbsenceRequest.get(AbsenceRequest.key == key)
        raise UserError("request_twice", at=ctx.hhmm(before.created_at), state=ctx.t(f"request_{before.state}"))
    what = _what(ctx, kind, checkin, day)
    return ctx.t("request_sent", name=classroom.name, what=what, reason=reason)


def _split(text: str) -> tuple[str, str]:
    """The first word (width-folded: ９-７ is 9-7) and the rest as typed, split on any whitespace."""
    parts = text.split(None, 1)
    return fold_width(parts[0]) if parts else "", parts[1] if len(parts) > 1 else ""


def _reason(text: str) -> str:
    reason = " ".join(inline(text).split())
    if not reason:
        raise UserError("make_up_usage")
    if len(reason) > REASON_MAX:
        raise UserError("reason_too_long", n=REASON_MAX)
    return reason


def _parse_day(ctx: Context, token: str) -> date | None:
    """A date typed as 2026-09-07, 9-7, 9/7 or 9月7日 (this year unless given); None when it is not one."""
    match = DAY.fullmatch(token)
    if not match:
        return None
    year = int(match.group(1) or ctx.local(ctx.now).year)
    try:
        return date(year, int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _utc_day(ctx: Context, day: date) -> tuple[datetime, datetime]:
    """The naive-UTC bounds of the school-time *day*."""
    start = datetime.combine(day, time(), tzinfo=ctx.settings.school.tz).astimezone(timezone.utc).replace(tzinfo=None)
    return start, start + timedelta(days=1)


def _window_start(ctx: Context) -> datetime:
    return ctx.now - timedelta(days=ctx.settings.attendance.request_days)


def _closed(now):
    return (Activity.status != OPEN) | (Activity.deadline < now)


def _missed(ctx: Context, classes: list[Classroom]) -> list[Activity]:
    """The student's check-ins in *classes* inside the window that are over, held while they were a member,
    and that left them absent (no status, and no other check-in of that lesson attended), newest first."""
    if not classes:
        return []
    member = Membership.alias()
    was_member = fn.EXISTS(member.select(member.id).where(
        (member.user == ctx.user) & (member.classroom == Lesson.classroom)
        & (member.joined_at <= fn.COALESCE(Activity.closed_at, Activity.deadline))
        & (member.left_at.is_null() | (member.left_at > Activity.opened_at))))
    attended = Response.select(Activity.lesson).join(Activity).where(
        (Response.user == ctx.user) & (Activity.kind == CHECKIN) & (Response.status != ABSENT))
    return list(Activity.select(Activity, Lesson).join(Lesson).where(
        Lesson.classroom.in_([c.id for c in classes]) & (Activity.kind == CHECKIN) & _closed(ctx.now)
        & (Activity.opened_at >= _window_start(ctx)) & was_member & Activity.lesson.not_in(attended))
        .order_by(Activity.opened_at.desc(), Activity.id.desc()))


def _missed_in_classes(ctx: Context) -> tuple[list[Activity], list[Classroom]]:
    """The student's missed check-ins one may still ask about (newest first) and their classes; refused when
    they are in no class or missed nothing."""
    classes = scope.joined_classes(ctx.user)
    if not classes:
        raise UserError("no_class_student")
    missed = _missed(ctx, classes)
    if not missed:
        raise UserError("nothing_missed", days=ctx.settings.attendance.request_days)
    return missed, classes


def _most_recent_missed(ctx: Context) -> tuple[Activity, Classroom]:
    missed, classes = _missed_in_classes(ctx)
    by_id = {c.id: c for c in classes}
    return missed[0], by_id[missed[0].lesson.classroom_id]


def _missed_listing(ctx: Context) -> str:
    """补签 alone: the missed check-ins one may ask about, and how."""
    missed, classes = _missed_in_classes(ctx)
    names = {c.id: c.name for c in classes}
    lines = [f"{ctx.local(a.opened_at):%m-%d %H:%M} 「{inline(names[a.lesson.classroom_id])}」" for a in missed]
    return fit_lines(ctx.t("missed_header", days=ctx.settings.attendance.request_days), lines,
                     lambda n: ctx.t("and_more", n=n)) + "\n" + ctx.t("missed_footer")


def _checkin_on(ctx: Context, classroom: Classroom, day: date) -> Activity:
    """The current class's check-in on *day* that the student may ask about, or the refusal saying why not."""
    start, end = _utc_day(ctx, day)
    if start + timedelta(days=1) <= _window_start(ctx):
        raise UserError("request_too_old", days=ctx.settings.attendance.request_days)
    day_checkins = (Activity.select(Activity, Lesson).join(Lesson)
                    .where((Activity.kind == CHECKIN) & (Activity.opened_at >= start) & (Activity.opened_at < end)))
    here = list(day_checkins.where(Lesson.classroom == classroom).order_by(Activity.opened_at.desc()))
    if not here:
        elsewhere = [c for c in scope.joined_classes(ctx.user) if c.id != classroom.id
                     and day_checkins.where(Lesson.classroom == c).exists()]
        if elsewhere:
            raise UserError("request_other_class", day=_md(day), name=classroom.name, other=elsewhere[0].name)
        raise UserError("no_checkin_that_day", day=_md(day), name=classroom.name)
    return _askable(ctx, classroom, here)


def _checkin_numbered(ctx: Context, classroom: Classroom, number: int) -> Activity:
    """The check-ins of the class's lesson *number* (1 = the first lesson, as the export numbers them)."""
    lessons = list(Lesson.select(Lesson.id).where(Lesson.classroom == classroom).order_by(Lesson.started_at, Lesson.id))
    if not 1 <= number <= len(lessons):
        raise UserError("no_such_lesson", n=number, count=len(lessons), name=classroom.name)
    here = list(Activity.select(Activity, Lesson).join(Lesson).where(
        (Activity.lesson == lessons[number - 1].id) & (Activity.kind == CHECKIN)).order_by(Activity.opened_at.desc()))
    if not here:
        raise UserError("no_checkin_in_lesson", n=number, name=classroom.name)
    if here[0].opened_at < _window_start(ctx):
        raise UserError("request_too_old", days=ctx.settings.attendance.request_days)
    return _askable(ctx, classroom, here)


def _askable(ctx: Context, classroom: Classroom, checkins: list[Activity]) -> Activity:
    """Among one day's or one lesson's check-ins (newest first): the one to ask about, or why none is."""
    if checkins[0].opened_at < _window_start(ctx):
        raise UserError("request_too_old", days=ctx.settings.attendance.request_days)
    mine = {r.activity_id: r.status for r in Response.select(Response.activity, Response.status)
            .where(Response.activity.in_([a.id for a in checkins]) & (Response.user == ctx.user) & (Response.status != ABSENT))}
    if mine:
        status = min(mine.values(), key=[PRESENT, LATE, EXCUSED, ABSENT].index)
        raise UserError("request_attended", at=_full(ctx, checkins[0].opened_at), status=ctx.t(f"status_{status}"))
    missed = {a.id for a in _missed(ctx, [classroom])}
    found = next((a for a in checkins if a.id in missed), None)
    if found is not None:
        return found
    if any(a.is_open(ctx.now) for a in checkins):
        raise UserError("request_checkin_open")
    raise UserError("request_not_member", at=_full(ctx, checkins[0].opened_at), name=classroom.name)


def _full(ctx, moment: datetime) -> str:
    return ctx.local(moment).strftime("%m-%d %H:%M")


def _md(day: date) -> str:
    return f"{day:%m-%d}"


def _what(ctx: Context, kind: str, checkin: Activity | None, day: date | None, lang: str | None = None) -> str:
    lang = lang or ctx.lang
    if kind == MAKE_UP:
        return t("request_what_make_up", lang, at=_full(ctx, checkin.opened_at))
    return t("request_what_leave", lang, day=_md(day))


# --- the teacher --------------------------------------------------------------------------------------


def _switch(ctx: Context, text: str | None) -> str:
    word = (text or "").strip().casefold()
    if word not in ("开", "关", "on", "off"):
        raise UserError("make_up_teacher_usage")
    classroom = scope.current_class(ctx, OWNER)  # a class setting: its owner's
    on = word in ("开", "on")
    ClassRules.insert(classroom=classroom, requests_on=on).on_conflict(
        conflict_target=[ClassRules.classroom], update={ClassRules.requests_on: on}).execute()
    return ctx.t("requests_on" if on else "requests_off_now", name=classroom.name)


def _waiting(teacher: User, number: int | None = None) -> list[AbsenceRequest]:
    """The waiting requests of the classes *teacher* owns or assists (of one section's students only where they
    assist one section: handlers/sections.py); *number*: that request alone."""
    query = (AbsenceRequest.select(AbsenceRequest, Classroom, User).join(Classroom)
             .switch(AbsenceRequest).join(User, on=(AbsenceRequest.student == User.id))
             .where(Classroom.id.in_(scope.staffed_by(teacher)) & (AbsenceRequest.state == WAITING))
             .order_by(AbsenceRequest.id))
    rows = list(query.where(AbsenceRequest.id == number) if number is not None else query)
    return sections.visible(teacher.id, rows, lambda r: r.classroom_id, lambda r: r.student_id)


def request_line(ctx: Context, request: AbsenceRequest, lang: str) -> str:
    """One request as the teacher sees it: one line whatever the student typed (names and reasons are inline)."""
    student = request.student
    who = f"{inline(student.student_no or '—')} {student.display_name}"
    return t("request_line", lang, n=request.id, name=inline(request.classroom.name), who=who,
             what=_what(ctx, request.kind, request.activity, request.day, lang), reason=inline(request.reason))


def requests_list(ctx: Context) -> str:
    """补签申请: the open requests of the teacher's classes; they are now 'shown', so 批准 全部 takes them."""
    waiting = list(_waiting(ctx.user))
    if not waiting:
        return ctx.t("no_requests")
    footer = "\n" + ctx.t("requests_footer")
    lines = [request_line(ctx, r, ctx.lang) for r in waiting]
    text, count = fit_lines_counted(ctx.t("requests_header", n=len(waiting)), lines, lambda n: ctx.t("and_more", n=n),
                                    MAX_REPLY_BYTES - len(footer.encode()))
    AbsenceRequest.update(shown_at=ctx.now).where(  # what 批准 全部 takes: the requests this reply showed
        AbsenceRequest.id.in_([r.id for r in waiting[:count]]) & AbsenceRequest.shown_at.is_null()).execute()
    return text + footer


def approve(ctx: Context, text: str) -> str:
    """批准 <n> [已到|迟到|请假], or 批准 全部: approve with the given status (请假 by default)."""
    parts = text.split()
    status_word = parts[1].casefold() if len(parts) == 2 else "请假"
    if len(parts) > 2 or status_word not in APPROVE_STATUS:
        raise UserError("approve_usage")
    status = APPROVE_STATUS[status_word]
    if parts[0].casefold() in ALL:
        shown = [r for r in _waiting(ctx.user) if r.shown_at is not None]
        if not shown:
            return ctx.t("no_requests")
        for request in shown:
            _decide(ctx, request, APPROVED, status=status)
        return ctx.t("approved_all", n=len(shown), status=ctx.t(f"status_{status}"))
    request = _own_waiting(ctx, parts[0])
    changed = _decide(ctx, request, APPROVED, status=status)
    return ctx.t("approved", line=request_line(ctx, request, ctx.lang), status=ctx.t(f"status_{status}"), changed=changed)


def reject(ctx: Context, number: int, note: str | None = None) -> str:
    """驳回 <n> [原因]."""
    request = _own_waiting(ctx, str(number))
    note = " ".join(inline(note or "").split())
    if len(note) > REASON_MAX:
        raise UserError("reason_too_long", n=REASON_MAX)
    _decide(ctx, request, REJECTED, note=note or None)
    return ctx.t("rejected", line=request_line(ctx, request, ctx.lang))


def _own_waiting(ctx: Context, number: str) -> AbsenceRequest:
    request = next(iter(_waiting(ctx.user, int(number))), None) if number.isdigit() else None
    if request is None:
        mine = (AbsenceRequest.id == int(number)) & Classroom.id.in_(scope.staffed_by(ctx.user)) if number.isdigit() else None
        decided = (AbsenceRequest.select().join(Classroom).where(mine & (AbsenceRequest.state != WAITING)).first()
                   if mine is not None else None)  # a waiting one not shown here is another section's: no such request
        if decided is not None:
            raise UserError("request_decided", n=number, state=ctx.t(f"request_{decided.state}"))
        raise UserError("no_such_request", n=number)
    return request


def _decide(ctx: Context, request: AbsenceRequest, state: str, status: str | None = None, note: str | None = None) -> str:
    """Record the decision (only if still waiting: a second teacher's reply or a double tap changes nothing),
    apply an approval, and tell the student. Return what it changed, as the teacher reads it."""
    won = AbsenceRequest.update(state=state, decided_by=ctx.user, decided_at=ctx.now, status=status, note=note).where(
        (AbsenceRequest.id == request.id) & (AbsenceRequest.state == WAITING)).execute()
    if not won:
        raise UserError("request_decided", n=request.id, state=ctx.t("request_decided_now"))
    changed = ""
    if state == APPROVED:
        changes = apply(request, status, ctx.user, ctx.now, ctx.settings.school.tz)
        changed = "、".join(f"{t(f'status_{b}', ctx.lang)}→{t(f'status_{a}', ctx.lang)}" for b, a in changes)
        AbsenceRequest.update(changed=",".join(f"{b}>{a}" for b, a in changes)[:200]).where(
            AbsenceRequest.id == request.id).execute()
    student = request.student
    lang = student.lang
    what = _what(ctx, request.kind, request.activity, request.day, lang)
    if state == APPROVED:
        text = t("push_request_approved", lang, name=request.classroom.name, what=what, status=t(f"status_{status}", lang))
    else:
        text = t("push_request_rejected", lang, name=request.classroom.name, what=what,
                 note=t("reject_note", lang, note=note) if note else "")
    enqueue(student.id, "request_result", text, f"request:{request.id}:outcome", ctx.now)
    return changed or ctx.t("changed_nothing_yet")


def apply(request: AbsenceRequest, status: str, by, now: datetime, tz) -> list[tuple[str, str]]:
    """Give an approved request's check-ins *status* (made up, marked by *by*); return (before, after) per change.

    A make-up changes its check-in; a leave changes that day's check-ins of the class that are over and
    found the student without a status (so a student who came anyway stays present). Idempotent."""
    if request.kind == MAKE_UP:
        checkins = [request.activity]
    else:
        start = datetime.combine(request.day, time(), tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)
        checkins = list(Activity.select().join(Lesson).where(
            (Lesson.classroom == request.classroom_id) & (Activity.kind == CHECKIN) & _closed(now)
            & (Activity.opened_at >= start) & (Activity.opened_at < start + timedelta(days=1))))
    changes = []
    for checkin in checkins:
        before = Response.get_or_none((Response.activity == checkin) & (Response.user == request.student_id))
        if request.kind == LEAVE and before is not None:
            continue
        values = {"status": status, "made_up": True, "marked_by": by, "marked_at": now, "updated_at": now}
        Response.insert(activity=checkin, user=request.student_id, created_at=now, **values).on_conflict(
            conflict_target=[Response.activity, Response.user],
            update={getattr(Response, k): v for k, v in values.items()}).execute()
        old = before.status if before else ABSENT
        AttendanceChange.create(activity=checkin, student=request.student_id, before=old, after=status, by=by, at=now,
                                request=request)
        changes.append((old, status))
    return changes


def record_remark(activity_id: int, student, before: Response | None, after: str, by, now: datetime,
                  owner_id: int | None = None) -> None:
    """A teacher's 改签 of a made-up check-in is kept like a decision (attendance.mark calls this), and so is
    every 改签 by an assistant (anyone but the class's owner *owner_id*): the trail says who changed what."""
    if (before is not None and before.made_up) or (owner_id is not None and getattr(by, "id", by) != owner_id):
        AttendanceChange.create(activity=activity_id, student=student, before=before.status if before else ABSENT,
                                after=after, by=by, at=now)


# --- the scheduler: one push per request, batched per teacher; leaves applied as their check-ins close ---


def push_requests(now: datetime, tz) -> int:
    """Push each teacher their requests not yet shown, unless they got a push less than a minute ago (then the
    ones arriving meanwhile go together a minute after it). Two schedulers claim with a conditional UPDATE
    and the outbox key, so a request is pushed once. Return how many requests were pushed."""
    rows = list(AbsenceRequest.select(AbsenceRequest.id, Classroom.owner, Classroom.id).join(Classroom)
                .where(AbsenceRequest.shown_at.is_null() & (AbsenceRequest.state == WAITING)).tuples())
    by_teacher: dict[int, list[int]] = defaultdict(list)
    class_of = {}
    for request_id, owner, classroom_id in rows:
        by_teacher[owner].append(request_id)
        class_of[request_id] = classroom_id
    assistants = team.assistants_pushed(set(class_of.values()))  # classes whose team gets pushes (助教通知 开)
    pushed = 0
    for owner, ids in by_teacher.items():
        last = (AbsenceRequest.select(fn.MAX(AbsenceRequest.shown_at)).join(Classroom)
                .where(Classroom.owner == owner).scalar())
        if last is not None and now - last < BATCH:
            continue
        text, shown = _teacher_push(owner, ids, now, tz)
        try:
            with transaction():
                claimed = AbsenceRequest.update(shown_at=now).where(
                    AbsenceRequest.id.in_(shown) & AbsenceRequest.shown_at.is_null()).execute()
                if claimed != len(shown):
                    raise _Taken  # another scheduler pushed some of them: undo, the rest go next run
                enqueue(owner, "absence_requests", text, f"requests:{owner}:{shown[0]}-{shown[-1]}", now)
                _push_assistants(shown, class_of, assistants, now, tz)
                pushed += claimed
        except _Taken:
            continue
    return pushed


def _push_assistants(shown: list[int], class_of: dict[int, int], assistants: dict[int, set[int]], now, tz) -> None:
    """The same push to each assistant of the classes that share theirs, naming only their classes' requests."""
    theirs: dict[int, list[int]] = defaultdict(list)
    student_of = dict(AbsenceRequest.select(AbsenceRequest.id, AbsenceRequest.student)
                      .where(AbsenceRequest.id.in_(shown)).tuples())
    for request_id in shown:
        for assistant in assistants.get(class_of[request_id], ()):
            theirs[assistant].append(request_id)
    for assistant, ids in theirs.items():
        ids = sections.visible(assistant, ids, class_of.get, student_of.get)  # one section's assistant: its students'
        if not ids:
            continue
        text, _shown = _teacher_push(assistant, ids, now, tz)
        enqueue(assistant, "absence_requests", text, f"requests:{assistant}:team:{ids[0]}-{ids[-1]}", now)


class _Taken(Exception):
    """Another process claimed a request this push would show."""


class _Clock:
    """What request_line needs of a Context outside a message: school time."""

    def __init__(self, now: datetime, tz):
        self.now, self.tz = now, tz

    def local(self, moment: datetime) -> datetime:
        return moment.replace(tzinfo=timezone.utc).astimezone(self.tz)


def _teacher_push(owner: int, ids: list[int], now: datetime, tz) -> tuple[str, list[int]]:
    """The push to the teacher and the requests it shows: as many as fit in one message (those left out
    are pushed next, so 批准 全部 approves only what the teacher was shown)."""
    lang = User.get_by_id(owner).lang
    requests = list(AbsenceRequest.select(AbsenceRequest, Classroom, User).join(Classroom)
                    .switch(AbsenceRequest).join(User, on=(AbsenceRequest.student == User.id))
                    .where(AbsenceRequest.id.in_(ids)).order_by(AbsenceRequest.id))
    clock = _Clock(now, tz)
    lines = [request_line(clock, r, lang) for r in requests]
    first = requests[0].id
    footer = "\n" + t("push_requests_footer_one" if len(requests) == 1 else "push_requests_footer", lang, n=first)
    text, count = fit_lines_counted(t("push_requests_header", lang, n=len(requests)), lines,
                                    lambda n: t("and_more", lang, n=n), MAX_REPLY_BYTES - len(footer.encode()))
    return text + footer, [r.id for r in requests[:count]]


def apply_leaves(now: datetime, tz, days: int) -> int:
    """Give approved leaves the check-ins of their day that closed since the approval; return how many changed."""
    today = now.replace(tzinfo=timezone.utc).astimezone(tz).date()
    leaves = list(AbsenceRequest.select().where(
        (AbsenceRequest.kind == LEAVE) & (AbsenceRequest.state == APPROVED)
        & (AbsenceRequest.day >= today - timedelta(days=days)) & (AbsenceRequest.day <= today)))
    changed = 0
    for leave in leaves:
        with transaction():
            changed += len(apply(leave, leave.status, leave.decided_by_id, now, tz))
    return changed


def requests_job(settings, api):
    """The scheduler's job: push requests to teachers and apply approved leaves, every 10 s."""
    from bot.plugin import Job

    tz, days = settings.school.tz, settings.attendance.request_days
    return Job("absence_requests", lambda now: push_requests(now, tz) + apply_leaves(now, tz, days), 10)


# --- what records show ------------------------------------------------------------------------------------


def made_up_notes(ctx: Context, user: User, classes: list[Classroom]) -> dict[int, str]:
    """Per class, the student's made-up check-ins as 我的记录 shows them: "09-07 请假(补)"."""
    rows = (Response.select(Response.status, Activity.opened_at, Lesson.classroom).join(Activity).join(Lesson)
            .where((Response.user == user) & Response.made_up & Lesson.classroom.in_([c.id for c in classes]))
            .order_by(Activity.opened_at).tuples())
    notes: dict[int, list[str]] = defaultdict(list)
    for status, opened_at, classroom in rows:
        notes[classroom].append(f"{ctx.local(opened_at):%m-%d} " + ctx.t("made_up_cell", status=ctx.t(f"status_{status}")))
    return {cid: ctx.t("record_made_up", items="、".join(items[-5:])) for cid, items in notes.items()}


def audit_rows(classroom_id: int, tz, lang: str = "zh") -> list[list[str]]:
    """The export's trail: every request of the class with its decision, and every later change of a
    made-up check-in (header row first; [] when there is none), in *lang*."""
    def when(moment):
        return moment.replace(tzinfo=timezone.utc).astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else ""

    requests = list(AbsenceRequest.select(AbsenceRequest, User).join(User, on=(AbsenceRequest.student == User.id))
                    .where(AbsenceRequest.classroom == classroom_id).order_by(AbsenceRequest.id))
    later = list(AttendanceChange.select(AttendanceChange, Activity).join(Activity).join(Lesson)
                 .where((Lesson.classroom == classroom_id) & AttendanceChange.request.is_null()).order_by(AttendanceChange.id))
    # who decided or changed: the name, "助教 王五" for an assistant of the class (handlers/team.py)
    names = team.labels(classroom_id, {r.decided_by_id for r in requests} | {c.by_id for c in later}, lang)
    if not (requests or later):
        return []
    rows = [t("csv_audit_header", lang).split("|")]
    for r in requests:
        target = (when(r.activity.opened_at) if r.kind == MAKE_UP else r.day.isoformat())
        changed = "、".join(f"{t(f'status_{b}', lang)}→{t(f'status_{a}', lang)}"
                           for b, a in (c.split(">") for c in (r.changed or "").split(",") if c))
        rows.append([str(r.id), r.student.student_no or "", r.student.label(lang), t(f"request_kind_{r.kind}", lang),
                     target, r.reason, when(r.created_at), t(f"request_{r.state}", lang),
                     names.get(r.decided_by_id, ""), when(r.decided_at), changed or (r.note or "")])
    for change in later:
        student = User.get_by_id(change.student_id)
        rows.append(["", student.student_no or "", student.label(lang), t("request_kind_remark", lang),
                     when(change.activity.opened_at), "", "", "", names.get(change.by_id, ""), when(change.at),
                     f"{t(f'status_{change.before}', lang)}→{t(f'status_{change.after}', lang)}"])
    return rows
