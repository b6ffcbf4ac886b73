"""bot/config.py: the example config, unknown keys and bad values, the environment, first start."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, SchedulerSettings, load_settings, settings_from_dict, write_initial_config
from tests.conftest import ROOT


def test_example_config_loads_and_documents_every_key_with_its_default():
    settings = load_settings(ROOT / "config.example.toml", environ={})
    assert settings.wechat.max_clock_skew_seconds == 300
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
    environ = {"WECHAT_TOKEN": "envtoken", "WECHAT_AES_KEY": "k" * 43, "DATABASE_URL": "postgresql://u:p@h/db",
               "WECHAT_APP_SECRET": "s3cret"}
    settings = settings_from_dict({}, environ)
    assert (settings.wechat.token, settings.wechat.encoding_aes_key) == ("envtoken", "k" * 43)
    assert settings.wechat.app_secret == "s3cret" and settings.database.url == "postgresql://u:p@h/db"


def test_initial_config_gets_random_secrets(tmp_path):
    target = tmp_path / "config.toml"
    assert write_initial_config(ROOT / "config.example.toml", target)
    settings = load_settings(target, environ={})
    assert settings.wechat.safe_mode and len(settings.wechat.token) == 32 and settings.server.secret_key
    assert settings.database.url == f"sqlite:///{tmp_path / 'ketang.db'}"
    assert not write_initial_config(ROOT / "config.example.toml", target)  # never overwrites
