"""The classroom screen fits every activity on real projectors: 4:3 (1024×768), 16:10 (1280×800, 1680×1050)
and 16:9 (1280×720, 1920×1080), in Chromium. Judged from the page geometry (what must be read is inside the
viewport and not clipped by any box around it; the header and the content do not overlap), and from a
screenshot where a person looks: the QR read back by zxing-cpp is the one the webhook accepts now.
Each state's screenshots are kept under pytest's temporary directory (screen-layout/) for a person to look at."""

# ruff: noqa: F811 (tests take the imported fixtures `screen` and `served` as arguments)
from __future__ import annotations

import re

import pytest

from handlers.screen import rotation
from models import CHECKIN, Activity, Announcement
from tests.browser import read_qr
from tests.test_screen_browser import WITHIN, screen, served  # noqa: F401 (fixtures: the app served, a paired page)

SIZES = [(1024, 768), (1280, 800), (1680, 1050), (1280, 720), (1920, 1080)]

GEOMETRY = """(selectors) => {
  const out = {};
  for (const sel of selectors) {
    const el = document.querySelector(sel);
    if (!el) { out[sel] = null; continue; }
    const r = el.getBoundingClientRect();
    let clipped = (r.left < -1 || r.top < -1 || r.right > innerWidth + 1 || r.bottom > innerHeight + 1) ? "viewport" : "";
    for (let a = el.parentElement; a && !clipped; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.overflowX === "visible" && s.overflowY === "visible") continue;
      const q = a.getBoundingClientRect();
      if (r.left < q.left - 1 || r.right > q.right + 1 || r.top < q.top - 1 || r.bottom > q.bottom + 1)
        clipped = a.tagName + "." + a.className;
    }
    out[sel] = {left: r.left, top: r.top, right: r.right, bottom: r.bottom, clipped: clipped,
                cut: el.scrollWidth > el.clientWidth + 1, inHeader: !!el.closest("header"), visible: r.width > 0 && r.height > 0};
  }
  return out;
}"""


def overlap(a, b) -> bool:
    return a["left"] < b["right"] - 1 and b["left"] < a["right"] - 1 and a["top"] < b["bottom"] - 1 and b["top"] < a["bottom"] - 1


def fits(page, tmp_path_factory, name: str, readable: list[str], apart: list[tuple[str, str]], qr: str | None = None):
    """At every size: each of *readable* wholly visible (inside the viewport and every clipping box, its text
    not cut), the pairs in *apart* not overlapping, the header above everything; a screenshot kept."""
    shots = tmp_path_factory.mktemp("screen-layout", numbered=False) if not _SHOTS else _SHOTS[0]
    _SHOTS[:] = [shots]
    problems = []
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(50)  # layout only: the page is not re-fetched
        boxes = page.evaluate(GEOMETRY, ["header"] + readable + [sel for pair in apart for sel in pair])
        for sel in readable:
            box = boxes[sel]
            if box is None or not box["visible"]:
                problems.append(f"{width}×{height} {sel}: not on screen")
            elif box["clipped"] or box["cut"]:
                problems.append(f"{width}×{height} {sel}: cut ({box['clipped'] or 'text wider than its box'})")
            elif not box["inHeader"] and box["top"] < boxes["header"]["bottom"] - 1:
                problems.append(f"{width}×{height} {sel}: over the header")
        for one, other in apart:
            if boxes.get(one) and boxes.get(other) and overlap(boxes[one], boxes[other]):
                problems.append(f"{width}×{height} {one} overlaps {other}")
        page.screenshot(path=str(shots / f"{name}-{width}x{height}.png"))
        if qr is not None:
            assert read_qr(page.locator("#checkin-qr")) == qr, f"{width}×{height}: the QR on screen is not the one accepted now"
    assert not problems, "\n".join(problems)


_SHOTS: list = []


def accepted_now(room) -> str:
    """The link of the open check-in's QR for the slot on now: what the webhook accepts."""
    checkin = Activity.select().where(Activity.kind == CHECKIN).order_by(Activity.id.desc()).first()
    slot = rotation.slot_at(room.settings, room.clock())
    return "https://ketang.example.edu/c/" + rotation.token(room.settings, checkin.id, slot)

ANNOUNCEMENT = ("下周一的习题课改到三教 201，请带上教材和计算器；期中考试范围是第一章到第四章，"
                "重点是导数的定义、求导法则和中值定理。Office hours: Thursday 3-5 pm, room 305. ") * 20


def test_a_long_announcement_between_lessons_leaves_the_class_code_and_join_line(screen, tmp_path_factory):
    from playwright.sync_api import expect

    page, room = screen
    text = ANNOUNCEMENT[:1500]
    assert "已发布" in room.teacher(f"发布公告 {text}") or Announcement.select().count() == 1
    expect(page.locator("#note")).to_be_visible(timeout=WITHIN)
    fits(page, tmp_path_factory, "idle-long-notice", ["#class-code", "#join-line", "#note", ".idle .qrbox"],
         [("#note", ".idle .qrbox"), ("#class-code", ".idle .qrbox"), ("#join-line", "#note")])


def test_the_class_code_stays_on_screen_for_latecomers_during_a_lesson(screen, tmp_path_factory):
    from playwright.sync_api import expect

    page, room = screen
    room.teacher("上课")
    expect(page.locator("#join-code")).to_have_text(f"课堂码 {room.code}", timeout=WITHIN)
    fits(page, tmp_path_factory, "lesson", ["#join-code", "#lost"], [("#join-code", "#lost")])


def test_the_check_in_and_its_code_fit_every_projector(screen, tmp_path_factory):
    from playwright.sync_api import expect

    page, room = screen
    room.teacher("上课")
    room.teacher("开启签到 5 口令")
    expect(page.locator("#passcode")).to_have_text(re.compile(r"^\d{4}$"), timeout=WITHIN)
    fits(page, tmp_path_factory, "checkin", ["#checkin-qr", "#passcode", "#checkin-count", "#join-code", ".checkin .instr"],
         [("#checkin-qr", "#passcode"), ("#checkin-qr", "#checkin-count")], qr=accepted_now(room))


def test_a_quiz_during_an_open_check_in_keeps_the_check_in_on_screen(screen, tmp_path_factory):
    from playwright.sync_api import expect

    page, room = screen
    room.teacher("上课")
    room.teacher("开启签到 5 口令")
    expect(page.locator("#passcode")).to_be_visible(timeout=WITHIN)
    room.teacher("练习 C 3 下列哪个数是质数？请在三分钟内作答，答错不扣分。A.4 B.6 C.7 D.9")
    expect(page.locator("#question")).to_contain_text("哪个数是质数", timeout=WITHIN)
    expect(page.locator("#passcode")).to_have_text(re.compile(r"^\d{4}$"), timeout=WITHIN)
    # What the screen shows is what a student needs: the 口令 on screen checks in, the QR on screen is the live one.
    passcode = page.locator("#passcode").inner_text()
    fits(page, tmp_path_factory, "quiz-during-checkin",
         ["#question", "#answered", "#checkin-qr", "#passcode", "#checkin-count", "#join-code", ".panel .instr"],
         [(".panel", ".question"), ("#checkin-qr", "#passcode")], qr=accepted_now(room))
    told = room.wx.send_text(room.students[0], "签到")
    assert "口令" in told and page.locator("#passcode").is_visible()  # told to read the code: it is there
    assert "签到成功" in room.wx.send_text(room.students[0], f"签到 {passcode}")
    expect(page.locator("#checkin-count")).to_have_text("已到 1 / 3", timeout=WITHIN)


def test_a_discussion_during_an_open_check_in_keeps_the_check_in_on_screen(screen, tmp_path_factory):
    from playwright.sync_api import expect

    page, room = screen
    room.teacher("上课")
    room.teacher("开启签到 5 口令")
    expect(page.locator("#passcode")).to_be_visible(timeout=WITHIN)
    room.teacher("讨论 10 生活中哪些量是导数？")
    for i, openid in enumerate(room.students):
        room.wx.send_text(openid, f"发言 速度是位置对时间的导数，加速度是速度对时间的导数（第 {i + 1} 位同学）" * 2)
    expect(page.locator("#wall li")).to_have_count(3, timeout=WITHIN)
    fits(page, tmp_path_factory, "discussion-during-checkin", ["#checkin-qr", "#passcode", "#join-code", ".panel .instr"],
         [(".panel", ".discussion")], qr=accepted_now(room))


def test_closed_quiz_results_fit_every_projector(screen, tmp_path_factory):
    from playwright.sync_api import expect

    page, room = screen
    room.teacher("上课")
    room.teacher("练习 C 3 哪个是质数？A.4 B.6 C.7 D.9")
    for openid, answer in zip(room.students, "CCA", strict=True):
        room.wx.send_text(openid, f"答 {answer}")
    room.teacher("结束")
    expect(page.locator("#bars svg")).to_be_visible(timeout=WITHIN)
    fits(page, tmp_path_factory, "quiz-results", ["#bars", "#answered", "#key", "#join-code"], [("#bars", "#answered")])


@pytest.mark.parametrize("size", [SIZES[0]])
def test_the_pairing_code_fits_a_4_3_projector(browser, served, size):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.goto(served + "/screen")
    expect(page.locator("#pair-code")).to_have_text(re.compile(r"^\d{6}$"), timeout=5000)
    boxes = page.evaluate(GEOMETRY, ["#pair-code", ".instr"])
    page.close()
    assert all(box and not box["clipped"] and not box["cut"] for box in boxes.values()), boxes


def test_a_roll_call_during_a_check_in_covers_neither_the_qr_nor_the_code(screen, tmp_path_factory):
    from playwright.sync_api import expect

    page, room = screen
    room.teacher("上课")
    room.teacher("开启签到 5 口令")
    expect(page.locator("#passcode")).to_be_visible(timeout=WITHIN)
    for openid in room.students:
        room.wx.send_text(openid, f"签到 {page.locator('#passcode').inner_text()}")
    room.teacher("点名 3")
    expect(page.locator(".calls li")).to_have_count(3, timeout=WITHIN)
    fits(page, tmp_path_factory, "rollcall-during-checkin", ["#checkin-qr", "#passcode", "#checkin-count", ".calls"],
         [(".calls", "#checkin-qr"), (".calls", "#passcode"), (".calls", "#checkin-count"), (".calls", ".checkin .instr")])


def test_a_roll_call_during_a_quiz_and_a_check_in_covers_neither(screen, tmp_path_factory):
    from playwright.sync_api import expect

    page, room = screen
    room.teacher("上课")
    room.teacher("开启签到 5 口令")
    expect(page.locator("#passcode")).to_be_visible(timeout=WITHIN)
    for openid in room.students:
        room.wx.send_text(openid, f"签到 {page.locator('#passcode').inner_text()}")
    room.teacher("练习 C 3 哪个是质数？A.4 B.6 C.7 D.9")
    room.teacher("点名 3")
    expect(page.locator(".calls li")).to_have_count(3, timeout=WITHIN)
    fits(page, tmp_path_factory, "rollcall-during-quiz-and-checkin", ["#checkin-qr", "#passcode", ".panel .instr", ".calls"],
         [(".calls", ".panel"), (".calls", "#answered"), (".calls", "#question")])


LONG_QUESTION = ("设函数 f(x) 在闭区间 [a, b] 上连续，在开区间 (a, b) 内可导，且 f(a) = f(b)。"
                 "根据罗尔定理，下列哪一个结论一定成立？请仔细阅读每个选项后作答，注意区分必要条件与充分条件。") * 4


def test_a_quiz_with_a_long_question_keeps_its_options_and_count_on_screen(screen, tmp_path_factory):
    from playwright.sync_api import expect

    page, room = screen
    room.teacher("上课")
    assert "已发布" in room.teacher(f"练习 C 3 {LONG_QUESTION * 2} A.4 B.6 C.7 D.9")  # 808 characters
    expect(page.locator("#question")).to_contain_text("罗尔定理", timeout=WITHIN)
    fits(page, tmp_path_factory, "quiz-long-question", ["#question", ".options", "#answered", "#join-code"],
         [("#question", ".options"), ("#question", "#answered")])


def test_a_full_discussion_wall_stays_under_its_topic(screen, tmp_path_factory):
    from playwright.sync_api import expect

    page, room = screen
    room.teacher("上课")
    room.teacher(f"讨论 10 {LONG_QUESTION[:120]}")
    for i in range(12):
        room.wx.send_text(room.students[i % 3],
                          f"发言 第 {i + 1} 条：导数描述变化率，速度是位移对时间的导数，加速度是速度对时间的导数。")
    expect(page.locator("#wall li")).to_have_count(12, timeout=WITHIN)
    # The newest posts come first; older ones beyond the screen are left off (the teacher reads all with 结果).
    fits(page, tmp_path_factory, "discussion-full", ["#topic", "#wall li:first-child", "#join-code"],
         [("#topic", "#wall")])
    assert "第 12 条" in page.locator("#wall li").first.inner_text()
