"""handlers/scheduled_announcements.py: 定时公告, 定时列表, 取消定时, and the job that posts them."""

from __future__ import annotations

from handlers.scheduled_announcements import publish_due_announcements
from models import Announcement, Outbox, ScheduledAnnouncement


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
