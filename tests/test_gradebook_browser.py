"""The grade book in a real browser (Debian's Chromium via Playwright, tests/browser.py): sorting, filtering, a row
expanding to the student's answers, the grid's colours read from a screenshot, a phone's viewport, A4 landscape
print, and a 300-student × 48-lesson term."""

from __future__ import annotations

import io
import re
import time
from datetime import timedelta

import pytest

from models import Activity, Classroom, Membership, Response, User, db
from tests.test_gradebook import gradebook_path, term  # noqa: F401  (fixture)
from tests.test_lesson import klass  # noqa: F401  (fixture)
from tests.test_screen_browser import served  # noqa: F401  (fixture)

GREEN, AMBER, BLUE = (0x2E, 0x7D, 0x32), (0xF9, 0xA8, 0x25), (0x15, 0x65, 0xC0)
RED, PURPLE = (0xC6, 0x28, 0x28), (0x6A, 0x1B, 0x9A)


def pixel(locator, x: int = 1, y: int = 1) -> tuple[int, int, int]:
    """The colour at (x, y) of *locator*'s screenshot (a corner, clear of the letter)."""
    import png

    width, _height, rows, _info = png.Reader(file=io.BytesIO(locator.screenshot())).asRGBA8()
    row = list(rows)[y]
    return tuple(row[4 * x: 4 * x + 3])


def close(colour, expected, tolerance=12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))


@pytest.fixture
def book(browser, served, say, term):  # noqa: F811
    """The grade book of tests.test_gradebook's term, open in Chromium at 1280×800: (page, link)."""
    s5 = User.get(User.openid == "o_s5")  # absent in both lessons: two in a row
    Response.delete().where((Response.user == s5) & (Response.answer == "")).execute()
    s6 = User.get(User.openid == "o_s6")  # (as if) first joined after lesson 1: not counted for it
    first = Activity.select().where(Activity.kind == "checkin").order_by(Activity.id).first()
    joined = (first.closed_at or first.deadline) + timedelta(seconds=1)
    Membership.update(joined_at=joined).where((Membership.user == s6) & (Membership.joined_at < joined)).execute()
    s3 = User.get(User.openid == "o_s3")  # lesson 2 made up
    second = Activity.select().where(Activity.kind == "checkin").order_by(Activity.id)[1]
    Response.update(made_up=True).where((Response.user == s3) & (Response.activity == second)).execute()
    link = served + gradebook_path(say("o_t", "成绩"))
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(link)
    yield page, link
    page.close()
    db.connect(reuse_if_open=True)


def numbers(page) -> list[str]:
    return [n for n in page.locator("#grades tbody tr:not([hidden]) td:first-child").all_inner_texts()]


def test_sorting_by_any_column_moves_the_grid_rows_too(book):
    page, _link = book
    page.get_by_role("button", name="平时成绩").click()
    assert numbers(page)[:2] == ["2024004", "2024005"]  # 0.0 and 0.0 (in table order): lowest first
    page.get_by_role("button", name="平时成绩").click()
    assert numbers(page)[0] == "2024001"
    assert page.locator("#grades th[aria-sort=descending]").inner_text().startswith("平时成绩")
    grid = page.locator("#grid tbody tr th").all_inner_texts()
    assert [g.split()[0] for g in grid] == numbers(page)  # the grid follows the table's order
    page.get_by_role("button", name="姓名").click()
    assert numbers(page) == sorted(numbers(page))


def test_filters_below_60_absent_twice_and_search(book):
    page, _link = book
    page.get_by_role("button", name="低于 60").click()
    assert sorted(numbers(page)) == ["2024004", "2024005", "2024006"]
    assert page.locator("#shown").inner_text() == "显示 3 / 6 人"
    assert page.locator("#grid tbody tr:not([hidden])").count() == 3
    page.get_by_role("button", name="连续两次缺勤").click()
    assert numbers(page) == ["2024005"]
    page.get_by_role("button", name="全部").click()
    page.fill("#q", "学生3")
    assert numbers(page) == ["2024003"]


def test_a_row_expands_to_the_students_answers(book):
    page, _link = book
    page.get_by_role("button", name="学生2").click()
    detail = page.locator("#grades tr.detail")
    detail.get_by_text("1+1=? A.1 B.2 C.3").wait_for(timeout=3000)
    assert "A（B）" in detail.inner_text() and "✗" in detail.inner_text() and "✓" in detail.inner_text()
    page.get_by_role("button", name="学生2").click()
    assert page.locator("#grades tr.detail").count() == 0


def test_the_grids_colours_read_from_a_screenshot(book):
    page, _link = book
    row = {no: page.locator("#grid tbody tr").nth(i) for i, no in enumerate(["2024001", "2024002", "2024003",
                                                                           "2024004", "2024005", "2024006"])}
    assert close(pixel(row["2024001"].locator("td").nth(0)), GREEN)
    assert close(pixel(row["2024003"].locator("td").nth(0)), AMBER) and row["2024003"].locator("td").nth(0).inner_text() == "迟"
    assert close(pixel(row["2024004"].locator("td").nth(0)), BLUE) and row["2024004"].locator("td").nth(0).inner_text() == "假"
    assert close(pixel(row["2024005"].locator("td").nth(0)), RED) and row["2024005"].locator("td").nth(0).inner_text() == "缺"
    assert close(pixel(row["2024003"].locator("td").nth(1)), PURPLE) and row["2024003"].locator("td").nth(1).inner_text() == "补"
    assert close(pixel(row["2024006"].locator("td").nth(0)), (0xE8, 0xE8, 0xE8))  # not a member then: grey, no letter
    assert row["2024006"].locator("td").nth(0).inner_text() == ""


def test_on_a_phone_nothing_overflows_the_screen(browser, book):
    _page, link = book
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2)
    try:
        phone.goto(link)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # only the tables scroll sideways
        assert phone.locator("#grades").bounding_box()["width"] > phone.locator(".scroll").first.bounding_box()["width"] - 1
        assert phone.locator("[data-filter=below]").bounding_box()["height"] >= 40  # a finger can hit it
        phone.get_by_role("button", name="低于 60").tap()
        assert len([n for n in phone.locator("#grades tbody tr:not([hidden]) td:first-child").all_inner_texts()]) == 3
    finally:
        phone.close()


def test_it_prints_on_a4_landscape(book):
    page, _link = book
    page.emulate_media(media="print")
    assert page.locator(".filters").is_hidden()
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    size = re.search(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    assert size and float(size.group(1)) > float(size.group(2))  # landscape
    assert abs(float(size.group(1)) - 841.9) < 2  # A4: 297 mm = 841.9 pt


def test_a_whole_term_of_300_students_and_48_lessons_stays_legible(browser, served, say, teacher, app):  # noqa: F811
    from bench.semester import fill

    openid, code = teacher
    fill(Classroom.get(Classroom.code == code), 300, 48, 3, discussions=True, variety=True, now=app.extensions["ketang"].clock())
    link = served + gradebook_path(say(openid, "成绩"))
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    try:
        started = time.perf_counter()
        page.goto(link)
        assert page.locator("#grades tbody tr").count() == 300 and page.locator("#grid tbody tr td").count() == 300 * 48
        print(f"\n300 × 48 page loaded in {time.perf_counter() - started:.2f} s (under load)")
        cell = page.locator("#grid tbody tr").nth(0).locator("td").nth(0).bounding_box()
        assert cell["width"] >= 14 and cell["height"] >= 14  # a letter in every cell stays readable
        assert page.locator("#grid tbody td").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 11
        grid = page.locator(".grid").bounding_box()
        assert grid["width"] <= 1366 and grid["height"] <= 768  # the term scrolls inside its box, headers sticky
        page.get_by_role("button", name="平时成绩").click()
        assert float(page.locator("#grades tbody tr td.total").first.inner_text()) <= \
            float(page.locator("#grades tbody tr td.total").last.inner_text())
    finally:
        page.close()
        db.connect(reuse_if_open=True)
