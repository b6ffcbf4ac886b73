"""Time-driven jobs, each a function of `now`, idempotent and safe to run from two processes."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from peewee import Case

from bot.context import enqueue
from bot.database import transaction
from bot.replies import t
from handlers.records import queue_summaries
from models import CLOSED, OPEN, Activity, Dialog, InboundMessage, Lesson, RollCall

log = logging.getLogger("ketang.jobs")

DEDUPE_KEEP = timedelta(days=2)  # WeChat retries within seconds; keep the keys well beyond that


def close_due_activities(now: datetime) -> int:
    """Close every open activity whose deadline has passed; return how many this call closed."""
    closed = 0
    due = Activity.select(Activity.id, Activity.deadline).where((Activity.status == OPEN) & (Activity.deadline < now))
    for activity in list(due):
        with transaction():
            # The conditional UPDATE is the claim: only one process sees rowcount 1.
            closed += (
                Activity.update(status=CLOSED, closed_at=activity.deadline)
                .where((Activity.id == activity.id) & (Activity.status == OPEN))
                .execute()
            )
    if closed:
        log.info("closed %d activities past their deadline", closed)
    return closed


def purge_dedupe(now: datetime) -> int:
    """Forget processed message keys older than DEDUPE_KEEP."""
    with transaction():
        return InboundMessage.delete().where(InboundMessage.created_at < now - DEDUPE_KEEP).execute()


def expire_dialogs(now: datetime) -> int:
    """Delete dialogs whose time ran out."""
    with transaction():
        return Dialog.delete().where(Dialog.expires_at < now).execute()


def end_stale_lessons(now: datetime, max_hours: int = 4) -> int:
    """End lessons left open longer than *max_hours*, closing their open activities; return how many."""
    limit = timedelta(hours=max_hours)
    stale = Lesson.select(Lesson.id, Lesson.started_at).where((Lesson.live == 1) & (Lesson.started_at < now - limit))
    ended = 0
    for lesson in list(stale):
        end = lesson.started_at + limit
        with transaction():
            claimed = Lesson.update(ended_at=end, live=None).where((Lesson.id == lesson.id) & (Lesson.live == 1)).execute()
            if claimed:
                Activity.update(status=CLOSED, closed_at=Case(None, [(Activity.deadline < end, Activity.deadline)], end)).where(
                    (Activity.lesson == lesson.id) & (Activity.status == OPEN)).execute()
                queue_summaries(Lesson.get_by_id(lesson.id), now)  # as if the teacher had sent 下课
            ended += claimed
    if ended:
        log.info("ended %d lessons open longer than %d hours", ended, max_hours)
    return ended


def close_roll_calls(now: datetime) -> int:
    """Close roll-call windows whose deadline passed and push the teacher who answered; return how many calls."""
    due = RollCall.select(RollCall.lesson, RollCall.deadline).where((RollCall.closed_at.is_null()) & (RollCall.deadline < now))
    closed = 0
    for lesson_id, deadline in sorted({(call.lesson_id, call.deadline) for call in due}):
        with transaction():
            batch = (RollCall.lesson == lesson_id) & (RollCall.deadline == deadline)
            claimed = RollCall.update(closed_at=now).where(batch & RollCall.closed_at.is_null()).execute()
            if not claimed:  # another scheduler got there first
                continue
            calls = list(RollCall.select().where(batch).order_by(RollCall.picked_at, RollCall.id))
            lesson = Lesson.get_by_id(lesson_id)
            missed = [call.user.display_name for call in calls if call.answered_at is None]
            text = t("push_roll_call_result", "zh", name=lesson.classroom.name, n=len(calls), answered=len(calls) - len(missed),
                     missed=t("rc_missed_names", "zh", names="、".join(missed)) if missed else "")
            # The key is the batch: a second scheduler, or a rerun after a crash, cannot push it twice.
            enqueue(lesson.classroom.owner_id, "roll_call_result", text,
                    f"rollcall:{lesson_id}:{deadline:%Y%m%d%H%M%S}:result", now)
            closed += claimed
    return closed


JOBS = ((close_due_activities, 5), (purge_dedupe, 3600), (expire_dialogs, 60), (close_roll_calls, 10))  # (job, every N s)
