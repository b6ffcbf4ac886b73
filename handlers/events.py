"""WeChat events the classroom answers: a new follower is welcomed; a class QR scene joins the class;
what the menu's scanner read is recognised when it is a QR code the classroom draws.

Following, unfollowing and the other events are the machinery's (bot/dispatch.py); this module only says
what the classroom adds to them.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from bot.context import Context
from models import ClassQr


def subscribe(ctx: Context, event_key: str) -> str:
    """A new follower: how students and teachers begin."""
    return ctx.t("welcome")


def subscribe_scan(ctx: Context, event_key: str) -> str:
    """A new follower who came by scanning a class QR code: a short welcome (the scene joins them)."""
    return ctx.t("welcome_short")


# menu: what the scanner button (scancode_waitmsg) read, when it is a link under this server: one row per kind
# of link QR the classroom draws, (path pattern, f(ctx, match, query) -> ("scene", s) | ("text", s)). A scene
# goes where a scan of WeChat's own QR goes; text runs through the grammar like typed text. The classroom
# screen's check-in link adds its row here.


def _join_link(ctx: Context, found: re.Match, query: dict) -> tuple[str, str]:
    """A class QR's join page: signed (?k=, from the class QR) joins at once; unsigned is `加入 <code>`,
    which counts wrong guesses like typed text (so crafted QR codes cannot probe class codes)."""
    code = found.group(1)
    if ctx.links.unsign("join", query.get("k", "")) == code:
        return "scene", f"join_{code}"
    return "text", f"加入 {code}"


SCANNED_LINKS: list[tuple[re.Pattern, object]] = [
    (re.compile(r"/join/(\d{6})"), _join_link),
]


def read_scanned(ctx: Context, text: str) -> tuple[str, str] | None:
    """What a scanned classroom QR means: ("scene", s) for one of our links or a class's official QR URL,
    ("text", s) for a link that stands for a command; None when it is not ours."""
    try:
        base = re.sub(r"^https?://", "", ctx.links.url(""), flags=re.IGNORECASE)
    except RuntimeError:  # no public_url and no request: only official QR URLs can be recognised
        base = None
    bare = re.sub(r"^https?://", "", text, flags=re.IGNORECASE)
    if base and bare.startswith(base + "/"):
        path, _, rest = bare[len(base):].partition("?")
        query = dict(parse_qsl(rest.split("#", 1)[0]))
        for pattern, meaning in SCANNED_LINKS:
            found = pattern.fullmatch(path.split("#", 1)[0])
            if found:
                return meaning(ctx, found, query)
    official = ClassQr.get_or_none(ClassQr.url == text) if len(text) <= 255 else None
    return ("scene", f"join_{official.classroom.code}") if official else None
