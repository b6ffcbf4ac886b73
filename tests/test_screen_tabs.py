"""Two /screen tabs in one browser, a reload, and the secret the page swaps at pairing: in Chromium, the app
served in this process (tests/test_screen_browser.py's fixtures), the teacher talking through the signed webhook."""

# ruff: noqa: F811 (tests take the imported fixture `served` as an argument)
from __future__ import annotations

import re

from models import db
from tests.test_screen import Room
from tests.test_screen_browser import WITHIN, served  # noqa: F401 (fixture: the app served on a loopback port)

KEY = "ketang-screen"


def opened(context, served):
    from playwright.sync_api import expect

    page = context.new_page()
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(served + "/screen")
    expect(page.locator("#pair-code")).to_have_text(re.compile(r"^\d{6}$"), timeout=5000)
    return page


def test_two_tabs_in_one_browser_are_two_screens_and_a_reload_keeps_the_pairing(browser, served, app, clock):
    from playwright.sync_api import expect

    room = Room(app, clock)
    context = browser.new_context()  # one browser profile: tabs share its storage
    try:
        first = opened(context, served)
        before = first.evaluate(f"sessionStorage.getItem('{KEY}')")
        assert "已投屏" in room.teacher(f"投屏 {first.locator('#pair-code').inner_text()}")
        expect(first.locator("h1")).to_have_text("高等数学", timeout=WITHIN)
        after = first.evaluate(f"sessionStorage.getItem('{KEY}')")
        assert after and after != before  # the secret held before pairing was swapped for a new one

        second = opened(context, served)  # a second tab: its own code, the first tab untouched
        assert second.evaluate(f"sessionStorage.getItem('{KEY}')") not in (before, after)
        first.wait_for_timeout(1500)
        expect(first.locator("h1")).to_have_text("高等数学")

        first.reload()  # F5 on the classroom PC: still the class, no new code to type
        expect(first.locator("h1")).to_have_text("高等数学", timeout=WITHIN)
        assert first.locator("#pair-code").count() == 0

        # The teacher pairs the second tab: a teacher is in one room at a time, so the first says it ended.
        assert "已投屏" in room.teacher(f"投屏 {second.locator('#pair-code').inner_text()}")
        expect(second.locator("h1")).to_have_text("高等数学", timeout=WITHIN)
        expect(first.locator("#main")).to_contain_text("投屏已结束", timeout=WITHIN)
    finally:
        context.close()
        db.connect(reuse_if_open=True)


SLOW_POLLS = """() => {
  const real = window.fetch;
  let now = 0;
  window.__most = 0;
  window.fetch = (url, options) => {
    if (!String(url).includes("/screen/state")) return real(url, options);
    now += 1; window.__most = Math.max(window.__most, now);
    return new Promise((done) => setTimeout(done, 400)).then(() => real(url, options)).finally(() => { now -= 1; });
  };
}"""


def test_the_page_polls_one_at_a_time_so_it_never_races_itself_for_the_new_secret(browser, served, app, clock):
    """A tab coming back to the front polls at once; with a slow network that poll and the scheduled one would
    both carry the secret held before pairing, and the one that loses the hand-over would unpair the screen."""
    from playwright.sync_api import expect

    room = Room(app, clock)
    context = browser.new_context()
    try:
        page = opened(context, served)
        page.evaluate(SLOW_POLLS)
        assert "已投屏" in room.teacher(f"投屏 {page.locator('#pair-code').inner_text()}")
        for _ in range(5):
            page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
            page.wait_for_timeout(50)
        expect(page.locator("h1")).to_have_text("高等数学", timeout=WITHIN)
        page.wait_for_timeout(1500)
        expect(page.locator("h1")).to_have_text("高等数学")  # still paired: no poll lost the hand-over
        assert page.evaluate("window.__most") == 1
    finally:
        context.close()
        db.connect(reuse_if_open=True)
