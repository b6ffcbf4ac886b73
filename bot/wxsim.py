"""The WeChat server's side of the protocol: build, sign and encrypt messages; read replies.

Used by `flask --app app chat` and by the tests, so both go through the real webhook path.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from collections.abc import Callable

import xmltodict
from wechatpy.crypto import WeChatCrypto

from bot.config import Settings
from bot.webhook import escape_cdata, sha1_signature

Post = Callable[[dict, bytes], tuple[int, bytes]]


def _cdata(value: str) -> str:
    return f"<![CDATA[{escape_cdata(value)}]]>"


class WeChatSimulator:
    """Sends what WeChat would send to the webhook, in the mode the settings choose."""

    _ids = itertools.count(int(time.time() * 1000) % 10**12 * 1000)

    def __init__(self, settings: Settings, post: Post, now: Callable[[], int] = lambda: int(time.time()),
                 account: str = "gh_ketang", app_id: str | None = None):
        self.settings = settings
        self.post = post
        self.now = now
        self.account = account
        wechat = settings.wechat
        self.crypto = WeChatCrypto(wechat.token, wechat.encoding_aes_key, app_id or wechat.app_id) if wechat.safe_mode else None

    @classmethod
    def in_process(cls, app, base_url: str | None = None, **kwargs) -> WeChatSimulator:
        """A simulator posting to *app*'s real /wechat view through Flask's test client (no socket), on the app's
        clock; *base_url*: the address the request arrives on (links in replies follow it)."""
        client, kt = app.test_client(), app.extensions["ketang"]
        where = {"base_url": base_url} if base_url else {}

        def post(query: dict, body: bytes) -> tuple[int, bytes]:
            response = client.post("/wechat", query_string=query, data=body, content_type="text/xml", **where)
            return response.status_code, response.get_data()

        return cls(kt.settings, post, now=kt.epoch, **kwargs)

    def text_xml(self, openid: str, content: str, msg_id: int | None = None, create_time: int | None = None) -> str:
        """A text message; *create_time*: when WeChat received it (a retry or a slow queue delivers it later)."""
        msg_id = next(self._ids) if msg_id is None else msg_id
        return (
            f"<xml><ToUserName>{_cdata(self.account)}</ToUserName><FromUserName>{_cdata(openid)}</FromUserName>"
            f"<CreateTime>{create_time or self.now()}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content>{_cdata(content)}</Content><MsgId>{msg_id}</MsgId></xml>"
        )

    def event_xml(self, openid: str, event: str, key: str | None = None, create_time: int | None = None) -> str:
        key_xml = f"<EventKey>{_cdata(key)}</EventKey><Ticket><![CDATA[t]]></Ticket>" if key is not None else ""
        return (
            f"<xml><ToUserName>{_cdata(self.account)}</ToUserName><FromUserName>{_cdata(openid)}</FromUserName>"
            f"<CreateTime>{create_time or self.now()}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event>{_cdata(event)}</Event>{key_xml}</xml>"
        )

    def image_xml(self, openid: str, msg_id: int | None = None) -> str:
        """A photo, as WeChat sends it (a link to the picture and its media id)."""
        msg_id = next(self._ids) if msg_id is None else msg_id
        return (
            f"<xml><ToUserName>{_cdata(self.account)}</ToUserName><FromUserName>{_cdata(openid)}</FromUserName>"
            f"<CreateTime>{self.now()}</CreateTime><MsgType><![CDATA[image]]></MsgType>"
            f"<PicUrl><![CDATA[http://mmbiz.qpic.cn/sim.jpg]]></PicUrl><MediaId><![CDATA[sim_media_{msg_id}]]></MediaId>"
            f"<MsgId>{msg_id}</MsgId></xml>"
        )

    def voice_xml(self, openid: str, recognition: str = "", msg_id: int | None = None) -> str:
        """A voice message; *recognition*: WeChat's transcription of it (empty when it made none)."""
        msg_id = next(self._ids) if msg_id is None else msg_id
        return (
            f"<xml><ToUserName>{_cdata(self.account)}</ToUserName><FromUserName>{_cdata(openid)}</FromUserName>"
            f"<CreateTime>{self.now()}</CreateTime><MsgType><![CDATA[voice]]></MsgType>"
            f"<MediaId><![CDATA[sim_media_{msg_id}]]></MediaId><Format><![CDATA[amr]]></Format>"
            f"<Recognition>{_cdata(recognition)}</Recognition><MsgId>{msg_id}</MsgId></xml>"
        )

    def scanner_xml(self, openid: str, result: str, key: str = "scan_checkin", event: str = "scancode_waitmsg") -> str:
        """What a menu scanner button sends: the button's key and what the QR holds."""
        return (
            f"<xml><ToUserName>{_cdata(self.account)}</ToUserName><FromUserName>{_cdata(openid)}</FromUserName>"
            f"<CreateTime>{self.now()}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event>{_cdata(event)}</Event><EventKey>{_cdata(key)}</EventKey>"
            f"<ScanCodeInfo><ScanType><![CDATA[qrcode]]></ScanType><ScanResult>{_cdata(result)}</ScanResult></ScanCodeInfo></xml>"
        )

    def sign(self, xml: str, timestamp: str | None = None, nonce: str | None = None) -> tuple[dict, bytes]:
        """Return (query, body) as WeChat would send *xml* in the configured mode."""
        timestamp = timestamp or str(self.now())
        nonce = nonce or str(secrets.randbelow(10**9))
        token = self.settings.wechat.token
        query = {"timestamp": timestamp, "nonce": nonce, "signature": sha1_signature(token, timestamp, nonce),
                 "openid": _field(xml, "FromUserName")}
        if self.crypto is None:
            return query, xml.encode("utf-8")
        envelope = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, timestamp))["xml"]
        query.update(encrypt_type="aes", msg_signature=envelope["MsgSignature"])
        body = f"<xml><ToUserName>{_cdata(self.account)}</ToUserName><Encrypt>{_cdata(envelope['Encrypt'])}</Encrypt></xml>"
        return query, body.encode("utf-8")

    def read_reply(self, body: bytes) -> str:
        """Return the text of a reply ('' for `success`), decrypting and checking it in safe mode."""
        text = body.decode("utf-8")
        if text in ("", "success"):
            return ""
        if self.crypto is not None:
            envelope = xmltodict.parse(text)["xml"]
            text = self.crypto.decrypt_message(envelope, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
        reply = xmltodict.parse(text)["xml"]
        return reply.get("Content") or ""

    def deliver(self, xml: str) -> str:
        """Sign and post *xml*; return the reply text; raise on a non-200 answer."""
        status, body = self.post(*self.sign(xml))
        if status != 200:
            raise RuntimeError(f"webhook answered HTTP {status}")
        return self.read_reply(body)

    def send_text(self, openid: str, content: str, msg_id: int | None = None) -> str:
        return self.deliver(self.text_xml(openid, content, msg_id))

    def send_event(self, openid: str, event: str, key: str | None = None) -> str:
        return self.deliver(self.event_xml(openid, event, key))

    def send_scan(self, openid: str, result: str, key: str = "scan_checkin") -> str:
        return self.deliver(self.scanner_xml(openid, result, key))


def _field(xml: str, name: str) -> str:
    found = re.search(rf"<{name}>(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?</{name}>", xml, re.S)
    return found.group(1) if found else ""
