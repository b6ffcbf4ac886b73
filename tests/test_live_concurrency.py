"""Monday 8 a.m. against a real `gunicorn -w 4`: a lecture hall checks in at once, WeChat retries
race each other, and hostile bodies arrive over a real socket. Runs on SQLite and, with
KETANG_TEST_DATABASE_URL, on PostgreSQL. One server per module; bounded in count and time."""

from __future__ import annotations

import os
import random
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from harness.live import INVITE, LiveServer, connected
from models import Announcement, FailedAttempt, InboundMessage, Membership, Response, User

pytestmark = pytest.mark.live

STUDENTS = 1000
RETRIED = 300
THREADS = 32
BUDGET_SECONDS = 240  # the whole module; every request also has its own 15 s timeout


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("live"), os.environ.get("KETANG_TEST_DATABASE_URL") or None, workers=4)
    live.init_db()
    with live:
        live.started = time.monotonic()
        yield live
    assert "database is locked" not in live.log()
    assert "Traceback" not in live.log(), live.log()[-4000:]


def fire(server, requests_list):
    """Post pre-signed (query, body) pairs from a thread pool; return [(status, body)] in order."""
    assert time.monotonic() - server.started < BUDGET_SECONDS, "time budget spent"
    wx = server.simulator()
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(lambda qb: wx.post(*qb), requests_list))


def replies(server, answers):
    wx = server.simulator()
    assert [status for status, _ in answers if status != 200] == []
    return [wx.read_reply(body) for _, body in answers]


@pytest.fixture(scope="module")
def hall(server):
    """A teacher, a class of 1,000 students who joined concurrently, a lesson and a check-in with a code."""
    wx = server.simulator()
    assert "成为教师" in wx.send_text("o_teacher", f"教师认证 {INVITE}")
    code = re.search(r"课堂码：(\d{6})", wx.send_text("o_teacher", "创建课堂 大学物理")).group(1)
    students = [f"o_stu{i:05d}" for i in range(STUDENTS)]
    joined = replies(server, fire(server, [wx.sign(wx.text_xml(s, f"加入 {code}")) for s in students]))
    assert all("已加入「大学物理」" in r for r in joined), [r for r in joined if "已加入" not in r][:3]
    assert "已通知 1000 名学生" in wx.send_text("o_teacher", "上课")
    opened = wx.send_text("o_teacher", "开启签到 10 口令")
    passcode = re.search(r"签到码：(\d{4})", opened).group(1)
    return wx, students, passcode


def test_a_thousand_students_check_in_at_once_and_none_is_lost(server, hall):
    wx, students, passcode = hall
    signed = [wx.sign(wx.text_xml(s, f"签到 {passcode}")) for s in students]  # crypto before the clock starts
    answers = fire(server, signed)
    assert sorted({status for status, _ in answers}) == [200]
    texts = replies(server, answers)
    assert all("签到成功" in text for text in texts), [t for t in texts if "签到成功" not in t][:3]
    with connected(server.config):
        assert Response.select().count() == STUDENTS
        assert Membership.select().count() == STUDENTS
        assert User.select().count() == STUDENTS + 1
    assert "应到 1000：已到 1000，迟到 0，请假 0，未到 0" in wx.send_text("o_teacher", "签到情况")


def test_each_message_delivered_three_times_at_once_has_exactly_one_effect(server, hall):
    wx, students, _ = hall
    # A second check-in (new code), and a second teacher with an empty class for announcements.
    wx.send_text("o_teacher", "结束")
    passcode = re.search(r"签到码：(\d{4})", wx.send_text("o_teacher", "开启签到 10 口令")).group(1)
    wrong = "0000" if passcode != "0000" else "1111"
    wx.send_text("o_teacher2", f"教师认证 {INVITE}")
    wx.send_text("o_teacher2", "创建课堂 空教室")
    third = RETRIED // 3
    messages = (
        [wx.text_xml(s, f"签到 {wrong}") for s in students[:third]]  # a wrong guess is counted once
        + [wx.text_xml(s, f"签到 {passcode}") for s in students[third:2 * third]]
        + [wx.text_xml("o_teacher2", f"发布公告 第{i}条通知") for i in range(RETRIED - 2 * third)]  # no unique key
    )
    random.Random(6).shuffle(messages)
    signed = [wx.sign(m) for m in messages for _ in range(3)]  # the three copies are neighbours: in flight together
    with connected(server.config):  # counted now: this test asks nothing of what the one before it did
        before = [model.select().count() for model in (InboundMessage, Response, FailedAttempt, Announcement)]
    texts = replies(server, fire(server, signed))
    for index in range(0, len(texts), 3):
        assert texts[index] == texts[index + 1] == texts[index + 2], texts[index:index + 3]
    assert sum("还可以再试 4 次" in t for t in texts) == 3 * third
    assert sum("签到成功" in t for t in texts) == 3 * third
    with connected(server.config):
        after = [model.select().count() for model in (InboundMessage, Response, FailedAttempt, Announcement)]
    assert [n - m for n, m in zip(after, before, strict=True)] == [RETRIED, third, third, RETRIED - 2 * third]


# --- hostile bodies over a real socket ------------------------------------------------------------


def row_count(server) -> int:
    with connected(server.config):
        return InboundMessage.select().count() + User.select().count()


def test_chunked_and_oversized_bodies_are_refused_by_the_real_server(server, hall):
    wx = hall[0]
    before = row_count(server)
    query, body = wx.sign(wx.text_xml("o_chunky", "加入 " + "签" * 30000))
    assert len(body) > 64 * 1024

    def chunks(data, size=8192):
        for start in range(0, len(data), size):
            yield data[start:start + size]

    url = server.url + "/wechat"
    chunked = requests.post(url, params=query, data=chunks(body), headers={"Content-Type": "text/xml"}, timeout=15)
    assert chunked.status_code == 413
    plain = requests.post(url, params=query, data=body, headers={"Content-Type": "text/xml"}, timeout=15)
    assert plain.status_code == 413
    at_limit = requests.post(url, params=query, data=chunks(body[: 64 * 1024]), timeout=15)
    assert at_limit.status_code == 413
    assert row_count(server) == before
    # A small chunked message is an ordinary message.
    query, body = wx.sign(wx.text_xml("o_chunky", "帮助"))
    ok = requests.post(url, params=query, data=chunks(body, 50), headers={"Content-Type": "text/xml"}, timeout=15)
    assert ok.status_code == 200 and "学生命令" in wx.read_reply(ok.content)


def test_garbage_over_the_socket_never_gets_a_5xx(server, hall):
    wx = hall[0]
    url = server.url + "/wechat"
    query, _ = wx.sign(wx.text_xml("o_garbage", "帮助"))
    bodies = [b"", b"\xff\xfe\x00<xml>", b"<xml><Encrypt>", b"x" * 70000, b"<xml><Encrypt><![CDATA[%%%]]></Encrypt></xml>"]
    for body in bodies:
        assert requests.post(url, params=query, data=body, timeout=15).status_code in (400, 403, 413)
    assert requests.post(url, timeout=15).status_code == 403
    assert requests.get(url, timeout=15).status_code == 403
