"""Sections (issue 25.2, secA): 分组 lists, makes and fills sections; students join one by its own code; an
assistant can be limited to one (助教分组); the owner alone changes them."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from types import SimpleNamespace

from bot.database import transaction
from handlers import sections
from handlers.attendance import close_roll_calls
from handlers.requests import push_requests
from models import AbsenceRequest, Classroom, ClassStaff, Membership, Outbox, Response, Section, SectionSeat, User, db
from tests.conftest import simulator_for
from tests.test_identity import run_at_once
from tests.test_lesson import klass  # noqa: F401  (fixture)
from tests.test_team import ta  # noqa: F401  (fixture)


def make(say, name: str) -> str:
    reply = say("o_t", f"分组 {name}")
    return re.search(r"分组码 (\d{6})", reply).group(1)


def section_of(openid: str) -> str | None:
    user = User.get(User.openid == openid)
    cls = Membership.get(Membership.user == user).classroom_id
    placed = sections.placement(cls).get(user.id)
    return Section.get_by_id(placed).name if placed else None


def test_the_owner_makes_a_section_and_students_join_it_by_its_code(say, klass, clock):  # noqa: F811
    assert "还没有分组" in say("o_t", "分组")
    reply = say("o_t", "分组 一班")
    code = re.search(r"分组码 (\d{6})", reply).group(1)
    assert f"学生发送「加入 {code}」" in reply and code != klass
    assert "分组码 " + code in say("o_t", "分组 一班") and Section.select().count() == 1  # shown, not made again
    say("o_new", "帮助")
    joined = say("o_new", f"加入 {code}")
    assert "已加入「概率论」" in joined and "你在分组「一班」" in joined, joined
    assert section_of("o_new") == "一班"
    assert "1. 一班：分组码 " + code + "，1 名学生" in say("o_t", "分组")
    code2 = make(say, "二班")
    assert "你已经在「概率论」里了" in (moved := say("o_new", f"加入 {code2}")) and "分组「二班」" in moved
    assert section_of("o_new") == "二班"  # a member moves their own seat


def test_bad_section_names_get_the_usage_line_and_change_nothing(say, klass):  # noqa: F811
    for bad in ("分组 123", "分组 全部", "分组 all", "分组 一二三四五六七八九十一二三四五六七"):
        assert "格式不对" in say("o_t", bad), bad
    assert "格式不对" in say("o_t", "分组 一班 2024001 学号?")
    assert Section.select().count() == 0 and SectionSeat.select().count() == 0


def test_numbers_the_staff_place_win_over_a_students_own_join(say, klass):  # noqa: F811
    code1, code2 = make(say, "一班"), make(say, "二班")
    reply = say("o_t", "分组 一班 2024001 2024002 2024099")
    assert "已把 3 个学号分到「概率论」的分组「一班」，其中 1 个还没加入课堂" in reply, reply
    assert section_of("o_s1") == "一班"
    stays = say("o_s1", f"加入 {code2}")
    assert "仍在那个分组" in stays and "分组「一班」" in stays, stays
    assert section_of("o_s1") == "一班"  # the staff's word wins
    say("o_t", "分组 二班 2024001")  # moves the number
    assert section_of("o_s1") == "二班" and SectionSeat.select().where(SectionSeat.student_no == "2024001").count() == 1
    listing = say("o_t", "分组").split("\n")
    assert "1 名学生" in listing[1] and "1 名学生" in listing[2], listing  # 一班: 2024002; 二班: o_s1 (once)
    assert code1 != code2


def test_owner_only_commands_are_refused_to_an_assistant(say, klass, ta):  # noqa: F811
    make(say, "一班")
    assert "1. 一班" in say(ta, "分组")  # reading is for the team
    assert "只有「概率论」的创建者可以使用" in say(ta, "分组 二班")
    assert "只有「概率论」的创建者可以使用" in say(ta, "分组 一班 2024001")
    assert "只有「概率论」的创建者可以使用" in say(ta, "助教分组 1 一班")
    assert Section.select().count() == 1 and SectionSeat.select().count() == 0
    assert ClassStaff.get().section_id is None


def test_the_owner_limits_an_assistant_to_a_section_and_the_team_list_shows_it(say, klass, ta):  # noqa: F811
    make(say, "一班")
    assert "现在只管「概率论」的分组「一班」" in say("o_t", "助教分组 1 一班")
    assert ClassStaff.get().section_id == Section.get().id
    assert "分组：一班" in say("o_t", "助教") and "助教：王五" in say("o_t", "分组")
    assert "没有叫「三班」的分组" in say("o_t", "助教分组 1 三班")
    assert ClassStaff.get().section_id == Section.get().id
    assert "全部学生" in say("o_t", "助教分组 1 全部") and ClassStaff.get().section_id is None


def test_two_phones_making_the_same_section_at_once_get_one(app, say, klass):  # noqa: F811
    say("o_t2", "帮助")
    replies = run_at_once(app, [("o_t", "分组 一班"), ("o_t", "分组 一班")])
    db.connect(reuse_if_open=True)
    assert Section.select().count() == 1, replies
    code = Section.get().code
    assert all(code in r for r in replies), replies


def test_class_codes_avoid_section_codes(say, klass, monkeypatch):  # noqa: F811
    code = make(say, "一班")
    taken = iter([int(code) - 100000, int(code) - 100000, 0])  # the first draw hits the section's code
    monkeypatch.setattr("handlers.teacher.secrets.randbelow", lambda _n: next(taken))
    assert "创建" in say("o_t", "创建课堂 线性代数")
    assert Classroom.get(Classroom.name == "线性代数").code == "100000"


def test_joining_by_a_section_code_end_to_end(app, klass):  # noqa: F811
    wx = simulator_for(app)
    code = re.search(r"分组码 (\d{6})", wx.send_text("o_t", "分组 一班")).group(1)
    reply = wx.send_text("o_e2e", f"加入 {code}")
    assert "已加入「概率论」" in reply and "你在分组「一班」" in reply, reply
    assert section_of("o_e2e") == "一班"


def limited(say, ta) -> None:  # noqa: F811
    """o_ta limited to 一班 = 2024001 and 2024002 (by number)."""
    make(say, "一班")
    say("o_t", "分组 一班 2024001 2024002")
    say("o_t", "助教分组 1 一班")


def test_a_limited_assistant_marks_only_their_section(say, klass, ta, clock):  # noqa: F811
    limited(say, ta)
    say("o_t", "上课")
    say("o_t", "开启签到 5")
    for s in ("o_s1", "o_s3"):
        say(s, "签到")
    refused = say(ta, "改签 2024003 缺勤")
    assert "2024003 不在你的分组里" in refused, refused
    assert "已签到" not in refused and Response.select().where(Response.marked_by.is_null(False)).count() == 0
    assert "改为「迟到」" in say(ta, "改签 2024002 迟到")
    roster = say(ta, "名单")
    assert "2024001" in roster and "2024002" in roster and "2024003" not in roster, roster
    assert "2024003" in say("o_t", "名单")
    called = say(ta, "点名 5")  # came: o_s1, o_s2 (迟到), o_s3; in the section: o_s1, o_s2
    assert "学生1" in called and "学生2" in called and "学生3" not in called, called
    assert "改为「缺勤」" in say("o_t", "改签 2024003 缺勤")  # the owner: the whole class
    say("o_t", "助教分组 1 全部")
    assert "2024003" in say(ta, "名单")


def test_a_limited_assistant_sees_and_decides_only_their_sections_requests(say, klass, ta, clock):  # noqa: F811
    limited(say, ta)
    say("o_t", "上课")
    say("o_t", "开启签到 1")
    clock.now += timedelta(minutes=2)
    say("o_t", "下课")
    say("o_s1", "补签 手机没电了")
    say("o_s3", "补签 手机没电了")
    mine, other = (AbsenceRequest.select().join(User, on=(AbsenceRequest.student == User.id))
                   .where(User.openid == o).get() for o in ("o_s1", "o_s3"))
    listing = say(ta, "补签申请")
    assert "2024001" in listing and "2024003" not in listing, listing
    assert "没有" in say(ta, f"驳回 {other.id}") and AbsenceRequest.get_by_id(other.id).state == "waiting"
    assert "没有" in say(ta, f"批准 {other.id}") and AbsenceRequest.get_by_id(other.id).state == "waiting"
    say(ta, "补签申请")
    say("o_t", "补签申请")  # the owner's listing shows both: 批准 全部 would take them
    assert "1" in say(ta, "批准 全部")
    assert AbsenceRequest.get_by_id(mine.id).state == "approved"
    assert AbsenceRequest.get_by_id(other.id).state == "waiting"
    assert "2024003" in say("o_t", "补签申请")


def test_copy_keeps_the_sections_with_new_codes_and_the_assistants_limits_but_no_seats(say, klass, ta):  # noqa: F811
    limited(say, ta)
    make(say, "二班")
    old = {s.name: s for s in Section.select()}
    reply = say("o_t", "复制课堂 1 概率论2027")
    assert "2 个分组" in reply, reply
    new = Classroom.get(Classroom.name == "概率论2027")
    copies = {s.name: s for s in Section.select().where(Section.classroom == new.id)}
    assert set(copies) == {"一班", "二班"} and not {s.code for s in copies.values()} & {s.code for s in old.values()}
    assert SectionSeat.select().where(SectionSeat.classroom == new.id).count() == 0
    assert ClassStaff.get(ClassStaff.classroom == new.id).section_id == copies["一班"].id


def test_my_classes_shows_a_students_section(say, klass):  # noqa: F811
    code = make(say, "一班")
    make(say, "二班")
    assert "分组" not in say("o_s1", "我的课堂")
    say("o_s1", f"加入 {code}")
    assert "（分组：一班）" in say("o_s1", "我的课堂")
    say("o_t", "分组 二班 2024001")  # the staff's word wins
    assert "（分组：二班）" in say("o_s1", "我的课堂")


def pushed_to(openid: str, kind: str) -> list[str]:
    return [o.text for o in Outbox.select().join(User).where((Outbox.kind == kind) & (User.openid == openid))]


def test_team_pushes_reach_a_limited_assistant_only_about_their_section(say, klass, ta, clock, app):  # noqa: F811
    limited(say, ta)  # 一班: 2024001, 2024002
    say("o_t", "助教通知 开")
    say("o_t", "上课")
    say("o_t", "开启签到 5")
    say("o_s3", "签到")
    say("o_t", "点名")  # only 学生3 came: outside the assistant's section
    clock.now += timedelta(minutes=3)
    close_roll_calls(clock())
    assert pushed_to("o_t", "roll_call_result") and not pushed_to(ta, "roll_call_result")
    say("o_s1", "签到")
    say("o_t", "点名")  # 学生1: theirs
    clock.now += timedelta(minutes=3)
    close_roll_calls(clock())
    assert len(pushed_to(ta, "roll_call_result")) == 1
    say("o_t", "下课")
    clock.now += timedelta(minutes=10)
    say("o_s4", "补签 手机没电了")
    say("o_s2", "补签 手机没电了")
    assert push_requests(clock(), app.extensions["ketang"].settings.school.tz) == 2
    [mine] = pushed_to(ta, "absence_requests")
    assert "2024002" in mine and "2024004" not in mine, mine
    assert "2024004" in pushed_to("o_t", "absence_requests")[0]


def test_two_makes_racing_inside_their_transactions_leave_one_section(app, say, klass, clock):  # noqa: F811
    """The unique (class, name) index is what makes two concurrent 分组 一班 one section (not the touch's lock)."""
    owner, classroom = User.get(User.openid == "o_t"), Classroom.get()
    start, made = threading.Barrier(2), []

    def run():
        db.connect(reuse_if_open=True)
        try:
            start.wait(timeout=30)
            with transaction():  # SQLite: one after the other (the write lock); PostgreSQL: both at once
                made.append(sections.make(SimpleNamespace(user=owner, now=clock()), classroom, "一班").code)
        finally:
            db.close()

    db.close()
    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.connect(reuse_if_open=True)
    assert Section.select().count() == 1 and len(made) == 2 and made[0] == made[1] == Section.get().code, made


def test_a_section_code_of_an_archived_class_is_refused_like_its_class_code(say, klass):  # noqa: F811
    code1, code2 = make(say, "一班"), make(say, "二班")
    say("o_s1", f"加入 {code1}")
    Classroom.update(archived_at=Classroom.created_at).execute()
    say("o_new", "帮助")
    assert "已结课归档" in say("o_new", f"加入 {code2}")
    assert not Membership.select().join(User).where(User.openid == "o_new").exists()
    say("o_s1", f"加入 {code2}")
    assert section_of("o_s1") == "一班"  # no seat moves in an archived class
