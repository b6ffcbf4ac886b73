"""The WSGI factory: `flask --app app run`, `gunicorn 'app:create_app()'`."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, jsonify
from wechatpy.crypto import WeChatCrypto

from bot import cli, database, exports, menu, qr, scheduler, simulator, webhook
from bot.clock import epoch, utc_now
from bot.config import Settings, load_settings, settings_from_dict
from bot.dispatch import Dispatcher
from bot.links import Links
from bot.sms import SmsSender
from models import db

log = logging.getLogger("ketang")


@dataclass
class Ketang:
    """What the webhook and the CLI share: settings, clock, crypto, links and the dispatcher."""

    settings: Settings
    clock: object
    crypto: WeChatCrypto | None
    links: Links
    dispatcher: Dispatcher

    def epoch(self) -> int:
        return epoch(self.clock())


def create_app(config: Settings | dict | str | Path | None = None, clock=None) -> Flask:
    """Build the app from *config* (Settings, a TOML mapping, a path, or None for config.toml)."""
    if isinstance(config, Settings):
        settings = config
    elif isinstance(config, dict):
        settings = settings_from_dict(config)
    else:
        settings = load_settings(config)
    clock = clock or utc_now
    app = Flask(__name__)
    app.config.update(KETANG=settings, MAX_CONTENT_LENGTH=webhook.MAX_BODY)
    secret = settings.server.secret_key
    if not secret:
        log.warning("server.secret_key is empty: QR links will stop working when this process restarts")
        secret = secrets.token_urlsafe(32)
    wechat = settings.wechat
    crypto = WeChatCrypto(wechat.token, wechat.encoding_aes_key, wechat.app_id) if wechat.safe_mode else None
    links = Links(secret, settings.server.public_url)
    dispatcher = Dispatcher(settings, links, clock, SmsSender(settings.sms))
    app.extensions["ketang"] = Ketang(settings, clock, crypto, links, dispatcher)

    database.init_app(app)
    app.register_blueprint(webhook.bp)
    app.register_blueprint(qr.bp)
    app.register_blueprint(exports.bp)
    cli.init_app(app)
    menu.init_app(app)  # menu: `flask --app app menu`
    simulator.init_app(app)  # simulator: /simulator, local only
    scheduler.init_app(app)

    @app.get("/healthz")
    def healthz():
        try:
            db.execute_sql("SELECT 1")
        except Exception:
            log.exception("health check: database unreachable")
            return jsonify(status="error", database="unreachable"), 503
        return jsonify(status="ok", database="ok")

    return app
