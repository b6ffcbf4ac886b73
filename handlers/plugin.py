"""The classroom, plugged into the machinery: everything it adds, declared in one place.

`app.create_app()` passes EVERYTHING to the machinery by default: CLASSROOM plus the features that declare
their own Plugin and are added with `+` (the classroom screen, handlers/screen/plugin.py).
"""

from __future__ import annotations

from functools import partial

from bot.grammar import Grammar
from bot.plugin import Job, Plugin
from handlers import (
    attendance,
    cli,
    events,
    exports,
    gradebook_page,
    menu,
    privacy,
    qr,
    requests,
    scheduled_announcements,
    simulator,
    student,
    teacher,
    team,
    warnings,
)
from handlers.commands import COMMANDS, FLOWS
from handlers.official_qr import QrRenewer
from handlers.replies import REPLIES
from handlers.screen.plugin import SCREEN
from handlers.upgrades import bank_past_questions, upgrade_rows


def end_stale_lessons_job(settings, api) -> Job:
    """End lessons left open longer than the configured `lesson_max_hours`."""
    return Job("end_stale_lessons", partial(teacher.end_stale_lessons, max_hours=settings.scheduler.lesson_max_hours), 60)


def renew_class_qr_job(settings, api) -> Job | None:
    """Give every class an official-account QR code (needs the WeChat API: an app_secret)."""
    return Job("renew_class_qr", QrRenewer(api), 60) if api else None


CLASSROOM = Plugin(
    commands=COMMANDS,
    flows=FLOWS,
    events={"subscribe": events.subscribe, "subscribe_scan": events.subscribe_scan},
    # What the menu's scanner read, when it is a QR the classroom draws, or text meaning 加入/签到.
    scan_readers=(events.read_scanned, partial(events.read_scanned_command, Grammar(COMMANDS))),
    # Text no command reads, outside a dialog: a bare B / AC / 对 answers the open quiz or survey; a bare
    # 6-digit number from a student in no class is likely a class code.
    fallbacks=(student.bare_answer, student.bare_class_code),
    # The class QR the scheduler makes is `join_<code>`; a bare code (older QR codes, `/scan` in the chat) too.
    scenes={"join_": student.join_by_scene, "": student.join_by_scene},
    jobs=(
        Job("close_due_activities", teacher.close_due_activities, 5),
        Job("close_roll_calls", attendance.close_roll_calls, 10),
        Job("publish_due_announcements", scheduled_announcements.publish_due_announcements, 5),
        end_stale_lessons_job,
        renew_class_qr_job,
        requests.requests_job,
        warnings.digest_job,
        privacy.retention_job,
    ),
    cli=cli.COMMANDS + (privacy.purge_user_command,),
    blueprints=(qr.bp, exports.bp, gradebook_page.bp, privacy.bp),
    replies=REPLIES,
    upgrades=(upgrade_rows, bank_past_questions),
    user_reads={"staff": team.assists},  # read with the touch: whether the sender assists a class (handlers/team.py)
)

# menu: the official account's custom menus (`flask --app app menu`) and the job that tags teachers for theirs.
MENU = Plugin(cli=(menu.menu_command,), jobs=(menu.tag_teachers_job,))
# simulator: the web simulator, local only (handlers/simulator.py).
SIMULATOR = Plugin(blueprints=(simulator.bp,))
EVERYTHING = CLASSROOM + SCREEN + MENU + SIMULATOR  # what `app.create_app()` runs
