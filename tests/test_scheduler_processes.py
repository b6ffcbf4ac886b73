"""Real `flask --app app scheduler` processes on one database (a SQLite file, or KETANG_TEST_DATABASE_URL)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from app import create_app
from bot.clock import utc_now
from bot.database import create_schema, is_sqlite
from harness.mock_wechat import MockWechat
from models import MODELS, Activity, Announcement, Classroom, Lesson, Membership, Outbox, ScheduledAnnouncement, User, db
from tests.conftest import APP_ID, ROOT, SECRET_KEY, TOKEN, Chat

pytestmark = pytest.mark.live

THREADS = 4
TWICE_RISKS = ("drain_outbox", "close_due_activities", "publish_due_announcements")  # the jobs that send or close


def write_config(tmp_path: Path, api: str, lease: int) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f"""
[wechat]
app_id = "{APP_ID}"
app_secret = "s3cret"
token = "{TOKEN}"
api_base_url = "{api}"
[database]
url = "{os.environ.get('KETANG_TEST_DATABASE_URL') or 'sqlite:///' + (tmp_path / 'ketang.db').as_posix()}"
[server]
public_url = "https://ketang.example.edu"
secret_key = "{SECRET_KEY}"
[scheduler]
push_threads = {THREADS}
push_per_second = 1000
push_lease_seconds = {lease}
""", encoding="utf-8")
    return path


def seed(config: Path, students: int):
    """A teacher and a class of *students* who all wrote within the last hour; return (say, openids)."""
    app = create_app(config, clock=utc_now)
    if not is_sqlite():
        db.drop_tables(MODELS, safe=True, cascade=True)
    create_schema()
    db.connect(reuse_if_open=True)
    now = utc_now()
    teacher = User.create(openid="o_teacher", role="teacher", created_at=now, last_seen_at=now)
    classroom = Classroom.create(name="大班", code="654321", owner=teacher, created_at=now)
    openids = [f"o_{i:03d}" for i in range(students)]
    User.insert_many([{"openid": o, "created_at": now, "last_seen_at": now - timedelta(hours=1)} for o in openids]).execute()
    members = User.select(User.id).where(User.openid.in_(openids))
    Membership.insert_many([{"user": u.id, "classroom": classroom.id, "joined_at": now} for u in members]).execute()
    return Chat(app), set(openids)


def start(config: Path, log: Path, *options: str) -> subprocess.Popen:
    overrides = ("DATABASE_URL", "WECHAT_APP_SECRET", "WECHAT_TOKEN", "WECHAT_AES_KEY")
    env = {k: v for k, v in os.environ.items() if k not in overrides}
    env["KETANG_CONFIG"] = str(config)
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "scheduler", *options], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def stop(*processes: subprocess.Popen) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def runs(log: Path, job: str) -> int:
    """How many times a `scheduler --verbose` process logged that *job* ran."""
    return log.read_text(encoding="utf-8").count(f"job {job} ran")


def sent_rows() -> int:
    return Outbox.select().where(Outbox.status == "sent").count()


def test_a_scheduler_killed_mid_drain_loses_nothing_and_repeats_only_what_was_in_flight(tmp_path):
    with MockWechat(latency_ms=20) as mock:
        config = write_config(tmp_path, mock.url, lease=2)  # the restarted process takes over after 2 s
        say, students = seed(config, 300)
        assert "现在推送给 300 名学生" in say("o_teacher", "发布公告 期中考试改到周五")
        first = start(config, tmp_path / "first.log")
        try:
            wait_until(lambda: len(mock.sent) >= 60, 20, "the first scheduler to start sending")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            stop(first)
        at_kill = len(mock.sent)
        assert at_kill < len(students), "killed too late to prove anything"
        second = start(config, tmp_path / "second.log")
        try:
            wait_until(lambda: sent_rows() == len(students), 20, "the restarted scheduler to finish")
        finally:
            stop(second)
    received = mock.received("text")
    assert set(received) == students  # everyone got it
    repeats = sum(n - 1 for n in received.values())
    assert repeats <= THREADS, f"{repeats} repeats; at most one per sending thread was in flight"
    db.close()


def test_two_schedulers_on_one_database_close_and_send_nothing_twice(tmp_path):
    with MockWechat(latency_ms=10) as mock:
        config = write_config(tmp_path, mock.url, lease=30)
        say, students = seed(config, 200)
        now = utc_now()
        classroom, teacher = Classroom.get(), User.get(User.openid == "o_teacher")
        lesson = Lesson.create(classroom=classroom, started_at=now - timedelta(minutes=30))
        for minutes in range(1, 11):  # ten activities whose deadlines passed while nobody typed
            Activity.create(lesson=lesson, kind="checkin", opened_at=now - timedelta(minutes=20),
                            deadline=now - timedelta(minutes=minutes))
        ScheduledAnnouncement.create(classroom=classroom, author=teacher, text="下午停电，改上网课",
                                     due_at=now - timedelta(seconds=1), created_at=now)
        say("o_teacher", "发布公告 带上课本")  # 200 pushes due the moment both processes start
        logs = [tmp_path / "a.log", tmp_path / "b.log"]
        processes = [start(config, log, "--verbose") for log in logs]
        try:
            wait_until(lambda: sent_rows() == 2 * len(students), 20, "both announcements to reach every student")
            wait_until(lambda: Activity.select().where(Activity.status == "open").count() == 0, 10, "activities to close")
            # Every job that could send or close twice runs again in both processes once all is done: still nothing twice.
            done = {(log, job): runs(log, job) for log in logs for job in TWICE_RISKS}
            for (log, job), before in done.items():
                wait_until(lambda log=log, job=job, before=before: runs(log, job) > before, 15,
                           f"{job} to run again in {log.name}")
        finally:
            stop(*processes)
    assert mock.received("text") == {openid: 2 for openid in students}
    assert Announcement.select().count() == 2
    pushed = [sum(int(n) for n in re.findall(r"pushed (\d+) messages", log.read_text(encoding="utf-8"))) for log in logs]
    assert sum(pushed) == 400
    closes = sum(int(n) for log in logs for n in re.findall(r"closed (\d+) activities", log.read_text(encoding="utf-8")))
    assert closes == 10, "each activity closed by exactly one process"
    assert all(a.closed_at == a.deadline for a in Activity.select())
    db.close()
