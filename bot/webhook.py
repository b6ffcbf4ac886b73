"""The WeChat endpoint: verify, decrypt, parse, dedupe, dispatch, reply (encrypted when asked)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re

import xmltodict
from flask import Blueprint, Response, abort, current_app, request
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply

from bot import health
from bot.dispatch import Inbound

log = logging.getLogger("ketang.webhook")
bp = Blueprint("wechat", __name__)

MAX_BODY = 64 * 1024
DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
MSG_ID = re.compile(r"[0-9]{1,32}")


def sha1_signature(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the sorted parts concatenated."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def _signed(token: str, signature: str | None, *parts: str) -> bool:
    if not signature or not signature.isascii():  # compare_digest refuses non-ASCII text with a TypeError (a 500)
        return False
    return hmac.compare_digest(sha1_signature(token, *parts), signature.lower())


def _fresh(timestamp: str, now_epoch: int, skew: int, signed: bool) -> bool:
    """Whether *timestamp* is within *skew* of our clock; a *signed* one's skew is kept for /healthz."""
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return False
    if signed:
        health.saw_signed(int(timestamp), now_epoch)
    return skew == 0 or abs(int(timestamp) - now_epoch) <= skew


def escape_cdata(text: str) -> str:
    """Make *text* safe inside <![CDATA[...]]> (wechatpy does not escape `]]>`)."""
    return text.replace("]]>", "]]]]><![CDATA[>")


@bp.get("/wechat")
def verify():
    """Server verification: echo `echostr` when the signature is good."""
    kt = current_app.extensions["ketang"]
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    if not _signed(kt.settings.wechat.token, args.get("signature"), timestamp, nonce):
        abort(403)
    if not _fresh(timestamp, kt.epoch(), kt.settings.wechat.max_clock_skew_seconds, signed=True):
        abort(403)
    return Response(args.get("echostr", ""), mimetype="text/plain")


@bp.post("/wechat")
def receive():
    """A message or event: reply within WeChat's 5 s, never with a 5xx."""
    kt = current_app.extensions["ketang"]
    wechat = kt.settings.wechat
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    encrypted = args.get("encrypt_type", "raw").lower() == "aes"
    if encrypted != wechat.safe_mode:
        abort(403)  # safe mode refuses plaintext (its signature does not cover the body), and vice versa
    signed = not encrypted or "signature" in args
    if signed and not _signed(wechat.token, args.get("signature"), timestamp, nonce):
        abort(403)
    if not _fresh(timestamp, kt.epoch(), wechat.max_clock_skew_seconds, signed):
        abort(403)
    body = request.get_data(cache=False)
    if len(body) >= MAX_BODY:
        abort(413)  # also catches chunked bodies that Werkzeug silently cut at the limit
    if DTD.search(body):
        abort(400)
    xml = _decrypt(kt.crypto, body, args.get("msg_signature", ""), timestamp, nonce) if encrypted else body
    message, inbound = _parse(xml)
    reply = kt.dispatcher.handle(inbound)
    if not reply:
        return Response("success", mimetype="text/plain")
    out = TextReply(message=message, content=escape_cdata(reply), time=kt.epoch()).render()
    if encrypted:
        out = kt.crypto.encrypt_message(out, nonce, str(kt.epoch()))
    return Response(out, mimetype="application/xml")


def _decrypt(crypto: WeChatCrypto, body: bytes, msg_signature: str, timestamp: str, nonce: str) -> bytes:
    """Return the plaintext XML of a safe-mode body; 403 on a bad signature or appid."""
    try:
        envelope = xmltodict.parse(body)["xml"]
        encrypt = envelope["Encrypt"]
        if not isinstance(encrypt, str):
            raise ValueError("Encrypt is not text")
    except Exception:
        abort(400)
    if not msg_signature:
        abort(403)
    try:
        plain = crypto.decrypt_message({"Encrypt": encrypt}, msg_signature, timestamp, nonce)
    except (InvalidSignatureException, InvalidAppIdException):
        abort(403)
    except Exception:
        abort(400)  # signed by someone holding the token, but not a valid ciphertext
    plain = plain.encode("utf-8") if isinstance(plain, str) else plain
    if DTD.search(plain):
        abort(400)
    return plain


FIELDS = ("FromUserName", "ToUserName", "CreateTime", "Content", "Event", "EventKey", "MsgId", "MsgID", "Status",
          "Recognition")
"""The message's fields Ketang reads: each must be text when present (a nested element is not a WeChat message)."""


def _parse(xml: bytes):
    """Parse message XML into (wechatpy message, Inbound); 400 when it is not a WeChat message."""
    try:
        message = parse_message(xml.decode("utf-8"))
        fields = _fields(message._data)
    except Exception:
        abort(400)
    return message, _inbound(fields, _scanned(message._data))


def _fields(data: dict) -> dict[str, str]:
    """FIELDS of *data* as text ('' when absent); ValueError when the shape is not WeChat's."""
    fields = {name: data.get(name) or "" for name in FIELDS}
    fields["MsgType"] = str(data.get("MsgType", "")).lower()
    if not all(isinstance(value, str) for value in fields.values()) or not 0 < len(fields["FromUserName"]) <= 64:
        raise ValueError("unexpected XML shape")
    if fields["MsgId"] and not MSG_ID.fullmatch(fields["MsgId"]):
        # WeChat's MsgId is a 64-bit number; a longer one would overflow the dedupe key
        # (a DataError on PostgreSQL, so every retry got the busy reply).
        raise ValueError("MsgId is not a number")
    return fields


def _inbound(fields: dict[str, str], scanned: str) -> Inbound:
    """What the dispatcher needs of a checked message; *scanned*: what a menu scanner read."""
    kind = fields["MsgType"]
    event = fields["Event"].lower() if kind == "event" else ""
    created = fields["CreateTime"]
    key = _dedupe_key(fields, kind, event, scanned)
    text = fields["Content"] if kind == "text" else ""
    if kind == "voice" and fields["Recognition"].strip():  # its transcription ("签到。"): answered as typed text
        kind, text = "text", fields["Recognition"]
    return Inbound(openid=fields["FromUserName"], key=key, kind=kind if kind in KINDS else "unknown", text=text,
                   event=event, event_key=fields["EventKey"], msg_id=fields["MsgID"], status=fields["Status"],
                   created=int(created) if created.isascii() and created.isdigit() and len(created) < 12 else 0,
                   scan_result=scanned)


def _dedupe_key(fields: dict[str, str], kind: str, event: str, scanned: str) -> str:
    """"msg:<openid>:<MsgId>" for a message; "evt:<openid>:<CreateTime>:<event>:<key>" for an event (and a
    message without MsgId); two different QR codes read by the menu's scanner in one second are two events.
    The sender is part of every key, so another account reusing a MsgId never gets someone else's reply."""
    if fields["MsgId"] and kind != "event":
        return f"msg:{fields['FromUserName']}:{fields['MsgId']}"
    key = f"evt:{fields['FromUserName']}:{fields['CreateTime']}:{event or kind}:{fields['EventKey']}"[:160]
    if scanned:
        key = key[:147] + ":" + hashlib.sha1(scanned.encode("utf-8")).hexdigest()[:12]
    return key


def _scanned(data: dict) -> str:
    """ScanCodeInfo/ScanResult of a menu scanner event ('' when absent or not text)."""
    info = data.get("ScanCodeInfo")
    result = info.get("ScanResult") if isinstance(info, dict) else None
    return result if isinstance(result, str) else ""


KINDS = {"text", "event", "image", "voice", "video", "shortvideo", "location", "link"}
