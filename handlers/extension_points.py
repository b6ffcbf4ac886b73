"""The classroom's extension points: what another plugin (the classroom screen) may add to the classroom
through `Plugin.extensions`, so the classroom never imports it (tests/test_plugin.py checks that).

Each name maps to a tuple of functions; the classroom asks them in turn through `ctx.extension(name)`.
"""

from __future__ import annotations

# f(ctx, classroom) -> str | None: when a check-in opened now in *classroom* gets a rotating code this plugin
# shows and judges (Activity.rotating), the note for the teacher's reply; None: not this plugin's.
CHECKIN_ROTATORS = "checkin_rotators"
# f(ctx, activity, code, at) -> str | None, for a rotating check-in: "" the code is good at *at* (the time the
# message was sent, which may be earlier than ctx.now), a refusal to send (a real code that left the screen:
# no try is used up), or None when *code* was never this check-in's (a wrong code: it costs a try).
CHECKIN_JUDGES = "checkin_judges"
# f(ctx, checkins) -> str: a line 签到情况 adds about the lesson's *checkins* ('' for nothing to say).
ATTENDANCE_NOTES = "attendance_notes"


def rotating_note(ctx, classroom) -> str | None:
    """The teacher's note when a plugin will show a rotating code for a check-in opened now (None: none will)."""
    for rotator in ctx.extension(CHECKIN_ROTATORS):
        note = rotator(ctx, classroom)
        if note is not None:
            return note
    return None


def judge_code(ctx, activity, code: str, at) -> str | None:
    """The first judge's verdict on *code* for the rotating *activity* (None: no judge knows it)."""
    for judge in ctx.extension(CHECKIN_JUDGES):
        verdict = judge(ctx, activity, code, at)
        if verdict is not None:
            return verdict
    return None


def attendance_notes(ctx, checkins) -> str:
    return "".join(note(ctx, checkins) for note in ctx.extension(ATTENDANCE_NOTES))
