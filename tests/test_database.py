"""bot/database.py: nested transactions, a dropped connection, and the schema upgraded in place (init-db)."""

from __future__ import annotations

import os
import sqlite3
import threading

import pytest
from peewee import Psycopg2Adapter, Psycopg3Adapter

from app import create_app
from bot.database import connect, create_schema, transaction
from harness.live import LiveServer
from models import User, db
from tests.conftest import SECRET_KEY, T0, TOKEN


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


@pytest.mark.live
def test_a_connection_the_server_dropped_costs_one_busy_reply_at_most(tmp_path):
    """Against a real gunicorn worker: a PostgreSQL restart does not leave broken pooled connections behind."""
    import psycopg

    url = os.environ.get("KETANG_TEST_DATABASE_URL")
    if not url:
        pytest.skip("needs PostgreSQL: set KETANG_TEST_DATABASE_URL (.ci/run does)")
    live = LiveServer(tmp_path, url, workers=1)
    live.init_db()
    with live:
        wx = live.simulator()
        assert "学生" in wx.send_text("o_a", "我的信息")
        # What a server restart does to every pooled connection, done from a connection outside the pool.
        outside = psycopg.connect(url, autocommit=True)
        with outside.cursor() as cursor:
            cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND usename = current_user AND pid <> pg_backend_pid()")
            assert cursor.fetchone()[0] >= 1
        outside.close()
        replies = [wx.send_text("o_a", "我的信息") for _ in range(3)]
    assert all("学生" in r or "系统繁忙" in r for r in replies)
    assert sum("系统繁忙" in r for r in replies) <= 1 and "学生" in replies[-1]



def test_init_db_upgrades_a_table_from_an_older_version(tmp_path):

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute('CREATE TABLE "user" (id INTEGER PRIMARY KEY, openid VARCHAR(64) NOT NULL UNIQUE, role VARCHAR(16) '
                "NOT NULL, name VARCHAR(64), student_no VARCHAR(32), current_class_id INTEGER, subscribed INTEGER NOT "
                "NULL, created_at DATETIME NOT NULL, last_seen_at DATETIME)")
    old.execute("INSERT INTO user (openid, role, subscribed, created_at) VALUES ('o_old', 'student', 1, '2026-01-01')")
    old.commit()
    old.close()
    app = create_app({"database": {"url": f"sqlite:///{path}"}, "server": {"secret_key": SECRET_KEY}, "wechat": {"token": TOKEN}})
    with app.app_context():
        create_schema()
        create_schema()
        with db.connection_context():
            user = User.get(User.openid == "o_old")
            assert (user.verify_state, user.phone, user.lang) == ("not_given", None, "zh")  # lang: issue 19
            assert "user_phone" in {index.name for index in db.get_indexes("user")}


def test_an_old_outbox_table_gains_the_new_columns(app):
    db.execute_sql("DROP TABLE outbox")
    db.execute_sql("CREATE TABLE outbox (id INTEGER PRIMARY KEY, key VARCHAR(160) UNIQUE, user_id INTEGER, kind VARCHAR(32),"
                   " text TEXT, status VARCHAR(16), attempts INTEGER, next_try_at TIMESTAMP, created_at TIMESTAMP,"
                   " sent_at TIMESTAMP)")
    create_schema()
    assert {"claim", "lease_until", "channel", "msg_id", "delivery", "last_error"} <= {c.name for c in db.get_columns("outbox")}


def test_postgresql_urls_take_psycopg_3_and_postgresql_psycopg2_the_older_driver():
    """No connection is opened: which driver a URL names, and that psycopg 3 prepares repeated statements."""
    for url in ("postgresql://u:p@127.0.0.1/ketang", "postgres://u:p@127.0.0.1/ketang"):
        database = connect(url)
        assert isinstance(database._adapter, Psycopg3Adapter)
        assert database.connect_params["prepare_threshold"] == 1
    database = connect("postgresql://u:p@127.0.0.1/ketang?prepare_threshold=none")  # e.g. behind PgBouncer
    assert database.connect_params["prepare_threshold"] is None
    older = connect("postgresql+psycopg2://u:p@127.0.0.1/ketang")
    assert isinstance(older._adapter, Psycopg2Adapter) and "prepare_threshold" not in older.connect_params
    with pytest.raises(ValueError):
        connect("mysql://u:p@127.0.0.1/ketang")


@pytest.mark.skipif(not os.environ.get("KETANG_TEST_DATABASE_URL", "").startswith("postgres"), reason="PostgreSQL only")
def test_a_check_in_runs_prepared_statements_on_postgresql(app, wechat):
    """The hot statements are parsed and planned once per connection: after a few messages the session holds
    them as prepared statements (psycopg2 never prepares any), and a second check-in reuses them."""
    assert app.test_cli_runner().invoke(args=["make-teacher", "o_t"]).exit_code == 0
    code = wechat.send_text("o_t", "创建课堂 高等数学").split("课堂码：", 1)[1][:6]
    for student in ("o_s1", "o_s2", "o_s3"):
        wechat.send_text(student, f"加入 {code}")
    wechat.send_text("o_t", "上课")
    wechat.send_text("o_t", "开启签到 5")
    for student in ("o_s1", "o_s2", "o_s3"):
        assert "签到成功" in wechat.send_text(student, "签到")
    db.connect(reuse_if_open=True)
    prepared = [row[0] for row in db.execute_sql("SELECT statement FROM pg_prepared_statements").fetchall()]
    assert any(sql.startswith('INSERT INTO "response"') for sql in prepared), prepared


@pytest.mark.skipif(not os.environ.get("KETANG_TEST_DATABASE_URL", "").startswith("postgres"), reason="PostgreSQL only")
def test_after_a_restart_no_message_meets_a_second_dead_pooled_connection(app, wechat):
    """A burst left several connections in the pool and the server dropped them all (a restart): the first
    message to find a dead one has the others closed too, so every message is answered, none gets the busy reply."""
    import psycopg

    assert "学生" in wechat.send_text("o_a", "我的信息")
    together = threading.Barrier(4)

    def hold():  # each thread checks out its own pooled connection; all four are back in the pool after
        db.connect(reuse_if_open=True)
        together.wait(timeout=10)
        db.close()

    threads = [threading.Thread(target=hold) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    db.close()
    assert len(db.obj._connections) >= 4
    with psycopg.connect(os.environ["KETANG_TEST_DATABASE_URL"], autocommit=True) as outside:
        outside.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid()")
    replies = [wechat.send_text("o_a", "我的信息") for _ in range(4)]
    assert all("学生" in reply for reply in replies), replies
