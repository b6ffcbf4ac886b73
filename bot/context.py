"""What a handler gets: the user, the time, the language, settings, and the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from bot.config import Settings
from bot.replies import t
from models import Outbox, User


class UserError(Exception):
    """An expected failure: the dispatcher replies with catalogue text *key*."""

    def __init__(self, key: str, **params):
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass
class Context:
    user: User
    now: datetime  # naive UTC
    lang: str
    settings: Settings
    commands: tuple = ()
    links: object = None  # bot.links.Links

    def t(self, key: str, **params) -> str:
        return t(key, self.lang, **params)

    def local(self, moment: datetime) -> datetime:
        """Return naive-UTC *moment* in the school's time zone."""
        return moment.replace(tzinfo=timezone.utc).astimezone(self.settings.school.tz)

    def hhmm(self, moment: datetime) -> str:
        """Format *moment* as HH:MM, with the date when it is not today (school time)."""
        local, today = self.local(moment), self.local(self.now)
        return local.strftime("%H:%M") if local.date() == today.date() else local.strftime("%m-%d %H:%M")

    def push(self, user: User, kind: str, text: str, key: str) -> bool:
        """Queue *text* for *user*; the unique *key* makes a repeat a no-op."""
        return enqueue(user, kind, text, key, self.now)

    def minutes_from_now(self, minutes: int) -> datetime:
        return self.now + timedelta(minutes=minutes)


def enqueue(user, kind: str, text: str, key: str, now: datetime) -> bool:
    """Write one push to the outbox (inside the caller's transaction); False if *key* was queued before."""
    inserted = (
        Outbox.insert(key=key, user=user, kind=kind, text=text, next_try_at=now, created_at=now)
        .on_conflict_ignore()
        .as_rowcount()
        .execute()
    )
    return bool(inserted)
