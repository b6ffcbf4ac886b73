"""Settings loaded from TOML plus environment overrides; unknown keys are an error."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import os
import re
import secrets
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(Exception):
    """The configuration cannot be used; the message says why."""


@dataclass(frozen=True)
class Templates:
    announcement: str = ""
    activity: str = ""


@dataclass(frozen=True)
class WechatSettings:
    app_id: str = "wx0000000000000000"
    app_secret: str = ""
    token: str = ""
    encoding_aes_key: str = ""
    api_base_url: str = "https://api.weixin.qq.com"
    max_clock_skew_seconds: int = 300
    templates: Templates = field(default_factory=Templates)

    @property
    def safe_mode(self) -> bool:
        return bool(self.encoding_aes_key)


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite:///ketang.db"
    # PostgreSQL only: a statement (or a wait for a lock) running longer is cancelled, so a message
    # gets the busy reply within WeChat's 5 s instead of hanging (SQLite's busy timeout is 4 s).
    statement_timeout_ms: int = 3000
    lock_timeout_ms: int = 2000


@dataclass(frozen=True)
class ServerSettings:
    public_url: str = ""  # empty: links use the address each request came in on (bot/links.py)
    secret_key: str = ""


@dataclass(frozen=True)
class SchoolSettings:
    timezone: str = "Asia/Shanghai"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class RolesSettings:
    teacher_invite_code: str = ""


@dataclass(frozen=True)
class SmsSettings:
    backend: str = "console"
    url: str = ""


@dataclass(frozen=True)
class SchedulerSettings:
    lesson_max_hours: int = 4
    push_threads: int = 16
    push_per_second: int = 400
    push_lease_seconds: int = 120


@dataclass(frozen=True)
class ScreenSettings:
    """The classroom screen's rotating check-in code (handlers/screen/rotation.py)."""

    rotate_seconds: int = 10
    grace_seconds: int = 5
    follow_grace_seconds: int = 90
    banned_words_file: str = ""  # one word a line: a discussion post containing one stays off the screen


@dataclass(frozen=True)
class AttendanceSettings:
    """Make-up requests (handlers/requests.py): 补签 reaches back this many days."""

    request_days: int = 7


@dataclass(frozen=True)
class WarningsSettings:
    """The weekly at-risk digest (handlers/warnings.py): ISO weekday (1 = Monday) and hour, school time."""

    weekday: int = 1
    hour: int = 8


@dataclass(frozen=True)
class GradebookSettings:
    """The grade book's signed link (成绩, handlers/gradebook.py)."""

    link_hours: int = 24


@dataclass(frozen=True)
class PrivacySettings:
    """Retention (handlers/privacy.py): an archived class's students' records become counts this many days
    after it was archived; 我的数据's signed link lives link_minutes."""

    retention_days: int = 365
    link_minutes: int = 15


@dataclass(frozen=True)
class SimulatorSettings:
    """The web simulator (/simulator): it speaks as any user, so it is for local runs (handlers/simulator.py)."""

    enabled: str = "auto"  # auto: unless server.public_url is set to an address that is not loopback; on; off
    allow_remote: bool = False  # answer clients that are not on the loopback interface


@dataclass(frozen=True)
class Settings:
    wechat: WechatSettings = field(default_factory=WechatSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    school: SchoolSettings = field(default_factory=SchoolSettings)
    roles: RolesSettings = field(default_factory=RolesSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    screen: ScreenSettings = field(default_factory=ScreenSettings)
    simulator: SimulatorSettings = field(default_factory=SimulatorSettings)  # simulator:
    attendance: AttendanceSettings = field(default_factory=AttendanceSettings)
    warnings: WarningsSettings = field(default_factory=WarningsSettings)
    gradebook: GradebookSettings = field(default_factory=GradebookSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)

    @property
    def link_secret(self) -> str:
        """The key that signs links: server.secret_key, or one derived from the WeChat token and AES key.

        Every process (each web worker, the scheduler, the CLI) derives the same key from the same
        config, so a link made by one worker is good on every other one and after a restart. The
        token is already the secret every worker must share, and whoever holds it can act as any
        user, so deriving from it opens nothing new. Changing the token (or the AES key) then voids
        links already handed out: set server.secret_key to keep them apart.
        """
        if self.server.secret_key:
            return self.server.secret_key
        material = f"{self.wechat.token}\0{self.wechat.encoding_aes_key}".encode("utf-8")
        return hmac.new(material, b"ketang/link-signing-key/v1", hashlib.sha256).hexdigest()


ENV_OVERRIDES = {
    "WECHAT_APP_SECRET": ("wechat", "app_secret"),
    "WECHAT_TOKEN": ("wechat", "token"),
    "WECHAT_AES_KEY": ("wechat", "encoding_aes_key"),
    "DATABASE_URL": ("database", "url"),
}


def _build(cls, data: dict, where: str):
    """Build dataclass *cls* from *data*, refusing unknown keys and wrong types."""
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"unknown key(s) in [{where}]: {', '.join(unknown)}")
    values = {}
    for name, value in data.items():
        default = known[name].default_factory() if known[name].default_factory is not dataclasses.MISSING else known[name].default
        path = f"{where}.{name}" if where else name
        if dataclasses.is_dataclass(default):
            if not isinstance(value, dict):
                raise ConfigError(f"[{path}] must be a table")
            value = _build(type(default), value, path)
        elif type(value) is not type(default):
            raise ConfigError(f"{path} must be a {type(default).__name__}, got {value!r}")
        values[name] = value
    return cls(**values)


MIN_TOKEN = 16
GENERATE_HINT = ("generate one: `make config` writes config.toml with a random token, AES key and secret key, or "
                 "`.venv/bin/python -c 'from bot.config import random_token; print(random_token(32))'`")


def _check_token(token: str) -> None:
    """Refuse the example's placeholder and tokens short enough to guess from one signed request."""
    if "changeme" in re.sub(r"[^a-z0-9]", "", token.lower()):
        raise ConfigError(f"wechat.token is the example's placeholder {token!r}: anyone could sign messages "
                          f"as any user; {GENERATE_HINT}")
    if not re.fullmatch(rf"[A-Za-z0-9]{{{MIN_TOKEN},32}}", token):
        shown = ("is empty" if not token else f"has {len(token)} characters" if re.fullmatch("[A-Za-z0-9]+", token)
                 else "has other characters")
        raise ConfigError(f"wechat.token must be {MIN_TOKEN}–32 letters and digits (WeChat allows 32 at most) "
                          f"but {shown}; {GENERATE_HINT}")


MIN_SECRET_KEY = 32
MIN_KINDS = 8  # different characters in a secret key (a random hex key of 32 has about 14)
SECRET_HINT = ("make one with `.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))'` (`make config` "
               "writes one into a new config.toml), or leave it empty to derive the key from the token and AES key")


def _check_secret_key(key: str) -> None:
    """Refuse a secret key an outsider could guess: it signs export links and keys the screen's rotating 口令."""
    if not key:
        return  # derived from the token and AES key (Settings.link_secret)
    kinds = sum(any(test(ch) for ch in key) for test in (str.islower, str.isupper, str.isdigit, lambda ch: not ch.isalnum()))
    if len(key) < MIN_SECRET_KEY:
        problem = f"has {len(key)} characters"
    elif len(set(key)) < MIN_KINDS or kinds < 2:
        problem = "repeats too few different characters"
    else:
        return
    raise ConfigError(f"server.secret_key must be at least {MIN_SECRET_KEY} random characters (letters, digits and "
                      f"symbols, at least {MIN_KINDS} different) but {problem}: with a guessable key anyone can forge "
                      f"export links and compute the screen's 口令; {SECRET_HINT}")


# Upper bounds (a value past them is a typo, and 10**12 seconds overflows date arithmetic in every job run).
BOUNDS = {
    ("wechat", "max_clock_skew_seconds"): (0, 3600),
    ("screen", "grace_seconds"): (0, 300),
    ("screen", "follow_grace_seconds"): (0, 600),
    ("scheduler", "lesson_max_hours"): (1, 24),
    ("attendance", "request_days"): (1, 60),
    ("warnings", "weekday"): (1, 7),  # ISO: 1 = Monday
    ("warnings", "hour"): (0, 23),
    ("gradebook", "link_hours"): (1, 720),  # a signed grade-book link lives that many hours
    ("privacy", "retention_days"): (1, 3650),  # days after archiving; ten years at most
    ("privacy", "link_minutes"): (1, 60),  # 我的数据's link: everything about a person, so short-lived
}


def _check_bounds(settings: Settings) -> None:
    for (section, name), (low, high) in BOUNDS.items():
        value = getattr(getattr(settings, section), name)
        if not low <= value <= high:
            raise ConfigError(f"{section}.{name} must be {low}–{high}, got {value}")


def _check_simulator(settings: Settings) -> None:
    """`enabled = "on"` on a server reached by another address would let anyone speak as any user."""
    public = urlsplit(settings.server.public_url).hostname or ""
    if settings.simulator.enabled == "on" and public and not loopback_name(public) and not settings.simulator.allow_remote:
        raise ConfigError(f'simulator.enabled = "on" but server.public_url is {settings.server.public_url!r}, not a '
                          "loopback address: the simulator speaks as any user. Set allow_remote = true to mean it "
                          '(a trusted network only), or enabled = "auto"/"off"')


def _validate(settings: Settings) -> Settings:
    key = settings.wechat.encoding_aes_key
    if key and not re.fullmatch(r"[A-Za-z0-9]{43}", key):
        raise ConfigError("wechat.encoding_aes_key must be empty or 43 letters and digits")
    for name in ("statement_timeout_ms", "lock_timeout_ms"):
        if not 100 <= getattr(settings.database, name) <= 4500:
            raise ConfigError(f"database.{name} must be 100–4500: a message must be answered within WeChat's 5 s")
    if settings.sms.backend not in ("console", "http"):
        raise ConfigError("sms.backend must be 'console' or 'http'")
    if settings.sms.backend == "http" and not re.match(r"https?://\S+$", settings.sms.url):
        raise ConfigError('sms.url must be the SMS gateway\'s http:// or https:// address when sms.backend = "http" '
                          '(or use backend = "console" to log codes instead)')
    if settings.simulator.enabled not in ("auto", "on", "off"):
        raise ConfigError("simulator.enabled must be 'auto', 'on' or 'off'")
    scheduler = settings.scheduler
    if min(scheduler.lesson_max_hours, scheduler.push_threads, scheduler.push_per_second, scheduler.push_lease_seconds) < 1:
        raise ConfigError("every [scheduler] value must be 1 or more")
    screen = settings.screen
    if not 3 <= screen.rotate_seconds <= 300 or min(screen.grace_seconds, screen.follow_grace_seconds) < 0:
        raise ConfigError("[screen] rotate_seconds must be 3-300 and the grace values 0 or more")
    if settings.screen.banned_words_file and not Path(settings.screen.banned_words_file).is_file():
        raise ConfigError(f"[screen] banned_words_file {settings.screen.banned_words_file!r} is not a readable file")
    try:
        ZoneInfo(settings.school.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"school.timezone {settings.school.timezone!r} is not a known time zone") from None
    _check_bounds(settings)
    _check_simulator(settings)
    _check_token(settings.wechat.token)
    _check_secret_key(settings.server.secret_key)
    return settings


def settings_from_dict(data: dict, environ=None) -> Settings:
    """Build Settings from a parsed TOML mapping, applying environment overrides."""
    data = {section: dict(values) if isinstance(values, dict) else values for section, values in data.items()}
    for var, (section, key) in ENV_OVERRIDES.items():
        value = (environ or {}).get(var)
        if value:
            data.setdefault(section, {})[key] = value
    return _validate(_build(Settings, data, ""))


def config_path(environ=None) -> Path:
    """Return the config file path: KETANG_CONFIG or ./config.toml."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("KETANG_CONFIG") or "config.toml")


def load_settings(path: str | Path | None = None, environ=None) -> Settings:
    """Load settings from *path* (default: config_path()) and the environment."""
    environ = os.environ if environ is None else environ
    path = Path(path) if path else config_path(environ)
    if not path.exists():
        raise ConfigError(f"{path} not found: `make config` writes one from config.example.toml with random secrets "
                          "(`make run` does it too)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    settings = settings_from_dict(data, environ)
    url = settings.database.url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and ":memory:" not in url:
        # A relative SQLite path is relative to the config file, not to wherever the process started.
        db_file = (path.resolve().parent / url[len("sqlite:///"):]).as_posix()
        settings = dataclasses.replace(settings, database=DatabaseSettings(url="sqlite:///" + db_file))
    return settings


def random_token(length: int) -> str:
    """Return a random string of letters and digits."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


SIMULATOR_API = "http://127.0.0.1:8000/simulator/api"


def loopback_name(host: str) -> bool:
    """Whether *host* (a name or an address) is the loopback interface."""
    if host.lower() in ("localhost", "127.0.0.1", "::1"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def simulator_on(settings: Settings) -> bool:
    """simulator: on, off, or (auto) on unless the public URL is set to an address that is not loopback."""
    mode = settings.simulator.enabled
    if mode != "auto":
        return mode == "on"
    public = settings.server.public_url
    return not public or loopback_name(urlsplit(public).hostname or "")
LOCAL_URL = "http://127.0.0.1:8000"


def write_initial_config(example: Path, target: Path, local_url: str = LOCAL_URL) -> bool:
    """Create *target* from *example* with a random token, AES key and secret; False if it exists."""
    if target.exists():
        return False
    text = example.read_text(encoding="utf-8")
    text = text.replace('token = "change-me-token"', f'token = "{random_token(32)}"', 1)
    text = text.replace('encoding_aes_key = ""', f'encoding_aes_key = "{random_token(43)}"', 1)
    text = text.replace('secret_key = ""', f'secret_key = "{secrets.token_urlsafe(32)}"', 1)
    # simulator: a fresh local config uses the web simulator as its WeChat API (pushes land in its phones);
    # a real account replaces both lines (`flask --app app info` says so).
    text = text.replace('app_secret = ""', 'app_secret = "simulator"', 1)
    text = text.replace('api_base_url = "https://api.weixin.qq.com"', f'api_base_url = "{local_url}/simulator/api"', 1)
    target.write_text(text, encoding="utf-8")
    return True


if __name__ == "__main__":
    import sys

    here = Path(__file__).resolve().parent.parent
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "config.toml")
    created = write_initial_config(here / "config.example.toml", target, *(sys.argv[2:3] or [LOCAL_URL]))
    print("created config.toml with a random token, AES key and secret key" if created else "config.toml exists; kept it")
