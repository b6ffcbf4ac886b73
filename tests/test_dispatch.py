"""bot/dispatch.py: how `Dispatcher.run_text` routes a text, shown with a small plugin of its own.

The routing rules, in the order they apply:

1. The text is parsed against the plugin's command table (longest alias first, any case or width).
2. A user in a dialog whose flow is unknown or whose time ran out leaves it (the row is deleted). If the
   text was an answer to it (no command, or one of the flow's own commands) the reply says the step
   expired and how to start again (the flow's `restart` text); any other command just runs.
3. In a live dialog, text that is no command is the answer to the current step: the flow's step table
   entry for that step gets it (ctx, data, text).
4. In a live dialog, an escape command (帮助, 取消) or one of the flow's own commands runs and keeps the
   dialog; any other command abandons the dialog, then runs.
5. Text that is no command (outside a dialog) gets "did not understand", suggestions and the help pointer.
6. The reply is in the language of the alias typed; a malformed argument gets the command's usage line
   and an example in that language.
7. A teacher command from a student gets `teacher_only`; a student command from a teacher `student_only`.
8. An expected failure (UserError) is answered with its catalogue text and leaves none of the handler's
   writes behind: outside a dialog the whole transaction rolls back and the refusal is recorded alone (no
   savepoint); for a user in a dialog only the handler's savepoint rolls back, so what the routing did
   before it (a new command abandoning the dialog) stays.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.context import Context, UserError
from bot.grammar import Arg, Command, Role, en, zh
from bot.plugin import Flow, Plugin
from models import Dialog, InboundMessage, Post, User, db
from tests.conftest import build_app, simulator_for


def start(ctx: Context) -> str:
    ctx.start_dialog("pet", "name", timedelta(minutes=5))
    return "名字？"


def pet_name(ctx: Context, data: dict, text: str) -> str:
    ctx.start_dialog("pet", "age", timedelta(minutes=5), name=text)
    return f"{text} 几岁？"


def pet_age(ctx: Context, data: dict, text: str) -> str:
    ctx.end_dialog()
    return f"{data['name']} {text} 岁"


def skip(ctx: Context) -> str:
    return "跳过（仍在对话中）"


def rename(ctx: Context, name: str) -> str:
    User.update(name=name).where(User.id == ctx.user.id).execute()
    raise UserError("rename_refused", name=name)


NOTIFIED: list[str] = []  # what the after-commit action of 通知 did (cleared by the test that reads it)


def notify(ctx: Context) -> str:
    ctx.after_commit.append(lambda: NOTIFIED.append(ctx.user.openid))  # e.g. the SMS gateway call
    return "已通知"


def echo(ctx: Context, word: str) -> str:
    return f"echo {word} {ctx.lang}"


N = Arg("word", r"\d", "数字", "digit")
TEST = Plugin(
    commands=(
        Command(name="help", handler=lambda ctx: "帮助文本", aliases=zh("帮助") + en("help"),
                escape=True),
        Command(name="pet", handler=start, aliases=zh("宠物") + en("pet")),
        Command(name="skip", handler=skip, aliases=zh("跳过") + en("skip")),
        Command(name="echo", handler=echo, aliases=zh("回声") + en("echo"),
                args=(N,), examples=("回声 1", "echo 1")),
        Command(name="rename", handler=rename, aliases=zh("改名") + en("rename"),
                args=(Arg("name", r"\S+", "名字", "name"),)),
        Command(name="staff", handler=lambda ctx: "教师可用", aliases=zh("员工") + en("staff"),
                role=Role.TEACHER),
        Command(name="pupil", handler=lambda ctx: "学生可用", aliases=zh("学生事") + en("pupil"),
                role=Role.STUDENT),
        Command(name="notify", handler=notify, aliases=zh("通知") + en("notify")),
    ),
    flows={"pet": Flow({"name": pet_name, "age": pet_age}, commands=("skip",), restart="pet_restart", starts=("name",),
                       moves={"name": ("age",), "age": ()})},
    replies={"pet_restart": {"zh": "请重新发送「宠物」。", "en": " Send “pet” again."},
             "rename_refused": {"zh": "不能改名为 {name}。", "en": "Cannot rename to {name}."}},
)


@pytest.fixture
def say(tmp_path, clock):
    app = build_app(tmp_path, clock, plugin=TEST)
    wx = simulator_for(app)
    yield wx.send_text
    db.close()


def test_a_dialog_step_table_answers_plain_replies_step_by_step(say):
    assert say("o_a", "宠物") == "名字？"
    assert say("o_a", "咪咪") == "咪咪 几岁？"  # rule 3: the "name" step
    assert say("o_a", "3") == "咪咪 3 岁"  # the "age" step, which ends the dialog
    assert "没看懂" in say("o_a", "3")  # rule 5: outside a dialog


def test_escape_and_flow_commands_keep_the_dialog_others_abandon_it(say):
    say("o_a", "宠物")
    assert say("o_a", "帮助") == "帮助文本"  # rule 4: an escape command
    assert say("o_a", "跳过") == "跳过（仍在对话中）"  # the flow's own command
    assert say("o_a", "咪咪") == "咪咪 几岁？"  # still in the dialog
    assert say("o_a", "回声 1") == "echo 1 zh"  # any other command abandons it
    assert Dialog.select().count() == 0
    assert "没看懂" in say("o_a", "2")


def test_an_answer_to_an_expired_step_says_so_and_how_to_start_again(say, clock):
    say("o_a", "宠物")
    clock.advance(minutes=6)
    assert say("o_a", "咪咪") == "上一步操作已超时，已自动取消。请重新发送「宠物」。"  # rule 2
    assert Dialog.select().count() == 0
    say("o_a", "宠物")
    clock.advance(minutes=6)
    assert say("o_a", "跳过") == "上一步操作已超时，已自动取消。请重新发送「宠物」。"  # the flow's command too
    say("o_a", "宠物")
    clock.advance(minutes=6)
    assert say("o_a", "回声 1") == "echo 1 zh" and Dialog.select().count() == 0  # another command just runs


def test_unknown_text_gets_suggestions_and_the_help_pointer(say):
    reply = say("o_a", "回生 1")
    assert reply.startswith("没看懂「回生 1」。") and "回声" in reply and "发送「帮助」" in reply  # rule 5


def test_the_language_typed_and_usage_lines(say):
    assert say("o_a", "ECHO 7") == "echo 7 en"  # rule 6: any case, the alias's language
    assert say("o_a", "回声 x") == "格式不对。用法：回声 <数字>\n例如：回声 1"
    assert say("o_a", "echo x") == "Wrong format. Usage: echo <digit>\nFor example: echo 1"


def test_roles_are_checked_before_the_handler_runs(say):
    assert "只有教师" in say("o_a", "员工")  # rule 7
    assert say("o_a", "学生事") == "学生可用"
    User.update(role="teacher").where(User.openid == "o_a").execute()
    assert say("o_a", "员工") == "教师可用"
    assert "学生命令" in say("o_a", "学生事")


def test_an_expected_failure_is_answered_and_leaves_no_writes(say):
    assert say("o_a", "改名 小明") == "不能改名为 小明。"  # rule 8
    assert User.get(User.openid == "o_a").name is None


def test_an_expected_failure_in_a_dialog_undoes_only_the_handler(say):
    say("o_a", "宠物")
    assert say("o_a", "改名 小明") == "不能改名为 小明。"  # rule 8, in a savepoint
    assert User.get(User.openid == "o_a").name is None
    assert Dialog.select().count() == 0  # the abandoned dialog stays abandoned


class SnapshotBeforeTheFirstCommitted:
    """The sender's touch as a concurrent duplicate makes it on PostgreSQL: it waits for the first delivery's
    row lock, then returns the row as of the snapshot its statement took before the first committed, so it
    sees no stored reply, computes its own and loses the claim. SQLite's write lock never lets the two overlap,
    so this forces the same interleaving there: the same touch (same statement), its stored reply not seen yet."""

    def __init__(self, touch):
        self.touch = touch

    def first(self, *args):
        *before, key = args  # the touch's parameters end with the message's key
        return self.touch.first(*before, key + " (not committed yet)")


def test_a_concurrent_duplicate_loses_the_claim_undoes_its_writes_and_answers_the_first_reply(app, monkeypatch):
    wx = simulator_for(app)
    assert app.test_cli_runner().invoke(args=["make-teacher", "o_t"]).exit_code == 0
    code = wx.send_text("o_t", "创建课堂 高等数学").split("课堂码：")[1][:6]
    assert "已加入" in wx.send_text("o_s", f"加入 {code}")
    wx.send_text("o_t", "上课")
    wx.send_text("o_t", "讨论 10 生活中的导数")
    first = wx.send_text("o_s", "发言 我认为是速度", msg_id=5150)
    assert "已发言" in first
    dispatcher = app.extensions["ketang"].dispatcher
    monkeypatch.setattr(dispatcher, "touch_query", SnapshotBeforeTheFirstCommitted(dispatcher.touch_query))
    again = wx.send_text("o_s", "发言 我认为是速度", msg_id=5150)  # WeChat's retry, its claim after the first's
    assert again == first
    assert Post.select().count() == 1  # the loser's 发言 (a second Post) rolled back with its transaction
    assert InboundMessage.select().where(InboundMessage.key == "msg:o_s:5150").count() == 1


def test_a_concurrent_duplicate_that_loses_the_claim_runs_no_after_commit_action(tmp_path, clock, monkeypatch):
    app = build_app(tmp_path, clock, plugin=TEST)
    wx = simulator_for(app)
    NOTIFIED.clear()
    assert wx.send_text("o_a", "通知", msg_id=31) == "已通知" and NOTIFIED == ["o_a"]
    dispatcher = app.extensions["ketang"].dispatcher
    monkeypatch.setattr(dispatcher, "touch_query", SnapshotBeforeTheFirstCommitted(dispatcher.touch_query))
    assert wx.send_text("o_a", "通知", msg_id=31) == "已通知"  # the first's reply...
    assert NOTIFIED == ["o_a"]  # ...and not a second SMS: the loser kept nothing, its actions included
    db.close()
