"""Records: end-of-lesson summaries, a student's 我的记录, and the teacher's CSV export."""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple

from peewee import Case, fn

from bot.catalogue import t
from bot.context import Context
from bot.outbox import enqueue_many
from bot.text import MAX_REPLY_BYTES, fit_lines
from handlers import gradebook, scope, sections
from handlers.requests import made_up_notes
from models import (
    ABSENT,
    CHECKIN,
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


# The attendance rule (README "Attendance"): a lesson's attendance for a student is the best status they
# reached in any of its check-ins, present > late > excused > absent: present in one is present, late only if
# late in every one they came to, excused beats absent; a lesson with no check-in records nothing. Opening
# another check-in can therefore never make anyone's record worse. A check-in counts for a student held
# between their first joining of the class and their final leaving (gaps between a leave and a rejoin
# count: a student cannot step out of an absence), and a cancelled lesson (取消上课) counts for nobody.
RANK = {ABSENT: 1, EXCUSED: 2, LATE: 3, PRESENT: 4}
BY_RANK = {rank: status for status, rank in RANK.items()}
CAME = (PRESENT, LATE)


def counted(where):
    """SQL over Lesson: the lessons *where* selects that count (not cancelled)."""
    return where & Lesson.cancelled_at.is_null()


def spans(user=None):
    """Each student's membership of each class as one span: first join, last leave, and whether a member now."""
    query = (Membership.select(Membership.user, Membership.classroom, fn.MIN(Membership.joined_at).alias("first_join"),
                               fn.MAX(Membership.left_at).alias("last_left"), fn.MAX(Membership.active).alias("member"))
             .group_by(Membership.user, Membership.classroom))
    return (query.where(Membership.user == user) if user is not None else query).alias("span")


class Attendance(NamedTuple):
    """A student's attendance for a lesson (or one check-in) and where the deciding status came from."""

    status: str
    by_teacher: bool = False  # a teacher's 改签
    made_up: bool = False  # an approved make-up or leave request (Response.made_up, shown as 补)


def _best(where, key, user=None) -> dict[tuple[int, int], Attendance]:
    """Attendance per (key, student) over the check-ins of the counted lessons *where* selects, *key* being
    Activity.lesson (per lesson) or Activity.id (per check-in): two aggregate queries."""
    checkins = counted(where) & (Activity.kind == CHECKIN)
    span = spans(user)
    members = (Activity.select(key, span.c.user_id).distinct().join(Lesson)
               .join(span, on=((span.c.classroom_id == Lesson.classroom) & spanned(span)))
               .where(checkins).tuples())
    out = {(k, uid): Attendance(ABSENT) for k, uid in members}
    rank = Case(Response.status, list(RANK.items()), 0)
    by_teacher = Case(None, [(Response.marked_by.is_null(False), rank)], 0)
    made_up = Case(None, [(Response.made_up, rank)], 0)
    best = (Response.select(key, Response.user, fn.MAX(rank), fn.MAX(by_teacher), fn.MAX(made_up))
            .join(Activity).join(Lesson).where(checkins))
    if user is not None:
        best = best.where(Response.user == user)
    for k, uid, top, marked, made in best.group_by(key, Response.user).tuples():
        if top:  # whoever has a status on a check-in counts for it (a teacher's mark, an older member)
            out[(k, uid)] = Attendance(BY_RANK[top], marked == top, made == top)
    return out


def spanned(span, activity=Activity):
    """SQL: *activity* was held within the student's *span* (spans()): after their first join, before their final
    leave; leaving in the second it opens still counts. Check-ins and the grade book's activities alike."""
    return ((span.c.first_join <= fn.COALESCE(activity.closed_at, activity.deadline))
            & ((span.c.member == 1) | (span.c.last_left >= activity.opened_at)))


def lesson_attendance(where, user=None) -> dict[tuple[int, int], str]:
    """The one attendance rule (above): status per (lesson id, student id) for every counted student of every
    counted lesson that *where* (SQL over Lesson: a class, a lesson, a term) selects; *user*: one student only.
    Two aggregate queries, whatever the number of lessons, check-ins and students. 签到情况, the end-of-lesson
    summary, 我的记录, the export and the classroom screen all count with it."""
    return {key: found.status for key, found in _best(where, Activity.lesson, user).items()}


def lesson_attendance_marked(where, user=None) -> dict[tuple[int, int], Attendance]:
    """lesson_attendance with, per (lesson id, student id), whether the deciding status is a teacher's 改签 or
    an approved make-up (the export flags those cells): the same two queries."""
    return _best(where, Activity.lesson, user)


def lesson_sheet(lesson: Lesson) -> dict[int, str]:
    """Status per counted student of one *lesson* ({} when it had no check-in, or was cancelled)."""
    return {uid: status for (_lesson, uid), status in lesson_attendance(Lesson.id == lesson.id).items()}


def checkin_sheet(checkin: Activity) -> dict[int, str]:
    """Status per counted student on one check-in alone (结果 <n>); the lesson's attendance is lesson_sheet."""
    return {uid: found.status for (_a, uid), found in _best(Activity.id == checkin.id, Activity.id).items()}


def came(sheet: dict[int, str]) -> int:
    """How many of a sheet came (present or late)."""
    return sum(1 for status in sheet.values() if status in CAME)


def closed_quiz(now):
    """SQL: a quiz whose answers may be graded in front of students at *now* (None: any quiz, for the teacher).

    While a quiz is open nothing a student reads may depend on whether their answer is right."""
    quiz = Activity.kind == QUIZ
    return quiz if now is None else quiz & ((Activity.status != OPEN) | (Activity.deadline < now))


def quiz_counts(where, now) -> dict[int, int]:
    """Closed quizzes per counted lesson among the lessons *where* selects: one query."""
    rows = (Activity.select(Activity.lesson, fn.COUNT(Activity.id).alias("n")).join(Lesson)
            .where(counted(where) & closed_quiz(now)).group_by(Activity.lesson).tuples())
    return dict(rows)


def right_answers(where, now, user=None) -> dict[tuple[int, int], int]:
    """Right answers per (lesson, student) to the closed quizzes of the counted lessons *where* selects: one query."""
    query = (Response.select(Activity.lesson, Response.user, fn.SUM(Response.right)).join(Activity).join(Lesson)
             .where(counted(where) & closed_quiz(now)))
    if user is not None:
        query = query.where(Response.user == user)
    return {(lesson, uid): int(n or 0) for lesson, uid, n in query.group_by(Activity.lesson, Response.user).tuples()}


def lesson_summaries(lesson: Lesson, sheet: dict[int, str], now) -> dict[int, str]:
    """A one-line personal summary push for every student of the lesson's class, in the student's language."""
    where = Lesson.id == lesson.id
    total = quiz_counts(where, now).get(lesson.id, 0)
    right = right_answers(where, now)
    summaries = {}
    for user_id, lang in scope.students(lesson.classroom):
        parts = []
        if user_id in sheet:
            parts.append(t("summary_attendance", lang, status=t(f"status_{sheet[user_id]}", lang)))
        if total:
            parts.append(t("summary_quizzes", lang, right=right.get((lesson.id, user_id), 0), total=total))
        line = t("list_sep_clause", lang).join(parts) or t("summary_nothing", lang)
        summaries[user_id] = t("push_summary", lang, name=lesson.classroom.name, summary=line)
    return summaries


def queue_summaries(lesson: Lesson, now) -> dict[int, str]:
    """Queue every student of the ended *lesson* their summary push; return the attendance sheet."""
    sheet = lesson_sheet(lesson)
    enqueue_many(((u, "lesson_summary", text, f"lesson:{lesson.id}:summary:{u}")
                  for u, text in lesson_summaries(lesson, sheet, now).items()), now)
    return sheet


def student_record(user: User, classes: list[Classroom], now) -> dict[int, dict]:
    """Per class: the student's lessons by attendance (lesson_attendance_marked) and right answers / closed
    quizzes held within their membership span, the very figures 我的成绩 grades (handlers/gradebook.standings),
    from a fixed handful of aggregate statements whatever the number of lessons, quizzes and classmates."""
    found, _grid, _rates, _lessons = gradebook.standings(Lesson.classroom.in_([c.id for c in classes]), now, user)
    out = {}
    for classroom in classes:
        mine = found.get((classroom.id, user.id), gradebook.Standing())
        out[classroom.id] = {**mine.counts, "right": mine.right, "total": mine.quizzes}
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


def export(ctx: Context, section: str | None = None) -> str:
    """Signed links, valid one hour, to the class's (or one section's: handlers/sections.view) attendance and
    scores as CSV and as an .xlsx grade sheet."""
    classroom = scope.current_class(ctx)
    covered = sections.view(classroom, section)
    value = f"{classroom.id}:{ctx.lang}" + (f":{covered}" if covered is not None else "")  # in the asker's language
    token = ctx.links.token("export", value, ctx.now, EXPORT_TTL)
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
