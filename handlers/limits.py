"""Rate limits on guessing: wrong class codes, check-in codes, auth and invite codes are counted per user."""

from __future__ import annotations

from datetime import timedelta

from peewee import fn

from bot.context import Context
from bot.prepared import Prepared
from models import FailedAttempt

_FAILURES = Prepared(lambda user, scope, since: FailedAttempt.select(fn.COUNT(FailedAttempt.id))
                     .where((FailedAttempt.user == user) & (FailedAttempt.scope == scope) & (FailedAttempt.at > since)))


def failures(ctx: Context, scope: str, window: timedelta) -> int:
    """Count the user's wrong guesses in *scope* within *window*."""
    return _FAILURES.scalar(ctx.user, scope, ctx.now - window)


def record_failure(ctx: Context, scope: str) -> None:
    FailedAttempt.create(user=ctx.user, scope=scope, at=ctx.now)
