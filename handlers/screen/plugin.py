"""Everything the classroom screen adds, in one place, shaped like bot/plugin.py's Plugin fields
(commands, events, scenes, jobs, blueprints, replies), so it can be registered as `CLASSROOM + SCREEN`.
Until that seam exists, the lines marked `# screen:` in bot/ and handlers/ hook these in."""

from __future__ import annotations

from bot.grammar import Arg, Command, Role, en, zh
from handlers.screen import pairing, scan, view
from handlers.screen.pairing import touched  # noqa: F401  (the dispatcher bumps screens after each message)
from handlers.screen.replies import REPLIES  # noqa: F401

SCREEN_CODE = Arg("code", r"\d{6}", "投屏码", "screen code", optional=True)
POST_NO = Arg("number", r"[1-9]\d{0,2}", "序号", "n", int)

COMMANDS: tuple[Command, ...] = (
    Command("screen", pairing.pair, zh("投屏") + en("screen"), (SCREEN_CODE,),
            Role.TEACHER, "投屏到教室电脑（结束投屏、隐藏 <n>）", "make the classroom PC the class's screen (alone: how)",
            ("投屏", "投屏 123456", "screen 123456"), brief=False),
    Command("end_screen", pairing.unpair, zh("结束投屏") + en("end screen"), (),
            Role.TEACHER, "结束投屏", "turn the classroom screen off", ("结束投屏", "end screen"), brief=False),
    Command("hide", pairing.hide, zh("隐藏") + en("hide"), (POST_NO,),
            Role.TEACHER, "从屏幕上隐藏第 n 条发言", "hide post n from the screen", ("隐藏 3", "hide 3"), brief=False),
)

SCENE = scan.SCENE
SCENES = {SCENE: scan.scene}  # QR scene prefix → handler(ctx, rest)
EVENTS = {"scancode_waitmsg": scan.scanner, "scancode_push": scan.scanner}  # event → handler(ctx, event_key)
JOBS = (("end_screens", pairing.end_screens, 30),)  # (name, run(now), seconds); the QR minter joins with the API
BLUEPRINTS = (view.bp,)
MIDDLEWARE = (view.NotModified,)  # wsgi_app wrappers (app, ketang): an unchanged screen's poll never reaches Flask


def jobs(settings, api) -> tuple:
    """The scheduler's jobs as today's (job, seconds) pairs: JOBS, plus the check-in QR minter with the API."""
    from handlers.screen.minting import CheckinQrMinter

    named = []
    for name, run, seconds in JOBS:
        run.__name__ = name
        named.append((run, seconds))
    if api is not None:
        named.append((CheckinQrMinter(settings, api), 2))
    return tuple(named)
