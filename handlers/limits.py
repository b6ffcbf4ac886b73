"""Rate limits on guessing: wrong class codes, check-in codes, auth and invite codes are counted per user."""

from __future__ import annotations

from datetime import timedelta

from peewee import fn

from bot.context import Context
from bot.database import serialize
from bot.prepared import Prepared
from models import FailedAttempt

_FAILURES = Prepared(lambda user, scope, since: FailedAttempt.select(fn.COUNT(FailedAttempt.id))
                     .where((FailedAttempt.user == user) & (FailedAttempt.scope == scope) & (FailedAttempt.at > since)))


def failures(ctx: Context, scope: str, window: timedelta) -> int:
    """Count the user's wrong guesses in *scope* within *window*.

    The count and the failure recorded after it are one step: concurrent guesses of the same user
    (several workers) wait here for each other until the transaction ends, so none slips past a limit.
    """
    serialize(f"failures:{ctx.user.id}:{scope}")
    return _FAILURES.scalar(ctx.user, scope, ctx.now - window)


def record_failure(ctx: Context, scope: str) -> None:
    FailedAttempt.create(user=ctx.user, scope=scope, at=ctx.now)
