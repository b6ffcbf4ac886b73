"""handlers/terms.py: next term (复制课堂) and the end of a class (归档, 取消归档), and init-db bringing the bank's and
the archive's columns to an older database."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from bot.database import create_schema, is_sqlite
from handlers.plugin import CLASSROOM
from handlers.scheduled_announcements import publish_due_announcements
from handlers.warnings import due_classes, week_of
from models import (
    Activity,
    Announcement,
    BankQuestion,
    Classroom,
    ClassRules,
    ClassStaff,
    GradingRule,
    Lesson,
    Membership,
    Response,
    ScheduledAnnouncement,
    db,
)


def join(say, code, *openids):
    for openid in openids:
        assert "已加入" in say(openid, f"加入 {code}")


def a_term(say, openid, code):
    """A class with settings, students, a lesson with a check-in and a quiz, and two announcements still to post."""
    join(say, code, "o_a", "o_b")
    say(openid, "成绩规则 出勤 50 练习 30 参与 20")
    say(openid, "成绩规则 迟到 60")
    say(openid, "预警设置 连续缺勤 3 出勤率 60")
    say(openid, "补签 关")
    say(openid, "上课")
    say(openid, "开启签到")
    say("o_a", "签到")
    say(openid, "结束")
    say(openid, "练习 B 3 1+1=? A.1 B.2")
    say("o_a", "答 B")
    say(openid, "下课")
    say(openid, "定时公告 2026-09-08 09:00 明天带计算器")
    say(openid, "定时公告 2026-09-09 09:00 期中考试")


def test_copy_keeps_the_rules_the_scheduled_drafts_and_the_bank_but_no_students_or_history(say, teacher, clock):
    openid, code = teacher
    a_term(say, openid, code)
    reply = say(openid, "复制课堂 1 高等数学（2027春）")
    new = Classroom.get(Classroom.name == "高等数学（2027春）")
    old = Classroom.get(Classroom.name == "高等数学")
    assert new.code != old.code and f"课堂码：{new.code}" in reply
    assert "沿用了：成绩规则、预警和补签设置、2 条未发布的定时公告（存为草稿" in reply
    rule = GradingRule.select().where(GradingRule.classroom == new).get()  # one row: the rule as it stands
    assert (rule.attendance, rule.quizzes, rule.participation, rule.late) == (50, 30, 20, 60)
    rules = ClassRules.get(ClassRules.classroom == new)
    assert (rules.absences, rules.rate, rules.requests_on) == (3, 60, False)
    drafts = list(ScheduledAnnouncement.select().where(ScheduledAnnouncement.classroom == new))
    assert sorted(d.text for d in drafts) == ["明天带计算器", "期中考试"] and all(d.draft for d in drafts)
    # No students, no lessons, no records.
    assert not Membership.select().where(Membership.classroom == new).exists()
    assert not Lesson.select().where(Lesson.classroom == new).exists()
    # Two running classes: the teacher chooses (as after 创建课堂).
    assert "发送「进入 <序号>」选择课堂" in reply
    say(openid, "进入 2")
    assert "「高等数学（2027春）」平时成绩规则：出勤 50 · 练习 30 · 参与 20；迟到按出勤的 60%" in say(openid, "成绩规则")
    listing = say(openid, "定时列表")
    assert "2026-09-08 09:00 〔草稿，不会发布〕 明天带计算器" in listing
    # The drafts are never posted; the old class's announcements are, to the old class.
    clock.advance(days=3)
    assert publish_due_announcements(clock()) == 2
    assert {a.classroom_id for a in Announcement.select()} == {old.id}
    assert ScheduledAnnouncement.select().where((ScheduledAnnouncement.classroom == new)
                                                & ScheduledAnnouncement.published_at.is_null()).count() == 2
    # The bank is the teacher's: last term's question publishes in the new class.
    say(openid, "上课")
    assert "「高等数学（2027春）」单选题已发布" in say(openid, "练习 题库 1")
    assert Activity.select().join(Lesson).where(Lesson.classroom == new).get().bank_id == BankQuestion.get().id


def test_copy_of_a_class_with_the_defaults_says_so_and_english_works(say, teacher):
    openid, _code = teacher
    reply = say(openid, "copy class 1 Calculus 2027")
    assert "Kept: the grading rule (the default, as the old class had), the warning and make-up settings (the defaults)" in reply
    assert not GradingRule.select().exists() and not ClassRules.select().exists()
    assert "No class with number or code 9" in say(openid, "copy class 9 Other")


def assistant(say, openid: str = "o_ta") -> str:
    """o_ta, a student account, assisting the teacher's current class (handlers/team.py)."""
    code = re.search(r"助教邀请码：(\S+?)（", say("o_teacher", "添加助教")).group(1)
    assert "的助教" in say(openid, f"助教 {code}")
    return openid


def test_copy_keeps_the_team_and_only_the_owner_copies_or_archives(say, teacher):
    ta = assistant(say)
    say("o_teacher", "助教权限 1 导出 开")
    assert "只有「高等数学」的创建者可以使用" in say(ta, "复制课堂 1 偷偷复制")
    assert "只有「高等数学」的创建者可以使用" in say(ta, "归档 1")
    assert Classroom.select().count() == 1 and Classroom.get().archived_at is None
    reply = say("o_teacher", "复制课堂 1 新学期")
    assert "1 名助教" in reply
    new = Classroom.get(Classroom.name == "新学期")
    staff = ClassStaff.get(ClassStaff.classroom == new)
    assert staff.user.openid == ta and staff.can_export


def test_an_assistants_quizzes_go_to_the_owners_bank(say, teacher):
    """The bank is the class owner's: what an assistant publishes in the class is kept there, and 练习 题库 <n> in
    the class publishes the owner's #n."""
    openid, code = teacher
    ta = assistant(say)
    join(say, code, "o_a")
    say(ta, "上课")
    assert "已存入题库 #1" in say(ta, "练习 B 3 1+1=? A.1 B.2")
    assert BankQuestion.get().owner.openid == openid
    say(ta, "结束")
    assert "单选题已发布" in say(ta, "练习 题库 1 2")
    assert "发布过 2 次" in say(openid, "题库 1")


def test_an_archived_class_takes_no_joins_or_lessons_but_keeps_its_records(say, teacher, client, clock):
    openid, code = teacher
    a_term(say, openid, code)
    say(openid, "上课")
    assert "正在上课：先发送「下课」，再归档" in say(openid, "归档 1")
    say(openid, "下课")
    reply = say(openid, "归档 1")
    assert "已归档「高等数学」" in reply and "2 名学生" in reply and "取消归档 1" in reply
    assert "2 条未发布定时公告已转为草稿" in reply
    assert "在 2026-09-07 已经归档了" in say(openid, "归档 1")
    # No joins (a QR scan neither), no lessons, no announcements.
    assert "已结课归档，不再接受加入" in say("o_c", f"加入 {code}")
    assert "已结课归档" in say.event("o_d", "scan", f"join_{code}")
    assert Membership.select().count() == 2  # o_a and o_b only
    assert "已归档（只读）" in say(openid, "上课") and "取消归档 1" in say(openid, "上课")
    assert "已归档（只读）" in say(openid, "发布公告 假公告")
    assert "已归档（只读）" in say(openid, "定时公告 2026-09-10 09:00 还有吗")
    assert Lesson.select().count() == 2 and Announcement.select().count() == 0  # a_term's and the one ended above
    clock.advance(days=3)
    assert publish_due_announcements(clock()) == 0  # its pending ones became drafts
    # Gone from the students' 我的课堂 unless they ask for everything; their commands no longer reach it.
    mine = say("o_a", "我的课堂")
    assert "高等数学" not in mine and "另有 1 个已归档的课堂" in mine and "我的课堂 全部" in mine
    assert "· 高等数学（" in say("o_a", "我的课堂 全部") and "已归档 2026-09-07" in say("o_a", "我的课堂 全部")
    assert "archived" in say("o_a", "classes all")
    assert "你还没有加入课堂" in say("o_a", "签到")
    # The teacher keeps the records, the grade book and the export.
    assert "已归档 2026-09-07" in say(openid, "我的课堂")
    assert "应到 2：已到 1" in say(openid, "签到情况")
    assert "成绩册" in say(openid, "成绩")
    reply = say(openid, "导出")
    url = re.search(r"https://ketang\.example\.edu(/export/\S+\.csv)", reply).group(1)
    rows = list(csv.reader(io.StringIO(client.get(url).get_data().decode("utf-8-sig"))))
    assert len(rows) == 3  # the header and both students
    assert Response.select().count() == 2


def test_an_archived_class_gets_no_weekly_digest(say, teacher, clock, app):
    openid, code = teacher
    join(say, code, "o_a")
    say(openid, "上课")
    say(openid, "下课")
    settings = app.extensions["ketang"].settings
    week, start = week_of(clock() + timedelta(days=7), settings.warnings.weekday, settings.warnings.hour, settings.school.tz)
    assert due_classes(week, start) == [Classroom.get().id]
    say(openid, "归档 1")
    assert due_classes(week, start) == []


def test_unarchive_lets_the_class_run_again(say, teacher):
    openid, code = teacher
    join(say, code, "o_a")
    say(openid, "归档 1")
    assert "没有序号或课堂码为 2 的课堂" in say(openid, "取消归档 2")
    reply = say(openid, "取消归档 1")
    assert "已取消归档" in reply and code in reply
    assert "没有归档" in say(openid, "取消归档 1")
    assert "已加入" in say("o_b", f"加入 {code}")
    assert "开始上课" in say(openid, "上课")
    assert "高等数学" in say("o_a", "我的课堂")


def test_next_term_in_two_commands_leaves_the_new_class_current(say, teacher):
    """复制课堂 then 归档 of the old one: the only running class is the current one, without 进入."""
    openid, code = teacher
    join(say, code, "o_a")
    say(openid, "复制课堂 1 高等数学（2027春）")
    assert "你有多个课堂" in say(openid, "上课")
    say(openid, "归档 1")
    assert "「高等数学（2027春）」开始上课" in say(openid, "上课")
    new = Classroom.get(Classroom.name == "高等数学（2027春）")
    assert "已加入「高等数学（2027春）」" in say("o_a", f"加入 {new.code}")
    assert "高等数学（2027春）" in say("o_a", "我的课堂") and "另有 1 个已归档" in say("o_a", "我的课堂")


def test_init_db_adds_the_bank_and_the_archive_to_an_older_database(app, say, teacher, clock):
    """An older database: no bank, no archive. init-db adds them, and the quizzes and surveys published before
    go into their teacher's bank in the order they were published, with their runs."""
    openid, code = teacher
    join(say, code, "o_a")
    say(openid, "上课")
    for text in ("问卷 2 1 好吗？A.好 B.不好", "练习 B 1 x? A.1 B.2", "练习 B 1 x? A.1 B.2", "练习 对 1 地球是圆的"):
        say(openid, text)
        say("o_a", "答 B" if "x?" in text else "答 对" if "地球" in text else "答 A")
        clock.advance(minutes=2)
    say(openid, "下课")
    Activity.update(bank=None).execute()
    db.execute_sql("ALTER TABLE classroom DROP COLUMN archived_at")
    db.execute_sql("ALTER TABLE scheduled_announcement DROP COLUMN draft")
    if is_sqlite():  # SQLite cannot drop a column that is a foreign key: the table goes, the column stays
        db.execute_sql("DROP TABLE bank_question")
    else:
        db.execute_sql("DROP TABLE bank_question CASCADE")
        db.execute_sql("ALTER TABLE activity DROP COLUMN bank_id")
    create_schema(CLASSROOM.upgrades)
    create_schema(CLASSROOM.upgrades)  # twice is safe
    assert "archived_at" in {c.name for c in db.get_columns("classroom")}
    assert "draft" in {c.name for c in db.get_columns("scheduled_announcement")}
    assert "bank_id" in {c.name for c in db.get_columns("activity")}
    assert [(q.number, q.kind, q.question) for q in BankQuestion.select().order_by(BankQuestion.number)] == [
        (1, "survey", "好吗？A.好 B.不好"), (2, "quiz", "x? A.1 B.2"), (3, "quiz", "地球是圆的")]
    assert "发布过 2 次" in say(openid, "题库 2") and "累计正确率 100%（2/2）" in say(openid, "题库 2")
    say(openid, "上课")
    assert "#4" in say(openid, "练习 C 2 y? A.1 B.2 C.3")
    assert "正在上课" in say(openid, "归档 1")


def test_more_names_the_new_commands_in_one_message_in_both_languages(say, teacher):
    """更多 lists every teacher command off the menu; when their summaries no longer fit one message (English,
    with the bank, next term and the team), each is still named by its example."""
    for text, names in (("更多", ("• 复制课堂 1", "• 归档 1", "• 取消归档 1", "• 练习 题库 1", "• 题库", "• 投屏", "• 词云")),
                        ("more", ("• copy class 1", "• archive 1", "• unarchive 1", "• quiz bank 1", "• bank", "• screen",
                                  "• cloud"))):
        reply = say("o_teacher", text)
        assert len(reply.encode("utf-8")) <= 2000 and not reply.endswith("…"), reply[-60:]
        for name in names:
            assert name in reply, (text, name)
