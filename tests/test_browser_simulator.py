"""A short lesson driven by clicking and typing in the web simulator, in Debian's Chromium.

gunicorn and the scheduler run for real (safe mode, the simulator acting as the WeChat API), so
every tap goes through the signed, encrypted webhook and pushes arrive through the scheduler.
Skipped when Chromium or Playwright is missing, except under CI=true where that is a failure (the
`browser` fixture is shared with the screen's browser test: tests/browser.py).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from harness.live import ROOT, LiveServer, server_env

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture (tests/conftest.py, tests/browser.py) skips, or fails under CI, saying so
    expect = None

@pytest.fixture
def server(tmp_path_factory):
    """A live server and scheduler for one test: no test starts from what another did."""
    directory = tmp_path_factory.mktemp("browser")
    sections = lambda url: {"server": {"public_url": url},  # noqa: E731 - the URL is known once the port is
                            "wechat": {"app_secret": "simulator", "api_base_url": url + "/simulator/api"}}
    live = LiveServer(directory, os.environ.get("KETANG_TEST_DATABASE_URL"), workers=2, sections=sections)
    live.init_db()
    with live:
        log = open(directory / "scheduler.log", "ab")
        scheduler = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "scheduler"], cwd=ROOT,
                                     env=server_env(live.config), stdout=log, stderr=log)
        try:
            yield live
        finally:
            scheduler.send_signal(signal.SIGTERM)
            try:
                scheduler.wait(timeout=15)
            except subprocess.TimeoutExpired:
                scheduler.kill()
            log.close()


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1500, "height": 900})
    page.goto(server.url + "/simulator")
    yield page
    page.close()


def phone(page, openid):
    return page.locator(f'.phone[data-openid="{openid}"]')


def say(page, openid, text):
    box = phone(page, openid)
    box.locator(".compose input").fill(text)
    box.locator(".compose input").press("Enter")


def tap(page, openid, top, sub=None):
    box = phone(page, openid)
    box.locator(".menu button.top", has_text=top).click()
    if sub:
        box.locator(".menu .subs.open button", has_text=sub).click()


def last_reply(page, openid):
    return phone(page, openid).locator(".bubble.reply").last


def test_a_short_lesson_in_the_simulator(page, server):
    teacher, student = "o_sim_teacher", "o_sim_student1"
    phone(page, teacher).locator("button.teach").click()
    expect(phone(page, teacher).locator(".role")).to_have_text("教师")
    expect(phone(page, teacher).locator(".menu button.top").first).to_have_text("上课")  # the teacher menu
    expect(phone(page, student).locator(".menu button.top").first).to_have_text("签到")  # the student menu

    say(page, teacher, "创建课堂 高等数学")
    expect(last_reply(page, teacher)).to_contain_text("课堂码")
    tap(page, teacher, "课堂", "二维码")
    qr = phone(page, teacher).locator(".bubble.reply img").last
    expect(qr).to_be_visible()

    # The student joins from the menu: 课堂 → 扫码加入, pointing the scanner at the teacher's QR.
    qr.click()  # holds the QR up to the other phones
    tap(page, student, "课堂", "扫码加入")
    phone(page, student).locator(".scan-go").click()
    expect(last_reply(page, student)).to_contain_text("已加入「高等数学」")

    tap(page, teacher, "上课", "上课")
    expect(last_reply(page, teacher)).to_contain_text("开始上课，已通知 1 名学生")
    tap(page, teacher, "上课", "开启签到")
    expect(last_reply(page, teacher)).to_contain_text("签到已开启")
    say(page, student, "签到")
    expect(last_reply(page, student)).to_contain_text("签到成功")

    say(page, teacher, "练习 B 3 1+1=? A.1 B.2 C.3")
    expect(last_reply(page, teacher)).to_contain_text("单选题已发布")
    # The scheduler pushes the quiz to the student's phone through the simulated WeChat API. Pushes go out
    # on several threads, so the lesson-start and check-in notices may land after it: look for its bubble.
    try:
        expect(phone(page, student).locator(".bubble.push", has_text="1+1=? A.1 B.2 C.3")).to_have_count(1, timeout=45_000)
    except AssertionError as error:
        logs = {name: (server.directory / name).read_text(errors="replace")[-3000:] for name in ("scheduler.log", "gunicorn.log")}
        raise AssertionError(f"{error}\n--- logs ---\n{logs}") from None
    say(page, student, "答 B")
    expect(last_reply(page, student)).to_contain_text("已提交答案 B")
    tap(page, teacher, "互动", "结果")
    expect(last_reply(page, teacher)).to_contain_text("【练习结果")
    expect(last_reply(page, teacher)).to_contain_text("B ██████████ 1 ✓")
    if os.environ.get("KETANG_SCREENSHOT"):
        page.screenshot(path=os.environ["KETANG_SCREENSHOT"])


def test_the_screen_pane_and_scanning_its_qr(page, server):
    frame = page.locator("#screen")
    expect(frame).to_be_visible()
    screen = page.frame_locator("#screen")
    teacher, student = "o_sim_teacher", "o_sim_student2"
    phone(page, teacher).locator("button.teach").click()
    expect(phone(page, teacher).locator(".role")).to_have_text("教师")
    say(page, teacher, "创建课堂 线性代数")
    expect(last_reply(page, teacher)).to_contain_text("课堂码")
    code = last_reply(page, teacher).inner_text().split("课堂码：")[1][:6]
    say(page, student, f"加入 {code}")
    expect(last_reply(page, student)).to_contain_text("线性代数")
    # The pane's screen shows its 投屏码; the teacher pairs it from the phone.
    pair = screen.locator("#pair-code")
    expect(pair).to_have_text(re.compile(r"^\d{6}$"), timeout=15_000)
    say(page, teacher, f"投屏 {pair.inner_text()}")
    expect(last_reply(page, teacher)).to_contain_text("已投屏")
    expect(screen.locator("h1")).to_have_text("线性代数", timeout=15_000)
    tap(page, teacher, "上课", "上课")
    tap(page, teacher, "上课", "开启签到")
    expect(last_reply(page, teacher)).to_contain_text("签到已开启")
    # The screen's rotating check-in QR text is read from its data-qr, as any camera in the room would read it.
    expect(screen.locator("#checkin-qr[data-qr]")).to_be_attached(timeout=15_000)
    tap(page, student, "签到")
    phone(page, student).locator(".scan-screen").click()
    expect(last_reply(page, student)).to_contain_text("签到成功")


def test_a_message_too_long_is_said_and_kept_and_photo_and_voice_are_sent(page, server):
    """Issue 19 item 11: the phone said nothing and cleared the input over 600 characters; no photo, no voice."""
    teacher, student = "o_sim_teacher", "o_sim_student2"
    teach = phone(page, teacher).locator("button.teach")
    if teach.is_visible():
        teach.click()
        expect(phone(page, teacher).locator(".role")).to_have_text("教师")
    say(page, teacher, "创建课堂 大学物理")
    expect(last_reply(page, teacher)).to_contain_text("课堂码")
    box = phone(page, teacher)
    say(page, teacher, "发布公告 " + "长" * 2001)  # over 600: it reaches the webhook, whose handler answers
    expect(last_reply(page, teacher)).to_contain_text("最长 2000 字", timeout=15_000)
    expect(box.locator(".compose input")).to_have_value("")
    too_long = "长" * 4001
    say(page, teacher, too_long)
    expect(box.locator(".error")).to_contain_text("消息太长：4001 字")
    expect(box.locator(".compose input")).to_have_value(too_long)  # kept, to be shortened
    box.locator(".compose input").fill("我的信息")
    box.locator(".compose input").press("Enter")
    expect(last_reply(page, teacher)).to_contain_text("【我的信息】")
    expect(box.locator(".error")).to_be_hidden()

    phone(page, student).locator("button.photo").click()
    expect(last_reply(page, student)).to_contain_text("收到你的图片")
    phone(page, student).locator(".compose input").fill("签到。")
    phone(page, student).locator("button.voice").click()  # sent as a voice message, the text as its transcription
    expect(phone(page, student).locator(".bubble.user").last).to_contain_text("[语音] 签到。")
    # answered as the command 签到 (whether this student is in a class depends on the tests before), never as
    # "got your voice message"
    expect(last_reply(page, student)).to_contain_text(re.compile(r"签到过|签到成功|没有开启签到|还没有加入课堂"))
