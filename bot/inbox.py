"""A student's undelivered pushes: counted in every reply, shown by 公告, and template receipts."""

from __future__ import annotations

import logging
from datetime import datetime

from peewee import fn

from bot.catalogue import t
from bot.prepared import Prepared
from models import ANNOUNCEMENT_KINDS, PENDING, READ, SENT, UNREAD, Outbox, User

log = logging.getLogger("ketang.inbox")


# Every reply asks, so the count is compiled once (bot/prepared.py).
_UNREAD = Prepared(lambda user, status: Outbox.select(fn.COUNT(Outbox.id))
                   .where((Outbox.user == user) & (Outbox.status == status)))


def unread_count(user: User) -> int:
    return _UNREAD.scalar(user, UNREAD)


def unread_note(user: User, lang: str) -> str:
    """The line added to a reply while pushes wait unread ("" when none)."""
    n = unread_count(user)
    return t("unread_note", lang, n=n) if n else ""


def unread_rows(user: User) -> list[tuple[int, str]]:
    """The user's unread pushes as (id, text), oldest first."""
    rows = (Outbox.select(Outbox.id, Outbox.text).where((Outbox.user == user) & (Outbox.status == UNREAD))
            .order_by(Outbox.created_at, Outbox.id))
    return [(row.id, row.text) for row in rows]


def mark_read(ids: list[int]) -> None:
    """Mark the pushes *ids* read: only those a reply actually showed (公告 may show fewer than wait)."""
    for i in range(0, len(ids), 500):
        Outbox.update(status=READ).where(Outbox.id.in_(ids[i:i + 500]) & (Outbox.status == UNREAD)).execute()


def template_finished(user: User, msg_id: str, status: str, now: datetime) -> str:
    """Record WeChat's TEMPLATESENDJOBFINISH report for the template message *msg_id*; reply nothing."""
    row = Outbox.get_or_none((Outbox.msg_id == msg_id) & (Outbox.user == user) & (Outbox.status == SENT)) if msg_id else None
    if row is None:
        log.info("template report for unknown MsgID %r from %s: %s", msg_id, user.openid, status)
        return ""
    fields = {Outbox.delivery: (status or "unknown")[:32]}
    if status.startswith("failed") and "block" in status:
        if row.kind in ANNOUNCEMENT_KINDS:
            fields[Outbox.status] = UNREAD  # the student blocks template messages: their next reply says so
    elif status.startswith("failed"):
        fields.update({Outbox.status: PENDING, Outbox.next_try_at: now})  # WeChat could not deliver: try again
    Outbox.update(fields).where(Outbox.id == row.id).execute()
    return ""
