"""Guided dialogs for commands a menu button sends bare: 练习 asks for the question, options, answer and
minutes; 发布公告 asks for the text. Each step is a Flow step (bot/plugin.py); the last runs the command."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.context import Context
from bot.text import normalize
from handlers import scope, teacher
from handlers.grading import ANSWER_KEY, MINUTES, OPTION_MARK, options_in, read_key
from models import FILL, TRUE_FALSE

GUIDE_TTL = timedelta(minutes=10)
NO_OPTIONS = {"无", "没有", "不用", "none", "no", "-"}
KEY = re.compile(ANSWER_KEY, re.IGNORECASE)
MINUTES_GIVEN = re.compile(MINUTES)
DEFAULT_MINUTES = {"", "默认", "default", "ok", "好"}


def quiz_guide(ctx: Context) -> str:
    """`练习` alone (the menu's button): ask step by step, once the lesson is on (else say so now)."""
    scope.live_lesson(ctx, scope.current_class(ctx))
    ctx.start_dialog("quiz_guide", "question", GUIDE_TTL)
    return ctx.t("guide_quiz_question")


def quiz_question(ctx: Context, data: dict, text: str) -> str:
    """Step 1 of 4: the question (options may be in it already: A.1 B.2)."""
    question = text.strip()
    if len(OPTION_MARK.findall(question)) >= 2:  # the options came with it
        ctx.start_dialog("quiz_guide", "answer", GUIDE_TTL, question=question)
        return ctx.t("guide_quiz_answer")
    ctx.start_dialog("quiz_guide", "options", GUIDE_TTL, question=question)
    return ctx.t("guide_quiz_options")


def quiz_options(ctx: Context, data: dict, text: str) -> str:
    """Step 2 of 4: the options (A.1 B.2 C.3), or 无 for a true/false or fill-in question."""
    options = text.strip()
    if normalize(options).casefold() in NO_OPTIONS:
        options = ""
    elif len(OPTION_MARK.findall(options)) < 2:
        return ctx.t("guide_bad_options")
    ctx.start_dialog("quiz_guide", "answer", GUIDE_TTL, question=f"{data['question']} {options}".strip())
    return ctx.t("guide_quiz_answer")


def quiz_answer(ctx: Context, data: dict, text: str) -> str:
    """Step 3 of 4: the answer key, as the one-line 练习 takes it (B, AC, 对/错, =答案)."""
    key = normalize(text).replace(" ", "")
    if not KEY.fullmatch(key):
        return ctx.t("guide_bad_answer")
    answer_type, letters, _accepted = read_key(key)
    options = "" if answer_type in (FILL, TRUE_FALSE) else options_in(data["question"], letters)
    if options and not set(letters) <= set(options):  # said now, not after the minutes
        return ctx.t("correct_not_an_option", correct=letters, options="/".join(options)) + "\n" + ctx.t("guide_quiz_answer")
    ctx.start_dialog("quiz_guide", "minutes", GUIDE_TTL, **data, correct=key)
    return ctx.t("guide_quiz_minutes")


def quiz_minutes(ctx: Context, data: dict, text: str) -> str:
    """Step 4 of 4: the minutes (default 5); then publish as `练习 <答案> <分钟> <题目>` would."""
    word = normalize(text).casefold()
    if word in DEFAULT_MINUTES:
        minutes = 5
    elif MINUTES_GIVEN.fullmatch(word):
        minutes = int(word)
    else:
        return ctx.t("guide_bad_minutes")
    ctx.end_dialog()  # a refusal below (the lesson ended meanwhile) undoes this: the step stays
    return teacher.quiz(ctx, data["correct"], data["question"], minutes)


def announce_guide(ctx: Context) -> str:
    """`发布公告` alone: ask for the text."""
    scope.current_class(ctx)
    ctx.start_dialog("announce_guide", "text", GUIDE_TTL)
    return ctx.t("guide_announce_text")


def announce_text(ctx: Context, data: dict, text: str) -> str:
    """The one step: the announcement, posted and pushed (too long: said, and asked again)."""
    ctx.end_dialog()
    return teacher.announce(ctx, text.strip())


QUIZ_STEPS = {"question": quiz_question, "options": quiz_options, "answer": quiz_answer, "minutes": quiz_minutes}
ANNOUNCE_STEPS = {"text": announce_text}
