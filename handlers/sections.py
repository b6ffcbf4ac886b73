"""Sections (分组) of a class: who is in which, and what an assistant limited to one may see.

A class may be split into sections, each with its own 6-digit join code (models.Section). A student is in a
section by a seat (models.SectionSeat): their number assigned by the staff, or their own joining with the
section's code; the number's seat wins (the staff's word). An assistant with ClassStaff.section set sees and
marks only that section's students: scope.current_class gives every staff command's class its `staff_section`
(None: the whole class), and the reports filter their rows through students_in.
"""

from __future__ import annotations

import re
import secrets

from peewee import JOIN, fn

from bot.catalogue import t
from bot.context import Context, UserError
from bot.text import inline
from handlers import scope, team
from models import Classroom, ClassStaff, Membership, Section, SectionSeat, User

STUDENT_NO = re.compile(r"[A-Z0-9-]{1,32}")


def sections_of(classroom_id: int) -> list[Section]:
    """The class's sections in the order they were made (their 序号)."""
    return list(Section.select().where(Section.classroom == classroom_id).order_by(Section.created_at, Section.id))


def named(classroom_id: int, name: str) -> Section | None:
    """The class's section called *name* (case-insensitive), or None."""
    folded = name.casefold()
    return next((s for s in sections_of(classroom_id) if s.name.casefold() == folded), None)


def placement(classroom_id: int) -> dict[int, int]:
    """Section id per student who is or was a member of the class (one statement); students in no section are
    left out."""
    by_no, own = SectionSeat.alias("by_no"), SectionSeat.alias("own")
    rows = (Membership.select(Membership.user, fn.COALESCE(by_no.section, own.section)).distinct()
            .join(User, on=(Membership.user == User.id))
            .join_from(Membership, by_no, JOIN.LEFT_OUTER,
                       on=((by_no.classroom == Membership.classroom) & (by_no.student_no == User.student_no)))
            .join_from(Membership, own, JOIN.LEFT_OUTER,
                       on=((own.classroom == Membership.classroom) & (own.user == Membership.user)))
            .where(Membership.classroom == classroom_id).tuples())
    return {user_id: section_id for user_id, section_id in rows if section_id is not None}


def students_in(classroom_id: int, section_id: int | None) -> set[int] | None:
    """The ids of the students (present and past members) of one section; None when *section_id* is None
    (the whole class: no filter)."""
    if section_id is None:
        return None
    return {user_id for user_id, placed in placement(classroom_id).items() if placed == section_id}


def keep(rows: dict, allowed: set[int] | None) -> dict:
    """*rows* (keyed by student id) restricted to *allowed* (None: all of them)."""
    if allowed is None:
        return rows
    return {k: v for k, v in rows.items() if k in allowed}


def note(lang: str, section_id: int | None) -> str:
    """What a report of one section adds to its title, 「（分组：一班）」; "" for the whole class."""
    return "" if section_id is None else t("section_of_report", lang, section=inline(Section.get_by_id(section_id).name))


def find(classroom, name: str) -> Section:
    """The class's section *name*, or the reply naming the sections it has."""
    found = named(classroom.id, name)
    if found is None:
        listing = "、".join(s.name for s in sections_of(classroom.id)) or "-"
        raise UserError("no_such_section", section=inline(name), name=inline(classroom.name), sections=inline(listing))
    return found


def view(classroom, name: str | None) -> int | None:
    """The section a report on *classroom* (a class from scope.current_class) covers: a limited assistant's own
    section whatever they ask (naming another is refused), else the section *name* names (None: the whole
    class). Raises the reply for a section that does not exist or is not the assistant's."""
    limit = getattr(classroom, "staff_section", None)
    if not name:
        return limit
    found = find(classroom, name)
    if limit is not None and found.id != limit:
        raise UserError("section_not_yours", section=inline(found.name), name=inline(classroom.name))
    return found.id


# --- the commands (handlers/commands.py: 分组, 助教分组) ---

NAME = re.compile(r"[^\s]{1,16}")
RESERVED = {"全部", "all"}
CODE_TRIES = 50


def sections(ctx: Context, text: str | None = None) -> str:
    """分组: the class's sections (any of its staff); 分组 <名称>: make one with its own join code, or show it;
    分组 <名称> <学号…>: put those student numbers in it (the owner: changes are the SETTINGS level)."""
    classroom = scope.current_class(ctx)
    words = (text or "").split()
    if not words:
        return listing(ctx, classroom)
    name, numbers = words[0], [w.upper() for w in words[1:]]
    check_name(name)
    bad = [n for n in numbers if not STUDENT_NO.fullmatch(n)]
    if bad:
        raise UserError("section_bad_numbers", numbers=inline(" ".join(bad[:5])))
    scope.writable(ctx, classroom)
    section, made = _section(ctx, classroom, name)
    if numbers:
        return assign(ctx, classroom, section, numbers)
    return ctx.t("section_made" if made else "section_shown", name=inline(classroom.name), section=inline(section.name),
                 code=section.code, n=len(students_in(classroom.id, section.id) or ()))


def check_name(name: str) -> None:
    """A section's name: 1-16 characters, no spaces, not all digits (so `结果 2 一班` parses), not 全部/all."""
    if not NAME.fullmatch(name) or name.isdigit() or name.casefold() in RESERVED:
        raise UserError("section_bad_name", name=inline(name[:20]))


def rename(ctx: Context, old: str, new: str) -> str:
    """分组改名 <旧名> <新名>: the section keeps its code, its students and its assistants."""
    classroom = scope.current_class(ctx)
    section = find(classroom, old)
    check_name(new)
    scope.writable(ctx, classroom)
    if new != section.name and named(classroom.id, new) is not None:
        raise UserError("section_name_taken", section=inline(new), name=inline(classroom.name))
    Section.update(name=new).where(Section.id == section.id).execute()
    return ctx.t("section_renamed", old=inline(section.name), section=inline(new), code=section.code,
                 name=inline(classroom.name))


def delete(ctx: Context, which: str) -> str:
    """删除分组 <名称>: the section, its code and its seats go; its students stay in the class, in no section.
    Refused while an assistant is limited to it: deleting it would take that assistant off the team
    (ClassStaff.section cascades), and widening them to the whole class is the owner's call (助教分组 <n> 全部)."""
    classroom = scope.current_class(ctx)
    section = find(classroom, which)
    scope.writable(ctx, classroom)
    limited = [staff.user.label(ctx.lang) for staff in ClassStaff.select(ClassStaff, User).join(User)
               .where(ClassStaff.section == section.id).order_by(ClassStaff.id)]
    if limited:
        raise UserError("section_has_assistants", section=inline(section.name), who=ctx.t("list_sep").join(limited),
                        name=inline(classroom.name))
    current = set(scope.student_ids(classroom))
    n = len(current & (students_in(classroom.id, section.id) or set()))
    SectionSeat.delete().where(SectionSeat.section == section.id).execute()
    Section.delete().where(Section.id == section.id).execute()
    return ctx.t("section_deleted", section=inline(section.name), n=n, code=section.code, name=inline(classroom.name))


def _section(ctx: Context, classroom, name: str) -> tuple[Section, bool]:
    """The class's section *name*, made now (with a code no class or section has) if there is none; True if made.
    Two staff phones making the same name at once get one section: the (classroom, name) index."""
    found = named(classroom.id, name)
    if found is not None:
        return found, False
    for _ in range(CODE_TRIES):
        code = f"{secrets.randbelow(900000) + 100000}"
        if Classroom.select().where(Classroom.code == code).exists():
            continue
        inserted = (Section.insert(classroom=classroom, name=name, code=code, created_by=ctx.user, created_at=ctx.now)
                    .on_conflict_ignore().as_rowcount().execute())
        found = named(classroom.id, name)
        if found is not None:  # ours, or the one another phone made a moment ago
            return found, bool(inserted) and found.code == code
    raise RuntimeError("no free section code")


def assign(ctx: Context, classroom, section: Section, numbers: list[str]) -> str:
    """The staff's word: each number's seat is *section* (moved from another one); the students holding those
    numbers are placed whenever they join."""
    for number in dict.fromkeys(numbers):
        SectionSeat.insert(classroom=classroom, section=section, student_no=number, by=ctx.user, at=ctx.now).on_conflict(
            conflict_target=[SectionSeat.classroom, SectionSeat.student_no],
            update={SectionSeat.section: section.id, SectionSeat.by: ctx.user.id, SectionSeat.at: ctx.now}).execute()
    unique = list(dict.fromkeys(numbers))
    members = {u.student_no for u in User.select(User.student_no).join(Membership, on=(Membership.user == User.id))
               .where((Membership.classroom == classroom) & (Membership.active == 1) & User.student_no.in_(unique))}
    return ctx.t("section_assigned", section=inline(section.name), n=len(unique), later=len(unique) - len(members),
                 name=inline(classroom.name))


def listing(ctx: Context, classroom) -> str:
    """The class's sections with their codes, head counts and the assistants limited to each."""
    found = sections_of(classroom.id)
    if not found:
        return ctx.t("sections_none", name=inline(classroom.name))
    counts: dict[int, int] = {}
    current = set(scope.student_ids(classroom))
    for user_id, section_id in placement(classroom.id).items():
        if user_id in current:
            counts[section_id] = counts.get(section_id, 0) + 1
    helpers: dict[int, list[str]] = {}
    for staff in ClassStaff.select(ClassStaff.section, User).join(User).where(
            (ClassStaff.classroom == classroom) & ClassStaff.section.is_null(False)).order_by(ClassStaff.id):
        helpers.setdefault(staff.section_id, []).append(staff.user.label(ctx.lang))
    lines = [ctx.t("section_line", n=i, section=inline(s.name), code=s.code, count=counts.get(s.id, 0),
                   assistants=ctx.t("list_sep").join(helpers.get(s.id, [])) or "—") for i, s in enumerate(found, 1)]
    placed = sum(counts.values())
    return "\n".join([ctx.t("sections_header", name=inline(classroom.name)), *lines,
                      ctx.t("sections_footer", unplaced=len(current) - placed)])


def assistant_section(ctx: Context, number: int, which: str) -> str:
    """助教分组 <n> <名称|全部>: limit the n-th assistant of 助教's list to one section, or give them the class again."""
    classroom = scope.current_class(ctx)
    staff, user = team.nth(ctx, classroom, number)
    section = None if which.casefold() in RESERVED else find(classroom, which)
    ClassStaff.update(section=section.id if section else None).where(ClassStaff.id == staff.id).execute()
    if section is None:
        return ctx.t("assistant_section_all", who=user.label(ctx.lang), name=inline(classroom.name))
    return ctx.t("assistant_section_set", who=user.label(ctx.lang), section=inline(section.name), name=inline(classroom.name))


def by_code(code: str) -> Section | None:
    """The section whose join code is *code* (加入 <code> when no class has it)."""
    return Section.get_or_none(Section.code == code)


def take_seat(ctx: Context, classroom, section: Section) -> str:
    """After 加入 <分组码>: the student sits in *section*, unless the staff put their number in another one."""
    if ctx.user.student_no:
        assigned = (Section.select().join(SectionSeat).where((SectionSeat.classroom == classroom.id)
                    & (SectionSeat.student_no == ctx.user.student_no.upper())).first())
        if assigned is not None and assigned.id != section.id:
            return ctx.t("section_kept", section=inline(assigned.name))
    SectionSeat.insert(classroom=classroom.id, section=section, user=ctx.user, by=ctx.user, at=ctx.now).on_conflict(
        conflict_target=[SectionSeat.classroom, SectionSeat.user],
        update={SectionSeat.section: section.id, SectionSeat.at: ctx.now}).execute()
    return ctx.t("section_joined", section=inline(section.name))


def section_label(classroom_id: int, user: User) -> str | None:
    """The name of *user*'s section in the class, or None."""
    placed = placement(classroom_id).get(user.id)
    return Section.get_by_id(placed).name if placed else None


def check_student(ctx: Context, classroom, user: User) -> None:
    """Refuse a limited assistant's act on one student outside their section (改签; lists and requests are
    filtered with visible)."""
    limit = getattr(classroom, "staff_section", None)
    if limit is not None and placement(classroom.id).get(user.id) != limit:
        raise UserError("section_student_not_yours", student=user.label(ctx.lang), name=inline(classroom.name))


def limits_of(user_id: int) -> dict[int, int]:
    """Class id → section id, for the classes where *user_id* assists one section only."""
    return dict(ClassStaff.select(ClassStaff.classroom, ClassStaff.section)
                .where((ClassStaff.user == user_id) & ClassStaff.section.is_null(False)).tuples())


def visible(user_id: int, rows: list, class_of, student_of) -> list:
    """Of *rows* (requests, at-risk students, roll calls…), those *user_id* may see: all of them, but in a class
    where they assist one section, only its students' (class_of(row), student_of(row) give a row's class id and
    student id). The one filter of what reaches a limited assistant by push or list."""
    limits = limits_of(user_id)
    if not limits:
        return rows
    placed = {classroom_id: placement(classroom_id) for classroom_id in {class_of(r) for r in rows} if classroom_id in limits}
    return [r for r in rows if class_of(r) not in limits or placed[class_of(r)].get(student_of(r)) == limits[class_of(r)]]


def copy_sections(ctx: Context, old, new) -> int:
    """复制课堂 (handlers/terms.py): the new class gets the old one's sections by name, each with a new code and no
    one in it, and its copied assistants keep the section they were limited to. Return how many were copied."""
    mapped = {s.id: _section(ctx, new, s.name)[0].id for s in sections_of(old.id)}
    for user_id, section_id in ClassStaff.select(ClassStaff.user, ClassStaff.section).where(
            (ClassStaff.classroom == old.id) & ClassStaff.section.is_null(False)).tuples():
        ClassStaff.update(section=mapped[section_id]).where(
            (ClassStaff.classroom == new.id) & (ClassStaff.user == user_id)).execute()
    return len(mapped)
