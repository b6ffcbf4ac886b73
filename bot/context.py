"""What a handler gets: the user, the time, the language, settings, and the dialog it is in."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from bot.catalogue import t
from bot.config import Settings
from bot.grammar import Command
from bot.links import Links
from bot.sms import SmsSender
from models import Dialog, User


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
    commands: tuple[Command, ...] = ()
    links: Links | None = None
    sms: SmsSender | None = None
    # Callables run once the transaction is committed (slow calls such as the SMS gateway hold no lock);
    # one may return a str that replaces the reply, after undoing its own writes in a new transaction.
    after_commit: list = field(default_factory=list)
    inbound: object = None  # the message being answered (bot.dispatch.Inbound: its CreateTime, a scanner's result)
    extensions: Mapping[str, tuple] = field(default_factory=dict)  # the plugin's extension points (Plugin.extensions)

    def extension(self, name: str) -> tuple:
        """The functions the running plugins offer at extension point *name* (none: an empty tuple)."""
        return self.extensions.get(name, ())

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
