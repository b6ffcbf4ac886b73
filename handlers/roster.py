"""School rosters: all-or-nothing CSV import, the teacher's 名单, and releasing a verification."""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from datetime import datetime

from bot.context import Context, UserError
from bot.hashing import hash_secret
from bot.text import fit_lines, inline, normalize
from handlers import scope
from models import UNVERIFIED, VERIFIED, Membership, RosterEntry, School, User

log = logging.getLogger("ketang.roster")
COLUMNS = ("student_no", "name", "auth_code")


class RosterError(Exception):
    """The roster file cannot be imported; nothing was written."""


@dataclass
class ImportResult:
    added: int
    updated: int


def read_roster(data: bytes) -> list[tuple[int, str, str, str]]:
    """Parse CSV bytes into (line, student_no, name, auth_code) rows, or raise RosterError naming the line."""
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, 1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise RosterError(f"line {number}: not UTF-8 text (save the file as CSV UTF-8)") from None
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig")))
    header = [h.strip().lower() for h in next(reader, [])]
    if tuple(header[:3]) != COLUMNS:
        raise RosterError(f"line 1: the header must be {','.join(COLUMNS)}")
    rows, seen = [], {}
    for row in reader:
        number = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise RosterError(f"line {number}: expected {len(header)} fields, found {len(row)}")
        student_no, name, code = (normalize(cell) for cell in row[:3])
        if not student_no or not name:
            raise RosterError(f"line {number}: student_no and name are required")
        if student_no in seen:
            raise RosterError(f"line {number}: student number {student_no} repeats line {seen[student_no]}")
        seen[student_no] = number
        rows.append((number, student_no, name, code))
    if not rows:
        raise RosterError("the file has no students")
    return rows


def import_roster(school_name: str, data: bytes, now: datetime) -> ImportResult:
    """Insert or update every row (in the caller's transaction); never duplicates, never deletes."""
    rows = read_roster(data)
    school_name = normalize(school_name)
    School.insert(name=school_name, created_at=now).on_conflict_ignore().execute()
    school = School.get(School.name == school_name)
    existing = {e.student_no: e for e in RosterEntry.select().where(RosterEntry.school == school)}
    added = updated = 0
    for _line, student_no, name, code in rows:
        auth_hash = hash_secret(code) if code else None
        entry = existing.get(student_no)
        if entry is None:
            RosterEntry.create(school=school, student_no=student_no, name=name, auth_hash=auth_hash)
            added += 1
        else:
            RosterEntry.update(name=name, auth_hash=auth_hash).where(RosterEntry.id == entry.id).execute()
            updated += 1
    return ImportResult(added, updated)


def release_student(school_name: str, student_no: str, who: str) -> User | None:
    """Undo the verification of *student_no*; the account keeps its claim as 未认证. Return it."""
    entry = (
        RosterEntry.select().join(School)
        .where((School.name == normalize(school_name)) & (RosterEntry.student_no == student_no)).first()
    )
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
    """The current class's students with number, name and verification state."""
    classroom = scope.current_class(ctx)
    students = list(User.select().join(Membership).where((Membership.classroom == classroom) & (Membership.active == 1)))
    if not students:
        return ctx.t("roster_empty", name=classroom.name, code=classroom.code)
    taken = {e.student_no for e in RosterEntry.select(RosterEntry.student_no).where(RosterEntry.verified_user.is_null(False))}
    students.sort(key=lambda u: (u.student_no or "~", u.id))
    lines = []
    for user in students:
        state = ctx.t(STATES.get(user.verify_state, "state_not_given"))
        clash = ctx.t("number_clash") if user.verify_state == UNVERIFIED and user.student_no in taken else ""
        lines.append(f"{user.student_no or '—'} {inline(user.name) or ctx.t('no_name')} · {state}{clash}")
    verified = sum(1 for u in students if u.verify_state == VERIFIED)
    header = ctx.t("roster_header", name=classroom.name, n=len(students), verified=verified)
    return fit_lines(header, lines, lambda n: ctx.t("and_more", n=n))


def release(ctx: Context, student_no: str) -> str:
    """Teacher: release a verified student number held by an account in one of the teacher's classes."""
    classroom = scope.current_class(ctx)
    if classroom.school_id is None:
        raise UserError("class_has_no_school", name=classroom.name)
    entry = RosterEntry.get_or_none((RosterEntry.school == classroom.school_id) & (RosterEntry.student_no == student_no))
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
