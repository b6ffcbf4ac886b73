"""The command line (bot/cli.py, handlers/cli.py): init-db, make-teacher, info, chat."""

from __future__ import annotations

import re

from models import InboundMessage, User


def test_init_db_is_safe_to_run_twice(app):
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["init-db"])
        assert result.exit_code == 0 and "database ready" in result.output


def test_make_teacher_cli(app, say, teacher):
    _, code = teacher
    say("o_s", f"加入 {code}")
    result = app.test_cli_runner().invoke(args=["make-teacher", "o_s"])
    assert result.exit_code == 0 and "left 1 class" in result.output
    assert User.get(User.openid == "o_s").is_teacher


def test_info_prints_what_the_admin_page_needs(app):
    out = app.test_cli_runner().invoke(args=["info", "--local", "http://127.0.0.1:8010/wechat"]).output
    assert "https://ketang.example.edu/wechat" in out and "安全模式" in out
    assert "chat --as o_teacher --url http://127.0.0.1:8010/wechat" in out  # the port make run serves on


def test_chat_cli_goes_through_the_webhook(app):
    app.test_cli_runner().invoke(args=["make-teacher", "o_t"])
    script = "创建课堂 物理\n/as o_s\n我的课堂\n/scan 000000\n/quit\n"
    result = app.test_cli_runner().invoke(args=["chat", "--as", "o_t"], input=script)
    assert result.exit_code == 0, result.output
    assert "safe mode (AES)" in result.output
    code = re.search(r"课堂码：(\d{6})", result.output).group(1)
    assert "你还没有加入课堂" in result.output
    joined = app.test_cli_runner().invoke(args=["chat", "--as", "o_s"], input=f"/scan {code}\n")
    assert "已加入「物理」" in joined.output
    assert InboundMessage.select().count() >= 4  # every line went through the webhook's dedupe
