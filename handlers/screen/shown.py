"""What a classroom screen shows now (gather): a few indexed reads, then a template and its view, apart from
the counts a poll may change alone (Shown.parts); the shape digests the rest, so a poll whose page has the same
shape is answered with the counts (handlers/screen/view.py). QR codes and charts are server-rendered SVG."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import groupby

import qrcode
from flask import render_template
from markupsafe import Markup
from peewee import JOIN, Select, fn

from bot.clock import epoch
from bot.prepared import Prepared
from handlers import wall
from handlers.attendance import lesson_checkin
from handlers.grading import is_right, shown_key
from handlers.qr import qr_content
from handlers.records import came as came_count
from handlers.records import lesson_sheet
from handlers.results import tally
from handlers.screen import rotation
from handlers.screen.cloud import cloud_svg, counts_svg, option_texts
from models import (
    ABSENT,
    CHECKIN,
    DISCUSSION,
    EXCUSED,
    FILL,
    QUIZ,
    RARE_STATUSES,
    Activity,
    Announcement,
    CheckinQr,
    Classroom,
    Lesson,
    LostSignal,
    Membership,
    QrDrawing,
    RollCall,
    Screen,
    User,
    db,
)
from models import (
    Response as Answer,
)

QR_CACHE = 512  # distinct QR contents kept per worker: a school's rooms × a slot or two
DRAW_SECONDS = 3  # a roll call picked this recently plays its short draw on the screen first


@lru_cache(maxsize=QR_CACHE)
def svg_qr(data: str) -> Markup:
    """*data* as an inline SVG QR code, sized by CSS (crisp at any size). Each worker draws a content once and
    every poll of every screen showing it reuses it (a check-in's code changes once per slot, a class's join QR
    almost never); the scheduler draws the coming slots' codes ahead into QrDrawing, so a worker meeting a
    new slot reads the drawing instead of encoding it (see README, "The classroom screen")."""
    drawn = QrDrawing.select(QrDrawing.svg).where(QrDrawing.digest == qr_digest(data)).scalar()
    return Markup(drawn or draw_qr(data))


def qr_digest(data: str) -> str:
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def draw_qr(data: str) -> str:
    """The SVG of *data*'s QR code: qrcode encodes it (its mask choice, the standard's penalty rule), and the path
    is one rectangle per run of dark modules in a row (qrcode's own SVG writer draws a subpath per module and
    takes half of the time, ~4 of ~8 ms)."""
    code = qrcode.QRCode(border=2)
    code.add_data(data)
    code.make(fit=True)
    runs = []
    for y, row in enumerate(code.get_matrix()):
        x = 0
        for dark, modules in groupby(row):
            width = len(list(modules))
            if dark:
                runs.append(f"M{x},{y}h{width}v1h-{width}z")
            x += width
    size = len(code.get_matrix())  # the border included
    return (f'<svg class="qr" shape-rendering="crispEdges" version="1.1" viewBox="0 0 {size} {size}" '
            f'xmlns="http://www.w3.org/2000/svg"><path d="{"".join(runs)}" fill="#000"/></svg>')


def svg_bars(rows: list[tuple[str, int, bool]], quiz: bool) -> Markup:
    """One horizontal bar per option, the right ones marked: server-rendered, no chart library."""
    top, height = max([n for _k, n, _r in rows] + [1]), 90
    parts = []
    for i, (label, n, right) in enumerate(rows[:8]):
        y, width = i * height, round(700 * n / top)
        colour = "#2e9d57" if right and quiz else "#3b6fd8"
        mark = " ✓" if right and quiz else ""
        parts.append(f'<text x="0" y="{y + 58}" class="opt">{_x(label[:6])}</text>'
                     f'<rect x="170" y="{y + 12}" width="{max(width, 4)}" height="{height - 24}" fill="{colour}" rx="6"/>'
                     f'<text x="{180 + max(width, 4)}" y="{y + 58}" class="num">{n}{mark}</text>')
    total = height * max(len(rows[:8]), 1)
    return Markup(f'<svg class="bars" viewBox="0 0 1000 {total}" role="img">{"".join(parts)}</svg>')


def _x(text: str) -> str:
    return str(Markup.escape(text))


@dataclass
class Shown:
    """What a screen shows now: a template and what it shows (*view*), apart from the counts (*parts*:
    `data-part` name -> text) a poll may change alone. Two polls with the same shape differ in parts only."""

    template: str
    view: dict
    parts: dict = field(default_factory=dict)

    @property
    def shape(self) -> str:
        """A digest of everything the page shows but the parts (the clock offset aside)."""
        shows = {key: value for key, value in self.view.items() if key != "qr"}  # qr_text decides the QR
        text = json.dumps([self.template, shows], sort_keys=True, default=_plain, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]

    def html(self, base: dict) -> str:
        return render_template(self.template, parts=self.parts, **self.view, **base)


def _plain(value):
    """A model or date as JSON sees it for the shape: its columns, its text."""
    return getattr(value, "__data__", None) or str(value)


def _picked(lesson):
    """When the lesson's latest roll call was picked (a column of the counts below)."""
    return RollCall.select(fn.MAX(RollCall.picked_at)).where(RollCall.lesson == lesson)


_LESSON_COUNTS = Prepared(lambda lesson, classroom: Select(columns=(
    LostSignal.select(fn.COUNT(fn.DISTINCT(LostSignal.user))).where(LostSignal.lesson == lesson),
    Membership.select(fn.COUNT(Membership.id)).where((Membership.classroom == classroom) & (Membership.active == 1)),
    _picked(lesson),
)).bind(db))
# A check-in's counts in one statement, each from an index: the 不懂 count; its answers (the unique key);
# its excused and absent (the partial index of those few rows: came is the rest); while it is open, its
# members: every membership of the class not ended before it opened (none can start after its deadline yet);
# and with them the latest roll call's time, the slot's minted QR and how many check-ins the lesson had: a
# check-in's poll is three statements.
_CHECKIN_COUNTS = Prepared(lambda lesson, checkin, classroom, opened, slot, now: Select(columns=(
    LostSignal.select(fn.COUNT(fn.DISTINCT(LostSignal.user))).where(LostSignal.lesson == lesson),
    Answer.select(fn.COUNT(Answer.id)).where(Answer.activity == checkin),
    Answer.select(fn.COUNT(Answer.id)).where((Answer.activity == checkin) & RARE_STATUSES & (Answer.status == EXCUSED)),
    Answer.select(fn.COUNT(Answer.id)).where((Answer.activity == checkin) & RARE_STATUSES & (Answer.status == ABSENT)),
    Membership.select(fn.COUNT(Membership.id)).where(
        (Membership.classroom == classroom) & (Membership.left_at.is_null() | (Membership.left_at > opened))),
    _picked(lesson),
    CheckinQr.select(CheckinQr.url).where(  # this slot's official QR, once the scheduler minted it
        (CheckinQr.activity == checkin) & (CheckinQr.slot == slot) & (CheckinQr.expires_at > now)).limit(1),
    Activity.select(fn.COUNT(Activity.id)).where((Activity.lesson == lesson) & (Activity.kind == CHECKIN)),
)).bind(db))  # a Select of no model: bound to the database for its placeholders
_NEWEST = Activity.alias()
# The class's open lesson with its latest activity (as .latest, None before the first) in one read.
_LESSON_NOW = Prepared(lambda classroom: Lesson.select(Lesson, Activity).join(
    Activity, JOIN.LEFT_OUTER, attr="latest", on=(Activity.id == _NEWEST.select(_NEWEST.id).where(_NEWEST.lesson == Lesson.id)
                                                  .order_by(_NEWEST.opened_at.desc(), _NEWEST.id.desc()).limit(1)))
    .where((Lesson.classroom == classroom) & (Lesson.live == 1)).limit(1))
_ANSWERS = Prepared(lambda activity: Answer.select(fn.COUNT(Answer.id)).where(Answer.activity == activity))  # the unique key



def gather(kt, screen: Screen, now) -> Shown:
    """What *screen* shows at *now*: a few indexed reads (three for a check-in); nothing is rendered or encoded
    here but the QR (cached by content) and the charts of a closed activity."""
    if screen.ended_at:
        return Shown("screen/ended.html", {})
    if screen.paired_at is None:
        return Shown("screen/pairing.html", dict(code=screen.code, expired=screen.code_expires_at < now,
                                                 until=epoch(screen.code_expires_at)))
    classroom = screen.classroom
    lesson = _LESSON_NOW.first(classroom)
    if lesson is None:
        note = Announcement.select().where(Announcement.classroom == classroom).order_by(
            Announcement.created_at.desc(), Announcement.id.desc()).first()
        join = qr_content(kt, classroom.code)  # the official QR once minted; data-qr: what a camera reads
        return Shown("screen/idle.html", dict(classroom=classroom, note=note, qr=svg_qr(join), qr_text=join),
                     {"students": str(_LESSON_COUNTS.row(None, classroom)[1])})  # no lesson: only its members
    activity = lesson.latest
    checkin = activity if activity is not None and activity.kind == CHECKIN else lesson_checkin(lesson)
    checking_in = checkin is not None and checkin.is_open(now)
    # An open check-in's slot never goes back with the clock (rotation.shown_slot records the latest shown).
    slot = rotation.shown_slot(kt.settings, checkin, now) if checking_in else rotation.slot_at(kt.settings, now)
    if checkin:
        parts, picked, minted = _checkin_parts(checkin, lesson, slot, now)
    else:
        lost, students, picked = _LESSON_COUNTS.row(lesson, classroom)
        parts, minted = {"lost": str(lost), "students": str(students)}, None
    view = dict(classroom=classroom, has_checkin=checkin is not None, checking_in=checking_in,
                activity=activity, calls=_roll_calls(lesson, now, RollCall.picked_at.python_value(picked)))
    # 未到 投屏: shown until the next activity
    if activity is checkin and checkin and screen.missing_until and now < screen.missing_until:
        return Shown("screen/missing.html", view, parts)
    if activity is None:
        return Shown("screen/lesson.html", view, parts)
    is_open = activity.is_open(now)
    view.update(is_open=is_open, deadline=epoch(activity.deadline))
    if activity.kind == CHECKIN:
        if is_open:
            view.update(_checkin_view(kt, activity, slot, minted))
        return Shown("screen/checkin.html", view, parts)
    if checking_in:  # a quiz or discussion during a check-in: the check-in stays, in a panel beside it
        view.update(_checkin_view(kt, checkin, slot, minted), panel=True)
    if activity.kind == DISCUSSION:
        posts, spans = wall.posts_of(activity), wall.review_spans(classroom.id)
        judged = wall.judged(posts, spans, wall.banned_words(kt.settings.screen.banned_words_file))
        parts["waiting"] = str(sum(mark == "pending" for _n, _post, mark in judged))
        view.update(wall=wall.screen_wall(judged)[:40], reviewing=any(end is None for _start, end in spans),
                    cloud=_cloud_of(screen, activity, [post.text for _n, post, mark in judged if mark in ("", "repeat")]))
        return Shown("screen/discussion.html", view, parts)
    answered = _ANSWERS.scalar(activity)
    parts["answered"] = str(answered)
    # Out of who came (and anyone who answered without checking in: never "4 / 3"); nobody came yet: the class.
    came = int(parts.get("came", 0))
    parts["present"] = str(max(came, answered)) if came else parts.get("roster", parts.get("students"))
    if not is_open:  # the distribution, the key and the rate only once it closed
        answers = [r.answer for r in Answer.select(Answer.answer).where(Answer.activity == activity)]
        quiz = activity.kind == QUIZ
        right = sum(1 for a in answers if is_right(activity, a)) if quiz else 0
        rows = tally(activity, answers, "zh")
        cloud = (cloud_svg(answers) if quiz and activity.answer_type == FILL
                 else _survey_cloud(activity, rows) if screen.cloud_of == activity.id else None)
        view.update(bars=None if cloud else svg_bars(rows, quiz), cloud=cloud,
                    key=shown_key(activity) if quiz else None,
                    rate=f"{100 * right / len(answers):.0f}%" if quiz and answers else None)
    return Shown("screen/question.html", view, parts)


def _checkin_view(kt, checkin: Activity, slot: int, minted: str | None) -> dict:
    """What an open check-in shows (the whole screen, or the panel beside a quiz or discussion): its QR (the
    scheduler's official one for this slot when minted, else our link), 口令 and countdowns."""
    settings = kt.settings
    content, official = (minted, True) if minted else (kt.links.url(f"/c/{rotation.token(settings, checkin.id, slot)}"), False)
    return dict(qr=svg_qr(content), qr_text=content, official=official, api=bool(settings.wechat.app_secret),
                code_until=rotation.slot_ends(settings, slot), code_span=settings.screen.rotate_seconds,
                checkin_until=epoch(checkin.deadline),
                passcode=rotation.passcode(settings, checkin.id, slot) if checkin.rotating else None)


def _checkin_parts(checkin: Activity, lesson, slot: int, now) -> tuple[dict, object, str | None]:
    """(parts, when the latest roll call was picked, the slot's minted QR) for a lesson with a check-in. The
    parts: lost (不懂), came (present or late), roster (counted for the lesson, as 签到情况 counts) and missing
    (neither came nor excused), by the one attendance rule (records.lesson_sheet: the best over the lesson's
    check-ins). The usual poll, the lesson's only check-in while it is open, reads them from the counts above:
    everyone with a status on it is a member (a check-in needs membership), so the roster is the members'
    count and its statuses are the lesson's. Once it closed (a teacher's mark may have given a status to
    someone else), or when the lesson had several check-ins, the rule itself counts (two statements more)."""
    lost, answers, excused, absent, members, picked, minted, checkins = _CHECKIN_COUNTS.row(
        lesson, checkin, lesson.classroom_id, checkin.opened_at, slot, now)
    is_open = checkin.is_open(now)
    if is_open and checkins == 1:
        roster, came = members, answers - excused - absent
    else:
        sheet = lesson_sheet(lesson)
        roster, came = len(sheet), came_count(sheet)
        excused = sum(1 for status in sheet.values() if status == EXCUSED)
    parts = {"lost": str(lost), "came": str(came), "roster": str(roster), "missing": str(max(0, roster - came - excused))}
    return parts, picked, minted if is_open else None


def _survey_cloud(activity: Activity, rows: list[tuple[str, int, bool]]) -> Markup | None:
    """A closed survey as a cloud: each option's text (its letter when it has none) sized by its votes."""
    texts = option_texts(activity.question)
    return counts_svg(tuple(sorted(((texts.get(label, label), n) for label, n, _right in rows), key=lambda p: (-p[1], p[0]))))


def _cloud_of(screen: Screen, activity: Activity, texts: list[str]) -> Markup | None:
    """The word cloud of *activity*'s answers or posts, when the teacher asked for it (词云)."""
    return cloud_svg(texts) if screen.cloud_of == activity.id else None


BY_SECRET = Prepared(lambda token_hash: Screen.select(Screen, Classroom).join(Classroom, JOIN.LEFT_OUTER)
                      .where(Screen.token_hash == token_hash).limit(1))


def _roll_calls(lesson, now, picked) -> dict | None:
    """The latest roll call of the lesson (picked at *picked*), for ten minutes: its names with
    answered|waiting|missed, and whether it was picked just now (the screen then plays the short draw
    first); no openids."""
    if picked is None or (now - picked).total_seconds() > 600:
        return None
    calls = (RollCall.select(RollCall.answered_at, RollCall.deadline, User.id, User.name, User.student_no).join(User)
             .where((RollCall.lesson == lesson) & (RollCall.picked_at == picked)).order_by(RollCall.id))
    names = [(c.user.name or c.user.student_no or "同学",
              "answered" if c.answered_at else "waiting" if now <= c.deadline else "missed") for c in calls]
    return {"names": names, "draw": (now - picked).total_seconds() < DRAW_SECONDS}
