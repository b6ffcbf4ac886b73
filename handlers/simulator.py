"""The web simulator: a teacher's and students' phones and the classroom screen in one page.

Everything a phone does goes through the real webhook (`POST /wechat`, signed and, in safe mode,
encrypted by bot/wxsim.py, deduplicated like any WeChat message), exactly like `flask --app app chat`.
With `[wechat] api_base_url = "<server>/simulator/api"` it also acts as the WeChat API for the
scheduler: customer-service and template messages become bubbles in the phones, QR codes are made.
It can speak as any user, so it is off unless the server is local (or `[simulator] enabled = "on"`),
and it answers only loopback clients with a loopback Host, never a request relayed by a proxy,
unless `allow_remote = true`.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, jsonify, request

from bot import wechat_side
from bot.catalogue import t
from bot.config import loopback_name as _loopback_name
from bot.config import simulator_on as enabled
from bot.database import is_sqlite, transaction
from bot.wxsim import WeChatSimulator
from handlers.menu import STUDENT_MENU, TEACHER_MENU
from models import SimMessage, User, WechatState

bp = Blueprint("simulator", __name__, url_prefix="/simulator")

PHONES = (("o_sim_teacher", "老师"), ("o_sim_student1", "学生 1"), ("o_sim_student2", "学生 2"))
OPENID = re.compile(r"o_sim_[a-z0-9_]{1,24}")
# What reverse proxies add (nginx, Apache, Caddy, HAProxy, CDNs): any of them means a client elsewhere.
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Server", "X-Real-IP",
                 "Via", "X-Client-IP", "True-Client-IP", "CF-Connecting-IP")
OFFICIAL_QR = re.compile(r"https?://weixin\.qq\.com/q/sim_(.{1,64})")  # the QR codes this API makes
WINDOW = timedelta(hours=48)
MENUS_KEY = "simulator_menus"  # WechatState row: the menus and tags this API holds (bot/wechat_side.py)
# What one phone may send: more than the longest announcement (2,000 characters plus 「发布公告 」), so the
# webhook and the handlers answer as they would a real phone; the webhook itself takes bodies up to 64 KB.
MAX_TEXT = 4000
PAGE = Path(__file__).with_name("simulator.html")


def permitted(settings) -> bool:
    """Whether this request may use the simulator (see the module docstring)."""
    if not enabled(settings):
        return False
    if settings.simulator.allow_remote:
        return True
    host = urlsplit("//" + request.host).hostname or ""  # a loopback Host also stops DNS rebinding
    proxied = any(h in request.headers for h in PROXY_HEADERS)
    return _loopback_name(request.remote_addr or "") and _loopback_name(host) and not proxied


@bp.before_request
def guard():
    kt = current_app.extensions["ketang"]
    if not permitted(kt.settings):
        abort(404)
    if request.method == "POST":
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc != request.host:
            abort(403)  # another site's page in the same browser (the scheduler's API calls send no Origin)
        if not request.is_json and not request.path.startswith("/simulator/api/"):
            abort(415)  # JSON only: a cross-site form cannot send it without a preflight


@bp.get("")
def page():
    return Response(PAGE.read_text(encoding="utf-8"), mimetype="text/html", headers={"Cache-Control": "no-store"})


@bp.get("/state")
def state():
    """The phones asked for (their role and menu) and every bubble after ?after=<id>."""
    after = request.args.get("after", "0")
    after = int(after) if after.isdigit() else 0
    wanted = [o for o in request.args.get("phones", "").split(",") if OPENID.fullmatch(o)] or [o for o, _ in PHONES]
    teachers = {u.openid for u in User.select(User.openid).where(User.openid.in_(wanted) & (User.role == "teacher"))}
    row = WechatState.get_or_none(WechatState.name == MENUS_KEY)
    held = json.loads(row.value) if row and row.value else None
    rows = (SimMessage.select().where((SimMessage.id > after) & SimMessage.openid.in_(wanted))
            .order_by(SimMessage.id).limit(500))
    screen = any(rule.rule == "/screen" for rule in current_app.url_map.iter_rules())
    return jsonify(
        phones=[{"openid": o, "teacher": o in teachers, "menu": _menu(held, o, o in teachers)} for o in wanted],
        messages=[{"id": m.id, "openid": m.openid, "origin": m.origin, "text": m.text} for m in rows],
        screen=screen,
    )


def _menu(held: dict | None, openid: str, teacher: bool) -> dict:
    """The menu this API holds for *openid* once `flask menu` made one; until then the definition, by role."""
    menu = wechat_side.menu_for(held, openid) if held and held["menu"] else None
    return {"button": menu["button"]} if menu else TEACHER_MENU if teacher else STUDENT_MENU


@bp.post("/send")
def send():
    """A phone's action through the real webhook: text, a photo, a voice message (with a transcription), click
    (a menu key), scan, follow, unfollow."""
    data = request.get_json(silent=True) or {}
    openid, action, value = data.get("openid"), data.get("action"), data.get("value", "")
    if not (isinstance(openid, str) and OPENID.fullmatch(openid)) or not isinstance(value, str):
        abort(400)
    if len(value) > MAX_TEXT:  # said in the phone; the page keeps what was typed
        return jsonify(error=t("sim_too_long", "zh", n=len(value), max=MAX_TEXT)), 400
    kt = current_app.extensions["ketang"]
    wechat = _wechat(current_app._get_current_object())
    if action == "text":
        shown, xml = value, wechat.text_xml(openid, value)
    elif action == "image":
        shown, xml = "[图片]", wechat.image_xml(openid)
    elif action == "voice":  # *value*: WeChat's transcription of it ("签到。"), empty when it made none
        shown, xml = f"[语音] {value}".rstrip(), wechat.voice_xml(openid, value)
    elif action == "click":
        shown, xml = f"[菜单] {value}", wechat.event_xml(openid, "CLICK", value)
    elif action == "scan":
        shown, xml = f"[扫码] {value}", _scan_xml(kt, wechat, openid, value)
    elif action == "follow":
        shown, xml = "[关注公众号]", wechat.event_xml(openid, "subscribe")
    elif action == "unfollow":
        shown, xml = "[取消关注]", wechat.event_xml(openid, "unsubscribe")
    else:
        abort(400)
    now = kt.clock()
    SimMessage.create(openid=openid, origin="user", text=shown, created_at=now)
    try:
        reply = wechat.deliver(xml)
    except RuntimeError as error:  # the webhook refused: show it, it is what WeChat would see
        reply = f"[{error}]"
    if reply:
        SimMessage.create(openid=openid, origin="reply", text=reply, created_at=kt.clock())
    return jsonify(reply=reply)


@bp.post("/teacher")
def make_teacher():
    """Make a phone a teacher, as `flask --app app make-teacher` would."""
    from bot.database import transaction
    from bot.dispatch import touch_user
    from handlers.common import make_teacher as promote

    openid = (request.get_json(silent=True) or {}).get("openid")
    if not (isinstance(openid, str) and OPENID.fullmatch(openid)):
        abort(400)
    kt = current_app.extensions["ketang"]
    with transaction():
        promote(touch_user(openid, kt.clock(), wrote=False), kt.clock())
    SimMessage.create(openid=openid, origin="reply", text="[管理员已将此账号设为教师（同 flask make-teacher）]",
                      created_at=kt.clock())
    return jsonify(ok=True)


def _scan_xml(kt, wechat, openid: str, content: str) -> str:
    """What WeChat sends when *content* is scanned: a SCAN for its own QR codes, else the menu scanner's event."""
    content = content.strip()
    ours = re.fullmatch(re.escape(kt.links.url("")) + r"/qr/([A-Za-z0-9_.-]+)\.png", content)
    if ours:  # a QR image Ketang linked: scan what it shows (the server knows; nothing is decoded)
        from handlers.qr import qr_content  # simulator: a class QR Ketang linked

        code = kt.links.value("qr", ours.group(1), kt.clock())
        content = qr_content(kt, code) if code else content
    official = OFFICIAL_QR.fullmatch(content)
    if official:
        return wechat.event_xml(openid, "SCAN", official.group(1))
    return wechat.scanner_xml(openid, content, key="scan_checkin")


def _wechat(app):
    """A WeChatSimulator posting in-process through the real /wechat view, on the address the page uses
    (so links in replies point where the browser can open them)."""
    return WeChatSimulator.in_process(app, base_url=request.host_url)


# --- the WeChat API, as the simulator plays it -------------------------------------------------------

def api_token(settings) -> str:
    wechat = settings.wechat
    return "SIM" + hashlib.sha256(f"{wechat.app_id}:{wechat.app_secret}:{wechat.token}".encode()).hexdigest()[:40]


@bp.route("/api/cgi-bin/<path:endpoint>", methods=["GET", "POST"])
def api(endpoint: str):
    kt = current_app.extensions["ketang"]
    wechat = kt.settings.wechat
    try:
        body = json.loads(request.get_data() or b"{}") if request.method == "POST" else {}
    except ValueError:
        return jsonify(errcode=47001, errmsg="data format error")
    body = body if isinstance(body, dict) else {}
    if endpoint in ("token", "stable_token"):
        given = body if endpoint == "stable_token" else request.args
        if given.get("appid") != wechat.app_id:
            return jsonify(errcode=40013, errmsg="invalid appid")
        if not wechat.app_secret or given.get("secret") != wechat.app_secret:  # no secret configured: no API at all
            return jsonify(errcode=40125, errmsg="invalid appsecret")
        return jsonify(access_token=api_token(kt.settings), expires_in=7200)
    if not wechat.app_secret or request.args.get("access_token") != api_token(kt.settings):
        return jsonify(errcode=40001, errmsg="invalid credential, access_token is invalid or not latest")
    now = kt.clock()
    if endpoint == "message/custom/send":
        openid = str(body.get("touser", ""))
        wrote = SimMessage.select().where((SimMessage.openid == openid) & (SimMessage.origin == "user")
                                          & (SimMessage.created_at > now - WINDOW)).exists()
        if not wrote:
            return jsonify(errcode=45015, errmsg="response out of time limit or subscription is canceled")
        SimMessage.create(openid=openid, origin="push", text=str((body.get("text") or {}).get("content", "")), created_at=now)
        return jsonify(errcode=0, errmsg="ok")
    if endpoint == "message/template/send":
        fields = " · ".join(str(v.get("value", "")) for v in (body.get("data") or {}).values() if isinstance(v, dict))
        row = SimMessage.create(openid=str(body.get("touser", "")), origin="push", text=f"【模板消息】{fields}", created_at=now)
        return jsonify(errcode=0, errmsg="ok", msgid=row.id)
    if endpoint == "qrcode/create":
        scene = str(((body.get("action_info") or {}).get("scene") or {}).get("scene_str", ""))[:64]
        ticket = f"sim_{scene}"
        return jsonify(ticket=ticket, expire_seconds=int(body.get("expire_seconds") or 60), url=f"http://weixin.qq.com/q/{ticket}")
    if "/cgi-bin/" + endpoint in wechat_side.MENU_PATHS:
        return jsonify(_menus("/cgi-bin/" + endpoint, body))
    return jsonify(errcode=48001, errmsg=f"api unauthorized: the simulator does not play {endpoint}")


def _menus(path: str, body: dict) -> dict:
    """A menu or tag call against the state kept in the database (every worker sees one state)."""
    with transaction():
        WechatState.insert(name=MENUS_KEY, value=json.dumps(wechat_side.new_state())).on_conflict_ignore().execute()
        query = WechatState.select().where(WechatState.name == MENUS_KEY)
        row = (query if is_sqlite() else query.for_update()).get()  # SQLite: the transaction holds the write lock
        state = json.loads(row.value)
        result = wechat_side.answer(state, path, body)
        WechatState.update(value=json.dumps(state, ensure_ascii=False)).where(WechatState.name == MENUS_KEY).execute()
    return result


