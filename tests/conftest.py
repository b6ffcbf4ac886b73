"""Fixtures: settings, a frozen clock, the app on a fresh database, and a WeChat simulator."""

from __future__ import annotations

import dataclasses
import os
import threading
from datetime import datetime
from pathlib import Path

import pytest

from app import create_app
from bot.clock import FrozenClock
from bot.config import settings_from_dict
from bot.database import create_schema, is_sqlite
from bot.dispatch import Inbound
from bot.wxsim import WeChatSimulator
from models import MODELS, Classroom, db

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx5823bf96d3bd56c7"
TOKEN = "ketangTestToken2026"
SECRET_KEY = "t3st-Secret-key_for-Ketang-0123456789"  # 32+ characters of some variety (bot/config.py)
T0 = datetime(2026, 9, 7, 0, 0, 0)  # Monday 08:00 in Asia/Shanghai, naive UTC


def settings_dict(tmp_path: Path, aes: bool = True, **sections) -> dict:
    """A config mapping for one test: its own database, safe or plaintext mode."""
    url = os.environ.get("KETANG_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'ketang.db'}"
    data = {
        "wechat": {"app_id": APP_ID, "token": TOKEN, "encoding_aes_key": AES_KEY if aes else ""},
        "database": {"url": url},
        "server": {"public_url": "https://ketang.example.edu", "secret_key": SECRET_KEY},
        "roles": {"teacher_invite_code": "JOIN-STAFF"},
    }
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return data


def at_once(*calls) -> list:
    """Run *calls* in threads released together, each on its own database connection, taken before the release
    when the pool can give every call one (so the calls start as one: a race test's window), else after it (the
    rest queue for one); the test's own connection is closed meanwhile and opened again after. Returns what each
    call returned, in order; re-raises the first failure."""
    start = threading.Barrier(len(calls))
    early = len(calls) <= (getattr(db.obj, "_max_connections", None) or len(calls))  # SQLite: no pool
    results: list = [None] * len(calls)
    failures: list = []

    def run(n, call):
        if early:
            db.connect(reuse_if_open=True)
        start.wait(timeout=30)
        db.connect(reuse_if_open=True)  # (already open when early)
        try:
            results[n] = call()
        except BaseException as error:  # noqa: BLE001  (re-raised in the test's thread)
            failures.append(error)
        finally:
            db.close()

    db.close()
    threads = [threading.Thread(target=run, args=(n, call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.connect(reuse_if_open=True)
    if failures:
        raise failures[0]
    return results


def build_app(tmp_path: Path, clock, aes: bool = True, fresh: bool = True, vector_token: str = "", plugin=None,
              **sections):
    """An app on the test's database; fresh=False joins the data another app of this test made; *plugin*:
    what it runs instead of everything `create_app` runs by default.

    *vector_token* is the token of one of WeChat's official test vectors (`AAAAA`), which a config
    file may not use (too short): it replaces the validated one, as code building Settings may.
    """
    settings = settings_from_dict(settings_dict(tmp_path, aes, **sections))
    if vector_token:
        settings = dataclasses.replace(settings, wechat=dataclasses.replace(settings.wechat, token=vector_token))
    app = create_app(settings, clock=clock, **({"plugin": plugin} if plugin else {}))
    with app.app_context():
        if fresh and not is_sqlite():
            fresh_postgresql()
        else:
            create_schema()
    return app


# The shape of the current schema on PostgreSQL: (table, column) pairs and index names of MODELS' tables.
SHAPE = """SELECT 'c', table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()
           UNION ALL SELECT 'i', tablename, indexname FROM pg_indexes WHERE schemaname = current_schema()"""
_schema_shape: set = set()  # as create_schema left it in this process (empty: not known yet)


def fresh_postgresql() -> None:
    """An empty database of the current schema for a test on PostgreSQL, cheaply. When the tables are exactly as
    create_schema made them earlier in this run (no test since reshaped them: upgrade tests drop columns or make
    old tables), one TRUNCATE … RESTART IDENTITY empties them and restarts their ids, as dropping and creating
    them would, without the DDL; otherwise they are dropped and created."""
    global _schema_shape
    with db.connection_context():
        if _schema_shape and set(db.execute_sql(SHAPE).fetchall()) == _schema_shape:
            tables = ", ".join(f'"{model._meta.table_name}"' for model in MODELS)
            db.execute_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            return
        db.drop_tables(MODELS, safe=True, cascade=True)
        create_schema()
        _schema_shape = set(db.execute_sql(SHAPE).fetchall())
        tables = ", ".join(f'"{model._meta.table_name}"' for model in MODELS)
        db.execute_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    return True


@pytest.fixture
def clock():
    return FrozenClock(T0)


@pytest.fixture
def app(tmp_path, clock):
    app = build_app(tmp_path, clock, aes=True)
    yield app
    db.close()


@pytest.fixture
def client(app):
    return app.test_client()


def simulator_for(app, **kwargs) -> WeChatSimulator:
    """WeChat sending signed messages to *app* in-process (bot/wxsim.py)."""
    return WeChatSimulator.in_process(app, **kwargs)


@pytest.fixture
def wechat(app):
    return simulator_for(app)


class Chat:
    """Talk to the dispatcher directly (no HTTP): for handler tests with a frozen clock."""

    def __init__(self, app):
        self.dispatcher = app.extensions["ketang"].dispatcher
        self.count = 0

    def __call__(self, openid: str, text: str) -> str:
        self.count += 1
        db.connect(reuse_if_open=True)
        return self.dispatcher.handle(Inbound(openid=openid, key=f"msg:{self.count}", kind="text", text=text))

    def event(self, openid: str, event: str, key: str = "") -> str:
        self.count += 1
        return self.dispatcher.handle(Inbound(openid=openid, key=f"evt:{self.count}", kind="event", event=event, event_key=key))


@pytest.fixture
def say(app):
    return Chat(app)


@pytest.fixture
def teacher(app, say):
    """A teacher with one class; returns (openid, class code)."""
    runner = app.test_cli_runner()
    assert runner.invoke(args=["make-teacher", "o_teacher"]).exit_code == 0
    reply = say("o_teacher", "创建课堂 高等数学")
    assert "已创建课堂" in reply
    return "o_teacher", Classroom.get(Classroom.name == "高等数学").code


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright, one per browser test module (tests/browser.py)."""
    from tests.browser import launch_or_skip

    yield from launch_or_skip()

