"""Time-driven jobs, each a function of `now`, idempotent and safe to run from two processes."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.database import transaction
from models import CLOSED, OPEN, Activity, Dialog, InboundMessage

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


JOBS = ((close_due_activities, 5), (purge_dedupe, 3600), (expire_dialogs, 60))  # (job, every N seconds)
