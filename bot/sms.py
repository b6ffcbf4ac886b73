"""The SMS backend for phone verification codes: console (log it) or http (POST JSON)."""

from __future__ import annotations

import logging

import requests

from bot.config import SmsSettings

log = logging.getLogger("ketang.sms")


class SmsSender:
    def __init__(self, settings: SmsSettings):
        self.settings = settings

    def send(self, phone: str, text: str) -> bool:
        """Send *text* to *phone*; return whether the backend accepted it (failures are logged)."""
        if self.settings.backend == "console":
            log.warning("SMS to %s: %s", phone, text)
            print(f"[sms to {phone}] {text}", flush=True)
            return True
        try:
            # at most about 4 s: under WeChat's 5 s
            response = requests.post(self.settings.url, json={"phone": phone, "text": text}, timeout=(1.5, 2.5))
            response.raise_for_status()
            return True
        except requests.RequestException:
            log.exception("SMS gateway refused the message to %s", phone[:3] + "****" + phone[-4:])
            return False
