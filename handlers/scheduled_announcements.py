"""Scheduled announcements (定时公告): the teacher command, and the job that posts them when due."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone

from bot.context import Context, UserError
from bot.jobs import claim_each
from bot.text import fit_lines, inline
from handlers import scope
from handlers.teacher import check_announcement, post_announcement
from models import Classroom, ScheduledAnnouncement, User

log = logging.getLogger("ketang.schedule")

TIME_AND_TEXT = re.compile(r"\s*(\d{1,2})\s*[:：]\s*(\d{2})[\s,，、]*(.+)", re.DOTALL)  # \d also takes ０-９
HORIZON = timedelta(days=366)


def schedule(ctx: Context, date: str, text: str) -> str:
    """Schedule an announcement for `YYYY-MM-DD HH:MM` (school time) in the current class."""
    classroom = scope.writable(ctx, scope.current_class(ctx))
    due, body = _parse(ctx, date, text)
    check_announcement(body)
    if due <= ctx.now:
        raise UserError("schedule_in_past", at=ctx.local(due).strftime("%Y-%m-%d %H:%M"))
    if due > ctx.now + HORIZON:
        raise UserError("schedule_too_far")
    ScheduledAnnouncement.create(classroom=classroom, author=ctx.user, text=body, due_at=due, created_at=ctx.now)
    return ctx.t("scheduled", name=classroom.name, at=ctx.local(due).strftime("%Y-%m-%d %H:%M"))


def pending(classroom: Classroom) -> list[ScheduledAnnouncement]:
    """The class's scheduled announcements not yet posted (drafts too), soonest first (their 序号 order)."""
    return list(ScheduledAnnouncement.select().where(
        (ScheduledAnnouncement.classroom == classroom) & ScheduledAnnouncement.published_at.is_null()
    ).order_by(ScheduledAnnouncement.due_at, ScheduledAnnouncement.id))


def _line(ctx: Context, item: ScheduledAnnouncement) -> str:
    text = inline(item.text)
    text = text if len(text) <= 30 else text[:30] + "…"
    draft = ctx.t("scheduled_draft") if item.draft else ""
    return f"{ctx.local(item.due_at).strftime('%Y-%m-%d %H:%M')}{draft} {text}"


def scheduled_list(ctx: Context) -> str:
    """List the current class's scheduled announcements still to be posted."""
    classroom = scope.current_class(ctx)
    items = pending(classroom)
    if not items:
        raise UserError("no_scheduled", name=classroom.name)
    lines = [f"{i}. {_line(ctx, item)}" for i, item in enumerate(items, 1)]
    return fit_lines(ctx.t("scheduled_header", name=classroom.name, n=len(items)), lines,
                     lambda n: ctx.t("and_more", n=n)) + "\n" + ctx.t("scheduled_footer")


def unschedule(ctx: Context, number: int) -> str:
    """Cancel the n-th scheduled announcement of the current class (as numbered by 定时列表)."""
    classroom = scope.current_class(ctx)
    items = pending(classroom)
    if not 1 <= number <= len(items):
        if not items:
            raise UserError("no_scheduled", name=classroom.name)
        raise UserError("no_such_scheduled", n=number, count=len(items))
    item = items[number - 1]
    # Conditional, like the job's claim: if the scheduler posted it a moment ago, say so.
    gone = ScheduledAnnouncement.delete().where(
        (ScheduledAnnouncement.id == item.id) & ScheduledAnnouncement.published_at.is_null()).execute()
    if not gone:
        raise UserError("scheduled_already_posted")
    return ctx.t("unscheduled", line=_line(ctx, item), name=classroom.name)


def _parse(ctx: Context, date: str, text: str) -> tuple[datetime, str]:
    """Return the naive-UTC moment of *date* plus the HH:MM that starts *text*, and the text after it."""
    match = TIME_AND_TEXT.match(text)
    if not match:
        raise UserError("schedule_format")
    try:
        year, month, day = (int(part) for part in date.split("-"))
        local = datetime(year, month, day, int(match.group(1)), int(match.group(2)), tzinfo=ctx.settings.school.tz)
    except ValueError:
        raise UserError("schedule_format") from None
    return local.astimezone(timezone.utc).replace(tzinfo=None), match.group(3).strip()


def publish_due_announcements(now: datetime) -> int:
    """Post every scheduled announcement that is due, once even with two schedulers; return how many."""
    due = ScheduledAnnouncement.select(ScheduledAnnouncement.id).where(
        ScheduledAnnouncement.published_at.is_null() & (ScheduledAnnouncement.due_at <= now)
        & (ScheduledAnnouncement.draft == False))  # noqa: E712 (SQL)
    posted = claim_each(
        due,
        lambda item: ScheduledAnnouncement.update(published_at=now).where(
            (ScheduledAnnouncement.id == item.id) & ScheduledAnnouncement.published_at.is_null()
            & (ScheduledAnnouncement.draft == False)).execute(),  # noqa: E712 (SQL): 归档 made it a draft meanwhile
        lambda item: _publish(ScheduledAnnouncement.get_by_id(item.id), now),
    )
    if posted:
        log.info("published %d scheduled announcements", posted)
    return posted


def _publish(row: ScheduledAnnouncement, now: datetime) -> None:
    post_announcement(Classroom.get_by_id(row.classroom_id), User.get_by_id(row.author_id), row.text, now)
