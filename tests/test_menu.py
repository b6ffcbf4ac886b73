"""The custom menu: its definition, `flask --app app menu` against the mock API, the teacher tag job,
and menu clicks and scanner buttons going through the webhook like typed text."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from bot.grammar import Grammar, Role, Unknown
from bot.scheduler import job_table
from bot.wechat_api import WechatApi
from handlers.commands import COMMANDS
from handlers.menu import RETRY, STUDENT_MENU, TEACHER_MENU, TEACHER_TAG, TagTeachers, keys, problems
from harness.mock_wechat import MockWechat
from models import ClassQr, Classroom, FailedAttempt, Membership, MenuTag, User
from tests.conftest import build_app, simulator_for


@pytest.fixture
def mock():
    with MockWechat() as server:
        yield server


@pytest.fixture
def app(tmp_path, clock, mock):
    wechat = {"app_secret": "s3cret", "api_base_url": mock.url}
    app = build_app(tmp_path, clock, aes=True, wechat=wechat)
    yield app


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


# --- the definition ------------------------------------------------------------------------------

@pytest.mark.parametrize("menu, role", [(STUDENT_MENU, Role.STUDENT), (TEACHER_MENU, Role.TEACHER)])
def test_every_click_key_is_a_command_of_that_menus_user(menu, role):
    assert problems(menu) == []
    for kind, key in keys(menu):
        if kind == "click":
            parsed = Grammar(COMMANDS).parse(key)
            assert not isinstance(parsed, Unknown), key
            assert parsed.command.role in (Role.ANY, role), key


def test_the_student_menu_scans_and_the_limits_are_checked():
    assert ("scancode_waitmsg", "scan_checkin") in keys(STUDENT_MENU)
    assert STUDENT_MENU["button"][0]["name"] == "签到"
    too_many = {"button": [{"type": "click", "name": "一二三四五六", "key": "帮助"}] * 4}
    assert any("top-level" in p for p in problems(too_many)) and any("1-16 bytes" in p for p in problems(too_many))


# --- the command against the mock API ------------------------------------------------------------

def test_menu_creates_both_menus_and_show_and_delete_inspect_them(app, mock):
    result = run(app, "menu")
    assert result.exit_code == 0, result.output
    assert "created the student menu and the teacher menu" in result.output
    assert mock.menus["menu"]["button"] == STUDENT_MENU["button"]
    [teacher_menu] = mock.menus["conditional"]
    assert mock.menus["tags"][str(teacher_menu["matchrule"]["tag_id"])] == TEACHER_TAG
    assert teacher_menu["button"] == TEACHER_MENU["button"]

    again = run(app, "menu")  # run it again (after a change): still one teacher menu, one tag
    assert again.exit_code == 0 and len(mock.menus["conditional"]) == 1 and len(mock.menus["tags"]) == 1

    shown = run(app, "menu", "--show")
    assert shown.exit_code == 0 and json.loads(shown.output)["conditionalmenu"][0]["matchrule"]["tag_id"]
    deleted = run(app, "menu", "--delete")
    assert deleted.exit_code == 0 and mock.menus["menu"] is None and mock.menus["conditional"] == []
    assert "has no custom menu" in run(app, "menu", "--show").output


def test_menu_explains_an_account_without_the_permission(app, mock):
    mock.fail("/cgi-bin/tags/get", 48001)
    result = run(app, "menu")
    assert result.exit_code != 0
    assert "no permission" in result.output and "48001" in result.output
    assert mock.menus["menu"] is None


def test_menu_refused_by_wechat_says_why(app, mock):
    mock.fail("/cgi-bin/menu/create", 40018)
    result = run(app, "menu")
    assert result.exit_code != 0 and "button name too long" in result.output


def test_menu_says_when_the_api_cannot_be_reached(tmp_path, clock):
    app = build_app(tmp_path, clock, wechat={"app_secret": "s3cret", "api_base_url": "http://127.0.0.1:9"})
    result = run(app, "menu")
    assert result.exit_code != 0 and "unreachable" in result.output and "Traceback" not in result.output


def test_menu_needs_the_app_secret(tmp_path, clock):
    app = build_app(tmp_path, clock)
    result = run(app, "menu")
    assert result.exit_code != 0 and "app_secret" in result.output


# --- the tag job ---------------------------------------------------------------------------------

def test_a_new_teacher_gets_the_teacher_menu_through_the_scheduler(app, mock, clock, say):
    job = TagTeachers(WechatApi(app.extensions["ketang"].settings.wechat, clock))
    say("o_student", "帮助")
    assert job(clock()) == 0  # no menu created yet: nothing to tag into
    assert run(app, "menu").exit_code == 0
    assert say("o_new", "教师认证 JOIN-STAFF").startswith("你已成为教师")
    assert User.get(User.openid == "o_new").is_teacher
    assert mock.menu_for("o_new") == mock.menus["menu"]  # the request itself called no API
    assert job(clock()) == 1
    assert mock.menu_for("o_new")["button"] == TEACHER_MENU["button"]
    assert mock.menu_for("o_student") == mock.menus["menu"]
    assert job(clock()) == 0  # done once


def test_an_assistant_who_is_no_teacher_gets_the_teacher_menu_until_removed(app, mock, clock, say):
    """An assistant (助教) runs lessons from a student account: the scheduler puts them in the teacher tag, whose
    menu has the lesson's buttons, and takes them out when the owner removes them from the team."""
    job = TagTeachers(WechatApi(app.extensions["ketang"].settings.wechat, clock))
    assert run(app, "menu").exit_code == 0
    assert run(app, "make-teacher", "o_owner").exit_code == 0
    say("o_owner", "创建课堂 概率论")
    code = re.search(r"助教邀请码：(\d{8})", say("o_owner", "添加助教")).group(1)
    assert "助教" in say("o_ta", f"助教 {code}")
    assert not User.get(User.openid == "o_ta").is_teacher
    job(clock())
    assert mock.menu_for("o_ta")["button"] == TEACHER_MENU["button"]
    say("o_owner", "移除助教 1")
    job(clock())
    assert mock.menu_for("o_ta") == mock.menus["menu"]


def test_tagging_failures_wait_and_an_account_wide_refusal_stops_the_run(app, mock, clock):
    job = TagTeachers(WechatApi(app.extensions["ketang"].settings.wechat, clock))
    assert run(app, "menu").exit_code == 0
    for openid in ("o_t1", "o_t2", "o_t3"):
        assert run(app, "make-teacher", openid).exit_code == 0
    mock.fail("/cgi-bin/tags/members/batchtagging", 45059, openid=None)  # o_t1 has 20 tags already
    assert job(clock()) == 2
    failed = MenuTag.get(MenuTag.tag_id == 0)
    assert "20 tags" in failed.last_error
    assert job(clock()) == 0  # not retried at once
    clock.advance(seconds=RETRY.total_seconds() + 1)
    mock.fail("/cgi-bin/tags/members/batchtagging", 48001, times=5)
    assert run(app, "make-teacher", "o_t4").exit_code == 0
    before = mock.calls["/cgi-bin/tags/members/batchtagging"]
    assert job(clock()) == 0
    assert mock.calls["/cgi-bin/tags/members/batchtagging"] == before + 1  # stopped after the first refusal


def test_the_scheduler_runs_the_tag_job(app, clock):
    kt = app.extensions["ketang"]
    names = [job.name for job in job_table(kt.settings, clock, kt.plugin)]
    assert "tag_teachers" in names


# --- clicks and scanners through the signed, encrypted webhook ------------------------------------

@pytest.fixture
def lesson(app, say):
    assert run(app, "make-teacher", "o_teacher").exit_code == 0
    code = re.search(r"课堂码：(\d{6})", say("o_teacher", "创建课堂 高等数学")).group(1)
    return code


def test_menu_clicks_and_scanner_buttons_reach_the_grammar(app, lesson):
    wechat = simulator_for(app)
    # A student taps 课堂 → 扫码加入 and scans the class QR: the signed join page link.
    signed = app.extensions["ketang"].links.sign("join", lesson)
    reply = wechat.send_scan("o_s1", f"https://ketang.example.edu/join/{lesson}?k={signed}", key="scan_join")
    assert "高等数学" in reply and Membership.select().join(User).where(User.openid == "o_s1").exists()
    assert "高等数学" in wechat.send_event("o_s1", "CLICK", "我的课堂")  # a click key is command text
    # An unsigned link counts as typing 加入 <code> (over http too), and the official QR URL also joins.
    assert "高等数学" in wechat.send_scan("o_s2", f"http://ketang.example.edu/join/{lesson}?from=poster")
    classroom = Classroom.get(Classroom.code == lesson)
    ClassQr.create(classroom=classroom, ticket="T1", url="http://weixin.qq.com/q/abc",
                   created_at=app.extensions["ketang"].clock(),
                   expires_at=app.extensions["ketang"].clock() + timedelta(days=3))
    assert "高等数学" in wechat.send_scan("o_s3", "http://weixin.qq.com/q/abc")
    assert Membership.select().where(Membership.classroom == classroom).count() == 3


def test_a_scanned_check_in_text_checks_in_and_strangers_get_a_clear_answer(app, lesson, say):
    wechat = simulator_for(app)
    wechat.send_text("o_s1", f"加入 {lesson}")
    say("o_teacher", "上课")
    say("o_teacher", "开启签到")
    assert wechat.send_scan("o_s1", "签到").startswith("签到成功！「高等数学」")
    assert "不是课堂的二维码" in wechat.send_scan("o_s1", "https://evil.example.com/join/123456")
    assert "不是课堂的二维码" in wechat.send_scan("o_s1", f"https://ketang.example.edu.evil.com/join/{lesson}")
    assert "没有扫到内容" in wechat.send_scan("o_s1", "")
    assert "不是课堂的二维码" in wechat.send_scan("o_s1", "hello there")  # plain text is no command unless 签到/加入


def test_a_scanned_text_runs_only_what_a_scan_may_mean(app, lesson, say):
    """Issue 18 item 15: a QR holding `退出课堂 1` (pasted on the screen's corner) made whoever scanned it leave."""
    wechat = simulator_for(app)
    assert "已加入「高等数学」" in wechat.send_scan("o_s1", f"加入 {lesson}")  # a join text is a scan's meaning
    for command in ("退出课堂 1", "退出课堂", "解绑手机", "导出", "帮助"):
        assert "不是课堂的二维码" in wechat.send_scan("o_s1", command)
    assert Membership.select().join(User).where((User.openid == "o_s1") & (Membership.active == 1)).exists()
    assert "高等数学" in say("o_s1", "我的课堂")


def test_a_crafted_join_link_counts_as_a_guess(app, lesson):
    wechat = simulator_for(app)
    wrong = "000000" if lesson != "000000" else "000001"
    signed_other = app.extensions["ketang"].links.sign("join", lesson)
    wechat.send_scan("o_s1", f"https://ketang.example.edu/join/{wrong}")
    assert FailedAttempt.select().count() == 1  # like typing 加入 000000
    wechat.send_scan("o_s1", f"https://ketang.example.edu/join/{wrong}?k={signed_other}")  # another code's signature
    assert FailedAttempt.select().count() == 2
    assert not Membership.select().join(User).where(User.openid == "o_s1").exists()
