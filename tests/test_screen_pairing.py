"""Who may hold a classroom screen: the secret handed over at pairing, a poll from another network, and who may
ask for a 投屏码 (same origin, per-address and per-range caps, refusals that never take the write lock).
Through the real HTTP routes and the signed webhook, with a frozen clock."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest

from bot.wxsim import WeChatSimulator
from handlers.screen import pairing
from handlers.screen.shown import gather
from handlers.screen.view import etag_of
from models import Outbox, Screen
from tests.conftest import build_app
from tests.test_screen import Room

AWAY = {"REMOTE_ADDR": "198.51.100.9"}  # a dorm, not the classroom PC's network (the test client is 127.0.0.1)


@pytest.fixture
def room(app, clock):
    return Room(app, clock)


def poll_as(room, secret: str, environ=None, etag: str | None = None):
    headers = {"X-Screen": secret} | ({"If-None-Match": etag} if etag else {})
    return room.client.get("/screen/state", headers=headers, environ_base=environ or {})


def test_the_secret_held_before_pairing_dies_at_pairing(room):
    room.open_screen()
    copied = room.secret  # taken from the classroom PC's browser before the teacher paired it
    code = Screen.get().code
    assert "已投屏" in room.teacher(f"投屏 {code}")
    shown = room.poll()  # the page's first poll after pairing: a new secret, handed over in a header
    assert shown.status_code == 200 and "高等数学" in shown.get_data(as_text=True)
    assert room.secret != copied and shown.headers["X-Screen-Secret"] == room.secret
    assert shown.headers["Cache-Control"] == "no-cache, private"
    assert poll_as(room, copied).status_code == 404  # the copy shows nothing, from anywhere
    assert poll_as(room, copied, etag=shown.headers["ETag"]).status_code == 404  # not even a 304
    again = room.poll(shown.headers["ETag"])
    assert again.status_code == 304 and "X-Screen-Secret" not in again.headers  # handed over once


@pytest.mark.parametrize("current", ["etag", "shape"])
def test_the_hand_over_comes_before_a_304_or_a_counts_only_answer(room, current):
    """A first poll after pairing that already carries the current ETag (they are predictable) or the current
    shape still gets the new secret: a 304 or the counts alone would keep the pre-pairing secret alive."""
    room.open_screen()
    copied = room.secret
    room.teacher(f"投屏 {Screen.get().code}")
    kt, screen = room.app.extensions["ketang"], Screen.get()
    with room.app.test_request_context():
        headers = ({"If-None-Match": etag_of(kt, screen.id, screen.version, room.clock())} if current == "etag"
                   else {"If-None-Match": '"stale"', "X-Shape": gather(kt, screen, room.clock()).shape})
    shown = room.client.get("/screen/state", headers={"X-Screen": copied, **headers})
    assert shown.status_code == 200 and shown.mimetype == "text/html" and "高等数学" in shown.get_data(as_text=True)
    assert shown.headers["X-Screen-Secret"] != copied
    assert poll_as(room, copied, etag=shown.headers["ETag"]).status_code == 404  # the pre-pairing secret is dead


def test_a_copy_polled_from_another_network_right_after_pairing_never_gets_the_new_secret(room):
    room.open_screen()
    copied = room.secret
    room.teacher(f"投屏 {Screen.get().code}")
    stolen = poll_as(room, copied, AWAY)  # the copy races the classroom PC for the hand-over, and loses
    assert stolen.status_code == 404 and "X-Screen-Secret" not in stolen.headers
    assert "高等数学" in room.page()  # the classroom PC still gets the class and its new secret
    [told] = Outbox.select().where(Outbox.kind == "screen_warning")
    assert "198.51.100.0/24" in told.text and "结束投屏" in told.text and told.user.openid == "o_teacher"


def test_a_second_poller_from_another_network_is_refused_and_the_teacher_told_once(room):
    room.paired()
    first = room.poll()
    etag = first.headers["ETag"]
    for _ in range(3):  # the secret copied after pairing, polled from a dorm (with the ETag too: no 304)
        assert poll_as(room, room.secret, AWAY).status_code == 404
        assert poll_as(room, room.secret, AWAY, etag).status_code == 404
    assert Outbox.select().where(Outbox.kind == "screen_warning").count() == 1  # told once
    assert room.poll(etag).status_code == 304  # the classroom PC goes on
    # Another address of the school's own network (a NAT pool) is the same classroom: no warning, shown.
    assert poll_as(room, room.secret, {"REMOTE_ADDR": "127.0.0.77"}).status_code == 200
    assert room.client.get("/screen/state", headers={"X-Screen": room.secret, "X-Real-IP": "198.51.100.20"}).status_code == 404
    assert Outbox.select().where(Outbox.kind == "screen_warning").count() == 1


def test_address_ranges():
    assert pairing.network("203.0.113.77") == pairing.network("203.0.113.5") == "203.0.113.0/24"
    assert pairing.network("203.0.114.5") != pairing.network("203.0.113.5")
    assert pairing.network("2001:db8:abcd:12::1") == pairing.network("2001:db8:abcd:ff00::2") == "2001:db8:abcd::/48"
    assert pairing.network("2001:db8:abce::1") != pairing.network("2001:db8:abcd::1")
    assert pairing.network("::ffff:203.0.113.9") == "203.0.113.0/24"
    assert pairing.network("?") == "?"


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site", "Origin": "http://localhost"},
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Referer": "https://evil.example/page"},
])
def test_a_cross_site_post_for_a_screen_code_is_refused_and_leaves_no_trace(room, headers, monkeypatch):
    took = watch_write_lock(monkeypatch)
    for _ in range(25):  # more than the address's allowance: none of it is charged to the school's address
        refused = room.client.post("/screen/new", headers=headers)
        assert refused.status_code == 403 and "cross-site" in refused.json["error"]
    assert Screen.select().count() == 0 and took == []
    own = room.client.post("/screen/new", headers={"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"})
    assert own.status_code == 200 and own.json["code"]
    assert room.client.post("/screen/new", headers={"Origin": "http://localhost"}).status_code == 200  # no Sec-Fetch-*


def watch_write_lock(monkeypatch) -> list[int]:
    """Record every write transaction the pairing module opens."""
    took: list[int] = []
    real = pairing.transaction

    @contextmanager
    def counted():
        took.append(1)
        with real() as txn:
            yield txn

    monkeypatch.setattr(pairing, "transaction", counted)
    return took


def test_a_refused_request_for_a_code_never_takes_the_write_lock(room, monkeypatch):
    took = watch_write_lock(monkeypatch)
    for _ in range(pairing.NEW_CODES_PER_IP):
        assert room.client.post("/screen/new").status_code == 200
    assert len(took) == pairing.NEW_CODES_PER_IP
    for _ in range(5):
        assert room.client.post("/screen/new").status_code == 429
    assert len(took) == pairing.NEW_CODES_PER_IP  # the refusals were read, not written


def test_one_network_cannot_take_every_waiting_code_and_waiting_codes_expire_sooner(room, clock):
    for host in range(1, 6):  # five addresses of one network, each within its own allowance
        for _ in range(pairing.PENDING_PER_NET // 5):
            assert room.client.post("/screen/new", environ_base={"REMOTE_ADDR": f"203.0.113.{host}"}).status_code == 200
    refused = room.client.post("/screen/new", environ_base={"REMOTE_ADDR": "203.0.113.200"})
    assert refused.status_code == 429 and "network" in refused.json["error"]
    school = room.client.post("/screen/new", environ_base={"REMOTE_ADDR": "198.51.100.30"})
    assert school.status_code == 200  # another network (a school) still gets its code
    clock.advance(minutes=5, seconds=1)  # waiting codes last 5 minutes now (was 10): the network's quota frees sooner
    assert "不对或已过期（5 分钟有效" in room.teacher(f"投屏 {school.json['code']}")
    assert room.client.post("/screen/new", environ_base={"REMOTE_ADDR": "203.0.113.200"}).status_code == 200


def two_classes(room) -> None:
    """The teacher gets a second class (线性代数) and picks the first again: 进入 1 = 高等数学, 进入 2 = 线性代数."""
    assert "线性代数" in room.teacher("创建课堂 线性代数")
    assert "高等数学" in room.teacher("进入 1")


def test_the_screen_follows_the_teacher_to_the_class_they_start(room):
    two_classes(room)
    room.paired()
    assert "<h1>高等数学</h1>" in room.page()
    room.teacher("进入 2")
    assert "<h1>高等数学</h1>" in room.page()  # choosing a class alone moves nothing: no lesson there yet
    room.teacher("上课")
    shown = room.page()
    assert "<h1>线性代数</h1>" in shown and 'id="elsewhere"' not in shown
    assert "「线性代数」正在投屏" in room.teacher("投屏")
    room.teacher("开启签到 5 口令")
    assert 'id="passcode"' in room.page()  # the check-in of the class it follows, with the rotating 口令


def test_a_lesson_started_in_another_class_takes_the_screen_along(room):
    two_classes(room)
    room.paired()
    room.teacher("上课")  # in 高等数学, on the screen
    assert "<h1>高等数学</h1>" in room.page()
    room.teacher("进入 2")
    assert "<h1>高等数学</h1>" in room.page()  # 高等数学 is still in session: the screen stays with it
    assert "「高等数学」已先下课" in room.teacher("上课")  # one lesson at a time: 线性代数 starts, 高等数学 ends
    assert "<h1>线性代数</h1>" in room.page()
    assert "「线性代数」正在投屏" in room.teacher("投屏")


def test_with_no_public_url_a_screen_opened_as_localhost_is_one_the_webhook_on_127_0_0_1_reads(tmp_path, clock):
    """`make run` without public_url: the classroom PC opens localhost:8000/screen while WeChat (the simulator)
    posts to 127.0.0.1:8000. The QR codes on that screen are this server's: they join and check in."""
    app = build_app(tmp_path, clock, server={"public_url": ""})
    room = Room(app, clock)
    kt = app.extensions["ketang"]
    client = app.test_client()

    def post(query, body):
        answer = client.post("/wechat", query_string=query, data=body, content_type="text/xml", base_url="http://127.0.0.1:8000")
        return answer.status_code, answer.get_data()

    room.wx = WeChatSimulator(kt.settings, post, now=kt.epoch)
    screen = {"base_url": "http://localhost:8000"}
    made = client.post("/screen/new", headers={"Origin": "http://localhost:8000"}, **screen).json
    assert "已投屏" in room.teacher(f"投屏 {made['code']}")
    shown = client.get("/screen/state", headers={"X-Screen": made["secret"]}, **screen)
    secret = shown.headers["X-Screen-Secret"]
    join = re_find(r'data-qr="([^"]+)"', shown.get_data(as_text=True))
    assert join.startswith("http://localhost:8000/")
    assert "已加入" in room.scan("o_newcomer", join)  # the class QR between lessons
    room.teacher("上课")
    room.teacher("开启签到 5")
    link = re_find(r'id="checkin-qr" data-qr="([^"]+)"', client.get("/screen/state", headers={"X-Screen": secret}, **screen)
                   .get_data(as_text=True))
    assert link.startswith("http://localhost:8000/c/")
    assert "签到成功" in room.scan(room.students[0], link)
    assert "签到成功" in room.scan(room.students[1], link.replace("localhost", "127.0.0.1"))
    assert "签到成功" not in room.scan(room.students[2], link.replace("localhost", "evil.example"))


def re_find(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in the page"
    return found.group(1)


def test_polls_from_another_network_with_nobody_to_tell_take_no_write_lock(room, monkeypatch):
    room.open_screen()  # not paired yet: no teacher to tell
    took = watch_write_lock(monkeypatch)
    for _ in range(5):
        assert poll_as(room, room.secret, AWAY).status_code == 404
    assert took == []
    room.paired()
    room.poll()  # the hand-over
    took.clear()
    for _ in range(5):
        assert poll_as(room, room.secret, AWAY).status_code == 404
    assert len(took) == 1  # telling the teacher, once
