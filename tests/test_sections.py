"""Sections (issue 25.2): a class split into sections with their own join codes, or by student number; an
assistant limited to one section sees and marks only its students; 签到情况, 结果, 成绩 and 导出 by section.
Handler tests with a frozen clock through the dispatcher, the join by a section's code end to end (signed,
encrypted XML through the Flask test client), and the two databases (KETANG_TEST_DATABASE_URL)."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest

from bot.database import transaction
from handlers import sections
from handlers.attendance import close_roll_calls
from models import AbsenceRequest, Classroom, ClassStaff, Outbox, Response, RollCall, Section, SectionSeat, User
from tests.conftest import at_once, simulator_for
from tests.test_identity import run_at_once
from tests.test_lesson import export_rows, klass  # noqa: F401  (fixture)
from tests.test_team import digests_after_two_weeks, invite


def code_of(reply: str) -> str:
    return re.search(r"加入码 (\d{6})", reply).group(1)


@pytest.fixture
def course(say, klass):  # noqa: F811
    """概率论 (owner o_t) in two sections: 一班 = 2024001-2024003 by number (the staff's word), 二班 = o_s4 and o_s5
    by its code (their own choice); o_s6 in none. Assistants: 1. 王五 (o_ta1) on 一班, 2. 赵六 (o_ta2) on 二班."""
    one, two = code_of(say("o_t", "分组 一班")), code_of(say("o_t", "分组 二班"))
    assert "已把 3 个学号分到「概率论」的分组「一班」" in say("o_t", "分组 一班 2024001 2024002 2024003")
    for student in ("o_s4", "o_s5"):
        assert "你在分组「二班」" in say(student, f"加入 {two}")
    for openid, name in (("o_ta1", "王五"), ("o_ta2", "赵六")):
        say(openid, "帮助")
        User.update(name=name).where(User.openid == openid).execute()
        assert "助教" in say(openid, f"助教 {invite(say)}")
    assert "王五 现在只负责「概率论」的分组「一班」" in say("o_t", "助教分组 1 一班")
    assert "赵六 现在只负责「概率论」的分组「二班」" in say("o_t", "助教分组 2 二班")
    return {"一班": one, "二班": two, "class": klass}


def placed(name: str) -> set[str]:
    section = Section.get(Section.name == name)
    ids = sections.students_in(section.classroom_id, section.id)
    return {u.student_no for u in User.select().where(User.id.in_(list(ids)))}


def test_sections_have_their_own_codes_and_a_student_joins_one_with_it(say, course):
    listing = say("o_t", "分组")
    assert "1. 一班 · 加入码 " in listing and "3 人 · 助教：王五" in listing and "2. 二班" in listing and "未分组 1 人" in listing
    codes = {course["一班"], course["二班"], course["class"]}
    assert len(codes) == 3  # never another class's or section's code
    reply = say("o_new", f"加入 {course['一班']}")
    assert "已加入「概率论」" in reply and "你在分组「一班」" in reply
    assert placed("一班") >= {"2024001", "2024002", "2024003"} and "2024004" in placed("二班")
    assert "没有课堂码为 999999 的课堂" in say("o_new2", "加入 999999")  # an unknown code is still one


def test_the_staffs_word_on_a_number_wins_over_a_students_own_choice(say, course):
    reply = say("o_s1", f"加入 {course['二班']}")
    assert "老师已按学号把你分在「一班」" in reply
    assert "2024001" in placed("一班") and "2024001" not in placed("二班")
    say("o_s6", f"加入 {course['二班']}")  # a member in no section moves in by the code
    assert "2024006" in placed("二班")
    assert "2024004" in placed("二班")
    say("o_t", "分组 一班 2024004")  # the staff move a number: it wins over the student's own seat
    assert "2024004" in placed("一班") and "2024004" not in placed("二班")


def test_an_assistant_of_one_section_sees_and_marks_only_its_students(say, course):
    say("o_ta1", "上课")
    say("o_ta1", "开启签到 5")
    for i in (1, 4):
        say(f"o_s{i}", "签到")
    mine = say("o_ta1", "签到情况")
    assert "应到 3：已到 1" in mine and "（分组：一班）" in mine and "2024002" in mine and "2024004" not in mine
    assert "不能查看分组「二班」" in say("o_ta1", "签到情况 二班")  # naming another section reveals nothing
    assert "应到 6：已到 2" in say("o_t", "签到情况")  # the owner: the class
    assert "应到 2：已到 1" in say("o_t", "签到情况 二班")
    refused = say("o_ta1", "改签 2024004 请假")
    assert "不在你负责的分组" in refused
    s4 = User.get(User.student_no == "2024004")
    assert Response.get(Response.user == s4).status == "present"  # nothing changed
    assert "出勤改为「请假」" in say("o_ta1", "改签 2024002 请假")
    roster = say("o_ta1", "名单")
    assert "2024001" in roster and "2024003" in roster and "2024004" not in roster and "2024006" not in roster


def test_an_assistant_cannot_make_fill_or_reassign_sections(say, course):
    assert "1. 一班" in say("o_ta1", "分组")  # reading is a lesson's business
    for text in ("分组 三班", "分组 一班 2024004", "助教分组 1 全部"):
        assert "只有「概率论」的创建者可以使用" in say("o_ta1", text), text
    assert Section.select().count() == 2 and "2024004" not in placed("一班")
    assert "分组名「12」不行" in say("o_t", "分组 12") and "分组名「全部」不行" in say("o_t", "分组 全部")


def test_requests_reach_and_are_decided_by_their_sections_assistant_only(say, course, clock):
    say("o_t", "上课")
    say("o_t", "开启签到 1")
    clock.advance(minutes=2)
    say("o_t", "结束")
    assert "补签" in say("o_s4", "补签 手机没电了")
    request = AbsenceRequest.get()
    assert "没有待审批" in say("o_ta1", "补签申请")
    assert "没有第" in say("o_ta1", f"批准 {request.id}") and "没有第" in say("o_ta1", f"驳回 {request.id}")
    assert AbsenceRequest.get().state == "waiting"
    assert "手机没电了" in say("o_ta2", "补签申请")
    assert "已批准" in say("o_ta2", f"批准 {request.id}")


def test_a_limited_assistants_roll_call_calls_its_section_only(say, course):
    say("o_ta1", "上课")
    say("o_ta1", "开启签到 5")
    for i in range(1, 7):
        say(f"o_s{i}", "签到")
    say("o_ta1", "点名 9")
    called = {c.user.student_no for c in RollCall.select(RollCall, User).join(User)}
    assert called == {"2024001", "2024002", "2024003"}


def test_results_grades_and_export_by_section_with_the_section_signed_in(say, course, client):
    say("o_t", "上课")
    say("o_t", "练习 B 3 1+1=? A.1 B.2 C.3")
    for i, answer in ((1, "B"), (2, "A"), (4, "B"), (5, "B")):
        say(f"o_s{i}", f"答 {answer}")
    assert "答题 4" in say("o_t", "结果") or "4" in say("o_t", "结果")
    mine = say("o_ta1", "结果")
    assert "（分组：一班）" in mine and "A ██████████ 1" in mine and "B ██████████ 1" in mine
    assert "C ▏ 0" in say("o_t", "结果 1 二班") and "B ██████████ 2" in say("o_t", "结果 1 二班")
    say("o_t", "结束")
    assert "问卷" in say("o_t", "问卷 2 2 节奏？A.快 B.慢")
    assert "按全班统计" in say("o_ta1", "结果")  # an anonymous survey is never split by section
    say("o_t", "助教权限 1 导出 开")
    rows, path = export_rows(client, say("o_ta1", "导出"))
    numbers = {row[1] for row in rows[1:]}
    assert numbers == {"2024001", "2024002", "2024003"}, rows
    token = path.rsplit("/", 1)[1].rsplit(".", 1)[0]
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert client.get(f"/export/{forged}.csv").status_code == 403  # the section is signed in
    owners, _path = export_rows(client, say("o_t", "导出 二班"))
    assert {row[1] for row in owners[1:]} == {"2024004", "2024005"}
    grades = say("o_ta1", "成绩")
    assert "（分组：一班）" in grades
    page_path = re.search(r"https://ketang.example.edu(/gradebook/\S+)", grades).group(1)
    page = client.get(page_path).get_data(as_text=True)
    assert "学生1" in page and "学生4" not in page and "学生6" not in page
    assert "<h1>概率论（分组：一班）" in page  # the page says whose rows these are
    s4 = User.get(User.student_no == "2024004")
    assert client.get(f"{page_path}/student/{s4.id}").status_code == 404  # another section's student
    s1 = User.get(User.student_no == "2024001")
    assert client.get(f"{page_path}/student/{s1.id}").status_code == 200


def test_two_phones_making_the_same_section_at_once_get_one(app, say, klass):  # noqa: F811
    replies = run_at_once(app, [("o_t", "分组 三班"), ("o_t", "分组 三班"), ("o_t", "分组 三班")])
    assert Section.select().where(Section.name == "三班").count() == 1
    codes = {code_of(r) for r in replies}
    assert len(codes) == 1 and sum("已为「概率论」建立分组「三班」" in r for r in replies) == 1


def test_next_term_copies_the_sections_with_new_codes_and_the_assistants_limits(say, course):
    reply = say("o_t", "复制课堂 1 概率论（下学期）")
    assert "2 个分组" in reply
    new = Classroom.get(Classroom.name == "概率论（下学期）")
    copied = {s.name: s for s in Section.select().where(Section.classroom == new)}
    assert set(copied) == {"一班", "二班"} and copied["一班"].code != course["一班"]
    assert SectionSeat.select().where(SectionSeat.classroom == new).count() == 0  # nobody in them yet
    limits = {s.user.name: s.section_id for s in ClassStaff.select(ClassStaff, User).join(User)
              .where(ClassStaff.classroom == new)}
    assert limits == {"王五": copied["一班"].id, "赵六": copied["二班"].id}


def test_deleting_ones_account_removes_ones_seats(say, course):
    s1, s4 = User.get(User.student_no == "2024001"), User.get(User.student_no == "2024004")
    say("o_s1", "注销")
    say("o_s1", "确认注销")
    say("o_s4", "注销")
    say("o_s4", "确认注销")
    assert not SectionSeat.select().where(SectionSeat.student_no == "2024001").exists()  # the staff's seat of the number
    assert not SectionSeat.select().where(SectionSeat.user.in_([s1.id, s4.id])).exists()  # their own seats
    assert SectionSeat.select().where(SectionSeat.student_no == "2024002").exists()  # nobody else's


def test_joining_by_a_sections_code_end_to_end(app, course):
    wx = simulator_for(app)
    reply = wx.send_text("o_e2e", f"加入 {course['二班']}")
    assert "已加入「概率论」" in reply and "你在分组「二班」" in reply
    user = User.get(User.openid == "o_e2e")
    assert SectionSeat.get(SectionSeat.user == user).section.name == "二班"


def test_a_new_class_code_is_never_a_section_code(say, klass, monkeypatch):  # noqa: F811
    """加入 <码> takes a class's code before a section's: a class made with a section's code would steal its joins."""
    code = code_of(say("o_t", "分组 一班"))
    draws = iter([int(code) - 100000, 0])  # the first draw is the section's code, the second 100000
    monkeypatch.setattr("handlers.teacher.secrets.randbelow", lambda _n: next(draws))
    assert "线性代数" in say("o_t", "创建课堂 线性代数")
    assert Classroom.get(Classroom.name == "线性代数").code == "100000"


def test_a_roll_call_report_reaches_a_section_assistant_only_about_their_section(say, course, clock):
    """A report naming 学生6 (in no section) goes to the owner, not to 王五 (一班); one naming 学生1 reaches 王五."""
    say("o_t", "助教通知 开")
    say("o_t", "上课")
    say("o_t", "开启签到 5")
    say("o_s6", "签到")
    say("o_t", "点名")
    clock.now += timedelta(minutes=3)
    close_roll_calls(clock())

    def reports(openid):
        return Outbox.select().join(User).where((Outbox.kind == "roll_call_result") & (User.openid == openid)).count()
    assert reports("o_t") == 1 and reports("o_ta1") == 0 and reports("o_ta2") == 0
    say("o_s1", "签到")
    say("o_t", "点名")
    clock.now += timedelta(minutes=3)
    close_roll_calls(clock())
    assert reports("o_t") == 2 and reports("o_ta1") == 1 and reports("o_ta2") == 0


def test_two_makes_racing_inside_their_transactions_leave_one_section(app, say, klass, clock):  # noqa: F811
    """The unique (class, name) index itself makes two concurrent 分组 一班 one section: two messages of one user
    are serialised by the touch, so this calls the maker from two transactions at once."""
    owner, classroom = User.get(User.openid == "o_t"), Classroom.get()

    def make():
        with transaction():  # SQLite: one after the other (the write lock); PostgreSQL: both at once
            return sections._section(SimpleNamespace(user=owner, now=clock()), classroom, "一班")[0].code

    made = at_once(make, make)
    assert Section.select().count() == 1 and len(made) == 2 and made[0] == made[1] == Section.get().code, made


def test_my_classes_shows_a_students_section(say, course):
    """我的课堂 names the student's section: their own join, or the staff's placement of their number."""
    assert "（分组：二班）" in say("o_s4", "我的课堂")
    assert "（分组：一班）" in say("o_s1", "我的课堂")
    assert "分组" not in say("o_s6", "我的课堂")
    say("o_t", "分组 二班 2024006")
    assert "（分组：二班）" in say("o_s6", "我的课堂")


def test_the_weekly_digest_and_at_risk_give_a_limited_assistant_its_sections_students_only(say, course, clock, app):
    """2024002 (一班) and 2024004 (二班) miss two lessons: the owner's digest names both, each section's assistant
    only their own student (no other section's name reaches them), and so does their 预警."""
    digests = digests_after_two_weeks(say, clock, app, (1, 3, 5, 6))
    assert "2024002" in digests["o_t"] and "2024004" in digests["o_t"]
    assert "2024002" in digests["o_ta1"] and "2024004" not in digests["o_ta1"]
    assert "2024004" in digests["o_ta2"] and "2024002" not in digests["o_ta2"]
    now = say("o_ta1", "预警")
    assert "2024002" in now and "2024004" not in now


def test_a_section_is_renamed_keeping_its_code_students_and_assistants(say, course):
    """A mistyped name is not forever: 分组改名 keeps the code, the seats and the assistant's limit."""
    reply = say("o_t", "分组改名 一班 甲班")
    assert "「概率论」的分组「一班」已改名为「甲班」" in reply and course["一班"] in reply
    listing = say("o_t", "分组")
    assert "1. 甲班 · 加入码 " + course["一班"] in listing and "3 人 · 助教：王五" in listing and "一班" not in listing
    assert placed("甲班") >= {"2024001", "2024002", "2024003"}
    assert "你在分组「甲班」" in say("o_new", f"加入 {course['一班']}")  # the code still seats a newcomer there
    graded = say("o_ta1", "成绩")  # the assistant still sees their section (o_new in it now), under its new name
    assert "4 名学生" in graded and "（分组：甲班）" in graded
    assert "已经有叫「二班」的分组" in say("o_t", "分组改名 甲班 二班")  # names stay unique in a class
    assert "不能全是数字" in say("o_t", "分组改名 甲班 2024")
    assert "没有叫「丙班」的分组" in say("o_t", "分组改名 丙班 丁班")
    assert "「分组改名」只有「概率论」的创建者可以使用" in say("o_ta1", "分组改名 甲班 乙班")
    assert Section.select().where(Section.name == "甲班").count() == 1
    assert "Section “甲班” of “概率论” is now “A”" in say("o_t", "rename section 甲班 A")


def test_a_section_with_a_limited_assistant_is_not_deleted_and_one_without_is(say, course):
    """删除分组 refuses while an assistant is limited to the section (deleting it would take them off the team,
    and widening them is the owner's call), and changes nothing; once they are not, the section and its seats
    go, its students stay in the class in no section, and its code joins no section any more."""
    refused = say("o_t", "删除分组 一班")
    assert "还有只负责它的助教：王五" in refused and "没有删除" in refused
    assert Section.select().where(Section.name == "一班").exists() and ClassStaff.select().count() == 2
    assert "2024001" in placed("一班")
    say("o_t", "助教分组 1 全部")
    deleted = say("o_t", "删除分组 一班")
    assert "已删除「概率论」的分组「一班」：它的 3 名学生仍在课堂里" in deleted and course["一班"] in deleted
    assert not Section.select().where(Section.name == "一班").exists()
    assert not SectionSeat.select().where(SectionSeat.student_no == "2024001").exists()
    assert ClassStaff.select().count() == 2  # both assistants still on the team
    assert "未分组 4 人" in say("o_t", "分组")
    assert "已加入" not in say("o_new", f"加入 {course['一班']}")  # the code is gone with it
    assert "没有叫「一班」的分组" in say("o_t", "签到情况 一班")
