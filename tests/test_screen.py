"""The classroom screen (投屏): pairing, the polled state with its ETag, and the rotating check-in code,
through the real HTTP routes and the signed, encrypted webhook with a frozen clock."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bot.clock import epoch
from bot.database import create_schema
from handlers.screen import rotation
from handlers.screen.pairing import NEW_CODES_PER_IP, end_screens
from handlers.screen.shown import svg_qr
from models import Activity, Membership, Response, Screen, StaleCode, User, db
from tests.conftest import build_app, simulator_for


def shown(html: str) -> str:
    """The text a page shows (tags dropped, spaces folded): counts sit in their own elements."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


class Room:
    """A teacher with a class of students, and a browser that polls /screen/state."""

    def __init__(self, app, clock, students=3):
        self.app, self.clock = app, clock
        self.client = app.test_client()
        self.wx = simulator_for(app)
        self.settings = app.extensions["ketang"].settings
        assert app.test_cli_runner().invoke(args=["make-teacher", "o_teacher"]).exit_code == 0
        created = self.wx.send_text("o_teacher", "创建课堂 高等数学")
        self.code = re.search(r"课堂码：(\d{6})", created).group(1)
        self.students = [f"o_student{i}" for i in range(students)]
        for openid in self.students:
            assert "已加入" in self.wx.send_text(openid, f"加入 {self.code}")
        self.secret, self.etag = None, None

    def teacher(self, text: str) -> str:
        return self.wx.send_text("o_teacher", text)

    def open_screen(self) -> str:
        made = self.client.post("/screen/new")
        assert made.status_code == 200
        self.secret = made.json["secret"]
        return made.json["code"]

    def poll(self, etag: str | None = None):
        headers = {"X-Screen": self.secret}
        if etag:
            headers["If-None-Match"] = etag
        response = self.client.get("/screen/state", headers=headers)
        self.secret = response.headers.get("X-Screen-Secret") or self.secret  # handed over at pairing, as the page does
        return response

    def page(self) -> str:
        response = self.poll()
        assert response.status_code == 200
        return response.get_data(as_text=True)

    def paired(self) -> str:
        code = self.open_screen()
        assert "已投屏" in self.teacher(f"投屏 {code}")
        return code

    def token_on_screen(self) -> str:
        return re.search(r"/c/([0-9a-z-]+)", self.qr_text()).group(1)

    def qr_text(self) -> str:
        """The link the QR on screen encodes: checked against the page's SVG here (the browser tests decode
        the image from a screenshot)."""
        checkin = Activity.select().order_by(Activity.id.desc()).first()
        slot = rotation.slot_at(self.settings, self.clock())
        link = "https://ketang.example.edu/c/" + rotation.token(self.settings, checkin.id, slot)
        assert str(svg_qr(link)) in self.page()
        return link

    def passcode_on_screen(self) -> str:
        return re.search(r'id="passcode">(\d{4})<', self.page()).group(1)

    def scan(self, openid: str, read: str, event: str = "scancode_waitmsg", create_time: int | None = None) -> str:
        now = create_time or self.wx.now()
        xml = (f"<xml><ToUserName><![CDATA[gh_ketang]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
               f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>"
               f"<EventKey><![CDATA[scan_checkin]]></EventKey><ScanCodeInfo><ScanType><![CDATA[qrcode]]></ScanType>"
               f"<ScanResult><![CDATA[{read}]]></ScanResult></ScanCodeInfo></xml>")
        return self.wx.deliver(xml)


@pytest.fixture
def room(app, clock):
    return Room(app, clock)


def test_pairing_by_code_shows_the_class_and_the_code_is_single_use(room, clock):
    code = room.open_screen()
    first = room.poll()
    assert first.status_code == 200 and code in first.get_data(as_text=True)
    assert room.poll(first.headers["ETag"]).status_code == 304  # nothing changed: no rendering
    steps = room.teacher("投屏")
    assert "ketang.example.edu/screen" in steps and "://" not in steps  # works on whichever scheme is served
    assert "已投屏" in room.teacher(f"投屏 {code}")
    after = room.poll(first.headers["ETag"])
    assert after.status_code == 200 and "高等数学" in after.get_data(as_text=True) and room.code in after.get_data(as_text=True)
    # single use: nobody can pair the same browser again with it, not even the same teacher
    assert "不对或已过期" in room.teacher(f"投屏 {code}")
    assert "screen code" in room.teacher(f"screen {code}").lower()


def test_a_pairing_code_expires_and_guessing_is_limited(room, clock):
    code = room.open_screen()
    clock.advance(minutes=11)
    assert "不对或已过期" in room.teacher(f"投屏 {code}")
    assert 'data-state="expired"' in room.page()  # the page asks for a new code by itself
    fresh = room.open_screen()
    wrong = f"{(int(fresh) + 1 - 100000) % 900000 + 100000}"
    for _ in range(9):
        assert "不对或已过期" in room.teacher(f"投屏 {wrong}")
    assert "尝试次数太多" in room.teacher(f"投屏 {fresh}")  # 10 wrong guesses an hour, then even the right one waits
    clock.advance(minutes=61)
    assert "尝试次数太多" not in room.teacher(f"投屏 {fresh}")  # the code expired meanwhile: a clear answer again


def test_new_codes_are_limited_per_address_and_unknown_screens_get_404(room):
    for _ in range(NEW_CODES_PER_IP):
        assert room.client.post("/screen/new").status_code == 200
    assert room.client.post("/screen/new").status_code == 429
    # behind nginx every PC arrives from loopback: its X-Real-IP is what is limited
    assert room.client.post("/screen/new", headers={"X-Real-IP": "10.0.0.7"}).status_code == 200
    outside = room.client.post("/screen/new", headers={"X-Real-IP": "10.0.0.8"}, environ_base={"REMOTE_ADDR": "203.0.113.5"})
    assert outside.status_code == 200 and Screen.select().where(Screen.ip == "203.0.113.5").count() == 1  # not trusted
    before = Screen.select().count()
    assert room.client.get("/screen/state").status_code == 404
    assert room.client.get("/screen/state", headers={"X-Screen": "x" * 43}).status_code == 404
    assert room.client.get("/screen/state", headers={"X-Screen": "<script>"}).status_code == 404
    forged = {"X-Screen": "x" * 43, "If-None-Match": '"1.1.178873920"'}
    assert room.client.get("/screen/state", headers=forged).status_code == 404  # a guessed ETag gets no 304
    assert Screen.select().count() == before


def test_ending_and_pairing_another_screen_turn_the_old_one_off(room):
    room.paired()
    old = room.secret
    room.paired()
    room.secret = old
    assert 'data-state="ended"' in room.page()
    assert "已结束投屏" in room.teacher("结束投屏")
    assert "no screen" in room.teacher("end screen")  # the English alias: the English reply


def test_a_check_in_shows_within_one_poll_and_the_etag_changes_only_with_it(room, clock):
    room.paired()
    room.teacher("上课")
    room.teacher("开启签到 5")
    page = room.poll()
    assert "已到 0 / 3" in shown(page.get_data(as_text=True))
    etag = page.headers["ETag"]
    assert room.poll(etag).status_code == 304
    passcode = room.passcode_on_screen()
    assert "签到成功" in room.wx.send_text(room.students[0], f"签到 {passcode}")
    changed = room.poll(etag)
    assert changed.status_code == 200 and "已到 1 / 3" in shown(changed.get_data(as_text=True))


def test_with_a_screen_every_check_in_needs_the_rotating_code_and_a_stale_one_is_refused_and_counted(room, clock):
    room.paired()
    room.teacher("上课")
    opened = room.teacher("开启签到 5")  # no 口令 asked: the screen makes one anyway
    assert "每 10 秒更换" in opened
    first, second, third = room.students
    assert "屏幕上的口令" in room.wx.send_text(first, "签到")
    shown = room.passcode_on_screen()
    clock.advance(seconds=9)
    assert room.passcode_on_screen() == shown  # the same slot
    clock.advance(seconds=1)
    assert room.passcode_on_screen() != shown  # rotated on the 10 s clock
    clock.advance(seconds=4)
    assert "签到成功" in room.wx.send_text(first, f"签到 {shown}")  # left the screen 4 s ago: within the grace
    clock.advance(seconds=2)
    refused = room.wx.send_text(second, f"签到 {shown}")  # 6 s after it left: relayed
    assert "已过期" in refused and "现在的口令" in refused
    assert not Response.select().where(Response.user == User.get(User.openid == second).id).exists()
    assert StaleCode.select().count() == 1
    assert "签到成功" in room.wx.send_text(second, f"签到 {room.passcode_on_screen()}")
    report = room.teacher("签到情况")
    assert "过期签到码：1 次（1 人）" in report
    assert "过期签到码" not in room.wx.send_text(third, "我的记录")


def test_a_scanned_token_checks_in_once_per_account_and_a_rotated_out_one_is_refused_and_counted(room, clock):
    room.paired()
    room.teacher("上课")
    room.teacher("开启签到 5")
    first, second, third = room.students
    link = room.qr_text()  # the QR on screen encodes this link
    token = room.token_on_screen()
    assert "签到成功" in room.scan(first, link)
    clock.advance(seconds=1)
    assert "已在" in room.scan(first, link)  # the same account again: still one check-in
    assert "签到成功" in room.wx.send_event(second, "SCAN", f"ci_{token}")  # another account, still fresh: its own
    assert Response.select().count() == 2
    clock.advance(seconds=15)  # rotated out 6 s ago
    assert "已过期" in room.scan(third, link)
    assert "已过期" in room.wx.send_event(third, "SCAN", f"ci_{token}")
    assert "已在" in room.scan(first, link)  # someone already checked in is not counted as a relay
    assert StaleCode.select().count() == 2 and Response.select().count() == 2
    assert "过期签到码：2 次（1 人）" in room.teacher("签到情况")


def test_a_check_in_qr_enrolls_nobody_and_a_re_follower_gets_no_grace(room, clock):
    """Issue 18.6: the follower's grace is for an account that never followed before, and a check-in QR never
    makes anyone a member (a relayed photo, or one of a check-in days ago, would let a stranger in)."""
    room.paired()
    room.teacher("上课")
    room.teacher("开启签到 5")
    token = room.token_on_screen()
    scanned_at = room.wx.now()
    fresh = room.wx.event_xml("o_new1", "subscribe", f"qrscene_ci_{token}", create_time=scanned_at + 5)
    reply = room.wx.deliver(fresh)
    assert "欢迎" in reply and "还不是「高等数学」的学生" in reply and "签到成功" not in reply
    assert not Membership.select().join(User).where(User.openid == "o_new1").exists()
    # A member who unfollows and follows again with a photo taken 61 s ago: no follower's grace for them.
    member = room.students[0]
    room.wx.send_event(member, "unsubscribe")
    clock.advance(seconds=61)
    again = room.wx.event_xml(member, "subscribe", f"qrscene_ci_{token}", create_time=room.wx.now())
    assert "已过期" in room.wx.deliver(again)
    assert Response.select().count() == 0 and StaleCode.select().count() == 1
    # A check-in QR of a check-in closed days ago enrolls no stranger either.
    room.teacher("下课")
    clock.advance(days=3)
    old = room.wx.event_xml("o_new2", "subscribe", f"qrscene_ci_{token}", create_time=room.wx.now())
    assert "还不是「高等数学」的学生" in room.wx.deliver(old)
    assert not Membership.select().join(User).where(User.openid == "o_new2").exists()


def test_forged_tokens_and_foreign_qr_codes_check_nobody_in(room, clock):
    room.paired()
    room.teacher("上课")
    room.teacher("开启签到 5")
    token = room.token_on_screen()
    activity, slot, mac = token.split("-")
    forged = f"{activity}-{int(slot) + 1}-{mac}"
    assert "不是有效的签到二维码" in room.scan(room.students[0], f"https://ketang.example.edu/c/{forged}")
    assert "不是有效的签到二维码" in room.wx.send_event(room.students[0], "SCAN", f"ci_{activity}-{slot}-{'a' * 16}")
    assert "不是课堂的二维码" in room.scan(room.students[0], "https://example.com/whatever")  # not ours at all
    assert Response.select().count() == 0 and StaleCode.select().count() == 0
    page = room.client.get(f"/c/{token}")
    assert page.status_code == 200 and "不能签到" in page.get_data(as_text=True)
    assert Response.select().count() == 0  # opening the link in a browser checks nobody in


def test_the_screen_never_shows_the_answer_before_close_nor_an_openid(room, clock):
    room.paired()
    room.teacher("上课")
    room.teacher("练习 B 3 1+1=? A.1 B.2 C.3")
    room.wx.send_text(room.students[0], "答 B")
    room.wx.send_text(room.students[1], "答 A")
    open_page = room.page()
    assert "1+1=?" in open_page and "已作答 2" in shown(open_page)
    assert "正确答案" not in open_page and "<svg class=\"bars\"" not in open_page and "✓" not in open_page
    room.teacher("结束")
    closed = room.page()
    assert "<svg class=\"bars\"" in closed and "正确答案 <b id=\"key\">B</b>" in closed and "50%" in closed
    bars = re.findall(r'class="num">(\d+)', closed)
    assert bars == ["1", "1", "0"]
    room.teacher("讨论 5 导数的意义")
    room.wx.send_text(room.students[0], "发言 变化率")
    room.wx.send_text(room.students[1], "发言 <b>斜率</b>")
    wall = room.page()
    assert "变化率" in wall and "&lt;b&gt;斜率&lt;/b&gt;" in wall  # escaped, not markup
    assert "已从屏幕上隐藏" in room.teacher("隐藏 1")
    assert "变化率" not in room.page() and "斜率" in room.page()
    assert "变化率" in room.teacher("结果")  # the teacher still reads it
    room.wx.send_text(room.students[2], "不懂")
    assert "不懂 1" in shown(room.page())
    for state in (open_page, closed, wall, room.page()):
        assert "o_student" not in state and "o_teacher" not in state


def test_the_screen_shows_a_roll_call_with_who_answered(room, clock):
    room.paired()
    room.teacher("上课")
    room.teacher("开启签到 5")
    for openid in room.students:
        room.wx.send_text(openid, f"签到 {room.passcode_on_screen()}")
    User.update(name="张三").where(User.openid.in_(room.students)).execute()
    room.teacher("点名 2")
    page = room.page()
    assert page.count("张三") == 2 and "…" in page
    for openid in room.students:
        room.wx.send_text(openid, "到")
    assert "✓ 到" in room.page() and "o_student" not in room.page()


def test_between_lessons_the_screen_shows_the_join_code_students_and_latest_notice(room, clock):
    room.paired()
    room.teacher("发布公告 周五交作业")
    page = room.page()
    assert room.code in page and "3 名学生" in shown(page) and "周五交作业" in page and "<svg class=\"qr\"" in page


def test_the_screen_ends_a_grace_after_the_lesson(room, clock):
    room.paired()
    room.teacher("上课")
    room.teacher("下课")
    clock.advance(minutes=14)
    assert end_screens(clock()) == 0 and 'data-state="ended"' not in room.page()
    clock.advance(minutes=2)
    assert end_screens(clock()) == 1 and 'data-state="ended"' in room.page()
    assert "没有投屏" in room.teacher("结束投屏")


def test_init_db_adds_the_screen_tables_and_column_to_an_existing_database(tmp_path, clock):
    app = build_app(tmp_path, clock)
    with app.app_context():
        db.execute_sql("DROP TABLE checkin_qr")
        db.execute_sql("DROP TABLE stale_code")
        db.execute_sql("DROP TABLE screen")
        db.execute_sql("ALTER TABLE post DROP COLUMN hidden")
        create_schema()
        assert {"screen", "stale_code", "checkin_qr"} <= set(db.get_tables())
        assert "hidden" in {c.name for c in db.get_columns("post")}
    db.close()


def test_init_db_upgrades_a_screen_from_before_the_screen_columns_of_issues_18_19_and_23(room, clock):
    """A database from before both branches: the screen, activity and post tables without their new columns
    (net, keyed_at, warned_at; missing_until, cloud_of; seen_slot; approved_at) gain them all, twice safely."""
    room.paired()
    room.teacher("上课")
    room.teacher("开启签到 5 口令")
    with room.app.app_context():
        db.execute_sql("DROP INDEX IF EXISTS screen_net_code_expires_at")
        for table, column in (("screen", "net"), ("screen", "keyed_at"), ("screen", "warned_at"), ("screen", "missing_until"),
                              ("screen", "cloud_of"), ("activity", "seen_slot"), ("post", "approved_at")):
            db.execute_sql(f"ALTER TABLE {table} DROP COLUMN {column}")
        create_schema()
        create_schema()
        assert {"net", "keyed_at", "warned_at", "missing_until", "cloud_of"} <= {c.name for c in db.get_columns("screen")}
        assert "seen_slot" in {c.name for c in db.get_columns("activity")}
        assert "approved_at" in {c.name for c in db.get_columns("post")}
        assert [(s.net, s.keyed_at, s.missing_until) for s in Screen.select()] == [("", None, None)]
    page = room.page()  # the paired screen goes on: its secret is handed over at its next poll, its 口令 shown
    assert re.search(r'id="passcode">\d{4}<', page) and Activity.get().seen_slot == rotation.slot_at(room.settings, clock())
    db.close()


def test_tokens_are_bound_to_one_check_in_and_one_slot(app):
    settings = app.extensions["ketang"].settings
    token = rotation.token(settings, 7, 123)
    assert rotation.read_token(settings, token) == (7, 123)
    assert rotation.read_token(settings, token.replace("7-", "8-", 1)) is None
    assert rotation.read_token(settings, token[:-1] + ("a" if token[-1] != "a" else "b")) is None
    assert len(token.rsplit("-", 1)[1]) == 16  # 80 bits
    now = epoch(app.extensions["ketang"].clock())
    slot = rotation.slot_at(settings, now)
    assert rotation.is_fresh(settings, slot, now, 5) and rotation.is_fresh(settings, slot - 1, now + 4, 5)
    assert not rotation.is_fresh(settings, slot - 1, now + 6, 5)
    assert not rotation.is_fresh(settings, slot + 1, now, 5)  # a future slot is never accepted
    assert timedelta(seconds=settings.screen.rotate_seconds) == timedelta(seconds=10)


def test_a_student_who_joins_a_class_on_a_screen_shows_within_one_poll(room, clock):
    """The screen's message hook is skipped for a sender with no screen on (read with the touch); one who
    joins a class on a screen has none at the touch, and still bumps it."""
    room.paired()
    page = room.poll()
    assert "3 名学生" in shown(page.get_data(as_text=True))
    room.wx.send_event("o_newcomer", "subscribe")
    assert room.poll(page.headers["ETag"]).status_code == 304  # a follower in no class changes no screen
    assert "已加入" in room.wx.send_text("o_newcomer", f"加入 {room.code}")
    changed = room.poll(page.headers["ETag"])
    assert changed.status_code == 200 and "4 名学生" in shown(changed.get_data(as_text=True))
