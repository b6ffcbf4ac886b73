"""Rows an older version wrote that the current one reads differently; `init-db` brings them up to date."""

from __future__ import annotations

from handlers.grading import is_right
from models import QUIZ, Activity, Response


def upgrade_rows() -> int:
    """Grade quiz answers given before answers were graded on arrival (Response.right); return how many."""
    ungraded = (Response.select(Response.id, Response.answer, Activity).join(Activity)
                .where((Activity.kind == QUIZ) & Response.right.is_null()))
    graded = 0
    for response in ungraded.iterator():
        Response.update(right=int(is_right(response.activity, response.answer))).where(Response.id == response.id).execute()
        graded += 1
    return graded
