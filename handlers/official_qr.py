"""Official-account QR codes for classes: created and renewed by the scheduler, never in a request."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import requests
from wechatpy.exceptions import WeChatClientException

from bot.wechat_api import TokenError
from models import ClassQr, Classroom

log = logging.getLogger("ketang.qr")

RENEW_BEFORE = timedelta(days=3)  # a QR code lives 30 days; replace it well before it dies
PER_RUN = 50


def ready_qr(classroom_id: int, now: datetime) -> ClassQr | None:
    """The class's official QR code while it is valid, else None."""
    return ClassQr.get_or_none((ClassQr.classroom == classroom_id) & (ClassQr.expires_at > now))


class QrRenewer:
    """The renew_class_qr job: give every class a temporary QR_STR_SCENE code `join_<code>`."""

    def __init__(self, api):
        self.api = api

    def __call__(self, now: datetime) -> int:
        """Create or renew up to PER_RUN codes that are missing or expire within RENEW_BEFORE."""
        fresh = ClassQr.select(ClassQr.classroom).where(ClassQr.expires_at > now + RENEW_BEFORE)
        due = list(Classroom.select().where(Classroom.id.not_in(fresh)).order_by(Classroom.id).limit(PER_RUN))
        made = 0
        for classroom in due:
            try:
                result = self.api.create_join_qr(f"join_{classroom.code}")
            except (WeChatClientException, requests.RequestException) as error:
                log.warning("QR code for class %s not created: %s", classroom.code, error)
                if isinstance(error, TokenError) or getattr(error, "errcode", None) == 45009:
                    break  # no token, or the daily quota is spent: the next runs try again
                continue
            save(classroom, result, now)
            made += 1
        if made:
            log.info("created %d class QR codes", made)
        return made


def save(classroom: Classroom, result: dict, now: datetime) -> None:
    """Store the QR code WeChat made for *classroom*, replacing the old one."""
    fields = dict(ticket=result["ticket"], url=result["url"], created_at=now,
                  expires_at=now + timedelta(seconds=int(result.get("expire_seconds") or 0)))
    (ClassQr.insert(classroom=classroom, **fields)
     .on_conflict(conflict_target=[ClassQr.classroom], update=fields)
     .execute())
