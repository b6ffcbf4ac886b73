"""The teacher's question bank (题库): every quiz and survey they publish is kept with its answer key, and the
statistics of each time it ran come from the activities published from it (Activity.bank), never copied.

An entry is named by its 题号 (BankQuestion.number): 1 for the teacher's first question, the next number for each
new one; it never moves and is never reused. The same question published again is the same entry (its digest)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from peewee import JOIN, IntegrityError, fn

from bot.context import Context, UserError
from bot.database import transaction
from bot.text import MAX_REPLY_BYTES, clean, fit, fit_lines, inline, legible, normalize, preview
from handlers import roster
from handlers.grading import ANSWER_KEY, OPTION_MARK, options_in, read_key, shown_key
from models import FILL, QUIZ, SURVEY, TRUE_FALSE, Activity, BankQuestion, Classroom, Lesson, Response, User, db

PAGE_SIZE = 10  # entries on one page of 题库
NUMBER = re.compile(r"[0-9]{1,6}")  # a 题号 or a page (any longer digits are a search word)
PREVIEW = 30  # characters of a question a list line shows
FIELDS = ("kind", "question", "options", "correct", "answer_type", "accepted")


def digest(fields: dict) -> str:
    return hashlib.sha256("\x1f".join(str(fields[name]) for name in FIELDS).encode("utf-8")).hexdigest()


def keep(owner_id: int, now: datetime, **fields) -> BankQuestion:
    """The owner's entry for the question *fields* describe: the existing one, else a new one with the next 题号.

    In a message the dispatcher holds the teacher's row, so numbers are given one at a time; the unique keys
    (owner, number) and (owner, digest) decide when the import runs beside a message."""
    key = digest(fields)
    for _ in range(5):
        found = BankQuestion.get_or_none((BankQuestion.owner == owner_id) & (BankQuestion.digest == key))
        if found:
            return found
        last = last_number(owner_id)
        try:
            with db.atomic():
                return BankQuestion.create(owner=owner_id, number=last + 1, digest=key, created_at=now, **fields)
        except IntegrityError:
            continue
    raise RuntimeError("no free 题号 after 5 tries")


def last_number(owner_id: int) -> int:
    """The owner's highest 题号 so far (0 for none)."""
    return BankQuestion.select(fn.MAX(BankQuestion.number)).where(BankQuestion.owner == owner_id).scalar() or 0


def fields_of(entry: BankQuestion) -> dict:
    return {name: getattr(entry, name) for name in FIELDS if name != "kind"}


def entry(owner_id: int, number: int) -> BankQuestion:
    """The teacher's entry with 题号 *number*, or the reply saying there is none."""
    found = BankQuestion.get_or_none((BankQuestion.owner == owner_id) & (BankQuestion.number == number))
    if found is None:
        count = BankQuestion.select().where(BankQuestion.owner == owner_id).count()
        raise UserError("bank_no_such", n=number, count=count)
    return found


@dataclass
class Run:
    """One time an entry ran: as which activity, when, in which class, how many answered and how many right."""

    at: datetime
    class_name: str
    answered: int
    right: int


def runs_of(entry_ids: list[int]) -> dict[int, list[Run]]:
    """Each entry's runs, oldest first, counted from its activities' responses (a cancelled lesson's count for
    nobody, as everywhere)."""
    if not entry_ids:
        return {}
    rows = (Activity.select(Activity.id, Activity.bank, Activity.opened_at, Classroom.name,
                            fn.COUNT(Response.id).alias("answered"), fn.SUM(Response.right).alias("rights"))
            .join(Lesson).join(Classroom)
            .join_from(Activity, Response, JOIN.LEFT_OUTER)
            .where(Activity.bank.in_(entry_ids) & Lesson.cancelled_at.is_null())
            .group_by(Activity.id, Activity.bank, Activity.opened_at, Classroom.name)
            .order_by(Activity.opened_at, Activity.id).objects())
    found: dict[int, list[Run]] = {}
    for row in rows:
        found.setdefault(row.bank_id, []).append(Run(row.opened_at, row.name, row.answered, int(row.rights or 0)))
    return found


def _kind(ctx: Context, item: BankQuestion) -> str:
    return ctx.t("survey") if item.kind == SURVEY else ctx.t(f"type_{item.answer_type}")


def _rate(item: BankQuestion, runs: list[Run]) -> tuple[int, int]:
    """(right, answered) over every run of a quiz; (0, 0) for a survey or one never answered."""
    if item.kind != QUIZ:
        return 0, 0
    return sum(r.right for r in runs), sum(r.answered for r in runs)


def _line(ctx: Context, item: BankQuestion, runs: list[Run]) -> str:
    right, answered = _rate(item, runs)
    used = ctx.t("bank_used", n=len(runs)) if runs else ctx.t("bank_unused")
    rate = ctx.t("bank_rate", rate=round(100 * right / answered)) if answered else ""
    return f"#{item.number} {_kind(ctx, item)} {preview(inline(item.question), PREVIEW)} · {used}{rate}"


def bank(ctx: Context, text: str | None = None) -> str:
    """`题库`: the teacher's bank, newest first, PAGE_SIZE a page; `题库 <词> [页]` only the questions with the word;
    `题库 页 <n>` a page of all; `题库 <题号>` one entry with its runs."""
    words = normalize(text or "").split()  # width folded: １２ is 12
    if len(words) == 1 and NUMBER.fullmatch(words[0]):
        return show(ctx, int(words[0]))
    page = 1
    if len(words) > 1 and NUMBER.fullmatch(words[-1]):
        page = int(words.pop())
    word = " ".join(words)
    if normalize(word).casefold() in ("页", "page", "全部", "all"):
        word = ""
    items = list(BankQuestion.select().where(BankQuestion.owner == ctx.user)
                 .order_by(BankQuestion.number.desc()))
    if not items:
        raise UserError("bank_empty")
    if word:
        needle = normalize(word).casefold()
        items = [item for item in items if needle in normalize(item.question).casefold()]
        if not items:
            raise UserError("bank_none_found", word=preview(inline(word), PREVIEW))
    pages = (len(items) + PAGE_SIZE - 1) // PAGE_SIZE
    if page > pages:
        raise UserError("bank_no_such_page", page=page, pages=pages)
    shown = items[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    runs = runs_of([item.id for item in shown])
    header = ctx.t("bank_header_found" if word else "bank_header", n=len(items), word=preview(inline(word), PREVIEW),
                   page=page, pages=pages)
    footer = ctx.t("bank_footer") + (ctx.t("bank_next_page", next=f"{word or ctx.t('bank_page_word')} {page + 1}")
                                     if page < pages else "")
    listing = fit_lines(header, [_line(ctx, item, runs.get(item.id, [])) for item in shown],
                        lambda n: ctx.t("and_more", n=n), MAX_REPLY_BYTES - len(footer.encode("utf-8")) - 1)
    return listing + "\n" + footer


def show(ctx: Context, number: int) -> str:
    """`题库 <题号>`: the question (on one line), its key, each run and the correct rate over them all."""
    item = entry(ctx.user.id, number)
    runs = runs_of([item.id]).get(item.id, [])
    answer = ctx.t("bank_key", answer=shown_key(item, ctx.lang)) if item.kind == QUIZ else ""
    lines = [ctx.t("bank_run", at=ctx.local(r.at).strftime("%Y-%m-%d %H:%M"), name=inline(r.class_name),
                   answered=r.answered, right=r.right if item.kind == QUIZ else "-") for r in runs]
    right, answered = _rate(item, runs)
    total = ctx.t("bank_total", rate=round(100 * right / answered), right=right, answered=answered) if answered else ""
    head = ctx.t("bank_show", n=item.number, kind=_kind(ctx, item), answer=answer,
                 question=fit(inline(item.question), 900), runs=len(runs))
    footer = total + ctx.t("bank_show_footer", n=item.number)
    room = MAX_REPLY_BYTES - len(footer.encode("utf-8")) - 1
    return fit_lines(head, lines, lambda n: ctx.t("and_more", n=n), room) + "\n" + footer


# Importing questions (`flask --app app import-questions FILE --teacher OPENID`): read as the roster is read
# (handlers/roster.py: UTF-8 or GBK CSV, or a bounded .xlsx), checked in full; a file with a bad row imports nothing.
HEADERS = {"question": "question", "题目": "question", "answer": "answer", "答案": "answer"}
SURVEY_WORDS = {"问卷", "survey"}
MAX_QUESTION = 500  # characters of an imported question (a chat message holds about 650 Chinese characters)
FORMULA_START = ("=", "+", "-", "@")  # what a spreadsheet would run: refused at the start of a question
KEY = re.compile(ANSWER_KEY, re.IGNORECASE)


def read_questions(data: bytes) -> list[tuple[int, dict]]:
    """(line, fields) of every question of a CSV or .xlsx file with the columns 题目,答案 (question,answer),
    or raise roster.RosterError naming every bad line. 答案 is a 练习 key (B, AC, 对, =北京/北平) or 问卷 (survey)."""
    lines, problems = roster.table_lines(roster.read_table(data, max_cell=MAX_QUESTION), HEADERS,
                                         ("question", "answer"), "questions", "题目,答案")
    rows, seen = [], {}
    for number, (raw_question, raw_answer) in lines:
        fields, problem = _question(raw_question, raw_answer)
        if problem:
            problems.append(f"line {number}: {problem}")
            continue
        key = digest(fields)
        if key in seen:
            problems.append(f"line {number}: the same question as line {seen[key]}")
            continue
        seen[key] = number
        rows.append((number, fields))
    roster.refuse(problems)
    if not rows:
        raise roster.RosterError("the file has no questions")
    return rows


def _question(raw_question: str, raw_answer: str) -> tuple[dict, str]:
    """The fields of one question, or the problem with it."""
    question = clean(raw_question)
    if not question:
        return {}, "the question is empty"
    if len(question) > MAX_QUESTION:
        return {}, f"the question has {len(question)} characters, more than {MAX_QUESTION}"
    if question.startswith(FORMULA_START):
        return {}, f"the question starts with {question[0]!r}, which a spreadsheet runs as a formula (reword it)"
    if not legible(question):
        return {}, "the question has characters that show as blanks or pile up"
    answer = normalize(raw_answer).replace(" ", "")
    if answer.casefold() in SURVEY_WORDS:
        options = "".join(sorted(set(OPTION_MARK.findall(question))))
        if len(options) < 2:
            return {}, "a survey needs its options in the question (A.… B.…)"
        return dict(kind=SURVEY, question=question, options=options, correct="", answer_type="single", accepted=""), ""
    if not KEY.fullmatch(answer):
        return {}, f"answer {preview(answer, 20)!r} is not B, AC, 对/错, =text or 问卷"
    answer_type, key, accepted = read_key(answer)
    if answer_type == FILL and not accepted:
        return {}, "a fill-in answer needs text after ="
    options = "" if answer_type in (FILL, TRUE_FALSE) else options_in(question, key)
    if options and not set(key) <= set(options):
        return {}, f"answer {key} is not among the options {'/'.join(options)}"
    return dict(kind=QUIZ, question=question, options=options, correct=key, answer_type=answer_type,
                accepted=accepted), ""


def import_questions(openid: str, data: bytes, now: datetime) -> tuple[list[int], list[int]]:
    """Add the file's questions to the teacher's bank; return (题号 added, 题号 already there). The file is read and
    checked in full first; then written in one transaction."""
    rows = read_questions(data)
    teacher = User.get_or_none(User.openid == openid)
    if teacher is None or not teacher.is_teacher:
        raise roster.RosterError(f"{openid} is not a teacher (flask --app app make-teacher {openid})")
    added, there = [], []
    with transaction():
        before = last_number(teacher.id)
        for _line, fields in rows:
            item = keep(teacher.id, now, **fields)
            (added if item.number > before else there).append(item.number)
    return added, there
