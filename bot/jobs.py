"""Time-driven jobs, each a function of `now`, idempotent and safe to run from two processes.

The machinery's own bookkeeping is here; a plugin adds its jobs (`Plugin.jobs`). `claim_each` is the loop
the claiming jobs share: each due row is claimed by a conditional UPDATE in its own transaction, so two
scheduler processes (or a rerun after a crash) never handle a row twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from bot.database import transaction
from bot.plugin import Job
from models import Dialog, InboundMessage

log = logging.getLogger("ketang.jobs")

DEDUPE_KEEP = timedelta(days=2)  # WeChat retries within seconds; keep the keys well beyond that


def claim_each(due: Iterable, claim: Callable[[object], int], then: Callable[[object], object] | None = None) -> int:
    """For each row of *due* (read first), in its own transaction: *claim(row)* (a conditional UPDATE's
    rowcount: only one process sees 1) and, when this call claimed it, *then(row)*. Return how many it claimed."""
    claimed = 0
    for row in list(due):
        with transaction():
            won = claim(row)
            if won and then is not None:
                then(row)
            claimed += won
    return claimed


def purge_dedupe(now: datetime) -> int:
    """Forget processed message keys older than DEDUPE_KEEP."""
    with transaction():
        return InboundMessage.delete().where(InboundMessage.created_at < now - DEDUPE_KEEP).execute()


def expire_dialogs(now: datetime) -> int:
    """Delete dialogs whose time ran out."""
    with transaction():
        return Dialog.delete().where(Dialog.expires_at < now).execute()


JOBS = (Job("purge_dedupe", purge_dedupe, 3600), Job("expire_dialogs", expire_dialogs, 60))
