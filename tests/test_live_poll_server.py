"""The screens' poll server as deployed (README "The screens' poll server"): nginx sends `/screen/state` to a
granian process of the same app beside gunicorn, on the same database. A screen paired through gunicorn
polls granian and sees what gunicorn would show: its page, a 304 while nothing changed (on a connection kept
open, as nginx's upstream keepalive keeps it), the counts alone after a student checks in through the webhook
on gunicorn, and the whole page when the teacher publishes a quiz. Both databases; a few seconds."""

from __future__ import annotations

import http.client
import os
import re
import time

import pytest
import requests

from harness.live import INVITE, LiveServer

pytestmark = pytest.mark.live
ROTATE = 300


@pytest.fixture
def site(tmp_path):
    """(gunicorn, the poll server beside it) on one fresh database."""
    # codes rotate every 5 minutes here, so no rotation falls inside the test (see the wait below)
    web = LiveServer(tmp_path, os.environ.get("KETANG_TEST_DATABASE_URL") or None, workers=2,
                     sections={"screen": {"rotate_seconds": ROTATE}})
    web.init_db()
    with web, LiveServer(tmp_path, workers=1, server="granian", beside=web) as polls:
        yield web, polls


def test_a_screen_polls_the_poll_server_and_sees_what_gunicorn_shows(site):
    web, polls = site
    wx = web.simulator()
    assert "成为教师" in wx.send_text("o_teacher", f"教师认证 {INVITE}")
    code = re.search(r"课堂码：(\d{6})", wx.send_text("o_teacher", "创建课堂 大学物理")).group(1)
    for n in range(3):
        assert "已加入" in wx.send_text(f"o_student{n}", f"加入 {code}")
    made = requests.post(web.url + "/screen/new", headers={"Origin": web.url}, timeout=10).json()
    assert "已投屏" in wx.send_text("o_teacher", f"投屏 {made['code']}")

    kept = http.client.HTTPConnection("127.0.0.1", polls.port, timeout=10)  # nginx → poll server, kept alive
    secret = made["secret"]

    def poll(etag: str | None = None, shape: str | None = None):
        nonlocal secret
        headers = {"X-Screen": secret} | ({"If-None-Match": etag} if etag else {}) | ({"X-Shape": shape} if shape else {})
        kept.request("GET", "/screen/state", headers=headers)
        answer = kept.getresponse()
        body = answer.read().decode("utf-8")
        secret = answer.getheader("X-Screen-Secret") or secret  # handed over once after pairing, as the page does
        return answer, body

    page, html = poll()
    assert page.status == 200 and "大学物理" in html and code in html  # the class's join code between lessons
    again, body = poll(page.getheader("ETag"))
    assert again.status == 304 and body == ""

    left = ROTATE - time.time() % ROTATE  # a new slot is a new QR: a whole page where the test expects a 304
    if left < 20:
        time.sleep(left + 0.5)
    wx.send_text("o_teacher", "上课")
    assert "正在投屏" in wx.send_text("o_teacher", "开启签到 5 口令")
    checkin, html = poll(again.getheader("ETag"))
    assert checkin.status == 200 and 'class="qr"' in html
    passcode = re.search(r'id="passcode">(\d{4})<', html).group(1)  # the rotating code, read off the screen
    shape = checkin.getheader("X-Shape")
    assert poll(checkin.getheader("ETag"), shape)[0].status == 304

    assert "签到成功" in wx.send_text("o_student0", f"签到 {passcode}")  # through gunicorn's webhook
    counts, body = poll(checkin.getheader("ETag"), shape)
    assert counts.status == 200 and counts.getheader("Content-Type") == "application/json", body
    assert '"came": "1"' in body and '"missing": "2"' in body

    wx.send_text("o_teacher", "结束")
    wx.send_text("o_teacher", "练习 B 2 1+1=? A.1 B.2")
    quiz, html = poll(counts.getheader("ETag"), shape)
    assert quiz.status == 200 and "1+1=?" in html and quiz.getheader("X-Shape") != shape
    kept.close()
