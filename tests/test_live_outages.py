"""A bad day against a real gunicorn: no secret key, a database that is gone, a full disk, a read-only
database, a table lock held elsewhere. The webhook never answers 5xx (the busy reply, and a retry
after recovery is processed once) and /healthz answers 503 with what failed, within WeChat's 5 s."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from bot.catalogue import t
from harness.live import INVITE, LiveServer, connected, free_port, reset_database, write_config
from models import Classroom, InboundMessage, User, db

BUSY = t("busy", "zh")
PG_URL = os.environ.get("KETANG_TEST_DATABASE_URL")
pytestmark = pytest.mark.live
needs_pg = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: set KETANG_TEST_DATABASE_URL (.ci/run does)")


def healthz(server) -> tuple[int, dict, float]:
    started = time.monotonic()
    response = requests.get(server.url + "/healthz", timeout=15)
    return response.status_code, response.json(), time.monotonic() - started


def deliver(server, wx, signed) -> tuple[str, float]:
    """Post one signed (query, body) the way WeChat does; the reply text and how long it took."""
    started = time.monotonic()
    status, body = wx.post(*signed)
    assert status == 200, (status, body[:300])
    return wx.read_reply(body), time.monotonic() - started


# --- item 9: no secret_key, several workers ----------------------------------------------------


def test_without_a_secret_key_every_worker_and_process_accepts_the_same_links(tmp_path):
    live = LiveServer(tmp_path, workers=3, secret_key="")
    live.init_db()
    with live:
        wx = live.simulator()
        wx.send_text("o_teacher", f"教师认证 {INVITE}")
        created = wx.send_text("o_teacher", "创建课堂 高等数学")
        path = re.search(r"https://ketang\.example\.edu(/qr/\S+\.png)", created).group(1)
        # A new connection per request, as browsers scanning a poster do: the workers take turns.
        statuses = [requests.get(live.url + path, timeout=15).status_code for _ in range(30)]
        assert statuses == [200] * 30
        assert len(live.worker_pids()) == 3
        # Another process (the CLI, the scheduler) derives the same key from the same config.
        with connected(live.config) as app:
            kt = app.extensions["ketang"]
            code = Classroom.get().code
            token = kt.links.token("qr", code, kt.clock(), timedelta(days=1))
        assert requests.get(f"{live.url}/qr/{token}.png", timeout=15).status_code == 200
        assert requests.get(f"{live.url}/qr/{token[:-2]}xx.png", timeout=15).status_code == 403


# --- item 10: a database that cannot be reached ------------------------------------------------


def assert_down(live, wx, signed, problem="unreachable"):
    for _ in range(4):  # every worker
        reply, took = deliver(live, wx, signed)
        assert reply == BUSY and took < 5
    status, body, took = healthz(live)
    assert (status, body["status"], body["database"]) == (503, "error", problem) and took < 5, body


def assert_processed_once(live, wx, signed):
    """WeChat's retry of a message that got the busy reply is processed, once."""
    first, _ = deliver(live, wx, signed)
    again, _ = deliver(live, wx, signed)
    assert "成为教师" in first and again == first
    with connected(live.config):
        assert InboundMessage.select().count() == 1
        assert User.get(User.openid == "o_teacher").role == "teacher"
    status, body, _ = healthz(live)
    # The skew is each worker's until it writes the heartbeat row: /healthz answered by the other worker may
    # have seen none yet (None), never a wrong one.
    skew = body["clock_skew_seconds"]
    assert (status, body["status"], body["database"]) == (200, "ok", "ok") and (skew is None or abs(skew) < 300), body


def test_sqlite_database_that_is_not_there_gets_busy_replies_and_recovers(tmp_path):
    volume = tmp_path / "volume"  # not mounted yet: the database's directory does not exist
    live = LiveServer(tmp_path, f"sqlite:///{volume / 'ketang.db'}", workers=2, healthy=False)
    with live:
        wx = live.simulator()
        signed = wx.sign(wx.text_xml("o_teacher", f"教师认证 {INVITE}"))
        assert_down(live, wx, signed)
        volume.mkdir()
        live.init_db()
        assert_processed_once(live, wx, signed)


class Forwarder:
    """A TCP relay from a loopback port to PostgreSQL: `stop` cuts access as a network outage does."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = free_port()
        self.listener: socket.socket | None = None
        self.sockets: list[socket.socket] = []

    def start(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def stop(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
        except OSError:
            pass
        self.listener.close()
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self.sockets.clear()

    def _accept(self, listener) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target, timeout=5)
            upstream.settimeout(None)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def via(url: str, port: int) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{credentials}127.0.0.1:{port}"))


@needs_pg
def test_postgresql_that_cannot_be_reached_gets_busy_replies_and_recovers(tmp_path):
    direct = tmp_path / "direct"
    direct.mkdir()
    reset_database(write_config(direct, PG_URL))
    parts = urlsplit(PG_URL)
    relay = Forwarder((parts.hostname or "127.0.0.1", parts.port or 5432))  # nobody listens on its port yet
    live = LiveServer(tmp_path, via(PG_URL, relay.port), workers=2, healthy=False)
    try:
        with live:
            wx = live.simulator()
            signed = wx.sign(wx.text_xml("o_teacher", f"教师认证 {INVITE}"))
            assert_down(live, wx, signed)
            relay.start()
            assert_processed_once(live, wx, signed)
            relay.stop()  # the network goes away under open pooled connections
            later = wx.sign(wx.text_xml("o_teacher", "我的信息"))
            reply, took = deliver(live, wx, later)
            assert reply == BUSY and took < 5
            relay.start()
            for _ in range(3):  # the pool drops the dead connections it hands out, then reconnects
                reply, _ = deliver(live, wx, later)
                if reply != BUSY:
                    break
            assert "教师" in reply
    finally:
        relay.stop() if relay.listener else None


# --- item 11: every write fails while reads work -----------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """An 8 MiB tmpfs (a real file system that can fill up); skipped where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"needs root to mount a small tmpfs (mount said: {done.stderr.strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    """Fill *directory*'s file system to the last byte. Unbuffered: a buffered file would keep the bytes the
    full disk refused and raise ENOSPC again when closed."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as out:
        try:
            while out.write(b"\0" * 65536):
                pass
        except OSError:
            pass
    return filler


def test_healthz_fails_when_the_disk_is_full_and_recovers(tmp_path, small_disk):
    live = LiveServer(tmp_path, f"sqlite:///{small_disk / 'ketang.db'}", workers=2)
    live.init_db()
    with live:
        wx = live.simulator()
        assert "成为教师" in wx.send_text("o_teacher", f"教师认证 {INVITE}")
        assert healthz(live)[0] == 200
        filler = fill(small_disk)
        assert wx.send_text("o_teacher", "创建课堂 高等数学") == BUSY  # reads work, writes do not
        status, body, _ = healthz(live)
        assert (status, body["database"]) == (503, "disk full"), body
        assert "free" in body["detail"]
        filler.unlink()
        assert healthz(live)[0] == 200
        assert "已创建课堂" in wx.send_text("o_teacher", "创建课堂 高等数学")


def outside_connection():
    import psycopg

    return psycopg.connect(PG_URL, autocommit=True)


def terminate_server_connections(cursor) -> None:
    cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                   "AND usename = current_user AND pid <> pg_backend_pid()")


@needs_pg
def test_healthz_fails_when_postgresql_turns_read_only(tmp_path):
    live = LiveServer(tmp_path, PG_URL, workers=1)
    live.init_db()
    outside = outside_connection()
    try:
        with live:
            wx = live.simulator()
            assert "成为教师" in wx.send_text("o_teacher", f"教师认证 {INVITE}")
            with outside.cursor() as cursor:  # as after a failover to a read-only standby
                cursor.execute("ALTER DATABASE " + outside.info.dbname + " SET default_transaction_read_only = on")
                terminate_server_connections(cursor)
            for _ in range(3):  # the first checkouts find the terminated connections
                status, body, _ = healthz(live)
                if "read-only" in body.get("detail", ""):
                    break
            assert (status, body["database"]) == (503, "write failed") and "read-only" in body["detail"], body
            assert wx.send_text("o_teacher", "创建课堂 高等数学") == BUSY
            with outside.cursor() as cursor:
                cursor.execute("ALTER DATABASE " + outside.info.dbname + " RESET default_transaction_read_only")
                terminate_server_connections(cursor)
            for _ in range(3):
                if healthz(live)[0] == 200:
                    break
            assert healthz(live)[0] == 200
    finally:
        with outside.cursor() as cursor:
            cursor.execute("ALTER DATABASE " + outside.info.dbname + " RESET default_transaction_read_only")
        outside.close()


# --- item 13: a lock held elsewhere on PostgreSQL ----------------------------------------------


@needs_pg
def test_a_table_lock_held_elsewhere_gets_the_busy_reply_within_the_timeout(tmp_path):
    live = LiveServer(tmp_path, PG_URL, workers=2)
    live.init_db()
    outside = outside_connection()
    outside.autocommit = False
    release = threading.Timer(12, outside.rollback)  # bounded even if the server hangs
    try:
        with live:
            wx = live.simulator()
            assert "成为教师" in wx.send_text("o_teacher", f"教师认证 {INVITE}")
            with outside.cursor() as cursor:
                cursor.execute("LOCK TABLE inbound_message, wechat_state IN ACCESS EXCLUSIVE MODE")
            release.start()
            signed = wx.sign(wx.text_xml("o_teacher", "创建课堂 高等数学"))
            reply, took = deliver(live, wx, signed)
            assert reply == BUSY and took < 4, (reply, took)
            status, body, took = healthz(live)
            assert (status, body["database"]) == (503, "timed out") and took < 4, (body, took)
            release.cancel()
            outside.rollback()
            reply, _ = deliver(live, wx, signed)  # WeChat's retry, after the lock is gone
            assert "已创建课堂" in reply
            with connected(live.config):
                assert Classroom.select().count() == 1
    finally:
        release.cancel()
        outside.rollback()
        outside.close()


@needs_pg
def test_postgresql_sessions_start_with_the_configured_timeouts(tmp_path):
    config = write_config(tmp_path, PG_URL)
    config.write_text(config.read_text(encoding="utf-8").replace(
        "[database]\n", "[database]\nstatement_timeout_ms = 1500\nlock_timeout_ms = 700\n"), encoding="utf-8")
    with connected(config) as app:
        assert app.config["KETANG"].database.statement_timeout_ms == 1500
        assert db.execute_sql("SHOW statement_timeout").fetchone()[0] == "1500ms"
        assert db.execute_sql("SHOW lock_timeout").fetchone()[0] == "700ms"


def test_a_sqlite_write_lock_held_elsewhere_gets_the_busy_reply_and_healthz_does_not_hang(tmp_path):
    live = LiveServer(tmp_path, workers=2)
    live.init_db()
    with live:
        wx = live.simulator()
        assert "成为教师" in wx.send_text("o_teacher", f"教师认证 {INVITE}")
        outside = sqlite3.connect(tmp_path / "ketang.db", isolation_level=None)
        try:
            outside.execute("BEGIN IMMEDIATE")  # another program holds SQLite's write lock
            signed = wx.sign(wx.text_xml("o_teacher", "创建课堂 高等数学"))
            reply, took = deliver(live, wx, signed)
            assert reply == BUSY and took < 5, (reply, took)
            status, body, took = healthz(live)
            assert (status, body["database"]) == (503, "timed out") and took < 5, (body, took)
        finally:
            outside.execute("ROLLBACK")
            outside.close()
        assert "已创建课堂" in deliver(live, wx, signed)[0]  # the retry, once the lock is gone
