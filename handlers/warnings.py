"""Early warnings: who is slipping, by rules a teacher reads and changes (预警设置), on demand (预警) and in a
weekly digest the scheduler pushes once per class (handlers/plugin.py), with an optional nudge to the student.

Everything is computed from a few aggregate reads per batch of classes, outside any write transaction; only
the digest's own rows (RiskDigest, RiskMark, the outbox) are written, in one short transaction per class.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from peewee import chunked, fn

from bot.catalogue import t
from bot.context import Context, UserError
from bot.database import ROWS_PER_INSERT, reading, transaction
from bot.links import Links
from bot.outbox import enqueue, enqueue_many
from bot.plugin import Job
from bot.text import MAX_REPLY_BYTES, fit_lines_counted, inline
from handlers import records, scope, sections, team
from handlers.gradebook import book_url
from models import (
    ABSENT,
    EXCUSED,
    LATE,
    OPEN,
    PRESENT,
    QUIZ,
    Activity,
    Classroom,
    ClassRules,
    Lesson,
    LostSignal,
    Membership,
    Response,
    RiskDigest,
    RiskMark,
    User,
)

log = logging.getLogger("ketang.warnings")

RULES = ("absences", "rate", "drop", "lost")
DEFAULTS = {"absences": 2, "rate": 70, "drop": 30, "lost": 3}
BOUNDS = {"absences": 20, "rate": 100, "drop": 100, "lost": 50}
WORDS = {"连续缺勤": "absences", "缺勤": "absences", "absences": "absences", "出勤率": "rate", "rate": "rate",
         "正确率下降": "drop", "下降": "drop", "drop": "drop", "不懂": "lost", "lost": "lost"}
RATE_MIN_LESSONS = 3  # the attendance rate speaks once this many lessons (excused ones aside) are behind
QUIZZES = 3  # accuracy of the last 3 quizzes against all the quizzes before them (at least 3)
LOST_DAYS = 14
BATCH = 20  # classes read together
DIGEST_LINK_TTL = timedelta(days=7)


@dataclass
class Hit:
    rule: str
    since: datetime
    value: str  # what the rule found, as the text shows it ("3", "55", "80→33")


@dataclass
class Student:
    user_id: int
    hits: list[Hit] = field(default_factory=list)

    @property
    def newest(self) -> datetime:
        return max(hit.since for hit in self.hits)


def rules_of(classroom_id: int) -> dict:
    row = ClassRules.get_or_none(ClassRules.classroom == classroom_id)
    return {name: getattr(row, name) for name in RULES} if row else dict(DEFAULTS)


# --- the reads: per batch of classes, a handful of aggregate queries ----------------------------------


def lesson_attendance(class_ids: list[int]) -> dict[int, list[tuple[datetime, dict[int, str]]]]:
    """Per class, its counted lessons with check-ins in order, each with the status of every student counted for
    it: the one attendance rule (records.lesson_attendance), plus one query for the lessons' classes and times."""
    where = Lesson.classroom.in_(class_ids)
    statuses = records.lesson_attendance(where)
    sheets: dict[int, dict[int, str]] = defaultdict(dict)
    for (lesson, user), status in statuses.items():
        sheets[lesson][user] = status
    out: dict[int, list] = defaultdict(list)
    for lesson, classroom, started in (Lesson.select(Lesson.id, Lesson.classroom, Lesson.started_at)
                                       .where(records.counted(where)).order_by(Lesson.started_at, Lesson.id).tuples()):
        if lesson in sheets:
            out[classroom].append((started, sheets[lesson]))
    return out


def memberships(class_ids: list[int]) -> tuple[dict, dict[int, set[int]]]:
    """Every stretch of membership per class and student (leaving and rejoining keeps the history), and the
    current members per class (only they are named or nudged)."""
    stretches: dict = defaultdict(lambda: defaultdict(list))
    current: dict[int, set[int]] = defaultdict(set)
    for classroom, user, joined, left, active in Membership.select(
            Membership.classroom, Membership.user, Membership.joined_at, Membership.left_at, Membership.active).where(
            Membership.classroom.in_(class_ids)).tuples():
        stretches[classroom][user].append((joined, left))
        if active:
            current[classroom].add(user)
    return stretches, current


def quiz_history(class_ids: list[int], stretches: dict, now: datetime) -> dict[tuple[int, int], list[tuple[datetime, int]]]:
    """Per (class, student): the closed quizzes held while a member, in order, with 1 when answered right."""
    quizzes = list(Activity.select(Activity.id, Lesson.classroom, Activity.opened_at).join(Lesson).where(
        Lesson.classroom.in_(class_ids) & (Activity.kind == QUIZ) & ((Activity.status != OPEN) | (Activity.deadline < now)))
        .order_by(Activity.opened_at, Activity.id).tuples())
    ids = Activity.select(Activity.id).join(Lesson).where(Lesson.classroom.in_(class_ids) & (Activity.kind == QUIZ))
    right = set(Response.select(Response.activity, Response.user)
                .where(Response.activity.in_(ids) & (Response.right == 1)).tuples())
    out: dict[tuple[int, int], list] = defaultdict(list)
    for quiz, classroom, opened in quizzes:
        for user, spans in stretches.get(classroom, {}).items():
            if any(joined <= opened and (left is None or left > opened) for joined, left in spans):
                out[(classroom, user)].append((opened, int((quiz, user) in right)))
    return out


def lost_signals(class_ids: list[int], now: datetime) -> dict[tuple[int, int], list[datetime]]:
    rows = (LostSignal.select(Lesson.classroom, LostSignal.user, LostSignal.created_at).join(Lesson)
            .where(Lesson.classroom.in_(class_ids) & (LostSignal.created_at >= now - timedelta(days=LOST_DAYS)))
            .order_by(LostSignal.created_at).tuples())
    out: dict[tuple[int, int], list] = defaultdict(list)
    for classroom, user, at in rows:
        out[(classroom, user)].append(at)
    return out


# --- the rules, each on one student's history ------------------------------------------------------------


def consecutive_absences(history: list[tuple[datetime, str]], limit: int) -> Hit | None:
    """The absences at the end of the student's lessons, excused lessons left out (they neither count nor break)."""
    run: list[datetime] = []
    for started, status in history:
        if status == EXCUSED:
            continue
        run = run + [started] if status == ABSENT else []
    return Hit("absences", run[0], str(len(run))) if limit and len(run) >= limit else None


def attendance_rate(history: list[tuple[datetime, str]], limit: int) -> Hit | None:
    """Present or late over the lessons to date (excused ones left out), below *limit* %; since the lesson
    from which it has stayed below."""
    came = total = 0
    below_since = None
    for started, status in history:
        if status == EXCUSED:
            continue
        total += 1
        came += status in (PRESENT, LATE)
        below = total >= RATE_MIN_LESSONS and came * 100 < limit * total
        below_since = (below_since or started) if below else None
    if not limit or below_since is None:
        return None
    return Hit("rate", below_since, str(came * 100 // total))


def accuracy_drop(quizzes: list[tuple[datetime, int]], limit: int) -> Hit | None:
    """Accuracy over the last QUIZZES quizzes fallen by at least *limit* points from all the quizzes before."""
    if not limit or len(quizzes) < 2 * QUIZZES:
        return None
    before, last = quizzes[:-QUIZZES], quizzes[-QUIZZES:]
    then = sum(r for _, r in before) * 100 // len(before)
    now = sum(r for _, r in last) * 100 // QUIZZES
    return Hit("drop", last[0][0], f"{then}→{now}") if then - now >= limit else None


def repeated_lost(signals: list[datetime], limit: int) -> Hit | None:
    return Hit("lost", signals[0], str(len(signals))) if limit and len(signals) >= limit else None


def at_risk(class_ids: list[int], now: datetime) -> dict[int, list[Student]]:
    """Per class: its current members who hit a rule now, newest problem first."""
    stretches, current = memberships(class_ids)
    lessons = lesson_attendance(class_ids)
    quizzes = quiz_history(class_ids, stretches, now)
    lost = lost_signals(class_ids, now)
    rules = {cid: dict(DEFAULTS) for cid in class_ids}
    for row in ClassRules.select().where(ClassRules.classroom.in_(class_ids)):
        rules[row.classroom_id] = {name: getattr(row, name) for name in RULES}
    out: dict[int, list[Student]] = {}
    for cid in class_ids:
        limits, found = rules[cid], []
        for user in current.get(cid, ()):
            history = [(started, sheet[user]) for started, sheet in lessons.get(cid, ()) if user in sheet]
            hits = [consecutive_absences(history, limits["absences"]), attendance_rate(history, limits["rate"]),
                    accuracy_drop(quizzes.get((cid, user), []), limits["drop"]),
                    repeated_lost(lost.get((cid, user), []), limits["lost"])]
            hits = [hit for hit in hits if hit]
            if hits:
                found.append(Student(user, hits))
        out[cid] = sorted(found, key=lambda s: (s.newest, s.user_id), reverse=True)
    return out


# --- the texts -------------------------------------------------------------------------------------------


def hit_text(hit: Hit, lang: str, tz) -> str:
    since = hit.since.replace(tzinfo=timezone.utc).astimezone(tz).strftime("%m-%d")
    return t(f"risk_{hit.rule}", lang, value=hit.value, since=since)


def digest_text(classroom: Classroom, students: list[Student], weeks: dict[int, int], recovered: list[int],
                lang: str, tz, link: str = "", heading: str = "risk_digest_header") -> str:
    """The teacher's digest: each student once with the rules hit and since when, newest first; 第 n 周 when
    flagged in the weeks before; the recovered once; bounded, ending with *link* when some are left out."""
    users = {u.id: u for u in User.select().where(User.id.in_([s.user_id for s in students] + recovered or [0]))}
    lines = []
    for student in students:
        user = users[student.user_id]
        line = t("risk_line", lang, who=f"{inline(user.student_no or '—')} {user.display_name}",
                 hits=t("risk_and", lang).join(hit_text(h, lang, tz) for h in student.hits))
        if weeks.get(student.user_id, 1) > 1:
            line += t("risk_week", lang, n=weeks[student.user_id])
        lines.append(line)
    footer = t("risk_footer", lang)
    if recovered:
        footer = t("risk_recovered", lang, names="、".join(users[u].display_name for u in recovered)) + "\n" + footer
    header = t(heading, lang, name=inline(classroom.name), n=len(students))
    more = t("risk_more_link", lang, url=link) if link else t("risk_more", lang)
    budget = MAX_REPLY_BYTES - len(footer.encode("utf-8")) - 1
    text, shown = fit_lines_counted(header, lines, lambda n: t("and_more", lang, n=n) + more, budget)
    return text + "\n" + footer


def _previous_weeks(classroom_id: int, before: date) -> tuple[date | None, dict[int, int]]:
    """The latest digest week before *before* and how many weeks in a row each student it named had been named."""
    week = (RiskDigest.select(fn.MAX(RiskDigest.week)).where((RiskDigest.classroom == classroom_id) & (RiskDigest.week < before))
            .scalar())
    if week is None:
        return None, {}
    return week, dict(RiskMark.select(RiskMark.student, RiskMark.weeks).where(
        (RiskMark.classroom == classroom_id) & (RiskMark.week == week)).tuples())


# --- the teacher's commands -------------------------------------------------------------------------------


def risk(ctx: Context, text: str | None = None) -> str:
    """预警: who is at risk in the current class now; 预警 通知学生 开|关 turns the weekly nudge on or off."""
    classroom = scope.current_class(ctx)
    if text:
        words = text.casefold().split()
        switch = " ".join(words[:-1])
        if len(words) < 2 or words[-1] not in ("开", "关", "on", "off") or switch not in ("通知学生", "notify students"):
            raise UserError("risk_usage")
        on = words[-1] in ("开", "on")
        ClassRules.insert(classroom=classroom, nudge=on).on_conflict(
            conflict_target=[ClassRules.classroom], update={ClassRules.nudge: on}).execute()
        return ctx.t("nudge_on" if on else "nudge_off", name=classroom.name)
    students = at_risk([classroom.id], ctx.now)[classroom.id]
    limit = getattr(classroom, "staff_section", None)  # an assistant of one section: its students (handlers/sections.py)
    mine = sections.students_in(classroom.id, limit)
    students = [s for s in students if mine is None or s.user_id in mine]
    if not students:
        return ctx.t("risk_none", name=classroom.name) + "\n" + ctx.t("risk_footer")
    this_week, _start = week_of(ctx.now, ctx.settings.warnings.weekday, ctx.settings.warnings.hour, ctx.settings.school.tz)
    latest, before = _previous_weeks(classroom.id, this_week + timedelta(days=1))
    # 第 n 周 as this week's digest says it: its own count, or last week's digest's plus this one
    extra = 0 if latest == this_week else 1 if latest == this_week - timedelta(days=7) else None
    weeks = {u: w + extra for u, w in before.items()} if extra is not None else {}
    link = book_url(ctx.links, classroom.id, ctx.lang, ctx.now, DIGEST_LINK_TTL, limit)
    return digest_text(classroom, students, weeks, [], ctx.lang, ctx.settings.school.tz, link, heading="risk_now_header")


def risk_rules(ctx: Context, text: str | None = None) -> str:
    """预警设置 [连续缺勤 2] [出勤率 70] [正确率下降 30] [不懂 3]: show or change the class's rules (0 = off)."""
    classroom = scope.current_class(ctx)
    changes = _parse_rules(text or "")
    if changes:
        ClassRules.insert(classroom=classroom, **changes).on_conflict(
            conflict_target=[ClassRules.classroom], update={getattr(ClassRules, k): v for k, v in changes.items()}).execute()
    rules = rules_of(classroom.id)
    shown = [ctx.t(f"rule_{name}", n=rules[name]) if rules[name] else ctx.t(f"rule_{name}_off") for name in RULES]
    return ctx.t("rules_changed" if changes else "rules_header", name=classroom.name) + "\n" + "\n".join(shown) \
        + "\n" + ctx.t("rules_footer")


def _parse_rules(text: str) -> dict[str, int]:
    tokens = text.casefold().split()
    if len(tokens) % 2:
        raise UserError("rules_usage")
    changes = {}
    for word, value in zip(tokens[::2], tokens[1::2], strict=True):
        name = WORDS.get(word)
        if name is None or not value.isdigit() or not 0 <= int(value) <= BOUNDS[name]:
            raise UserError("rules_usage")
        changes[name] = int(value)
    return changes


# --- the weekly run -----------------------------------------------------------------------------------------


def week_of(now: datetime, weekday: int, hour: int, tz) -> tuple[date, datetime]:
    """The school-time date and naive-UTC moment of the latest digest time (weekday at hour:00) at or before *now*."""
    local = now.replace(tzinfo=timezone.utc).astimezone(tz)
    day = local.date() - timedelta(days=(local.isoweekday() - weekday) % 7)
    moment = datetime(day.year, day.month, day.day, hour, tzinfo=tz)
    if moment > local:
        day -= timedelta(days=7)
        moment = datetime(day.year, day.month, day.day, hour, tzinfo=tz)
    return day, moment.astimezone(timezone.utc).replace(tzinfo=None)


def due_classes(week: date, start: datetime) -> list[int]:
    """Classes that had a lesson in the week before *start* and have no digest for *week* yet (an archived class,
    ended, has none: no note to its teacher or students about a class it no longer runs)."""
    done = RiskDigest.select(RiskDigest.classroom).where(RiskDigest.week == week)
    taught = (Lesson.select(Lesson.classroom).join(Classroom).where(
        (Lesson.started_at >= start - timedelta(days=7)) & (Lesson.started_at < start) & Lesson.classroom.not_in(done)
        & Classroom.archived_at.is_null())
        .distinct().tuples())
    return sorted(cid for (cid,) in taught)


def run_digests(now: datetime, settings, links: Links) -> int:
    """Compute and queue this week's digest of every due class; return how many digests were queued.

    Each class is computed outside any transaction, then written in one: its RiskDigest row (the unique key
    (class, week) lets one process through), its marks and its outbox rows (keyed too). A process killed
    before that commit leaves nothing, so the next run does it; one killed after it left it done."""
    tz = settings.school.tz
    week, start = week_of(now, settings.warnings.weekday, settings.warnings.hour, tz)
    due = due_classes(week, start)
    if due:
        log.info("at-risk digest for week %s: computing %d classes", week, len(due))
    queued = 0
    for i in range(0, len(due), BATCH):
        batch = due[i:i + BATCH]
        with reading():  # one snapshot per batch, and no writer lock while computing
            found = at_risk(batch, now)
        for cid in batch:
            queued += _write_digest(Classroom.get_by_id(cid), week, found[cid], now, tz, links)
    if due:
        log.info("at-risk digest for week %s: %d classes, %d digests queued", week, len(due), queued)
    return queued


def _write_digest(classroom: Classroom, week: date, students: list[Student], now: datetime, tz, links: Links) -> int:
    previous, before = _previous_weeks(classroom.id, week)
    last_week = previous is not None and previous >= week - timedelta(days=7)
    weeks = {s.user_id: (before.get(s.user_id, 0) + 1 if last_week else 1) for s in students}
    current = {m.user_id for m in Membership.select(Membership.user).where(
        (Membership.classroom == classroom) & (Membership.active == 1))}
    flagged = {s.user_id for s in students}
    recovered = sorted(u for u in (before if last_week else {}) if u not in flagged and u in current)
    with transaction():
        if not RiskDigest.insert(classroom=classroom, week=week, at_risk=len(students), created_at=now) \
                .on_conflict_ignore().as_rowcount().execute():
            return 0  # another scheduler did this class's week
        if not students:
            return 0  # nobody at risk: no digest, no noise
        marks = [{"classroom": classroom, "student": s.user_id, "week": week, "weeks": weeks[s.user_id],
                  "rules": ",".join(h.rule for h in s.hits)} for s in students]
        for batch in chunked(marks, ROWS_PER_INSERT):  # psycopg 3 binds parameters on the server: at most 65,535 a statement
            RiskMark.insert_many(batch).execute()
        for user_id, lang in team.recipients(classroom.id, classroom.owner_id):  # the owner, or the team (助教通知 开)
            # an assistant of one section: its students' lines only, and a link to its rows
            theirs = sections.visible(user_id, students, lambda _s: classroom.id, lambda s: s.user_id)
            if not theirs:
                continue
            try:
                link = book_url(links, classroom.id, lang, now, DIGEST_LINK_TTL, sections.limits_of(user_id).get(classroom.id))
            except RuntimeError:
                link = ""  # no public_url: the digest says to send 成绩
            back = sections.visible(user_id, recovered, lambda _u: classroom.id, lambda u: u)
            text = digest_text(classroom, theirs, weeks, back, lang, tz, link)
            mine = "" if user_id == classroom.owner_id else f":{user_id}"
            enqueue(user_id, "risk_digest", text, f"digest:{classroom.id}:{week.isoformat()}{mine}", now)
        if ClassRules.select().where((ClassRules.classroom == classroom) & ClassRules.nudge).exists():
            _nudge(classroom, week, students, now, tz)
    return 1


def _nudge(classroom: Classroom, week: date, students: list[Student], now: datetime, tz) -> None:
    """One private note per student at risk (current members only), naming nobody else."""
    langs = dict(User.select(User.id, User.lang).where(User.id.in_([s.user_id for s in students])).tuples())
    pushes = []
    for s in students:
        lang = langs.get(s.user_id, "zh")
        why = t("risk_and", lang).join(hit_text(h, lang, tz) for h in s.hits)
        pushes.append((s.user_id, "risk_nudge", t("push_nudge", lang, name=inline(classroom.name), why=why),
                       f"nudge:{classroom.id}:{week.isoformat()}:{s.user_id}"))
    enqueue_many(pushes, now)


def digest_job(settings, api) -> Job:
    """The scheduler's weekly digest: checked every 5 minutes, each class's week done once."""
    links = Links(settings.link_secret, settings.server.public_url)
    return Job("risk_digest", lambda now: run_digests(now, settings, links), 300)
