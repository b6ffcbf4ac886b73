"""The word cloud the screen shows for a closed fill-in quiz, and for a discussion or a closed survey after the
teacher's 词云: the students' own words (a survey: the options they chose, each sized by its votes), never
names; Chinese segmented by jieba, stop words dropped, sized by count, laid out in centred rows as
server-rendered SVG: the same answers give the same picture."""

from __future__ import annotations

import logging
import math
import unicodedata
from collections import Counter
from functools import lru_cache

from markupsafe import Markup

from handlers.grading import OPTION_MARK


@lru_cache(maxsize=1)
def segmenter():
    """jieba, imported the first time a worker draws a cloud: importing it costs a worker 8.5 MiB (and its
    dictionary about 60 MiB more on first use), which a worker that never draws a cloud never pays."""
    import jieba  # noqa: PLC0415 (deliberately late: see above)

    jieba.setLogLevel(logging.WARNING)
    return jieba

WIDTH, MOST = 1000, 40  # the SVG's width in its units; words shown at most
SMALLEST, LARGEST = 30, 110  # font sizes (units of a 1000-wide box: at 1280 px wide, 38-140 px)
LONGEST = 12  # characters of a word shown
COLOURS = ("#7fb2ff", "#5fd38d", "#ffb36b", "#c59bff", "#ff8a9b", "#5fd6e3")  # light on the dark screen
STOP = frozenset("""
的 了 是 在 和 也 就 都 而 及 与 着 或 之 于 把 被 让 给 对 从 向 以 为 这 那 这个 那个 这些 那些 一个 一些 一种 有 没有
我 你 他 她 它 我们 你们 他们 她们 自己 吗 呢 吧 啊 呀 哦 嗯 哈 么 很 太 更 最 还 又 再 但 但是 而且 所以 因为 如果 就是
不是 可以 可能 觉得 认为 应该 什么 怎么 为什么 哪 谁 不 没 会 要 能 想 说 看 去 来 上 下 中 里 个 等 等等 吧
a an the of to and or is are was were be been in on at for with by from it its this that these those as
i you he she we they my your our their not no yes do does did so but if then than too very can will just
""".split())


def words(text: str) -> tuple[str, ...]:
    """*text*'s words: jieba's segmentation (precise mode), casefolded, stop words and punctuation dropped."""
    return _words(" ".join(text.split())[:500])


@lru_cache(maxsize=4096)
def _words(text: str) -> tuple[str, ...]:
    kept = []
    for token in segmenter().cut(text, HMM=False):
        token = token.strip().casefold()
        if token and token not in STOP and any(unicodedata.category(ch)[0] in "LN" for ch in token):
            kept.append(token[:LONGEST])
    return tuple(kept)


def counted(texts: list[str]) -> list[tuple[str, int]]:
    """(word, count) of the most frequent words (each text counts a word once), most frequent first, ties by word."""
    counts = Counter(word for text in texts for word in set(words(text)))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:MOST]


def cloud_svg(texts: list[str]) -> Markup | None:
    """The cloud of *texts* as inline SVG, or None when they have no word."""
    return _svg(tuple(texts))


@lru_cache(maxsize=64)
def _svg(texts: tuple[str, ...]) -> Markup | None:
    return counts_svg(tuple(counted(list(texts))))


def option_texts(question: str) -> dict[str, str]:
    """A survey's options as written in its question ("节奏？A.太快 B.正好" -> {"A": "太快", "B": "正好"})."""
    pieces = OPTION_MARK.split(question)
    return {letter: " ".join(text.split())[:LONGEST] for letter, text in zip(pieces[1::2], pieces[2::2], strict=True)
            if text.strip()}


@lru_cache(maxsize=64)
def counts_svg(top: tuple[tuple[str, int], ...]) -> Markup | None:
    """The cloud of (word, count) pairs (most frequent first), or None when nothing was counted."""
    top = tuple((word, n) for word, n in top if n > 0)
    if not top:
        return None
    highest = max(n for _word, n in top)
    sized = [(word, n, _fitting(word, round(SMALLEST + (LARGEST - SMALLEST) * math.sqrt(n / highest)))) for word, n in top]
    rows, row, used = [], [], 0.0
    for word, n, size in sized:  # greedy rows, biggest words first
        width = _width(word, size)
        if row and used + width > WIDTH - 40:
            rows.append(row)
            row, used = [], 0.0
        row.append((word, n, size, width))
        used += width + size * 0.5
    rows.append(row)
    parts, y = [], 0
    for row in rows:
        height = max(size for _w, _n, size, _width_ in row)
        total = sum(width for *_rest, width in row) + sum(size * 0.5 for _w, _n, size, _width_ in row[1:])
        x, y = (WIDTH - total) / 2, y + height * 1.15
        for word, n, size, width in row:
            colour = COLOURS[len(parts) % len(COLOURS)]
            parts.append(f'<text x="{x:.0f}" y="{y - height * 0.2:.0f}" font-size="{size}" fill="{colour}" '
                         f'data-n="{n}">{Markup.escape(word)}</text>')
            x += width + size * 0.5
    return Markup(f'<svg class="cloud" viewBox="0 0 {WIDTH} {y + 10:.0f}" role="img" aria-label="词云 · word cloud">'
                  f'{"".join(parts)}</svg>')


def _fitting(word: str, size: int) -> int:
    """*size*, smaller when *word* would not fit on one row at it."""
    return min(size, int(size * (WIDTH - 40) / _width(word, size)))


def _width(word: str, size: int) -> float:
    """The advance of *word* at *size*: a CJK character is one em, anything else about 0.6."""
    return sum(size if unicodedata.east_asian_width(ch) in "WF" else size * 0.6 for ch in word)
