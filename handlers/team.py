"""The teaching team: a class's owner invites assistants (助教) who run its lessons from their own phones.

The owner is Classroom.owner and has no ClassStaff row; every ClassStaff row is an assistant. What an
assistant may do is the `staff` level of each command in the table (handlers/commands.py), checked where the
command's class is picked (handlers/scope.py current_class). An assistant need not be a teacher (User.role):
the touch reads `staff` (whether the user assists a class), and the dispatcher lets them run staff commands;
a student who assists a class is never a student of it (joining it is refused, accepting the invite ends it).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from peewee import fn

from bot.catalogue import t
from bot.context import Context, UserError
from bot.text import inline
from handlers import limits, scope
from models import ASSISTANT, Classroom, ClassRules, ClassStaff, Section, StaffInvite, User

INVITE_TTL = timedelta(hours=24)
INVITES_PER_HOUR = 10  # 添加助教 codes one owner may make in an hour
GUESSES_PER_HOUR = 5  # wrong 助教 <码> per user per hour, like the teacher invite code (handlers/common.py)
ON, OFF = ("开", "on"), ("关", "off")


def assists():
    """The touch's `staff` (Plugin.user_reads): whether the sender assists any class (no statement more)."""
    return ClassStaff.select(fn.COUNT(ClassStaff.id)).where(ClassStaff.user == User.id)


def add_assistant(ctx: Context) -> str:
    """添加助教: a one-time code for the current class's team, valid INVITE_TTL."""
    classroom = scope.current_class(ctx)
    made = StaffInvite.select(fn.COUNT(StaffInvite.id)).where(
        (StaffInvite.created_by == ctx.user) & (StaffInvite.created_at > ctx.now - timedelta(hours=1))).scalar()
    if made >= INVITES_PER_HOUR:
        return ctx.t("too_many_tries", minutes=60)
    for _ in range(20):
        code = f"{secrets.randbelow(90_000_000) + 10_000_000}"
        if StaffInvite.insert(classroom=classroom, code=code, created_by=ctx.user, created_at=ctx.now,
                              expires_at=ctx.now + INVITE_TTL).on_conflict_ignore().as_rowcount().execute():
            break
    else:
        raise RuntimeError("no free assistant code after 20 tries")
    return ctx.t("assistant_invite", name=inline(classroom.name), code=code, hours=int(INVITE_TTL.total_seconds() // 3600))


def team(ctx: Context, code: str | None = None) -> str:
    """助教 <码>: join a class's team with the owner's code; 助教 alone: the current class's team."""
    if code:
        return accept(ctx, code)
    if not (ctx.user.is_teacher or getattr(ctx.user, "staff", 1)):
        raise UserError("not_staff")
    classroom = scope.current_class(ctx, scope.LESSON)
    owner = User.get_by_id(classroom.owner_id)
    lines = [ctx.t("team_header", name=inline(classroom.name)), ctx.t("team_owner", who=owner.label(ctx.lang))]
    names = {s.id: s.name for s in Section.select(Section.id, Section.name).where(Section.classroom == classroom)}
    for n, (staff, user) in enumerate(_assistants(classroom), 1):
        export = ctx.t("team_export_on" if staff.can_export else "team_export_off")
        line = ctx.t("team_line", n=n, who=user.label(ctx.lang), export=export)
        if names:  # a class split into sections (分组): whom each assistant sees
            section = inline(names[staff.section_id]) if staff.section_id in names else ctx.t("team_section_all")
            line += ctx.t("team_line_section", section=section)
        lines.append(line)
    notify = ClassRules.select().where((ClassRules.classroom == classroom) & ClassRules.team_pushes).exists()
    lines.append(ctx.t("team_footer", pushes=ctx.t("team_pushes_all" if notify else "team_pushes_owner")))
    return "\n".join(lines)


def accept(ctx: Context, code: str) -> str:
    """助教 <码>: the code's class takes the user as an assistant (once: the code is used up)."""
    if limits.failures(ctx, "assist", timedelta(hours=1)) >= GUESSES_PER_HOUR:
        return ctx.t("too_many_tries", minutes=60)
    invite = StaffInvite.get_or_none((StaffInvite.code == code) & StaffInvite.used_at.is_null()
                                     & (StaffInvite.expires_at >= ctx.now))
    if invite is None:
        limits.record_failure(ctx, "assist")
        return ctx.t("assistant_code_wrong", code=code)
    classroom = Classroom.get_by_id(invite.classroom_id)
    name = inline(classroom.name)
    if classroom.owner_id == ctx.user.id:
        raise UserError("assistant_is_owner", name=name)
    if ClassStaff.select().where((ClassStaff.classroom == classroom) & (ClassStaff.user == ctx.user)).exists():
        raise UserError("assistant_already", name=name)
    used = StaffInvite.update(used_by=ctx.user, used_at=ctx.now).where(
        (StaffInvite.id == invite.id) & StaffInvite.used_at.is_null()).execute()
    if not used:  # someone else's 助教 with the same code won a moment ago
        return ctx.t("assistant_code_wrong", code=code)
    ClassStaff.insert(classroom=classroom, user=ctx.user, role=ASSISTANT, added_at=ctx.now,
                      added_by=invite.created_by_id).on_conflict_ignore().execute()
    left = scope.leave_classes(ctx.user, ctx.now, classroom)  # an assistant is never a student of the class
    User.update(current_class_id=classroom.id).where(User.id == ctx.user.id).execute()
    return ctx.t("assistant_joined", name=name) + (ctx.t("assistant_left_student", name=name) if left else "")


def remove_assistant(ctx: Context, number: int) -> str:
    """移除助教 <n>: the n-th assistant of 助教's list leaves the team (their past actions keep their name)."""
    classroom = scope.current_class(ctx)
    staff, user = nth(ctx, classroom, number)
    ClassStaff.delete().where(ClassStaff.id == staff.id).execute()
    return ctx.t("assistant_removed", who=user.label(ctx.lang), name=inline(classroom.name))


def permissions(ctx: Context, number: int, what: str, switch: str) -> str:
    """助教权限 <n> 导出 开|关: whether the n-th assistant may export identity data (导出)."""
    classroom = scope.current_class(ctx)
    staff, user = nth(ctx, classroom, number)
    on = switch.casefold() in ON
    ClassStaff.update(can_export=on).where(ClassStaff.id == staff.id).execute()
    return ctx.t("assistant_export_on" if on else "assistant_export_off", who=user.label(ctx.lang),
                 name=inline(classroom.name))


def notify(ctx: Context, switch: str) -> str:
    """助教通知 开|关: pushes meant for the teacher (requests, roll-call reports, the digest) go to the team or
    to the owner alone (the default)."""
    classroom = scope.current_class(ctx)
    on = switch.casefold() in ON
    ClassRules.insert(classroom=classroom, team_pushes=on).on_conflict(
        conflict_target=[ClassRules.classroom], update={ClassRules.team_pushes: on}).execute()
    return ctx.t("team_pushes_now_all" if on else "team_pushes_now_owner", name=inline(classroom.name))


def _assistants(classroom: Classroom) -> list[tuple[ClassStaff, User]]:
    rows = (ClassStaff.select(ClassStaff, User).join(User, on=(ClassStaff.user == User.id))
            .where(ClassStaff.classroom == classroom).order_by(ClassStaff.added_at, ClassStaff.id))
    return [(row, row.user) for row in rows]


def nth(ctx: Context, classroom: Classroom, number: int) -> tuple[ClassStaff, User]:
    team = _assistants(classroom)
    if not 1 <= number <= len(team):
        raise UserError("no_such_assistant", n=number, name=inline(classroom.name))
    return team[number - 1]


# --- what the rest of the classroom asks of the team ---


def recipients(classroom_id: int, owner_id: int) -> list[tuple[int, str]]:
    """Whom a push meant for "the teacher" of a class goes to, with their language: the owner, and its assistants
    when the owner sent 助教通知 开."""
    team = User.select(User.id, User.lang).where(
        (User.id == owner_id) | User.id.in_(
            ClassStaff.select(ClassStaff.user).join(ClassRules, on=(ClassRules.classroom == ClassStaff.classroom))
            .where((ClassStaff.classroom == classroom_id) & ClassRules.team_pushes)))
    return list(team.order_by(User.id).tuples())


def assistants_pushed(class_ids) -> dict[int, set[int]]:
    """Of *class_ids*, those whose team gets pushes (助教通知 开): class id -> its assistants' user ids."""
    rows = (ClassStaff.select(ClassStaff.classroom, ClassStaff.user)
            .join(ClassRules, on=(ClassRules.classroom == ClassStaff.classroom))
            .where(ClassStaff.classroom.in_(list(class_ids) or [0]) & ClassRules.team_pushes).tuples())
    found: dict[int, set[int]] = {}
    for classroom_id, user_id in rows:
        found.setdefault(classroom_id, set()).add(user_id)
    return found


def labels(classroom_id: int, user_ids, lang: str) -> dict[int, str]:
    """How a trail names who did something in a class: the name, with 助教 before an assistant's."""
    ids = [i for i in user_ids if i] or [0]
    assistants = {user_id for (user_id,) in ClassStaff.select(ClassStaff.user).where(
        (ClassStaff.classroom == classroom_id) & ClassStaff.user.in_(ids)).tuples()}
    return {u.id: (t("assistant_label", lang, who=u.label(lang)) if u.id in assistants else u.label(lang))
            for u in User.select().where(User.id.in_(ids))}


def is_assistant_of(user: User, classroom_id: int) -> bool:
    return ClassStaff.select().where((ClassStaff.classroom == classroom_id) & (ClassStaff.user == user)).exists()


def copy_team(old: Classroom, new: Classroom) -> int:
    """复制课堂 (handlers/terms.py): the new class keeps the old one's assistants and their grants."""
    rows = [{"classroom": new.id, "user": s.user_id, "role": s.role, "can_export": s.can_export, "added_at": s.added_at,
             "added_by": s.added_by_id} for s in ClassStaff.select().where(ClassStaff.classroom == old)]
    if rows:
        ClassStaff.insert_many(rows).on_conflict_ignore().execute()
    return len(rows)

