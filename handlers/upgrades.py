"""Rows an older version wrote that the current one reads differently; `init-db` brings them up to date."""

from __future__ import annotations

from handlers import bank
from handlers.grading import is_right
from models import QUIZ, SURVEY, Activity, Classroom, Lesson, Response


def upgrade_rows() -> int:
    """Grade quiz answers given before answers were graded on arrival (Response.right); return how many."""
    ungraded = (Response.select(Response.id, Response.answer, Activity).join(Activity)
                .where((Activity.kind == QUIZ) & Response.right.is_null()))
    graded = 0
    for response in ungraded.iterator():
        Response.update(right=int(is_right(response.activity, response.answer))).where(Response.id == response.id).execute()
        graded += 1
    return graded


def bank_past_questions() -> int:
    """Keep in each teacher's bank (题库) the quizzes and surveys published before the bank existed, oldest first
    (so the 题号 follow the order they were published in), and link each to its entry; return how many."""
    past = (Activity.select(Activity, Classroom.owner.alias("teacher_id")).join(Lesson).join(Classroom)
            .where(Activity.kind.in_((QUIZ, SURVEY)) & Activity.bank.is_null())
            .order_by(Activity.opened_at, Activity.id).objects())
    kept = 0
    for activity in past.iterator():
        entry = bank.keep(activity.teacher_id, activity.opened_at, kind=activity.kind,
                          **{name: getattr(activity, name) for name in bank.FIELDS if name != "kind"})
        Activity.update(bank=entry).where(Activity.id == activity.id).execute()
        kept += 1
    return kept
