"""Data that leaves when it should (README "Data and privacy").

- Retention: `[privacy] retention_days` after a class was archived (Classroom.archived_at), the scheduler
  replaces its students' records by counts (Tally rows: per check-in status, quiz right/wrong, survey answer,
  posts, 不懂, 点名, members) and deletes the rows that named someone; each class once, by one scheduler.
- 我的数据 / my data: a short-lived signed link to a JSON (or CSV) of everything Ketang holds about the sender.
- 注销 / delete me (a dialog: the user types the confirmation) and `flask --app app purge-user <openid>`: the
  account is deleted; its past answers, check-ins, posts and requests stay as rows of a new anonymous
  placeholder account (no openid of theirs, no name, phone or number; free texts blanked), so the teachers'
  counts stay right and name nobody.

Which tables: every model with a foreign key to User is handled by `erase_user` from the key itself (kept
and re-pointed to the placeholder when listed in KEPT, set NULL when nullable, else deleted), and every table
with an `openid` column loses the person's rows, so a table added later is covered without a change here.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import secrets
from datetime import datetime, timedelta

import click
from flask import Blueprint, abort, current_app
from flask import Response as HttpResponse
from flask.cli import with_appcontext
from peewee import ForeignKeyField, chunked, fn

from bot.context import Context, UserError
from bot.database import ROWS_PER_INSERT, reading, transaction
from bot.jobs import claim_each
from bot.plugin import Job
from bot.text import normalize
from handlers.records import spreadsheet_safe
from models import (
    CHECKIN,
    DISCUSSION,
    ERASED_PREFIX,
    MODELS,
    NOT_GIVEN,
    QUIZ,
    STUDENT,
    SURVEY,
    AbsenceRequest,
    Activity,
    AttendanceChange,
    BankQuestion,
    Classroom,
    ClassStaff,
    FailedAttempt,
    InboundMessage,
    Lesson,
    LostSignal,
    Membership,
    Outbox,
    Post,
    Response,
    RiskMark,
    RollCall,
    RosterEntry,
    School,
    Screen,
    Section,
    SectionSeat,
    SimMessage,
    SmsLog,
    StaleCode,
    Tally,
    User,
)

log = logging.getLogger("ketang.privacy")
bp = Blueprint("privacy", __name__)
CONFIRM_TTL = timedelta(minutes=5)
# What the confirmation step must be answered with (case-insensitive); no command reads these.
CONFIRM_WORDS = {"确认注销", "erase me"}


# --- retention ----------------------------------------------------------------------------------------------


def retention_job(settings, api) -> Job:
    """The scheduler's job: classes archived more than retention_days ago lose their students' records."""
    keep = timedelta(days=settings.privacy.retention_days)
    return Job("privacy_retention", lambda now: purge_archived(now, keep), 3600)


def purge_archived(now: datetime, keep: timedelta) -> int:
    """Replace by counts the records of every class archived before *now - keep* and not purged yet; each class
    is claimed by a conditional UPDATE (two schedulers: one does it). Return how many classes."""
    due = Classroom.select(Classroom.id, Classroom.name).where(
        Classroom.archived_at.is_null(False) & (Classroom.archived_at < now - keep) & Classroom.purged_at.is_null())

    def claim(classroom) -> int:
        return (Classroom.update(purged_at=now)
                .where((Classroom.id == classroom.id) & Classroom.purged_at.is_null()).execute())

    return claim_each(due, claim, purge_class)


def purge_class(classroom: Classroom) -> dict[str, int]:
    """Inside the claiming transaction: count the class's records into Tally rows, then delete every row that
    names a student of it. Return (and log) what it did."""
    activities = Activity.select(Activity.id).join(Lesson).where(Lesson.classroom == classroom.id)
    lessons = Lesson.select(Lesson.id).where(Lesson.classroom == classroom.id)
    tallies = _tallies(classroom.id, activities, lessons)
    for batch in chunked(tallies, ROWS_PER_INSERT):  # psycopg 3 binds parameters on the server: at most 65,535 a statement
        Tally.insert_many(batch).execute()
    done = {"tallies": len(tallies)}
    for name, query in (
        ("responses", Response.delete().where(Response.activity.in_(activities))),
        ("posts", Post.delete().where(Post.activity.in_(activities))),
        ("stale_codes", StaleCode.delete().where(StaleCode.activity.in_(activities))),
        ("attendance_changes", AttendanceChange.delete().where(AttendanceChange.activity.in_(activities))),
        ("requests", AbsenceRequest.delete().where(AbsenceRequest.classroom == classroom.id)),
        ("lost_signals", LostSignal.delete().where(LostSignal.lesson.in_(lessons))),
        ("roll_calls", RollCall.delete().where(RollCall.lesson.in_(lessons))),
        ("risk_marks", RiskMark.delete().where(RiskMark.classroom == classroom.id)),
        ("memberships", Membership.delete().where(Membership.classroom == classroom.id)),
        ("section_seats", SectionSeat.delete().where(SectionSeat.classroom == classroom.id)),  # numbers, who sat where
        ("screens", Screen.delete().where(Screen.classroom == classroom.id)),  # they hold the projector's address
    ):
        done[name] = query.execute()
    User.update(current_class_id=None).where(User.current_class_id == classroom.id).execute()
    log.info("retention: class %s (%s) replaced by counts: %s", classroom.id, classroom.name,
             ", ".join(f"{k} {v}" for k, v in done.items()))
    return done


def _tallies(class_id: int, activities, lessons) -> list[dict]:
    """The counts kept of a class once its records go."""
    rows = [{"classroom": class_id, "lesson": None, "activity": None, "what": "members",
             "count": Membership.select(fn.COUNT(Membership.user.distinct())).where(Membership.classroom == class_id).scalar()}]
    by_activity = (Response.select(Response.activity, Activity.kind, Response.status, Response.right, Response.answer,
                                   fn.COUNT(Response.id).alias("n"))
                   .join(Activity).where(Response.activity.in_(activities))
                   .group_by(Response.activity, Activity.kind, Response.status, Response.right, Response.answer))
    counted: dict[tuple[int, str], int] = {}
    for row in by_activity.objects():
        kind = row.kind
        what = (f"status:{row.status}" if kind == CHECKIN else f"right:{row.right}" if kind == QUIZ
                else f"answer:{row.answer[:40]}" if kind == SURVEY else "answers")
        counted[(row.activity_id, what)] = counted.get((row.activity_id, what), 0) + row.n
    rows += [{"classroom": class_id, "lesson": None, "activity": a, "what": w, "count": n} for (a, w), n in counted.items()]
    posts = (Post.select(Post.activity, fn.COUNT(Post.id).alias("n")).join(Activity)
             .where((Activity.kind == DISCUSSION) & Post.activity.in_(activities)).group_by(Post.activity))
    rows += [{"classroom": class_id, "lesson": None, "activity": p.activity_id, "what": "posts", "count": p.n}
             for p in posts.objects()]
    for model, what in ((LostSignal, "lost"), (RollCall, "roll_calls")):
        per_lesson = (model.select(model.lesson, fn.COUNT(model.id).alias("n")).where(model.lesson.in_(lessons))
                      .group_by(model.lesson))
        rows += [{"classroom": class_id, "lesson": r.lesson_id, "activity": None, "what": what, "count": r.n}
                 for r in per_lesson.objects()]
    return rows


# --- erasing one person ---------------------------------------------------------------------------------------

# The records kept (re-pointed to the placeholder): the counts teachers see. Every other link to the person is
# set NULL (who marked, decided, cancelled…) or, where the schema cascades, deleted with the row (memberships,
# team places, dialogs, pushes, SMS log, screens they paired…).
KEPT = {(Response, "user"), (Post, "user"), (LostSignal, "user"), (RollCall, "user"), (AbsenceRequest, "student"),
        (AttendanceChange, "student"), (StaleCode, "user")}


def user_links() -> list[tuple[type, ForeignKeyField]]:
    """Every foreign key to User in the schema (a table added later is included)."""
    return [(model, f) for model in MODELS for f in model._meta.sorted_fields
            if isinstance(f, ForeignKeyField) and f.rel_model is User]


def openid_tables() -> list[type]:
    """Every table other than User keyed by a bare openid (dedupe keys, the simulator's bubbles)."""
    return [model for model in MODELS if model is not User and "openid" in model._meta.fields]


def owned(user: User) -> int:
    return Classroom.select().where(Classroom.owner == user).count()


def erase_user(user: User, now: datetime) -> dict[str, int]:
    """Delete *user*: phone, verification, names, memberships and everything else that is theirs; their past
    records stay as the rows of a new anonymous placeholder. A teacher who owns classes is refused. Return
    counts of what was kept anonymously and what was removed."""
    if owned(user):
        raise UserError("erase_teacher_owns", n=owned(user))
    placeholder = User.create(openid=f"{ERASED_PREFIX}{secrets.token_hex(12)}", role=STUDENT, subscribed=False,
                              created_at=now, verify_state=NOT_GIVEN, lang=user.lang)
    # Free texts may name the person: blanked; request keys hold the user id: replaced.
    Post.update(text="", hidden=True).where(Post.user == user).execute()
    LostSignal.update(note="").where(LostSignal.user == user).execute()
    for request in AbsenceRequest.select(AbsenceRequest.id).where(AbsenceRequest.student == user):
        AbsenceRequest.update(reason="", key=f"erased:{secrets.token_hex(16)}").where(AbsenceRequest.id == request.id).execute()
    RosterEntry.update(verified_user=None, verified_at=None).where(RosterEntry.verified_user == user).execute()
    if user.student_no:  # the staff's 分组 of their number, in the classes they were in (their own seats go below)
        SectionSeat.delete().where((SectionSeat.student_no == user.student_no.upper()) & SectionSeat.classroom.in_(
            Membership.select(Membership.classroom).where(Membership.user == user))).execute()
    done = {"kept": 0, "removed": 0, "memberships": Membership.select().where(Membership.user == user).count()}
    for model, f in user_links():
        if model is User:
            continue
        if (model, f.name) in KEPT:
            done["kept"] += model.update({f: placeholder.id}).where(f == user.id).execute()
        elif f.null and f.on_delete != "CASCADE":  # as the schema says: a screen paired by them goes with them
            model.update({f: None}).where(f == user.id).execute()
        else:
            done["removed"] += model.delete().where(f == user.id).execute()
    for model in openid_tables():
        model.delete().where(model._meta.fields["openid"] == user.openid).execute()
    _scrub_messages(user)
    User.delete().where(User.id == user.id).execute()
    log.info("erased user %s: %s records kept anonymously, %s rows removed, %s memberships",
             user.id, done["kept"], done["removed"], done["memberships"])
    return done


# Texts sent to others that may name the person: replies kept for WeChat's retries (two days), pushes, the
# simulator's bubbles. Their name, number and phone are replaced there by ERASED_MARK.
MESSAGE_TEXTS = ((InboundMessage, "reply"), (Outbox, "text"), (SimMessage, "text"))
ERASED_MARK = "***"


def _scrub_messages(user: User) -> None:
    for value in (user.name, user.student_no, user.phone):
        if not value or len(value) < 2:
            continue
        for model, column in MESSAGE_TEXTS:
            f = model._meta.fields[column]
            model.update({f: fn.REPLACE(f, value, ERASED_MARK)}).where(f.contains(value)).execute()


def delete_me(ctx: Context) -> str:
    """`注销`: say what goes and what stays, and ask for the confirmation (a dialog)."""
    if owned(ctx.user):
        raise UserError("erase_teacher_owns", n=owned(ctx.user))
    ctx.start_dialog("delete_me", "confirm", CONFIRM_TTL)
    return ctx.t("erase_confirm", minutes=int(CONFIRM_TTL.total_seconds() // 60))


def confirm_delete(ctx: Context, data: dict, text: str) -> str:
    """The one step: the confirmation typed exactly erases; anything else keeps everything."""
    ctx.end_dialog()
    if normalize(text).strip().casefold() not in CONFIRM_WORDS:
        return ctx.t("erase_kept")
    openid = ctx.user.openid
    done = erase_user(ctx.user, ctx.now)
    # The message being answered is stored by openid for WeChat's retries: forgotten once this commits.
    ctx.after_commit.append(lambda: _forget_messages(openid))
    return ctx.t("erase_done", kept=done["kept"], classes=done["memberships"])


def _forget_messages(openid: str) -> None:
    with transaction():
        for model in openid_tables():
            model.delete().where(model._meta.fields["openid"] == openid).execute()


@click.command("purge-user")
@with_appcontext
@click.argument("openid")
def purge_user_command(openid: str):
    """Delete the account OPENID as its 注销 does (records kept as anonymous counts)."""
    kt = current_app.extensions["ketang"]
    with transaction():
        user = User.get_or_none(User.openid == openid)
        if user is None:
            raise click.ClickException(f"no account {openid}")
        if owned(user):
            raise click.ClickException(f"{openid} owns {owned(user)} class(es), whose records are the school's: hand "
                                       "them to another teacher first; nothing was deleted")
        done = erase_user(user, kt.clock())
    click.echo(f"deleted account {openid}: {done['kept']} records kept anonymously, {done['removed']} rows and "
               f"{done['memberships']} memberships removed")


# --- my data ------------------------------------------------------------------------------------------------


def _fingerprint(openid: str) -> str:
    """Ties a link to the account it was made for without putting the openid in the URL."""
    return hashlib.sha256(openid.encode("utf-8")).hexdigest()[:16]


def my_data(ctx: Context) -> str:
    """`我的数据`: signed links, valid a few minutes, to everything Ketang holds about the sender."""
    ttl = timedelta(minutes=ctx.settings.privacy.link_minutes)
    token = ctx.links.token("my_data", f"{ctx.user.id}:{_fingerprint(ctx.user.openid)}", ctx.now, ttl)
    return ctx.t("my_data_link", json=ctx.links.url(f"/my-data/{token}.json"), csv=ctx.links.url(f"/my-data/{token}.csv"),
                 at=ctx.hhmm(ctx.now + ttl))


def _when(moment) -> str | None:
    return moment.isoformat() if moment else None


def everything_about(user: User) -> dict:
    """Every row Ketang holds about *user*, as they would read it (class names, not ids)."""
    school = School.get_or_none(School.id == user.school_id) if user.school_id else None
    claim = RosterEntry.get_or_none(RosterEntry.verified_user == user)
    classes = {c.id: c.name for c in Classroom.select(Classroom.id, Classroom.name)}
    answers = (Response.select(Response, Activity, Lesson).join(Activity).join(Lesson)
               .where(Response.user == user).order_by(Response.created_at))
    posts = (Post.select(Post, Activity, Lesson).join(Activity).join(Lesson).where(Post.user == user)
             .order_by(Post.created_at))
    lost = LostSignal.select(LostSignal, Lesson).join(Lesson).where(LostSignal.user == user).order_by(LostSignal.created_at)
    calls = RollCall.select(RollCall, Lesson).join(Lesson).where(RollCall.user == user).order_by(RollCall.picked_at)
    return {
        "account": {"openid": user.openid, "role": user.role, "name": user.name, "student_no": user.student_no,
                    "school": school.name if school else None, "verification": user.verify_state, "phone": user.phone,
                    "language": user.lang, "subscribed": user.subscribed, "created_at": _when(user.created_at),
                    "last_seen_at": _when(user.last_seen_at)},
        "roster_claim": ({"school": claim.school.name, "student_no": claim.student_no, "name": claim.name,
                          "verified_at": _when(claim.verified_at)} if claim else None),
        "classes_owned": [c.name for c in Classroom.select().where(Classroom.owner == user)],
        "teaching_teams": [{"class": classes.get(m.classroom_id), "role": m.role, "can_export": m.can_export,
                            "added_at": _when(m.added_at)} for m in ClassStaff.select().where(ClassStaff.user == user)],
        "question_bank": [{"number": q.number, "kind": q.kind, "question": q.question, "at": _when(q.created_at)}
                          for q in BankQuestion.select().where(BankQuestion.owner == user).order_by(BankQuestion.number)],
        "memberships": [{"class": classes.get(m.classroom_id), "joined_at": _when(m.joined_at), "left_at": _when(m.left_at)}
                        for m in Membership.select().where(Membership.user == user).order_by(Membership.joined_at)],
        "sections": [{"class": classes.get(seat.classroom_id), "section": seat.section.name, "by_number": bool(seat.student_no),
                      "at": _when(seat.at)} for seat in SectionSeat.select(SectionSeat, Section).join(Section).where(
                          (SectionSeat.user == user) | ((SectionSeat.student_no == (user.student_no or "").upper())
                                                        & SectionSeat.classroom.in_(Membership.select(Membership.classroom)
                                                                                    .where(Membership.user == user))))],
        "answers_and_check_ins": [{"class": classes.get(r.activity.lesson.classroom_id), "kind": r.activity.kind,
                                   "question": r.activity.question, "answer": r.answer, "status": r.status,
                                   "right": r.right, "made_up": r.made_up, "at": _when(r.created_at)} for r in answers],
        "posts": [{"class": classes.get(p.activity.lesson.classroom_id), "text": p.text, "hidden": p.hidden,
                   "at": _when(p.created_at)} for p in posts],
        "not_understood": [{"class": classes.get(s.lesson.classroom_id), "note": s.note, "at": _when(s.created_at)}
                           for s in lost],
        "roll_calls": [{"class": classes.get(c.lesson.classroom_id), "picked_at": _when(c.picked_at),
                        "answered_at": _when(c.answered_at)} for c in calls],
        "requests": [{"class": classes.get(r.classroom_id), "kind": r.kind, "day": _when(r.day), "reason": r.reason,
                      "state": r.state, "note": r.note, "at": _when(r.created_at)}
                     for r in AbsenceRequest.select().where(AbsenceRequest.student == user).order_by(AbsenceRequest.created_at)],
        "status_changes": [{"before": c.before, "after": c.after, "at": _when(c.at)}
                           for c in AttendanceChange.select().where(AttendanceChange.student == user)],
        "at_risk_weeks": [{"class": classes.get(m.classroom_id), "week": _when(m.week), "rules": m.rules}
                          for m in RiskMark.select().where(RiskMark.student == user)],
        "messages_to_you": [{"kind": o.kind, "text": o.text, "status": o.status, "at": _when(o.created_at)}
                            for o in Outbox.select().where(Outbox.user == user).order_by(Outbox.created_at)],
        "sms_sent": [{"phone": s.phone, "at": _when(s.at)} for s in SmsLog.select().where(SmsLog.user == user)],
        "wrong_guesses": [{"what": f.scope.split(":")[0], "at": _when(f.at)}
                          for f in FailedAttempt.select().where(FailedAttempt.user == user)],
    }


def as_csv(data: dict) -> bytes:
    """One row per value (section, item, field, value), every cell formula-safe; UTF-8 with a BOM for Excel."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "item", "field", "value"])
    for section, value in data.items():
        items = value if isinstance(value, list) else [value]
        for n, item in enumerate(items, 1):
            fields = item.items() if isinstance(item, dict) else [("value", item)]
            for name, cell in fields:
                writer.writerow([section, n, name, spreadsheet_safe("" if cell is None else cell)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


@bp.get("/my-data/<token>.<kind>")
def my_data_file(token: str, kind: str):
    """Serve the person's data when the link is valid, unexpired and still theirs."""
    if kind not in ("json", "csv"):
        abort(404)
    kt = current_app.extensions["ketang"]
    user_id, _, mark = (kt.links.value("my_data", token, kt.clock()) or "").partition(":")
    user = User.get_or_none(User.id == int(user_id)) if user_id.isdigit() else None
    if user is None or _fingerprint(user.openid) != mark:
        abort(403)
    with reading():
        data = everything_about(user)
    if kind == "json":
        body, mimetype = json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"), "application/json"
    else:
        body, mimetype = as_csv(data), "text/csv"
    headers = {"Content-Disposition": f"attachment; filename=ketang-my-data.{kind}", "Cache-Control": "no-store",
               "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
    return HttpResponse(body, mimetype=mimetype, headers=headers)

