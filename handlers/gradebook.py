"""平时成绩: the class's rule (成绩规则), its three parts from aggregate queries, and the chat replies
成绩规则 / 我的成绩 / 成绩. Scores are computed on every read from the rule and the records, never stored.

The parts, each "to date" (only what has been held so far), over what was held within the student's membership
span of the class (records.spanned, the attendance rule's: first join to final leave) in lessons not cancelled:
- 出勤 attendance: a lesson's status for a student is the best over its check-ins (present > late >
  excused > absent); points: present 100, late `rule.late`, excused per `rule.excused` (left out of the
  denominator, 0, or 100), absent 0; over the lessons with a check-in.
- 练习 quizzes: right answers over closed quizzes (unanswered = wrong).
- 参与 participation: closed quizzes, surveys and discussions answered (a response or a post) over those held.
A part with nothing held yet is "—" and the weights of the others are scaled to 100.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from peewee import JOIN, Case, Select, Value, fn

from bot.catalogue import t
from bot.context import Context, UserError
from bot.text import fit_lines
from handlers import records, scope, sections
from models import (
    ABSENT,
    DISCUSSION,
    EXCUSED,
    LATE,
    OPEN,
    PRESENT,
    QUIZ,
    SURVEY,
    Activity,
    Classroom,
    GradingRule,
    Lesson,
    Membership,
    Post,
    Response,
    User,
    db,
)

PARTS = ("attendance", "quizzes", "participation")
OMIT, AS_ABSENT, AS_PRESENT = "omit", "absent", "present"
STATUSES = (PRESENT, LATE, EXCUSED, ABSENT)  # best first: a lesson's status is the best of its check-ins


@dataclass(frozen=True)
class Rule:
    """A class's grading rule; the defaults are what a teacher would accept without reading."""

    attendance: int = 50
    quizzes: int = 30
    participation: int = 20
    late: int = 80
    excused: str = OMIT
    ranks: bool = False

    def weight(self, part: str) -> int:
        return getattr(self, part)


DEFAULT_RULE = Rule()
RULE_FIELDS = ("attendance", "quizzes", "participation", "late", "excused", "ranks")

# What a teacher may write after 成绩规则, in either language.
WEIGHT_WORDS = {"出勤": "attendance", "考勤": "attendance", "attendance": "attendance", "练习": "quizzes",
                "quiz": "quizzes", "quizzes": "quizzes", "参与": "participation", "participation": "participation"}
EXCUSED_VALUES = {"不计": OMIT, "omit": OMIT, "缺勤": AS_ABSENT, "absent": AS_ABSENT, "出勤": AS_PRESENT, "present": AS_PRESENT}
RANK_VALUES = {"开": True, "on": True, "关": False, "off": False}
SETTING_WORDS = {"迟到": "late", "late": "late", "请假": "excused", "excused": "excused", "排名": "ranks", "ranks": "ranks"}
WORDS = {*WEIGHT_WORDS, *EXCUSED_VALUES, *RANK_VALUES, *SETTING_WORDS}
# A rule's tokens: numbers, the words above (Chinese ones need no spaces: 请假不计, 出勤50), else one character
# at a time, which is never a word: anything unknown is refused.
TOKEN = re.compile("|".join([r"\d+", *sorted((w for w in WORDS if not w.isascii()), key=len, reverse=True),
                             r"\b(?:%s)\b" % "|".join(sorted((w for w in WORDS if w.isascii()), key=len, reverse=True)),
                             r"\S"]))


def read_rule(text: str, rule: Rule, lang: str = "zh") -> Rule:
    """The rule *text* makes of *rule*; raises UserError('grading_usage') for anything malformed.

    Weights are given together (any subset of the parts, the rest 0) and sum to 100; 迟到 is 0-100;
    请假 is 不计|缺勤|出勤; 排名 is 开|关; each at most once."""
    tokens = TOKEN.findall(text.casefold())
    if not tokens or len(tokens) % 2:
        raise UserError("grading_usage", why="")
    weights: dict[str, int] = {}
    changes: dict[str, object] = {}
    for word, value in zip(tokens[0::2], tokens[1::2], strict=True):
        part, setting = WEIGHT_WORDS.get(word), SETTING_WORDS.get(word)
        if part and part not in weights and re.fullmatch(r"\d{1,3}", value) and int(value) <= 100:
            weights[part] = int(value)
        elif setting == "late" and setting not in changes and re.fullmatch(r"\d{1,3}", value) and int(value) <= 100:
            changes["late"] = int(value)
        elif setting == "excused" and setting not in changes and value in EXCUSED_VALUES:
            changes["excused"] = EXCUSED_VALUES[value]
        elif setting == "ranks" and setting not in changes and value in RANK_VALUES:
            changes["ranks"] = RANK_VALUES[value]
        else:
            raise UserError("grading_usage", why="")
    if weights:
        if sum(weights.values()) != 100:
            raise UserError("grading_usage", why=t("grading_sum", lang, total=sum(weights.values())))
        changes.update({part: weights.get(part, 0) for part in PARTS})
    return replace(rule, **changes)


def rules_of(class_ids) -> dict[int, tuple[Rule, GradingRule | None]]:
    """Each class's current rule (its latest row, else the defaults) and that row: one query."""
    out = {cid: (DEFAULT_RULE, None) for cid in class_ids}
    rows = (GradingRule.select().where(GradingRule.classroom.in_(list(class_ids)))
            .order_by(GradingRule.created_at, GradingRule.id))
    for row in rows:
        out[row.classroom_id] = (Rule(**{f: getattr(row, f) for f in RULE_FIELDS}), row)
    return out


# --- the parts, by aggregate queries ---------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    """A student's attendance for one lesson: the best status over its check-ins."""

    status: str
    made_up: bool = False  # set by an approved make-up / leave request: shown 补
    marked: bool = False  # set by the teacher's 改签


@dataclass
class Standing:
    """One student's records in one class, to date."""

    counts: dict = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    made_up: int = 0
    right: int = 0
    quizzes: int = 0
    answered: int = 0
    activities: int = 0

    @property
    def lessons(self) -> int:
        return sum(self.counts.values())


def held(now):
    """SQL: an activity that is over at *now* (closed, or past its deadline): only these count."""
    return (Activity.status != OPEN) | (Activity.deadline < now)


CELLS = tuple(Cell(status, made_up, marked) for status in STATUSES for made_up in (False, True) for marked in (False, True))
CELL = {(c.status, c.marked, c.made_up): c for c in CELLS}  # the 16 possible cells, shared


def activity_cells(where, now, user=None):
    """SQL: one row per (held quiz/survey/discussion of a counted lesson, student whose membership span covers it,
    records.spanned: the rule check-ins follow): its class, lesson, kind, whether the student answered (a
    response or a post) and, for a quiz, whether rightly."""
    span = records.spans(user)
    posted = fn.EXISTS(Post.select(Post.id).where((Post.activity == Activity.id) & (Post.user == span.c.user_id)))
    answered = Case(None, ((Response.id.is_null(False) | posted, 1),), 0)
    return (Activity.select(Lesson.classroom.alias("classroom"), Activity.lesson.alias("lesson"),
                            Activity.id.alias("activity"), Activity.kind.alias("kind"), span.c.user_id.alias("user"),
                            answered.alias("answered"), fn.COALESCE(Response.right, 0).alias("right"))
            .join(Lesson)
            .join(span, on=((span.c.classroom_id == Lesson.classroom) & records.spanned(span)))
            .join(Response, JOIN.LEFT_OUTER, on=((Response.activity == Activity.id) & (Response.user == span.c.user_id)))
            .where(records.counted(where) & Activity.kind.in_((QUIZ, SURVEY, DISCUSSION)) & held(now)))


def activity_figures(where, now, user=None, by_lesson: bool = False) -> tuple[dict, dict, dict]:
    """From one statement over activity_cells (computed once, as a common table expression): per (class, student)
    (quizzes, right, activities, answered); per held quiz (students counted, right); and, when *by_lesson*, per
    (lesson, student) (quizzes, right) for the export's per-lesson columns."""
    cells = activity_cells(where, now, user).cte("cells")
    quiz = Case(None, ((cells.c.kind == QUIZ, 1),), 0)
    per_student = (Select(columns=[Value("s"), cells.c.classroom, cells.c.user, fn.SUM(quiz), fn.SUM(quiz * cells.c.right),
                                   fn.COUNT(cells.c.activity), fn.SUM(cells.c.answered)])
                   .from_(cells).group_by(cells.c.classroom, cells.c.user))
    per_quiz = (Select(columns=[Value("q"), cells.c.activity, Value(0), fn.COUNT(cells.c.user), fn.SUM(cells.c.right),
                                Value(0), Value(0)])
                .from_(cells).where(cells.c.kind == QUIZ).group_by(cells.c.activity))
    query = per_student + per_quiz
    if by_lesson:
        query = query + (Select(columns=[Value("l"), cells.c.lesson, cells.c.user, fn.COUNT(cells.c.activity),
                                         fn.SUM(cells.c.right), Value(0), Value(0)])
                         .from_(cells).where(cells.c.kind == QUIZ).group_by(cells.c.lesson, cells.c.user))
    students, quizzes, lessons = {}, {}, {}
    for what, a, b, n1, n2, n3, n4 in query.with_cte(cells).bind(db).tuples():
        n1, n2, n3, n4 = (int(v or 0) for v in (n1, n2, n3, n4))
        if what == "s":
            students[a, b] = (n1, n2, n3, n4)
        elif what == "q":
            quizzes[a] = (n1, n2)
        else:
            lessons[a, b] = (n1, n2)
    return students, quizzes, lessons


def standings(where, now, user=None, by_lesson: bool = False):
    """Every (class, student)'s Standing and every (lesson, student)'s Cell among the lessons *where* selects, with
    activity_figures' per quiz and per lesson figures: two statements whatever the number of students, lessons and
    activities."""
    out: dict[tuple[int, int], Standing] = {}
    grid: dict[tuple[int, int], Cell] = {}
    classes = dict(db.execute(Lesson.select(Lesson.id, Lesson.classroom).where(where)))
    for (lesson_id, uid), flags in records.lesson_attendance_marked(where, user).items():  # the one attendance rule
        cell = grid[lesson_id, uid] = CELL[flags]
        mine = out.setdefault((classes[lesson_id], uid), Standing())
        mine.counts[cell.status] += 1
        mine.made_up += cell.made_up
    students, quizzes, lessons = activity_figures(where, now, user, by_lesson)
    for key, (n, right, activities, answered) in students.items():
        mine = out.setdefault(key, Standing())
        mine.quizzes, mine.right, mine.activities, mine.answered = n, right, activities, answered
    return out, grid, quizzes, lessons


# --- the arithmetic -----------------------------------------------------------------------------------------

def part_scores(s: Standing, rule: Rule) -> dict[str, Fraction | None]:
    """Each part as a percentage (exact), None when nothing of it has been held for this student yet."""
    c = s.counts
    excused_points = 100 if rule.excused == AS_PRESENT else 0
    points = 100 * c[PRESENT] + rule.late * c[LATE] + excused_points * c[EXCUSED]
    out_of = s.lessons - (c[EXCUSED] if rule.excused == OMIT else 0)
    return {
        "attendance": Fraction(points, out_of) if out_of else None,
        "quizzes": Fraction(100 * s.right, s.quizzes) if s.quizzes else None,
        "participation": Fraction(100 * s.answered, s.activities) if s.activities else None,
    }


def used_parts(parts: dict, rule: Rule) -> list[str]:
    """The parts that count: weighted and with something held."""
    return [p for p in PARTS if rule.weight(p) and parts[p] is not None]


def total_score(parts: dict, rule: Rule) -> Fraction | None:
    """平时成绩: the weighted mean of the parts that count (weights scaled to 100 when a part is "—")."""
    used = used_parts(parts, rule)
    if not used:
        return None
    return sum((rule.weight(p) * parts[p] for p in used), Fraction(0)) / sum(rule.weight(p) for p in used)


def rounded(value: Fraction | None) -> Decimal | None:
    """A score as every view shows it: one decimal, halves up (so chat, page and file agree to the point)."""
    if value is None:
        return None
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def shown(value: Fraction | None) -> str:
    score = rounded(value)
    return "—" if score is None else str(score)


def scaled_weights(parts: dict, rule: Rule) -> dict[str, int] | None:
    """When a weighted part is "—": the other parts' weights scaled to 100 (whole percent), else None."""
    used = used_parts(parts, rule)
    if not used or len(used) == len([p for p in PARTS if rule.weight(p)]):
        return None
    total = sum(rule.weight(p) for p in used)
    return {p: int((Decimal(100 * rule.weight(p)) / total).quantize(Decimal(1), rounding=ROUND_HALF_UP)) for p in used}


@dataclass
class Row:
    """One student of a class in the grade book."""

    user: User
    standing: Standing
    parts: dict
    total: Fraction | None
    current: bool  # still a member (those who left are listed, not counted in the class's figures)


@dataclass
class Book:
    """A class's grade book to date: the rule, the lessons with a check-in, a row per student who was ever a
    member, the attendance grid and the held quizzes."""

    classroom: Classroom
    rule: Rule
    rule_row: GradingRule | None
    lessons: list
    rows: list
    grid: dict
    quizzes: list  # (Activity, lesson number, counted, right)
    activities: int  # held quizzes, surveys and discussions
    lesson_quizzes: dict  # (lesson, student) -> (quizzes, right), when asked for (the CSV's per-lesson columns)

    @property
    def counted(self) -> list:
        return [r for r in self.rows if r.current and r.total is not None]

    def held(self) -> dict:
        """Per part, whether anything of it has been held in the class (None: not yet)."""
        return {"attendance": self.lessons or None, "quizzes": self.quizzes or None, "participation": self.activities or None}

    def scaled(self) -> dict[str, int] | None:
        """The class's weights scaled to 100 when a weighted part has had nothing held yet, else None."""
        return scaled_weights(self.held(), self.rule)

    def missing_note(self, lang: str) -> str:
        """When a weighted part has had nothing held in the class yet: which, and how the others are scaled."""
        held, scaled = self.held(), self.scaled()
        if not scaled:
            return ""
        sep = t("list_sep", lang)
        missing = sep.join(t(f"part_{p}", lang) for p in PARTS if self.rule.weight(p) and held[p] is None)
        return t("gradebook_missing", lang, parts=missing,
                 scaled=sep.join(f"{t(f'part_{p}', lang)} {w}%" for p, w in scaled.items()))


def book(classroom: Classroom, now, by_lesson: bool = False, section: int | None = None) -> Book:
    """Everything the grade book, its files and 成绩 show: a fixed handful of statements whatever the class's size.
    *section*: the rows of that section's students only (handlers/sections.py); the quizzes' rates stay the class's."""
    where = Lesson.classroom == classroom.id
    rule, row = rules_of([classroom.id])[classroom.id]
    found, grid, rates, per_lesson = standings(where, now, by_lesson=by_lesson)
    checked = {lesson_id for lesson_id, _uid in grid}
    every = list(Lesson.select().where(records.counted(where)).order_by(Lesson.started_at, Lesson.id))
    numbers = {lesson.id: n for n, lesson in enumerate(every, 1)}
    lessons = [lesson for lesson in every if lesson.id in checked]
    current: dict[int, bool] = {}
    users = {}
    stretches = User.select(User, Membership.active.alias("active")).join(Membership).where(Membership.classroom == classroom.id)
    for user in stretches.objects():
        users[user.id] = user
        current[user.id] = current.get(user.id, False) or user.active == 1
    rows = []
    allowed = sections.students_in(classroom.id, section)
    for user in sorted(users.values(), key=lambda u: (u.student_no or "~", u.id)):
        if allowed is not None and user.id not in allowed:
            continue
        standing = found.get((classroom.id, user.id), Standing())
        parts = part_scores(standing, rule)
        rows.append(Row(user, standing, parts, total_score(parts, rule), current[user.id]))
    quizzes = [(a, numbers[a.lesson_id], *rates[a.id]) for a in Activity.select().join(Lesson)
               .where(records.counted(where) & (Activity.kind == QUIZ) & held(now)).order_by(Activity.opened_at, Activity.id)
               if a.id in rates]
    activities = (Activity.select().join(Lesson)
                  .where(records.counted(where) & Activity.kind.in_((QUIZ, SURVEY, DISCUSSION)) & held(now)).count())
    return Book(classroom, rule, row, lessons, rows, grid, quizzes, activities, per_lesson)


BANDS = (10, 30, 50)  # 排名 开: a student sees 前 10 % / 前 30 % / 前 50 %, or nothing more


def band(score: Fraction, scores: list[Fraction]) -> int | None:
    """The smallest band (percent) the student's score is in among *scores* (ties share the better place)."""
    above = sum(1 for s in scores if s > score)
    for top in BANDS:
        if above < len(scores) * top / 100:
            return top
    return None


# --- chat ---------------------------------------------------------------------------------------------------

def describe_rule(ctx: Context, rule: Rule) -> str:
    return ctx.t("grading_rule", attendance=rule.attendance, quizzes=rule.quizzes, participation=rule.participation,
                 late=rule.late, excused=ctx.t(f"grading_excused_{rule.excused}"),
                 ranks=ctx.t("grading_ranks_on" if rule.ranks else "grading_ranks_off"))


def changes(ctx: Context, old: Rule, new: Rule) -> str:
    """What changed, old → new, in the teacher's words."""
    def said(name: str, rule: Rule) -> str:
        value = getattr(rule, name)
        if name == "excused":
            return ctx.t(f"grading_excused_{value}")
        if name == "ranks":
            return ctx.t("grading_on" if value else "grading_off")
        return str(value)
    return ctx.t("list_sep").join(ctx.t(f"grading_field_{f}", old=said(f, old), new=said(f, new))
                                  for f in RULE_FIELDS if getattr(old, f) != getattr(new, f))


def grading(ctx: Context, rule: str | None = None) -> str:
    """成绩规则: show the class's rule (and its last change), or change it."""
    classroom = scope.current_class(ctx)
    current, row = rules_of([classroom.id])[classroom.id]
    if not rule:
        reply = ctx.t("grading_show", name=classroom.name, rule=describe_rule(ctx, current))
        if row is not None:
            previous = (GradingRule.select().where((GradingRule.classroom == classroom.id) & (GradingRule.id != row.id)
                                                   & (GradingRule.created_at <= row.created_at))
                        .order_by(GradingRule.created_at.desc(), GradingRule.id.desc()).first())
            before = Rule(**{f: getattr(previous, f) for f in RULE_FIELDS}) if previous else DEFAULT_RULE
            who = row.author.display_name if row.author else "—"
            reply += ctx.t("grading_last_change", who=who, at=ctx.local(row.created_at).strftime("%Y-%m-%d %H:%M"),
                           changes=changes(ctx, before, current) or ctx.t("grading_no_change"))
        return reply + ctx.t("grading_how")
    new = read_rule(rule, current, ctx.lang)
    if new == current:
        return ctx.t("grading_same", name=classroom.name, rule=describe_rule(ctx, current))
    GradingRule.create(classroom=classroom.id, author=ctx.user, created_at=ctx.now,
                       **{f: getattr(new, f) for f in RULE_FIELDS})
    return ctx.t("grading_changed", name=classroom.name, changes=changes(ctx, current, new), rule=describe_rule(ctx, new))


def part_lines(ctx: Context, standing: Standing, parts: dict, rule: Rule) -> list[str]:
    """A student's parts, each with its weight and what it is out of (我的成绩, the page's expanded row)."""
    c = standing.counts
    lines = []
    scaled = scaled_weights(parts, rule) or {}
    for part in PARTS:
        if not rule.weight(part):
            continue
        weight = ctx.t("grading_weight", weight=rule.weight(part))
        if part in scaled:
            weight = ctx.t("grading_weight_scaled", weight=rule.weight(part), scaled=scaled[part])
        if part == "attendance":
            detail = ctx.t("grades_attendance", n=standing.lessons, present=c[PRESENT], late=c[LATE], excused=c[EXCUSED],
                           absent=c[ABSENT], excused_rule=ctx.t(f"grading_excused_{rule.excused}"))
            if standing.made_up:
                detail += ctx.t("grades_made_up", n=standing.made_up)
        elif part == "quizzes":
            detail = ctx.t("grades_quizzes", n=standing.quizzes, right=standing.right)
        else:
            detail = ctx.t("grades_participation", n=standing.activities, answered=standing.answered)
        if parts[part] is None:
            detail = ctx.t(f"grades_none_{part}")
        lines.append(ctx.t("grades_part", part=ctx.t(f"part_{part}"), score=shown(parts[part]), weight=weight, detail=detail))
    return lines


def my_grades(ctx: Context) -> str:
    """我的成绩: per class, the score to date with each part, its weight and what it is out of."""
    classes = scope.joined_classes(ctx.user)
    if not classes:
        return ctx.t("no_class_student")
    rules = rules_of([c.id for c in classes])
    ranked = [c.id for c in classes if rules[c.id][0].ranks]
    found, _grid, _rates, _lessons = standings(Lesson.classroom.in_([c.id for c in classes]), ctx.now, ctx.user)
    lines = []
    for classroom in classes:
        rule = rules[classroom.id][0]
        standing = found.get((classroom.id, ctx.user.id), Standing())
        parts = part_scores(standing, rule)
        total = total_score(parts, rule)
        line = ctx.t("grades_class", name=classroom.name, score=shown(total))
        if classroom.id in ranked and total is not None:
            scores = [r.total for r in book(classroom, ctx.now).counted]
            top = band(total, scores)
            line += ctx.t("grades_band", top=top) if top else ""
        lines.append(line)
        lines += part_lines(ctx, standing, parts, rule)
    return fit_lines(ctx.t("grades_header"), lines, lambda n: ctx.t("and_more", n=n))


HISTOGRAM = ((90, "90–100"), (80, "80–89"), (70, "70–79"), (60, "60–69"), (0, "0–59"))


def histogram(scores) -> dict[str, int]:
    """How many (rounded) scores fall in each band of HISTOGRAM, best first."""
    counts = dict.fromkeys((label for _low, label in HISTOGRAM), 0)
    for score in scores:
        counts[next(label for low, label in HISTOGRAM if score >= low)] += 1
    return counts


def book_url(links, classroom_id: int, lang: str, now, ttl, section: int | None = None) -> str:
    """A signed link to the class's grade-book page, speaking *lang*: 成绩's reply and the at-risk digest's
    full list (RuntimeError without a public_url). *section*: that section's rows only, signed into the link."""
    value = f"{classroom_id}:{lang}" + (f":{section}" if section is not None else "")
    return links.url(f"/gradebook/{links.token('gradebook', value, now, ttl)}")


def link_ttl(ctx: Context) -> timedelta:
    """How long a grade-book link lives: [gradebook] link_hours."""
    return timedelta(hours=ctx.settings.gradebook.link_hours)


def gradebook(ctx: Context, section: str | None = None) -> str:
    """成绩 [分组]: the class's (or one section's: handlers/sections.view) distribution, mean, how many are below 60,
    and a signed link to the grade book page of the same rows."""
    classroom = scope.current_class(ctx)
    covered = sections.view(classroom, section)
    data = book(classroom, ctx.now, section=covered)
    scores = [rounded(r.total) for r in data.counted]
    lines = [ctx.t("gradebook_header", name=classroom.name, lessons=len(data.lessons), quizzes=len(data.quizzes),
                   activities=data.activities, students=len([r for r in data.rows if r.current]),
                   rule=describe_rule(ctx, data.rule))]
    if data.missing_note(ctx.lang):
        lines.append(data.missing_note(ctx.lang))
    if scores:
        counts = histogram(scores)
        most = max(counts.values())
        for label, n in counts.items():
            lines.append(f"{label} {'▇' * max(1, round(10 * n / most)) if n else '·'} {n}")
        mean = rounded(sum((r.total for r in data.counted), Fraction(0)) / len(scores))
        lines.append(ctx.t("gradebook_mean", mean=mean, below=sum(1 for s in scores if s < 60)))
    else:
        lines.append(ctx.t("gradebook_empty"))
    unscored = len([r for r in data.rows if r.current and r.total is None])
    if unscored and scores:
        lines.append(ctx.t("gradebook_unscored", n=unscored))
    ttl = link_ttl(ctx)
    lines[0] += sections.note(ctx.lang, covered)
    lines.append(ctx.t("gradebook_link", url=book_url(ctx.links, classroom.id, ctx.lang, ctx.now, ttl, covered),
                       at=ctx.local(ctx.now + ttl).strftime("%m-%d %H:%M")))
    return "\n".join(lines)
