"""Typed arguments, commands, and the parser that turns text into a command call."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from bot.text import clean, fold_with_map, is_cjk, normalize, split_args


class Role(Enum):
    ANY = "any"
    STUDENT = "student"
    TEACHER = "teacher"


@dataclass(frozen=True)
class Arg:
    """One typed argument: a full-match pattern on one token, or the rest of the line."""

    name: str
    pattern: str
    hint_zh: str
    hint_en: str
    convert: Callable[[str], object] = str
    optional: bool = False
    rest: bool = False  # takes the remainder of the line, unsplit and in its original case
    default: object = None

    def parse(self, token: str):
        if re.fullmatch(self.pattern, token, re.IGNORECASE | re.DOTALL):
            return self.convert(token)
        return None

    def hint(self, lang: str) -> str:
        text = self.hint_zh if lang == "zh" else self.hint_en
        return f"[{text}]" if self.optional else f"<{text}>"

    def but(self, **changes) -> Arg:
        return Arg(**{**self.__dict__, **changes})


@dataclass(frozen=True)
class Alias:
    text: str
    lang: str  # "zh" or "en"


def zh(*words: str) -> tuple[Alias, ...]:
    return tuple(Alias(w, "zh") for w in words)


def en(*words: str) -> tuple[Alias, ...]:
    return tuple(Alias(w, "en") for w in words)


@dataclass(frozen=True, kw_only=True)
class Command:
    """One row of the command table, written with keywords: Command(name=..., handler=..., aliases=..., args=...)."""

    name: str
    handler: Callable[..., str]
    aliases: tuple[Alias, ...]
    args: tuple[Arg, ...] = ()
    role: Role = Role.ANY
    summary_zh: str = ""
    summary_en: str = ""
    examples: tuple[str, ...] = ()
    escape: bool = False  # works inside a dialog (help, cancel)
    brief: bool = True  # in 帮助's short list; if False only `帮助 <命令>`, other replies and the README show it
    reads: bool = False  # only reads: answered outside the write transaction (bot/dispatch.py), never holding the writer lock
    guide: Callable[..., str] | None = None  # f(ctx): the bare name (a menu button) starts a guided dialog instead of the usage
    # A teacher's command a class's staff may run (what each level allows is the plugin's rule, e.g. "lesson",
    # "owner", "export"): the dispatcher lets a user whom the plugin reads as `staff` run it without being a
    # teacher. None: teachers only.
    staff: str | None = None

    def alias(self, lang: str) -> str:
        return next(a.text for a in self.aliases if a.lang == lang)

    def usage(self, lang: str) -> str:
        return " ".join([self.alias(lang), *(a.hint(lang) for a in self.args)])

    def summary(self, lang: str) -> str:
        return self.summary_zh if lang == "zh" else self.summary_en


@dataclass(frozen=True)
class Parsed:
    command: Command
    args: dict
    lang: str


@dataclass(frozen=True)
class Invalid:
    command: Command
    lang: str
    bare: bool = False  # the alias alone, no argument given


@dataclass(frozen=True)
class Unknown:
    text: str
    suggestions: tuple[Command, ...] = field(default_factory=tuple)
    lang: str = ""  # "en": English words; "zh": Chinese; "": says nothing (digits, a letter or two: B, AC)


ENGLISH_WORD = re.compile(r"[a-z]{3,}", re.IGNORECASE)
ANSWER_WORDS = {"true", "false", "yes", "ok"}
CHINESE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def text_lang(text: str) -> str:
    """The language text that is no command is written in: "zh" with a Chinese character, "en" all ASCII with
    an English word ("jion 123456"), "" when it says nothing (digits, an answer like B or AC, punctuation)."""
    if CHINESE.search(text):
        return "zh"
    if text.casefold() in ANSWER_WORDS:  # a bare answer to a true/false question says no language
        return ""
    return "en" if text.isascii() and ENGLISH_WORD.search(text) else ""


def _check_row(command: Command) -> None:
    """A row of the table has aliases in both languages and a rest-of-line argument only last."""
    if {a.lang for a in command.aliases} < {"zh", "en"}:
        raise ValueError(f"command {command.name} needs a zh and an en alias")
    rests = [a for a in command.args if a.rest]
    if rests and command.args[-1] is not rests[0]:
        raise ValueError(f"command {command.name}: a rest-of-line argument must come last")


class Grammar:
    """Match normalised text against every alias, longest first."""

    def __init__(self, commands: tuple[Command, ...]):
        self.commands = commands
        seen: dict[str, str] = {}
        for command in commands:
            _check_row(command)
            for alias in command.aliases:
                key = normalize(alias.text).casefold()
                if not key or key != alias.text.casefold():
                    raise ValueError(f"alias {alias.text!r} of {command.name} is empty or not normalised")
                if key in seen:
                    raise ValueError(f"alias {alias.text!r} is used by {seen[key]} and {command.name}")
                seen[key] = command.name
        self._index = sorted(
            ((alias.text.casefold(), alias, command) for command in commands for alias in command.aliases),
            key=lambda row: -len(row[0]),
        )

    def parse(self, raw: str, suggest: bool = True) -> Parsed | Invalid | Unknown:
        """The command *raw* calls, its usage when the arguments do not fit, or Unknown (with suggestions unless
        *suggest* is False: they cost about 0.5 ms, so the dispatcher asks for them only when it says them)."""
        full, origin = fold_with_map(raw)
        core = normalize(full)  # a prefix of *full*: only trailing punctuation differs
        for key, alias, command in self._index:
            if core[: len(key)].casefold() != key:
                continue
            rest_at = len(key)
            nxt = core[rest_at : rest_at + 1]
            if nxt and not (nxt == " " or is_cjk(key[-1]) or not nxt.isalnum()):
                continue  # "answering b" is not "answer"
            args = self._bind(command, core[rest_at:], lambda at, start=rest_at: raw[origin[start + at]:])
            if args is None:
                return Invalid(command, alias.lang, bare=not core[rest_at:].strip())
            return Parsed(command, args, alias.lang)
        return Unknown(core, self.suggest(core) if suggest else (), text_lang(core))

    @staticmethod
    def _bind(command: Command, rest: str, raw_from: Callable[[int], str]) -> dict | None:
        """Bind the argument text to the command's typed arguments; None if it does not fit.

        *rest* is the folded text after the alias; raw_from(i) is the text as typed from folded offset i,
        which a rest-of-line argument takes so that names and announcements keep their characters.
        """
        values: dict = {}
        tokens = split_args(rest)
        consumed = 0  # characters of *rest* used so far
        for arg in command.args:
            if arg.rest:
                skip = len(rest[consumed:]) - len(rest[consumed:].lstrip(" ,;:、"))
                remainder = clean(raw_from(consumed + skip)) if consumed + skip < len(rest) else ""
                if not remainder:
                    if not arg.optional:
                        return None
                    values[arg.name] = arg.default
                else:
                    values[arg.name] = remainder
                tokens = []
                break
            value = arg.parse(tokens[0]) if tokens else None
            if value is None:
                if not arg.optional:
                    return None
                values[arg.name] = arg.default
                continue
            values[arg.name] = value
            consumed = rest.index(tokens[0], consumed) + len(tokens[0])
            tokens = tokens[1:]
        return values if not tokens else None

    def suggest(self, text: str, limit: int = 3) -> tuple[Command, ...]:
        """Return up to *limit* commands whose aliases look like the start of *text*."""
        text = text.casefold()
        head = text.split(" ")[0] if text else ""
        scores: dict[str, tuple[float, Command]] = {}
        for key, _alias, command in self._index:
            candidates = {text[: len(key)], head, text[: len(key) + 1]}
            score = max(difflib.SequenceMatcher(None, key, c).ratio() for c in candidates)
            if score >= 0.5 and score > scores.get(command.name, (0, None))[0]:
                scores[command.name] = (score, command)
        ranked = sorted(scores.values(), key=lambda pair: -pair[0])
        return tuple(command for _score, command in ranked[:limit])
