"""A real server for the concurrency tests and the benchmarks: gunicorn on a free loopback port.

`LiveServer` writes a config.toml (safe mode, its own database), runs `init-db`, starts
`gunicorn -w N 'app:create_app()'` (or, `server="granian"`, the screens' poll server as deployed:
`granian --interface wsgi --factory app:create_app`), waits for /healthz and stops the master by its pid.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from app import create_app
from bot.config import load_settings
from bot.database import create_schema, is_sqlite
from bot.wxsim import WeChatSimulator
from models import MODELS, db

ROOT = Path(__file__).resolve().parent.parent
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx5823bf96d3bd56c7"
TOKEN = "ketangTestToken2026"
SECRET_KEY = "t3st-Secret-key_for-Ketang-0123456789"  # 32+ characters of some variety (bot/config.py)
INVITE = "JOIN-STAFF"


def free_port() -> int:
    """A port nobody listens on right now (bind port 0, read it, release it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(directory: Path, database_url: str | None = None, secret_key: str = SECRET_KEY, **sections) -> Path:
    """Write a safe-mode config.toml in *directory*; SQLite file there unless *database_url*;
    *sections* ({"server": {"public_url": ...}}) override or add keys."""
    url = database_url or f"sqlite:///{(directory / 'ketang.db').resolve()}"
    data = {"wechat": {"app_id": APP_ID, "token": TOKEN, "encoding_aes_key": AES_KEY}, "database": {"url": url},
            "server": {"public_url": "https://ketang.example.edu", "secret_key": secret_key},
            "roles": {"teacher_invite_code": INVITE}}
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    path = directory / "config.toml"
    path.write_text("".join(f"[{section}]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())
                            for section, values in data.items()), encoding="utf-8")
    return path


def reset_database(config: Path) -> None:
    """Give *config*'s database a fresh schema (PostgreSQL tables are dropped first), then close it."""

    app = create_app(config)
    with app.app_context():
        if not is_sqlite():
            db.drop_tables(MODELS, safe=True, cascade=True)
        create_schema()
    close_pool()


def close_pool() -> None:
    """Close this process's connections (all of a pool's), so no lock outlives a test."""
    if not db.is_closed():
        db.close()
    close_all = getattr(db.obj, "close_all", None)
    if close_all:
        close_all()


class InProcess:
    """The app in this process on a fresh database, driven through the Flask test client with signed,
    encrypted messages (no gunicorn, no sockets); a teacher has created one class (`code`). For the
    benchmarks that time the app alone (bench/profile_checkin.py, bench/screens.py)."""

    def __init__(self, prefix: str, database_url: str | None = None, clock=None):
        """*clock*: the app's (bot.clock.FrozenClock for a screen whose code must not rotate meanwhile)."""
        self.directory = Path(tempfile.mkdtemp(prefix=prefix))
        config = write_config(self.directory, database_url)
        reset_database(config)
        self.app = create_app(config, **({"clock": clock} if clock else {}))
        self.client = self.app.test_client()
        self.wx = WeChatSimulator.in_process(self.app)
        self.post = self.wx.post  # post(query, body) -> (status, body): a signed request without the simulator's reading
        self.wx.send_text("o_teacher", f"教师认证 {INVITE}")
        self.code = re.search(r"课堂码：(\d{6})", self.wx.send_text("o_teacher", "创建课堂 大学物理")).group(1)

    def close(self) -> None:
        close_pool()
        shutil.rmtree(self.directory, ignore_errors=True)


def server_env(config: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "WECHAT_TOKEN", "WECHAT_AES_KEY")}
    env["KETANG_CONFIG"] = str(config)
    env["PYTHONPATH"] = str(ROOT)
    return env


class LiveServer:
    """gunicorn serving *app* (default Ketang's factory) on 127.0.0.1; use as a context manager."""

    def __init__(self, directory: Path, database_url: str | None = None, workers: int = 4,
                 app: str = "app:create_app()", extra: tuple[str, ...] = (), secret_key: str = SECRET_KEY,
                 healthy: bool = True, sections=None, server: str = "gunicorn", beside: "LiveServer | None" = None,
                 nice: int = 0):
        self.directory = Path(directory)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # sections: config overrides, or a function of the server's URL returning them
        sections = (sections(self.url) if callable(sections) else sections) or {}
        # beside: another server's config and database (the poll server beside the web server)
        self.config = beside.config if beside else write_config(self.directory, database_url, secret_key, **sections)
        self.server = server
        self.nice = nice  # run under `nice -n`: a lower CPU priority (the poll server beside the webhook's workers)
        self.healthy = healthy  # False: the database is meant to be down, so /healthz's 503 counts as up
        self.workers = workers
        self.app = app
        self.extra = extra
        self.log_path = self.directory / ("gunicorn.log" if server == "gunicorn" else f"{server}-{self.port}.log")
        self.process: subprocess.Popen | None = None

    @property
    def settings(self):
        return load_settings(self.config, environ={})

    def init_db(self) -> None:
        reset_database(self.config)
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "init-db"], cwd=ROOT,
                              env=server_env(self.config), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr

    def start(self) -> "LiveServer":
        log = open(self.log_path, "ab")
        if self.server == "granian":  # README "The screens' poll server": one blocking thread a worker, as gunicorn's sync
            command = [sys.executable, "-m", "granian", "--interface", "wsgi", "--factory", "--workers", str(self.workers),
                       "--blocking-threads", "1", "--respawn-failed-workers", "--host", "127.0.0.1", "--port", str(self.port),
                       "--no-access-log",
                       *self.extra, self.app.removesuffix("()")]
        else:
            command = [sys.executable, "-m", "gunicorn", "--workers", str(self.workers), "--bind", f"127.0.0.1:{self.port}",
                       "--timeout", "30", "--graceful-timeout", "5", *self.extra, self.app]
        if self.nice:
            command = ["nice", "-n", str(self.nice), *command]  # nice execs the server: the pid stays the server's
        self.process = subprocess.Popen(command, cwd=ROOT, env=server_env(self.config), stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 30
        probe = "/healthz" if self.app.startswith("app:") else "/"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.server} exited {self.process.returncode}:\n{self.log()}")
            try:
                status = requests.get(self.url + probe, timeout=5).status_code
                if status < 500 or (status == 503 and not self.healthy):
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.server} did not answer within 30 s:\n{self.log()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # the master stops its workers
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def worker_pids(self) -> list[int]:
        """The pids of the master's children (the workers)."""
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        except OSError:
            return []
        return [int(pid) for pid in children]

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> "LiveServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def simulator(self) -> WeChatSimulator:
        """A WeChatSimulator posting to this server with `requests` (one session per thread)."""
        local = threading.local()

        def post(query, body):
            session = getattr(local, "session", None)
            if session is None:
                session = local.session = requests.Session()
            response = session.post(self.url + "/wechat", params=query, data=body,
                                    headers={"Content-Type": "text/xml"}, timeout=15)
            return response.status_code, response.content

        return WeChatSimulator(self.settings, post)


@contextmanager
def connected(config: Path):
    """Bind the models to *config*'s database in this process; close every connection afterwards."""
    app = create_app(config)
    try:
        with app.app_context():
            yield app
    finally:
        close_pool()
