"""The screen's HTTP side: the page, a pairing code, the polled state (ETag, 304 before any rendering),
and the page a check-in link QR opens. Read-only: nothing here checks in, answers or reveals a future code."""

from __future__ import annotations

import re

import qrcode
from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from markupsafe import Markup
from qrcode.image.svg import SvgPathImage

from bot.clock import epoch
from bot.database import is_sqlite
from handlers import scope
from handlers.attendance import lesson_checkin, sheet_for
from handlers.grading import is_right, shown_key
from handlers.qr import qr_content
from handlers.results import tally
from handlers.screen import rotation
from handlers.screen.pairing import CODE_TTL, digest, network, new_screen, rekey, second_poller
from models import (
    CHECKIN,
    DISCUSSION,
    LATE,
    PRESENT,
    QUIZ,
    Activity,
    Announcement,
    CheckinQr,
    LostSignal,
    Post,
    RollCall,
    Screen,
    db,
)
from models import (
    Response as Answer,
)

bp = Blueprint("screen", __name__, template_folder="templates", static_folder="static", static_url_path="/screen/static")

HIDDEN_POLL_MS, VISIBLE_POLL_MS = 30000, 1000
SECRET = re.compile(r"[A-Za-z0-9_-]{20,64}")


def svg_qr(data: str) -> Markup:
    """*data* as an inline SVG QR code, sized by CSS (crisp at any size)."""
    svg = qrcode.make(data, image_factory=SvgPathImage, border=2).to_string(encoding="unicode")
    return Markup(re.sub(r'^<svg width="[^"]*" height="[^"]*"', '<svg class="qr" shape-rendering="crispEdges"', svg))


def svg_bars(rows: list[tuple[str, int, bool]], quiz: bool) -> Markup:
    """One horizontal bar per option, the right ones marked: server-rendered, no chart library."""
    top, height = max([n for _k, n, _r in rows] + [1]), 90
    parts = []
    for i, (label, n, right) in enumerate(rows[:8]):
        y, width = i * height, round(700 * n / top)
        colour = "#2e9d57" if right and quiz else "#3b6fd8"
        mark = " ✓" if right and quiz else ""
        parts.append(f'<text x="0" y="{y + 58}" class="opt">{_x(label[:6])}</text>'
                     f'<rect x="170" y="{y + 12}" width="{max(width, 4)}" height="{height - 24}" fill="{colour}" rx="6"/>'
                     f'<text x="{180 + max(width, 4)}" y="{y + 58}" class="num">{n}{mark}</text>')
    total = height * max(len(rows[:8]), 1)
    return Markup(f'<svg class="bars" viewBox="0 0 1000 {total}" role="img">{"".join(parts)}</svg>')


def _x(text: str) -> str:
    return str(Markup.escape(text))


@bp.get("/screen")
def page():
    """The page the classroom PC opens: one short address, relative URLs, so http and https both work."""
    return Response(render_template("screen/page.html"), headers={"Cache-Control": "no-store"})


@bp.post("/screen/new")
def new():
    """A fresh 投屏码 for this browser, and the secret it polls with (never shown, never in a URL).
    Only this server's own page may ask (a cross-site POST is refused before the database is touched)."""
    kt = current_app.extensions["ketang"]
    if not same_origin(kt):
        return jsonify(error="cross-site request refused: open /screen on this server"), 403
    made = new_screen(client_address(), kt.clock())
    if made is None:
        return jsonify(error="too many screens from this address or network; wait a few minutes"), 429
    secret, code = made
    return jsonify(secret=secret, code=code, expires_in=int(CODE_TTL.total_seconds()))


def same_origin(kt) -> bool:
    """Whether the browser says this POST comes from a page of this server: Sec-Fetch-Site, else Origin (a
    browser sends one of them with every cross-site POST; a client without either is no browser to forge for)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("Origin")
    if origin is None:  # an old browser: a Referer from elsewhere is refused
        referer = request.headers.get("Referer")
        return referer is None or _ours(kt, referer)
    return _ours(kt, origin)


def _ours(kt, url: str) -> bool:
    host = url.split("://", 1)[-1].split("/", 1)[0].lower()
    public = kt.settings.server.public_url.split("://", 1)[-1].split("/", 1)[0].lower()
    return bool(host) and host in (request.host.lower(), public)


def client_address(environ=None) -> str:
    """The classroom PC's address: nginx's X-Real-IP when the request came through it on loopback."""
    environ = request.environ if environ is None else environ
    address, real_ip = environ.get("REMOTE_ADDR") or "?", environ.get("HTTP_X_REAL_IP")
    if address in ("127.0.0.1", "::1") and real_ip:
        return real_ip[:64]
    return address


@bp.get("/screen/state")
def state():
    """What the screen shows now. The ETag is the screen's version plus the rotation slot: unchanged → 304."""
    kt = current_app.extensions["ketang"]
    secret = request.headers.get("X-Screen", "")
    if not SECRET.fullmatch(secret):
        abort(404)
    now = kt.clock()
    found = current_etag(kt, secret, now)
    if found is None:
        abort(404)
    screen_id, etag, net, due, told = found
    here = network(client_address())
    if net and here != net:  # the secret, copied, polled from another network: nothing shown, the teacher told
        if not told:
            second_poller(screen_id, here, now)
        abort(404)
    headers = {"ETag": etag, "Cache-Control": "no-cache, private"}
    if due:  # just paired: a new secret for this page, the old one dies
        fresh = rekey(screen_id, secret, now)
        if fresh is None:
            abort(404)
        headers["X-Screen-Secret"] = fresh
    elif request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers=headers)
    html = render(kt, Screen.get_by_id(screen_id), now)
    return Response(html, mimetype="text/html", headers=headers)


def current_etag(kt, secret: str, now) -> tuple[int, str, str, bool, bool] | None:
    """(screen id, ETag, network, due for a new secret, nobody to tell of another network's poll: the teacher
    was told, or it is not on) for the browser holding *secret*: one indexed read of a few columns, no model."""
    table = Screen._meta.table_name
    sql = (f"SELECT id, version, net, paired_at IS NOT NULL AND keyed_at IS NULL,"
           f" warned_at IS NOT NULL OR paired_at IS NULL OR ended_at IS NOT NULL"
           f" FROM {table} WHERE token_hash = {db.param}")
    row = db.execute_sql(sql, (digest(secret),)).fetchone()
    if not row:
        return None
    return row[0], f'"{row[0]}.{row[1]}.{rotation.slot_at(kt.settings, now)}"', row[2], bool(row[3]), bool(row[4])


class NotModified:
    """WSGI middleware: answer an unchanged screen's poll with 304 before Flask builds a request at all.

    Hundreds of projectors poll once a second; almost every poll is unchanged, so this path is kept to a
    header check and one indexed read. Anything else (no ETag, changed, unknown) goes on to the blueprint.
    """

    def __init__(self, wsgi_app, kt):
        self.wsgi_app, self.kt = wsgi_app, kt

    def __call__(self, environ, start_response):
        match = environ.get("HTTP_IF_NONE_MATCH")
        if match and environ.get("PATH_INFO") == "/screen/state" and environ.get("REQUEST_METHOD") == "GET":
            secret = environ.get("HTTP_X_SCREEN", "")
            if SECRET.fullmatch(secret) and self._unchanged(secret, match, environ):
                start_response("304 NOT MODIFIED", [("ETag", match), ("Cache-Control", "no-cache, private")])
                return []
        return self.wsgi_app(environ, start_response)

    def _unchanged(self, secret: str, match: str, environ) -> bool:
        try:
            db.connect(reuse_if_open=True)
            found = current_etag(self.kt, secret, self.kt.clock())
        except Exception:  # let the blueprint answer (and log) whatever went wrong
            return False
        finally:
            if not is_sqlite() and not db.is_closed():
                db.close()  # back to the pool, as after a request
        if found is None or found[1] != match or found[3]:
            return False
        here = network(client_address(environ))
        return not found[2] or here == found[2]  # another network's poll goes on to the blueprint (refused there)


@bp.get("/c/<token>")
def checkin_link(token: str):
    """Where the link QR leads when opened in a browser: how to check in (a browser cannot say who you are)."""
    return Response(render_template("screen/link.html"), headers={"Cache-Control": "no-store"})


def render(kt, screen: Screen, now) -> str:
    base = dict(now=epoch(now), visible_ms=VISIBLE_POLL_MS, hidden_ms=HIDDEN_POLL_MS)
    if screen.ended_at:
        return render_template("screen/ended.html", **base)
    if screen.paired_at is None:
        expired = screen.code_expires_at < now
        return render_template("screen/pairing.html", code=screen.code, expired=expired,
                               until=epoch(screen.code_expires_at), **base)
    classroom = screen.classroom
    students = len(scope.student_ids(classroom))
    lesson = scope.open_lesson(classroom)
    if lesson is None:
        note = Announcement.select().where(Announcement.classroom == classroom).order_by(
            Announcement.created_at.desc(), Announcement.id.desc()).first()
        join = qr_content(kt, classroom.code)  # the official QR once minted; data-qr: what a camera reads
        return render_template("screen/idle.html", classroom=classroom, students=students, note=note,
                               qr=svg_qr(join), qr_text=join, **base)
    checkin = lesson_checkin(lesson)
    came = None
    if checkin:
        sheet = sheet_for(checkin)
        came = (sum(1 for s in sheet.values() if s in (PRESENT, LATE)), len(sheet))
    lost = LostSignal.select(LostSignal.user).where(LostSignal.lesson == lesson).distinct().count()
    activity = Activity.select().where(Activity.lesson == lesson).order_by(Activity.opened_at.desc(), Activity.id.desc()).first()
    view = dict(classroom=classroom, students=students, came=came, lost=lost, activity=activity,
                calls=_roll_calls(lesson, now), **base)
    if activity is None:
        return render_template("screen/lesson.html", **view)
    is_open = activity.is_open(now)
    view.update(is_open=is_open, deadline=epoch(activity.deadline))
    if activity.kind == CHECKIN:
        if is_open:
            view.update(_checkin_view(kt, activity, now))
        return render_template("screen/checkin.html", **view)
    if checkin and checkin.is_open(now):  # a quiz or discussion during a check-in: the check-in stays, beside it
        view.update(_checkin_view(kt, checkin, now), panel=True)
    if activity.kind == DISCUSSION:
        posts = list(Post.select(Post.id, Post.text, Post.hidden).where(Post.activity == activity).order_by(Post.created_at, Post.id))
        wall = [(number, post.text) for number, post in enumerate(posts, 1) if not post.hidden][::-1][:40]
        return render_template("screen/discussion.html", wall=wall, total=len(posts), **view)
    answers = [r.answer for r in Answer.select(Answer.answer).where(Answer.activity == activity)]
    view.update(answered=len(answers), present=came[0] if came else students)
    if not is_open:  # the distribution, the key and the rate only once it closed
        quiz = activity.kind == QUIZ
        right = sum(1 for a in answers if is_right(activity, a)) if quiz else 0
        view.update(bars=svg_bars(tally(activity, answers, "zh"), quiz), key=shown_key(activity) if quiz else None,
                    rate=f"{100 * right / len(answers):.0f}%" if quiz and answers else None)
    return render_template("screen/question.html", **view)


def _checkin_view(kt, activity: Activity, now) -> dict:
    """What an open check-in shows (full screen, or the panel beside a quiz): QR, 口令, countdowns."""
    settings = kt.settings
    slot = rotation.shown_slot(settings, activity, now)
    content, official = _checkin_qr(kt, activity, slot, now)
    return dict(qr=svg_qr(content), qr_text=content, official=official, api=bool(settings.wechat.app_secret),
                code_until=rotation.slot_ends(settings, slot), code_span=settings.screen.rotate_seconds,
                checkin_until=epoch(activity.deadline),
                passcode=rotation.passcode(settings, activity.id, slot) if activity.passcode else None)


def _checkin_qr(kt, activity: Activity, slot: int, now) -> tuple[str, bool]:
    """(QR content, official?): the scheduler's QR_STR_SCENE code for this slot when ready, else our link."""
    minted = CheckinQr.get_or_none((CheckinQr.activity == activity) & (CheckinQr.slot == slot) & (CheckinQr.expires_at > now))
    if minted:
        return minted.url, True
    return kt.links.url(f"/c/{rotation.token(kt.settings, activity.id, slot)}"), False


def _roll_calls(lesson, now) -> list[tuple[str, str]]:
    """The latest roll call of the lesson, for ten minutes: (name, answered|waiting|missed); no openids."""
    latest = RollCall.select().where(RollCall.lesson == lesson).order_by(RollCall.picked_at.desc()).first()
    if latest is None or (now - latest.picked_at).total_seconds() > 600:
        return []
    calls = RollCall.select().where((RollCall.lesson == lesson) & (RollCall.picked_at == latest.picked_at)).order_by(RollCall.id)
    return [(c.user.name or c.user.student_no or "同学",
             "answered" if c.answered_at else "waiting" if now <= c.deadline else "missed") for c in calls]
