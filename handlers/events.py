"""WeChat events and non-text messages: follow, QR scans, unfollow, images and the rest."""

from __future__ import annotations

from bot.context import Context
from handlers.screen import plugin as screen  # screen:
from handlers.student import join_by_scene
from models import User


def subscribe(ctx: Context, scene: str = "") -> str:
    """A new follower; with a class QR scene they join that class at once."""
    User.update(subscribed=True).where(User.id == ctx.user.id).execute()
    if scene.startswith(screen.SCENE):  # screen:
        return ctx.t("welcome_short") + "\n" + screen.SCENES[screen.SCENE](ctx, scene[len(screen.SCENE):])
    if scene:
        return ctx.t("welcome_short") + "\n" + join_by_scene(ctx, scene)
    return ctx.t("welcome")


def scan(ctx: Context, scene: str) -> str:
    """An existing follower scanned a class QR code."""
    if scene.startswith(screen.SCENE):  # screen:
        return screen.SCENES[screen.SCENE](ctx, scene[len(screen.SCENE):])
    return join_by_scene(ctx, scene)


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
