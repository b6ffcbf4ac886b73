"""The weekly digest against real `flask --app app scheduler` processes: a scheduler killed with SIGKILL after it
computed the digests and before it wrote them loses nothing, and the two schedulers that follow send each
teacher's digest exactly once (a SQLite file, or KETANG_TEST_DATABASE_URL)."""

from __future__ import annotations

import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest

from app import create_app
from bot.clock import utc_now
from bot.database import create_schema, is_sqlite, transaction
from handlers.warnings import week_of
from harness.mock_wechat import MockWechat
from models import CHECKIN, MODELS, Activity, Classroom, Lesson, Membership, Outbox, RiskDigest, User, db
from tests.test_scheduler_processes import start, stop, wait_until, write_config

pytestmark = pytest.mark.live

CLASSES, STUDENTS, LESSONS = 12, 30, 6


def seed(config: Path) -> list[str]:
    """CLASSES classes, each with its own teacher (who wrote within the hour) and STUDENTS students who missed
    the LESSONS lessons of the weeks before this week's digest time; return the teachers' openids."""
    app = create_app(config, clock=utc_now)
    if not is_sqlite():
        db.drop_tables(MODELS, safe=True, cascade=True)
    create_schema()
    db.connect(reuse_if_open=True)
    now = utc_now()
    _week, due = week_of(now, 1, 8, app.extensions["ketang"].settings.school.tz)
    teachers = []
    for c in range(CLASSES):
        teacher = User.create(openid=f"o_t{c:02d}", role="teacher", created_at=now, last_seen_at=now)
        classroom = Classroom.create(name=f"班{c:02d}", code=f"{700000 + c}", owner=teacher, created_at=now)
        User.insert_many([{"openid": f"o_{c:02d}_{s:02d}", "created_at": now} for s in range(STUDENTS)]).execute()
        members = User.select(User.id).where(User.openid.startswith(f"o_{c:02d}_"))
        Membership.insert_many([{"user": u.id, "classroom": classroom.id, "joined_at": due - timedelta(days=60)}
                                for u in members]).execute()
        for n in range(LESSONS):
            began = due - timedelta(days=1 + 7 * n)
            lesson = Lesson.create(classroom=classroom, started_at=began, ended_at=began + timedelta(hours=1), live=None)
            Activity.create(lesson=lesson, kind=CHECKIN, status="closed", opened_at=began, deadline=began + timedelta(minutes=5),
                            closed_at=began + timedelta(minutes=5))
        teachers.append(teacher.openid)
    return teachers


def logged(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text(encoding="utf-8")


def test_a_scheduler_killed_between_computing_and_sending_leaves_each_digest_to_be_sent_exactly_once(tmp_path):
    with MockWechat(latency_ms=5) as mock:
        config = write_config(tmp_path, mock.url, lease=2)
        teachers = seed(config)
        first_log = tmp_path / "first.log"
        # Hold the write lock (SQLite) or block inserts into risk_digest (PostgreSQL) so the first scheduler
        # can compute every digest but write none; kill it there.
        with transaction():
            if not is_sqlite():
                db.execute_sql("LOCK TABLE risk_digest IN SHARE MODE")
            first = start(config, first_log)
            try:
                wait_until(lambda: logged(first_log, "computing 12 classes"), 30, "the first scheduler to compute")
                time.sleep(1.5)  # its computing is done; its write waits for the lock we hold
                first.send_signal(signal.SIGKILL)
                first.wait(timeout=10)
            finally:
                stop(first)
        assert RiskDigest.select().count() == 0 and Outbox.select().where(Outbox.kind == "risk_digest").count() == 0
        assert not logged(first_log, "digests queued")
        # Two schedulers at once after the crash: each teacher's digest is queued once and sent once.
        logs = [tmp_path / "a.log", tmp_path / "b.log"]
        processes = [start(config, log) for log in logs]
        try:
            wait_until(lambda: Outbox.select().where((Outbox.kind == "risk_digest") & (Outbox.status == "sent")).count()
                       == CLASSES, 60, "every digest to be sent")
            time.sleep(2.5)  # both run their jobs again: still nothing twice
        finally:
            stop(*processes)
    received = mock.received("text")
    assert {openid: received[openid] for openid in teachers} == {openid: 1 for openid in teachers}
    assert RiskDigest.select().count() == CLASSES
    digest = next(m["content"] for m in mock.sent if m["touser"] == teachers[0])
    assert digest.startswith("【学情预警 · 班00】本周 30 名学生需要关注：") and "连续缺勤 6 次" in digest
    db.close()
