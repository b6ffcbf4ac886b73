"""Signed, expiring links (QR images, exports) built on itsdangerous."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import has_request_context, request
from itsdangerous import BadSignature, URLSafeSerializer

from bot.clock import epoch


class Links:
    """Make and check tokens of the form sign([value, expiry]) for one purpose (salt)."""

    def __init__(self, secret_key: str, public_url: str):
        self.secret_key = secret_key
        self.public_url = public_url.rstrip("/")

    def token(self, purpose: str, value: str, now: datetime, ttl: timedelta) -> str:
        expires = epoch(now + ttl)
        return URLSafeSerializer(self.secret_key, salt=purpose).dumps([value, expires])

    def value(self, purpose: str, token: str, now: datetime) -> str | None:
        """Return the signed value, or None when the token is forged, for another purpose, or expired."""
        try:
            value, expires = URLSafeSerializer(self.secret_key, salt=purpose).loads(token)
        except (BadSignature, ValueError, TypeError):
            return None
        if epoch(now) > int(expires):
            return None
        return str(value)

    def sign(self, purpose: str, value: str) -> str:
        """A signature of *value* that never expires (printed QR codes live for a term)."""
        return URLSafeSerializer(self.secret_key, salt=purpose).dumps(value)

    def unsign(self, purpose: str, token: str) -> str | None:
        """The value signed by sign(), or None when *token* is forged or for another purpose."""
        try:
            value = URLSafeSerializer(self.secret_key, salt=purpose).loads(token)
        except (BadSignature, ValueError, TypeError):
            return None
        return value if isinstance(value, str) else None

    def url(self, path: str) -> str:
        """*path* on public_url, or, when that is not set, on the address the current request came in on.

        Links are made while answering a message (QR, export), so the request is the address actually
        served (`make run PORT=8077` gives :8077 links). Outside a request (the scheduler, the CLI)
        there is no such address: without public_url that is a configuration error, said plainly.
        """
        if self.public_url:
            return self.public_url + path
        if has_request_context():
            return request.host_url.rstrip("/") + path
        raise RuntimeError("[server] public_url is not set: links made outside a request need it")

