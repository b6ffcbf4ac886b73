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


# --- issue 18 items 7 and 15: weak secret keys, absurd values, the simulator on a public address -------------

@pytest.mark.parametrize("key, why", [
    ("secret", "has 6 characters"), ("x", "has 1 characters"), (" ", "has 1 characters"),
    ("secret" * 6, "too few different"), ("a" * 40, "too few different"),
    ("abcdefghijklmnopqrstuvwxyzabcdefgh", "too few different"),  # one kind of character only
])
def test_a_weak_secret_key_is_refused_at_start_with_how_to_make_one(key, why):
    with pytest.raises(ConfigError, match=rf"secret_key must be at least 32.*{why}.*token_urlsafe"):
        settings_from_dict({"wechat": {"token": TOKEN}, "server": {"secret_key": key}})


def test_a_random_or_empty_secret_key_is_accepted(tmp_path):
    import secrets

    for key in ("", secrets.token_urlsafe(32), secrets.token_hex(16)):
        assert settings_from_dict({"wechat": {"token": TOKEN}, "server": {"secret_key": key}}).server.secret_key == key
    path = tmp_path / "config.toml"
    assert write_initial_config(ROOT / "config.example.toml", path)
    assert len(load_settings(path, environ={}).server.secret_key) >= 32  # what `make config` writes passes


@pytest.mark.parametrize("section, name, bad, allowed", [
    ("wechat", "max_clock_skew_seconds", 10**12, "0–3600"), ("wechat", "max_clock_skew_seconds", -1, "0–3600"),
    ("screen", "grace_seconds", 10**12, "0–300"), ("screen", "follow_grace_seconds", 601, "0–600"),
    ("scheduler", "lesson_max_hours", 10**12, "1–24"), ("scheduler", "lesson_max_hours", 25, "1–24"),
])
def test_absurd_values_are_refused_with_the_allowed_range(section, name, bad, allowed):
    def config(value):
        data = {"wechat": {"token": TOKEN}}
        data.setdefault(section, {})[name] = value
        return data

    with pytest.raises(ConfigError, match=rf"{section}\.{name} must be {allowed}, got {bad}"):
        settings_from_dict(config(bad))
    top = int(allowed.split("–")[1])
    assert getattr(getattr(settings_from_dict(config(top)), section), name) == top


def test_simulator_forced_on_at_a_public_address_needs_allow_remote_said_out_loud():
    public = {"wechat": {"token": TOKEN}, "server": {"public_url": "https://ketang.example.edu"}}
    with pytest.raises(ConfigError, match=r'simulator.enabled = "on".*not a loopback address.*allow_remote = true'):
        settings_from_dict({**public, "simulator": {"enabled": "on"}})
    assert settings_from_dict({**public, "simulator": {"enabled": "on", "allow_remote": True}}).simulator.allow_remote
    assert settings_from_dict({**public, "simulator": {"enabled": "auto"}})  # auto turns itself off there
    local = {"wechat": {"token": TOKEN}, "server": {"public_url": "http://127.0.0.1:8000"}, "simulator": {"enabled": "on"}}
    assert settings_from_dict(local).simulator.enabled == "on"
