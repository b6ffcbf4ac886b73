"""Property tests: whatever a user types, the normaliser and the grammar answer without an exception, and
the dispatcher without the busy reply (what an exception in a handler becomes), each example on a fresh
database. Deterministic (derandomize) and modest in size so CI is stable."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from peewee import sort_models

from bot.catalogue import t
from bot.grammar import Grammar, Invalid, Parsed, Unknown
from bot.text import fit, normalize
from handlers.commands import COMMANDS
from models import MODELS, Response, User, db
from tests.conftest import Chat

GRAMMAR = Grammar(COMMANDS)

FAST = settings(max_examples=300, derandomize=True, deadline=None)
SLOW = settings(max_examples=120, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

ALIASES = [alias.text for command in COMMANDS for alias in command.aliases]
EXAMPLES = [(command, example) for command in COMMANDS for example in command.examples]
ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=80)
ARGS = st.one_of(
    ANY_TEXT,
    st.from_regex(r"[0-9]{1,8}", fullmatch=True),
    st.sampled_from(["口令", "code", "B", "ｂ", "600", "0", "-1", "99999999999", "１２３４５６", "A.1 B.2"]),
)
SEPARATOR = st.sampled_from(["", " ", "\u3000", "，", "、", "\n", "\t", ";"])
TYPED = st.one_of(ANY_TEXT, st.tuples(st.sampled_from(ALIASES), SEPARATOR, ARGS, st.sampled_from(["", "。", "!", "？", "~"]))
                  .map("".join))
FULL_WIDTH = {ord(c): ord(c) + 0xFEE0 for c in map(chr, range(0x21, 0x7F))} | {ord(" "): 0x3000}


@FAST
@given(ANY_TEXT)
def test_normalize_never_fails_and_leaves_no_control_characters_or_stray_spaces(text):
    out = normalize(text)
    assert out == out.strip() and "  " not in out
    assert not any(unicodedata.category(ch) in ("Cc", "Cf") for ch in out)


@FAST
@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40))
def test_full_width_typing_means_the_same_as_half_width(text):
    assert normalize(text.translate(FULL_WIDTH)) == normalize(text)


@FAST
@given(st.text(st.characters(codec="utf-8"), max_size=3000), st.integers(20, 2048))
def test_fit_keeps_any_reply_inside_the_limit(text, limit):
    out = fit(text, limit)
    assert len(out.encode("utf-8")) <= limit
    assert out == text or len(text.encode("utf-8")) > limit


@FAST
@given(TYPED)
def test_grammar_parses_anything_into_a_command_a_usage_or_suggestions(text):
    parsed = GRAMMAR.parse(text)
    assert isinstance(parsed, (Parsed, Invalid, Unknown))
    if isinstance(parsed, Unknown):
        assert all(command in COMMANDS for command in parsed.suggestions)


@FAST
@given(st.sampled_from(EXAMPLES), st.sampled_from(["", " ", "\u3000"]), st.sampled_from(["", "。", "！", " ?"]),
       st.booleans())
def test_examples_survive_full_width_padding_and_trailing_punctuation(example, pad, tail, wide):
    command, text = example
    typed = pad + (text.translate(FULL_WIDTH) if wide else text) + tail
    parsed = GRAMMAR.parse(typed)
    assert isinstance(parsed, Parsed) and parsed.command is command, (typed, parsed)


def empty_database() -> None:
    """Every table emptied (children first): the next example starts from a fresh database, schema kept.
    DELETE rather than TRUNCATE: a few rows each, and PostgreSQL's TRUNCATE of every table takes a second."""
    with db.atomic():
        for model in reversed(sort_models(MODELS)):
            model.delete().execute()
    assert not any(model.select().exists() for model in MODELS)


@SLOW
@given(st.lists(st.tuples(st.sampled_from(["o_teacher", "o_s1", "o_s2", "o_new"]), TYPED), min_size=1, max_size=6))
def test_the_dispatcher_answers_any_conversation_without_the_busy_reply(app, conversation):
    """Each example on a fresh database (every table emptied, then a teacher's class in session with a check-in
    that needs a code), so no example depends on what an earlier one typed (a lock-out, a left class)."""
    empty_database()
    say = Chat(app)
    assert app.test_cli_runner().invoke(args=["make-teacher", "o_teacher"]).exit_code == 0
    code = re.search(r"课堂码：(\d{6})", say("o_teacher", "创建课堂 高等数学")).group(1)
    assert "已加入" in say("o_s1", f"加入 {code}")
    assert "开始上课" in say("o_teacher", "上课")
    assert "签到码" in say("o_teacher", "开启签到 口令")
    assert User.select().count() == 2 and Response.select().count() == 0  # nothing an earlier example left
    for openid, text in conversation:
        reply = say(openid, text)
        assert reply and reply != t("busy", "zh") and reply != t("busy", "en"), (openid, text, reply)
        assert len(reply.encode("utf-8")) < 2048


class _EveryAlias(dict):
    """The grammar's first-character index replaced by "every alias, whatever the text starts with"."""

    def get(self, key, default=None):
        return GRAMMAR._index


SCAN_ALL = Grammar(COMMANDS)
SCAN_ALL._by_first = _EveryAlias()


@FAST
@given(TYPED, st.sampled_from([str, str.upper, str.title, str.swapcase]))
def test_looking_only_at_aliases_that_start_like_the_text_parses_as_trying_every_alias(text, case):
    text = case(text)
    assert GRAMMAR.parse(text, suggest=False) == SCAN_ALL.parse(text, suggest=False)
