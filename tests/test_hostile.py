"""A hostile-input corpus through the webhook: refused requests change nothing, accepted ones get a
sensible reply, nothing ever gets a 500. Plus the guessing limits, through the webhook."""

from __future__ import annotations

import re

import pytest
import xmltodict

from bot.catalogue import t
from bot.webhook import sha1_signature
from models import MODELS, FailedAttempt, InboundMessage, Membership, Response
from tests.conftest import TOKEN, build_app, simulator_for


def rows() -> int:
    return sum(model.select().count() for model in MODELS)


@pytest.fixture(params=["plain", "aes"])
def hostile_app(request, tmp_path, clock):
    return build_app(tmp_path, clock, aes=request.param == "aes")


def post(app, query, body):
    return app.test_client().post("/wechat", query_string=query, data=body, content_type="text/xml")


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10))
    + "]>"
)
PREFIXES = {
    "billion laughs": BILLION_LAUGHS,
    "external entity": '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
    "parameter entity": '<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]>',
    "lower-case doctype": '<!doctype xml>',
    "spaced doctype": '<! DOCTYPE xml>',
    "bare entity": '<!ENTITY e "x">',
}


@pytest.mark.parametrize("name", PREFIXES)
def test_dtds_and_entities_are_refused_in_any_mode_and_change_nothing(hostile_app, name):
    wx = simulator_for(hostile_app)
    xml = PREFIXES[name] + wx.text_xml("o_x", "&lol9;" if "laughs" in name else "加入 123456")
    assert post(hostile_app, *wx.sign(xml)).status_code == 400
    assert rows() == 0


def truncated(wx):
    xml = wx.text_xml("o_x", "加入 123456")
    return xml[: len(xml) // 2]


MALFORMED = {
    "truncated message": lambda wx: wx.sign(truncated(wx)),
    "control character": lambda wx: wx.sign(wx.text_xml("o_x", "签到\x01\x02")),
    "openid too long": lambda wx: wx.sign(wx.text_xml("o_" + "x" * 100, "帮助")),
    "two contents": lambda wx: wx.sign(wx.text_xml("o_x", "帮助").replace("</xml>", "<Content>x</Content></xml>")),
    "nested content": lambda wx: wx.sign(wx.text_xml("o_x", "帮助").replace("<![CDATA[帮助]]>", "<b>帮助</b>")),
    "empty body": lambda wx: (wx.sign("<xml/>")[0], b""),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_messages_are_400_and_change_nothing(hostile_app, name):
    wx = simulator_for(hostile_app)
    query, body = MALFORMED[name](wx)
    assert post(hostile_app, query, body).status_code == 400
    assert rows() == 0


def test_invalid_utf8_is_refused_in_either_mode(hostile_app):
    wx = simulator_for(hostile_app)
    query, body = wx.sign(wx.text_xml("o_x", "帮助"))
    assert post(hostile_app, query, body.replace(b"<xml>", b"<xml>\xff\xfe", 1)).status_code == 400
    assert post(hostile_app, query, b"\xc3\x28" + body).status_code == 400
    assert rows() == 0


def test_body_cut_off_in_transit_is_refused(hostile_app):
    wx = simulator_for(hostile_app)
    query, body = wx.sign(wx.text_xml("o_x", "加入 123456"))
    assert post(hostile_app, query, body[: len(body) // 2]).status_code in (400, 403)
    assert rows() == 0


def test_safe_mode_refuses_a_signed_ciphertext_that_is_not_one(tmp_path, clock):
    app = build_app(tmp_path, clock, aes=True)
    wx = simulator_for(app)
    query, _ = wx.sign(wx.text_xml("o_x", "帮助"))
    for encrypt in ("!!!not-base64!!!", "QUJD", "A" * 64):
        signed = {**query, "msg_signature": sha1_signature(TOKEN, query["timestamp"], query["nonce"], encrypt)}
        body = f"<xml><ToUserName>gh</ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode()
        assert post(app, signed, body).status_code == 400
    nested = b"<xml><Encrypt><a>1</a></Encrypt></xml>"
    assert post(app, query, nested).status_code == 400
    assert rows() == 0


def test_huge_msgid_is_refused_not_a_busy_reply(hostile_app):
    wx = simulator_for(hostile_app)
    for msg_id in ("9" * 200, "12abc", "-1"):
        xml = wx.text_xml("o_x", "帮助").rsplit("<MsgId>", 1)[0] + f"<MsgId>{msg_id}</MsgId></xml>"
        assert post(hostile_app, *wx.sign(xml)).status_code == 400
    assert rows() == 0


ODD_TEXTS = [
    "", " ", "\t\n", "啊" * 10000, "签到" * 5000, "👍", "签到 👍🏽", "👨‍👩‍👧‍👦" * 50, "\u202e到签", "签\u200b到",
    "加入 123456'; DROP TABLE user; --", "' OR 1=1 --", "签到 1' OR '1'='1", "答 B\"; DELETE FROM response",
    "<script>alert(1)</script>", "]]><xml><Content>x</Content></xml>", "&amp;&lt;&#0;", "{name}{0}%s%n{{7*7}}",
    "发布公告 {text}", "创建课堂 </Content>", "加入\u3000１２３４５６" + "\u0301" * 20, "\U0010ffff", "\ufeff帮助",
]


@pytest.mark.parametrize("text", ODD_TEXTS, ids=range(len(ODD_TEXTS)))
def test_odd_texts_get_a_sensible_reply(hostile_app, text):
    wx = simulator_for(hostile_app)
    query, body = wx.sign(wx.text_xml("o_odd", text))
    response = post(hostile_app, query, body)
    assert response.status_code == 200
    reply = wx.read_reply(response.get_data())
    assert reply and reply != t("busy", "zh") and len(reply.encode("utf-8")) < 2048
    assert any(word in reply for word in ("帮助", "用法", "教师", "课堂", "help")), reply  # help, usage or a role hint
    assert InboundMessage.select().count() == 1


def test_texts_that_look_like_sql_are_stored_as_text(hostile_app):
    hostile_app.test_cli_runner().invoke(args=["make-teacher", "o_t"])
    wx = simulator_for(hostile_app)
    name = "x'); DROP TABLE classroom; --"
    assert f"「{name}」" in wx.send_text("o_t", f"创建课堂 {name}")
    assert name in wx.send_text("o_t", "我的课堂")


# --- guessing limits, through the webhook --------------------------------------------------------


def test_join_code_guessing_is_limited_per_user_per_hour(hostile_app, teacher, clock):
    _, code = teacher
    wx = simulator_for(hostile_app)
    wrong = [c for c in ("000000", "111111", "222222") if c != code][0]
    for _ in range(10):
        assert "没有课堂码为" in wx.send_text("o_guesser", f"加入 {wrong}")
    assert FailedAttempt.select().count() == 10
    assert "尝试次数太多" in wx.send_text("o_guesser", f"加入 {code}")  # even the right code waits
    assert "已加入" in wx.send_text("o_other", f"加入 {code}")  # other students are not affected
    clock.advance(minutes=61)
    assert "已加入" in wx.send_text("o_guesser", f"加入 {code}")
    assert Membership.select().count() == 2


def test_checkin_code_guessing_is_limited_per_user_per_checkin(hostile_app, teacher):
    openid, code = teacher
    wx = simulator_for(hostile_app)
    for student in ("o_guesser", "o_honest"):
        wx.send_text(student, f"加入 {code}")
    wx.send_text(openid, "上课")
    passcode = re.search(r"签到码：(\d{4})", wx.send_text(openid, "开启签到 5 口令")).group(1)
    wrong = "0000" if passcode != "0000" else "1111"
    answers = [wx.send_text("o_guesser", f"签到 {wrong}") for _ in range(5)]
    assert "还可以再试 4 次" in answers[0] and "锁定" in answers[-1]
    assert "锁定" in wx.send_text("o_guesser", f"签到 {passcode}")
    assert "签到成功" in wx.send_text("o_honest", f"签到 {passcode}")
    assert [r.user.openid for r in Response.select()] == ["o_honest"]


def test_xml_reply_is_well_formed_for_hostile_text(hostile_app):
    wx = simulator_for(hostile_app)
    query, body = wx.sign(wx.text_xml("o_x", "]]><![CDATA[<evil/>]]>"))
    response = post(hostile_app, query, body)
    assert response.status_code == 200
    xmltodict.parse(response.get_data())  # parses: the CDATA terminator was escaped
    assert "<evil/>" in wx.read_reply(response.get_data())
