"""Issue 23 in Chromium: a count changes in place (the QR element stays the same node), the approval flow,
banned words, the count-only missing view, and the word cloud read back from a screenshot."""

from __future__ import annotations

import io
import re

import pytest

from models import User
from tests.conftest import build_app
from tests.test_screen_browser import WITHIN, screen, served  # noqa: F401  (fixtures)

NAMES = ("王芳", "李娜", "张伟")


def named(room):
    for openid, name in zip(room.students, NAMES, strict=True):
        User.update(name=name).where(User.openid == openid).execute()


def test_a_count_changes_in_place_and_the_qr_stays_the_same_node(screen):  # noqa: F811
    from playwright.sync_api import expect

    page, room = screen
    room.teacher("上课")
    room.teacher("开启签到 5 口令")
    expect(page.locator("#checkin-count")).to_have_text("已到 0 / 3", timeout=WITHIN)
    page.evaluate("document.getElementById('checkin-qr').dataset.marked = 'kept'")  # gone if the page is rebuilt
    code = page.locator("#passcode").inner_text()
    assert "签到成功" in room.wx.send_text(room.students[0], f"签到 {code}")
    expect(page.locator("#checkin-count")).to_have_text("已到 1 / 3", timeout=WITHIN)
    expect(page.locator("#came")).to_have_text("已到 1 / 3")
    expect(page.locator("#checkin-missing")).to_have_text("未到 2")
    assert page.evaluate("document.getElementById('checkin-qr').dataset.marked") == "kept"


def test_a_post_shows_only_after_the_teacher_passes_it(screen, clock):  # noqa: F811
    from playwright.sync_api import expect

    page, room = screen
    room.teacher("上课")
    room.teacher("讨论 导数的意义")
    room.teacher("审核 开")
    room.wx.send_text(room.students[0], "发言 切线的斜率")
    expect(page.locator("#wall")).to_contain_text("发言", timeout=WITHIN)  # the empty wall's hint
    page.wait_for_timeout(1500)  # a poll or two later it is still not there
    expect(page.locator("#wall")).not_to_contain_text("切线的斜率")
    room.teacher("通过 1")
    expect(page.locator("#wall")).to_contain_text("切线的斜率", timeout=WITHIN)


def test_the_missing_view_shows_the_count_alone(screen):  # noqa: F811
    from playwright.sync_api import expect

    page, room = screen
    named(room)
    room.teacher("上课")
    room.teacher("开启签到 5 口令")
    expect(page.locator("#checkin-missing")).to_have_text("未到 3", timeout=WITHIN)
    reply = room.teacher("未到 投屏")
    assert all(name in reply for name in NAMES)
    expect(page.locator("#missing-count")).to_have_text("3", timeout=WITHIN)
    text = page.locator("body").inner_text()
    assert not any(name in text for name in NAMES)


@pytest.fixture
def banned_app(tmp_path, clock):
    words = tmp_path / "banned.txt"
    words.write_text("傻瓜\n", encoding="utf-8")
    return build_app(tmp_path, clock, screen={"banned_words_file": str(words)})


def test_a_banned_word_never_reaches_the_screen(browser, banned_app, clock):
    import threading

    from playwright.sync_api import expect
    from werkzeug.serving import make_server

    from tests.test_screen import Room

    server = make_server("127.0.0.1", 0, banned_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        room = Room(banned_app, clock)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(f"http://127.0.0.1:{server.server_port}/screen")
        expect(page.locator("#pair-code")).to_have_text(re.compile(r"^\d{6}$"), timeout=5000)
        room.teacher(f"投屏 {page.locator('#pair-code').inner_text()}")
        room.teacher("上课")
        room.teacher("讨论 今天的课")
        room.wx.send_text(room.students[0], "发言 真是傻瓜")
        room.wx.send_text(room.students[1], "发言 讲得清楚")
        expect(page.locator("#wall")).to_contain_text("讲得清楚", timeout=WITHIN)
        assert "傻" not in page.locator("body").inner_text()
        page.close()
    finally:
        server.shutdown()


def test_the_word_cloud_in_a_screenshot_shows_the_most_given_word_largest(screen):  # noqa: F811
    import png
    from playwright.sync_api import expect

    page, room = screen
    room.teacher("上课")
    room.teacher("讨论 导数是什么")
    for student, text in zip(room.students, ("切线斜率", "斜率", "斜率和极限"), strict=True):
        room.wx.send_text(student, f"发言 {text}")
    room.teacher("词云")
    expect(page.locator("#cloud svg")).to_be_visible(timeout=8000)  # the first cloud loads jieba's dictionary
    boxes = {t.text_content(): t.bounding_box() for t in page.locator("#cloud text").all()}
    assert set(boxes) == {"斜率", "切线", "极限"}
    assert boxes["斜率"]["height"] > boxes["切线"]["height"] and boxes["斜率"]["height"] >= 60  # legible at the back
    shot = page.screenshot()
    width, _height, rows, _info = png.Reader(file=io.BytesIO(shot)).asRGBA8()
    box = boxes["斜率"]
    lit = 0
    for y, row in enumerate(rows):
        if box["y"] <= y < box["y"] + box["height"]:
            for x in range(int(box["x"]), int(box["x"] + box["width"])):
                r, g, b = row[4 * x], row[4 * x + 1], row[4 * x + 2]
                lit += (r, g, b) == (0x7f, 0xb2, 0xff)  # the first colour: the most given word, drawn on screen
    assert lit > 200


def test_a_roll_call_plays_a_short_draw_then_shows_the_names(screen):  # noqa: F811
    from playwright.sync_api import expect

    page, room = screen
    named(room)
    room.teacher("上课")
    room.teacher("开启签到 5 口令")
    expect(page.locator("#passcode")).to_be_visible(timeout=WITHIN)
    code = page.locator("#passcode").inner_text()
    for student in room.students:
        room.wx.send_text(student, f"签到 {code}")
    room.teacher("点名 2")
    expect(page.locator(".calls.draw .drum")).to_be_visible(timeout=WITHIN)
    first = page.locator(".calls li").first
    assert page.evaluate("el => getComputedStyle(el).opacity", first.element_handle()) == "0"  # names wait for the draw
    page.wait_for_timeout(3200)
    assert page.evaluate("el => getComputedStyle(el).opacity", first.element_handle()) == "1"
    expect(page.locator(".calls .drum")).to_be_hidden()
    assert sum(name in page.locator(".calls").inner_text() for name in NAMES) == 2
