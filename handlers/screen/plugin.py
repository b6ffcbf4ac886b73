"""Everything the classroom screen adds, declared as one Plugin: handlers/plugin.py runs it as `CLASSROOM + SCREEN`."""

from __future__ import annotations

from bot.grammar import Arg, Command, Role, en, zh
from bot.plugin import Job, Plugin
from handlers.extension_points import ATTENDANCE_NOTES, CHECKIN_JUDGES, CHECKIN_ROTATORS
from handlers.scope import LESSON  # any of a class's staff may run its screen
from handlers.screen import moderation, pairing, rotation, scan, view
from handlers.screen.minting import CheckinQrMinter, QrDrawer
from handlers.screen.replies import REPLIES

SCREEN_CODE = Arg("code", r"\d{6}", "投屏码", "screen code", optional=True)
POST_NO = Arg("number", r"[1-9]\d{0,2}", "序号", "n", int)
REVIEW = Arg("state", r"开|关|on|off", "开|关", "on|off")
APPROVE = Arg("which", r"[1-9]\d{0,2}|全部|all", "序号|全部", "n|all")
ON_SCREEN = Arg("where", r"投屏|screen", "投屏", "screen", optional=True)

COMMANDS: tuple[Command, ...] = (
    Command(name="screen", handler=pairing.pair, aliases=zh("投屏") + en("screen"),
            args=(SCREEN_CODE,), role=Role.TEACHER, staff=LESSON, summary_zh="投屏到教室电脑（结束投屏、隐藏 <n>）",
            summary_en="make the classroom PC the class's screen (alone: how)",
            examples=("投屏", "投屏 123456", "screen 123456"), brief=False),
    Command(name="end_screen", handler=pairing.unpair, aliases=zh("结束投屏") + en("end screen"),
            role=Role.TEACHER, staff=LESSON, summary_zh="结束投屏", summary_en="turn the classroom screen off",
            examples=("结束投屏", "end screen"), brief=False),
    Command(name="hide", handler=moderation.hide, aliases=zh("隐藏") + en("hide"),
            args=(POST_NO,), role=Role.TEACHER, staff=LESSON,
            summary_zh="从屏幕上隐藏第 n 条发言", summary_en="hide post n from the screen",
            examples=("隐藏 3", "hide 3"), brief=False),
    Command(name="review", handler=moderation.review, aliases=zh("审核") + en("review"),
            args=(REVIEW,), role=Role.TEACHER, staff=LESSON, summary_zh="讨论墙审核：开则发言经「通过」才上屏",
            summary_en="approval mode for the discussion wall: posts reach the screen after “approve”",
            examples=("审核 开", "审核 关", "review on"), brief=False),
    Command(name="approve_post", handler=moderation.approve, aliases=zh("通过") + en("show post"),
            args=(APPROVE,), role=Role.TEACHER, staff=LESSON, summary_zh="把第 n 条（或全部）待审发言放上屏幕",
            summary_en="put waiting post n (or all) on the screen", examples=("通过 3", "通过 全部", "show post all"),
            brief=False),
    Command(name="missing", handler=moderation.missing, aliases=zh("未到") + en("missing"),
            args=(ON_SCREEN,), role=Role.TEACHER, staff=LESSON, summary_zh="未到名单（加「投屏」：屏幕只显示人数）",
            summary_en="who is missing (with “screen”: the screen shows the count alone)",
            examples=("未到", "未到 投屏", "missing screen"), brief=False),
    Command(name="cloud", handler=moderation.cloud, aliases=zh("词云") + en("cloud"),
            role=Role.TEACHER, staff=LESSON,
            summary_zh="屏幕显示讨论的词云", summary_en="show the discussion as a word cloud on the screen",
            examples=("词云", "cloud"), brief=False),
)


def mint_checkin_qr_job(settings, api) -> Job | None:
    """Mint the screen's official-account check-in QR codes ahead (needs the WeChat API: an app_secret)."""
    return Job("mint_checkin_qr", CheckinQrMinter(settings, api), 2) if api else None


SCREEN = Plugin(
    commands=COMMANDS,
    # The official-account QR on the screen (SCAN, or subscribe for a new follower) is `ci_<token>`.
    scenes={scan.SCENE: scan.scene},
    # The menu's scanner reading the screen's link QR (or its official QR's URL): answered as that scene.
    scan_readers=(scan.read_scanned,),
    # The scheduler mints (with the API) and draws the coming slots' check-in QR codes: no web worker encodes one.
    jobs=(Job("end_screens", pairing.end_screens, 30), mint_checkin_qr_job,
          lambda settings, _api: Job("draw_checkin_qr", QrDrawer(settings), 2)),
    blueprints=(view.bp,),
    middleware=(view.NotModified,),  # a screen's poll answered before Flask: 304 if unchanged, the counts if only they changed
    # What a message changed shows on its class's screen (bump the version); a teacher's screen follows them
    # to the class they are teaching now.
    message_hooks=(pairing.touched, pairing.follow),
    user_reads={"on_screen": pairing.on_screen},  # read with the touch: the hook skips a sender with no screen on
    replies=REPLIES,
    # What the classroom asks of a screen without importing it: a class on a screen checks in with the screen's
    # rotating code (which the screen judges), and 签到情况 says who sent a code after it rotated out.
    extensions={CHECKIN_ROTATORS: (pairing.rotator,), CHECKIN_JUDGES: (rotation.judge,),
                ATTENDANCE_NOTES: (rotation.stale_note,)},
)
