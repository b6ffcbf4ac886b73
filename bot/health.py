"""GET /healthz: is the database reachable and does it take a write? 200, or 503 saying what failed."""

from __future__ import annotations

import logging
import os

from flask import Blueprint, current_app, jsonify

from bot.database import is_sqlite, transaction
from models import WechatState, db

log = logging.getLogger("ketang.health")
bp = Blueprint("health", __name__)

HEARTBEAT = "healthz"  # the one WechatState row the check rewrites
MIN_FREE_BYTES = 1 << 20  # SQLite: under this, messages' writes start failing (WAL growth)
TIMEOUT_CODES = {"57014", "55P03"}  # PostgreSQL: statement or lock timeout fired


@bp.get("/healthz")
def healthz():
    """Connect, see that a SQLite disk has room, then commit an upsert of one heartbeat row.

    A read alone says ok while every write fails (a full disk, a read-only replica), and a write
    that is rolled back never reaches SQLite's disk, so the check commits one small row: the
    same queue (SQLite's writer lock) and the same timeouts as a message.
    """
    now = current_app.extensions["ketang"].clock()
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
            WechatState.insert(name=HEARTBEAT, value=now.isoformat()).on_conflict(
                conflict_target=[WechatState.name], update={WechatState.value: now.isoformat()}).execute()
    except Exception as exc:
        problem = "timed out" if _timed_out(exc) else "unreachable" if step == "connect" else "write failed"
        log.error("health check: database %s: %s", problem, exc)
        body = {"status": "error", "database": problem}
        if step == "write":  # the server's own words ("database or disk is full"); connect errors name hosts
            body["detail"] = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        return jsonify(body), 503
    return jsonify(status="ok", database="ok")


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
        if getattr(error, "pgcode", None) in TIMEOUT_CODES:
            return True
    return "database is locked" in str(exc)
