"""The scheduler mints the screen's official-account check-in QR codes (QR_STR_SCENE `ci_<token>`) a few
slots ahead, so a web request only ever shows what is ready (never calls the API).

Quota: qrcode/create allows 100,000 codes a day per account. One code per slot of an open check-in on a
screen: at 10 s a 2-minute check-in takes 12 (+ AHEAD minted early), so a day's quota is about 8,000
check-in minutes, e.g. 1,600 five-minute check-ins. When WeChat answers 45009 (quota spent) minting stops
for an hour, and the screen falls back to the link QR and says so.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import requests
from peewee import chunked
from wechatpy.exceptions import WeChatClientException

from bot.clock import epoch
from bot.database import ROWS_PER_INSERT, transaction
from bot.links import Links
from bot.wechat_api import TokenError
from handlers.screen import rotation
from handlers.screen.scan import SCENE
from handlers.screen.shown import draw_qr, qr_digest
from models import CHECKIN, OPEN, Activity, CheckinQr, Lesson, QrDrawing, Screen, WechatState

log = logging.getLogger("ketang.screen")

AHEAD = 2  # slots minted (and drawn) beyond the current one
DRAW_PER_RUN = 40  # QR codes the scheduler draws a run (every 2 s, ~5 ms each): 200 rooms' codes per 10-second slot
PAUSE_KEY = "checkin_qr_paused"
QUOTA = 45009


def on_screen(now: datetime) -> list[Activity]:
    """The open check-ins of the classes on a screen now (id and deadline)."""
    screened = Screen.select(Screen.classroom).where(Screen.ended_at.is_null() & Screen.paired_at.is_null(False))
    return list(Activity.select(Activity.id, Activity.deadline).join(Lesson)
                .where((Activity.kind == CHECKIN) & (Activity.status == OPEN) & (Activity.deadline > now)
                       & Lesson.classroom.in_(screened)))


class CheckinQrMinter:
    """Job: for every open check-in of a class on a screen, make the QR codes of this slot and the next ones."""

    __name__ = "mint_checkin_qr"

    def __init__(self, settings, api):
        self.settings, self.api = settings, api

    def __call__(self, now: datetime) -> int:
        CheckinQr.delete().where(CheckinQr.expires_at < now - timedelta(hours=1)).execute()
        paused = WechatState.get_or_none((WechatState.name == PAUSE_KEY) & (WechatState.expires_at > now))
        if paused:
            return 0
        current, made = rotation.slot_at(self.settings, now), 0
        for activity in on_screen(now):
            last = min(current + AHEAD, rotation.slot_at(self.settings, activity.deadline))
            have = {q.slot for q in CheckinQr.select(CheckinQr.slot).where(
                (CheckinQr.activity == activity.id) & (CheckinQr.slot >= current))}
            for slot in range(current, last + 1):
                if slot in have:
                    continue
                # Scannable while the slot is on screen and through a new follower's grace, at least 60 s.
                ends = rotation.slot_ends(self.settings, slot) + self.settings.screen.follow_grace_seconds
                seconds = max(60, ends - epoch(now))
                try:
                    result = self.api.create_join_qr(SCENE + rotation.token(self.settings, activity.id, slot), seconds=seconds)
                except (WeChatClientException, requests.RequestException) as error:
                    log.warning("check-in QR not minted: %s", error)
                    if getattr(error, "errcode", None) == QUOTA:
                        fields = dict(value="45009", expires_at=now + timedelta(hours=1))
                        WechatState.insert(name=PAUSE_KEY, **fields).on_conflict(
                            conflict_target=[WechatState.name], update=fields).execute()
                        log.error("qrcode/create quota spent: screens show the link QR for an hour")
                    if isinstance(error, TokenError) or getattr(error, "errcode", None) == QUOTA:
                        return made
                    continue
                CheckinQr.insert(activity=activity.id, slot=slot, url=result["url"], created_at=now,
                                 expires_at=now + timedelta(seconds=int(result.get("expire_seconds") or seconds))
                                 ).on_conflict_ignore().execute()
                made += 1
        return made



class QrDrawer:
    """Job: draw the QR code of this slot and the next ones for every open check-in on a screen (the official
    one when minted, else the link) into QrDrawing, once for all web workers: a school's screens change codes
    every slot, and each worker encoding each room's code itself cost a burst of check-ins a fifth of its CPU.
    Without a public_url the link is the request's own address, which only a worker knows: workers draw it."""

    __name__ = "draw_checkin_qr"

    def __init__(self, settings):
        self.settings = settings
        self.links = Links(settings.link_secret, settings.server.public_url) if settings.server.public_url else None

    def __call__(self, now: datetime) -> int:
        QrDrawing.delete().where(QrDrawing.expires_at < now).execute()
        current = rotation.slot_at(self.settings, now)
        checkins = on_screen(now)
        minted = {(q.activity_id, q.slot): q.url for q in CheckinQr.select(CheckinQr.activity, CheckinQr.slot, CheckinQr.url)
                  .where(CheckinQr.activity.in_([a.id for a in checkins] or [0]) & (CheckinQr.slot >= current)
                         & (CheckinQr.expires_at > now))}
        wanted = {}
        for slot in range(current, current + AHEAD + 1):  # the soonest first
            for activity in checkins:
                if slot > rotation.slot_at(self.settings, activity.deadline):
                    continue
                content = minted.get((activity.id, slot)) or (
                    self.links and self.links.url(f"/c/{rotation.token(self.settings, activity.id, slot)}"))
                if content:
                    wanted[qr_digest(content)] = (content, rotation.slot_ends(self.settings, slot))
        have = {d for (d,) in QrDrawing.select(QrDrawing.digest).where(QrDrawing.digest.in_(list(wanted) or [""])).tuples()}
        # At most DRAW_PER_RUN a run: every room's code changes at the same second, and drawing them all at once
        # would take the cores from that second's check-ins; drawn AHEAD slots early, they are spread over runs.
        missing = [(digest, content, ends) for digest, (content, ends) in wanted.items() if digest not in have][:DRAW_PER_RUN]
        # Drawn before writing, then written in one short transaction: SQLite's write lock is the check-ins' too.
        rows = [{"digest": digest, "svg": draw_qr(content), "expires_at": now + timedelta(seconds=ends - epoch(now) + 60)}
                for digest, content, ends in missing]
        with transaction():
            for batch in chunked(rows, ROWS_PER_INSERT):
                QrDrawing.insert_many(batch).on_conflict_ignore().execute()
        return len(rows)
