"""Records: end-of-lesson summaries, a student's 我的记录, and the teacher's CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from peewee import JOIN, fn

from bot.catalogue import t
from bot.context import Context
from bot.outbox import enqueue_many
from bot.text import MAX_REPLY_BYTES, fit_lines
from handlers import scope
from handlers.attendance import attendance_sheet, member_during
from handlers.requests import audit_rows, made_up_notes
from models import (
    ABSENT,
    CHECKIN,
    EXCUSED,
    LATE,
    OPEN,
    PRESENT,
    QUIZ,
    UNVERIFIED,
    VERIFIED,
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
    made_up = made_up_notes(ctx, ctx.user, classes)
    lines = []
    for classroom in classes:
        mine = counts[classroom.id]
        lines.append(ctx.t("record_line", name=classroom.name, present=mine[PRESENT], late=mine[LATE],
                           excused=mine[EXCUSED], absent=mine[ABSENT], right=mine["right"], total=mine["total"])
                     + made_up.get(classroom.id, ""))
    hint = "\n" + ctx.t("record_make_up_hint") if any(counts[c.id][ABSENT] for c in classes) else ""
    return fit_lines(ctx.t("record_header"), lines, lambda n: ctx.t("and_more", n=n), MAX_REPLY_BYTES - len(hint.encode())) + hint


def export(ctx: Context) -> str:
    """A signed link, valid one hour, to the class's attendance and scores as CSV."""
    classroom = scope.current_class(ctx)
    token = ctx.links.token("export", str(classroom.id), ctx.now, EXPORT_TTL)
    url = ctx.links.url(f"/export/{token}.csv")
    reply = ctx.t("export_link", name=classroom.name, url=url, at=ctx.hhmm(ctx.now + EXPORT_TTL))
    ever = Membership.select(Membership.user).where(Membership.classroom == classroom)  # the export's rows
    unnamed = User.select().where(User.id.in_(ever) & (User.name.is_null() | (User.name == ""))).count()
    return reply + (ctx.t("export_unnamed", n=unnamed) if unnamed else "")


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value) -> str:
    """A CSV cell Excel shows as text, never runs: one starting with = + - @ tab or CR gets a leading '
    (OWASP's CSV-injection rule). This also keeps a student number such as -1-1 text, not a sum."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def export_csv(classroom_id: int, tz) -> tuple[str, bytes]:
    """Return (file name, UTF-8-with-BOM CSV bytes): students × lessons with statuses and scores.

    Everyone who was ever a member is listed; a lesson counts them as 签到情况 does (member_during)."""
    from datetime import timezone

    classroom = Classroom.get_by_id(classroom_id)
    where = Lesson.classroom == classroom.id
    lessons = list(Lesson.select().where(where).order_by(Lesson.started_at, Lesson.id))
    checkins = {a.lesson_id: a for a in latest_checkins(where)}
    stretches: dict[int, list] = {}
    for m in Membership.select().where(Membership.classroom == classroom).order_by(Membership.joined_at):
        stretches.setdefault(m.user_id, []).append(m)
    marks = {(activity, uid): (status, marked_by, made_up) for activity, uid, status, marked_by, made_up
             in Response.select(Response.activity, Response.user, Response.status, Response.marked_by, Response.made_up)
             .where(Response.activity.in_([a.id for a in checkins.values()])).tuples()} if checkins else {}
    quizzes, scores = quiz_counts(where, None), right_answers(where, None)
    students = sorted(User.select().where(User.id.in_(set(stretches) | {uid for _a, uid in marks})),
                      key=lambda u: (u.student_no or "~", u.id))
    # 学生: the label the chat uses, so every row can be told apart
    header = [t("csv_student", "zh"), t("csv_student_no", "zh"), t("csv_name", "zh"), t("csv_verified", "zh")]
    for number, lesson in enumerate(lessons, 1):
        day = lesson.started_at.replace(tzinfo=timezone.utc).astimezone(tz).strftime("%m-%d %H:%M")
        header += [t("csv_lesson_checkin", "zh", n=number, day=day), t("csv_lesson_quizzes", "zh", n=number)]
    header += t("csv_totals", "zh").split("|")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([spreadsheet_safe(cell) for cell in header])
    states = {VERIFIED: t("csv_state_verified", "zh"), UNVERIFIED: t("csv_state_unverified", "zh")}
    for user in students:
        row = [user.display_name, user.student_no or "", user.shown_name or "",
               states.get(user.verify_state, t("csv_state_not_given", "zh"))]
        counts = {PRESENT: 0, LATE: 0, EXCUSED: 0, ABSENT: 0}
        right = total = 0
        for lesson in lessons:
            checkin = checkins.get(lesson.id)
            mark = checkin and marks.get((checkin.id, user.id))
            status = mark[0] if mark else ABSENT if checkin and _counted(stretches.get(user.id, ()), checkin) else None
            cell = t(f"status_{status}", "zh") if status else "—"
            if mark and mark[2]:
                cell = t("made_up_cell", "zh", status=cell)
            elif mark and mark[1]:
                cell += t("csv_marked_by_teacher", "zh")
            if status:
                counts[status] += 1
            n, score = quizzes.get(lesson.id, 0), scores.get((lesson.id, user.id), 0)
            row += [cell, f"{score}/{n}" if n else ""]
            right, total = right + score, total + n
        row += [counts[PRESENT], counts[LATE], counts[EXCUSED], counts[ABSENT], f"{right}/{total}"]
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    trail = audit_rows(classroom.id, tz)
    if trail:
        writer.writerow([])
        writer.writerow([t("csv_audit_title", "zh")])
        writer.writerows([[spreadsheet_safe(cell) for cell in row] for row in trail])
    return f"ketang-{classroom.code}.csv", ("\ufeff" + out.getvalue()).encode("utf-8")


def _counted(stretches, checkin: Activity) -> bool:
    """Python twin of attendance.member_during, over one student's membership rows."""
    until = checkin.closed_at or checkin.deadline
    return any(m.joined_at <= until and (m.left_at is None or m.left_at > checkin.opened_at) for m in stretches)
