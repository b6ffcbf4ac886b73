"""The screen's HTTP side: the page, a pairing code, the polled state (ETag, 304 before any rendering; the
counts alone when only they changed; else the page of what is shown, handlers/screen/shown.py), and the page a
check-in link QR opens. Read-only: nothing here checks in, answers or reveals a future code."""

from __future__ import annotations

import json
import re

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from bot.clock import epoch
from bot.database import is_sqlite
from handlers.screen import rotation
from handlers.screen.pairing import CODE_TTL, digest, network, new_screen, rekey, second_poller
from handlers.screen.shown import BY_SECRET, Shown, gather
from models import Screen, db

bp = Blueprint("screen", __name__, template_folder="templates", static_folder="static", static_url_path="/screen/static")

HIDDEN_POLL_MS, VISIBLE_POLL_MS = 30000, 1000
SECRET = re.compile(r"[A-Za-z0-9_-]{20,64}")


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
    """What the screen shows now. A poll from another network than the classroom PC's is refused (the teacher
    told once); the first poll after pairing gets a new secret with the whole page; otherwise the ETag is the
    screen's version plus the rotation slot (unchanged → 304), and a page whose shape is unchanged gets the
    counts alone."""
    kt = current_app.extensions["ketang"]
    secret = request.headers.get("X-Screen", "")
    if not SECRET.fullmatch(secret):
        abort(404)
    now = kt.clock()
    screen = BY_SECRET.first(digest(secret))  # the screen with its class, in one read
    if screen is None:
        abort(404)
    etag = etag_of(kt, screen.id, screen.version, now)
    here = network(client_address())
    if screen.net and here != screen.net:  # the secret, copied, polled from another network: nothing shown, the teacher told
        if not (screen.warned_at or screen.paired_at is None or screen.ended_at):
            second_poller(screen.id, here, now)
        abort(404)
    headers = {"ETag": etag, "Cache-Control": "no-cache, private"}
    due = screen.paired_at is not None and screen.keyed_at is None
    if due:  # just paired: a new secret for this page (with the whole page), the old one dies
        fresh = rekey(screen.id, secret, now)
        if fresh is None:
            abort(404)
        headers["X-Screen-Secret"] = fresh
    elif request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers=headers)
    shown = gather(kt, screen, now)
    shape = shown.shape
    base = dict(now=epoch(now), visible_ms=VISIBLE_POLL_MS, hidden_ms=HIDDEN_POLL_MS, shape=shape)
    if not due and request.headers.get("X-Shape") == shape:  # only counts changed (NotModified answers this first, mostly)
        return Response(counts_json(shown, now), mimetype="application/json", headers=headers)
    return Response(shown.html(base), mimetype="text/html", headers={**headers, "X-Shape": shape})


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
    return row[0], etag_of(kt, row[0], row[1], now), row[2], bool(row[3]), bool(row[4])


def etag_of(kt, screen_id: int, version: int, now) -> str:
    """A screen's ETag: its version (bumped by every change it shows) and the rotation slot."""
    return f'"{screen_id}.{version}.{rotation.slot_at(kt.settings, now)}"'


class NotModified:
    """WSGI middleware: answer a screen's poll before Flask builds a request at all when it can: 304 when
    nothing changed, the counts alone (JSON) when only they changed since the page's shape.

    Hundreds of projectors poll once a second; almost every poll is unchanged, so that path is kept to a
    header check and one indexed read. Anything else (no ETag, another shape, unknown, an error) goes on to
    the blueprint, which answers the same way or renders the page.
    """

    def __init__(self, wsgi_app, kt):
        self.wsgi_app, self.kt = wsgi_app, kt

    def __call__(self, environ, start_response):
        match, shape = environ.get("HTTP_IF_NONE_MATCH"), environ.get("HTTP_X_SHAPE")
        if (match or shape) and environ.get("PATH_INFO") == "/screen/state" and environ.get("REQUEST_METHOD") == "GET":
            secret = environ.get("HTTP_X_SCREEN", "")
            answer = self._quick(secret, match, shape, environ) if SECRET.fullmatch(secret) else None
            if answer is not None:
                status, headers, body = answer
                start_response(status, headers)
                return [body]
        return self.wsgi_app(environ, start_response)

    def _quick(self, secret: str, match: str | None, shape: str | None, environ):
        """(status, headers, body) of a 304 or a counts-only answer, or None to let the blueprint answer: it
        also answers a page due for its new secret (the hand-over comes first) and refuses another network."""
        try:
            db.connect(reuse_if_open=True)
            now = self.kt.clock()
            found = current_etag(self.kt, secret, now)  # the cheapest read, a few columns: most polls end here
            if found is None:
                return None
            _id, etag, net, due, _told = found
            if due or (net and network(client_address(environ)) != net):  # the hand-over, or a refusal: the blueprint's
                return None
            if etag == match:
                return _not_modified(match)
            screen = BY_SECRET.first(digest(secret)) if shape else None
            if screen is None:
                return None
            etag = etag_of(self.kt, screen.id, screen.version, now)  # the version may have moved since the first read
            shown = gather(self.kt, screen, now)
            if shown.shape != shape:
                return None
            body = counts_json(shown, now)
            return "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *_headers(etag)], body
        except Exception:  # let the blueprint answer (and log) whatever went wrong
            return None
        finally:
            if not is_sqlite() and not db.is_closed():
                db.close()  # back to the pool, as after a request


def _headers(etag: str) -> list[tuple[str, str]]:
    return [("ETag", etag), ("Cache-Control", "no-cache, private")]


def _not_modified(etag: str):
    return "304 NOT MODIFIED", _headers(etag), b""


def counts_json(shown: Shown, now) -> bytes:
    """The answer to a poll whose page has the shape shown now: the counts, applied in place by the page."""
    return json.dumps({"now": epoch(now), "parts": shown.parts}).encode("utf-8")


@bp.get("/c/<token>")
def checkin_link(token: str):
    """Where the link QR leads when opened in a browser: how to check in (a browser cannot say who you are)."""
    return Response(render_template("screen/link.html"), headers={"Cache-Control": "no-store"})
