"""Time as a parameter: the real clock returns naive UTC; tests use a frozen one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

Clock = Callable[[], datetime]  # returns naive UTC: utc_now, or a FrozenClock in tests


def utc_now() -> datetime:
    """Return the current time as a naive UTC datetime (how the database stores time)."""
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def epoch(moment: datetime) -> int:
    """Seconds since the epoch of a naive-UTC datetime."""
    return int(moment.replace(tzinfo=timezone.utc).timestamp())
