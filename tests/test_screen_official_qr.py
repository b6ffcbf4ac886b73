"""The screen's check-in QR as an official-account code: minted ahead by the scheduler's job against the
loopback mock API, shown by the web side only when ready, scanned as SCAN or with the menu's scanner."""

from __future__ import annotations

import re

import pytest

from bot.wechat_api import WechatApi
from handlers.screen import rotation
from handlers.screen.minting import CheckinQrMinter
from handlers.screen.shown import svg_qr
from harness.mock_wechat import MockWechat
from models import Activity, CheckinQr, Response
from tests.test_push import make_app
from tests.test_screen import Room

QR = "/cgi-bin/qrcode/create"


@pytest.fixture
def mock():
    with MockWechat() as server:
        yield server


@pytest.fixture
def world(tmp_path, clock, mock):
    app = make_app(tmp_path, clock, mock)
    room = Room(app, clock)
    room.paired()
    room.teacher("上课")
    room.teacher("开启签到 120")
    settings = app.extensions["ketang"].settings
    return room, CheckinQrMinter(settings, WechatApi(settings.wechat, clock))


def test_the_scheduler_mints_ahead_and_the_screen_shows_the_official_code_once_ready(world, mock, clock):
    room, mint = world
    assert "公众号二维码暂不可用" in room.page() and str(svg_qr(room.qr_text())) in room.page()  # the link QR meanwhile
    assert mint(clock()) == 3 and mint(clock()) == 0  # this slot and the next two, once each
    calls = mock.calls[QR]
    checkin = Activity.get()
    slot = rotation.slot_at(room.settings, clock())
    official = CheckinQr.get((CheckinQr.activity == checkin) & (CheckinQr.slot == slot))
    token = rotation.token(room.settings, checkin.id, slot)
    assert official.url.endswith(f"ci_{token}")  # the scene WeChat will send back
    page = room.page()
    assert str(svg_qr(official.url)) in page and "微信扫一扫" in page and "暂不可用" not in page
    assert mock.calls[QR] == calls  # a web request never calls the API
    assert "签到成功" in room.wx.send_event(room.students[0], "SCAN", f"ci_{token}")
    assert "签到成功" in room.scan(room.students[1], official.url)  # the same code read by the menu's scanner
    clock.advance(seconds=10)
    assert mint(clock()) == 1  # one new slot at the far end
    clock.advance(seconds=6)
    assert "已过期" in room.wx.send_event(room.students[2], "SCAN", f"ci_{token}")
    assert Response.select().count() == 2


def test_when_the_daily_quota_is_spent_the_screen_falls_back_to_the_link_and_says_so(world, mock, clock):
    room, mint = world
    mock.fail(QR, 45009)
    assert mint(clock()) == 0
    page = room.page()
    assert "公众号二维码暂不可用" in page and str(svg_qr(room.qr_text())) in page
    calls = mock.calls[QR]
    clock.advance(minutes=30)
    assert mint(clock()) == 0 and mock.calls[QR] == calls  # paused: no calls for an hour
    link = room.qr_text()
    assert "签到成功" in room.scan(room.students[0], link)  # the fallback checks in the same way
    clock.advance(minutes=31)
    assert mint(clock()) >= 1 and mock.calls[QR] > calls
    assert re.search(r"weixin\.qq\.com/q/", CheckinQr.select().order_by(CheckinQr.id.desc()).get().url)
