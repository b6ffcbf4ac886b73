"""The grammar: normalisation, the command table's invariants, its examples, and the README list."""

from __future__ import annotations

import inspect
import re
import typing

import pytest

from bot.grammar import Alias, Command, Grammar, Invalid, Parsed, Unknown
from bot.text import fit, fit_lines, normalize
from handlers.commands import COMMANDS, command_list_markdown
from handlers.plugin import EVERYTHING
from tests.conftest import ROOT

GRAMMAR = Grammar(COMMANDS)


@pytest.mark.parametrize("raw,expected", [
    ("加入　１２３４５６", "加入 123456"),
    ("  签到！！ ", "签到"),
    ("答Ｂ。", "答B"),
    ("?", "?"),
    ("help?", "help"),
    ("发布公告\u200b 明天\u0007停课~", "发布公告 明天停课"),
])
def test_normalize(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize("text,command,args,lang", [
    ("加入123456", "join", {"code": "123456"}, "zh"),
    ("加入课堂１２３４５６", "join", {"code": "123456"}, "zh"),
    ("JOIN 123456", "join", {"code": "123456"}, "en"),
    ("签到", "check_in", {"passcode": None}, "zh"),
    ("签到1234", "check_in", {"passcode": "1234"}, "zh"),
    ("Check In 1234", "check_in", {"passcode": "1234"}, "en"),
    ("签到情况", "attendance", {"section": None}, "zh"),
    ("签到情况 一班", "attendance", {"section": "一班"}, "zh"),
    ("答ｂ", "answer", {"text": "ｂ"}, "zh"),
    ("开启签到", "open_checkin", {"minutes": 5, "with_code": False}, "zh"),
    ("开启签到 口令", "open_checkin", {"minutes": 5, "with_code": True}, "zh"),
    ("开启签到，10，口令", "open_checkin", {"minutes": 10, "with_code": True}, "zh"),
    ("open checkin 3 code", "open_checkin", {"minutes": 3, "with_code": True}, "en"),
    ("练习 b 3 谁最高？A.甲 B.乙", "quiz", {"correct": "b", "minutes": 3, "question": "谁最高？A.甲 B.乙"}, "zh"),
    ("练习 B 1+1=?", "quiz", {"correct": "B", "minutes": 5, "question": "1+1=?"}, "zh"),
    ("练习 =北京/北平 3 首都？", "quiz", {"correct": "=北京/北平", "minutes": 3, "question": "首都？"}, "zh"),
    ("练习 对 判断", "quiz", {"correct": "对", "minutes": 5, "question": "判断"}, "zh"),
    ("改签 2024001 请假", "mark", {"student_no": "2024001", "status": "请假"}, "zh"),
    ("不懂", "lost", {"note": None}, "zh"),
    ("不懂情况", "lost_report", {}, "zh"),
    ("结果 2", "results", {"number": 2, "section": None}, "zh"),
    ("结果 2 一班", "results", {"number": 2, "section": "一班"}, "zh"),
    ("结果 一班", "results", {"number": None, "section": "一班"}, "zh"),
    ("roll call 3", "roll_call", {"count": 3}, "en"),
    ("创建课堂 高等数学（一）", "create_class", {"name": "高等数学（一）"}, "zh"),
    ("发布公告 明天停课，作业周三交！", "announce", {"text": "明天停课，作业周三交！"}, "zh"),
    ("?", "help", {"topic": None}, "zh"),
    ("menu", "help", {"topic": None}, "en"),
    ("帮助 签到", "help", {"topic": "签到"}, "zh"),
    ("me", "me", {}, "en"),
])
def test_parse(text, command, args, lang):
    parsed = GRAMMAR.parse(text)
    assert isinstance(parsed, Parsed), parsed
    assert (parsed.command.name, parsed.args, parsed.lang) == (command, args, lang)


@pytest.mark.parametrize("text,command", [
    ("加入 12345", "join"), ("加入 abcdef", "join"), ("join", "join"), ("签到 12", "check_in"),
    ("开启签到 601", "open_checkin"), ("开启签到 0", "open_checkin"), ("练习 3 题目", "quiz"),
    ("发布公告", "announce"), ("进入", "enter"), ("上课 现在", "start_lesson"),
])
def test_malformed_arguments_are_invalid_with_their_usage(text, command):
    parsed = GRAMMAR.parse(text)
    assert isinstance(parsed, Invalid) and parsed.command.name == command


def test_unknown_text_gets_suggestions():
    parsed = GRAMMAR.parse("签倒")
    assert isinstance(parsed, Unknown) and parsed.suggestions[0].name == "check_in"
    assert isinstance(GRAMMAR.parse("answering b"), Unknown)
    assert isinstance(GRAMMAR.parse(""), Unknown)


def test_every_example_parses_to_its_own_command():
    for command in COMMANDS:
        assert command.examples, command.name
        for example in command.examples:
            parsed = GRAMMAR.parse(example)
            assert isinstance(parsed, Parsed) and parsed.command is command, (command.name, example, parsed)


def without_none(annotation) -> frozenset:
    """The types an annotation allows, None aside (an optional argument's handler takes None too)."""
    return frozenset(typing.get_args(annotation) or (annotation,)) - {type(None)}


def test_every_handler_takes_its_arguments_by_name_with_one_type_and_the_tables_defaults():
    """An argument's name means one thing: the handler takes it by that name, an optional one with the table's
    default (the same value whether the table or a caller leaves it out), and a name has one annotation across
    the table (the 口令 flag of 开启签到 is a bool, with_code; the code typed to 签到 a string, passcode)."""
    wrong, annotations = [], {}
    for command in EVERYTHING.commands:
        parameters = inspect.signature(command.handler, eval_str=True).parameters
        for arg in command.args:
            parameter = parameters.get(arg.name)
            if parameter is None:
                wrong.append(f"{command.name}: the handler takes no {arg.name}")
                continue
            if arg.optional and parameter.default != arg.default:
                wrong.append(f"{command.name}: {arg.name} defaults to {arg.default!r}, the handler's to {parameter.default!r}")
            if arg.optional and arg.default is not None and not isinstance(arg.default, parameter.annotation):
                wrong.append(f"{command.name}: {arg.name}'s default {arg.default!r} is no {parameter.annotation}")
            annotations.setdefault(arg.name, {})[command.name] = without_none(parameter.annotation)
    assert wrong == []
    assert {name: kinds for name, kinds in annotations.items() if len(set(kinds.values())) > 1} == {}


def test_every_command_has_zh_and_en_aliases_and_summaries():
    for command in COMMANDS:
        assert command.alias("zh") and command.alias("en")
        assert command.summary_zh and command.summary_en


def test_table_rejects_empty_or_duplicate_aliases():
    def noop(ctx):
        return ""

    with pytest.raises(ValueError):
        Grammar((Command(name="a", handler=noop, aliases=(Alias("帮助", "zh"), Alias("", "en"))),))
    with pytest.raises(ValueError):
        Grammar((Command(name="a", handler=noop, aliases=(Alias("帮助", "zh"), Alias("x", "en"))),
                 Command(name="b", handler=noop, aliases=(Alias("帮助", "zh"), Alias("y", "en")))))


def test_readme_command_list_matches_the_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- commands:start -->\n(.*?)\n<!-- commands:end -->", readme, re.S)
    assert block, "README must hold the generated command list between the markers"
    assert block.group(1).strip() == command_list_markdown().strip()


def test_fit_cuts_long_text_under_the_limit():
    assert fit("短") == "短"
    cut = fit("长" * 3000)
    assert len(cut.encode()) <= 2000 and cut.endswith("…")
    listing = fit_lines("头", [f"第{i}行" * 20 for i in range(200)], lambda n: f"还有 {n} 条")
    assert len(listing.encode()) <= 2000
    shown = listing.count("\n") - 1
    assert listing.endswith(f"还有 {200 - shown} 条")
