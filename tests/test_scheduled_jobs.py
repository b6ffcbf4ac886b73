"""Time-driven jobs with a frozen clock: scheduled announcements, stale lessons, dialogs, the wiring."""

from __future__ import annotations

from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from bot.database import create_schema
from bot.jobs import expire_dialogs
from bot.scheduler import build_scheduler
from handlers.schedule import publish_due_announcements
from handlers.teacher import end_stale_lessons
from models import Activity, Announcement, Dialog, Lesson, Outbox, ScheduledAnnouncement, User, db


def join(say, code, *openids):
    for openid in openids:
        say(openid, f"加入 {code}")


def test_a_scheduled_announcement_is_posted_and_pushed_once_at_its_time(say, teacher, clock):
    openid, code = teacher
    join(say, code, "o_a", "o_b")
    # T0 is 2026-09-07 08:00 in Asia/Shanghai; 09:30 school time is 01:30 UTC.
    assert "2026-09-07 09:30" in say(openid, "定时公告 2026-09-07 09:30 带计算器")
    assert "Scheduled" in say(openid, "announce at 2026-09-07 10:00 Bring a calculator")
    assert Announcement.select().count() == 0 and Outbox.select().count() == 0
    clock.advance(minutes=89)
    assert publish_due_announcements(clock()) == 0
    clock.advance(minutes=1)
    assert publish_due_announcements(clock()) == 1
    assert publish_due_announcements(clock()) == 0  # never twice
    assert [a.text for a in Announcement.select()] == ["带计算器"]
    assert sorted(o.user.openid for o in Outbox.select()) == ["o_a", "o_b"]
    assert "带计算器" in say("o_a", "公告")
    clock.advance(hours=1)
    assert publish_due_announcements(clock()) == 1 and Announcement.select().count() == 2


def test_a_teacher_lists_and_cancels_scheduled_announcements(say, teacher, clock):
    openid, code = teacher
    join(say, code, "o_a")
    assert "没有待发布的定时公告" in say(openid, "定时列表")
    assert "定时列表" in say(openid, "定时公告 2026-09-07 15:00 下午停课")
    say(openid, "定时公告 2026-09-07 09:30 带计算器")
    listing = say(openid, "定时列表")
    assert "待发布的定时公告 · 2 条" in listing
    assert listing.index("1. 2026-09-07 09:30 带计算器") < listing.index("2. 2026-09-07 15:00 下午停课")  # soonest first
    assert "没有第 3 条定时公告（共 2 条）" in say(openid, "取消定时 3")
    assert "已取消「高等数学」的定时公告：2026-09-07 15:00 下午停课" in say(openid, "取消定时 2")
    assert "「取消定时」只有教师可以使用" in say("o_a", "取消定时 1")
    clock.advance(hours=8)
    assert publish_due_announcements(clock()) == 1  # only the one left
    assert [a.text for a in Announcement.select()] == ["带计算器"]
    assert "没有待发布的定时公告" in say(openid, "取消定时 1")
    # The short help stays short; the details are one 帮助 away.
    assert "取消定时" not in say(openid, "帮助") and "「取消定时 <序号>」取消" in say(openid, "帮助 定时公告")
    assert "取消定时 <序号>" in say(openid, "帮助 取消定时")


def test_scheduling_refuses_the_past_bad_dates_and_students(say, teacher, clock):
    openid, code = teacher
    assert "已经过去了" in say(openid, "定时公告 2026-09-07 07:59 太晚了")
    assert "格式不对" in say(openid, "定时公告 2026-02-30 09:00 没有这一天")
    assert "格式不对" in say(openid, "定时公告 2026-09-08 下午 上课")
    assert "一年以内" in say(openid, "定时公告 2030-01-01 09:00 太远")
    assert "用法" in say(openid, "定时公告 明天 上课")
    join(say, code, "o_a")
    assert "只有教师" in say("o_a", "定时公告 2026-09-08 09:00 假公告")
    assert "2026-09-08 14:05" in say(openid, "定时公告 2026-09-08 １４：０５ 全角时间")
    assert ScheduledAnnouncement.get().text == "全角时间"


def test_an_activity_closes_itself_at_its_deadline(say, teacher, clock, app):
    from bot.jobs import close_due_activities

    openid, _ = teacher
    say(openid, "上课")
    say(openid, "开启签到 2")
    clock.advance(minutes=2, seconds=1)
    assert close_due_activities(clock()) == 1  # nobody typed anything
    assert Activity.get().status == "closed"


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
                        "publish_due_announcements": 5, "end_stale_lessons": 60, "drain_outbox": 2}
        # no app_secret: no API client, so no QR job and no token fetched
    finally:
        scheduler.shutdown(wait=False)


def test_an_old_outbox_table_gains_the_new_columns(app):
    db.execute_sql("DROP TABLE outbox")
    db.execute_sql("CREATE TABLE outbox (id INTEGER PRIMARY KEY, key VARCHAR(160) UNIQUE, user_id INTEGER, kind VARCHAR(32),"
                   " text TEXT, status VARCHAR(16), attempts INTEGER, next_try_at TIMESTAMP, created_at TIMESTAMP, sent_at TIMESTAMP)")
    create_schema()
    assert {"claim", "lease_until", "channel", "msg_id", "delivery", "last_error"} <= {c.name for c in db.get_columns("outbox")}


def test_the_example_config_documents_the_scheduler_keys():
    from bot.config import ConfigError, SchedulerSettings, load_settings, settings_from_dict
    from tests.conftest import ROOT, TOKEN

    # The example's token is a placeholder the server refuses; a real one comes from the environment.
    scheduler = load_settings(ROOT / "config.example.toml", environ={"WECHAT_TOKEN": TOKEN}).scheduler
    assert scheduler == SchedulerSettings()  # the example shows the defaults
    assert (scheduler.lesson_max_hours, scheduler.push_threads, scheduler.push_per_second) == (4, 16, 400)
    try:
        settings_from_dict({"scheduler": {"push_threads": 0}})
    except ConfigError as error:
        assert "[scheduler]" in str(error)
    else:
        raise AssertionError("push_threads = 0 was accepted")
