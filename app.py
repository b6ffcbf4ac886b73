"""The WSGI factory: `flask --app app run`, `gunicorn 'app:create_app()'`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from wechatpy.crypto import WeChatCrypto

from bot import catalogue, cli, database, health, scheduler, webhook
from bot.clock import Clock, epoch, utc_now
from bot.config import Settings, load_settings, settings_from_dict
from bot.dispatch import Dispatcher
from bot.links import Links
from bot.plugin import Plugin
from bot.sms import SmsSender
from handlers.plugin import EVERYTHING

log = logging.getLogger("ketang")


@dataclass
class Ketang:
    """What the webhook, the CLI and the scheduler share: settings, clock, crypto, links, dispatcher, plugin."""

    settings: Settings
    clock: Clock
    crypto: WeChatCrypto | None
    links: Links
    dispatcher: Dispatcher
    plugin: Plugin

    def epoch(self) -> int:
        return epoch(self.clock())


def create_app(config: Settings | dict | str | Path | None = None, clock: Clock | None = None,
               plugin: Plugin = EVERYTHING) -> Flask:
    """Build the app from *config* (Settings, a TOML mapping, a path, or None for config.toml) running *plugin*."""
    if isinstance(config, Settings):
        settings = config
    elif isinstance(config, dict):
        settings = settings_from_dict(config)
    else:
        settings = load_settings(config)
    clock = clock or utc_now
    app = Flask(__name__)
    app.config.update(KETANG=settings, MAX_CONTENT_LENGTH=webhook.MAX_BODY)
    wechat = settings.wechat
    if not wechat.safe_mode:
        log.warning("PLAINTEXT MODE (wechat.encoding_aes_key is empty): WeChat's signature does not cover the "
                    "message body, so anyone who sees one request's URL can send any text as any user for "
                    "%d s. Set encoding_aes_key and choose 安全模式 in the admin page.", wechat.max_clock_skew_seconds)
    crypto = WeChatCrypto(wechat.token, wechat.encoding_aes_key, wechat.app_id) if wechat.safe_mode else None
    links = Links(settings.link_secret, settings.server.public_url)
    catalogue.register(plugin.replies, plugin.commands)
    dispatcher = Dispatcher(settings, links, clock, SmsSender(settings.sms), plugin)
    app.extensions["ketang"] = Ketang(settings, clock, crypto, links, dispatcher, plugin)

    database.init_app(app)
    app.register_blueprint(webhook.bp)
    health.init_app(app)  # /healthz, and 503 pages when the database is down, read-only or full
    for blueprint in plugin.blueprints:
        app.register_blueprint(blueprint)
    for middleware in plugin.middleware:  # outermost last: each wraps what is there so far
        app.wsgi_app = middleware(app.wsgi_app, app.extensions["ketang"])
    cli.init_app(app, plugin.cli)
    scheduler.init_app(app)

    return app
