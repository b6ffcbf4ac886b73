"""A loopback mock of the WeChat API: tokens, stable tokens, custom and template sends, QR codes,
custom menus (default and personalised) and user tags.

Started by the tests (`with MockWechat() as mock: ...`, port 0 = the OS picks one) and runnable for a
benchmark: `python -m harness.mock_wechat --port 8900 --latency-ms 20` (GET /mock/stats for counts).
Like WeChat, a new /cgi-bin/token invalidates the old one (after no overlap here: stricter than WeChat),
stable_token returns the same token until forced, and a send with an unknown token gets 40001.
Errors are injected with fail(); latency with latency_ms.
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from bot import wechat_side

PATHS = {"/cgi-bin/token", "/cgi-bin/stable_token", "/cgi-bin/message/custom/send",
         "/cgi-bin/message/template/send", "/cgi-bin/qrcode/create"}
PATHS |= wechat_side.MENU_PATHS  # menu: the custom-menu and user-tag endpoints (bot/wechat_side.py)


class MockWechat:
    """The mock's state and server; thread-safe."""

    def __init__(self, latency_ms: float = 0, stable_token: bool = True, port: int = 0):
        self.latency_ms = latency_ms
        self.stable_token = stable_token
        self.lock = threading.Lock()
        self.calls: Counter = Counter()  # path -> requests
        self.sent: list[dict] = []  # accepted custom and template messages, in order
        self.valid_tokens: set[str] = set()
        self.stable_current: str | None = None
        self.injected: list[dict] = []  # {"path", "errcode", "times", "openid"}
        self._ids = itertools.count(1)
        self.menus = wechat_side.new_state()  # menus and tags: {"menu", "conditional", "tags", "tagged"}
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.server.daemon_threads = True
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> MockWechat:
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    __enter__ = start

    def __exit__(self, *exc):
        self.stop()

    def fail(self, path: str, errcode: int, times: int = 1, openid: str | None = None) -> None:
        """Answer the next *times* calls to *path* (for *openid* only, if given) with *errcode*."""
        with self.lock:
            self.injected.append({"path": path, "errcode": errcode, "times": times, "openid": openid})

    def received(self, msgtype: str | None = None) -> Counter:
        """Count accepted messages per openid (optionally of one type: text or template)."""
        with self.lock:
            return Counter(m["touser"] for m in self.sent if msgtype in (None, m["type"]))

    # -- the API --------------------------------------------------------------------------------

    def answer(self, method: str, path: str, query: dict, body: dict) -> tuple[int, dict]:
        with self.lock:
            self.calls[path] += 1
        if path not in PATHS or (path == "/cgi-bin/stable_token" and not self.stable_token):
            return 404, {"errcode": 404, "errmsg": "not found"}
        with self.lock:
            injected = self._injected(path, body.get("touser"))
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        if injected:
            return 200, {"errcode": injected, "errmsg": f"injected {injected}"}
        if path == "/cgi-bin/token":
            return 200, self._new_token(replace_all=True)
        if path == "/cgi-bin/stable_token":
            return 200, self._stable(bool(body.get("force_refresh")))
        if query.get("access_token") not in self.valid_tokens:
            return 200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
        if path == "/cgi-bin/qrcode/create":
            scene = body["action_info"]["scene"]["scene_str"]
            ticket = f"gQ{next(self._ids)}_{scene}"
            return 200, {"ticket": ticket, "expire_seconds": body.get("expire_seconds", 60), "url": f"http://weixin.qq.com/q/{ticket}"}
        if path in wechat_side.MENU_PATHS:
            with self.lock:
                return 200, wechat_side.answer(self.menus, path, body)
        return 200, self._accept(path, body)

    def menu_for(self, openid: str) -> dict | None:
        """The menu WeChat would show *openid* (its personalised menu when it carries the tag)."""
        with self.lock:
            return wechat_side.menu_for(self.menus, openid)

    def _injected(self, path: str, openid: str | None) -> int | None:
        for rule in self.injected:
            if rule["path"] == path and rule["times"] > 0 and rule["openid"] in (None, openid):
                rule["times"] -= 1
                return rule["errcode"]
        return None

    def _new_token(self, replace_all: bool) -> dict:
        token = f"TOKEN{next(self._ids)}"
        with self.lock:
            if replace_all:
                self.valid_tokens = {t for t in self.valid_tokens if t == self.stable_current}
            self.valid_tokens.add(token)
        return {"access_token": token, "expires_in": 7200}

    def _stable(self, force: bool) -> dict:
        with self.lock:
            if self.stable_current and not force:
                return {"access_token": self.stable_current, "expires_in": 7200}
            self.valid_tokens.discard(self.stable_current)
            self.stable_current = f"STABLE{next(self._ids)}"
            self.valid_tokens.add(self.stable_current)
            return {"access_token": self.stable_current, "expires_in": 7200}

    def _accept(self, path: str, body: dict) -> dict:
        msg_id = next(self._ids)
        record = {"touser": body.get("touser"), "msgid": msg_id, "at": time.time()}
        if path.endswith("custom/send"):
            record.update(type="text", content=body.get("text", {}).get("content"))
        else:
            record.update(type="template", template_id=body.get("template_id"), data=body.get("data"))
        with self.lock:
            self.sent.append(record)
        return {"errcode": 0, "errmsg": "ok", "msgid": msg_id}

    def stats(self) -> dict:
        with self.lock:
            return {"calls": dict(self.calls), "sent": len(self.sent), "students": len({m["touser"] for m in self.sent})}


def _handler(mock: MockWechat):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

        def do_GET(self):
            self._serve("GET")

        def do_POST(self):
            self._serve("POST")

        def _serve(self, method: str) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw.decode("utf-8")) if raw else {}
            except ValueError:
                body = None
            if len(raw) < length:
                body = None  # cut short by a killed client: WeChat refuses it, so does the mock
            if url.path == "/mock/stats":
                status, data = 200, mock.stats()
            elif not isinstance(body, dict):
                status, data = 200, {"errcode": 47001, "errmsg": "data format error"}
            else:
                status, data = mock.answer(method, url.path, query, body)
            out = json.dumps(data, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args):  # quiet
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a mock WeChat API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--no-stable-token", action="store_true", help="answer 404 on /cgi-bin/stable_token")
    args = parser.parse_args()
    mock = MockWechat(latency_ms=args.latency_ms, stable_token=not args.no_stable_token, port=args.port)
    print(f"mock WeChat API on {mock.url} (latency {args.latency_ms} ms); GET /mock/stats for counts", flush=True)
    try:
        mock.server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
