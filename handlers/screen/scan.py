"""A scan of the screen's check-in QR: the official-account QR (SCAN, or subscribe for a new follower) or the
link QR read by the menu's scanner (scancode_waitmsg / scancode_push). All end in the same check-in."""

from __future__ import annotations

from bot.clock import epoch
from bot.context import Context
from handlers import student
from handlers.events import our_link
from handlers.screen import rotation
from models import CHECKIN, Activity, CheckinQr, Membership, Response

SCENE = "ci_"  # QR_STR_SCENE prefix of a check-in token


def scene(ctx: Context, token: str) -> str:
    """SCAN / subscribe with scene `ci_<token>` (the official-account QR on the screen)."""
    return check_in_by_token(ctx, token, "qr")


def read_scanned(ctx: Context, text: str) -> tuple[str, str] | None:
    """What the menu's scanner read, when it is the screen's check-in QR: the link QR (`<public_url>/c/<token>`)
    or the official QR's URL; either is answered as the scene `ci_<token>`, like a SCAN of the official QR."""
    link = our_link(ctx, text)
    if link and link[0].startswith("/c/"):
        return "scene", SCENE + link[0][len("/c/"):]
    official = CheckinQr.get_or_none(CheckinQr.url == text) if len(text) <= 255 else None
    if official is not None:
        return "scene", SCENE + rotation.token(ctx.settings, official.activity_id, official.slot)
    return None


def check_in_by_token(ctx: Context, token: str, kind: str) -> str:
    settings = ctx.settings
    read = rotation.read_token(settings, token)
    activity = Activity.get_or_none(Activity.id == read[0]) if read else None
    if activity is None or activity.kind != CHECKIN:
        return ctx.t("screen_not_checkin_qr")
    if ctx.user.is_teacher:
        return ctx.t("student_only", command=ctx.t("screen_scan_name"))
    inbound = ctx.inbound
    # The follower's grace (timed from WeChat's CreateTime) is for an account that has never followed before:
    # its user row is made by this very event. Someone who unfollows and follows again gets none.
    follower = (getattr(inbound, "event", "") == "subscribe_scan" and getattr(inbound, "created", 0)
                and ctx.user.created_at >= ctx.now)
    at = epoch(ctx.sent_at)  # WeChat's clock (CreateTime within the skew allowance), not when a worker got to it
    grace = settings.screen.follow_grace_seconds if follower else settings.screen.grace_seconds
    at = rotation.judged_at(settings, activity, at)  # a clock that jumped back revives no older QR
    classroom = activity.lesson.classroom
    member = (Membership.user == ctx.user) & (Membership.classroom == classroom) & (Membership.active == 1)
    if not Membership.select().where(member).exists():
        # A check-in QR never enrolls anyone (a relayed photo, or one from a check-in days ago, would let a
        # stranger in): joining takes the class code, which is on the screen for whoever is in the room.
        return ctx.t("screen_scan_not_member", name=classroom.name)
    if not rotation.is_fresh(settings, read[1], at, grace) and activity.is_open(ctx.now):
        if _responded(ctx, activity):  # already checked in: an old photo scanned again is no relay
            return student.check_in_to(ctx, classroom, activity, scanned=True)
        return rotation.record_stale(ctx, activity, kind)
    return student.check_in_to(ctx, classroom, activity, scanned=True)


def _responded(ctx: Context, activity) -> bool:
    return Response.select().where((Response.activity == activity) & (Response.user == ctx.user)).exists()
