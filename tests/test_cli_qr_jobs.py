"""Start-up and tools: config, init-db, make-teacher, chat, QR links, scheduled jobs."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from app import create_app
from bot.config import ConfigError, load_settings, settings_from_dict, write_initial_config
from bot.jobs import close_due_activities, purge_dedupe
from bot.scheduler import build_scheduler
from models import Activity, InboundMessage, User
from tests.conftest import ROOT, TOKEN, settings_dict


def test_example_config_loads_and_has_every_documented_key():
    settings = load_settings(ROOT / "config.example.toml", environ={"WECHAT_TOKEN": TOKEN})
    assert settings.wechat.max_clock_skew_seconds == 300
    assert (settings.database.statement_timeout_ms, settings.database.lock_timeout_ms) == (3000, 2000)
    assert settings.wechat.templates.announcement == ""
    assert settings.school.timezone == "Asia/Shanghai"
    assert settings.sms.backend == "console"
    assert settings.roles.teacher_invite_code == ""


def test_a_copied_example_config_refuses_to_serve_its_placeholder_token(tmp_path):
    copied = tmp_path / "config.toml"
    copied.write_text((ROOT / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"placeholder 'change-me-token'.*make config"):
        load_settings(copied, environ={})
    with pytest.raises(ConfigError, match=r"placeholder.*random_token"):
        load_settings(copied, environ={"WECHAT_TOKEN": "ChangeMe2026TokenXY"})
    with pytest.raises(ConfigError, match="placeholder"):
        create_app(copied)  # what gunicorn 'app:create_app()' runs: the server does not start


@pytest.mark.parametrize("token, why", [
    ("", "is empty"), ("abc", "has 3 characters"), ("ketang2026token", "has 15 characters"),
    ("ketang-2026-token-x", "other characters"), ("k" * 33, "has 33 characters"),
])
def test_short_or_malformed_tokens_are_refused_with_how_to_generate_one(token, why):
    with pytest.raises(ConfigError, match=rf"16–32 letters and digits.*{why}.*make config"):
        settings_from_dict({"wechat": {"token": token}})
    assert settings_from_dict({"wechat": {"token": "k" * 16}}).wechat.token == "k" * 16


def test_plaintext_mode_warns_loudly(tmp_path, caplog):
    create_app(settings_dict(tmp_path, aes=False))
    assert any(r.levelname == "WARNING" and "PLAINTEXT MODE" in r.getMessage() for r in caplog.records)
    caplog.clear()
    create_app(settings_dict(tmp_path, aes=True))
    assert not any("PLAINTEXT" in r.getMessage() for r in caplog.records)


def test_database_timeouts_must_stay_under_wechats_five_seconds():
    for value in (0, 5000, 60000):
        with pytest.raises(ConfigError, match="statement_timeout_ms must be 100–4500"):
            settings_from_dict({"wechat": {"token": TOKEN}, "database": {"statement_timeout_ms": value}})
    with pytest.raises(ConfigError, match="lock_timeout_ms"):
        settings_from_dict({"wechat": {"token": TOKEN}, "database": {"lock_timeout_ms": 9000}})


def test_unknown_keys_and_bad_values_are_errors():
    with pytest.raises(ConfigError, match="unknown key"):
        settings_from_dict({"wechat": {"tokn": "x"}})
    with pytest.raises(ConfigError, match="unknown key"):
        settings_from_dict({"webchat": {}})
    with pytest.raises(ConfigError, match="43"):
        settings_from_dict({"wechat": {"encoding_aes_key": "short"}})
    with pytest.raises(ConfigError, match="int"):
        settings_from_dict({"wechat": {"max_clock_skew_seconds": "300"}})
    with pytest.raises(ConfigError, match="time zone"):
        settings_from_dict({"school": {"timezone": "Mars/Olympus"}})


def test_environment_overrides_secrets(tmp_path):
    environ = {"WECHAT_TOKEN": "envToken20261234", "WECHAT_AES_KEY": "k" * 43, "DATABASE_URL": "postgresql://u:p@h/db",
               "WECHAT_APP_SECRET": "s3cret"}
    settings = settings_from_dict({}, environ)
    assert (settings.wechat.token, settings.wechat.encoding_aes_key) == ("envToken20261234", "k" * 43)
    assert settings.wechat.app_secret == "s3cret" and settings.database.url == "postgresql://u:p@h/db"


def test_initial_config_gets_random_secrets(tmp_path):
    target = tmp_path / "config.toml"
    assert write_initial_config(ROOT / "config.example.toml", target)
    settings = load_settings(target, environ={})
    assert settings.wechat.safe_mode and len(settings.wechat.token) == 32 and settings.server.secret_key
    assert settings.database.url == f"sqlite:///{tmp_path / 'ketang.db'}"
    assert not write_initial_config(ROOT / "config.example.toml", target)  # never overwrites


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


def test_qr_link_serves_a_png_and_refuses_tampering_and_expiry(app, client, say, teacher, clock):
    openid, code = teacher
    link = re.search(r"(https://\S+\.png)", say(openid, "二维码")).group(1)
    path = link.replace("https://ketang.example.edu", "")
    response = client.get(path)
    assert response.status_code == 200 and response.data.startswith(b"\x89PNG")
    assert client.get(path.replace(".png", "x.png")).status_code == 403
    page = client.get(f"/join/{code}")
    assert f"加入 {code}" in page.get_data(as_text=True)
    clock.advance(days=31)
    assert client.get(path).status_code == 403


def test_close_due_activities_is_idempotent(say, teacher, clock):
    openid, _ = teacher
    say(openid, "上课")
    say(openid, "开启签到 1")
    assert close_due_activities(clock()) == 0
    clock.advance(minutes=1, seconds=1)
    assert close_due_activities(clock()) == 1
    assert close_due_activities(clock()) == 0
    activity = Activity.get()
    assert activity.status == "closed" and activity.closed_at == activity.deadline


def test_purge_dedupe_keeps_recent_keys(say, clock):
    say("o_a", "帮助")
    assert purge_dedupe(clock() + timedelta(days=1)) == 0
    assert purge_dedupe(clock() + timedelta(days=3)) == 1


def test_scheduler_wiring(app):
    scheduler = build_scheduler(app, BackgroundScheduler)
    scheduler.start(paused=True)
    try:
        job = scheduler.get_job("close_due_activities")
        assert job.coalesce and job.max_instances == 1 and job.misfire_grace_time == 60
        assert job.trigger.interval == timedelta(seconds=5)
        assert scheduler.get_job("purge_dedupe").trigger.interval == timedelta(hours=1)
    finally:
        scheduler.shutdown(wait=False)


def test_init_db_upgrades_a_table_from_an_older_version(tmp_path):
    import sqlite3

    from app import create_app
    from bot.database import create_schema
    from models import db

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute('CREATE TABLE "user" (id INTEGER PRIMARY KEY, openid VARCHAR(64) NOT NULL UNIQUE, role VARCHAR(16) '
                "NOT NULL, name VARCHAR(64), student_no VARCHAR(32), current_class_id INTEGER, subscribed INTEGER NOT "
                "NULL, created_at DATETIME NOT NULL, last_seen_at DATETIME)")
    old.execute("INSERT INTO user (openid, role, subscribed, created_at) VALUES ('o_old', 'student', 1, '2026-01-01')")
    old.commit()
    old.close()
    app = create_app({"database": {"url": f"sqlite:///{path}"}, "server": {"secret_key": "x"}, "wechat": {"token": TOKEN}})
    with app.app_context():
        create_schema()
        create_schema()
        with db.connection_context():
            user = User.get(User.openid == "o_old")
            assert (user.verify_state, user.phone) == ("not_given", None)
            assert "user_phone" in {index.name for index in db.get_indexes("user")}
