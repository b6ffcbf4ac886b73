"""Normalise what users type, and keep replies inside WeChat's limits."""

from __future__ import annotations

import re
import unicodedata

TRAILING = "。！？!?~～."
SEPARATORS = re.compile(r"[\s,;:、，；：]+")
MAX_REPLY_BYTES = 2000  # WeChat's limit is 2048 bytes; leave room for the cut marker
# Every way to start a new line on a phone screen (NEL, line and paragraph separators included).
LINE_BREAK = re.compile(r"[^\S\n]*[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029][\s]*")
LIST_MARKERS = str.maketrans({"【": "〔", "】": "〕"})  # lists mark entries with 【…】: user text may not


def fold_width(text: str) -> str:
    """Fold width (NFKC), drop control characters and collapse whitespace (case is kept)."""
    return fold_with_map(text)[0]


def fold_with_map(text: str) -> tuple[str, list[int]]:
    """Fold *text* and return, for each folded character, the index of the raw character it came from."""
    out: list[str] = []
    origin: list[int] = []
    for index, raw in enumerate(text or ""):
        if unicodedata.category(raw) in ("Cc", "Cf") and not raw.isspace():
            continue
        for ch in unicodedata.normalize("NFKC", raw):
            if ch.isspace():
                if not out or out[-1] == " ":
                    continue
                ch = " "
            out.append(ch)
            origin.append(index)
    while out and out[-1] == " ":
        out.pop()
        origin.pop()
    return "".join(out), origin


# Letters (category Lo) that draw nothing: the Hangul fillers (U+3164, U+FFA0 fold to U+1160 under NFKC),
# and other blank "letters" a name could be made of, so it shows as nothing in a list or on the screen.
BLANK_LETTERS = set("\u115f\u1160\u3164\uffa0\u17b4\u17b5\u2800")
MAX_MARKS = 3  # combining marks in a row on one letter (Vietnamese or Thai need 2; 30 smear over the next lines)


def legible(text: str) -> bool:
    """Whether every character of *text* shows as itself: no blank letters, no pile of combining marks."""
    marks = 0
    for ch in text:
        if ch in BLANK_LETTERS:
            return False
        marks = marks + 1 if unicodedata.category(ch).startswith("M") else 0
        if marks > MAX_MARKS:
            return False
    return True


def clean(text: str) -> str:
    """Drop control characters and surrounding whitespace, keeping the text as typed."""
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf") or ch in "\n ").strip()


def normalize(text: str) -> str:
    """Fold *text* and drop trailing 。！？!?~ (case is kept; matching casefolds)."""
    text = fold_width(text)
    stripped = text.rstrip(TRAILING).rstrip()
    return stripped or text  # "?" alone stays "?" (it is the help alias)


def is_cjk(ch: str) -> bool:
    """Return whether *ch* is a wide (CJK) character, after which an argument may touch."""
    return unicodedata.east_asian_width(ch) in ("W", "F")


def split_args(text: str) -> list[str]:
    """Split an argument string on whitespace and the accepted separators."""
    return [part for part in SEPARATORS.split(text) if part]


def fit(text: str, limit: int = MAX_REPLY_BYTES) -> str:
    """Cut *text* to at most *limit* UTF-8 bytes, on a line boundary when possible."""
    if len(text.encode("utf-8")) <= limit:
        return text
    marker = "\n…"
    budget = limit - len(marker.encode("utf-8"))
    cut = text.encode("utf-8")[:budget].decode("utf-8", "ignore")
    if "\n" in cut[len(cut) // 2 :]:
        cut = cut[: cut.rindex("\n")]
    return cut + marker


def inline(text: str) -> str:
    """User text (a name, a post, a note) shown inside a list: one line, without the list's 【】 markers.

    Folded into one line it can never start a line of its own, so it cannot pass for another entry
    ("李雷：…") or a system line; with 【】 swapped for 〔〕 it cannot fake an entry's 【12:00】 either."""
    return LINE_BREAK.sub(" ", text or "").strip().translate(LIST_MARKERS)


def one_line(line: str) -> str:
    """A list entry as one line (line breaks folded to a space)."""
    return LINE_BREAK.sub(" ", line).strip()


def fit_lines(header: str, lines: list[str], more, limit: int = MAX_REPLY_BYTES) -> str:
    """Join *header* and as many *lines* as fit; end with more(n), n being how many were left out.

    Every list goes through here, and each entry is one line whatever text it carries (see inline)."""
    return fit_lines_counted(header, lines, more, limit)[0]


def fit_lines_counted(header: str, lines: list[str], more, limit: int = MAX_REPLY_BYTES) -> tuple[str, int]:
    """fit_lines(), and how many of *lines* it shows (what was shown may be marked read, no more)."""
    out = [header] if header else []
    lines = [one_line(line) for line in lines]
    for index, line in enumerate(lines):
        rest = len(lines) - index
        candidate = "\n".join(out + [line])
        tail = "\n" + more(rest - 1) if rest > 1 else ""
        if len((candidate + tail).encode("utf-8")) > limit:
            return "\n".join(out + [more(rest)]), index
        out.append(line)
    return "\n".join(out), len(lines)


def preview(text: str, chars: int) -> str:
    """The start of *text* on one line, at most *chars* characters, "…" when cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= chars else flat[: chars - 1] + "…"


BREAKS = "\n。！？；!?;"


def pages(text: str, limit: int) -> list[str]:
    """Split *text* into pages of at most *limit* UTF-8 bytes that join back to *text* exactly.

    A page ends after a line break or a sentence end in its last third when there is one, else at the
    byte limit (never inside a character). The split depends only on *text*, so page n is stable.
    """
    out: list[str] = []
    while len(text.encode("utf-8")) > limit:
        cut = text.encode("utf-8")[:limit].decode("utf-8", "ignore")
        end = max(cut.rfind(ch) for ch in BREAKS) + 1
        if end <= len(cut) * 2 // 3:
            end = len(cut)
        out.append(text[:end])
        text = text[end:]
    return out + [text] if text or not out else out
