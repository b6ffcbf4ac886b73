"""The WeChat API as the scheduler process uses it.

wechatpy's client pointed at `[wechat] api_base_url`, the access token kept in the database (one
owner, shared by every thread), no auto-retry: a token error refreshes once and retries once.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import requests
from requests.adapters import HTTPAdapter
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session import SessionStorage

from bot.config import WechatSettings
from models import WechatState

log = logging.getLogger("ketang.wechat")

TOKEN_ERRORS = {40001, 40014, 42001}  # invalid credential, invalid token, expired token
TOKEN_MARGIN = timedelta(seconds=60)  # never hand out a token about to expire
TOKEN_COOLDOWN = timedelta(seconds=30)  # after a failed token request, fail fast for this long
QR_SECONDS = 30 * 24 * 3600  # the longest a temporary QR code lives


class TokenError(WeChatClientException):
    """No access token could be had (wrong secret, IP not whitelisted, API unreachable): stop calling for now."""


class DbTokenStorage(SessionStorage):
    """wechatpy session storage in the WechatState table, expiry judged by the injected clock."""

    def __init__(self, clock):
        self.clock = clock

    def get(self, key, default=None):
        row = WechatState.get_or_none(WechatState.name == key)
        if row and row.value and row.expires_at and row.expires_at > self.clock() + TOKEN_MARGIN:
            return row.value
        return default

    def set(self, key, value, ttl=None):
        expires = self.clock() + timedelta(seconds=int(ttl or 7200))
        (WechatState.insert(name=key, value=value, expires_at=expires)
         .on_conflict(conflict_target=[WechatState.name], update={WechatState.value: value, WechatState.expires_at: expires})
         .execute())

    def delete(self, key):
        WechatState.delete().where(WechatState.name == key).execute()


class WechatApi(WeChatClient):
    """A wechatpy client for one official account, safe to share between threads."""

    def __init__(self, settings: WechatSettings, clock, timeout: float = 10, pool: int = 8):
        super().__init__(settings.app_id, settings.app_secret, session=DbTokenStorage(clock),
                         timeout=timeout, auto_retry=False)
        self.base = settings.api_base_url.rstrip("/")
        self.API_BASE_URL = self.base + "/cgi-bin/"
        self._http.mount(self.base, HTTPAdapter(pool_connections=1, pool_maxsize=pool))
        self._lock = threading.Lock()
        self.stable = True  # use /cgi-bin/stable_token until the server says it has none
        self.clock = clock
        self.failed = None  # (until, (errcode, errmsg)) after a failed token request

    def fetch_access_token(self, stale: str | None = None) -> str:
        """Store a fresh access token, unless another thread already replaced *stale*."""
        with self._lock:
            current = self.session.get(self.access_token_key)
            if current and current != stale:
                return current
            if self.failed and self.failed[0] > self.clock():
                raise TokenError(*self.failed[1], client=self)  # failed a moment ago: do not ask again per thread
            try:
                data = self._fetch(stale)
            except (WeChatClientException, requests.RequestException) as error:
                reason = (getattr(error, "errcode", None), getattr(error, "errmsg", None) or f"{type(error).__name__}: {error}")
                self.failed = (self.clock() + TOKEN_COOLDOWN, reason)
                raise TokenError(*reason, client=self) from error
            self.failed = None
            self.session.set(self.access_token_key, data["access_token"], data.get("expires_in", 7200))
            log.info("fetched an access token (%s)", "stable_token" if self.stable else "token")
            return data["access_token"]

    def _fetch(self, stale: str | None) -> dict:
        data = self._stable_token(force=False) if self.stable else None
        if data is not None and stale and data["access_token"] == stale:
            data = self._stable_token(force=True)  # the platform says it is invalid: a new one
        return data if data is not None else self._token()

    def _stable_token(self, force: bool) -> dict | None:
        body = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret, "force_refresh": force}
        response = self._http.post(self.base + "/cgi-bin/stable_token", json=body, timeout=self.timeout)
        if response.status_code in (404, 405, 501):
            log.warning("no /cgi-bin/stable_token at %s: falling back to /cgi-bin/token", self.base)
            self.stable = False
            return None
        return _token_result(self, response)

    def _token(self) -> dict:
        params = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
        return _token_result(self, self._http.get(self.base + "/cgi-bin/token", params=params, timeout=self.timeout))

    def call(self, send):
        """Run send(); on a token error refresh the token once and run it once more."""
        token = self.access_token
        try:
            return send()
        except WeChatClientException as error:
            if error.errcode not in TOKEN_ERRORS:
                raise
            log.warning("token rejected (%s): refreshing once", error.errcode)
            self.fetch_access_token(stale=token)
            return send()

    def send_text(self, openid: str, text: str) -> None:
        """Send a customer-service text message."""
        self.call(lambda: self.message.send_text(openid, text))

    def send_template(self, openid: str, template_id: str, data: dict, url: str | None = None) -> str:
        """Send a template message; return its MsgID."""
        result = self.call(lambda: self.message.send_template(openid, template_id, data, url=url))
        return str(result.get("msgid", ""))

    def create_join_qr(self, scene: str, seconds: int = QR_SECONDS) -> dict:
        """Create a temporary string-scene QR code; return {ticket, url, expire_seconds}."""
        body = {"expire_seconds": seconds, "action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": scene}}}
        return self.call(lambda: self.qrcode.create(body))


def _token_result(client, response: requests.Response) -> dict:
    """Return the token JSON, raising WeChatClientException on an HTTP or API error."""
    if response.status_code >= 400:
        raise WeChatClientException(None, f"HTTP {response.status_code}", client=client, response=response)
    data = response.json()
    if data.get("errcode") or "access_token" not in data:
        raise WeChatClientException(data.get("errcode"), data.get("errmsg", "no access_token"), client=client, response=response)
    return data
