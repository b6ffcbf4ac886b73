"""School rosters: a CSV or xlsx import checked in full before it writes, the teacher's 名单, and releasing a verification."""

from __future__ import annotations

import csv
import io
import logging
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import datetime

from bot.context import Context, UserError
from bot.database import transaction
from bot.hashing import hash_secret
from bot.text import fit_lines, normalize
from handlers import scope, sections
from handlers.account import NAME_MAX, name_of, roster_entry, student_no_of
from models import UNVERIFIED, VERIFIED, Membership, RosterEntry, School, User

log = logging.getLogger("ketang.roster")
COLUMNS = ("student_no", "name", "auth_code")
HEADERS = {"student_no": "student_no", "学号": "student_no", "name": "name", "姓名": "name",
           "auth_code": "auth_code", "认证码": "auth_code"}
MAX_PROBLEMS = 10  # problems listed in one report; the rest are counted


class RosterError(Exception):
    """The roster file cannot be imported; nothing was written."""


@dataclass
class ImportResult:
    added: int
    updated: int


def read_roster(data: bytes) -> list[tuple[int, str, str, str]]:
    """Parse a CSV or .xlsx roster into (line, student_no, name, auth_code) rows, or raise RosterError.

    Every row is checked and every problem reported with its line number; student numbers are stored
    in their canonical (upper-case) form, so matching ignores case.
    """
    lines, problems = table_lines(read_table(data), HEADERS, COLUMNS, "students", "学号,姓名,认证码")
    rows, seen = [], {}
    for number, cells in lines:
        raw_no, raw_name, code = cells
        student_no, name = student_no_of(raw_no), name_of(raw_name)
        if not normalize(raw_no) or not normalize(raw_name):
            problems.append(f"line {number}: student_no and name are required")
        elif student_no is None:
            problems.append(f"line {number}: student number {normalize(raw_no)[:40]!r} cannot be typed in chat "
                            "(letters, digits and - only, at most 32)")
        elif name is None:
            problems.append(f"line {number}: name {normalize(raw_name)[:40]!r} is not a name (1-{NAME_MAX} characters: a letter "
                            "first, then letters, digits, spaces and · - . ')")
        elif student_no in seen:
            problems.append(f"line {number}: student number {student_no} repeats line {seen[student_no]}")
        else:
            seen[student_no] = number
            rows.append((number, student_no, name, normalize(code)))
    refuse(problems)
    if not rows:
        raise RosterError("the file has no students")
    return rows


def table_lines(table: list, headers: dict, wanted: tuple, what: str, hint: str) -> tuple[list, list[str]]:
    """The data lines of a file read by read_table whose header names each of the *wanted* columns once (its
    words mapped by *headers*; else RosterError, *hint* the Chinese header): (line, that line's *wanted* cells
    in order) for every line that is not blank, and a problem for each line with the wrong number of fields.
    The roster and the question bank import both read their files so."""
    if not table:
        raise RosterError(f"the file has no {what}")
    first_line, header = table[0]
    columns = [headers.get(normalize(h).lower()) for h in header]
    if sorted(filter(None, columns)) != sorted(wanted):
        raise RosterError(f"line {first_line}: the header must be {','.join(wanted)} (or {hint})")
    at = [columns.index(column) for column in wanted]
    lines, problems = [], []
    for number, cells in table[1:]:
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            problems.append(f"line {number}: expected {len(header)} fields, found {len(cells)}")
            continue
        lines.append((number, [cells[i] for i in at]))
    return lines, problems


def refuse(problems: list[str]) -> None:
    """Refuse a file with *problems* (one per bad line): the first MAX_PROBLEMS, and how many more."""
    if problems:
        more = f"\n... and {len(problems) - MAX_PROBLEMS} more" if len(problems) > MAX_PROBLEMS else ""
        raise RosterError("\n".join(problems[:MAX_PROBLEMS]) + more)


def read_table(data: bytes, max_cell: int | None = None) -> list[tuple[int, list[str]]]:
    """(line, cells) of a CSV (UTF-8 or GBK) or .xlsx file (its first sheet, bounded): what an import reads.
    An .xlsx cell longer than *max_cell* (default MAX_CELL, a roster's) refuses the file before the rest is read."""
    return _xlsx_rows(data, max_cell or MAX_CELL) if data[:4] == b"PK\x03\x04" else _csv_rows(data)


def _csv_rows(data: bytes) -> list[tuple[int, list[str]]]:
    """(line, cells) of a CSV file in UTF-8 (with or without BOM) or GBK/GB18030; any line ending."""
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=None))  # universal newlines: \r\n, \n and a lone \r
    rows = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))
    except csv.Error as error:
        raise RosterError(f"line {reader.line_num}: {error}") from None
    return rows


def _decode(data: bytes) -> str:
    """Decode strictly as UTF-8, else as GB18030 (a superset of GBK, what Chinese Excel writes).

    Neither is guessed: a file is taken as GB18030 only when UTF-8 fails and every byte decodes to an
    assigned, non-private character; otherwise the first line that fails is reported.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
        if not any(unicodedata.category(ch) in ("Co", "Cn") for ch in text):
            return text
    except UnicodeDecodeError:
        pass
    for number, line in enumerate(data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"), 1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            raise RosterError(f"line {number}: neither UTF-8 nor GBK text (save the file as CSV UTF-8)") from None
    raise RosterError("line 1: neither UTF-8 nor GBK text (save the file as CSV UTF-8)")


MAX_UNPACKED = 32 << 20  # bytes an .xlsx may unpack to (a 20,000-student roster unpacks to about 5 MiB)
MAX_MEMBERS = 200  # files inside it (a roster workbook has about a dozen)
MAX_CELL = 256  # characters in one cell (numbers, names and codes are far shorter)


def _check_unpacked(data: bytes) -> None:
    """Refuse a workbook that would unpack to more than MAX_UNPACKED before any of it is parsed: a 400 KB
    file can hold one shared string of 400 MB. The sizes are the zip's own, which zipfile (and so openpyxl)
    holds every member to while reading, so a member cannot unpack to more than it declares."""
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise RosterError(f"not a readable .xlsx workbook ({error.__class__.__name__})") from None
    unpacked = sum(member.file_size for member in members)
    if len(members) > MAX_MEMBERS or unpacked > MAX_UNPACKED:
        raise RosterError(f"the workbook unpacks to {unpacked >> 20} MiB in {len(members)} files, more than a roster "
                          f"needs ({MAX_UNPACKED >> 20} MiB, {MAX_MEMBERS} files): nothing was read; save the sheet as "
                          "CSV UTF-8 and import that")


def _xlsx_rows(data: bytes, max_cell: int = MAX_CELL) -> list[tuple[int, list[str]]]:
    """(row number, cells as text) of the first sheet of an .xlsx workbook (bounded: see _check_unpacked)."""
    from openpyxl import load_workbook

    _check_unpacked(data)
    try:
        sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
    except Exception as error:  # a corrupt zip or not a workbook at all
        raise RosterError(f"not a readable .xlsx workbook ({error.__class__.__name__})") from None
    rows = []
    for number, values in enumerate(sheet.iter_rows(values_only=True), 1):
        cells = [_cell_text(v) for v in values]
        longest = max(map(len, cells), default=0)
        if longest > max_cell:
            raise RosterError(f"line {number}: a cell has {longest} characters, more than the {max_cell} allowed: "
                              "nothing was imported")
        while cells and not cells[-1]:
            cells.pop()  # Excel's empty trailing columns
        rows.append((number, cells))
    width = len(rows[0][1]) if rows else 0
    return [(n, cells + [""] * (width - len(cells)) if any(cells) else cells) for n, cells in rows]


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 2024001 typed as a number
    return str(value)


BATCH = 200  # roster rows written per transaction: each holds the writer lock for milliseconds, not the whole file


def import_roster(school_name: str, data: bytes, now: datetime) -> ImportResult:
    """Insert or update every row; never duplicates, never deletes.

    The file is read, checked and every auth code hashed (PBKDF2, the slow part) before anything is
    written, outside any transaction; the rows are then written BATCH at a time, each batch its own short
    transaction, so check-ins go on between batches. A file with a problem writes nothing; a database
    failure midway leaves whole batches written, and importing the file again completes it (rows are
    matched by student number).
    """
    rows = [(student_no, name, hash_secret(code) if code else None) for _line, student_no, name, code in read_roster(data)]
    school_name = normalize(school_name)
    with transaction():
        School.insert(name=school_name, created_at=now).on_conflict_ignore().execute()
    school = School.get(School.name == school_name)
    existing = {no.upper(): id_ for id_, no in RosterEntry.select(RosterEntry.id, RosterEntry.student_no)
                .where(RosterEntry.school == school).tuples()}
    added = updated = 0
    for start in range(0, len(rows), BATCH):
        with transaction():
            for student_no, name, auth_hash in rows[start:start + BATCH]:
                entry_id = existing.get(student_no)
                if entry_id is None:
                    RosterEntry.create(school=school, student_no=student_no, name=name, auth_hash=auth_hash)
                    added += 1
                else:
                    changed = RosterEntry.update(student_no=student_no, name=name, auth_hash=auth_hash)
                    changed.where(RosterEntry.id == entry_id).execute()
                    updated += 1
    return ImportResult(added, updated)


def release_student(school_name: str, student_no: str, who: str) -> User | None:
    """Undo the verification of *student_no*; the account keeps its claim as 未认证. Return it."""
    school = School.get_or_none(School.name == normalize(school_name))
    entry = school and roster_entry(school.id, student_no_of(student_no) or student_no)
    if entry is None or entry.verified_user_id is None:
        return None
    holder = User.get_by_id(entry.verified_user_id)
    RosterEntry.update(verified_user=None, verified_at=None).where(RosterEntry.id == entry.id).execute()
    User.update(verify_state=UNVERIFIED).where(User.id == holder.id).execute()
    log.warning("%s released %s %s from account %s", who, school_name, student_no, holder.openid)
    return holder


def release_phone(phone: str) -> User | None:
    """Unbind *phone* from whichever account holds it (a lost phone or a lost WeChat account)."""
    holder = User.get_or_none(User.phone == phone)
    if holder:
        User.update(phone=None).where(User.id == holder.id).execute()
    return holder


STATES = {VERIFIED: "state_verified", UNVERIFIED: "state_unverified"}


def roster(ctx: Context) -> str:
    """The current class's students with number, name and verification state (an assistant of one section:
    its students)."""
    classroom = scope.current_class(ctx)
    students = list(User.select().join(Membership).where((Membership.classroom == classroom) & (Membership.active == 1)))
    mine = sections.students_in(classroom.id, getattr(classroom, "staff_section", None))
    students = [u for u in students if mine is None or u.id in mine]
    if not students:
        return ctx.t("roster_empty", name=classroom.name, code=classroom.code)
    taken = {(e.school_id, e.student_no.upper()) for e in RosterEntry.select(RosterEntry.school, RosterEntry.student_no)
             .where(RosterEntry.verified_user.is_null(False))}
    students.sort(key=lambda u: (u.student_no or "~", u.id))
    lines = []
    for user in students:
        state = ctx.t(STATES.get(user.verify_state, "state_not_given"))
        clashes = user.verify_state == UNVERIFIED and (user.school_id, (user.student_no or "").upper()) in taken
        clash = ctx.t("number_clash") if clashes else ""
        lines.append(f"{user.student_no or '—'} {user.label(ctx.lang)} · {state}{clash}")
    verified = sum(1 for u in students if u.verify_state == VERIFIED)
    header = ctx.t("roster_header", name=classroom.name, n=len(students), verified=verified)
    return fit_lines(header, lines, lambda n: ctx.t("and_more", n=n))


def release(ctx: Context, student_no: str) -> str:
    """Teacher: release a verified student number held by an account in one of the teacher's classes."""
    classroom = scope.current_class(ctx)
    if classroom.school_id is None:
        raise UserError("class_has_no_school", name=classroom.name)
    entry = roster_entry(classroom.school_id, student_no)
    if entry is None or entry.verified_user_id is None:
        return ctx.t("release_nothing", student_no=student_no)
    mine = Membership.select().where(
        (Membership.user == entry.verified_user_id) & (Membership.classroom.in_([c.id for c in scope.owned_classes(ctx.user)]))
        & (Membership.active == 1)
    ).exists()
    if not mine:
        return ctx.t("release_not_yours", student_no=student_no)
    release_student(classroom.school.name, student_no, who=f"teacher {ctx.user.openid}")
    return ctx.t("released", student_no=student_no)
