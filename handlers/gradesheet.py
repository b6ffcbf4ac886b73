"""The class's files behind 导出's signed link: the CSV of raw rows and the .xlsx grade sheet a registrar imports.

One column table serves both: a column is a header (catalogue key), a value read from a grade-book Row, and how a
spreadsheet shows it. The CSV and the xlsx's 成绩 sheet each pick their columns from it by name; the per-lesson
attendance cell is one function for the CSV and the 考勤 sheet. Every figure comes from handlers/gradebook.book(),
the same as the page and 我的成绩; every text cell is formula-safe (records.spreadsheet_safe)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timezone

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from bot.catalogue import t
from handlers.gradebook import PARTS, Book, Row, book, rounded
from handlers.grading import shown_key
from handlers.records import spreadsheet_safe
from handlers.requests import audit_rows
from models import ABSENT, EXCUSED, LATE, PRESENT, UNVERIFIED, VERIFIED, Classroom, Section

DASH = "—"  # nothing held yet (a part) / not counted (a lesson): the page and 我的成绩 show the same


def score(value):
    """A score as a number (one decimal, as every view rounds it), or — when there is nothing to score."""
    shown = rounded(value)
    return DASH if shown is None else float(shown)


def verified(row: Row, lang: str) -> str:
    """The student's identity state; a student who became a teacher since keeps their rows, marked as such."""
    if row.user.is_teacher:
        return t("csv_state_teacher", lang)
    state = {VERIFIED: "csv_state_verified", UNVERIFIED: "csv_state_unverified"}.get(row.user.verify_state, "csv_state_not_given")
    return t(state, lang)


@dataclass(frozen=True)
class Column:
    header: str  # catalogue key
    value: Callable[[Row, str], object]  # (row, lang) -> a number or a text
    width: int = 10  # characters, in the xlsx
    number_format: str | None = None


COLUMNS: dict[str, Column] = {
    "student": Column("csv_student", lambda r, lang: r.user.label(lang), 18),  # the label the chat uses
    "student_no": Column("csv_student_no", lambda r, lang: r.user.student_no or "", 14),
    "name": Column("csv_name", lambda r, lang: r.user.shown_name or "", 12),
    "verified": Column("csv_verified", verified, 8),
    "total": Column("gb_total", lambda r, lang: score(r.total), 10, "0.0"),
    **{part: Column(f"part_{part}", lambda r, lang, part=part: score(r.parts[part]), 8, "0.0") for part in PARTS},
    **{status: Column(f"status_{status}", lambda r, lang, status=status: r.standing.counts[status], 6, "0")
       for status in (PRESENT, LATE, EXCUSED, ABSENT)},
    "made_up": Column("gb_made_up", lambda r, lang: r.standing.made_up, 6, "0"),
    "right_total": Column("csv_right_total", lambda r, lang: f"{r.standing.right}/{r.standing.quizzes}", 10),
    "left": Column("gb_member", lambda r, lang: t("gb_member_now" if r.current else "gb_member_left", lang), 8),
}
CSV_FIRST = ("student", "student_no", "name", "verified")  # then two columns per lesson, then CSV_LAST
CSV_LAST = ("total", *PARTS, "made_up", PRESENT, LATE, EXCUSED, ABSENT, "right_total")  # the counts stay last
GRADE_SHEET = ("student_no", "name", "total", *PARTS, PRESENT, LATE, EXCUSED, ABSENT, "made_up", "right_total",
               "student", "verified", "left")  # 学号, 姓名, 平时成绩 first: the shape 教务 systems import


def lesson_cell(cell, lang: str) -> str:
    """A student's attendance for one lesson as the CSV and the 考勤 sheet write it."""
    if cell is None:
        return DASH
    text = t(f"status_{cell.status}", lang)
    if cell.made_up:  # as 我的记录 shows it (a later 改签 of a made-up check-in is in the audit trail)
        return t("made_up_cell", lang, status=text)
    return text + t("csv_marked_by_teacher", lang) if cell.marked else text


def local(moment, tz):
    """A naive local datetime (spreadsheets have no time zones)."""
    return moment.replace(tzinfo=timezone.utc).astimezone(tz).replace(tzinfo=None)


def section_suffix(section: int | None) -> str:
    """A file of one section's rows says so in its name: ketang-123456-一班.csv."""
    return "" if section is None else "-" + re.sub(r"[^\w-]", "_", Section.get_by_id(section).name)


def export_csv(classroom_id: int, tz, now, lang: str = "zh", section: int | None = None) -> tuple[str, bytes]:
    """Return (file name, UTF-8-with-BOM CSV bytes): one row per student who was ever a member, a status and
    the quizzes right per lesson, the counts, and the grade with its parts."""
    data = book(Classroom.get_by_id(classroom_id), now, by_lesson=True, section=section)
    quizzes = data.lesson_quizzes
    header = [t(COLUMNS[c].header, lang) for c in CSV_FIRST]
    for number, lesson in enumerate(data.lessons, 1):
        day = local(lesson.started_at, tz).strftime("%m-%d %H:%M")
        header += [t("csv_lesson_checkin", lang, n=number, day=day), t("csv_lesson_quizzes", lang, n=number)]
    header += [t(COLUMNS[c].header, lang) for c in CSV_LAST]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([spreadsheet_safe(cell) for cell in header])
    for row in data.rows:
        cells = [COLUMNS[c].value(row, lang) for c in CSV_FIRST]
        for lesson in data.lessons:
            n, right = quizzes.get((lesson.id, row.user.id), (0, 0))
            cells += [lesson_cell(data.grid.get((lesson.id, row.user.id)), lang), f"{right}/{n}" if n else ""]
        cells += [COLUMNS[c].value(row, lang) for c in CSV_LAST]
        writer.writerow([spreadsheet_safe(cell) for cell in cells])
    trail = audit_rows(classroom_id, tz, lang)  # every make-up/leave request and its decision, then later changes
    if trail:
        writer.writerow([])
        writer.writerow([t("csv_audit_title", lang)])
        writer.writerows([[spreadsheet_safe(cell) for cell in row] for row in trail])
    return f"ketang-{data.classroom.code}{section_suffix(section)}.csv", ("\ufeff" + out.getvalue()).encode("utf-8")


FILLS = {PRESENT: "2E7D32", LATE: "F9A825", EXCUSED: "1565C0", ABSENT: "C62828", "made_up": "6A1B9A"}
BOLD = Font(bold=True)


def text(value) -> str:
    """A text cell: formula-safe as the CSV's, without the control characters a workbook cannot hold."""
    return spreadsheet_safe(ILLEGAL_CHARACTERS_RE.sub("", str(value)))


def cell_value(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else text(value)


def _sheet(wb, title: str, headers: list, widths: list[int], freeze: str):
    ws = wb.create_sheet(title)
    ws.append([cell_value(h) if not hasattr(h, "year") else h for h in headers])
    for index, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(index)].width = width
        ws.cell(row=1, column=index).font = BOLD
    ws.freeze_panes = freeze
    return ws


def export_xlsx(classroom_id: int, tz, now, lang: str = "zh", section: int | None = None) -> tuple[str, bytes]:
    """Return (file name, .xlsx bytes): sheets 成绩 (学号, 姓名, 平时成绩 first, then the parts), 考勤 (students ×
    lessons, dated, in colour) and 练习 (per quiz), plus 说明 (the rule and what each figure is out of)."""
    data = book(Classroom.get_by_id(classroom_id), now, section=section)
    wb = Workbook()
    wb.remove(wb.active)
    grades = _sheet(wb, t("xlsx_grades", lang), [t(COLUMNS[c].header, lang) for c in GRADE_SHEET],
                    [COLUMNS[c].width for c in GRADE_SHEET], "C2")
    for row in data.rows:
        grades.append([cell_value(COLUMNS[c].value(row, lang)) for c in GRADE_SHEET])
    for index, name in enumerate(GRADE_SHEET, 1):
        if COLUMNS[name].number_format:
            for (cell,) in grades.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = COLUMNS[name].number_format
    _attendance_sheet(wb, data, tz, lang)
    _quiz_sheet(wb, data, tz, lang)
    trail = audit_rows(classroom_id, tz, lang)
    if trail:  # the same trail as the CSV's, on its own sheet
        ws = _sheet(wb, t("csv_audit_title", lang), trail[0], [8, 14, 12, 8, 16, 30, 16, 8, 12, 16, 20], "A2")
        for row in trail[1:]:
            ws.append([text(cell) for cell in row])
    notes = wb.create_sheet(t("xlsx_notes", lang))
    notes.column_dimensions["A"].width = 100
    for line in t("xlsx_notes_text", lang, at=local(now, tz).strftime("%Y-%m-%d %H:%M"), lessons=len(data.lessons),
                  quizzes=len(data.quizzes), activities=data.activities, attendance=data.rule.attendance,
                  quizzes_weight=data.rule.quizzes, participation=data.rule.participation, late=data.rule.late,
                  excused=t(f"grading_excused_{data.rule.excused}", lang)).split("\n"):
        notes.append([text(line)])
    buffer = io.BytesIO()
    wb.save(buffer)
    return f"ketang-{data.classroom.code}{section_suffix(section)}.xlsx", buffer.getvalue()


def _attendance_sheet(wb, data: Book, tz, lang: str) -> None:
    days = [local(lesson.started_at, tz) for lesson in data.lessons]
    ws = _sheet(wb, t("xlsx_attendance", lang), [t("csv_student_no", lang), t("csv_name", lang), *days],
                [14, 12] + [12] * len(days), "C2")
    for index in range(3, len(days) + 3):
        ws.cell(row=1, column=index).number_format = "mm-dd hh:mm"
        ws.cell(row=1, column=index).alignment = Alignment(text_rotation=90)
    fills = {key: PatternFill("solid", start_color=colour, end_color=colour) for key, colour in FILLS.items()}
    white = Font(color="FFFFFF")
    for number, row in enumerate(data.rows, 2):
        cells = [data.grid.get((lesson.id, row.user.id)) for lesson in data.lessons]
        ws.append([text(row.user.student_no or ""), text(row.user.shown_name or row.user.display_name),
                   *(text(lesson_cell(c, lang)) for c in cells)])
        for column, cell in enumerate(cells, 3):
            if cell is not None:
                target = ws.cell(row=number, column=column)
                target.fill = fills["made_up" if cell.made_up else cell.status]
                target.font = white if cell.status != LATE else Font()


def _quiz_sheet(wb, data: Book, tz, lang: str) -> None:
    headers = [t(key, lang) for key in ("xlsx_lesson", "xlsx_time", "xlsx_question", "xlsx_key", "xlsx_counted",
                                        "xlsx_right", "xlsx_rate")]
    ws = _sheet(wb, t("xlsx_quizzes", lang), headers, [6, 16, 50, 14, 10, 10, 10], "A2")
    for number, (activity, lesson_no, counted, right) in enumerate(data.quizzes, 2):
        ws.append([lesson_no, local(activity.opened_at, tz), text(activity.question), text(shown_key(activity, lang)),
                   counted, right, right / counted if counted else 0])
        ws.cell(row=number, column=2).number_format = "yyyy-mm-dd hh:mm"
        ws.cell(row=number, column=7).number_format = "0.0%"
