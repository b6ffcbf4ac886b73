"""The seam: bot/ is machinery that knows nothing of classrooms; the classroom plugs in through a Plugin."""

from __future__ import annotations

import ast
import re
from datetime import timedelta
from pathlib import Path

import click
import pytest
from peewee import Model

import models
from bot.grammar import Command, en, zh
from bot.plugin import Flow, Job, Plugin
from handlers.plugin import CLASSROOM, EVERYTHING
from models import db
from tests.conftest import build_app, simulator_for

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


def test_the_classroom_does_not_import_the_screen():
    """Issue 20.4: the classroom reaches the screen only through its extension points (Plugin.extensions), as bot/
    reaches the classroom only through the Plugin. handlers/plugin.py is where the plugins are put together."""
    wrong = []
    classroom = [p for p in sorted((ROOT / "handlers").glob("*.py")) if p.name != "plugin.py"]
    assert {"student.py", "teacher.py", "attendance.py", "records.py"} <= {p.name for p in classroom}  # the check can fail
    for path in classroom:
        for module, names in imports(path):
            if module.startswith("handlers.screen") or (module == "handlers" and "screen" in names):
                wrong.append(f"{path.name} imports {module}")
    assert wrong == []


def test_extension_points_join_across_plugins():
    def judge_a(ctx, activity, code, at):
        return None

    def judge_b(ctx, activity, code, at):
        return ""

    both = Plugin(extensions={"checkin_judges": (judge_a,)}) + Plugin(extensions={"checkin_judges": (judge_b,), "x": (print,)})
    assert both.extensions == {"checkin_judges": (judge_a, judge_b), "x": (print,)}
    assert set(EVERYTHING.extensions) == {"checkin_rotators", "checkin_judges", "attendance_notes"}


def test_the_classroom_declares_what_it_adds():
    assert {c.name for c in CLASSROOM.commands} >= {"join", "check_in", "start_lesson"}
    assert set(CLASSROOM.flows) == {"verify", "bind_phone", "join_identity", "quiz_guide", "announce_guide", "delete_me"}
    assert {job.name for job in CLASSROOM.jobs if isinstance(job, Job)} >= {"close_due_activities", "close_roll_calls"}
    assert {c.name for c in CLASSROOM.cli} == {"make-teacher", "import-roster", "import-questions", "release-student",
                                               "release-phone", "purge-user"}
    assert {b.name for b in CLASSROOM.blueprints} == {"qr", "exports", "gradebook", "privacy"}
    assert CLASSROOM.replies["welcome"]["en"].startswith("Welcome")


def test_plugins_combine_and_a_duplicate_is_an_error():
    def hello(ctx):
        return "hi"

    extra = Plugin(commands=(Command(name="hello", handler=hello, aliases=zh("你好")),),
                   events={"click_extra": lambda ctx, key: ""},
                   jobs=(Job("tick", lambda now: None, 5),), replies={"hello": {"zh": "你好", "en": "hi"}})
    both = CLASSROOM + extra
    assert both.commands[-1].name == "hello" and "click_extra" in both.events and both.jobs[-1].name == "tick"
    assert both.flows == CLASSROOM.flows and both.replies["hello"]["zh"] == "你好"
    for clash in (Plugin(commands=(Command(name="join", handler=hello, aliases=zh("加入2")),)),
                  Plugin(flows={"verify": Flow({"a": hello}, starts=("a",), moves={"a": ()})}),
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
    app = build_app(tmp_path, clock, aes=True, plugin=CLASSROOM + extra)
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

    app = build_app(tmp_path, clock, plugin=CLASSROOM + Plugin(middleware=(teapot,), message_hooks=(hook,)))
    client = app.test_client()
    answer = client.get("/teapot")
    assert answer.status_code == 418 and answer.data == b"short and stout" and answer.headers["X-Clock"] == "True"
    assert client.get("/healthz").status_code in (200, 503)  # everything else still reaches Flask
    wx = simulator_for(app)
    wx.send_text("o_h", "加入 000000")
    assert seen == [("o_h", True)]
    db.close()


def step(ctx, data, text):
    return text


@pytest.mark.parametrize("flow, wrong", [
    (Flow({"a": step, "b": step}, starts=("a",), moves={"a": ("c",), "b": ()}), "moves 'a' → 'c', no step"),
    (Flow({"a": step}, starts=("z",), moves={"a": ()}), "starts at 'z'"),
    (Flow({"a": step, "b": step}, starts=("a",), moves={"a": ("b",)}), "'b' declares no moves"),
    (Flow({"a": step}, starts=("a",), moves={"a": (), "gone": ()}), "moves from 'gone', no step"),
    (Flow({"a": step, "b": step}, starts=("a",), moves={"a": (), "b": ()}), "nothing reaches 'b'"),
    (Flow({"a": step}, moves={"a": ()}), "declares no start"),
])
def test_a_flow_naming_a_step_it_does_not_declare_is_refused_at_start_up(flow, wrong):
    with pytest.raises(ValueError, match=re.escape(wrong)):
        Plugin(flows={"quiz_guide": flow})
    with pytest.raises(ValueError, match=re.escape(wrong)):
        CLASSROOM + Plugin(flows={"quiz_guide": flow})


def test_every_flow_of_the_app_declares_its_steps_and_moves():
    for name, flow in EVERYTHING.flows.items():
        flow.check(name)
        assert flow.starts and set(flow.moves) == set(flow.steps), name


def test_a_step_that_moves_where_its_flow_does_not_declare_is_refused_and_changes_nothing(tmp_path, clock):
    def start(ctx):
        ctx.start_dialog("pet", "name", timedelta(minutes=5))
        return "名字？"

    def name(ctx, data, text):
        ctx.start_dialog("pet", "age" if text == "ok" else "agee", timedelta(minutes=5), name=text)
        return "几岁？"

    def wrong_start(ctx):
        ctx.start_dialog("pet", "age", timedelta(minutes=5))  # a declared step, but no start
        return "几岁？"

    pets = Plugin(commands=(Command(name="pet", handler=start, aliases=zh("宠物") + en("pet")),
                            Command(name="pet_age", handler=wrong_start, aliases=zh("宠物年龄") + en("pet age"))),
                  flows={"pet": Flow({"name": name, "age": step}, starts=("name",), moves={"name": ("age",), "age": ()})})
    app = build_app(tmp_path, clock, aes=True, plugin=CLASSROOM + pets)
    wx = simulator_for(app)
    assert wx.send_text("o_p", "宠物") == "名字？"
    assert "系统繁忙" in wx.send_text("o_p", "咪咪")  # the step names "agee": refused, rolled back
    assert models.Dialog.get().step == "name"
    assert wx.send_text("o_p", "ok") == "几岁？" and models.Dialog.get().step == "age"
    assert "系统繁忙" in wx.send_text("o_p", "宠物年龄")  # a command may only open the dialog where it starts
    assert models.Dialog.get().step == "age"
    db.close()
