"""The teaching team (issue 25.1): assistants invited with a one-time code run a class's lessons from their own
phones; the owner keeps settings, the team and (unless granted) exports; the trail says who did what."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest

from bot.database import create_schema, is_sqlite
from handlers import team
from handlers.attendance import close_roll_calls
from handlers.requests import audit_rows, push_requests
from handlers.warnings import run_digests
from models import (
    AbsenceRequest,
    AttendanceChange,
    Classroom,
    ClassStaff,
    FailedAttempt,
    Lesson,
    Membership,
    Outbox,
    Response,
    User,
    db,
)
from tests.conftest import T0, build_app
from tests.test_identity import run_at_once
from tests.test_lesson import klass  # noqa: F401  (fixture)


def invite(say) -> str:
    reply = say("o_t", "添加助教")
    return re.search(r"助教邀请码：(\d{8})", reply).group(1)


@pytest.fixture
def ta(say, klass):  # noqa: F811
    """o_ta, a plain (student) account named 王五, assisting the class 概率论."""
    say("o_ta", "帮助")
    User.update(name="王五").where(User.openid == "o_ta").execute()
    reply = say("o_ta", f"助教 {invite(say)}")
    assert "你已成为「概率论」的助教" in reply, reply
    return "o_ta"


def staff_of(openid: str) -> list[ClassStaff]:
    return list(ClassStaff.select().join(User, on=(ClassStaff.user == User.id)).where(User.openid == openid))


# --- allowed ---------------------------------------------------------------------------------------------


def test_an_assistant_who_is_no_teacher_runs_a_whole_lesson(say, ta, clock):
    assert not User.get(User.openid == "o_ta").is_teacher  # an assistant need not be a teacher
    assert "「概率论」开始上课，已通知 6 名学生" in say(ta, "上课")
    assert Lesson.select().where(Lesson.live == 1).count() == 1
    assert "「概率论」签到已开启，5 分钟" in say(ta, "开启签到 5")
    assert "签到成功" in say("o_s1", "签到")
    assert "已到 1，迟到 0，请假 0，未到 5" in say(ta, "签到情况")
    assert "单选题已发布" in say(ta, "练习 B 3 1+1=? A.1 B.2")
    say("o_s1", "答 B")
    assert "点名：学生1" in say(ta, "点名")
    assert "已将 2024002 学生2 在 08:00 开始的这节课的出勤改为「迟到」" in say(ta, "改签 2024002 迟到")
    assert "讨论已开始" in say(ta, "讨论 5 导数")
    assert "已到 1，迟到 1" in say(ta, "结果 1")
    assert "没有学生触发预警规则" in say(ta, "预警")  # reading warnings is allowed
    assert "平时成绩规则：出勤 50" in say(ta, "成绩规则")  # and reading the grading rule
    assert "投屏码" in say(ta, "投屏")  # the screen
    assert "「概率论」已下课" in say(ta, "下课") and Lesson.select().where(Lesson.live == 1).count() == 0


def test_assistants_decide_requests_and_the_trail_names_them(say, ta, clock, app):
    say("o_t", "上课")
    say("o_t", "开启签到 1")
    clock.now += timedelta(minutes=2)
    say("o_t", "下课")
    assert "的老师提交：补签" in say("o_s3", "补签 手机没电了")
    request = AbsenceRequest.get()
    assert "2024003" in say(ta, "补签申请")
    assert "已批准" in say(ta, f"批准 {request.id}")
    assert AbsenceRequest.get().decided_by.openid == ta
    say(ta, "改签 2024004 请假")  # an assistant's 改签 is kept in the trail too
    rows = audit_rows(Classroom.get().id, app.extensions["ketang"].settings.school.tz)
    deciders = [row[8] for row in rows[1:]]
    assert deciders == ["助教 王五", "助教 王五"], rows
    assert AttendanceChange.select().where(AttendanceChange.request.is_null()).count() == 1
    say("o_t", "改签 2024005 请假")  # the owner's own 改签 of a check-in not made up stays Response.marked_by alone
    assert AttendanceChange.select().where(AttendanceChange.request.is_null()).count() == 1
    marked = Response.select().join(User, on=(Response.user == User.id)).where(User.student_no == "2024005").get()
    assert marked.marked_by.openid == "o_t"


def test_an_assistants_cancel_records_them(say, ta):
    say(ta, "上课")
    assert "取消" in say(ta, "取消上课")
    assert Lesson.get().cancelled_by.openid == ta


# --- refused -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["成绩规则 出勤 50 练习 30 参与 20", "预警设置 连续缺勤 3", "预警 通知学生 开", "添加助教",
                                  "移除助教 1", "助教权限 1 导出 开", "助教通知 开", "解除认证 2024001"])
def test_an_assistant_may_not_change_settings_or_the_team(say, ta, text):
    reply = say(ta, text)
    assert "只有「概率论」的创建者可以使用" in reply, reply
    assert len(staff_of(ta)) == 1 and not staff_of(ta)[0].can_export


def test_export_is_the_owners_until_granted(say, ta):
    assert "还没有允许你导出" in say(ta, "导出")
    assert "已允许 王五 导出「概率论」" in say("o_t", "助教权限 1 导出 开")
    assert "/export/" in say(ta, "导出")
    assert "已禁止" in say("o_t", "助教权限 1 导出 关")
    assert "还没有允许你导出" in say(ta, "导出")


def test_an_assistant_who_is_no_teacher_cannot_create_classes(say, ta):
    assert "只有教师可以使用" in say(ta, "创建课堂 物理")


def test_help_tells_an_assistant_what_they_may_run(say, ta):
    assert "你是助教：在你协助的课堂也可以使用上课的命令" in say(ta, "帮助")
    explained = say(ta, "帮助 上课")
    assert "开始上课" in explained and "教师认证" not in explained
    assert "教师认证" in say("o_s1", "帮助 上课")  # a student on no team is told it is a teacher's


def test_a_student_who_assists_another_class_keeps_both(say, ta, app):
    """o_ta is a student of another class and assists 概率论: each command goes to the class of its kind."""
    assert app.test_cli_runner().invoke(args=["make-teacher", "o_t2"]).exit_code == 0
    code = re.search(r"课堂码：(\d{6})", say("o_t2", "创建课堂 线性代数")).group(1)
    assert "已加入" in say(ta, f"加入 {code}")
    say("o_t2", "上课")
    say("o_t2", "开启签到 5")
    listing = say(ta, "我的课堂")
    assert "1. 线性代数" in listing and "2. 概率论" in listing and "概率论（" in listing and "· 助教" in listing, listing
    assert "签到成功！「线性代数」" in say(ta, "签到")  # as a student of 线性代数
    assert "「概率论」开始上课" in say(ta, "上课")  # as the assistant of 概率论
    assert Lesson.select().where(Lesson.live == 1).count() == 2


def test_a_removed_assistant_can_no_longer_act(say, ta):
    assert "1. 助教 王五（导出：不允许）" in say("o_t", "助教")
    assert "已将 王五 移出「概率论」" in say("o_t", "移除助教 1")
    assert "只有教师可以使用" in say(ta, "上课")
    assert Lesson.select().count() == 0


def test_a_student_of_the_class_is_no_assistant_of_another(say, ta, klass):  # noqa: F811
    """A plain student (not on any team) still gets teacher_only for a staff command."""
    assert "只有教师可以使用" in say("o_s1", "上课")


# --- the code --------------------------------------------------------------------------------------------


def test_the_invite_code_is_used_once_and_expires(say, klass, clock):  # noqa: F811
    code = invite(say)
    assert "你已成为" in say("o_a", f"助教 {code}")
    assert "不对，或已过期、已被使用" in say("o_b", f"助教 {code}")  # used
    late = invite(say)
    clock.now += timedelta(hours=24, seconds=1)
    assert "不对，或已过期、已被使用" in say("o_b", f"助教 {late}")  # expired
    assert "不需要加入助教" in say("o_t", f"助教 {invite(say)}")  # the owner is no assistant of their own class
    again = invite(say)
    assert "已经是「概率论」的助教" in say("o_a", f"助教 {again}")
    assert len(staff_of("o_a")) == 1 and not staff_of("o_b")


def test_wrong_codes_and_invites_are_rate_limited(say, klass, clock):  # noqa: F811
    code = invite(say)
    for n in range(5):
        assert "不对" in say("o_x", f"助教 {10000000 + n}")
    assert "尝试次数太多" in say("o_x", f"助教 {code}")  # even the right code, once the guesses are spent
    assert FailedAttempt.select().where(FailedAttempt.scope == "assist").count() == 5 and not staff_of("o_x")
    for _ in range(9):  # 10 codes an hour
        invite(say)
    assert "尝试次数太多" in say("o_t", "添加助教")
    clock.now += timedelta(hours=1, seconds=1)
    assert "你已成为" in say("o_x", f"助教 {code}")


def test_an_assistant_is_never_a_student_of_the_class(say, klass):  # noqa: F811
    reply = say("o_s1", f"助教 {invite(say)}")
    assert "已退出「概率论」的学生身份" in reply, reply
    assert not Membership.select().join(User).where((User.openid == "o_s1") & (Membership.active == 1)).exists()
    assert "你是「概率论」的助教，不能作为学生加入" in say("o_s1", f"加入 {klass}")
    assert "2024001" not in say("o_t", "名单")


# --- several classes, one lesson, pushes ----------------------------------------------------------------------


def test_a_teacher_assisting_another_class_chooses_it_like_their_own(say, klass, app):  # noqa: F811
    assert app.test_cli_runner().invoke(args=["make-teacher", "o_t2"]).exit_code == 0
    say("o_t2", "创建课堂 线性代数")
    say("o_t2", f"助教 {invite(say)}")  # the class joined is now the current one
    assert "「概率论」开始上课" in say("o_t2", "上课")
    listing = say("o_t2", "我的课堂")
    assert "1. 概率论" in listing and "2. 线性代数" in listing, listing  # 进入 numbers both, own and assisted
    say("o_t2", "进入 2")
    assert "「线性代数」开始上课" in say("o_t2", "上课")
    assert "只有「线性代数」的创建者" not in say("o_t2", "成绩规则 迟到 70")  # their own class: settings are theirs
    say("o_t2", "进入 1")
    assert "只有「概率论」的创建者可以使用" in say("o_t2", "成绩规则 迟到 70")
    assert "只有「概率论」的创建者可以使用" in say("o_t2", "补签 关")  # a teacher's switch of requests: the owner's


def test_two_staff_starting_at_once_get_one_lesson_and_either_ends_it(app, say, ta):
    replies = run_at_once(app, [("o_t", "上课"), (ta, "上课")])
    assert Lesson.select().count() == 1, replies
    assert sum("已在 08:00 开始上课" in r for r in replies) == 1, replies
    db.connect(reuse_if_open=True)
    assert "下课" in say(ta, "下课") and Lesson.get().live is None
    assert "开始上课" in say("o_t", "上课")
    assert "已下课" in say(ta, "下课") and Lesson.select().where(Lesson.live == 1).count() == 0


def pushed(kind: str) -> dict[str, str]:
    rows = Outbox.select(Outbox, User).join(User).where(Outbox.kind == kind)
    return {row.user.openid: row.text for row in rows}


def test_pushes_for_the_teacher_go_to_the_owner_unless_the_team_is_on(say, ta, clock, app):
    say("o_t", "上课")
    say("o_t", "开启签到 5")
    say("o_s1", "签到")
    say(ta, "点名")
    clock.now += timedelta(minutes=3)
    close_roll_calls(clock())
    assert set(pushed("roll_call_result")) == {"o_t"}  # the default: the owner only
    assert "只发给创建者" in say("o_t", "助教")
    assert "现在也发给助教" in say("o_t", "助教通知 开")
    say("o_s3", "签到")
    assert "点名：学生3" in say(ta, "点名")
    clock.now += timedelta(minutes=3)
    close_roll_calls(clock())
    assert Outbox.select().where((Outbox.kind == "roll_call_result")).count() == 3
    assert set(pushed("roll_call_result")) == {"o_t", ta}
    say("o_t", "下课")
    clock.now += timedelta(minutes=10)
    assert "的老师提交：补签" in say("o_s4", "补签 手机没电了")
    assert push_requests(clock(), app.extensions["ketang"].settings.school.tz) == 1
    requests = pushed("absence_requests")
    assert set(requests) == {"o_t", ta} and "2024004" in requests[ta]
    assert "只发给你" in say("o_t", "助教通知 关")  # the class's settings row stays, saying owner only
    say("o_t", "上课")
    say("o_t", "开启签到 5")
    say("o_s5", "签到")
    say(ta, "点名")
    clock.now += timedelta(minutes=3)
    close_roll_calls(clock())
    assert Outbox.select().join(User).where((Outbox.kind == "roll_call_result") & (User.openid == ta)).count() == 1
    assert Outbox.select().where(Outbox.kind == "roll_call_result").count() == 4


def digests_after_two_weeks(say, clock, app, present) -> dict[str, str]:
    """Two weekly lessons in which students o_s<i> for i in *present* check in, then the weekly run: the
    at-risk digests pushed, by recipient."""
    say("o_t", "助教通知 开")
    for week in range(2):
        clock.now = T0 + timedelta(weeks=week, days=1)
        say("o_t", "上课")
        say("o_t", "开启签到 5")
        for i in present:
            say(f"o_s{i}", "签到")
        clock.now += timedelta(minutes=10)
        say("o_t", "下课")
    clock.now = T0 + timedelta(weeks=2)
    kt = app.extensions["ketang"]
    run_digests(clock(), kt.settings, kt.links)
    return pushed("risk_digest")


def test_the_weekly_digest_reaches_the_team_when_on(say, ta, clock, app):
    digests = digests_after_two_weeks(say, clock, app, (1, 3, 4, 5, 6))
    assert set(digests) == {"o_t", ta} and all("2024002" in text for text in digests.values())


# --- the schema ----------------------------------------------------------------------------------------------


def test_init_db_adds_the_team_to_an_existing_database(tmp_path, clock):
    app = build_app(tmp_path, clock)
    with app.app_context():
        db.execute_sql("DROP TABLE class_staff")
        db.execute_sql("DROP TABLE staff_invite")
        if not is_sqlite():
            db.execute_sql("ALTER TABLE class_rules DROP COLUMN team_pushes")
        create_schema()
        assert {"class_staff", "staff_invite"} <= set(db.get_tables())
        assert "team_pushes" in {c.name for c in db.get_columns("class_rules")}
    db.close()


def test_one_code_sent_by_several_at_once_makes_one_assistant(app, say, klass, monkeypatch):  # noqa: F811
    code = invite(say)
    slow = team.inline  # between reading the code and using it up: each waits, so all have read it unused

    def inline_slowly(text):
        time.sleep(0.3)
        return slow(text)

    monkeypatch.setattr(team, "inline", inline_slowly)
    replies = run_at_once(app, [(f"o_x{n}", f"助教 {code}") for n in range(6)])
    db.connect(reuse_if_open=True)
    assert ClassStaff.select().count() == 1, replies
    assert sum("你已成为" in r for r in replies) == 1 and sum("已被使用" in r for r in replies) == 5, replies


def test_copy_team_gives_a_new_class_the_same_assistants(say, ta, klass):  # noqa: F811
    """handlers.team.copy_team, for 复制课堂 (issue 25.4) to call: the assistants and their grants come along."""
    say("o_t", "助教权限 1 导出 开")
    old = Classroom.get()
    new = Classroom.create(name="概率论 2027", code="999999", owner=old.owner_id, created_at=old.created_at)
    team.copy_team(old, new)
    team.copy_team(old, new)  # twice: still one row
    assert ClassStaff.select().where(ClassStaff.classroom == new).count() == 1
    copied = ClassStaff.get(ClassStaff.classroom == new)
    assert copied.user.openid == ta and copied.can_export


def test_an_assistant_uses_the_guided_quiz_and_announcement(say, ta):
    """The menu's 练习 / 发布公告 buttons start dialogs; their steps act for the assisted class too."""
    say(ta, "上课")
    for text in ("练习", "1+1=?", "A.1 B.2", "B"):
        say(ta, text)
    assert "「概率论」单选题已发布" in say(ta, "3")
    say(ta, "发布公告")
    assert "公告已发布到「概率论」" in say(ta, "明天停课")
