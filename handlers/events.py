"""WeChat events the classroom answers: a new follower is welcomed; a class QR scene joins the class.

Following, unfollowing and the other events are the machinery's (bot/dispatch.py); this module only says
what the classroom adds to them.
"""

from __future__ import annotations

from bot.context import Context


def subscribe(ctx: Context, event_key: str) -> str:
    """A new follower: how students and teachers begin."""
    return ctx.t("welcome")


def subscribe_scan(ctx: Context, event_key: str) -> str:
    """A new follower who came by scanning a class QR code: a short welcome (the scene joins them)."""
    return ctx.t("welcome_short")
