"""What a handler gets: the user, the time, the language, settings, and the dialog it is in."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from bot.catalogue import t
from bot.clock import epoch
from bot.config import Settings
from bot.grammar import Command
from bot.links import Links
from bot.sms import SmsSender
from models import Dialog, User

PLAINTEXT_TRUST = 15  # seconds: WeChat's third try comes about 15 s after the first
DEFAULT_TRUST = 300  # seconds, when max_clock_skew_seconds = 0 turned the request age check off


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
    # Set by the dispatcher when a command refused (a UserError) with nothing written yet: the message keeps nothing.
    refused: bool = False
    flows: Mapping = field(default_factory=dict)  # the plugin's dialog flows (bot.plugin.Flow), by name
    at_step: tuple[str, str] | None = None  # (flow, step) of the dialog this message answers; None: a command runs
    extensions: Mapping[str, tuple] = field(default_factory=dict)  # the plugin's extension points (Plugin.extensions)
    command: Command | None = None  # the command being run (None: a dialog step, an event, a fallback)
    args: Mapping = field(default_factory=dict)  # its parsed arguments

    def extension(self, name: str) -> tuple:
        """The functions the running plugins offer at extension point *name* (none: an empty tuple)."""
        return self.extensions.get(name, ())

    def t(self, key: str, **params) -> str:
        return t(key, self.lang, **params)

    @property
    def sent_at(self) -> datetime:
        """When WeChat received the message (its CreateTime), which is what "now" means for a code's freshness:
        a message typed in time and delivered late (a queued worker, a WeChat retry) is judged as typed.

        Trusted only inside a window before the server's clock, never after it: in safe mode the CreateTime is
        inside the signed, encrypted body, so the window is `max_clock_skew_seconds` (the age a request may have
        at all); in plaintext mode the body is unsigned, so only PLAINTEXT_TRUST seconds (a WeChat retry's
        delay). Outside the window the message counts as sent at its bound; without a CreateTime, now."""
        created = getattr(self.inbound, "created", 0)
        if not created:
            return self.now
        wechat = self.settings.wechat
        window = (wechat.max_clock_skew_seconds or DEFAULT_TRUST) if wechat.safe_mode else PLAINTEXT_TRUST
        now = epoch(self.now)
        return self.now - timedelta(seconds=now - min(max(created, now - window), now))

    def local(self, moment: datetime) -> datetime:
        """Return naive-UTC *moment* in the school's time zone."""
        return moment.replace(tzinfo=timezone.utc).astimezone(self.settings.school.tz)

    def hhmm(self, moment: datetime) -> str:
        """Format *moment* as HH:MM, with the date when it is not today (school time)."""
        local, today = self.local(moment), self.local(self.now)
        return local.strftime("%H:%M") if local.date() == today.date() else local.strftime("%m-%d %H:%M")

    # --- multi-step dialogs, kept in the database so every worker sees them ---

    def start_dialog(self, flow: str, step: str, ttl: timedelta, **data) -> None:
        """Put the user into *flow* at *step* (replacing any other dialog): a step the flow declares, where a
        command may start it or where the step being answered may move (ValueError otherwise)."""
        declared = self.flows.get(flow)
        at = self.at_step[1] if self.at_step and self.at_step[0] == flow else None
        if declared is None or not declared.may_go(step, at):
            raise ValueError(f"dialog flow {flow!r} declares no way to step {step!r} from {at or 'a command'}")
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
