"""The rotating check-in code: a QR token and a 4-digit 口令 per time slot, checked for freshness on the server.

A slot is `epoch // rotate_seconds`; slot s is on screen from s·R to (s+1)·R. Its QR token is
`<check-in id>-<slot>-<mac>` and its 口令 four digits, both HMACs of (check-in, slot) under a key every
process derives from the deployment's secrets, so nothing is stored and the web side can only show the
slot that is on now. A token or 口令 is accepted until `grace_seconds` after it left the screen
(`follow_grace_seconds` for an account following for the first time, timed from WeChat's CreateTime); later
it is refused and counted (StaleCode) but uses up no 口令 try: an honest slow typist sends exactly that, and it
tells a guesser nothing about the code on screen now. 签到情况 then separates who checked in after such a
refusal (a slow typist) from who never did (perhaps a photo relayed to a dorm group).

A server clock that jumps back would bring earlier slots on again, and with them the codes photographed
then. So the screen records on the check-in the latest slot it showed (`seen_slot`), never shows an earlier
one, and codes are judged at no earlier than that slot's start: after a jump back the screen keeps the latest
code until the clock has caught up, and no older code is accepted again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from bot.clock import epoch
from bot.context import Context
from bot.database import transaction
from models import ABSENT, Activity, Response, StaleCode

TOKEN = re.compile(r"([1-9][0-9]{0,11})-([1-9][0-9]{0,11})-([a-z2-7]{16})")  # ASCII digits only
STALE_LOOKBACK = 360  # slots searched for a stale 口令 (an hour at 10 s)


def _key(settings) -> bytes:
    """One key for every process of a deployment (web workers show, the scheduler mints, any worker checks)."""
    return hashlib.sha256(f"ketang/screen-code-key/v1\0{settings.link_secret}".encode("utf-8")).digest()


def _mac(settings, purpose: str, activity_id: int, slot: int) -> bytes:
    return hmac.new(_key(settings), f"{purpose}:{activity_id}:{slot}".encode(), hashlib.sha256).digest()


def slot_at(settings, moment) -> int:
    seconds = moment if isinstance(moment, int) else epoch(moment)
    return seconds // settings.screen.rotate_seconds


def slot_ends(settings, slot: int) -> int:
    """The epoch second at which *slot* leaves the screen."""
    return (slot + 1) * settings.screen.rotate_seconds


def token(settings, activity_id: int, slot: int) -> str:
    """The QR token of *slot* (80 bits of MAC: unguessable, bound to one check-in and one slot)."""
    mac = base64.b32encode(_mac(settings, "qr", activity_id, slot)[:10]).decode().lower()
    return f"{activity_id}-{slot}-{mac}"


def read_token(settings, text: str) -> tuple[int, int] | None:
    """(check-in id, slot) of a genuine token, else None."""
    found = TOKEN.fullmatch(text or "")
    if not found:
        return None
    activity_id, slot = int(found.group(1)), int(found.group(2))
    return (activity_id, slot) if hmac.compare_digest(token(settings, activity_id, slot), text) else None


def passcode(settings, activity_id: int, slot: int) -> str:
    return f"{int.from_bytes(_mac(settings, 'code', activity_id, slot)[:8], 'big') % 10000:04d}"


def shown_slot(settings, activity, now) -> int:
    """The slot a screen shows now for *activity*: the clock's, but never before the latest one shown (recorded)."""
    slot = max(slot_at(settings, now), activity.seen_slot or 0)
    if slot != activity.seen_slot:
        with transaction():
            Activity.update(seen_slot=slot).where(
                (Activity.id == activity.id) & (Activity.seen_slot.is_null() | (Activity.seen_slot < slot))).execute()
        activity.seen_slot = slot  # as the next poll reads it: the screen's shape does not change for this alone
    return slot


def judged_at(settings, activity, at: int) -> int:
    """The epoch second a code for *activity* is judged at: *at*, but not before the latest slot shown began."""
    seen = getattr(activity, "seen_slot", None)
    return max(at, seen * settings.screen.rotate_seconds) if seen else at


def is_fresh(settings, slot: int, at: int, grace: int) -> bool:
    """Whether slot *slot* was on screen at most *grace* seconds before *at* (and not in the future)."""
    return slot * settings.screen.rotate_seconds - 2 <= at <= slot_ends(settings, slot) + grace


def record_stale(ctx: Context, activity, kind: str) -> str:
    """Count a code that left the screen (no 口令 try is used) and say what to do now: the current code's
    seconds left and the check-in's deadline."""
    StaleCode.create(activity=activity, user=ctx.user, kind=kind, at=ctx.now)
    settings, now = ctx.settings, epoch(ctx.now)
    return ctx.t("screen_code_expired" if kind == "code" else "screen_qr_expired", seconds=settings.screen.rotate_seconds,
                 left=max(slot_ends(settings, slot_at(settings, now)) - now, 1), at=ctx.hhmm(activity.deadline))


def judge(ctx: Context, activity, code: str, at) -> str | None:
    """The classroom's check-in judge (extension point `checkin_judges`) for a check-in on a screen: "" when
    *code* was on screen at *at* (or just before, within the grace), the refusal when it is one that rotated
    out (counted, no try used), None when it was never shown (a wrong code)."""
    settings = ctx.settings
    sent = judged_at(settings, activity, epoch(at))  # a clock that jumped back revives no older code
    current = slot_at(settings, sent)
    for slot in (current, current - 1):
        if code == passcode(settings, activity.id, slot) and is_fresh(settings, slot, sent, settings.screen.grace_seconds):
            return ""
    first = max(slot_at(settings, activity.opened_at) - 1, current - STALE_LOOKBACK)
    if any(code == passcode(settings, activity.id, slot) for slot in range(current, first - 1, -1)):
        return record_stale(ctx, activity, "code")
    return None


def stale_note(ctx: Context, checkins) -> str:
    """签到情况's line about expired screen codes over the lesson's *checkins* (extension point
    `attendance_notes`; empty when there were none): who then checked in, and who never did."""
    tried = {uid for (uid,) in StaleCode.select(StaleCode.user).where(StaleCode.activity.in_(checkins)).distinct().tuples()}
    if not tried:
        return ""
    n = StaleCode.select().where(StaleCode.activity.in_(checkins)).count()
    came = {uid for (uid,) in Response.select(Response.user).where(
        Response.activity.in_(checkins) & Response.user.in_(tried) & (Response.status != ABSENT)).tuples()}
    return "\n" + ctx.t("stale_codes", n=n, people=len(tried), later=len(came), never=len(tried - came))

