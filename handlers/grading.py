"""Quiz answers: what a teacher's answer key means, how a student's answer is read, and grading."""

from __future__ import annotations

import re

from bot.catalogue import t
from bot.text import normalize
from models import FILL, MULTIPLE, SINGLE, SURVEY, TRUE_FALSE, Activity

TRUE_WORDS = {"对", "t", "true", "√", "✓", "是", "正确", "y", "yes"}
FALSE_WORDS = {"错", "f", "false", "×", "✗", "x", "否", "错误", "n", "no"}
TRUE_FALSE_SHOWN = {"T": "tf_true", "F": "tf_false"}  # catalogue keys
ANSWER_KEY = r"[a-h]{1,8}|对|错|[tf]|true|false|√|×|=\S+"  # a teacher's answer key (练习's argument, its guide's step)
MINUTES = r"600|[1-5]\d\d|[1-9]\d?"  # how long an activity runs, 1-600
OPTION_MARK = re.compile(r"(?<![A-Za-z])([A-H])\s*[.．、)）:：]")


def read_key(key: str) -> tuple[str, str, str]:
    """Return (answer_type, correct, accepted) for a teacher's answer key: B, AC, 对, =北京/北平."""
    key = normalize(key)
    if key.startswith("="):
        accepted = [comparable_answer(a) for a in re.split(r"[|/｜]", key[1:]) if comparable_answer(a)]
        return FILL, "", "|".join(accepted)
    folded = key.casefold()
    if folded in TRUE_WORDS:
        return TRUE_FALSE, "T", ""
    if folded in FALSE_WORDS:
        return TRUE_FALSE, "F", ""
    letters = "".join(sorted(set(key.upper())))
    return (SINGLE if len(letters) == 1 else MULTIPLE), letters, ""


def options_in(question: str, correct: str) -> str:
    """The option letters of a choice question: those marked in its text (A. B. …), else A–D."""
    letters = sorted(set(OPTION_MARK.findall(question)))
    if len(letters) >= 2:
        return "".join(letters)
    return "".join(sorted(set("ABCD") | set(correct)))


def comparable_answer(text: str) -> str:
    """Compare fill-in answers ignoring width, case and spaces."""
    return normalize(text).casefold().replace(" ", "")


def read_answer(activity: Activity, text: str) -> str | None:
    """Normalise a student's answer for *activity*; None when it cannot be an answer."""
    text = normalize(text)
    if activity.answer_type == FILL:
        return text[:64] or None
    if activity.answer_type == TRUE_FALSE:
        folded = text.casefold()
        return "T" if folded in TRUE_WORDS else "F" if folded in FALSE_WORDS else None
    letters = re.sub(r"[\s,;、]", "", text).upper()
    if not letters or any(ch not in activity.options for ch in letters):
        return None
    letters = "".join(sorted(set(letters)))
    if activity.answer_type == SINGLE and len(letters) != 1:
        return None
    return letters


def is_right(activity: Activity, answer: str) -> bool:
    if activity.answer_type == FILL:
        return comparable_answer(answer) in activity.accepted.split("|")
    return answer == activity.correct


def shown_key(activity: Activity, lang: str = "zh") -> str:
    """The correct answer as a student would read it."""
    if activity.answer_type == FILL:
        return " / ".join(activity.accepted.split("|"))
    if activity.answer_type == TRUE_FALSE:
        return t(TRUE_FALSE_SHOWN[activity.correct], lang)
    return activity.correct


def answer_example(activity: Activity) -> str:
    """A bare answer a student could send to *activity* (quiz or survey): B, AC, 对."""
    options = activity.options or "AB"
    if activity.answer_type == MULTIPLE:
        return options[0] + options[-1]
    return options[min(1, len(options) - 1)]


def question_card(activity: Activity, name: str, lang: str, at: str, left: int) -> str:
    """The question as a student's phone shows it (the push and `答` alone): kind, deadline and minutes left,
    the question with its options, and how to answer (a bare B, AC or 对 while it is open)."""
    kind = "survey" if activity.kind == SURVEY else f"type_{activity.answer_type}"
    if activity.answer_type == FILL:
        how = t("how_fill", lang)
    elif activity.answer_type == TRUE_FALSE:
        how = t("how_truefalse", lang)
    else:
        how = t("how_choice", lang, options="/".join(activity.options), example=answer_example(activity))
    return t("question_card", lang, kind=t(kind, lang), name=name, at=at, left=left, question=activity.question, how=how)


def shown_answer(activity: Activity, answer: str, lang: str = "zh") -> str:
    if activity.answer_type == TRUE_FALSE and answer in ("T", "F"):
        return t(TRUE_FALSE_SHOWN[answer], lang)
    return answer
