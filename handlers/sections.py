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

from bot import dispatch
from bot.context import Context, UserError
from bot.text import inline
from handlers import scope
from models import OWNER, Classroom, ClassStaff, Membership, Section, SectionSeat, User


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


# --- the commands: 分组 (list, make, assign numbers), 助教分组 (limit an assistant) ---

NAME = r"(?!(?:全部|all|\d+)$)\S{1,16}"  # a section's name: no spaces, not all digits (结果 2 一班), not 全部/all
NUMBER = re.compile(r"[a-z0-9-]{1,32}", re.IGNORECASE)  # a student number (upper-cased like handlers/account.py)


def sections(ctx: Context, name: str | None = None, numbers: str | None = None) -> str:
    """分组: the current class's sections; 分组 <名称>: make it (owner) or show it; 分组 <名称> <学号…>: place
    those numbers in it (owner)."""
    if not name and numbers is not None:  # a bad name (all digits, 全部, too long): the usage line
        return dispatch.usage_reply(ctx, ctx.command)
    classroom = scope.current_class(ctx)
    if not name:
        return listing(ctx, classroom)
    found = named(classroom.id, name)
    if numbers is None and found is not None:
        return ctx.t("section_shown", section=inline(found.name), code=found.code, name=inline(classroom.name),
                     count=sum(1 for s in placement(classroom.id).values() if s == found.id))
    scope.permit(ctx, classroom, OWNER)
    if numbers is not None:
        wanted = [n.upper() for n in re.split(r"[\s,;，；、]+", numbers.strip()) if n]
        if not wanted or not all(NUMBER.fullmatch(n) for n in wanted):
            return dispatch.usage_reply(ctx, ctx.command)
        made = "" if found else made_reply(ctx, classroom, found := make(ctx, classroom, name)) + "\n"
        return made + assign(ctx, classroom, found, list(dict.fromkeys(wanted)))
    return made_reply(ctx, classroom, make(ctx, classroom, name))


def made_reply(ctx: Context, classroom, section: Section) -> str:
    return ctx.t("section_made", section=inline(section.name), code=section.code, name=inline(classroom.name))


def listing(ctx: Context, classroom) -> str:
    """分组 alone: numbered sections with code, head count and the assistants limited to each."""
    found = sections_of(classroom.id)
    if not found:
        return ctx.t("sections_none", name=inline(classroom.name))
    counts: dict[int, int] = {}
    for section_id in placement(classroom.id).values():
        counts[section_id] = counts.get(section_id, 0) + 1
    helpers: dict[int, list[str]] = {}
    for staff in (ClassStaff.select(ClassStaff, User).join(User, on=(ClassStaff.user == User.id))
                  .where((ClassStaff.classroom == classroom.id) & ClassStaff.section.is_null(False))):
        helpers.setdefault(staff.section_id, []).append(staff.user.label(ctx.lang))
    lines = [ctx.t("sections_header", name=inline(classroom.name))]
    for n, s in enumerate(found, 1):
        lines.append(ctx.t("sections_line", n=n, section=inline(s.name), code=s.code, count=counts.get(s.id, 0),
                           staff="、".join(helpers.get(s.id, [])) or "-"))
    return "\n".join(lines + [ctx.t("sections_footer")])


def make(ctx: Context, classroom, name: str) -> Section:
    """The class's section *name*, made with a fresh code unless it exists (two owners' phones racing get one:
    the unique (classroom, name) index)."""
    for _ in range(50):
        code = f"{secrets.randbelow(900000) + 100000}"
        if Classroom.select().where(Classroom.code == code).exists():
            continue
        if Section.insert(classroom=classroom.id, name=name, code=code, created_by=ctx.user,
                          created_at=ctx.now).on_conflict_ignore().as_rowcount().execute():
            break
        existing = named(classroom.id, name)
        if existing is not None:  # the other phone made it a moment ago
            return existing
    else:
        raise RuntimeError("no free section code after 50 tries")
    return named(classroom.id, name)


def code_taken(code: str) -> bool:
    """Whether a section uses *code* (a new class's code avoids it: handlers/teacher.py)."""
    return Section.select().where(Section.code == code).exists()


def assign(ctx: Context, classroom, section: Section, numbers: list[str]) -> str:
    """Seat *numbers* in *section* (moving them from another section): the staff's word, which wins over a
    student's own joining."""
    for number in numbers:
        SectionSeat.insert(classroom=classroom.id, section=section.id, student_no=number, by=ctx.user,
                           at=ctx.now).on_conflict(conflict_target=[SectionSeat.classroom, SectionSeat.student_no],
                                                   update={SectionSeat.section: section.id, SectionSeat.by: ctx.user.id,
                                                           SectionSeat.at: ctx.now}).execute()
    members = set(User.select(User.student_no).join(Membership, on=(Membership.user == User.id))
                  .where((Membership.classroom == classroom.id) & User.student_no.in_(numbers)).tuples())
    waiting = len(numbers) - len(members)
    return ctx.t("section_assigned", count=len(numbers), section=inline(section.name), name=inline(classroom.name),
                 waiting=waiting)


def join(ctx: Context, section: Section, enroll) -> str:
    """加入 <分组码>: *enroll* the user in the section's class (the class code's path: same refusals), then take
    a seat in the section (moving their own seat); a number the staff placed elsewhere stays there."""
    classroom = Classroom.get_by_id(section.classroom_id)
    reply = enroll(ctx, classroom)
    if not Membership.select().where((Membership.classroom == classroom.id) & (Membership.user == ctx.user)).exists():
        return reply  # refused (archived, an assistant of it...)
    number = getattr(ctx.user, "student_no", None)
    placed = number and SectionSeat.get_or_none((SectionSeat.classroom == classroom.id) & (SectionSeat.student_no == number))
    SectionSeat.insert(classroom=classroom.id, section=section.id, user=ctx.user, by=ctx.user, at=ctx.now).on_conflict(
        conflict_target=[SectionSeat.classroom, SectionSeat.user],
        update={SectionSeat.section: section.id, SectionSeat.at: ctx.now}).execute()
    if placed and placed.section_id != section.id:
        return reply + "\n" + ctx.t("section_stays", section=inline(Section.get_by_id(placed.section_id).name))
    return reply + "\n" + ctx.t("section_joined", section=inline(section.name))


def check(ctx: Context, classroom, student: User) -> None:
    """Refuse (changing nothing) a limited assistant's command about a student outside their section."""
    allowed = students_in(classroom.id, getattr(classroom, "staff_section", None))
    if allowed is not None and student.id not in allowed:
        raise UserError("section_outside", student=inline(student.student_no or student.label(ctx.lang)))


def limits_of(user) -> dict[int, int]:
    """Class id -> section id for each class where *user* is an assistant limited to a section."""
    return dict(ClassStaff.select(ClassStaff.classroom, ClassStaff.section)
                .where((ClassStaff.user == user) & ClassStaff.section.is_null(False)).tuples())


def visible(user, rows, classroom_id=lambda r: r.classroom_id, student_id=lambda r: r.student_id) -> list:
    """*rows* of several classes (requests) kept to those about students *user* may see: all of a class they
    own or assist unlimited, their section's in a class where they are limited."""
    rows = list(rows)
    limited = limits_of(user)
    if not limited:
        return rows
    allowed = {cls: students_in(cls, section) for cls, section in limited.items()}
    return [r for r in rows if classroom_id(r) not in allowed or student_id(r) in allowed[classroom_id(r)]]


def copy(ctx: Context, old, new) -> dict[int, int]:
    """复制课堂: *new* gets *old*'s sections with fresh codes and no seats; old section id -> new one's."""
    return {s.id: make(ctx, new, s.name).id for s in sections_of(old.id)}


def own_sections(user) -> dict[int, str]:
    """Class id -> the name of the section *user* (a student) is in, by their number's seat or else their own
    (one statement): what 我的课堂 shows."""
    who = SectionSeat.user == user
    if getattr(user, "student_no", None):
        who |= SectionSeat.student_no == user.student_no
    found: dict[int, str] = {}
    for seat in SectionSeat.select(SectionSeat, Section).join(Section).where(who).order_by(SectionSeat.student_no.is_null()):
        found.setdefault(seat.classroom_id, seat.section.name)  # the number's seat first: it wins
    return found
