"""Count the statements a piece of code sends to the database, at the driver: like Django's assertNumQueries.

    with counting() as sent:
        wechat.send_text("o_s1", "签到")
    assert len(sent) <= 7, sent

Every statement the connection runs is recorded, not only peewee's queries: BEGIN, COMMIT, ROLLBACK and
SAVEPOINTs, and on PostgreSQL whatever the pool sends when a request takes a connection (the block starts
with this thread's connection back in the pool, as a request does). SQLite reports
them through its trace hook; on PostgreSQL every cursor of the connection (the current one and the pool's)
is made a counting cursor for the duration. Tests and benchmarks share this (tests/test_statements.py,
bench/run.py).
"""

from __future__ import annotations

from contextlib import contextmanager

from bot.database import is_sqlite
from models import db


@contextmanager
def counting():
    """Record the SQL of every statement sent while the block runs (one thread, the bound database)."""
    sent: list[str] = []
    db.connect(reuse_if_open=True)
    if is_sqlite():
        conn = db.connection()
        conn.set_trace_callback(sent.append)
        try:
            yield sent
        finally:
            conn.set_trace_callback(None)
        return
    if type(db.connection()).__module__.startswith("psycopg2"):
        from psycopg2.extensions import cursor as plain
    else:
        from psycopg import Cursor as plain

    class Counting(plain):  # the driver's own cursor class: never another block's Counting (it would count too)
        def execute(self, query, params=None, **options):
            sent.append(query if isinstance(query, str) else query.decode())
            return super().execute(query, params, **options)

    pool = db.obj
    connections = [db.connection()] + [entry[2] for entry in getattr(pool, "_connections", [])]
    connections += [entry.connection for entry in getattr(pool, "_in_use", {}).values()]
    original = pool._connect

    def counted_connect():  # a connection opened meanwhile counts too
        conn = original()
        saved[id(conn)] = (conn, conn.cursor_factory)  # the driver's default, put back after
        conn.cursor_factory = Counting
        connections.append(conn)
        return conn

    saved = {id(conn): (conn, conn.cursor_factory) for conn in connections}
    for conn, _factory in saved.values():
        conn.cursor_factory = Counting
    pool._connect = counted_connect
    db.close()  # back to the pool, as between two requests: a request's check-out (and its ping) counts
    try:
        yield sent
    finally:
        del pool._connect
        for conn in connections:
            conn.cursor_factory = saved[id(conn)][1]
