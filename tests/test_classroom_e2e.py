"""A whole lesson through the webhook, in plaintext and in safe mode, with 30 students."""

from __future__ import annotations

import re

import pytest

from models import Announcement, Membership, Outbox, Response
from tests.conftest import build_app, simulator_for

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.fixture(params=["plain", "aes"])
def lesson_app(request, tmp_path, clock):
    return build_app(tmp_path, clock, aes=request.param == "aes")


def test_a_whole_lesson(lesson_app, clock):
    wx = simulator_for(lesson_app)
    students = [f"o_student{i:02d}" for i in range(30)]

    # A teacher signs up with the invite code and creates a class.
    assert "成为教师" in wx.send_text("o_teacher", "教师认证 JOIN-STAFF")
    created = wx.send_text("o_teacher", "创建课堂 高等数学（一）")
    code = re.search(r"课堂码：(\d{6})", created).group(1)
    assert "https://ketang.example.edu/qr/" in created

    # Thirty students join: by code, by QR (new and existing followers), full width, glued alias.
    for index, openid in enumerate(students):
        if index < 10:
            reply = wx.send_text(openid, f"加入 {code}")
        elif index < 15:
            reply = wx.send_event(openid, "subscribe", f"qrscene_{code}")
        elif index < 20:
            reply = wx.send_event(openid, "SCAN", code)
        elif index < 25:
            reply = wx.send_text(openid, "加入　" + code.translate(FULL_WIDTH))
        else:
            reply = wx.send_text(openid, "加入课堂" + code.translate(FULL_WIDTH))
        assert "已加入「高等数学（一）」" in reply, (openid, reply)
    assert "You are already in" in wx.send_text(students[0], f"join {code}")  # English alias, English reply
    assert Membership.select().count() == 30
    assert "正在上课" not in wx.send_text(students[0], "我的课堂")

    # The lesson starts; every student is queued a push.
    assert "已通知 30 名学生" in wx.send_text("o_teacher", "上课")
    assert Outbox.select().where(Outbox.kind == "lesson_started").count() == 30
    assert "正在上课" in wx.send_text(students[0], "我的课堂")

    # A check-in with a 4-digit code, 5 minutes: opened at 08:00, closes at 08:05 school time.
    opened = wx.send_text("o_teacher", "开启签到 5 口令")
    assert "08:05 截止" in opened
    passcode = re.search(r"签到码：(\d{4})", opened).group(1)
    assert "签到码" in wx.send_text(students[0], "签到")  # the code is required
    for index, openid in enumerate(students[:27]):
        form, said = (("签到 {}", "签到成功"), ("签到{}", "签到成功"), ("check in {}", "Checked in"))[index % 3]
        reply = wx.send_text(openid, form.format(passcode))
        assert said in reply, (openid, reply)  # in the language of the alias typed
    assert "签到过" in wx.send_text(students[0], f"签到 {passcode}")
    wrong = "0000" if passcode != "0000" else "1111"
    assert "签到码不对" in wx.send_text(students[27], f"签到 {wrong}")
    clock.advance(minutes=5, seconds=1)
    late = wx.send_text(students[28], f"签到 {passcode}")
    assert "已于 08:05 结束" in late
    assert Response.select().count() == 27

    attendance = wx.send_text("o_teacher", "签到情况")
    assert "应到 30：已到 27，迟到 0，请假 0，未到 3" in attendance

    # A single-choice quiz with answer B; students answer A/B/C and learn nothing before it closes.
    assert "正确答案 B" in wx.send_text("o_teacher", "练习 B 3 1+1=? A.1 B.2 C.3")
    picks = ["A"] * 5 + ["B"] * 20 + ["C"] * 2
    for openid, pick in zip(students, picks, strict=False):
        reply = wx.send_text(openid, f"答 {pick}")
        assert f"已提交答案 {pick}" in reply
        assert "正确" not in reply.replace("正确答案", "") and "错误" not in reply
    results = wx.send_text("o_teacher", "结果")
    assert re.search(r"^A █+ 5$", results, re.M)
    assert re.search(r"^B █+ 20 ✓$", results, re.M)
    assert re.search(r"^C █+ 2$", results, re.M)
    assert "作答 27 人（到课 27 人），答对 20 人，正确率 74%" in results

    # The teacher closes the quiz; now (and only now) a student may see whether they were right.
    assert "已结束 1 个" in wx.send_text("o_teacher", "结束")
    after = wx.send_text(students[0], "答 B")
    assert "已于 08:05 结束" in after and "A，错误" in after and "正确答案 B" in after

    # The lesson ends: each student is queued a personal summary; then only announcements remain.
    ended = wx.send_text("o_teacher", "下课")
    assert "已下课" in ended and "签到 27/30" in ended
    summaries = {o.user.openid: o.text for o in Outbox.select().where(Outbox.kind == "lesson_summary")}
    assert len(summaries) == 30
    assert "签到：已到；练习：答对 0/1 题" in summaries[students[0]]
    assert "签到：已到；练习：答对 1/1 题" in summaries[students[5]]
    assert "签到：缺勤" in summaries[students[29]]
    assert "只能查看「公告」" in wx.send_text(students[0], "答 B")

    # An announcement is stored, queued for all 30, and visible to students with 公告.
    assert "30 名学生下次发消息时会看到未读提醒" in wx.send_text("o_teacher", "发布公告 下周一停课，作业周三交")
    assert Announcement.select().count() == 1
    assert Outbox.select().where(Outbox.kind == "announcement").count() == 30
    assert "有新公告" in wx.send_text(students[5], "我的课堂")
    notices = wx.send_text(students[5], "公告")
    assert "下周一停课，作业周三交" in notices
    assert "有新公告" not in wx.send_text(students[5], "我的课堂")
