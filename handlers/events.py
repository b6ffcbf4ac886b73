"""WeChat events and non-text messages: follow, QR scans, unfollow, images and the rest."""

from __future__ import annotations

import re

from bot.context import Context
from handlers.student import join_by_scene
from models import ClassQr, User

# What the menu's scanner button (scancode_waitmsg) read → the scene a scan of WeChat's own QR would
# carry, so both reach scan(). One row per kind of link QR Ketang draws: (path under server.public_url,
# scene template). The classroom screen's check-in link adds its row here.
SCANNED_LINKS: list[tuple[re.Pattern, str]] = [
    (re.compile(r"/join/(\d{6})"), r"join_\1"),
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


def scene_of(ctx: Context, text: str) -> str | None:
    """The scene of a scanned Ketang QR: one of our links, or a class's official QR URL; else None."""
    bare = re.sub(r"^https?://", "", text, flags=re.IGNORECASE)
    base = re.sub(r"^https?://", "", ctx.links.public_url, flags=re.IGNORECASE)
    if bare.startswith(base + "/"):
        path = bare[len(base):].split("?", 1)[0].split("#", 1)[0]
        for pattern, scene in SCANNED_LINKS:
            found = pattern.fullmatch(path)
            if found:
                return found.expand(scene)
    official = ClassQr.get_or_none(ClassQr.url == text) if len(text) <= 255 else None
    return f"join_{official.classroom.code}" if official else None


def scanned(ctx: Context, text: str, run_text) -> str:
    """The menu's scanner read *text*: a Ketang QR goes where a scan goes; other text is a typed command."""
    text = text.strip()[:MAX_SCANNED]
    if not text:
        return ctx.t("scan_empty")
    scene = scene_of(ctx, text)
    if scene:
        return scan(ctx, scene)
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
