"""bot/config.py: the example config, unknown keys and bad values, the environment, first start."""

from __future__ import annotations

import pytest

from app import create_app
from bot.config import ConfigError, SchedulerSettings, ScreenSettings, load_settings, settings_from_dict, write_initial_config
from tests.conftest import ROOT, TOKEN, settings_dict


def test_example_config_loads_and_documents_every_key_with_its_default():
    # The example's token is a placeholder the server refuses; a real one comes from the environment.
    settings = load_settings(ROOT / "config.example.toml", environ={"WECHAT_TOKEN": TOKEN})
    assert settings.wechat.max_clock_skew_seconds == 300
    assert (settings.database.statement_timeout_ms, settings.database.lock_timeout_ms) == (3000, 2000)
    assert settings.wechat.templates.announcement == ""
    assert settings.school.timezone == "Asia/Shanghai"
    assert settings.sms.backend == "console"
    assert settings.roles.teacher_invite_code == ""
    scheduler = settings.scheduler
    assert scheduler == SchedulerSettings()  # the example shows the defaults
    assert (scheduler.lesson_max_hours, scheduler.push_threads, scheduler.push_per_second) == (4, 16, 400)
    try:
        settings_from_dict({"scheduler": {"push_threads": 0}})
    except ConfigError as error:
        assert "[scheduler]" in str(error)
    else:
        raise AssertionError("push_threads = 0 was accepted")
    assert settings.screen == ScreenSettings() and settings.screen.rotate_seconds == 10  # the example shows the defaults
    for screen in ({"rotate_seconds": 2}, {"rotate_seconds": 301}, {"grace_seconds": -1}, {"follow_grace_seconds": -5}):
        with pytest.raises(ConfigError, match=r"\[screen\] rotate_seconds must be 3-300"):
            settings_from_dict({"screen": screen})
    with pytest.raises(ConfigError):
        settings_from_dict({"screen": {"rotate_sec": 10}})  # an unknown key is an error, as in every section



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
