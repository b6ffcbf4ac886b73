"""Next term: 复制课堂 (a new class with last term's settings, no students, no history) and 归档 / 取消归档 (a class
that has ended: read-only, gone from students' 我的课堂, its records still the teacher's)."""

from __future__ import annotations

from bot.context import Context, UserError
from bot.text import inline
from handlers import scope, sections, teacher, team
from handlers.gradebook import RULE_FIELDS
from models import Classroom, ClassRules, GradingRule, ScheduledAnnouncement

RULES_FIELDS = ("requests_on", "absences", "rate", "drop", "lost", "nudge")


def copy_class(ctx: Context, ref: str, name: str) -> str:
    """`复制课堂 <序号> <新名称>`: a new class with a new code that keeps the grading rule, the warning rules, the team
    and the scheduled announcements not yet posted (as drafts: never posted until scheduled again); no students, no
    lessons, no records. The question bank is the teacher's already."""
    old = _own(ctx, ref)
    new = teacher.new_classroom(ctx, name)
    rule = (GradingRule.select().where(GradingRule.classroom == old.id)
            .order_by(GradingRule.created_at.desc(), GradingRule.id.desc()).first())
    if rule is not None:  # one row, by the teacher now: the new class's record starts here
        GradingRule.create(classroom=new.id, author=ctx.user, created_at=ctx.now,
                           **{f: getattr(rule, f) for f in RULE_FIELDS})
    rules = ClassRules.get_or_none(ClassRules.classroom == old.id)
    if rules is not None:
        ClassRules.create(classroom=new.id, **{f: getattr(rules, f) for f in RULES_FIELDS})
    drafts = list(ScheduledAnnouncement.select().where(
        (ScheduledAnnouncement.classroom == old.id) & ScheduledAnnouncement.published_at.is_null()))
    for item in drafts:
        ScheduledAnnouncement.create(classroom=new.id, author=ctx.user, text=item.text, due_at=item.due_at,
                                     created_at=ctx.now, draft=True)
    assistants = team.copy_team(old, new)  # the assistants of *old* and their grants (handlers/team.py)
    copied_sections = sections.copy_sections(ctx, old, new)  # by name, new codes, the assistants' limits kept
    kept = [ctx.t("copy_kept_rule" if rule else "copy_default_rule"),
            ctx.t("copy_kept_rules" if rules else "copy_default_rules")]
    if assistants:
        kept.append(ctx.t("copy_kept_team", n=assistants))
    if copied_sections:
        kept.append(ctx.t("copy_kept_sections", n=copied_sections))
    if drafts:
        kept.append(ctx.t("copy_kept_drafts", n=len(drafts)))
    reply = ctx.t("class_copied", old=old.name, name=new.name, code=new.code, qr=teacher.qr_link(ctx, new),
                  kept="、".join(kept) if ctx.lang == "zh" else ", ".join(kept))
    return reply + teacher.choose_after_new(ctx, new)


def _own(ctx: Context, ref: str) -> Classroom:
    """The class 序号 or code *ref* names, or the refusal when the user is not its owner (an assistant may not
    copy, archive or unarchive it)."""
    classroom = scope.pick_class(ctx, ref)
    if classroom.owner_id != ctx.user.id:
        raise UserError("staff_owner_only", command=ctx.command.alias(ctx.lang) if ctx.command else "",
                        name=inline(classroom.name))
    return classroom


def _number(ctx: Context, classroom) -> int:
    """The class's 序号 in the teacher's 我的课堂 (what 进入 takes)."""
    return next(i for i, c in enumerate(scope.my_classes(ctx.user), 1) if c.id == classroom.id)


def archive(ctx: Context, ref: str) -> str:
    """`归档 <序号>`: end a class. It takes no joins and no new lessons or announcements, and leaves its students'
    我的课堂; its records, grade book and export stay the teacher's. Its scheduled announcements not yet posted
    become drafts (never posted). Undone by 取消归档."""
    classroom = _own(ctx, ref)
    number = _number(ctx, classroom)
    if classroom.archived_at is not None:
        raise UserError("already_archived", name=classroom.name, n=number,
                        at=ctx.local(classroom.archived_at).strftime("%Y-%m-%d"))
    if scope.open_lesson(classroom):
        raise UserError("archive_in_session", name=classroom.name)
    Classroom.update(archived_at=ctx.now).where(Classroom.id == classroom.id).execute()
    drafts = ScheduledAnnouncement.update(draft=True).where(
        (ScheduledAnnouncement.classroom == classroom.id) & ScheduledAnnouncement.published_at.is_null()
        & (ScheduledAnnouncement.draft == False)).execute()  # noqa: E712 (SQL)
    reply = ctx.t("archived", name=classroom.name, n=number, students=len(scope.student_ids(classroom)))
    return reply + (ctx.t("archived_drafts", n=drafts) if drafts else "")


def unarchive(ctx: Context, ref: str) -> str:
    """`取消归档 <序号>`: the class runs again (joins, lessons); drafts stay drafts until scheduled again."""
    classroom = _own(ctx, ref)
    if classroom.archived_at is None:
        raise UserError("not_archived", name=classroom.name)
    Classroom.update(archived_at=None).where(Classroom.id == classroom.id).execute()
    return ctx.t("unarchived", name=classroom.name, code=classroom.code)
