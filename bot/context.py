"""What a handler gets: the user, the time, the language, settings, and the outbox."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from bot.config import Settings
from bot.replies import t
from models import Dialog, Outbox, User


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
    sms: object = None  # bot.sms.SmsSender
    # Callables run once the transaction is committed (slow calls such as the SMS gateway hold no lock);
    # one may return a str that replaces the reply, after undoing its own writes in a new transaction.
    after_commit: list = field(default_factory=list)

    def t(self, key: str, **params) -> str:
        return t(key, self.lang, **params)

    def local(self, moment: datetime) -> datetime:
        """Return naive-UTC *moment* in the school's time zone."""
        return moment.replace(tzinfo=timezone.utc).astimezone(self.settings.school.tz)

    def hhmm(self, moment: datetime) -> str:
        """Format *moment* as HH:MM, with the date when it is not today (school time)."""
        local, today = self.local(moment), self.local(self.now)
        return local.strftime("%H:%M") if local.date() == today.date() else local.strftime("%m-%d %H:%M")

    # --- multi-step dialogs, kept in the database so every worker sees them ---

    def start_dialog(self, flow: str, step: str, ttl: timedelta, **data) -> None:
        """Put the user into *flow* at *step* (replacing any other dialog)."""
        values = {"flow": flow, "step": step, "data": json.dumps(data, ensure_ascii=False), "expires_at": self.now + ttl}
        Dialog.insert(user=self.user, **values).on_conflict(conflict_target=[Dialog.user], update=values).execute()

    def dialog(self, flow: str | None = None) -> tuple[str, dict] | None:
        """Return (step, data) of the user's unexpired dialog (of *flow*, when given)."""
        row = Dialog.get_or_none(Dialog.user == self.user)
        if row is None or row.expires_at < self.now or (flow and row.flow != flow):
            return None
        return row.step, json.loads(row.data)

    def update_dialog(self, **changes) -> None:
        """Change the current dialog's data, keeping its step and expiry."""
        row = Dialog.get(Dialog.user == self.user)
        data = {**json.loads(row.data), **changes}
        Dialog.update(data=json.dumps(data, ensure_ascii=False)).where(Dialog.id == row.id).execute()

    def end_dialog(self) -> None:
        Dialog.delete().where(Dialog.user == self.user).execute()


def enqueue(user, kind: str, text: str, key: str, now: datetime) -> bool:
    """Write one push to the outbox (inside the caller's transaction); False if *key* was queued before."""
    return enqueue_many([(user, kind, text, key)], now) == 1


def enqueue_many(pushes, now: datetime) -> int:
    """Write (user, kind, text, key) pushes to the outbox in a few statements; return how many were new.

    A class's announcement is one row per student, written while the SQLite write lock is held: batches
    keep a 500-student class from stalling everyone's check-ins. Keys queued before are skipped.
    """
    rows = [{"key": key, "user": user, "kind": kind, "text": text, "next_try_at": now, "created_at": now}
            for user, kind, text, key in pushes]
    return sum(Outbox.insert_many(rows[i:i + PUSH_BATCH]).on_conflict_ignore().as_rowcount().execute()
               for i in range(0, len(rows), PUSH_BATCH))


PUSH_BATCH = 150  # rows per INSERT: 6 columns each stays under SQLite's oldest 999-variable limit
