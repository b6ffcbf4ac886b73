"""Handler behaviour through the dispatcher, with a frozen clock and no HTTP."""

from __future__ import annotations

import re

from bot.database import ROWS_PER_INSERT
from bot.outbox import enqueue_many
from models import Activity, FailedAttempt, InboundMessage, Lesson, Membership, Outbox, Response, User


def start_checkin(say, teacher_openid, text="开启签到 5"):
    assert "开始上课" in say(teacher_openid, "上课")  # every caller's class is not in session yet
    return say(teacher_openid, text)


def test_checkin_exactly_at_the_deadline_counts_one_second_after_does_not(say, teacher, clock):
    openid, code = teacher
    say("o_a", f"加入 {code}")
    say("o_b", f"加入 {code}")
    start_checkin(say, openid)
    clock.advance(minutes=5)
    assert "签到成功" in say("o_a", "签到")
    clock.advance(seconds=1)
    assert "已于 08:05 结束" in say("o_b", "签到")
    assert Response.select().count() == 1


def test_joining_says_what_to_do_now(say, teacher, clock):
    openid, code = teacher
    assert "上课后发送「签到」" in say("o_a", f"加入 {code}")
    start_checkin(say, openid)
    joined = say("o_b", f"加入 {code}")
    assert "正在签到（" in joined and "截止）：现在发送「签到」" in joined
    clock.advance(minutes=6)  # closed by its deadline, whether or not the scheduler ran
    assert "签到开启后发送「签到」" in say("o_d", f"加入 {code}")


def test_deadline_is_enforced_before_any_scheduler_runs(say, teacher, clock):
    openid, code = teacher
    say("o_a", f"加入 {code}")
    start_checkin(say, openid, "开启签到 1")
    clock.advance(hours=2)
    assert Activity.get().status == "open"  # nobody closed it
    assert "已于 08:01 结束" in say("o_a", "签到")


def test_wrong_passcode_tries_are_limited(say, teacher):
    openid, code = teacher
    say("o_a", f"加入 {code}")
    passcode = re.search(r"签到码：(\d{4})", start_checkin(say, openid, "开启签到 口令")).group(1)
    wrong = "0000" if passcode != "0000" else "1111"
    replies = [say("o_a", f"签到 {wrong}") for _ in range(5)]
    assert "还可以再试 4 次" in replies[0] and "锁定" in replies[4]
    assert "锁定" in say("o_a", f"签到 {passcode}")
    assert Response.select().count() == 0


def test_students_cannot_run_teacher_commands_and_teachers_cannot_check_in(say, teacher):
    openid, code = teacher
    say("o_a", f"加入 {code}")
    assert "只有教师可以使用" in say("o_a", "上课")
    assert "is for teachers" in say("o_a", "start class")
    assert "学生命令" in say(openid, "签到")
    assert "「加入」是学生命令" in say(openid, f"加入 {code}")
    assert Membership.select().count() == 1


def test_teacher_acts_only_on_classes_they_own(say, teacher, app):
    openid, code = teacher
    app.test_cli_runner().invoke(args=["make-teacher", "o_other"])
    assert "你还没有课堂" in say("o_other", "上课")
    say("o_other", "创建课堂 别人的课")
    assert "没有序号或课堂码" in say("o_other", f"进入 {code}")
    assert "「别人的课」开始上课" in say("o_other", "上课")
    assert "「高等数学」开始上课" in say(openid, "上课")


def test_join_guessing_is_rate_limited(say, teacher):
    _, code = teacher
    wrong = [f"{n:06d}" for n in range(100000, 100011) if f"{n:06d}" != code]
    replies = [say("o_guess", f"加入 {w}") for w in wrong[:10]]
    assert all("没有课堂码" in r for r in replies)
    assert "尝试次数太多" in say("o_guess", f"加入 {code}")
    assert FailedAttempt.select().count() == 10


def test_unverified_student_choosing_between_classes(say, teacher, app):
    openid, code = teacher
    second = re.search(r"课堂码：(\d{6})", say(openid, "创建课堂 线性代数")).group(1)
    say("o_a", f"加入 {code}")
    say("o_a", f"加入 {second}")
    listing = say("o_a", "我的课堂")
    assert "1. 高等数学" in listing and "2. 线性代数" in listing
    say(openid, "进入 1")
    start_checkin(say, openid)
    # Only one of the student's classes is in session: check-in goes there without 进入.
    say("o_a", "进入 2")
    assert "签到成功！「高等数学」" in say("o_a", "签到")
    assert "当前课堂：「线性代数」" in say("o_a", "进入 2")
    assert "没有序号或课堂码为 9 的课堂" in say(openid, "进入 9")


def test_answer_replaces_and_hides_correctness_until_close(say, teacher, clock):
    openid, code = teacher
    say("o_a", f"加入 {code}")
    say(openid, "上课")
    assert "选项 A/B/C" in say(openid, "练习 C 2 首都？ A.罗马 B.波恩 C.巴黎")
    assert "请回答一个选项：A/B/C" in say("o_a", "答 D")
    assert "已提交答案 B" in say("o_a", "答ｂ")
    changed = say("o_a", "答 c")
    assert "从 B 改为 C" in changed and "正确" not in changed
    clock.advance(minutes=2, seconds=1)
    closed = say("o_a", "答 A")
    assert "已于 08:02 结束" in closed and "C，正确" in closed
    assert Response.get().answer == "C"


def test_quiz_answer_must_be_an_option(say, teacher):
    openid, _ = teacher
    say(openid, "上课")
    assert "不在选项 A/B 中" in say(openid, "练习 C 是非？A.是 B.否")


def test_only_one_open_checkin_at_a_time_and_close(say, teacher):
    openid, _ = teacher
    start_checkin(say, openid)
    assert "已有进行中的签到" in say(openid, "开启签到")
    assert "已结束 1 个" in say(openid, "结束")
    assert "签到已开启" in say(openid, "开启签到 2")


def test_commands_need_a_running_lesson(say, teacher):
    openid, code = teacher
    say("o_a", f"加入 {code}")
    assert "还没有上课" in say(openid, "开启签到")
    assert "没有上课" in say("o_a", "签到")


def test_announcement_queues_one_push_per_student(say, teacher):
    openid, code = teacher
    for i in range(3):
        say(f"o_{i}", f"加入 {code}")
    assert "3 名学生下次发消息时会看到未读提醒" in say(openid, "发布公告 期中考试在 3 号楼")
    pushes = list(Outbox.select().where(Outbox.kind == "announcement"))
    assert len(pushes) == 3 and all("期中考试在 3 号楼" in p.text for p in pushes)


def test_become_teacher_with_invite_code_leaves_student_classes(say, teacher):
    _, code = teacher
    say("o_a", f"加入 {code}")
    assert "邀请码不对" in say("o_a", "教师认证 nope")
    reply = say("o_a", "教师认证 JOIN-STAFF")
    assert "已成为教师" in reply and "退出之前加入的 1 个课堂" in reply
    assert User.get(User.openid == "o_a").role == "teacher"
    assert Membership.select().where(Membership.active == 1).count() == 0  # no class as a student now
    assert Membership.select().where(Membership.left_at.is_null(False)).count() == 1  # the history stays


def test_unexpected_errors_are_answered_politely_and_leave_nothing(say, teacher, monkeypatch):
    openid, code = teacher
    say("o_a", f"加入 {code}")
    before = InboundMessage.select().count()

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Outbox, "insert_many", boom)  # fails after the lesson row was written
    assert "系统繁忙" in say(openid, "上课")
    assert InboundMessage.select().count() == before  # a retry will run it again
    assert Lesson.select().count() == 0  # and nothing half-done remains
    monkeypatch.undo()
    assert "开始上课" in say(openid, "上课")


def test_help_lists_role_commands_in_the_language_typed(say, teacher):
    openid, _ = teacher
    zh = say(openid, "帮助")
    assert "教师命令" in zh and "上课" in zh and "签到 1234" not in zh
    en = say(openid, "help")
    assert "[Teacher commands]" in en and "start class" in en
    assert "学生命令" in say("o_new", "菜单")
    assert len(zh.encode()) < 1600  # room to grow under WeChat's 2048-byte limit
    detail = say(openid, "帮助 开启签到")
    assert "用法：开启签到 [分钟1-600] [口令]" in detail and "开启签到 10 口令" in detail
    assert "Usage: check in [4-digit code]" in say("o_new", "help check in")
    assert "没有叫「飞行」的命令" in say(openid, "帮助 飞行")


def test_me_shows_role_and_identity(say, teacher):
    openid, _ = teacher
    assert "身份：教师" in say(openid, "我的信息")
    assert "Role: student" in say("o_new", "me")


def test_cancel_without_dialog(say):
    assert "当前没有进行中的操作" in say("o_new", "取消")


def test_a_class_larger_than_one_insert_batch_gets_every_push_once(say, teacher, clock):
    openid, code = teacher
    students = [f"o_s{i}" for i in range(2 * ROWS_PER_INSERT + 20)]
    for student in students:
        say(student, f"加入 {code}")
    assert f"{len(students)} 名学生下次发消息时会看到未读提醒" in say(openid, "发布公告 明天交作业")
    pushes = list(Outbox.select().where(Outbox.kind == "announcement"))
    assert len(pushes) == len({p.user_id for p in pushes}) == len(students)
    again = [(p.user_id, p.kind, p.text, p.key) for p in pushes]
    assert enqueue_many(again, clock()) == 0 and Outbox.select().count() == len(students)  # keys are idempotent
