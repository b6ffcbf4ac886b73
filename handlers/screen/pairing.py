"""Pairing a browser as a class's screen (投屏 <码>), ending it, and the version every change bumps."""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from datetime import datetime, timedelta
from functools import lru_cache

from peewee import IntegrityError, fn

from bot.catalogue import t
from bot.context import Context
from bot.database import transaction
from bot.outbox import enqueue
from bot.prepared import Prepared
from handlers import limits, scope
from models import CHECKIN, OPEN, Activity, Classroom, Lesson, Membership, Screen, User, db

CODE_TTL = timedelta(minutes=5)  # a 投屏码 on an unpaired screen (the page fetches a new one when it expires)
PAIR_GUESSES_PER_HOUR = 10  # wrong 投屏码 per teacher
NEW_CODES_PER_IP = 40  # per 10 minutes: 20 classroom PCs behind one NAT address, each fetching a 5-minute code
PENDING_PER_NET = 100  # waiting (unpaired) screens per address range: one network cannot take every code
PENDING_CAP = 20000  # waiting screens in all (of 900,000 codes): a mistyped 投屏码 hits one at most 2.2 % of the time
GRACE_AFTER_LESSON = timedelta(minutes=15)  # the screen stays on after 下课, then ends
MAX_PAIRED = timedelta(hours=12)  # a screen paired between lessons and never used ends anyway



def _screens_of(user):
    """The screens on now of the classes *user* belongs to or teaches."""
    classes = Membership.select(Membership.classroom).where((Membership.user == user) & (Membership.active == 1))
    return (Screen.ended_at.is_null() & Screen.paired_at.is_null(False)
            & (Screen.classroom.in_(classes) | (Screen.teacher == user)))


# Every message that writes runs this: bump the screens of the classes the sender belongs to or teaches.
# It runs only when the sender's touch read that such a screen is on (on_screen, below), or the message
# made them a member of a class that has one: a class without a screen pays no statement for it.
_TOUCH = Prepared(lambda user: Screen.update(version=Screen.version + 1).where(_screens_of(user)))


def on_screen():
    """Read with the sender's touch (Plugin.user_reads): how many screens of theirs are on now."""
    return Screen.select(fn.COUNT(Screen.id)).where(_screens_of(User.id))


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def touched(user) -> None:
    """Whatever *user*'s message changed may show on a screen: make every screen of theirs re-render."""
    if getattr(user, "on_screen", 1):  # unknown (not read with the touch): bump, to be safe
        _TOUCH.rowcount(user)


def follow(user) -> None:
    """A teacher's message: their screen follows them to the class they are teaching now (their current class,
    in session). A teacher teaches one lesson at a time (上课 in another class ends the first one,
    handlers/teacher.py), so the class the screen leaves is never in session."""
    if not ((user.is_teacher or getattr(user, "staff", 1)) and getattr(user, "on_screen", 1)):
        return
    current = User.select(User.current_class_id).where(User.id == user.id)
    mine = scope.staffed_by(user.id).where(Classroom.id == current)  # owned or assisted (handlers/team.py)
    live = Lesson.select(Lesson.id).where((Lesson.classroom == current) & (Lesson.live == 1))
    Screen.update(classroom=current, version=Screen.version + 1).where(
        (Screen.teacher == user.id) & Screen.ended_at.is_null() & Screen.paired_at.is_null(False)
        & (Screen.classroom != current) & fn.EXISTS(mine) & fn.EXISTS(live)).execute()


def bump(classroom_id: int) -> None:
    Screen.update(version=Screen.version + 1).where((Screen.classroom == classroom_id) & Screen.ended_at.is_null()).execute()


def active_screen(classroom: Classroom) -> Screen | None:
    return Screen.get_or_none((Screen.classroom == classroom) & Screen.ended_at.is_null() & Screen.paired_at.is_null(False))


def rotator(ctx: Context, classroom: Classroom) -> str | None:
    """Extension point `checkin_rotators`: a check-in opened now in a class on a screen takes only the screen's
    rotating code (or a scan of its QR); the teacher's note says so. None: the class is on no screen."""
    if active_screen(classroom) is None:
        return None
    return ctx.t("screen_checkin_note", seconds=ctx.settings.screen.rotate_seconds)


@lru_cache(maxsize=4096)  # every poll asks (the 304 path too); a school's screens poll from a few addresses
def network(address: str) -> str:
    """The address range a screen is counted and known by: /24 for IPv4, /48 for IPv6 (one school's NAT, one site)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address[:64]
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return str(ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 48}", strict=False))


def _too_many(ip: str, net: str, now: datetime) -> bool:
    """Whether *ip* asked too often, or its range (or everyone) has too many screens waiting to be paired."""
    waiting = Screen.paired_at.is_null() & (Screen.code_expires_at > now)
    recent = Screen.select().where((Screen.ip == ip) & (Screen.created_at > now - timedelta(minutes=10)))
    return (recent.count() >= NEW_CODES_PER_IP
            or Screen.select().where(waiting & (Screen.net == net)).count() >= PENDING_PER_NET
            or Screen.select().where(waiting).count() >= PENDING_CAP)


def new_screen(ip: str, now: datetime) -> tuple[str, str] | None:
    """Make an unpaired screen; return (browser secret, 投屏码), or None when *ip* or its range asked too often.
    A refusal is read without the write lock, so a flood of refused requests never holds up a check-in."""
    net = network(ip)
    if _too_many(ip, net, now):
        return None
    with transaction():
        if _too_many(ip, net, now):  # again under the lock: requests arriving together cannot pass a cap together
            return None
        secret = secrets.token_urlsafe(32)
        for _ in range(20):
            code = f"{secrets.randbelow(900000) + 100000}"
            try:
                with db.atomic():
                    Screen.create(token_hash=digest(secret), code=code, code_expires_at=now + CODE_TTL, ip=ip[:64],
                                  net=net, created_at=now)
                return secret, code
            except IntegrityError:  # the code is taken (perhaps by an expired screen not yet purged)
                continue
    raise RuntimeError("no free 投屏码 after 20 tries")


def pair(ctx: Context, code: str | None = None) -> str:
    """`投屏 <码>`: make the browser showing *code* the screen of the current class; `投屏` alone: how."""
    classroom = scope.current_class(ctx)
    address = ctx.links.url("/screen").split("://", 1)[-1]  # no scheme: it works on whichever one is served
    if code is None:
        on = active_screen(classroom)
        state = ctx.t("screen_is_on" if on else "screen_is_off", name=classroom.name)
        return ctx.t("screen_how", address=address) + "\n" + state
    if limits.failures(ctx, "screen_pair", timedelta(hours=1)) >= PAIR_GUESSES_PER_HOUR:
        return ctx.t("too_many_tries", minutes=60)
    screen = Screen.get_or_none((Screen.code == code) & Screen.paired_at.is_null() & (Screen.code_expires_at >= ctx.now))
    if screen is None:
        limits.record_failure(ctx, "screen_pair")
        return ctx.t("screen_code_unknown", code=code, address=address, minutes=int(CODE_TTL.total_seconds() // 60))
    # Pairing another screen ends the teacher's previous one: a teacher is in one room at a time.
    Screen.update(ended_at=ctx.now, version=Screen.version + 1).where(
        (Screen.teacher == ctx.user) & Screen.ended_at.is_null() & Screen.paired_at.is_null(False)).execute()
    claimed = Screen.update(code=None, classroom=classroom, teacher=ctx.user, paired_at=ctx.now,
                            version=Screen.version + 1).where((Screen.id == screen.id) & Screen.paired_at.is_null()).execute()
    if not claimed:  # the same code used a moment ago by another message: single use
        return ctx.t("screen_code_unknown", code=code, address=address, minutes=int(CODE_TTL.total_seconds() // 60))
    reply = ctx.t("screen_paired", name=classroom.name, seconds=ctx.settings.screen.rotate_seconds)
    # A check-in open now comes under the screen's rule from now on, as if it had been opened with the screen on.
    running = (Activity.select(Activity.id).join(Lesson)
               .where((Lesson.classroom == classroom) & (Lesson.live == 1) & (Activity.kind == CHECKIN)
                      & (Activity.status == OPEN) & (Activity.deadline >= ctx.now)))
    if Activity.update(rotating=True).where(Activity.id.in_(running)).execute():
        reply += "\n" + ctx.t("screen_paired_checkin_open", seconds=ctx.settings.screen.rotate_seconds)
    return reply


def rekey(screen_id: int, secret: str, now: datetime) -> str | None:
    """The first poll after pairing: the page gets a new secret and the one it held before pairing dies, so a
    copy taken from the classroom PC before the teacher paired it shows nothing. None: another poll won."""
    fresh = secrets.token_urlsafe(32)
    with transaction():
        swapped = Screen.update(token_hash=digest(fresh), keyed_at=now).where(
            (Screen.id == screen_id) & (Screen.token_hash == digest(secret)) & Screen.keyed_at.is_null()).execute()
    return fresh if swapped else None


def second_poller(screen_id: int, address: str, now: datetime) -> None:
    """The screen's secret polled from another network than the classroom PC's: refused (by the caller), and
    the teacher told once, with what to do (the classroom PC's own poll goes on)."""
    with transaction():
        screen = Screen.get_or_none((Screen.id == screen_id) & Screen.warned_at.is_null() & Screen.paired_at.is_null(False)
                                    & Screen.ended_at.is_null())
        if screen is None or not Screen.update(warned_at=now).where(
                (Screen.id == screen_id) & Screen.warned_at.is_null()).execute():
            return
        teacher = screen.teacher
        text = t("screen_second_poller", getattr(teacher, "lang", "zh"), name=screen.classroom.name, address=address)
        enqueue(teacher, "screen_warning", text, f"screen:{screen_id}:second", now)


def unpair(ctx: Context) -> str:
    """`结束投屏`: the teacher's screen goes back to showing a new 投屏码."""
    ended = Screen.update(ended_at=ctx.now, version=Screen.version + 1).where(
        (Screen.teacher == ctx.user) & Screen.ended_at.is_null() & Screen.paired_at.is_null(False)).execute()
    if not ended:
        return ctx.t("screen_none")
    stranded = (Activity.select().join(Lesson).join(Classroom)
                .where(Classroom.id.in_(scope.staffed_by(ctx.user)) & (Lesson.live == 1) & Activity.rotating
                       & (Activity.status == OPEN)
                       & (Activity.deadline >= ctx.now)).exists())
    return ctx.t("screen_ended") + ("\n" + ctx.t("screen_ended_checkin_open") if stranded else "")


def end_screens(now: datetime) -> int:
    """Job: end screens whose lesson ended more than the grace ago (or paired too long); purge old rows."""
    on = list(Screen.select(Screen.id, Screen.classroom, Screen.paired_at)
              .where(Screen.ended_at.is_null() & Screen.paired_at.is_null(False)))
    due = [screen.id for screen in on if screen.paired_at < now - MAX_PAIRED or Lesson.select().where(
        (Lesson.classroom == screen.classroom_id) & (Lesson.ended_at >= screen.paired_at)
        & (Lesson.ended_at < now - GRACE_AFTER_LESSON)).exists()]
    with transaction():
        ended = Screen.update(ended_at=now, version=Screen.version + 1).where(
            Screen.id.in_(due) & Screen.ended_at.is_null()).execute() if due else 0
        Screen.delete().where(((Screen.paired_at.is_null()) & (Screen.code_expires_at < now - timedelta(days=1)))
                              | (Screen.ended_at < now - timedelta(days=1))).execute()
    return ended
