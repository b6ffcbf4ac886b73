"""The outbox writer: pushes are queued in the caller's transaction (bot/push.py delivers them later),
and the one rule for which channels can reach a user, shared by the sender and the handlers that warn."""

from __future__ import annotations

from datetime import datetime, timedelta

from peewee import chunked

from bot.config import Settings
from bot.database import ROWS_PER_INSERT
from models import ANNOUNCEMENT_KINDS, Outbox, User

WINDOW = timedelta(hours=48) - timedelta(minutes=5)  # customer-service window, with a safety margin


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
    return sum(Outbox.insert_many(batch).on_conflict_ignore().as_rowcount().execute() for batch in chunked(rows, ROWS_PER_INSERT))


def enqueue_each(recipients, kind: str, text_of, key_of, now: datetime) -> int:
    """Queue one push per (user id, lang) in *recipients*, written in that user's language: *text_of(lang)*
    is formatted once per language, *key_of(user_id)* is the row's key. Return how many were new."""
    texts: dict[str, str] = {}

    def text(lang: str) -> str:
        if lang not in texts:
            texts[lang] = text_of(lang)
        return texts[lang]

    return enqueue_many(((user, kind, text(lang), key_of(user)) for user, lang in recipients), now)




def template_id(kind: str, settings: Settings) -> str:
    templates = settings.wechat.templates
    return templates.announcement if kind in ANNOUNCEMENT_KINDS else templates.activity


def channels(user: User, kind: str, now: datetime, settings: Settings) -> list[str]:
    """How a push of *kind* can reach *user* now, best first ([] = it would wait unread or be skipped)."""
    if not settings.wechat.app_secret or not user.subscribed:
        return []
    seen = user.last_seen_at
    open_window = seen is not None and now - seen < WINDOW
    return (["custom"] if open_window else []) + (["template"] if template_id(kind, settings) else [])
