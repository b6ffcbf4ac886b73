"""Command-line tools: make-teacher, and a terminal chat through the real webhook path."""

from __future__ import annotations

import click

from bot.database import transaction
from bot.dispatch import touch_user


def init_app(app) -> None:
    @app.cli.command("make-teacher")
    @click.argument("openid")
    @click.option("--school", default=None, help="The teacher's school (as named in import-roster).")
    def make_teacher_command(openid: str, school: str | None):
        """Make the account OPENID a teacher (it leaves any class it joined as a student)."""
        from handlers.common import make_teacher
        from models import School

        kt = app.extensions["ketang"]
        with transaction():
            found = School.get_or_none(School.name == school) if school else None
            if school and found is None:
                raise click.ClickException(f"no school named {school!r}: import its roster first")
            user = touch_user(openid, kt.clock())
            left = make_teacher(user, kt.clock(), found)
        click.echo(f"{openid} is now a teacher" + (f" (left {left} class(es) joined as a student)" if left else ""))

    @app.cli.command("import-roster")
    @click.argument("school")
    @click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
    def import_roster_command(school: str, csv_file: str):
        """Load SCHOOL's roster from CSV_FILE (UTF-8 or GBK CSV, or .xlsx; student_no,name,auth_code or
        学号,姓名,认证码); all rows or none."""
        from handlers.roster import RosterError, import_roster

        kt = app.extensions["ketang"]
        try:
            with open(csv_file, "rb") as handle, transaction():
                result = import_roster(school, handle.read(), kt.clock())
        except RosterError as error:
            raise click.ClickException(f"{csv_file}: {error}; nothing was imported") from None
        click.echo(f"{school}: {result.added} added, {result.updated} updated")

    @app.cli.command("release-student")
    @click.argument("school")
    @click.argument("student_no")
    def release_student_command(school: str, student_no: str):
        """Undo the verification of STUDENT_NO at SCHOOL so its rightful owner can verify."""
        from handlers.roster import release_student

        with transaction():
            holder = release_student(school, student_no, who="admin (CLI)")
        if holder is None:
            raise click.ClickException(f"{school} {student_no} is not verified by any account")
        click.echo(f"released {school} {student_no} from account {holder.openid} (now 未认证)")

    @app.cli.command("release-phone")
    @click.argument("phone")
    def release_phone_command(phone: str):
        """Unbind PHONE from whichever account holds it (lost phone or lost WeChat account)."""
        from handlers.roster import release_phone

        with transaction():
            holder = release_phone(phone)
        if holder is None:
            raise click.ClickException(f"{phone[:3]}****{phone[-4:]} is not bound to any account")
        click.echo(f"unbound {phone[:3]}****{phone[-4:]} from account {holder.openid}")

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
        from bot.simulator import enabled  # simulator:

        if enabled(kt.settings):
            click.echo(f"Try it in a browser (phones, menu, pushes, screen): {local.rsplit('/wechat', 1)[0]}/simulator")
        if "/simulator/api" in wechat.api_base_url:
            click.echo(f"  WeChat API: this server's simulator ({wechat.api_base_url}); for a real account set "
                       "wechat.api_base_url = \"https://api.weixin.qq.com\" and the real app_secret")
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
    from bot.wxsim import WeChatSimulator

    kt = app.extensions["ketang"]
    if url:
        import requests

        def post(query, body):
            response = requests.post(url, params=query, data=body, headers={"Content-Type": "text/xml"}, timeout=10)
            return response.status_code, response.content
    else:
        client = app.test_client()

        def post(query, body):
            response = client.post("/wechat", query_string=query, data=body, content_type="text/xml")
            return response.status_code, response.get_data()

    return WeChatSimulator(kt.settings, post, now=kt.epoch)
