"""Commands for everyone: help, cancel, me, become a teacher."""

from __future__ import annotations

import hmac
import re
from datetime import timedelta

from bot.context import Context
from bot.grammar import Role
from bot.text import MAX_REPLY_BYTES, normalize
from handlers.account import mask_phone
from handlers.limits import failures, record_failure
from handlers.menu import STUDENT_MENU, TEACHER_MENU, keys
from handlers.scope import leave_classes, my_classes
from models import NOT_GIVEN, TEACHER, UNVERIFIED, VERIFIED, Dialog, RosterEntry, User


def help(ctx: Context, topic: str | None = None) -> str:
    """List the commands this user's role may use, one example each; `帮助 <命令>` explains any command."""
    role = Role.TEACHER if ctx.user.is_teacher else Role.STUDENT
    if topic:
        return _explain(ctx, role, topic)
    lines = [ctx.t("help_header_teacher" if role is Role.TEACHER else "help_header_student")]
    lines += [_line(ctx, c) for c in ctx.commands if c.role in (Role.ANY, role) and c.examples and c.brief]
    lines.append(ctx.t("help_footer"))
    if role is Role.STUDENT:
        lines.append(ctx.t("help_assistant" if getattr(ctx.user, "staff", 0) else "help_teacher_fix"))
    return "\n".join(lines)


def _line(ctx: Context, command) -> str:
    """One command as 帮助 and 更多 list it: an example in the user's language and the summary's first clause."""
    return f"• {_example(ctx, command)} — {re.split(r'[（(]', command.summary(ctx.lang))[0].strip()}"


def _example(ctx: Context, command) -> str:
    return next((e for e in command.examples if _lang_of(e) == ctx.lang), command.examples[0])


def more(ctx: Context) -> str:
    """`更多` (a menu button): the commands of the user's role that are on no button of their menu."""
    role = Role.TEACHER if ctx.user.is_teacher else Role.STUDENT
    on_menu = {key.casefold() for _kind, key in keys(TEACHER_MENU if role is Role.TEACHER else STUDENT_MENU)}
    listed = [c for c in ctx.commands if c.examples and (c.role is role or c.role is Role.ANY and not c.brief)
              and not any(a.text.casefold() in on_menu for a in c.aliases)]
    reply = "\n".join([ctx.t("more_header"), *(_line(ctx, c) for c in listed), ctx.t("help_footer")])
    if len(reply.encode("utf-8")) <= MAX_REPLY_BYTES:
        return reply
    # Too many to explain in one message: every one still named, by its example alone (帮助 <命令> explains it).
    return "\n".join([ctx.t("more_header"), *(f"• {_example(ctx, c)}" for c in listed), ctx.t("help_footer")])


def _lang_of(example: str) -> str:
    return "en" if example[:1].isascii() else "zh"


def _explain(ctx: Context, role: Role, topic: str) -> str:
    """Usage, summary and every example of the command named *topic* (any alias, several words too).

    A command of the other role is explained as well, saying whom it is for.
    """
    wanted = normalize(topic).casefold()
    for command in ctx.commands:
        if any(alias.text.casefold() == wanted for alias in command.aliases):
            examples = "\n".join(f"  {e}" for e in command.examples)
            reply = ctx.t("help_command", usage=command.usage(ctx.lang), summary=command.summary(ctx.lang), examples=examples)
            staff = command.staff and getattr(ctx.user, "staff", 0)  # an assistant runs it for the classes they assist
            if command.role not in (Role.ANY, role) and not staff:
                reply += "\n" + ctx.t(f"help_for_{command.role.value}")
            return reply
    return ctx.t("help_unknown_topic", topic=topic[:20])


def cancel(ctx: Context) -> str:
    """Leave the current multi-step dialog."""
    removed = Dialog.delete().where(Dialog.user == ctx.user).execute()
    return ctx.t("cancelled" if removed else "nothing_to_cancel")


def me(ctx: Context) -> str:
    """Show role, school, student number, name, verification state and the masked phone."""
    user = ctx.user
    states = {VERIFIED: "state_verified", UNVERIFIED: "state_unverified"}
    return ctx.t(
        "me",
        role=ctx.t("role_teacher" if user.is_teacher else "role_student"),
        school=user.school.name if user.school_id else ctx.t("unset"),
        name=user.name or ctx.t("unset"),
        student_no=user.student_no or ctx.t("unset"),
        verified=ctx.t(states.get(user.verify_state, "state_not_given")),
        phone=mask_phone(user.phone) or ctx.t("unset"),
        classes=len(my_classes(user)),
    )


def make_teacher(user: User, now, school=None) -> int:
    """Turn *user* into a teacher; a teacher is never enrolled as a student. Return classes left (kept as history)."""
    left = leave_classes(user, now)
    Dialog.delete().where(Dialog.user == user).execute()
    RosterEntry.update(verified_user=None, verified_at=None).where(RosterEntry.verified_user == user).execute()
    changes = {User.role: TEACHER, User.current_class_id: None, User.verify_state: NOT_GIVEN, User.student_no: None}
    if school is not None:
        changes[User.school] = school
    User.update(changes).where(User.id == user.id).execute()
    user.role, user.current_class_id = TEACHER, None
    return left


def become_teacher(ctx: Context, invite: str) -> str:
    """Become a teacher with the configured invite code."""
    expected = ctx.settings.roles.teacher_invite_code
    if ctx.user.is_teacher:
        return ctx.t("already_teacher")
    if not expected:
        return ctx.t("invite_disabled")
    if failures(ctx, "invite", timedelta(hours=1)) >= 5:
        return ctx.t("too_many_tries", minutes=60)
    if not hmac.compare_digest(invite.encode(), expected.encode()):
        record_failure(ctx, "invite")
        return ctx.t("invite_wrong")
    left = make_teacher(ctx.user, ctx.now)
    return ctx.t("now_teacher") + (ctx.t("left_student_classes", n=left) if left else "")

