"""GET /healthz: is the database reachable, does it take a write, and does this server's clock agree with
WeChat's? 200, or 503 saying what failed. Also the app-wide 503 page for a database that is down."""

from __future__ import annotations

import json
import logging
import os

from flask import Blueprint, Response, current_app, jsonify
from peewee import InterfaceError, InternalError, OperationalError
from playhouse.pool import MaxConnectionsExceeded

from bot.catalogue import t
from bot.clock import epoch
from bot.database import is_sqlite, transaction
from models import WechatState, db

log = logging.getLogger("ketang.health")
bp = Blueprint("health", __name__)

HEARTBEAT = "healthz"  # the one WechatState row the check rewrites
MIN_FREE_BYTES = 1 << 20  # SQLite: under this, messages' writes start failing (WAL growth)
TIMEOUT_CODES = {"57014", "55P03"}  # PostgreSQL: statement or lock timeout fired
RECENT_SKEW = 600  # seconds: a clock skew seen in a signed request longer ago than this is not reported
SEEN = "ketang.skew"  # app.extensions: this process's latest signed request, (skew in seconds, when: server epoch)


def saw_signed(timestamp: int, now: int) -> None:
    """Remember the skew of a correctly signed WeChat request (its timestamp minus our clock), even one
    refused as too old: /healthz reports it (one tuple stored, no I/O on the webhook's path)."""
    current_app.extensions[SEEN] = (timestamp - now, now)


@bp.get("/healthz")
def healthz():
    """Connect, see that a SQLite disk has room, then commit an upsert of one heartbeat row.

    A read alone says ok while every write fails (a full disk, a read-only replica), and a write
    that is rolled back never reaches SQLite's disk, so the check commits one small row: the
    same queue (SQLite's writer lock) and the same timeouts as a message.
    """
    kt = current_app.extensions["ketang"]
    now = kt.clock()
    step = "connect"
    try:
        db.connect(reuse_if_open=True)
        # A full disk is named as such, whether or not the heartbeat still squeezes in (checked first,
        # as the failed write would otherwise be reported as a bare "write failed").
        free = _sqlite_free_bytes()
        if free is not None and free < MIN_FREE_BYTES:
            log.error("health check: %d bytes free beside the SQLite database", free)
            return jsonify(status="error", database="disk full", detail="less than 1 MiB free beside the database"), 503
        step = "write"
        with transaction():
            skew = _shared_skew(now)
            value = json.dumps({"beat": now.isoformat(), "skew": skew})
            WechatState.insert(name=HEARTBEAT, value=value).on_conflict(
                conflict_target=[WechatState.name], update={WechatState.value: value}).execute()
    except Exception as exc:
        problem = "timed out" if _timed_out(exc) else "unreachable" if step == "connect" else "write failed"
        log.error("health check: database %s: %s", problem, exc)
        body = {"status": "error", "database": problem}
        if step == "write":  # the server's own words ("database or disk is full"); connect errors name hosts
            body["detail"] = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        return jsonify(body), 503
    return _clock_verdict(skew, kt.settings.wechat.max_clock_skew_seconds, epoch(now))


def _shared_skew(now) -> list | None:
    """The latest [skew, when] any worker saw (in the heartbeat row) or this one did, whichever is newer."""
    row = WechatState.get_or_none(WechatState.name == HEARTBEAT)
    try:
        stored = json.loads(row.value)["skew"] if row else None
    except (ValueError, TypeError, KeyError):
        stored = None  # a heartbeat written before skews were kept (an ISO time)
    mine = current_app.extensions.get(SEEN)
    if mine and (not stored or mine[1] >= stored[1]):
        return list(mine)
    return stored


def _clock_verdict(skew: list | None, allowed: int, now: int):
    """200 with the skew of recent signed requests; 503 when it is past the allowance (every message refused)."""
    recent = skew if skew and now - skew[1] <= RECENT_SKEW else None
    seconds = recent[0] if recent else None
    if seconds is not None and allowed and abs(seconds) > allowed:
        log.error("health check: WeChat's requests are signed %+d s from this server's clock (allowed %d)", seconds, allowed)
        return jsonify(status="error", database="ok", clock="skewed", clock_skew_seconds=seconds, allowed_seconds=allowed,
                       detail=f"WeChat's requests are signed {seconds:+d} s from this server's clock, more than "
                              f"max_clock_skew_seconds ({allowed}): every message is refused. Set the clock (NTP)."), 503
    return jsonify(status="ok", database="ok", clock_skew_seconds=seconds)


def unavailable(error: Exception):
    """Any page whose database is down, read-only or full: 503 with a page that says so (never a bare 500)."""
    log.error("database unavailable: %s", error)
    text = "\n".join(f"<p>{t('unavailable_page', lang)}</p>" for lang in ("zh", "en"))
    page = f'<!doctype html><meta charset="utf-8"><title>503</title>{text}'
    return Response(page, status=503, mimetype="text/html", headers={"Retry-After": "30", "Cache-Control": "no-store"})


def init_app(app) -> None:
    """Register /healthz and the 503 page for every route's database failures."""
    app.register_blueprint(bp)
    # Down, full, locked (OperationalError), gone mid-connection (InterfaceError), read-only (InternalError on
    # PostgreSQL), the pool spent; an IntegrityError or a programming error stays a 500 and is logged as a bug.
    for error in (OperationalError, InterfaceError, InternalError, MaxConnectionsExceeded):
        app.register_error_handler(error, unavailable)


def _sqlite_free_bytes() -> int | None:
    """Free space on the SQLite database's file system (None on PostgreSQL or in memory).

    A small commit can still fit in WAL space a failed one left behind while every message's
    larger write fails with "database or disk is full", so the heartbeat alone is not enough.
    """
    path = getattr(db.obj, "database", "") or ""
    if not is_sqlite() or not path or path == ":memory:" or path.startswith("file:"):
        return None
    stat = os.statvfs(os.path.dirname(os.path.abspath(path)))
    return stat.f_bavail * stat.f_frsize


def _timed_out(exc: BaseException) -> bool:
    """Whether *exc* is a lock or statement timeout (PostgreSQL) or SQLite's busy timeout."""
    for error in (exc, *exc.args[:1], exc.__cause__, exc.__context__):
        if (getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)) in TIMEOUT_CODES:  # psycopg 3, 2
            return True
    return "database is locked" in str(exc)
