"""WeChat events and non-text messages: follow, QR scans, unfollow, images and the rest."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from bot.context import Context
from handlers.student import join_by_scene
from models import ClassQr, User

# What the menu's scanner button (scancode_waitmsg) read, when it is a link under this server: one row per
# kind of link QR Ketang draws, (path pattern, f(ctx, match, query) -> ("scene", s) | ("text", s) | None).
# A scene goes where a scan of WeChat's own QR goes; text runs through the grammar like typed text.
# The classroom screen's check-in link adds its row here.


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
MAX_SCANNED = 512


def subscribe(ctx: Context, scene: str = "") -> str:
    """A new follower; with a class QR scene they join that class at once."""
    User.update(subscribed=True).where(User.id == ctx.user.id).execute()
    if scene:
        return ctx.t("welcome_short") + "\n" + join_by_scene(ctx, scene)
    return ctx.t("welcome")


def scan(ctx: Context, scene: str) -> str:
    """An existing follower scanned a class QR code."""
    return join_by_scene(ctx, scene)


def read_scanned(ctx: Context, text: str) -> tuple[str, str] | None:
    """What a scanned Ketang QR means: ("scene", s) for one of our links or a class's official QR URL,
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


def scanned(ctx: Context, text: str, run_text) -> str:
    """The menu's scanner read *text*: a Ketang QR goes where a scan goes; other text is a typed command."""
    text = text.strip()[:MAX_SCANNED]
    if not text:
        return ctx.t("scan_empty")
    meaning = read_scanned(ctx, text)
    if meaning and meaning[0] == "scene":
        return scan(ctx, meaning[1])
    if meaning:
        return run_text(ctx, meaning[1])
    if "://" in text:
        return ctx.t("scan_not_ours")
    return run_text(ctx, text)


def unsubscribe(ctx: Context) -> str:
    """The user unfollowed: stop pushing to them (no reply reaches them)."""
    User.update(subscribed=False).where(User.id == ctx.user.id).execute()
    return ""


def other_message(ctx: Context, kind: str) -> str:
    """Answer an image, voice, location, link or unknown event kindly."""
    return ctx.t("only_text", kind=ctx.t(f"kind_{kind}") if f"kind_{kind}" in KINDS else ctx.t("kind_other"))


def silent_event(ctx: Context) -> str:
    """Events that need no reply (menu views, location reports, delivery reports)."""
    return ""


KINDS = {"kind_image", "kind_voice", "kind_video", "kind_shortvideo", "kind_location", "kind_link"}
