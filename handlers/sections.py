"""Sections (分组) of a class: who is in which, and what an assistant limited to one may see.

A class may be split into sections, each with its own 6-digit join code (models.Section). A student is in a
section by a seat (models.SectionSeat): their number assigned by the staff, or their own joining with the
section's code; the number's seat wins (the staff's word). An assistant with ClassStaff.section set sees and
marks only that section's students: scope.current_class gives every staff command's class its `staff_section`
(None: the whole class), and the reports filter their rows through students_in.
"""

from __future__ import annotations

from peewee import JOIN, fn

from bot.context import UserError
from bot.text import inline
from models import Membership, Section, SectionSeat, User


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


def keep(rows: dict, allowed: set[int] | None, key=lambda k: k) -> dict:
    """*rows* (keyed by student id, or by *key*(k) giving one) restricted to *allowed* (None: all of them)."""
    if allowed is None:
        return rows
    return {k: v for k, v in rows.items() if key(k) in allowed}


def view(classroom, name: str | None) -> int | None:
    """The section a report on *classroom* (a class from scope.current_class) covers: a limited assistant's own
    section whatever they ask (naming another is refused), else the section *name* names (None: the whole
    class). Raises the reply for a section that does not exist or is not the assistant's."""
    limit = getattr(classroom, "staff_section", None)
    if not name:
        return limit
    found = named(classroom.id, name)
    if found is None:
        listing = "、".join(s.name for s in sections_of(classroom.id)) or "-"
        raise UserError("no_such_section", section=inline(name), name=inline(classroom.name), sections=inline(listing))
    if limit is not None and found.id != limit:
        raise UserError("section_not_yours", section=inline(found.name), name=inline(classroom.name))
    return found.id
