"""Records: end-of-lesson summaries, a student's 我的记录, and the teacher's CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from bot.catalogue import t
from bot.context import Context
from bot.outbox import enqueue_many
from bot.text import fit_lines
from handlers import scope
from handlers.attendance import attendance_sheet, lesson_checkin
from handlers.grading import is_right
from models import (
    ABSENT,
    EXCUSED,
    LATE,
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


def quiz_scores(lesson: Lesson) -> tuple[int, dict[int, int]]:
    """Return (number of quizzes in *lesson*, right answers per student)."""
    quizzes = list(Activity.select().where((Activity.lesson == lesson) & (Activity.kind == QUIZ)))
    right: dict[int, int] = {}
    for quiz in quizzes:
        for response in Response.select(Response.user, Response.answer).where(Response.activity == quiz):
            if is_right(quiz, response.answer):
                right[response.user_id] = right.get(response.user_id, 0) + 1
    return len(quizzes), right


def lesson_summaries(lesson: Lesson, sheet: dict[int, str]) -> dict[int, str]:
    """A one-line personal summary for every student of the lesson's class."""
    total, right = quiz_scores(lesson)
    summaries = {}
    for user_id in scope.student_ids(lesson.classroom):
        parts = []
        if user_id in sheet:
            parts.append(t("summary_attendance", "zh", status=t(f"status_{sheet[user_id]}", "zh")))
        if total:
            parts.append(t("summary_quizzes", "zh", right=right.get(user_id, 0), total=total))
        summaries[user_id] = "；".join(parts) or t("summary_nothing", "zh")
    return summaries


def queue_summaries(lesson: Lesson, now) -> dict[int, str]:
    """Queue every student of the ended *lesson* their summary push; return the attendance sheet."""
    sheet = attendance_sheet(lesson)
    name = lesson.classroom.name
    enqueue_many(((u, "lesson_summary", t("push_summary", "zh", name=name, summary=line), f"lesson:{lesson.id}:summary:{u}")
                  for u, line in lesson_summaries(lesson, sheet).items()), now)
    return sheet


def record(ctx: Context) -> str:
    """The student's attendance and quiz scores per class."""
    classes = scope.joined_classes(ctx.user)
    if not classes:
        return ctx.t("no_class_student")
    lines = []
    for classroom in classes:
        counts = {PRESENT: 0, LATE: 0, EXCUSED: 0, ABSENT: 0}
        right = total = 0
        for lesson in Lesson.select().where(Lesson.classroom == classroom):
            status = attendance_sheet(lesson).get(ctx.user.id)
            if status:
                counts[status] += 1
            quizzes, scores = quiz_scores(lesson)
            total += quizzes
            right += scores.get(ctx.user.id, 0)
        lines.append(ctx.t("record_line", name=classroom.name, present=counts[PRESENT], late=counts[LATE],
                           excused=counts[EXCUSED], absent=counts[ABSENT], right=right, total=total))
    return fit_lines(ctx.t("record_header"), lines, lambda n: ctx.t("and_more", n=n))


def export(ctx: Context) -> str:
    """A signed link, valid one hour, to the class's attendance and scores as CSV."""
    classroom = scope.current_class(ctx)
    token = ctx.links.token("export", str(classroom.id), ctx.now, EXPORT_TTL)
    url = ctx.links.url(f"/export/{token}.csv")
    return ctx.t("export_link", name=classroom.name, url=url, at=ctx.hhmm(ctx.now + EXPORT_TTL))


def export_csv(classroom_id: int, tz) -> tuple[str, bytes]:
    """Return (file name, UTF-8-with-BOM CSV bytes): students × lessons with statuses and scores."""
    from datetime import timezone

    classroom = Classroom.get_by_id(classroom_id)
    lessons = list(Lesson.select().where(Lesson.classroom == classroom).order_by(Lesson.started_at))
    students = sorted(User.select().join(Membership).where(Membership.classroom == classroom),
                      key=lambda u: (u.student_no or "~", u.id))
    header = [t("csv_student_no", "zh"), t("csv_name", "zh"), t("csv_verified", "zh")]
    columns = []
    for number, lesson in enumerate(lessons, 1):
        day = lesson.started_at.replace(tzinfo=timezone.utc).astimezone(tz).strftime("%m-%d %H:%M")
        header += [t("csv_lesson_checkin", "zh", n=number, day=day), t("csv_lesson_quizzes", "zh", n=number)]
        checkin = lesson_checkin(lesson)
        marks = {r.user_id: r for r in Response.select().where(Response.activity == checkin)} if checkin else {}
        columns.append((attendance_sheet(lesson), quiz_scores(lesson), marks))
    header += t("csv_totals", "zh").split("|")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    states = {VERIFIED: t("csv_state_verified", "zh"), UNVERIFIED: t("csv_state_unverified", "zh")}
    for user in students:
        row = [user.student_no or "", user.name or "", states.get(user.verify_state, t("csv_state_not_given", "zh"))]
        counts = {PRESENT: 0, LATE: 0, EXCUSED: 0, ABSENT: 0}
        right = total = 0
        for sheet, (quizzes, scores), marks in columns:
            status = sheet.get(user.id)
            cell = t(f"status_{status}", "zh") if status else "—"
            if status and user.id in marks and marks[user.id].marked_by_id:
                cell += t("csv_marked_by_teacher", "zh")
            if status:
                counts[status] += 1
            row += [cell, f"{scores.get(user.id, 0)}/{quizzes}" if quizzes else ""]
            right, total = right + scores.get(user.id, 0), total + quizzes
        row += [counts[PRESENT], counts[LATE], counts[EXCUSED], counts[ABSENT], f"{right}/{total}"]
        writer.writerow(row)
    return f"ketang-{classroom.code}.csv", ("\ufeff" + out.getvalue()).encode("utf-8")
