"""Every command's examples run (as Sopel's @example does): each example of every command create_app runs is
sent through the dispatcher, by the role it is for, in a realistic state (a teacher with a class in session and
a student in it), and none gets the usage line, a format refusal, "did not understand", a role refusal or busy.

tests/test_grammar.py checks that each example parses to its own command; this checks that the handler takes it
too (a handler can refuse a well-parsed argument with its own usage text)."""

from __future__ import annotations

import re

import pytest

from bot.catalogue import CATALOGUE
from bot.grammar import Role
from handlers.plugin import EVERYTHING

# The replies that say the example itself was not understood (catalogue keys, in both languages).
NOT_UNDERSTOOD = ("usage", "verify_usage", "schedule_format", "unknown", "teacher_only", "student_only", "busy")


def not_understood() -> re.Pattern:
    """A pattern matching the start of any rendering of them, each placeholder any text (read once the app has
    put its plugin's texts in the catalogue)."""
    texts = [text for key in NOT_UNDERSTOOD for text in CATALOGUE[key]]
    return re.compile("|".join(".*?".join(map(re.escape, re.split(r"\{[^}]*\}", text))) for text in texts), re.S)


@pytest.fixture
def classroom(app, say, teacher):
    """The teacher in session with a class, and a student in it (both following the account)."""
    openid, code = teacher
    say.event("o_student", "subscribe")
    assert "已加入" in say("o_student", f"加入 {code}")
    assert "开始上课" in say(openid, "上课")
    return openid, "o_student"


@pytest.mark.parametrize("command", EVERYTHING.commands, ids=lambda command: command.name)
def test_every_example_is_answered_not_refused_as_malformed(say, classroom, command):
    teacher, student = classroom
    senders = {Role.TEACHER: (teacher,), Role.STUDENT: (student,), Role.ANY: (student, teacher)}[command.role]
    refused = not_understood()
    for sender in senders:
        for example in command.examples:
            reply = say(sender, example)
            assert reply and not refused.match(reply), (command.name, sender, example, reply)
