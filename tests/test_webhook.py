"""The WeChat protocol: official vectors, forged and replayed requests, hostile bodies, retries."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import xmltodict
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.utils import to_text

from bot.clock import FrozenClock
from models import MODELS, InboundMessage, Membership, User
from tests.conftest import AES_KEY, ROOT, SHARED, build_app, simulator_for

# The official vectors live in shared/; a copy travels with the tests for clones without it.
_VECTORS_FILE = SHARED / "wechat" / "vectors.json"
if not _VECTORS_FILE.exists():
    _VECTORS_FILE = ROOT / "tests" / "fixtures" / "wechat_vectors.json"
VECTORS = json.loads(_VECTORS_FILE.read_text(encoding="utf-8"))


def rows() -> int:
    return sum(model.select().count() for model in MODELS)


def clock_at(epoch: str) -> FrozenClock:
    return FrozenClock(datetime.utcfromtimestamp(int(epoch)))


# --- official vectors --------------------------------------------------------------------------


def test_url_verification_vector(tmp_path):
    v = VECTORS["url_verification"]
    app = build_app(tmp_path, clock_at(v["timestamp"]), aes=False, vector_token=v["token"])
    query = {k: v[k] for k in ("signature", "timestamp", "nonce", "echostr")}
    response = app.test_client().get("/wechat", query_string=query)
    assert response.status_code == 200 and response.get_data(as_text=True) == v["echostr"]
    forged = app.test_client().get("/wechat", query_string={**query, "signature": "0" * 40})
    assert forged.status_code == 403


def test_plaintext_post_signature_vector(tmp_path):
    v = VECTORS["plaintext_post_signature"]
    app = build_app(tmp_path, clock_at(v["timestamp"]), aes=False, vector_token=v["token"])
    wx = simulator_for(app)
    body = wx.text_xml("o_vector", "帮助", msg_id=1).encode()
    query = {k: v[k] for k in ("signature", "timestamp", "nonce")}
    response = app.test_client().post("/wechat", query_string=query, data=body)
    assert response.status_code == 200
    assert "学生命令" in wx.read_reply(response.get_data())


def test_aes_encrypt_vector(monkeypatch):
    v = VECTORS["aes_encrypt"]
    key = __import__("base64").b64decode(v["encoding_aes_key"] + "=")
    monkeypatch.setattr(PrpCrypto, "get_random_string", lambda self: v["random16"])
    assert to_text(PrpCrypto(key).encrypt(v["plaintext"], v["app_id"])) == v["ciphertext"]
    assert to_text(PrpCrypto(key).decrypt(v["ciphertext"], v["app_id"])) == v["plaintext"]


def test_safe_mode_message_vector(tmp_path):
    v = VECTORS["safe_mode_text_message"]
    app = build_app(tmp_path, clock_at(v["timestamp"]), aes=True,
                    vector_token=v["token"],
                    wechat={"encoding_aes_key": v["encoding_aes_key"], "app_id": v["app_id"]})
    query = {"timestamp": v["timestamp"], "nonce": v["nonce"], "msg_signature": v["msg_signature"], "encrypt_type": "aes"}
    body = f"<xml><ToUserName><![CDATA[{v['to_user_name']}]]></ToUserName><Encrypt><![CDATA[{v['encrypt']}]]></Encrypt></xml>"
    response = app.test_client().post("/wechat", query_string=query, data=body)
    assert response.status_code == 200
    envelope = xmltodict.parse(response.get_data(as_text=True))["xml"]
    crypto = WeChatCrypto(v["token"], v["encoding_aes_key"], v["app_id"])
    decrypted = crypto.decrypt_message(envelope, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
    reply = xmltodict.parse(decrypted)["xml"]
    assert "did not understand “abcdteT”" in reply["Content"]  # the vector's text is not a command (ASCII: English)
    assert InboundMessage.get().key.endswith(f":{v['decrypted']['MsgId']}")  # msg:<sender>:<MsgId>


# --- forged, replayed and foreign requests: 403 and no row -------------------------------------


@pytest.fixture(params=["plain", "aes"])
def any_app(request, tmp_path, clock):
    return build_app(tmp_path, clock, aes=request.param == "aes")


def post(app, query, body):
    return app.test_client().post("/wechat", query_string=query, data=body)


def test_forged_signature_is_refused_and_leaves_no_trace(any_app):
    wx = simulator_for(any_app)
    query, body = wx.sign(wx.text_xml("o_intruder", "加入 123456"))
    key = "msg_signature" if "msg_signature" in query else "signature"
    assert post(any_app, {**query, key: "f" * 40}, body).status_code == 403
    assert post(any_app, {k: val for k, val in query.items() if k != key}, body).status_code == 403
    assert rows() == 0


def test_wrong_appid_is_refused_and_leaves_no_trace(tmp_path, clock):
    app = build_app(tmp_path, clock, aes=True)
    wx = simulator_for(app, app_id="wx_not_our_account")
    assert post(app, *wx.sign(wx.text_xml("o_intruder", "加入 123456"))).status_code == 403
    assert rows() == 0


def test_stale_timestamp_is_refused_and_leaves_no_trace(any_app, clock):
    wx = simulator_for(any_app)
    xml = wx.text_xml("o_intruder", "帮助")
    stale = str(wx.now() - 301)
    assert post(any_app, *wx.sign(xml, timestamp=stale)).status_code == 403
    assert post(any_app, *wx.sign(xml, timestamp=str(wx.now() + 301))).status_code == 403
    assert post(any_app, *wx.sign(xml, timestamp="soon")).status_code == 403
    assert rows() == 0
    assert post(any_app, *wx.sign(xml, timestamp=str(wx.now() - 299))).status_code == 200


def test_safe_mode_refuses_plaintext_requests(tmp_path, clock):
    app = build_app(tmp_path, clock, aes=True)
    plain = simulator_for(app)
    plain.crypto = None  # sign like a plaintext-mode account, with the right token
    assert post(app, *plain.sign(plain.text_xml("o_x", "帮助"))).status_code == 403
    assert rows() == 0


def test_get_verification_checks_signature_and_time(any_app):
    wx = simulator_for(any_app)
    query, _ = wx.sign("<xml/>")
    query = {k: query[k] for k in ("signature", "timestamp", "nonce")}
    assert any_app.test_client().get("/wechat", query_string={**query, "echostr": "42"}).get_data() == b"42"
    assert any_app.test_client().get("/wechat", query_string={**query, "nonce": "1", "echostr": "42"}).status_code == 403


# --- hostile bodies ------------------------------------------------------------------------------


def test_doctype_and_entities_are_rejected(any_app):
    wx = simulator_for(any_app)
    bomb = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
    xml = bomb + wx.text_xml("o_x", "&lol2;")
    assert post(any_app, *wx.sign(xml)).status_code == 400
    xxe = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + wx.text_xml("o_x", "&e;")
    assert post(any_app, *wx.sign(xxe)).status_code == 400
    assert rows() == 0


def test_oversized_body_is_rejected(any_app):
    wx = simulator_for(any_app)
    assert post(any_app, *wx.sign(wx.text_xml("o_x", "签" * 30000))).status_code == 413
    assert rows() == 0


@pytest.mark.parametrize("xml", ["<xml><ToUserName>", "not xml at all", "<xml></xml>",
                                 "<xml><MsgType>text</MsgType></xml>",
                                 "<xml><FromUserName><a>1</a></FromUserName><MsgType>text</MsgType></xml>"])
def test_unparseable_xml_is_400_and_stores_nothing(any_app, xml):
    wx = simulator_for(any_app)
    assert post(any_app, *wx.sign(xml)).status_code == 400
    assert rows() == 0


@pytest.mark.parametrize("kind,fields,expected", [
    ("image", "<PicUrl>http://x/y.jpg</PicUrl><MediaId>m</MediaId>", "图片"),
    ("voice", "<MediaId>m</MediaId><Format>amr</Format>", "语音"),
    ("location", "<Location_X>23.1</Location_X><Location_Y>113.3</Location_Y><Scale>20</Scale><Label>L</Label>", "位置"),
    ("link", "<Title>t</Title><Description>d</Description><Url>http://x</Url>", "链接"),
    ("hologram", "", "消息"),
])
def test_other_message_types_get_a_kind_reply(any_app, kind, fields, expected):
    wx = simulator_for(any_app)
    xml = (f"<xml><ToUserName>gh</ToUserName><FromUserName>o_x</FromUserName><CreateTime>{wx.now()}</CreateTime>"
           f"<MsgType>{kind}</MsgType>{fields}<MsgId>77</MsgId></xml>")
    reply = wx.deliver(xml)
    assert expected in reply and "帮助" in reply


def test_unknown_event_gets_a_kind_reply_and_known_silent_ones_get_success(any_app):
    wx = simulator_for(any_app)
    assert "帮助" in wx.send_event("o_x", "debug_demo")
    assert wx.send_event("o_x", "VIEW", "https://example.edu") == ""
    assert wx.send_event("o_x", "unsubscribe") == ""
    assert User.get(User.openid == "o_x").subscribed is False


def test_reply_escapes_cdata_terminator(any_app):
    wx = simulator_for(any_app)
    reply = wx.send_text("o_x", "x]]><evil/>")
    assert "x]]><evil/>" in reply


def test_long_replies_stay_under_2048_bytes(any_app, say):
    runner = any_app.test_cli_runner()
    runner.invoke(args=["make-teacher", "o_t"])
    wx = simulator_for(any_app)
    wx.send_text("o_t", "创建课堂 " + "很长的课堂名称" * 10)
    for i in range(30):  # previews: it takes many to overflow one reply
        wx.send_text("o_t", "发布公告 " + "这是一条很长的公告。" * 60 + str(i))
    wx.send_text("o_t", "进入 1")
    reply = wx.send_text("o_t", "公告")
    assert len(reply.encode("utf-8")) < 2048
    assert "还有" in reply
    long_unknown = wx.send_text("o_x", "啊" * 10000)
    assert len(long_unknown.encode("utf-8")) < 2048


# --- WeChat's retries: one effect, the same reply -----------------------------------------------


def test_same_msgid_three_times_has_one_effect_and_three_identical_replies(any_app, teacher):
    _, code = teacher
    wx = simulator_for(any_app)
    xml = wx.text_xml("o_student", f"加入 {code}", msg_id=6054768590064713728)
    replies = [wx.deliver(xml) for _ in range(3)]
    assert replies[0] == replies[1] == replies[2]
    assert "已加入" in replies[0]
    assert Membership.select().count() == 1
    assert InboundMessage.select().where(InboundMessage.key == "msg:o_student:6054768590064713728").count() == 1


def test_compatible_mode_body_is_decrypted(tmp_path, clock):
    app = build_app(tmp_path, clock, aes=True)
    wx = simulator_for(app)
    xml = wx.text_xml("o_x", "帮助")
    query, body = wx.sign(xml)
    encrypt = xmltodict.parse(body)["xml"]["Encrypt"]
    compatible = xml.replace("</xml>", f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
    response = post(app, query, compatible.encode())
    assert response.status_code == 200 and "学生命令" in wx.read_reply(response.get_data())


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json()["database"] == "ok"


def test_test_key_is_the_official_sample_key():
    assert AES_KEY == VECTORS["aes_encrypt"]["encoding_aes_key"]
