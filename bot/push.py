"""Outbox delivery, run only by the scheduler process.

Claim due rows (a conditional UPDATE; FOR UPDATE SKIP LOCKED on PostgreSQL), send each one through
the best channel open for its student (customer-service text inside the 48-hour window, else a
template message when one is configured, else keep it unread for the student's next reply), from a
small thread pool at a bounded rate, and record the outcome row by row. A row is marked sent right
after WeChat accepted it, so a crash repeats at most the messages in flight.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import requests
from peewee import OperationalError
from wechatpy.exceptions import WeChatClientException

from bot.config import Settings
from bot.database import is_sqlite, transaction
from bot.outbox import channels, template_id
from bot.wechat_api import TokenError
from models import ANNOUNCEMENT_KINDS, DROPPED, FAILED, PENDING, SENT, SKIPPED, UNREAD, Outbox, User, WechatState, db

log = logging.getLogger("ketang.push")

OUT_OF_WINDOW = {45015, 45047}  # outside the 48 h window / over its message count: next channel
UNFOLLOWED = 43004
QUOTA = 45009  # daily quota spent: stop calling
PER_MINUTE = 45011
MAX_ATTEMPTS = 8
BATCH = 100
RUN_BUDGET = 50  # seconds one run may spend before letting the next run take over
QUOTA_PAUSE = timedelta(hours=1)
TOKEN_WAIT = timedelta(minutes=1)  # no token (wrong secret, IP whitelist): try again this much later
STALE_AFTER = timedelta(minutes=30)  # a lesson or activity notice older than this is noise: skip it
PAUSE_KEY = "pushes_paused"


@dataclass
class Outcome:
    """What happened to one row: its new status and the details to store."""

    status: str
    channel: str | None = None
    msg_id: str | None = None
    error: str | None = None
    retry_at: datetime | None = None
    refund: bool = False  # the attempt did not count (quota pause)


def backoff(attempts: int) -> timedelta:
    """Wait 10 s, 20 s, 40 s ... up to 30 min before attempt number *attempts* + 1."""
    return min(timedelta(seconds=10 * 2 ** max(attempts - 1, 0)), timedelta(minutes=30))


class Pace:
    """Allow at most *per_second* calls per second across threads."""

    def __init__(self, per_second: int):
        self.gap = 1.0 / per_second
        self.next = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            slot = max(self.next, time.monotonic())
            self.next = slot + self.gap
        time.sleep(max(0.0, slot - time.monotonic()))


def claim(now: datetime, lease: timedelta, limit: int = BATCH) -> list[Outbox]:
    """Claim up to *limit* due rows for this process; no other process gets them until the lease ends."""
    token = uuid.uuid4().hex
    due = ((Outbox.status == PENDING) & (Outbox.next_try_at <= now)
           & (Outbox.lease_until.is_null() | (Outbox.lease_until < now)))
    with transaction():
        ids = Outbox.select(Outbox.id).where(due).order_by(Outbox.next_try_at, Outbox.id).limit(limit)
        if not is_sqlite():
            ids = ids.for_update(skip_locked=True)
        Outbox.update(claim=token, lease_until=now + lease, attempts=Outbox.attempts + 1).where(
            Outbox.id.in_(ids) & due).execute()
    return list(Outbox.select(Outbox, User).join(User).where(Outbox.claim == token).order_by(Outbox.id))


def record(row: Outbox, outcome: Outcome, now: datetime) -> None:
    """Store *outcome* for *row* and release the claim."""
    fields = {Outbox.status: outcome.status, Outbox.claim: None, Outbox.lease_until: None,
              Outbox.last_error: (outcome.error or "")[:200] or None}
    if outcome.status == SENT:
        fields.update({Outbox.channel: outcome.channel, Outbox.msg_id: outcome.msg_id, Outbox.sent_at: now})
    if outcome.retry_at:
        fields[Outbox.next_try_at] = outcome.retry_at
    if outcome.refund:
        fields[Outbox.attempts] = Outbox.attempts - 1
    Outbox.update(fields).where(Outbox.id == row.id).execute()


def record_surely(row: Outbox, outcome: Outcome, now: datetime, tries: int = 4) -> None:
    """Record *outcome*, waiting out a busy database: an unrecorded send would be sent again."""
    for attempt in range(tries):
        try:
            return record(row, outcome, now)
        except OperationalError:
            if attempt == tries - 1:
                raise
            log.warning("recording push %s waits for the database", row.key)
            time.sleep(0.5 * (attempt + 1))


def paused_until(now: datetime) -> datetime | None:
    """When pushes resume after a 45009 (daily quota), or None when they are not paused."""
    row = WechatState.get_or_none(WechatState.name == PAUSE_KEY)
    return row.expires_at if row and row.expires_at and row.expires_at > now else None


def pause(now: datetime, reason: str) -> datetime:
    """Stop every push until QUOTA_PAUSE from *now* (shared by every scheduler through the database)."""
    until = now + QUOTA_PAUSE
    (WechatState.insert(name=PAUSE_KEY, value=reason, expires_at=until)
     .on_conflict(conflict_target=[WechatState.name], update={WechatState.value: reason, WechatState.expires_at: until})
     .execute())
    log.error("WeChat quota exhausted (%s): pushes paused until %s UTC", reason, until)
    return until


class Pusher:
    """The drain_outbox job: Pusher(settings, api)(now) delivers what is due."""

    def __init__(self, settings: Settings, api=None):
        self.settings = settings
        self.api = api  # bot.wechat_api.WechatApi, or None when no app_secret is configured
        conf = settings.scheduler
        self.lease = timedelta(seconds=conf.push_lease_seconds)
        # A batch must be sent well within its lease, or another scheduler could claim it again.
        self.batch = max(1, min(BATCH, conf.push_per_second * conf.push_lease_seconds // 2))
        self.pace = Pace(conf.push_per_second)
        self.pool = ThreadPoolExecutor(max_workers=conf.push_threads, thread_name_prefix="push")
        self.stop = threading.Event()
        self.resume_at: datetime | None = None

    def __call__(self, now: datetime) -> int:
        """Deliver due rows, batch after batch, for at most RUN_BUDGET seconds; return how many went out."""
        if paused_until(now):
            return 0
        started, sent = time.monotonic(), 0
        self.stop.clear()
        while time.monotonic() - started < RUN_BUDGET and not self.stop.is_set():
            moment = now + timedelta(seconds=int(time.monotonic() - started))  # whole seconds, like the clock
            rows = claim(moment, self.lease, self.batch)
            if not rows:
                break
            outcomes = list(self.pool.map(self.deliver, rows, [moment] * len(rows)))
            sent += sum(o.status == SENT for o in outcomes)
        if sent:
            log.info("pushed %d messages", sent)
        return sent

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def deliver(self, row: Outbox, now: datetime) -> Outcome:
        """Send one row on this thread's own connection and record what happened."""
        with db.connection_context():
            try:
                outcome = self.send(row, now)
            except Exception as error:  # a bug or the database: retry later rather than lose the row
                log.exception("push %s failed unexpectedly", row.key)
                outcome = self.retry(row, now, f"{type(error).__name__}: {error}")
            record_surely(row, outcome, now)
            return outcome

    def send(self, row: Outbox, now: datetime) -> Outcome:
        """Try each open channel in turn; keep the row when none is open."""
        if not row.user.subscribed:
            return Outcome(DROPPED, error="unsubscribed")
        if row.kind not in ANNOUNCEMENT_KINDS and now - row.created_at > STALE_AFTER:
            return Outcome(SKIPPED, error="stale")
        for channel in self.channels(row, now):
            if self.stop.is_set():
                return Outcome(PENDING, retry_at=self.resume_at, refund=True)
            try:
                self.pace.wait()
                return Outcome(SENT, channel=channel, msg_id=self.call(channel, row, now))
            except WeChatClientException as error:
                outcome = self.on_error(error, row, now)
            except requests.RequestException as error:
                outcome = self.retry(row, now, f"{type(error).__name__}: {error}")
            if outcome is not None:
                return outcome
        return self.keep(row)

    def channels(self, row: Outbox, now: datetime) -> list[str]:
        """The channels that can reach this student now, best first."""
        return channels(row.user, row.kind, now, self.settings) if self.api is not None else []

    def call(self, channel: str, row: Outbox, now: datetime) -> str | None:
        if channel == "custom":
            self.api.send_text(row.user.openid, row.text)
            return None
        return self.api.send_template(row.user.openid, template_id(row.kind, self.settings),
                                      template_data(row, now, self.settings))

    def on_error(self, error: WeChatClientException, row: Outbox, now: datetime) -> Outcome | None:
        """Decide what a WeChat error means for this row; None = try the next channel."""
        code = error.errcode
        if isinstance(error, TokenError):
            self.resume_at = now + TOKEN_WAIT
            self.stop.set()
            log.error("no access token (%s %s): pushes wait until %s UTC", code, error.errmsg, self.resume_at)
            return Outcome(PENDING, retry_at=self.resume_at, error=f"token: {code} {error.errmsg}", refund=True)
        if code in OUT_OF_WINDOW:
            return None
        if code == UNFOLLOWED:
            User.update(subscribed=False).where(User.id == row.user_id).execute()
            return Outcome(DROPPED, error=f"{code} not following")
        if code == QUOTA:
            self.resume_at = pause(now, f"{code} {error.errmsg}")
            self.stop.set()
            return Outcome(PENDING, retry_at=self.resume_at, error=f"{code} quota", refund=True)
        if code == PER_MINUTE:
            return self.retry(row, now, f"{code} per-minute limit", at_least=timedelta(seconds=60))
        return self.retry(row, now, f"{code} {error.errmsg}")

    def retry(self, row: Outbox, now: datetime, error: str, at_least: timedelta = timedelta(0)) -> Outcome:
        """Try again later with back-off; after MAX_ATTEMPTS give up (an announcement stays unread)."""
        if row.attempts >= MAX_ATTEMPTS:
            log.warning("push %s gave up after %d attempts: %s", row.key, row.attempts, error)
            return Outcome(UNREAD if row.kind in ANNOUNCEMENT_KINDS else FAILED, error=error)
        return Outcome(PENDING, error=error, retry_at=now + max(backoff(row.attempts), at_least))

    def keep(self, row: Outbox) -> Outcome:
        """No channel reaches the student: an announcement waits for their next reply; the rest is stale by then."""
        return Outcome(UNREAD if row.kind in ANNOUNCEMENT_KINDS else SKIPPED)


def template_data(row: Outbox, now: datetime, settings: Settings) -> dict:
    """The template's fields: keyword1 = the text (20 characters, WeChat's limit), keyword2 = the time."""
    text = " ".join(row.text.split())
    local = row.created_at.replace(tzinfo=timezone.utc).astimezone(settings.school.tz)
    short = text if len(text) <= 20 else text[:19] + "…"
    return {"keyword1": {"value": short}, "keyword2": {"value": local.strftime("%Y-%m-%d %H:%M")}}
