"""The classroom screen in a real browser: Debian's Chromium driven by Playwright (never `playwright install`),
the app served over HTTP in this process with a frozen clock, students talking through the signed webhook.
The check-in QR is read back from a screenshot with zxing-cpp, as a phone would read it.

Locally these tests are skipped when Chromium or Playwright is missing; with CI=true that is a failure
(the `browser` fixture and the QR reader are shared with the simulator's browser test: tests/browser.py)."""

from __future__ import annotations

import re
import threading

import pytest

from models import Response, StaleCode, db
from tests.browser import read_qr as read_qr_in
from tests.test_screen import Room

WITHIN = 2000  # ms: what the teacher sees on the screen follows the chat within 2 s


@pytest.fixture
def served(app):
    """The app on a loopback port (threads share the frozen clock and the test's database)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def screen(browser, served, app, clock):
    """A paired classroom screen: (page, room)."""
    from playwright.sync_api import expect

    room = Room(app, clock)
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(served + "/screen")
    code = page.locator("#pair-code")
    expect(code).to_have_text(re.compile(r"^\d{6}$"), timeout=5000)
    assert "已投屏" in room.teacher(f"投屏 {code.inner_text()}")
    expect(page.locator("h1")).to_have_text("高等数学", timeout=WITHIN)
    yield page, room
    page.close()
    db.connect(reuse_if_open=True)


def read_qr(page) -> str:
    """The check-in QR on the screen, decoded from a screenshot."""
    return read_qr_in(page.locator("#checkin-qr"))


def test_pairing_by_code_turns_the_browser_into_the_class_screen(screen):
    page, room = screen
    assert page.locator(".big-code").inner_text() == room.code  # between lessons: the join code, large
    assert "3 名学生" in page.locator("header").inner_text()


def test_the_qr_read_from_the_screen_checks_in_and_the_count_follows_within_two_seconds(screen, clock):
    from playwright.sync_api import expect

    page, room = screen
    room.teacher("上课")
    room.teacher("开启签到 5")
    expect(page.locator("#checkin-count")).to_have_text("已到 0 / 3", timeout=WITHIN)
    link = read_qr(page)
    assert link.startswith("https://ketang.example.edu/c/")
    assert "签到成功" in room.scan(room.students[0], link)
    expect(page.locator("#checkin-count")).to_have_text("已到 1 / 3", timeout=WITHIN)


def test_a_photographed_qr_is_refused_after_it_rotated_out_and_counted(screen, clock):
    from playwright.sync_api import expect

    page, room = screen
    room.teacher("上课")
    room.teacher("开启签到 5")
    expect(page.locator("#checkin-count")).to_be_visible(timeout=WITHIN)
    photo, code = read_qr(page), page.locator("#passcode").inner_text()
    clock.advance(seconds=16)  # the screen moved on; the photo was sent to someone in a dorm
    expect(page.locator("#passcode")).not_to_have_text(code, timeout=WITHIN)  # QR and 口令 rotate together
    now = read_qr(page)
    assert now != photo
    refused = room.scan(room.students[1], photo)
    assert "已过期" in refused
    assert StaleCode.select().count() == 1 and Response.select().count() == 0
    assert "过期签到码：1 次" in room.teacher("签到情况")
    clock.advance(seconds=1)  # a second scan by the same student (a scan within the same second is WeChat's retry)
    assert "签到成功" in room.scan(room.students[1], now)
    expect(page.locator("#checkin-count")).to_have_text("已到 1 / 3", timeout=WITHIN)


def test_the_code_on_screen_is_the_one_the_webhook_accepts_now(screen, clock):
    from playwright.sync_api import expect

    page, room = screen
    room.teacher("上课")
    room.teacher("开启签到 5 口令")
    passcode = page.locator("#passcode")
    expect(passcode).to_have_text(re.compile(r"^\d{4}$"), timeout=WITHIN)
    assert "签到成功" in room.wx.send_text(room.students[0], f"签到 {passcode.inner_text()}")
    old = passcode.inner_text()
    clock.advance(seconds=20)
    expect(passcode).not_to_have_text(old, timeout=WITHIN)
    assert "已过期" in room.wx.send_text(room.students[1], f"签到 {old}")
    assert "签到成功" in room.wx.send_text(room.students[1], f"签到 {passcode.inner_text()}")


def test_quiz_bars_appear_after_close_with_the_right_counts(screen, clock):
    from playwright.sync_api import expect

    page, room = screen
    room.teacher("上课")
    room.teacher("练习 C 3 哪个是质数？A.4 B.6 C.7")
    expect(page.locator("#question")).to_have_text("哪个是质数？A.4 B.6 C.7", timeout=WITHIN)
    for openid, answer in zip(room.students, "CCA", strict=True):
        room.wx.send_text(openid, f"答 {answer}")
    expect(page.locator("#answered")).to_have_text("已作答 3 / 3", timeout=WITHIN)
    assert page.locator("#bars").count() == 0 and page.locator("#key").count() == 0  # nothing before close
    room.teacher("结束")
    expect(page.locator("#bars svg")).to_be_visible(timeout=WITHIN)
    assert page.locator(".bars .num").all_text_contents() == ["1", "0", "2 ✓"]
    assert page.locator("#key").inner_text() == "C" and page.locator("#rate").inner_text() == "67%"


def test_the_screen_says_it_is_reconnecting_and_recovers_by_itself(screen):
    from playwright.sync_api import expect

    page, room = screen
    page.route("**/screen/state", lambda route: route.abort())
    expect(page.locator("#banner")).to_be_visible(timeout=6000)
    page.unroute("**/screen/state")
    room.teacher("发布公告 明天考试")
    expect(page.locator("#banner")).to_be_hidden(timeout=8000)
    expect(page.locator(".note")).to_contain_text("明天考试", timeout=WITHIN)
