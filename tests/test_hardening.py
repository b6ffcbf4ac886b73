"""Issue 18: holes an attacker found — invisible names, stored replies, what a scan may mean, the health
check's clock, unauthenticated 500s, and a roster import that froze every write."""

from __future__ import annotations

import io
import zipfile
from contextlib import contextmanager

import pytest
from peewee import SqliteDatabase
from playhouse.db_url import parse as parse_url
from playhouse.pool import PooledPostgresqlDatabase

from bot.catalogue import t
from bot.database import connect, is_sqlite
from bot.dispatch import Inbound
from handlers.screen import rotation
from models import Activity, Response, RosterEntry, StaleCode, User, db
from tests.test_identity import import_file, school  # noqa: F401  (fixture)
from tests.test_screen import Room

FILLERS = ("\u3164", "\u115f", "\u1160", "\uffa0")


@pytest.mark.parametrize("filler", FILLERS)
def test_a_name_of_hangul_fillers_is_refused_in_chat_and_in_a_roster(say, school, filler, app, tmp_path):  # noqa: F811
    say("o_a", "认证")
    say("o_a", "示范大学")
    say("o_a", "2024001")
    assert "姓名须为" in say("o_a", filler * 3)  # shows as nothing in 名单, 点名 and on the screen
    assert "姓名须为" in say("o_a", "李" + filler + "雷")
    result = import_file(app, tmp_path, f"student_no,name,auth_code\n2024101,{filler * 2},1\n".encode(), name="f.csv")
    assert result.exit_code != 0 and "line 2: name" in result.output
    assert not RosterEntry.select().where(RosterEntry.student_no == "2024101").exists()


def test_a_letter_under_a_pile_of_combining_marks_is_refused_but_accents_are_names(say, school):  # noqa: F811
    say("o_a", "认证")
    say("o_a", "示范大学")
    say("o_a", "2024001")
    assert "姓名须为" in say("o_a", "Z" + "\u0336\u0301\u0308" * 10 + "oe")  # a 30-mark smear over the lines below
    say("o_b", "认证")
    say("o_b", "示范大学")
    say("o_b", "2024002")
    assert "认证码" in say("o_b", "สมศักดิ์")  # Thai: two marks in a row on one letter is a name
    assert User.get(User.openid == "o_a").verify_state == "not_given"


# --- item 15: a stored reply belongs to its sender ------------------------------------------------------------

def test_another_account_reusing_a_msgid_never_gets_the_teachers_reply(wechat, teacher):
    openid, code = teacher
    link = wechat.send_text(openid, "导出", msg_id=6054768590064713728)
    assert "/export/" in link
    assert wechat.send_text(openid, "导出", msg_id=6054768590064713728) == link  # the teacher's retry: the same reply
    reused = wechat.send_text("o_outsider", "帮助", msg_id=6054768590064713728)
    assert "/export/" not in reused and "帮助" in reused  # answered as its own message
    assert wechat.send_text("o_outsider", "导出", msg_id=6054768590064713728) == reused  # and deduplicated as its own


def test_a_key_claimed_by_another_sender_yields_no_reply_of_theirs(app, teacher):
    dispatcher = app.extensions["ketang"].dispatcher
    link = dispatcher.handle(Inbound(openid=teacher[0], key="msg:42", kind="text", text="导出"))
    assert "/export/" in link
    other = dispatcher.handle(Inbound(openid="o_outsider", key="msg:42", kind="text", text="帮助"))
    assert other == t("busy", "zh")  # the key is taken: try again, never the teacher's export link


# --- item 1: a code's freshness by WeChat's clock ---------------------------------------------------------------

@pytest.fixture
def room(app, clock):
    return Room(app, clock)


def open_checkin(room) -> int:
    room.paired()
    room.teacher("上课")
    room.teacher("开启签到 10")
    return Activity.select().order_by(Activity.id.desc()).first().id


def test_a_code_typed_in_its_slot_and_processed_8_s_later_is_accepted(room, clock):
    open_checkin(room)
    clock.advance(seconds=9)  # 9 s into the 10 s slot: the 口令 a student reads off the screen
    shown, typed_at = room.passcode_on_screen(), room.wx.now()
    clock.advance(seconds=8)  # a WeChat retry (or a queued worker) gets to it 8 s later: 7 s after it left the screen
    late = room.wx.deliver(room.wx.text_xml(room.students[0], f"签到 {shown}", create_time=typed_at))
    assert "签到成功" in late
    assert StaleCode.select().count() == 0
    # The same words with the CreateTime of now are judged as typed now: a relay, refused and counted.
    relayed = room.wx.send_text(room.students[1], f"签到 {shown}")
    assert "已过期" in relayed and StaleCode.select().count() == 1


def test_a_scan_in_its_slot_processed_8_s_later_is_accepted(room, clock):
    open_checkin(room)
    clock.advance(seconds=9)
    link, scanned_at = room.qr_text(), room.wx.now()
    clock.advance(seconds=8)
    assert "签到成功" in room.scan(room.students[0], link, create_time=scanned_at)
    assert "已过期" in room.scan(room.students[1], link)  # the same QR scanned now: 7 s after it left the screen


def test_a_createtime_beyond_the_skew_allowance_is_not_trusted(room, clock):
    checkin = open_checkin(room)
    shown, typed_at = room.passcode_on_screen(), room.wx.now()
    clock.advance(seconds=400)  # past max_clock_skew_seconds (300): the message counts as sent 300 s ago at most
    old = room.wx.deliver(room.wx.text_xml(room.students[0], f"签到 {shown}", create_time=typed_at))
    assert "已过期" in old and not Response.select().exists()
    # A CreateTime in the future is not trusted either: a code the screen has not shown yet stays unknown.
    settings = room.settings
    ahead = rotation.slot_at(settings, room.wx.now()) + 6
    future = room.wx.text_xml(room.students[1], f"签到 {rotation.passcode(settings, checkin, ahead)}",
                              create_time=room.wx.now() + 60)
    assert "签到成功" not in room.wx.deliver(future) and not Response.select().exists()


def test_plaintext_mode_trusts_createtime_for_a_retrys_delay_only(tmp_path, clock):
    from tests.conftest import build_app

    plain = Room(build_app(tmp_path, clock, aes=False), clock)
    open_checkin(plain)
    clock.advance(seconds=9)
    shown, typed_at = plain.passcode_on_screen(), plain.wx.now()
    clock.advance(seconds=8)  # within PLAINTEXT_TRUST (15 s): a retry of an honest message
    assert "签到成功" in plain.wx.deliver(plain.wx.text_xml(plain.students[0], f"签到 {shown}", create_time=typed_at))
    clock.advance(seconds=60)  # the unsigned body claims a minute-old CreateTime: judged as 15 s old at most
    claimed = plain.wx.deliver(plain.wx.text_xml(plain.students[1], f"签到 {shown}", create_time=typed_at))
    assert "已过期" in claimed and Response.select().count() == 1


# --- item 13: /healthz and the clock WeChat signs with ------------------------------------------------------------

def test_healthz_fails_while_wechats_clock_is_past_the_allowance_and_says_so(app, clock, tmp_path):
    from bot.wxsim import WeChatSimulator
    from tests.conftest import build_app, simulator_for

    client = app.test_client()
    assert client.get("/healthz").get_json()["clock_skew_seconds"] is None  # no signed request seen yet
    kt = app.extensions["ketang"]
    ahead = simulator_for(app)
    ahead.now = lambda: kt.epoch() + 360  # WeChat's clock (or ours) 6 minutes off
    with pytest.raises(RuntimeError, match="403"):
        ahead.send_text("o_s1", "帮助")
    status = client.get("/healthz")
    assert status.status_code == 503
    assert status.get_json()["clock_skew_seconds"] == 360 and "max_clock_skew_seconds (300)" in status.get_json()["detail"]
    other_worker = build_app(tmp_path, clock, fresh=False)  # another process sees it through the heartbeat row
    assert other_worker.test_client().get("/healthz").status_code == 503
    # A forged request (wrong signature) with any timestamp says nothing about the clock.
    forged = WeChatSimulator(kt.settings, lambda q, b: (client.post("/wechat", query_string={**q, "signature": "0" * 40},
                                                                    data=b).status_code, b""), now=lambda: kt.epoch() - 3000)
    assert forged.post(*forged.sign(forged.text_xml("o_s1", "帮助")))[0] == 403
    query, body = forged.sign(forged.text_xml("o_s1", "帮助"))
    del query["signature"]  # safe mode without the URL signature: the timestamp is vouched for by nothing yet
    assert client.post("/wechat", query_string={**query, "msg_signature": "0" * 40}, data=body).status_code == 403
    assert client.get("/healthz").get_json()["clock_skew_seconds"] == 360
    clock.advance(seconds=2)
    assert "帮助" in simulator_for(app).send_text("o_s1", "帮助")  # the clock fixed: signed requests on time again
    healthy = client.get("/healthz")
    assert healthy.status_code == 200 and healthy.get_json()["clock_skew_seconds"] == 0
    assert other_worker.test_client().get("/healthz").status_code == 200


def test_a_skew_seen_long_ago_is_not_reported(app, clock):
    from tests.conftest import simulator_for

    kt = app.extensions["ketang"]
    behind = simulator_for(app)
    behind.now = lambda: kt.epoch() - 400
    with pytest.raises(RuntimeError, match="403"):
        behind.send_text("o_s1", "帮助")
    assert app.test_client().get("/healthz").status_code == 503
    clock.advance(minutes=11)
    assert app.test_client().get("/healthz").get_json() == {"status": "ok", "database": "ok", "clock_skew_seconds": None}


# --- item 14: no unauthenticated 500s ---------------------------------------------------------------------------

@pytest.mark.parametrize("aes", [True, False])
def test_a_non_ascii_signature_or_timestamp_is_refused_not_a_500(tmp_path, clock, aes):
    from tests.conftest import build_app

    client = build_app(tmp_path, clock, aes=aes).test_client()
    now = str(app_epoch(clock))
    for query in ({"signature": "é", "timestamp": now, "nonce": "1", "echostr": "x"},
                  {"signature": "é" * 40, "timestamp": now, "nonce": "1", "echostr": "x"},
                  {"signature": "a" * 40, "timestamp": "١٢٣", "nonce": "1", "echostr": "x"}):
        assert client.get("/wechat", query_string=query).status_code == 403
        posted = client.post("/wechat", query_string={**query, **({"encrypt_type": "aes", "msg_signature": "é"} if aes else {})},
                             data=b"<xml><ToUserName>x</ToUserName></xml>")
        assert posted.status_code == 403


def app_epoch(clock) -> int:
    from bot.clock import epoch

    return epoch(clock())


def test_a_check_in_token_with_non_ascii_digits_is_refused_clearly(room, clock):
    open_checkin(room)
    token = room.token_on_screen()
    activity, slot, mac = token.split("-")
    arabic = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
    for forged in (f"{activity}{'3'.translate(arabic)}-{slot}-{mac}", f"{activity}-{slot[0]}{slot[1:].translate(arabic)}-{mac}"):
        scanned = room.scan(room.students[0], f"https://ketang.example.edu/c/{forged}")
        assert "不是有效的签到二维码" in scanned and "系统繁忙" not in scanned
        assert "不是有效的签到二维码" in room.wx.send_event(room.students[0], "SCAN", f"ci_{forged}")
    assert not Response.select().exists()


# --- item 14: pages answer 503 saying so when the database is down or read-only --------------------------------

@contextmanager
def database_swapped(database):
    """Point the app's database at *database* (down or read-only) for the block, then back."""
    original = db.obj
    db.close()
    db.initialize(database)
    try:
        yield
    finally:
        if not db.is_closed():
            db.close()
        close_all = getattr(db.obj, "close_all", None)
        if close_all:
            close_all()
        db.initialize(original)


def unreachable():
    if is_sqlite():
        return SqliteDatabase("/nonexistent-directory/ketang.db")
    return connect("postgresql://ketang_dev:ketang_dev@127.0.0.1:1/nowhere")


def read_only(url: str):
    if is_sqlite():
        return SqliteDatabase(f"file:{url.split('sqlite:///', 1)[1]}?mode=ro", uri=True)
    return PooledPostgresqlDatabase(**parse_url(url), options="-c default_transaction_read_only=on")


@pytest.mark.parametrize("fault", ["down", "read-only"])
def test_pages_answer_503_with_a_page_saying_so_when_the_database_fails(room, clock, fault):
    from handlers.records import EXPORT_TTL
    from handlers.teacher import QR_LINK_TTL
    from models import Classroom

    room.paired()
    assert room.poll().status_code == 200  # the first poll after pairing hands the page its own secret
    kt = room.client.application.extensions["ketang"]
    classroom = Classroom.get()
    qr = kt.links.token("qr", classroom.code, clock(), QR_LINK_TTL)
    export = kt.links.token("export", str(classroom.id), clock(), EXPORT_TTL)
    pages = [("get", "/screen/state", {"X-Screen": room.secret}), ("post", "/screen/new", {}),
             ("get", f"/qr/{qr}.png", {}), ("get", f"/export/{export}.csv", {})]
    assert [getattr(room.client, m)(path, headers=h).status_code for m, path, h in pages] == [200, 200, 200, 200]
    faulty = unreachable() if fault == "down" else read_only(kt.settings.database.url)
    with database_swapped(faulty):
        answers = {path: getattr(room.client, m)(path, headers=h) for m, path, h in pages}
    failing = answers if fault == "down" else {"/screen/new": answers["/screen/new"]}  # reads still work read-only
    for path, answer in failing.items():
        assert answer.status_code == 503, (path, answer.status_code)
        assert "数据库" in answer.get_data(as_text=True) and answer.headers["Retry-After"] == "30"
    assert room.poll().status_code == 200  # back to normal


# --- item 9: a small workbook that unpacks to hundreds of megabytes ------------------------------------------------

def workbook(rows) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def bomb(megabytes: int) -> bytes:
    """A real workbook one of whose cells holds a string of *megabytes* MiB (deflated to a few dozen KB)."""
    small = zipfile.ZipFile(io.BytesIO(workbook([["student_no", "name", "auth_code"], ["2024001", "PLACEHOLDER", "1"]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as packed:
        for member in small.infolist():
            text = small.read(member)
            if b"PLACEHOLDER" not in text:  # the sheet (inline strings) or sharedStrings.xml, as the writer chose
                packed.writestr(member, text)
                continue
            head, tail = text.split(b"PLACEHOLDER")
            with packed.open(member.filename, "w", force_zip64=True) as stream:
                stream.write(head)
                for _ in range(megabytes):
                    stream.write(b"A" * (1 << 20))
                stream.write(tail)
    return out.getvalue()


def test_a_small_workbook_that_unpacks_hugely_is_refused_before_parsing(app, tmp_path, monkeypatch):
    import openpyxl

    data = bomb(48)
    assert len(data) < 200_000  # 48 MiB of one name in under 200 KB (the attack: 409 KB reached 2.9 GB)
    parsed = []
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: parsed.append(a) or 1 / 0)
    result = import_file(app, tmp_path, data, name="bomb.xlsx")
    assert result.exit_code != 0 and "unpacks to 48 MiB" in result.output and "CSV" in result.output
    assert parsed == []  # refused from the zip's directory: nothing was unpacked
    assert not RosterEntry.select().exists()


def test_a_workbook_with_an_overlong_cell_is_refused_with_its_line(app, tmp_path):
    data = workbook([["student_no", "name", "auth_code"], ["2024001", "张三", "1"], ["2024002", "李" * 1000, "2"]])
    result = import_file(app, tmp_path, data, name="long.xlsx")
    assert result.exit_code != 0 and "line 3: a cell has 1000 characters" in result.output
    ok = import_file(app, tmp_path, workbook([["学号", "姓名", "认证码"], ["2024001", "张三", "1"]]), name="ok.xlsx")
    assert ok.exit_code == 0 and "1 added" in ok.output


# --- item 8: a big roster import lets check-ins through ----------------------------------------------------------

def test_a_roster_import_hashes_outside_the_write_lock_and_writes_in_short_batches(app, tmp_path, monkeypatch, say, teacher):
    import threading

    from bot import database
    from handlers import roster

    openid, code = teacher
    say("o_s1", f"加入 {code}")
    say(openid, "上课")
    say(openid, "开启签到")
    monkeypatch.setattr(roster, "BATCH", 50)
    held = []  # the writer lock (SQLite), as the hook sees it
    monkeypatch.setattr(database, "WRITE_LOCK_HOOKS", [held.append])
    hashed_while = []  # (in a transaction, holding the writer lock) at each PBKDF2
    real_hash = roster.hash_secret
    monkeypatch.setattr(roster, "hash_secret", lambda secret: hashed_while.append(
        (db.in_transaction(), bool(held) and held[-1])) or real_hash(secret, iterations=1))
    batches, checked_in = [], []
    real_transaction = roster.transaction

    @contextmanager
    def measured():
        before = RosterEntry.select().count()
        with real_transaction() as txn:
            yield txn
        batches.append(RosterEntry.select().count() - before)
        if len(batches) == 3:  # mid-import, between two batches: a student checks in from another thread
            worker = threading.Thread(target=lambda: checked_in.append(say("o_s1", "签到")))
            worker.start()
            worker.join(timeout=10)

    monkeypatch.setattr(roster, "transaction", measured)
    lines = "".join(f"2025{i:04d},学生{i},{i:06d}\n" for i in range(300))
    result = import_file(app, tmp_path, ("student_no,name,auth_code\n" + lines).encode(), name="big.csv")
    assert result.exit_code == 0 and "300 added" in result.output, result.output
    assert len(hashed_while) == 300 and not any(txn or lock for txn, lock in hashed_while)  # PBKDF2 held nothing
    assert held.count(True) == held.count(False) >= 7 or not is_sqlite()  # the hook saw every batch take and free it
    assert max(batches) <= 50 and sum(batches) == 300  # the school's row, then six batches of 50
    assert checked_in and "签到成功" in checked_in[0]  # answered mid-import, not after it


def test_a_stuck_sqlite_writer_yields_the_busy_reply_not_a_hang(app, say, teacher, monkeypatch):
    import fcntl
    import os
    import threading

    from bot import database

    if not is_sqlite():
        pytest.skip("the writer flock is SQLite's (PostgreSQL has lock_timeout)")
    monkeypatch.setattr(database, "WRITER_WAIT", 0.5, raising=False)
    stuck = os.open(db.obj.database + "-writer.lock", os.O_RDWR)
    fcntl.flock(stuck, fcntl.LOCK_EX)  # another process's writer, stuck inside its transaction
    answers = []
    try:
        for ask in (lambda: say("o_s1", "我的课堂"), lambda: app.test_client().get("/healthz")):
            worker = threading.Thread(target=lambda ask=ask: answers.append(ask()), daemon=True)
            worker.start()
            worker.join(timeout=5)
    finally:
        fcntl.flock(stuck, fcntl.LOCK_UN)
        os.close(stuck)
    assert len(answers) == 2, "a writer waited for the stuck lock without end"
    assert answers[0] == t("busy", "zh")
    assert answers[1].status_code == 503 and answers[1].get_json()["database"] == "timed out"
    assert say("o_s1", "我的课堂") != t("busy", "zh")  # the lock free again: answered
