"""Records: end-of-lesson summaries, a student's 我的记录, and the teacher's CSV export."""

from __future__ import annotations

from datetime import timedelta

from peewee import fn

from bot.catalogue import t
from bot.context import Context
from bot.outbox import enqueue_many
from bot.text import fit_lines
from handlers import scope
from handlers.attendance import attendance_sheet
from handlers.gradebook import Standing, standings
from models import (
    ABSENT,
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
    """Per class: the student's lessons by status and right answers / closed quizzes, the very figures 我的成绩
    grades (handlers/gradebook.standings: a lesson's best check-in, only what was held while a member), from
    two aggregate statements whatever the number of lessons, quizzes and classmates."""
    found, _grid, _rates, _lessons = standings(Lesson.classroom.in_([c.id for c in classes]), now, user)
    out = {}
    for classroom in classes:
        mine = found.get((classroom.id, user.id), Standing())
        out[classroom.id] = {**mine.counts, "right": mine.right, "total": mine.quizzes}
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
