"""Check-in codes with a classroom screen on (issues 18.2, 18.4, 19.1, 19.6): only the rotating code or a scan
checks in, pairing during a check-in brings it under that rule, a stale code costs no 口令 try, and the screen's
counts follow the lesson's attendance. Through the signed webhook and the screen's HTTP routes, frozen clock."""

from __future__ import annotations

import re

import pytest

from models import Activity, FailedAttempt, Response, StaleCode
from tests.test_screen import Room


@pytest.fixture
def room(app, clock):
    return Room(app, clock)


def stale_code(room, clock) -> str:
    """A code that was on screen 20 s ago (rotated out 10 s ago, past the 5 s grace)."""
    shown = room.passcode_on_screen()
    clock.advance(seconds=20)
    assert room.passcode_on_screen() != shown
    return shown


def test_a_stale_code_costs_no_try_five_stale_then_the_right_one_is_accepted(room, clock):
    """Issue 19.6 (which overrides issue 20 item 2's "a stale code uses up a try"): a code that was really on
    the screen is what an honest slow typist sends; it tells a guesser nothing about the code on screen now,
    so it is refused and counted for the teacher, but uses up none of the five tries."""
    room.paired()
    room.teacher("上课")
    room.teacher("开启签到 5")
    student = room.students[0]
    for _ in range(5):
        refused = room.wx.send_text(student, f"签到 {stale_code(room, clock)}")
        assert "已过期" in refused and "不算错误次数" in refused
        assert re.search(r"现在的口令还有 \d+ 秒有效", refused) and "08:05 截止" in refused
    assert FailedAttempt.select().count() == 0 and StaleCode.select().count() == 5
    assert "签到成功" in room.wx.send_text(student, f"签到 {room.passcode_on_screen()}")


def test_five_wrong_codes_still_lock_the_check_in(room, clock):
    room.paired()
    room.teacher("上课")
    room.teacher("开启签到 5")
    student = room.students[0]
    shown = room.passcode_on_screen()
    wrong = f"{(int(shown) + 5000) % 10000:04d}"
    for left in (4, 3, 2, 1):
        assert f"还可以再试 {left} 次" in room.wx.send_text(student, f"签到 {wrong}")
    assert "已锁定" in room.wx.send_text(student, f"签到 {wrong}")
    assert "已锁定" in room.wx.send_text(student, f"签到 {room.passcode_on_screen()}")


def test_the_teacher_tells_a_slow_typist_from_someone_who_never_came(room, clock):
    room.paired()
    room.teacher("上课")
    room.teacher("开启签到 5")
    slow, relayed, _ = room.students
    old = stale_code(room, clock)
    assert "已过期" in room.wx.send_text(slow, f"签到 {old}")
    assert "已过期" in room.wx.send_text(relayed, f"签到 {old}")
    assert "签到成功" in room.wx.send_text(slow, f"签到 {room.passcode_on_screen()}")
    report = room.teacher("签到情况")
    assert "过期签到码：2 次（2 人）。其中 1 人随后签到成功（多是输入慢）；1 人始终没有签到" in report


def test_with_a_screen_on_only_the_rotating_code_checks_in(room, clock):
    """Issue 18.4: no fixed code is made or shown with a screen on, and the teacher's reply says so."""
    room.paired()
    room.teacher("上课")
    opened = room.teacher("开启签到 5 口令")
    assert "签到码：" not in opened and "不再生成固定签到码" in opened
    assert Activity.get().passcode is None and Activity.get().rotating
    assert "屏幕上的口令" in room.wx.send_text(room.students[0], "签到")
    assert "签到成功" in room.wx.send_text(room.students[0], f"签到 {room.passcode_on_screen()}")


def test_pairing_during_an_open_check_in_brings_it_under_the_screen_rule(room, clock):
    """Issue 18.2: 开启签到 (with its fixed code) then 投屏: from then on only the screen's rotating code or a scan
    checks in; plain 签到 and the fixed code are refused, and the teacher is told at pairing."""
    room.teacher("上课")
    fixed = re.search(r"签到码：(\d{4})", room.teacher("开启签到 5 口令")).group(1)
    first, second, third = room.students
    assert "签到成功" in room.wx.send_text(first, f"签到 {fixed}")  # before the screen: the fixed code
    code = room.open_screen()
    paired = room.teacher(f"投屏 {code}")
    assert "已投屏" in paired and "正在进行的签到从现在起也只认屏幕上" in paired
    assert "屏幕上的口令" in room.wx.send_text(second, "签到")
    assert "已停用" in room.wx.send_text(second, f"签到 {fixed}")  # a real code, retired: no try used
    assert FailedAttempt.select().count() == 0
    assert "签到成功" in room.wx.send_text(third, f"签到 {room.passcode_on_screen()}")
    assert Response.select().count() == 2


def test_pairing_during_a_check_in_opened_without_a_code_needs_one_from_then_on(room, clock):
    room.teacher("上课")
    room.teacher("开启签到 5")
    assert "签到成功" in room.wx.send_text(room.students[0], "签到")
    room.paired()
    assert "屏幕上的口令" in room.wx.send_text(room.students[1], "签到")
    assert re.search(r'id="passcode">\d{4}<', room.page())  # the screen shows the 口令 it now needs


def test_the_screen_counts_the_lesson_not_the_latest_check_in(room, clock):
    """Issue 19.1 on the screen: after a second check-in for a latecomer, the quiz reads 已作答 3 / 3, never 3 / 1."""
    room.paired()
    room.teacher("上课")
    room.teacher("开启签到 5")
    first, second, third = room.students
    for openid in (first, second):
        assert "签到成功" in room.wx.send_text(openid, f"签到 {room.passcode_on_screen()}")
    room.teacher("结束")
    room.teacher("开启签到 2")
    assert "签到成功" in room.wx.send_text(third, f"签到 {room.passcode_on_screen()}")
    assert "已到 3 / 3" in re.sub(r"<[^>]+>", "", room.page())  # the counts are spans the poll updates in place
    room.teacher("结束")
    room.teacher("练习 B 3 1+1=? A.1 B.2 C.3")
    for openid in room.students:
        room.wx.send_text(openid, "答 B")
    assert "已作答 3 / 3" in re.sub(r"<[^>]+>", "", room.page())


def test_turning_the_screen_off_during_its_check_in_tells_the_teacher_how_to_go_on(room, clock):
    room.paired()
    room.teacher("上课")
    room.teacher("开启签到 5")
    ended = room.teacher("结束投屏")
    assert "已结束投屏" in ended and "现在没有屏幕就无法签到" in ended
    room.teacher("结束")
    room.teacher("开启签到 5")
    assert "签到成功" in room.wx.send_text(room.students[0], "签到")  # no screen now: plain 签到 again
