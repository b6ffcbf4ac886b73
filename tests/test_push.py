"""Pushes through a mock WeChat API: channels, the 48-hour rule, every error code, unread notes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bot.push import Pusher
from bot.wechat_api import WechatApi
from handlers.official_qr import QrRenewer
from handlers.qr import qr_content
from harness.mock_wechat import MockWechat
from models import ClassQr, Outbox, User, WechatState, db
from tests.conftest import Chat, build_app, simulator_for

CUSTOM, TEMPLATE = "/cgi-bin/message/custom/send", "/cgi-bin/message/template/send"
STUDENTS = [f"o_s{i}" for i in range(6)]


@pytest.fixture
def mock():
    with MockWechat() as server:
        yield server


def make_app(tmp_path, clock, mock, threads=4, templates=None, stable=True, secret="s3cret"):
    mock.stable_token = stable
    wechat = {"app_secret": secret, "api_base_url": mock.url, "templates": templates or {}}
    return build_app(tmp_path, clock, aes=False, wechat=wechat,
                     scheduler={"push_threads": threads, "push_per_second": 1000})


class World:
    """An app, a teacher with a class of STUDENTS, and the drain_outbox job."""

    def __init__(self, app, clock, say):
        self.app, self.clock, self.say = app, clock, say
        settings = app.extensions["ketang"].settings
        self.api = WechatApi(settings.wechat, clock) if settings.wechat.app_secret else None
        self.pusher = Pusher(settings, self.api)
        app.test_cli_runner().invoke(args=["make-teacher", "o_teacher"])
        self.code = re.search(r"课堂码：(\d{6})", say("o_teacher", "创建课堂 高等数学")).group(1)
        for openid in STUDENTS:
            say(openid, f"加入 {self.code}")

    def drain(self) -> int:
        return self.pusher(self.clock())

    def status(self, openid: str, kind: str = "announcement") -> str:
        rows = Outbox.select().join(User).where((User.openid == openid) & (Outbox.kind == kind))
        return rows.order_by(Outbox.id.desc()).get().status


@pytest.fixture
def world_factory(tmp_path, clock, mock):
    made = []

    def factory(**kwargs):
        app = make_app(tmp_path, clock, mock, **kwargs)
        world = World(app, clock, Chat(app))
        made.append(world)
        return world

    yield factory
    for world in made:
        world.pusher.close()
    db.close()


def test_an_announcement_reaches_every_student_once_by_customer_service(world_factory, mock):
    w = world_factory()
    assert "现在推送给 6 名学生" in w.say("o_teacher", "发布公告 下周一停课")
    assert w.drain() == 6
    assert mock.received("text") == {openid: 1 for openid in STUDENTS}
    assert all("下周一停课" in m["content"] for m in mock.sent)
    assert w.drain() == 0 and len(mock.sent) == 6  # nothing twice
    # one token, from stable_token, kept in the database for every thread
    assert mock.calls["/cgi-bin/stable_token"] == 1 and mock.calls["/cgi-bin/token"] == 0
    assert WechatState.get(WechatState.name.endswith("_access_token")).value == mock.stable_current


def test_lesson_and_activity_pushes_reach_students_in_their_window(world_factory, mock):
    w = world_factory()
    w.say("o_teacher", "上课")
    w.say("o_teacher", "开启签到 5")
    w.drain()
    texts = [m["content"] for m in mock.sent if m["touser"] == "o_s0"]
    assert any("开始上课" in t for t in texts) and any("开始签到" in t for t in texts)


@pytest.mark.parametrize("templates, expect", [({}, "unread"), ({"announcement": "TPL_A"}, "template")])
def test_the_48_hour_rule_and_the_template_fallback(world_factory, mock, clock, templates, expect):
    w = world_factory(templates=templates)
    clock.advance(hours=47)
    w.say("o_s0", "帮助")  # o_s0 wrote again; the others last wrote 47 h ago
    w.say("o_teacher", "发布公告 第一条")
    w.drain()
    assert mock.received("text") == {openid: 1 for openid in STUDENTS}  # still inside 48 h
    clock.advance(hours=2)  # 49 h since the others wrote; 2 h since o_s0 did
    w.say("o_teacher", "发布公告 第二条")
    w.drain()
    assert mock.received("text")["o_s0"] == 2 and mock.received("text")["o_s1"] == 1
    if expect == "template":
        assert mock.received("template") == {openid: 1 for openid in STUDENTS[1:]}
        template = next(m for m in mock.sent if m["type"] == "template")
        assert template["template_id"] == "TPL_A" and "第二条" in template["data"]["keyword1"]["value"]
        row = Outbox.select().join(User).where((User.openid == template["touser"]) & (Outbox.channel == "template")).get()
        assert row.msg_id == str(template["msgid"])
    else:
        assert mock.received("template") == {}
        assert w.status("o_s1") == "unread"
        assert "你有 1 条未读公告" in w.say("o_s1", "帮助")


def test_unread_pushes_ride_on_the_next_reply_until_read(world_factory, mock, clock):
    w = world_factory(secret="")  # no API configured: every announcement waits for the student
    w.say("o_teacher", "发布公告 带上课本")
    w.say("o_teacher", "发布公告 周五测验")
    w.drain()
    assert mock.calls == {}
    reply = w.say("o_s2", "我的课堂")
    assert reply.startswith("【我的课堂】") and reply.endswith("你有 2 条未读公告，发送「公告」查看。")
    assert "You have 2 unread" in w.say("o_s2", "classes")
    shown = w.say("o_s2", "公告")
    assert "未读公告 · 2 条" in shown and shown.index("带上课本") < shown.index("周五测验")
    assert "未读" not in w.say("o_s2", "帮助")  # read now
    assert "「高等数学」公告 · 共 2 条" in w.say("o_s2", "公告")  # the usual list again
    assert "未读公告" not in w.say("o_teacher", "帮助")


def test_activity_pushes_without_a_channel_are_skipped_not_piled_up(world_factory, mock, clock):
    w = world_factory()
    clock.advance(hours=49)
    w.say("o_teacher", "上课")
    w.drain()
    assert mock.sent == [] and w.status("o_s0", "lesson_started") == "skipped"
    assert "未读" not in w.say("o_s0", "帮助")


def test_a_lesson_notice_held_up_for_half_an_hour_is_not_sent_late(world_factory, mock, clock):
    w = world_factory()
    mock.fail(CUSTOM, -1, times=100)
    w.say("o_teacher", "上课")
    w.say("o_teacher", "发布公告 一")
    w.drain()
    clock.advance(minutes=31)
    mock.injected.clear()
    w.drain()
    assert w.status("o_s0", "lesson_started") == "skipped" and w.status("o_s0") == "sent"
    assert all("开始上课" not in m["content"] for m in mock.sent)


def test_activity_template_is_used_for_activity_pushes(world_factory, mock, clock):
    w = world_factory(templates={"activity": "TPL_ACT"})
    clock.advance(hours=49)
    w.say("o_teacher", "上课")
    w.drain()
    assert {m["template_id"] for m in mock.sent} == {"TPL_ACT"} and len(mock.sent) == 6


@pytest.mark.parametrize("code", [45015, 45047])
@pytest.mark.parametrize("templates", [{}, {"announcement": "TPL_A"}])
def test_out_of_window_and_over_count_fall_back(world_factory, mock, code, templates):
    w = world_factory(templates=templates)
    mock.fail(CUSTOM, code, openid="o_s3")
    w.say("o_teacher", "发布公告 换教室")
    w.drain()
    assert mock.received("text")["o_s3"] == 0 and mock.received("text")["o_s4"] == 1
    if templates:
        assert mock.received("template") == {"o_s3": 1}
    else:
        assert w.status("o_s3") == "unread" and mock.calls[CUSTOM] == 6


def test_43004_and_unsubscribe_stop_pushes_to_that_student(world_factory, mock):
    w = world_factory()
    mock.fail(CUSTOM, 43004, openid="o_s1")
    w.say.event("o_s2", "unsubscribe")
    w.say("o_teacher", "发布公告 一")
    w.drain()
    assert not User.get(User.openid == "o_s1").subscribed
    assert w.status("o_s1") == "dropped" and w.status("o_s2") == "dropped"
    calls = mock.calls[CUSTOM]
    w.say("o_teacher", "发布公告 二")
    w.drain()
    assert mock.calls[CUSTOM] == calls + 4  # o_s1 and o_s2 are never called again
    assert mock.received()["o_s1"] == 0 and mock.received()["o_s2"] == 0


@pytest.mark.parametrize("code", [40001, 40014, 42001])
def test_a_token_error_refreshes_once_and_retries_once(world_factory, mock, code):
    w = world_factory(threads=1)
    w.say("o_teacher", "发布公告 一")
    mock.fail(CUSTOM, code, openid="o_s0")
    w.drain()
    assert mock.received("text") == {openid: 1 for openid in STUDENTS}
    assert mock.calls["/cgi-bin/stable_token"] == 3  # first fetch, then a refresh that had to be forced
    assert WechatState.get(WechatState.name.endswith("_access_token")).value == mock.stable_current


def test_a_token_that_never_works_is_not_retried_forever(world_factory, mock, clock):
    w = world_factory(threads=1)
    mock.fail(CUSTOM, 40001, times=1000)
    w.say("o_teacher", "发布公告 一")
    w.drain()
    assert mock.calls[CUSTOM] == 2 * len(STUDENTS)  # one call and one retry each, then back off
    row = Outbox.get(Outbox.kind == "announcement")
    assert row.status == "pending" and row.attempts == 1 and row.next_try_at > clock()
    assert "40001" in row.last_error
    assert w.drain() == 0 and mock.calls[CUSTOM] == 2 * len(STUDENTS)  # not due yet


def test_system_busy_is_retried_with_back_off(world_factory, mock, clock):
    w = world_factory()
    mock.fail(CUSTOM, -1, openid="o_s5", times=2)
    w.say("o_teacher", "发布公告 一")
    w.drain()
    assert mock.received()["o_s5"] == 0 and w.status("o_s5") == "pending"
    clock.advance(seconds=10)
    w.drain()
    assert mock.received()["o_s5"] == 0  # second failure: waits 20 s now
    clock.advance(seconds=10)
    assert w.drain() == 0
    clock.advance(seconds=10)
    assert w.drain() == 1 and mock.received()["o_s5"] == 1 and w.status("o_s5") == "sent"


def test_daily_quota_stops_all_calls_until_much_later(world_factory, mock, clock):
    w = world_factory(threads=1)
    mock.fail(CUSTOM, 45009)
    w.say("o_teacher", "发布公告 一")
    assert w.drain() == 0
    assert mock.calls[CUSTOM] == 1  # stopped at the first 45009
    assert {row.status for row in Outbox.select()} == {"pending"}
    clock.advance(minutes=30)
    assert w.drain() == 0 and mock.calls[CUSTOM] == 1  # still paused (shared through the database)
    clock.advance(minutes=31)
    assert w.drain() == 6 and mock.received("text") == {openid: 1 for openid in STUDENTS}
    assert {row.attempts for row in Outbox.select()} == {1}


@pytest.mark.parametrize("code", [40164, 40125])  # IP not whitelisted, wrong secret
def test_no_token_stops_calling_and_loses_nothing(world_factory, mock, clock, code):
    w = world_factory()
    mock.fail("/cgi-bin/stable_token", code, times=100)
    w.say("o_teacher", "发布公告 一")
    assert w.drain() == 0
    assert mock.calls["/cgi-bin/stable_token"] == 1 and mock.calls[CUSTOM] == 0  # not once per student
    assert {(row.status, row.attempts) for row in Outbox.select()} == {("pending", 0)}
    mock.injected.clear()  # the administrator fixed it
    clock.advance(minutes=1)
    assert w.drain() == 6 and mock.received("text") == {openid: 1 for openid in STUDENTS}


def test_without_stable_token_the_plain_token_endpoint_is_used(world_factory, mock):
    w = world_factory(stable=False)
    w.say("o_teacher", "发布公告 一")
    assert w.drain() == 6
    assert mock.calls["/cgi-bin/token"] == 1 and mock.calls["/cgi-bin/stable_token"] == 1


def test_template_delivery_reports_update_the_push(world_factory, mock, clock):
    w = world_factory(templates={"announcement": "TPL_A"})
    clock.advance(hours=49)
    w.say("o_teacher", "发布公告 一")
    w.drain()
    sim = simulator_for(w.app)
    ids = {m["touser"]: m["msgid"] for m in mock.sent}

    def report(openid, status):
        xml = (f"<xml><ToUserName><![CDATA[gh_ketang]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
               f"<CreateTime>{sim.now()}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
               f"<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>{ids[openid]}</MsgID>"
               f"<Status><![CDATA[{status}]]></Status></xml>")
        return sim.deliver(xml)

    assert report("o_s0", "success") == ""
    assert report("o_s1", "failed:user block") == ""
    assert report("o_s2", "failed: system failed") == ""
    rows = {r.user.openid: r for r in Outbox.select(Outbox, User).join(User)}
    assert rows["o_s0"].delivery == "success" and rows["o_s0"].status == "sent"
    assert rows["o_s1"].status == "unread"  # blocked templates: the next reply tells the student
    assert rows["o_s2"].status == "pending"  # WeChat failed: sent again
    clock.advance(seconds=1)
    w.drain()
    assert mock.received("template")["o_s2"] == 2


def test_official_qr_codes_are_made_by_the_scheduler_and_renewed(world_factory, mock, clock):
    w = world_factory()
    assert "扫码后按页面提示" in w.say("o_teacher", "二维码")
    renew = QrRenewer(w.api)
    assert renew(clock()) == 1 and renew(clock()) == 0
    qr = ClassQr.get()
    assert qr.ticket.endswith(f"join_{w.code}") and qr.expires_at == clock() + timedelta(days=30)
    reply = w.say("o_teacher", "二维码")
    assert "公众号二维码" in reply
    link = re.search(r"(https://\S+\.png)", reply).group(1).replace("https://ketang.example.edu", "")
    assert w.app.test_client().get(link).data.startswith(b"\x89PNG")
    clock.advance(days=26)
    assert renew(clock()) == 0
    clock.advance(days=1, seconds=1)  # three days before it expires: renewed
    assert renew(clock()) == 1 and ClassQr.get().ticket != qr.ticket


def test_official_qr_png_encodes_the_wechat_link(world_factory, mock, clock):

    w = world_factory()
    kt = w.app.extensions["ketang"]
    assert qr_content(kt, w.code) == f"https://ketang.example.edu/join/{w.code}?k={kt.links.sign('join', w.code)}"
    QrRenewer(w.api)(clock())
    assert qr_content(kt, w.code) == ClassQr.get().url
    clock.advance(days=31)
    # expired and not renewed: our page again
    assert qr_content(kt, w.code).endswith(f"/join/{w.code}?k={kt.links.sign('join', w.code)}")


def test_the_per_minute_limit_waits_a_minute(world_factory, mock, clock):
    w = world_factory()
    mock.fail(CUSTOM, 45011, openid="o_s2")
    w.say("o_teacher", "发布公告 一")
    assert w.drain() == len(STUDENTS) - 1 and w.status("o_s2") == "pending"
    clock.advance(seconds=59)
    assert w.drain() == 0  # not before a minute, although the usual first back-off is 10 s
    clock.advance(seconds=1)
    assert w.drain() == 1 and mock.received()["o_s2"] == 1


def test_a_push_that_keeps_failing_is_given_up_and_kept_unread(world_factory, mock, clock):
    w = world_factory()
    mock.fail(CUSTOM, -1, openid="o_s3", times=100)
    w.say("o_teacher", "发布公告 一")
    for _ in range(12):  # more than MAX_ATTEMPTS, each after the longest back-off
        w.drain()
        clock.advance(minutes=31)
    assert mock.calls[CUSTOM] == len(STUDENTS) - 1 + 8 and w.status("o_s3") == "unread"
    assert "你有 1 条未读公告" in w.say("o_s3", "我的信息")


def test_a_roll_call_tells_the_teacher_who_cannot_be_notified(world_factory, mock, clock):
    w = world_factory()
    w.say("o_teacher", "上课")
    w.say("o_teacher", "开启签到 5")
    for openid in STUDENTS:
        w.say(openid, "签到")
    clock.advance(hours=47)  # the students wrote 47 h ago; o_s0 writes again now
    w.say("o_s0", "我的信息")
    clock.advance(hours=2)
    called = w.say("o_teacher", f"点名 {len(STUDENTS)}")
    warning = called.split("⚠", 1)[1]
    assert "48 小时内" in warning and "请当面点名" in warning
    names = {User.get(User.openid == o).display_name for o in STUDENTS}
    assert {n for n in names if n in warning} == names - {User.get(User.openid == "o_s0").display_name}
