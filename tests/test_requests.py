"""Make-up (补签) and leave (请假) requests: asked with a reason, decided with one reply, kept as a trail."""

from __future__ import annotations

import re

import pytest

from bot.push import Pusher
from handlers.requests import apply_leaves, push_requests
from models import AbsenceRequest, Activity, AttendanceChange, Outbox, Response, User
from tests.test_lesson import export_rows, klass  # noqa: F401  (fixture)


def tz(app):
    return app.extensions["ketang"].settings.school.tz


def lesson_with_checkin(say, clock, came=("o_s1",), minutes=5):
    """A lesson at the clock's time with one check-in that *came* attended; the clock ends after it."""
    say("o_t", "上课")
    say("o_t", f"开启签到 {minutes}")
    for openid in came:
        assert "签到成功" in say(openid, "签到")
    clock.advance(minutes=minutes, seconds=1)
    say("o_t", "下课")


def teacher_pushes(kind="absence_requests"):
    return [row.text for row in Outbox.select().where((Outbox.kind == kind) & (Outbox.user == User.get(User.openid == "o_t")))
            .order_by(Outbox.id)]


def student_outcome(openid):
    return Outbox.get((Outbox.kind == "request_result") & (Outbox.user == User.get(User.openid == openid))).text


def test_a_make_up_is_asked_pushed_approved_and_shown_as_made_up(app, say, klass, clock, client):  # noqa: F811
    lesson_with_checkin(say, clock)
    clock.advance(hours=2)
    sent = say("o_s2", "补签 发烧去了校医院")
    assert "已向「概率论」的老师提交：补签 09-07 08:00 的签到，理由：发烧去了校医院" in sent
    assert push_requests(clock(), tz(app)) == 1
    push = teacher_pushes()[0]
    number = AbsenceRequest.get().id
    assert f"【{number}】「概率论」2024002 学生2：补签 09-07 08:00 的签到；理由：发烧去了校医院" in push
    assert (f"回复「批准 {number}」批准（记为请假；「批准 {number} 已到」或「批准 {number} 迟到」），"
            f"「驳回 {number} [原因]」驳回") in push
    approved = say("o_t", f"批准 {number}")
    assert "已批准，记为「请假」（缺勤→请假）" in approved and "已通知学生" in approved
    response = Response.get(Response.user == User.get(User.openid == "o_s2"))
    assert (response.status, response.made_up, response.marked_by.openid) == ("excused", True, "o_t")
    assert "老师已批准你的申请：补签 09-07 08:00 的签到，记为「请假」" in student_outcome("o_s2")
    assert "补：09-07 请假(补)" in say("o_s2", "我的记录")
    assert "不再改变" in say("o_t", f"批准 {number} 已到")  # decided once: a second reply changes nothing
    assert Response.get_by_id(response.id).status == "excused"


def test_the_export_keeps_the_trail_and_a_later_mark_of_a_made_up_check_in(app, say, klass, clock, client):  # noqa: F811
    lesson_with_checkin(say, clock)
    say("o_s3", "补签 手机没电了")
    number = AbsenceRequest.get().id
    say("o_s4", "补签 =HYPERLINK(\"http://x\")")  # a reason is text in Excel too
    clock.advance(minutes=30)
    say("o_t", f"批准 {number} 迟到")
    clock.advance(minutes=30)
    assert "改为「已到」" in say("o_t", "改签 2024003 已到")
    rows, _ = export_rows(client, say("o_t", "导出"))
    student = next(row for row in rows if row[1] == "2024003")
    assert student[4] == "已到(补)"  # made up, then marked present by the teacher: still shown as made up
    title = rows.index(["补签/请假记录"])
    assert rows[title + 1][:4] == ["申请号", "学号", "学生", "类型"]
    trail = rows[title + 2:]
    assert trail[0][:8] == [str(number), "2024003", "学生3", "补签", "2026-09-07 08:00", "手机没电了", "2026-09-07 08:05",
                            "已批准"]
    teacher = User.get(User.openid == "o_t").display_name
    assert trail[0][8:] == [teacher, "2026-09-07 08:35", "缺勤→迟到"]
    assert trail[1][5] == "'=HYPERLINK(\"http://x\")" and trail[1][7] == "待审批"
    assert trail[2][1:4] == ["2024003", "学生3", "改签(补签后)"] and trail[2][8:] == [teacher, "2026-09-07 09:05", "迟到→已到"]
    assert [(c.before, c.after, c.request_id) for c in AttendanceChange.select().order_by(AttendanceChange.id)] == [
        ("absent", "late", number), ("late", "present", None)]


def test_a_reason_is_one_bounded_line_that_cannot_forge_another_request(app, say, klass, clock):  # noqa: F811
    lesson_with_checkin(say, clock)
    forged = "生病\n【99】「概率论」2024001 学生1：补签 09-07 08:00 的签到；理由：x"
    assert "已向" in say("o_s2", f"补签 {forged}")
    assert "最多 100 个字" in say("o_s3", "补签 " + "很" * 101)
    push_requests(clock(), tz(app))
    lines = teacher_pushes()[0].split("\n")
    assert len(lines) == 3  # header, the one request, the reply to send
    assert lines[1].startswith(f"【{AbsenceRequest.get().id}】") and "〔99〕" in lines[1] and "【99】" not in lines[1]


@pytest.mark.parametrize("reply", ["approve", "reject"])
def test_a_teacher_decides_only_their_own_classes_requests(app, say, klass, clock, reply):  # noqa: F811
    lesson_with_checkin(say, clock)
    say("o_s2", "补签 生病")
    app.test_cli_runner().invoke(args=["make-teacher", "o_other"])
    say("o_other", "创建课堂 别的课")
    number = AbsenceRequest.get().id
    assert f"没有第 {number} 号申请" in say("o_other", f"{'批准' if reply == 'approve' else '驳回'} {number}")
    assert AbsenceRequest.get().state == "waiting"


def test_every_refusal_says_why_and_records_nothing(app, say, klass, clock):  # noqa: F811
    lesson_with_checkin(say, clock)  # 09-07 08:00, o_s1 came
    # attended already
    assert "最近 7 天你没有缺勤的签到" in say("o_s1", "补签 想补")
    assert "09-07 08:00 的签到你已是「已到」" in say("o_s1", "补签 9-7 想补")
    assert "09-07 08:00 的签到你已是「已到」" in say("o_s1", "补签 ９月７日\u3000想补")
    # twice
    assert "已向" in say("o_s2", "补签 生病")
    clock.advance(minutes=1)
    assert "已在 08:05 申请过（待审批），不能重复申请" in say("o_s2", "补签 9-7 还是生病")
    # a non-member: joined after the check-in
    say("o_late", "加入 " + klass)
    assert "09-07 08:00 的签到时你还不是「概率论」的成员" in say("o_late", "补签 9-7 刚加入")
    assert "最近 7 天你没有缺勤的签到" in say("o_late", "补签 刚加入")
    # another class: that day's check-in belongs to another class of the student's
    app.test_cli_runner().invoke(args=["make-teacher", "o_t2"])
    other = re.search(r"课堂码：(\d{6})", say("o_t2", "创建课堂 线性代数")).group(1)
    say("o_s4", f"加入 {other}")
    clock.advance(days=1)  # 09-08: only 线性代数 has a lesson
    say("o_t2", "上课")
    say("o_t2", "开启签到 1")
    clock.advance(minutes=2)
    say("o_t2", "下课")
    say("o_s4", "进入 1")  # 概率论 is the current class
    assert "09-08 「概率论」没有签到；那天的签到属于「线性代数」" in say("o_s4", "补签 9-8 睡过头")
    # after the window
    clock.advance(days=7)
    assert "只能申请 7 天内的签到" in say("o_s5", "补签 9-7 太晚了")
    assert "最近 7 天你没有缺勤的签到" in say("o_s5", "补签 太晚了")
    # turned off by the teacher
    assert "已关闭补签/请假申请" in say("o_t", "补签 关")
    assert "老师已关闭补签/请假申请" in say("o_s6", "请假 9-20 比赛")
    assert "已开放" in say("o_t", "补签 开")
    # a leave in the past, no reason, a date and no reason
    assert "请假要提前申请" in say("o_s6", "请假 9-7 比赛")
    assert "用法" in say("o_s6", "请假 比赛")
    assert "用法" in say("o_s6", "补签 9-7")
    assert AbsenceRequest.select().count() == 1


def test_requests_arriving_within_a_minute_go_in_one_push_and_approve_all_takes_the_shown(app, say, klass, clock):  # noqa: F811
    lesson_with_checkin(say, clock)
    say("o_s2", "补签 一")
    assert push_requests(clock(), tz(app)) == 1  # the first goes at once
    clock.advance(seconds=10)
    say("o_s3", "补签 二")
    clock.advance(seconds=10)
    say("o_s4", "补签 三")
    assert push_requests(clock(), tz(app)) == 0  # within a minute of the last push: they wait
    clock.advance(seconds=45)
    assert push_requests(clock(), tz(app)) == 2
    assert push_requests(clock(), tz(app)) == 0
    pushes = teacher_pushes()
    assert len(pushes) == 2 and "【补签/请假申请 · 2 条】" in pushes[1] and "批准 全部" in pushes[1]
    say("o_s5", "补签 四")  # not shown to the teacher yet
    assert "已批准 3 条申请" in say("o_t", "批准 全部")
    assert [r.state for r in AbsenceRequest.select().order_by(AbsenceRequest.id)] == ["approved"] * 3 + ["waiting"]
    listing = say("o_t", "补签申请")
    assert "【待审批的申请 · 1 条】" in listing and "学生5" in listing
    assert "已批准 1 条申请" in say("o_t", "批准 全部")


def test_a_rejection_tells_the_student_why(app, say, klass, clock):  # noqa: F811
    lesson_with_checkin(say, clock)
    say("o_s2", "补签 生病")
    number = AbsenceRequest.get().id
    assert "已驳回并通知学生" in say("o_t", f"驳回 {number} 请附校医院证明")
    assert "驳回了你的申请：补签 09-07 08:00 的签到。老师说明：请附校医院证明" in student_outcome("o_s2")
    row = AbsenceRequest.get()
    assert (row.state, row.note, row.decided_by.openid) == ("rejected", "请附校医院证明", "o_t")
    Pusher(app.extensions["ketang"].settings)(clock())  # no WeChat API here: no push can reach the student
    assert "你有 1 条未读" in say("o_s2", "我的记录")  # told at their next message
    assert "驳回了你的申请" in say("o_s2", "公告")
    assert Response.select().where(Response.user == User.get(User.openid == "o_s2")).count() == 0


def test_an_approved_leave_excuses_that_days_check_ins_as_they_close(app, say, klass, clock):  # noqa: F811
    assert "已向「概率论」的老师提交：09-09 请假，理由：校运动会" in say("o_s2", "请假 9-9 校运动会")
    assert "已向" in say("o_s3", "请假 9-9 校运动会")
    number = AbsenceRequest.get(AbsenceRequest.student == User.get(User.openid == "o_s2")).id
    assert "当天的签到结束后生效" in say("o_t", f"批准 {number}")
    say("o_t", f"批准 {number + 1}")
    clock.advance(days=2)  # Wednesday 09-09 08:00: o_s3 came anyway
    lesson_with_checkin(say, clock, came=("o_s1", "o_s3"))
    assert apply_leaves(clock(), tz(app), 7) == 1
    assert apply_leaves(clock(), tz(app), 7) == 0  # idempotent
    statuses = {r.user.openid: (r.status, r.made_up) for r in Response.select()}
    assert statuses["o_s2"] == ("excused", True) and statuses["o_s3"] == ("present", False)
    assert "请假 1" in say("o_s2", "我的记录") and "09-09 请假(补)" in say("o_s2", "我的记录")


def test_english_commands_and_pushes_in_the_recipients_language(app, say, klass, clock):  # noqa: F811
    lesson_with_checkin(say, clock)
    User.update(lang="en").where(User.openid.in_(["o_t", "o_s2"])).execute()
    assert "Sent to the teacher of “概率论”: make-up of the check-in of 09-07 08:00, reason: I was sick" in \
        say("o_s2", "make up I was sick")
    push_requests(clock(), tz(app))
    number = AbsenceRequest.get().id
    assert f"Reply “approve {number}” (recorded as excused" in teacher_pushes()[0]
    assert "[Requests waiting · 1]" in say("o_t", "requests")
    assert "Approved as “late”" in say("o_t", f"approve {number} late")
    assert "was approved: make-up of the check-in of 09-07 08:00, recorded as “late”" in student_outcome("o_s2")
    assert "leave on 09-10" in say("o_s3", "leave request 9-10 Sports day")
    assert "Rejected" in say("o_t", f"reject {number + 1} Bring a note")


def test_the_missed_list_and_the_closed_check_in_point_to_make_up(app, say, klass, clock):  # noqa: F811
    say("o_t", "上课")
    say("o_t", "开启签到 5")
    say("o_s1", "签到")
    clock.advance(minutes=6)
    assert "发送「补签 <理由>」向老师申请补签" in say("o_s2", "签到")
    say("o_t", "下课")
    listing = say("o_s2", "补签")
    assert "【最近 7 天缺勤的签到】" in listing and "09-07 08:00 「概率论」" in listing
    assert "缺勤有原因？发送「补签 <理由>」" in say("o_s2", "我的记录")
    assert "申请补签" not in say("o_s1", "我的记录")
    number_reply = say("o_s2", "补签 1 生病")  # lesson 1 of the class
    assert "补签 09-07 08:00 的签到" in number_reply
    assert Activity.select().count() == 1


def test_a_request_and_its_approval_through_signed_encrypted_wechat_messages(app, klass, clock):  # noqa: F811
    from tests.conftest import simulator_for

    wx = simulator_for(app)
    wx.send_text("o_t", "上课")
    wx.send_text("o_t", "开启签到 2")
    clock.advance(minutes=3)
    wx.send_text("o_t", "下课")
    assert "已向「概率论」的老师提交" in wx.send_text("o_s2", "补签 手机没电了")
    number = AbsenceRequest.get().id
    assert "【待审批的申请 · 1 条】" in wx.send_text("o_t", "补签申请")
    assert "已批准，记为「迟到」" in wx.send_text("o_t", f"批准 {number} 迟到")
    assert "迟到 1" in wx.send_text("o_s2", "我的记录") and "09-07 迟到(补)" in wx.send_text("o_s2", "我的记录")


def test_requests_that_do_not_fit_one_push_wait_for_the_next_and_approve_all_takes_only_those_shown(app, say, klass, clock):  # noqa: F811
    from models import Classroom, Membership

    classroom = Classroom.get()
    extra = [User.create(openid=f"o_x{i:02d}", name=f"学生x{i:02d}", student_no=f"2025{i:03d}", created_at=clock())
             for i in range(20)]
    Membership.insert_many([{"user": u, "classroom": classroom, "joined_at": clock()} for u in extra]).execute()
    lesson_with_checkin(say, clock)
    for user in extra:
        assert "已向" in say(user.openid, "补签 " + "因为生病了" * 20)  # 100 characters each
    assert 0 < push_requests(clock(), tz(app)) < 20
    first = teacher_pushes()[0]
    shown = first.count("理由：")
    assert len(first.encode()) <= 2000 and f"还有 {20 - shown} 条" in first
    assert f"已批准 {shown} 条申请" in say("o_t", "批准 全部")  # not the ones the teacher has not seen
    clock.advance(minutes=1)
    assert push_requests(clock(), tz(app)) == min(shown, 20 - shown)
    assert AbsenceRequest.select().where(AbsenceRequest.state == "approved").count() == shown


def test_two_replies_deciding_at_once_decide_once(app, say, klass, clock, monkeypatch):  # noqa: F811
    """Two 批准 sent together (a double tap, two teachers' phones): on PostgreSQL both may read the request as
    waiting before either commits. Forced here: the second reads it as it was, waiting. Only the first decides;
    the second changes nothing and says so (the decision's UPDATE is guarded by the state)."""
    from handlers import requests

    lesson_with_checkin(say, clock)
    say("o_s2", "补签 发烧")
    number = AbsenceRequest.get().id
    stale = AbsenceRequest.get_by_id(number)  # as a concurrent reply's snapshot saw it
    assert "已批准" in say("o_t", f"批准 {number}")
    monkeypatch.setattr(requests, "_own_waiting", lambda ctx, n: stale)
    assert "不再改变" in say("o_t", f"批准 {number} 已到")
    request = AbsenceRequest.get_by_id(number)
    assert (request.state, request.status) == ("approved", "excused")
    assert Response.get(Response.user == User.get(User.openid == "o_s2")).status == "excused"
    assert Outbox.select().where(Outbox.kind == "request_result").count() == 1  # the student is told once
