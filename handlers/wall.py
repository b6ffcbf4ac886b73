"""The discussion wall's moderation: what of a discussion's posts the classroom screen may show, and why not.

A post stays off the screen when the teacher hid it (隐藏 <n>), when it was written while the class's wall
was in approval mode (审核 开, a WallReview span) and the teacher has not passed it (通过 <n>), or when it
contains a word of `[screen] banned_words_file`. A post repeating an earlier shown one is folded into it
(×n); an over-long one is cut. The teacher's 结果 lists every post with its number and marks the ones the
screen did not show. Posts are numbered 1, 2, … in the order they were written, as on the screen.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from bot.text import fold_width
from models import Post, WallReview

FOLD_AT = 80  # characters of a post the screen shows; a longer one is cut with "…"
RUN = re.compile(r"(.)\1{5,}")  # the same character six times or more: shown five times


def plain(text: str) -> str:
    """*text* as compared for banned words and repeats: width-folded, casefolded, letters and digits only."""
    folded = fold_width(text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


@lru_cache(maxsize=8)
def banned_words(path: str) -> tuple[str, ...]:
    """The words of *path* (one a line, # comments), compared as plain(); () when no file is configured."""
    if not path:
        return ()
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return tuple(sorted({plain(line) for line in lines if not line.lstrip().startswith("#") and plain(line)}))


def is_banned(text: str, words: tuple[str, ...]) -> bool:
    folded = plain(text)
    return any(word in folded for word in words)


def shown_text(text: str) -> str:
    """A post as the screen shows it: long runs of one character shortened, over-long text cut."""
    text = RUN.sub(lambda m: m.group(1) * 5 + "…", " ".join(text.split()))
    return text if len(text) <= FOLD_AT else text[:FOLD_AT] + "…"


def posts_of(activity) -> list[Post]:
    return list(Post.select(Post.id, Post.text, Post.hidden, Post.approved_at, Post.created_at, Post.user)
                .where(Post.activity == activity).order_by(Post.created_at, Post.id))


def review_spans(classroom_id: int) -> list[tuple]:
    return [(r.started_at, r.ended_at) for r in WallReview.select(WallReview.started_at, WallReview.ended_at)
            .where(WallReview.classroom == classroom_id)]


def reviewing(classroom_id: int) -> bool:
    """Whether the class's wall is in approval mode now."""
    return WallReview.select().where((WallReview.classroom == classroom_id) & WallReview.ended_at.is_null()).exists()


def is_pending(post: Post, spans: list[tuple]) -> bool:
    """Written while the wall was in approval mode and not passed yet."""
    return post.approved_at is None and any(start <= post.created_at and (end is None or post.created_at <= end)
                                            for start, end in spans)


def judged(posts: list[Post], spans: list[tuple], words: tuple[str, ...]) -> list[tuple[int, Post, str]]:
    """(number, post, mark) for every post: mark "" when the screen shows it, else hidden / pending / banned /
    repeat (folded into an earlier shown post with the same text)."""
    seen: set[str] = set()
    out = []
    for number, post in enumerate(posts, 1):
        if post.hidden:
            mark = "hidden"
        elif is_pending(post, spans):
            mark = "pending"
        elif is_banned(post.text, words):
            mark = "banned"
        elif plain(post.text) in seen:
            mark = "repeat"
        else:
            mark = ""
            seen.add(plain(post.text))
        out.append((number, post, mark))
    return out


def screen_wall(marked: list[tuple[int, Post, str]]) -> list[tuple[int, str, int]]:
    """What the screen shows of judged() posts: (number, text as shown, times it was posted) per shown post,
    newest first."""
    times: dict[str, int] = {}
    for _number, post, mark in marked:
        if mark in ("", "repeat"):
            times[plain(post.text)] = times.get(plain(post.text), 0) + 1
    return [(number, shown_text(post.text), times[plain(post.text)]) for number, post, mark in marked if not mark][::-1]
