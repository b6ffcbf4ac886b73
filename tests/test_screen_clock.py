"""A server clock that jumps back (a bad NTP step, a VM restored) must not bring back the check-in codes a
screen showed before: the screen keeps the latest code until the clock has caught up, and older codes stay
expired and counted. Through the real HTTP routes and the signed webhook, with a frozen clock."""

from __future__ import annotations

import re

import pytest

from models import Activity, Response, StaleCode
from tests.test_screen import Room


@pytest.fixture
def room(app, clock):
    room = Room(app, clock)
    room.paired()
    room.teacher("上课")
    room.teacher("开启签到 5 口令")
    return room


def shown(room) -> tuple[str, str]:
    """(口令, QR link) on the screen now."""
    page = room.page()
    return (re.search(r'id="passcode">(\d{4})<', page).group(1),
            re.search(r'id="checkin-qr" data-qr="([^"]+)"', page).group(1))


def run_a_minute(room, clock) -> tuple[str, str]:
    """The screen on for a minute (it polls every second; here once per 10 s slot): what it showed first."""
    first = shown(room)
    for _ in range(6):
        clock.advance(seconds=10)
        shown(room)
    return first


def test_a_clock_jumped_back_a_minute_does_not_revive_an_expired_code(room, clock):
    photo, _ = run_a_minute(room, clock)
    latest, _ = shown(room)
    clock.advance(seconds=-60)  # the server's clock steps back to when the photo was taken
    assert shown(room)[0] == latest  # the screen keeps the latest code, it does not go back to the photo's
    assert "已过期" in room.wx.send_text(room.students[0], f"签到 {photo}")
    assert StaleCode.select().count() == 1 and Response.select().count() == 0
    assert "签到成功" in room.wx.send_text(room.students[1], f"签到 {latest}")
    clock.advance(seconds=75)  # the clock has caught up: the screen rotates again, and the code it shows works
    now, _ = shown(room)
    assert now != latest
    assert "签到成功" in room.wx.send_text(room.students[2], f"签到 {now}")


def test_a_clock_jumped_back_a_minute_does_not_revive_an_expired_qr(room, clock):
    _, photo = run_a_minute(room, clock)
    _, latest = shown(room)
    clock.advance(seconds=-60)
    assert shown(room)[1] == latest
    assert "已过期" in room.scan(room.students[0], photo)
    assert "签到成功" in room.scan(room.students[1], latest)
    assert Activity.get().seen_slot is not None
