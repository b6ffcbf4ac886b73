"""WeChat events the classroom answers: a new follower is welcomed; a class QR scene joins the class;
what the menu's scanner read is recognised when it is a QR code the classroom draws.

Following, unfollowing and the other events are the machinery's (bot/dispatch.py); this module only says
what the classroom adds to them.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from bot.context import Context
from bot.grammar import Grammar, Parsed
from models import ClassQr


def subscribe(ctx: Context, event_key: str) -> str:
    """A new follower: how students and teachers begin."""
    return ctx.t("welcome")


def subscribe_scan(ctx: Context, event_key: str) -> str:
    """A new follower who came by scanning a class QR code: a short welcome (the scene joins them)."""
    return ctx.t("welcome_short")


# What the scanner button (scancode_waitmsg) read, when it is a link under this server: one row per kind
# of link QR the classroom draws, (path pattern, f(ctx, match, query) -> ("scene", s) | ("text", s)). A scene
# goes where a scan of WeChat's own QR goes; text runs through the grammar like typed text. The classroom
# screen reads its own check-in QR codes (handlers/screen/scan.py, a scan reader of its Plugin).


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


# This machine's own names: with public_url empty, a screen opened as localhost draws its QR on `localhost`
# while WeChat (or the simulator) posts to 127.0.0.1: the same server, so the same links.
LOOPBACK = re.compile(r"^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?=:|/|$)", re.IGNORECASE)


def _bare(url: str) -> str:
    """*url* without its scheme, its host lower-cased and any loopback name written as `localhost`."""
    bare = re.sub(r"^https?://", "", url, flags=re.IGNORECASE)
    host, sep, rest = bare.partition("/")
    return LOOPBACK.sub("localhost", host.lower()) + sep + rest


def our_link(ctx: Context, text: str) -> tuple[str, dict] | None:
    """(path, query) of a link under this server's address (http or https; loopback names are one), else None."""
    try:
        base = _bare(ctx.links.url(""))
    except RuntimeError:  # no public_url and no request: no link can be recognised
        return None
    bare = _bare(text)
    if not bare.startswith(base + "/"):
        return None
    path, _, rest = bare[len(base):].partition("?")
    return path.split("#", 1)[0], dict(parse_qsl(rest.split("#", 1)[0]))


def read_scanned(ctx: Context, text: str) -> tuple[str, str] | None:
    """What a scanned classroom QR means: ("scene", s) for one of our links or a class's official QR URL,
    ("text", s) for a link that stands for a command; None when it is not ours."""
    link = our_link(ctx, text)
    if link:
        for pattern, meaning in SCANNED_LINKS:
            found = pattern.fullmatch(link[0])
            if found:
                return meaning(ctx, found, link[1])
    official = ClassQr.get_or_none(ClassQr.url == text) if len(text) <= 255 else None
    return ("scene", f"join_{official.classroom.code}") if official else None


SCANNABLE = ("join", "check_in")  # what plain text in a QR may mean: 加入 <课堂码>, 签到 [口令]


def read_scanned_command(grammar: Grammar, ctx: Context, text: str) -> tuple[str, str] | None:
    """A QR holding plain text runs only what a scan may mean (joining a class, checking in) as typed text;
    anything else (`退出课堂 1`, `导出`) is not a classroom QR, so a printed code cannot act for whoever scans it."""
    parsed = grammar.parse(text)
    return ("text", text) if isinstance(parsed, Parsed) and parsed.command.name in SCANNABLE else None
