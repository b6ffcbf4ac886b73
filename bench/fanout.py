"""Push fan-out: a real scheduler process drains N outbox rows against the loopback mock WeChat API.

    python -m bench.fanout [--n 10000] [--latency-ms 20]      (also part of `make bench`)

The mock API (harness/mock_wechat.py) answers every call after *latency_ms*. N students who wrote within
the last hour (so the customer-service channel is open) each get one pending announcement, written
straight into the database; then `flask --app app scheduler` is started with the shipped defaults for
`[scheduler] push_threads` and `push_per_second`, and the clock runs from its first delivery to its
last. Every row must end up sent and every student must get exactly one message.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from peewee import chunked, fn

from app import create_app
from bot.clock import utc_now
from bot.config import SchedulerSettings
from bot.database import ROWS_PER_INSERT, transaction
from harness.live import AES_KEY, APP_ID, ROOT, SECRET_KEY, TOKEN, close_pool, reset_database, server_env
from harness.mock_wechat import MockWechat
from models import Outbox, User

DEADLINE = 600  # seconds: give up (and say so) rather than wait forever


def write_config(directory: Path, api_url: str, database_url: str | None) -> Path:
    url = database_url or f"sqlite:///{(directory / 'ketang.db').resolve()}"
    path = directory / "config.toml"
    path.write_text(
        f'[wechat]\napp_id = "{APP_ID}"\napp_secret = "bench-secret"\ntoken = "{TOKEN}"\n'
        f'encoding_aes_key = "{AES_KEY}"\napi_base_url = "{api_url}"\n'
        f'[database]\nurl = "{url}"\n'
        f'[server]\npublic_url = "https://ketang.example.edu"\nsecret_key = "{SECRET_KEY}"\n',
        encoding="utf-8",
    )
    return path


def fill_outbox(config: Path, n: int) -> None:
    """N students in their 48-hour window, each with one pending announcement."""

    now = utc_now()
    app = create_app(config)
    with app.app_context(), transaction():
        for batch in chunked([{"openid": f"o_fan{i:05d}", "created_at": now, "last_seen_at": now - timedelta(hours=1)}
                              for i in range(n)], ROWS_PER_INSERT):
            User.insert_many(batch).execute()
        ids = [u.id for u in User.select(User.id).order_by(User.id)]
        rows = [{"key": f"bench:{uid}", "user": uid, "kind": "announcement", "text": "【大学物理】公告：下周一停课",
                 "next_try_at": now, "created_at": now} for uid in ids]
        for batch in chunked(rows, ROWS_PER_INSERT):  # psycopg 3 binds parameters on the server: at most 65,535 a statement
            Outbox.insert_many(batch).execute()
    close_pool()


def outbox_states(config: Path) -> dict[str, int]:

    app = create_app(config)
    with app.app_context():
        counted = Outbox.select(Outbox.status, fn.COUNT(Outbox.id).alias("n")).group_by(Outbox.status)
        states = {row.status: row.n for row in counted}
    close_pool()
    return states


def run(n: int = 10000, latency_ms: float = 20, database_url: str | None = None) -> dict:
    """Drain *n* pushes through a real scheduler process; return the figures."""
    work = Path(tempfile.mkdtemp(prefix="ketang-fanout-"))
    defaults = SchedulerSettings()
    scheduler = None
    try:
        with MockWechat(latency_ms=latency_ms) as mock:
            config = write_config(work, mock.url, database_url)
            reset_database(config)
            fill_outbox(config, n)
            log = open(work / "scheduler.log", "wb")
            scheduler = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "scheduler"], cwd=ROOT,
                                         env=server_env(config), stdout=log, stderr=log)
            started, first, last, seen = time.monotonic(), None, None, 0
            while time.monotonic() - started < DEADLINE and seen < n and scheduler.poll() is None:
                time.sleep(0.02)
                count = len(mock.sent)
                if count and first is None:
                    first = time.monotonic()
                if count != seen:
                    seen, last = count, time.monotonic()
            scheduler.send_signal(signal.SIGTERM)
            scheduler.wait(timeout=30)
            received = mock.received("text")
        states = outbox_states(config)
    finally:
        if scheduler and scheduler.poll() is None:
            scheduler.kill()
        shutil.rmtree(work, ignore_errors=True)
    seconds = (last - first) if first and last and last > first else float("nan")
    return {
        "n": n, "latency_ms": latency_ms, "threads": defaults.push_threads, "per_second_cap": defaults.push_per_second,
        "delivered": sum(received.values()), "students": len(received), "twice": sum(1 for c in received.values() if c > 1),
        "sent_rows": states.get("sent", 0), "states": states, "seconds": seconds,
        "per_second": seen / seconds if seconds == seconds else 0.0,
    }


def describe(figures: dict) -> str:
    return (f"{figures['delivered']}/{figures['n']} delivered to {figures['students']} students "
            f"({figures['twice']} twice) in {figures['seconds']:.1f} s = {figures['per_second']:.0f} deliveries/s "
            f"(mock latency {figures['latency_ms']:g} ms; push_threads {figures['threads']}, push_per_second "
            f"{figures['per_second_cap']}); outbox rows: {figures['states']}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--latency-ms", type=float, default=20)
    args = parser.parse_args(argv)
    print("push fan-out:", describe(run(args.n, args.latency_ms, os.environ.get("BENCH_DATABASE_URL") or None)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
