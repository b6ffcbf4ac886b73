"""The seam: bot/ is machinery that knows nothing of classrooms; the classroom plugs in through a Plugin."""

from __future__ import annotations

import ast
from pathlib import Path

import click
import pytest
from peewee import Model

import models
from app import create_app
from bot.database import create_schema, is_sqlite
from bot.grammar import Command, en, zh
from bot.plugin import Flow, Job, Plugin
from handlers.plugin import CLASSROOM
from models import db
from tests.conftest import settings_dict, simulator_for

ROOT = Path(__file__).resolve().parent.parent


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """Every (module, names) imported anywhere in *path*, lazy imports inside functions included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def test_bot_imports_neither_the_classroom_nor_its_tables():
    classroom_tables = {name for name, value in vars(models).items()
                        if isinstance(value, type) and issubclass(value, Model) and value not in models.MACHINERY_TABLES
                        and value is not models.BaseModel}
    assert {"Classroom", "Activity", "School", "ClassQr"} <= classroom_tables  # the check can fail
    wrong = []
    for path in sorted((ROOT / "bot").glob("*.py")):
        for module, names in imports(path):
            if module.split(".")[0] in ("handlers", "app") or (module == "bot" and "handlers" in names):
                wrong.append(f"{path.name} imports {module}")
            if module == "models":
                wrong += [f"{path.name} imports the classroom table {n}" for n in names if n in classroom_tables]
    assert wrong == []


def test_the_classroom_declares_what_it_adds():
    assert {c.name for c in CLASSROOM.commands} >= {"join", "check_in", "start_lesson"}
    assert set(CLASSROOM.flows) == {"verify", "bind_phone", "join_identity"}
    assert {job.name for job in CLASSROOM.jobs if isinstance(job, Job)} >= {"close_due_activities", "close_roll_calls"}
    assert {c.name for c in CLASSROOM.cli} == {"make-teacher", "import-roster", "release-student", "release-phone"}
    assert {b.name for b in CLASSROOM.blueprints} == {"qr", "exports", "gradebook"}
    assert CLASSROOM.replies["welcome"]["en"].startswith("Welcome")


def test_plugins_combine_and_a_duplicate_is_an_error():
    def hello(ctx):
        return "hi"

    extra = Plugin(commands=(Command(name="hello", handler=hello, aliases=zh("你好")),), events={"click_extra": lambda ctx, key: ""},
                   jobs=(Job("tick", lambda now: None, 5),), replies={"hello": {"zh": "你好", "en": "hi"}})
    both = CLASSROOM + extra
    assert both.commands[-1].name == "hello" and "click_extra" in both.events and both.jobs[-1].name == "tick"
    assert both.flows == CLASSROOM.flows and both.replies["hello"]["zh"] == "你好"
    for clash in (Plugin(commands=(Command(name="join", handler=hello, aliases=zh("加入2")),)), Plugin(flows={"verify": Flow({})}),
                  Plugin(jobs=(Job("close_roll_calls", lambda now: None, 5),)),
                  Plugin(cli=(click.Command("make-teacher"),)), Plugin(replies={"welcome": {"zh": "", "en": ""}})):
        with pytest.raises(ValueError, match="both declare"):
            CLASSROOM + clash


def test_a_plugin_adds_a_command_an_event_a_scene_and_a_reply_without_touching_bot(tmp_path, clock):

    def hello(ctx):
        return ctx.t("hello_reply")

    extra = Plugin(commands=(Command(name="hello", handler=hello, aliases=zh("你好呀") + en("hiya")),),
                   events={"click_extra": lambda ctx, key: f"extra {key}"},
                   scenes={"screen_": lambda ctx, rest: f"screen {rest}"},
                   scan_readers=(lambda ctx, text: ("scene", "screen_" + text[5:]) if text.startswith("mine:") else None,),
                   replies={"hello_reply": {"zh": "你好！", "en": "Hello!"}})
    app = create_app(settings_dict(tmp_path), clock=clock, plugin=CLASSROOM + extra)
    with app.app_context():
        if not is_sqlite():
            db.drop_tables(models.MODELS, safe=True, cascade=True)
        create_schema()
    wx = simulator_for(app)
    assert wx.send_text("o_p", "你好呀") == "你好！"
    assert wx.send_event("o_p", "click_extra", "k1") == "extra k1"
    assert wx.send_event("o_p", "SCAN", "screen_42") == "screen 42"  # longest prefix wins over the classroom's ""
    assert "课堂" in wx.send_event("o_p", "SCAN", "join_000000")  # the classroom's scene still answers
    assert wx.send_scan("o_p", "mine:7") == "screen 7"  # what the menu's scanner read: the plugin's reader knows it
    assert "不是课堂的二维码" in wx.send_scan("o_p", "https://elsewhere.example/mine:7")  # nobody's: refused
    db.close()


def test_a_plugin_wraps_the_wsgi_app_and_hooks_every_message_that_writes(tmp_path, clock):
    seen = []

    def teapot(wsgi_app, kt):  # answers one path before Flask builds a request; the rest goes on
        def wrapped(environ, start_response):
            if environ.get("PATH_INFO") == "/teapot":
                start_response("418 I'M A TEAPOT", [("X-Clock", str(kt.clock() is not None))])
                return [b"short and stout"]
            return wsgi_app(environ, start_response)
        return wrapped

    def hook(user):
        seen.append((user.openid, db.in_transaction()))  # inside the message's transaction

    app = create_app(settings_dict(tmp_path), clock=clock,
                     plugin=CLASSROOM + Plugin(middleware=(teapot,), message_hooks=(hook,)))
    with app.app_context():
        if not is_sqlite():
            db.drop_tables(models.MODELS, safe=True, cascade=True)
        create_schema()
    client = app.test_client()
    answer = client.get("/teapot")
    assert answer.status_code == 418 and answer.data == b"short and stout" and answer.headers["X-Clock"] == "True"
    assert client.get("/healthz").status_code in (200, 503)  # everything else still reaches Flask
    wx = simulator_for(app)
    wx.send_text("o_h", "加入 000000")
    assert seen == [("o_h", True)]
    db.close()
