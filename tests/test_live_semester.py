"""Late in the semester, against a real `gunicorn -w 4`: a class with 40 lessons × 3 quizzes of history
checks in while classmates ask for 我的记录 and 我的成绩 and the teacher for 成绩. Reads must not hold the
writer lock or cost lessons × quizzes × class size: no check-in is lost or answered after WeChat's 5 s.
SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.semester import seed
from harness.live import INVITE, LiveServer, connected
from models import Activity, Response

pytestmark = pytest.mark.live

STUDENTS = 120  # the class has 300; the shape (40 lessons × 3 quizzes) is what costs
LESSONS, QUIZZES = 40, 3
CHECKINS = 80
RECORDS = 40
WECHAT_DEADLINE = 5.0  # seconds: WeChat drops a reply that comes later (and the student sees an error)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("semester"), os.environ.get("KETANG_TEST_DATABASE_URL") or None, workers=4)
    live.init_db()
    with live:
        yield live
    assert "database is locked" not in live.log()
    assert "Traceback" not in live.log(), live.log()[-4000:]


def test_check_ins_are_not_slowed_by_records_of_a_long_semester(server):
    wx = server.simulator()
    assert "成为教师" in wx.send_text("o_teacher", f"教师认证 {INVITE}")
    code = re.search(r"课堂码：(\d{6})", wx.send_text("o_teacher", "创建课堂 历史")).group(1)
    students = seed(server.config, code, STUDENTS, LESSONS, QUIZZES)
    assert f"已通知 {STUDENTS} 名学生" in wx.send_text("o_teacher", "上课")
    passcode = re.search(r"签到码：(\d{4})", wx.send_text("o_teacher", "开启签到 10 口令")).group(1)
    record = wx.send_text(students[0], "我的记录")
    assert re.search(rf"「历史」已到 \d+ · 迟到 \d+ · 请假 0 · 缺勤 \d+ · 练习答对 \d+/{LESSONS * QUIZZES}", record), record

    checkins = [("checkin", wx.sign(wx.text_xml(s, f"签到 {passcode}"))) for s in students[:CHECKINS]]
    records = [("record", wx.sign(wx.text_xml(s, "我的记录" if i % 2 else "我的成绩")))
               for i, s in enumerate(students[-RECORDS:])]
    records[::10] = [("gradebook", wx.sign(wx.text_xml("o_teacher", "成绩"))) for _ in records[::10]]
    mixed = [item for pair in zip(records, checkins[:RECORDS], strict=True) for item in pair] + checkins[RECORDS:]

    def send(item):
        kind, (query, body) = item
        started = time.monotonic()
        status, reply = wx.post(query, body)
        return kind, status, time.monotonic() - started, wx.read_reply(reply) if status == 200 else ""

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(send, mixed))
    assert {status for _kind, status, _s, _r in results} == {200}
    answered = [(seconds, text) for kind, _st, seconds, text in results if kind == "checkin"]
    assert all("签到成功" in text for _s, text in answered), [t for _s, t in answered if "签到成功" not in t][:3]
    slow = sorted(seconds for seconds, _t in answered if seconds >= WECHAT_DEADLINE)
    assert slow == [], f"{len(slow)} of {CHECKINS} check-ins answered after WeChat's 5 s (slowest {slow[-1]:.1f} s)"
    replies = [text for kind, _st, _s, text in results if kind == "record"]
    assert all(re.search("「历史」(已到|平时成绩)", text) for text in replies), replies[:3]
    summaries = [text for kind, _st, _s, text in results if kind == "gradebook"]
    assert summaries and all("「历史」平时成绩" in text and "平均" in text for text in summaries), summaries[:1]
    with connected(server.config):
        checkin = Activity.select().where(Activity.kind == "checkin").order_by(Activity.id.desc()).get()
        assert Response.select().where(Response.activity == checkin).count() == CHECKINS  # none lost
