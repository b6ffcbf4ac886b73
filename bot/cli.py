"""Command-line tools: what to paste into WeChat, a terminal chat through the real webhook path, and a plugin's."""

from __future__ import annotations

from urllib.parse import urlsplit

import click
import requests

from bot.config import loopback_name
from bot.config import simulator_on as enabled
from bot.wxsim import WeChatSimulator


def same_server(url: str, served: str) -> bool:
    """Whether *url* reaches the server at *served*: same scheme and port, and the same host (any two loopback
    names count as one: 127.0.0.1 and localhost)."""
    a, b = urlsplit(url), urlsplit(served)
    hosts = a.hostname == b.hostname or (loopback_name(a.hostname or "") and loopback_name(b.hostname or ""))
    return a.scheme == b.scheme and a.port == b.port and hosts


def init_app(app, commands: tuple[click.Command, ...] = ()) -> None:
    """Register the machinery's commands (info, chat) and *commands* (a plugin's)."""
    for command in commands:
        app.cli.add_command(command)

    @app.cli.command("info")
    @click.option("--local", default="http://127.0.0.1:8000/wechat", show_default=True,
                  help="The webhook of the server started beside it (the chat line; the URL when public_url is unset).")
    def info_command(local: str):
        """Print what to paste into the official account's admin page, and how to try the bot."""
        kt = app.extensions["ketang"]
        wechat = kt.settings.wechat
        click.echo("Paste into 公众号后台 → 设置与开发 → 基本配置 → 服务器配置:")
        public = kt.settings.server.public_url.rstrip("/")
        # Without public_url, links follow the address served, which --local names (make run passes HOST:PORT).
        click.echo(f"  URL            {public + '/wechat' if public else local}")
        click.echo(f"  Token          {wechat.token}")
        click.echo(f"  EncodingAESKey {wechat.encoding_aes_key or '(empty: plaintext mode)'}")
        click.echo(f"  消息加解密方式  {'安全模式 (safe mode)' if wechat.safe_mode else '明文模式 (plaintext)'}")
        if not wechat.safe_mode:
            click.echo("WARNING: plaintext mode: the signature does not cover the message body, so anyone who sees "
                       "one request's URL can send any text as any user. Set encoding_aes_key and choose 安全模式.")

        if enabled(kt.settings):
            click.echo(f"Try it in a browser (phones, menu, pushes, screen): {local.rsplit('/wechat', 1)[0]}/simulator")
        if "/simulator/api" in wechat.api_base_url:
            click.echo(f"  WeChat API: this server's simulator ({wechat.api_base_url}); for a real account set "
                       "wechat.api_base_url = \"https://api.weixin.qq.com\" and the real app_secret")
            served = local.rsplit("/wechat", 1)[0]
            if not same_server(wechat.api_base_url, served):  # e.g. `make run PORT=` after a first run
                click.echo(f"WARNING: [wechat] api_base_url is {wechat.api_base_url}, but this server runs at {served}: "
                           f"pushes would go nowhere. Set api_base_url = \"{served}/simulator/api\" in config.toml.",
                           err=True)
        click.echo("Try it without WeChat, in another terminal:")
        click.echo("  .venv/bin/flask --app app make-teacher o_teacher")
        click.echo(f"  .venv/bin/flask --app app chat --as o_teacher --url {local}")

    @app.cli.command("chat")
    @click.option("--as", "openid", required=True, help="The openid to chat as (any string, e.g. o_teacher).")
    @click.option("--url", default=None, help="A running server's webhook, e.g. http://127.0.0.1:8000/wechat. "
                  "Default: this app in-process.")
    def chat_command(openid: str, url: str | None):
        """Chat with the bot in the terminal, signed (and encrypted in safe mode) like WeChat."""
        sim = simulator(app, url)
        mode = "safe mode (AES)" if app.extensions["ketang"].settings.wechat.safe_mode else "plaintext mode"
        click.echo(f"Chatting as {openid} via {url or 'the app in-process'}, {mode}.")
        click.echo("Type commands (帮助 for help). /scan <code> scans a class QR, /follow [code] follows, "
                   "/as <openid> switches user, /quit leaves.")
        while True:
            try:
                line = input(f"{openid}> ").strip()
            except EOFError:
                break
            if not line:
                continue
            if line in ("/quit", "/exit"):
                break
            if line.startswith("/as "):
                openid = line[4:].strip() or openid
                continue
            try:
                reply = _send(sim, openid, line)
            except Exception as exc:  # a dead server or a refused request: say so, keep chatting
                reply = f"[error] {exc}"
            click.echo(reply or "[no reply]")


def _send(sim, openid: str, line: str) -> str:
    if line.startswith("/scan "):
        return sim.send_event(openid, "SCAN", line[6:].strip())
    if line.startswith("/follow"):
        scene = line[7:].strip()
        return sim.send_event(openid, "subscribe", f"qrscene_{scene}" if scene else None)
    return sim.send_text(openid, line)


def simulator(app, url: str | None):
    """A WeChatSimulator posting to *url*, or to *app* through its test client."""
    kt = app.extensions["ketang"]
    if url:
        def post(query, body):
            response = requests.post(url, params=query, data=body, headers={"Content-Type": "text/xml"}, timeout=10)
            return response.status_code, response.content
        return WeChatSimulator(kt.settings, post, now=kt.epoch)
    return WeChatSimulator.in_process(app)
