"""Time-driven jobs f(now) with a frozen clock (bot/jobs.py and the classroom's), and the job table."""

from __future__ import annotations

from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from bot.jobs import expire_dialogs, purge_dedupe
from bot.scheduler import build_scheduler
from handlers.teacher import close_due_activities, end_stale_lessons
from models import Activity, Dialog, Lesson, Outbox, User


def join(say, code, *openids):
    for openid in openids:
        say(openid, f"加入 {code}")


def test_close_due_activities_is_idempotent(say, teacher, clock):
    openid, _ = teacher
    say(openid, "上课")
    say(openid, "开启签到 1")
    assert close_due_activities(clock()) == 0
    clock.advance(minutes=1, seconds=1)
    assert close_due_activities(clock()) == 1  # nobody typed anything
    assert close_due_activities(clock()) == 0
    activity = Activity.get()
    assert activity.status == "closed" and activity.closed_at == activity.deadline


def test_a_lesson_left_open_is_ended_after_the_limit(say, teacher, clock):
    openid, code = teacher
    join(say, code, "o_s1")
    say(openid, "上课")
    say(openid, "开启签到 600")
    clock.advance(hours=4)
    assert end_stale_lessons(clock(), max_hours=4) == 0
    clock.advance(seconds=1)
    assert end_stale_lessons(clock(), max_hours=4) == 1
    assert end_stale_lessons(clock(), max_hours=4) == 0
    lesson, activity = Lesson.get(), Activity.get()
    assert lesson.live is None and lesson.ended_at == lesson.started_at + timedelta(hours=4)
    assert activity.status == "closed" and activity.closed_at == lesson.ended_at
    summary = Outbox.get(Outbox.kind == "lesson_summary")  # as if the teacher had sent 下课
    assert summary.user.openid == "o_s1" and "已下课" in summary.text and "签到：缺勤" in summary.text
    assert "已通知" in say(openid, "上课")  # a new lesson can start


def test_purge_dedupe_keeps_recent_keys(say, clock):
    say("o_a", "帮助")
    assert purge_dedupe(clock() + timedelta(days=1)) == 0
    assert purge_dedupe(clock() + timedelta(days=3)) == 1


def test_expired_dialogs_are_deleted(say, clock):
    say("o_a", "帮助")
    user = User.get(User.openid == "o_a")
    Dialog.create(user=user, flow="x", step="y", expires_at=clock() + timedelta(minutes=10))
    assert expire_dialogs(clock()) == 0
    clock.advance(minutes=11)
    assert expire_dialogs(clock()) == 1 and Dialog.select().count() == 0


def test_the_scheduler_runs_every_job_once_at_start_and_then_on_its_interval(app):
    scheduler = build_scheduler(app, BackgroundScheduler)
    scheduler.start(paused=True)
    try:
        jobs = {job.id: job.trigger.interval.total_seconds() for job in scheduler.get_jobs()}
        assert jobs == {"close_due_activities": 5, "purge_dedupe": 3600, "expire_dialogs": 60, "close_roll_calls": 10,
                        "publish_due_announcements": 5, "end_stale_lessons": 60, "drain_outbox": 2,
                        "end_screens": 30, "absence_requests": 10, "risk_digest": 300,
                        "privacy_retention": 3600, "draw_checkin_qr": 2}
        # no app_secret: no API client, so no QR job and no token fetched
        job = scheduler.get_job("close_due_activities")
        assert job.coalesce and job.max_instances == 1 and job.misfire_grace_time == 60
        assert job.trigger.interval == timedelta(seconds=5)
        assert scheduler.get_job("purge_dedupe").trigger.interval == timedelta(hours=1)
    finally:
        scheduler.shutdown(wait=False)
