"""Write transactions: nested ones commit once, a failed one leaves nothing, on either database."""

from __future__ import annotations

import pytest

from bot.database import transaction
from models import User
from tests.conftest import T0


def test_nested_transactions_commit_together_and_roll_back_together(app):
    with transaction():
        User.create(openid="o_outer", created_at=T0)
        with transaction():
            User.create(openid="o_inner", created_at=T0)
    assert User.select().count() == 2
    with pytest.raises(RuntimeError):
        with transaction():
            User.create(openid="o_lost", created_at=T0)
            raise RuntimeError("boom")
    assert not User.select().where(User.openid == "o_lost").exists()
    with transaction():  # the writer lock was released: the next write goes through
        User.create(openid="o_after", created_at=T0)
    assert User.select().count() == 3


def test_a_connection_the_server_dropped_costs_one_busy_reply_at_most(tmp_path):
    """Against a real gunicorn worker: a PostgreSQL restart does not leave broken pooled connections behind."""
    import os

    import psycopg2

    from harness.live import LiveServer

    url = os.environ.get("KETANG_TEST_DATABASE_URL")
    if not url:
        pytest.skip("needs PostgreSQL: set KETANG_TEST_DATABASE_URL (.ci/run does)")
    live = LiveServer(tmp_path, url, workers=1)
    live.init_db()
    with live:
        wx = live.simulator()
        assert "学生" in wx.send_text("o_a", "我的信息")
        # What a server restart does to every pooled connection, done from a connection outside the pool.
        outside = psycopg2.connect(url)
        outside.autocommit = True
        with outside.cursor() as cursor:
            cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND usename = current_user AND pid <> pg_backend_pid()")
            assert cursor.fetchone()[0] >= 1
        outside.close()
        replies = [wx.send_text("o_a", "我的信息") for _ in range(3)]
    assert all("学生" in r or "系统繁忙" in r for r in replies)
    assert sum("系统繁忙" in r for r in replies) <= 1 and "学生" in replies[-1]
