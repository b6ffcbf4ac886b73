"""What students and teachers read must be true: no early answers, history that survives leaving,
marks on the right student, lists no one can forge, and reads that never hold the writer lock."""

from __future__ import annotations

import fcntl
import re
import sqlite3

import pytest

from bot.database import create_schema, is_sqlite
from bot.dispatch import Inbound
from handlers import scope
from handlers.plugin import CLASSROOM
from models import Membership, Outbox, User, db
from tests.test_lesson import export_rows, klass  # noqa: F401  (fixture)


def record_of(say, openid: str) -> str:
    return re.search(r"「概率论」.*", say(openid, "我的记录")).group(0)


def test_records_do_not_depend_on_correctness_while_the_quiz_is_open(say, klass, clock):  # noqa: F811
    say("o_t", "上课")
    say("o_t", "练习 C 10 1+1=? A.1 B.3 C.2 D.4")
    say("o_s1", "答 A")
    wrong = record_of(say, "o_s1")
    say("o_s1", "答 C")
    right = record_of(say, "o_s1")
    assert wrong == right  # nothing a student reads tells them which answer is right
    clock.advance(minutes=10, seconds=1)  # past the deadline, even before the scheduler closes it
    assert "练习答对 1/1" in record_of(say, "o_s1")
    assert "练习答对 0/1" in record_of(say, "o_s2")  # did not answer


def test_summaries_after_the_lesson_count_the_quizzes_it_closed(say, klass, clock):  # noqa: F811
    say("o_t", "上课")
    say("o_t", "练习 C 10 1+1=? A.1 B.3 C.2 D.4")
    say("o_s1", "答 C")
    say("o_t", "下课")  # closes the quiz, then sends summaries
    summary = Outbox.get((Outbox.kind == "lesson_summary") & (Outbox.user == User.get(User.openid == "o_s1"))).text
    assert "答对 1/1" in summary
    assert "练习答对 1/1" in record_of(say, "o_s1")


def absent_once(say, clock):
    say("o_t", "上课")
    say("o_t", "开启签到 1")
    for i in range(1, 6):
        say(f"o_s{i}", "签到")
    clock.advance(minutes=1, seconds=1)
    say("o_t", "下课")
    clock.advance(minutes=5)


def test_leaving_and_rejoining_keeps_absences(app, say, klass, clock):  # noqa: F811
    absent_once(say, clock)
    assert "缺勤 1" in record_of(say, "o_s6")
    assert "已退出" in say("o_s6", "退出课堂 1")
    assert "已加入" in say("o_s6", f"加入 {klass}")
    assert "缺勤 1" in record_of(say, "o_s6")
    assert "应到 6：已到 5，迟到 0，请假 0，未到 1" in say("o_t", "签到情况")
    rows, _ = export_rows(app.test_client(), say("o_t", "导出"))
    by_no = {row[1]: row for row in rows[1:]}  # column 0 is the 学生 label
    assert by_no["2024006"][4] == "缺勤" and by_no["2024006"][-2] == "1"


def test_a_student_who_left_stays_absent_for_lessons_held_while_a_member(app, say, klass, clock):  # noqa: F811
    absent_once(say, clock)
    say("o_s6", "退出课堂 1")
    assert "应到 6：已到 5，迟到 0，请假 0，未到 1" in say("o_t", "签到情况")
    rows, _ = export_rows(app.test_client(), say("o_t", "导出"))
    assert {row[1]: row for row in rows[1:]}["2024006"][4] == "缺勤"  # the export agrees with 签到情况
    # A lesson after a final leave does not count them; rejoining makes the leave not final, so the lesson
    # held in between counts (issue 18.3: test_a_student_cannot_step_out_of_an_absence).
    clock.advance(minutes=1)
    say("o_t", "上课")
    say("o_t", "开启签到 1")
    clock.advance(minutes=2)
    say("o_t", "下课")
    assert "应到 5：" in say("o_t", "签到情况")
    say("o_s6", f"加入 {klass}")
    assert "缺勤 2" in record_of(say, "o_s6")


def test_mark_by_number_prefers_the_verified_account_and_says_so(say, klass, clock):  # noqa: F811
    # An impostor joins first and types o_s1's number (unverified).
    say("o_x", f"加入 {klass}")
    say("o_x", "2024001")
    say("o_x", "冒名")
    assert User.get(User.openid == "o_x").student_no == "2024001"
    say("o_t", "上课")
    say("o_t", "开启签到 5")
    reply = say("o_t", "改签 2024001 请假")
    assert "学生1" in reply and "冒名" in reply and "已认证" in reply  # ambiguous: says whom it chose
    assert "老师已将你" in say("o_s1", "签到")
    assert "签到成功" in say("o_x", "签到")


def test_mark_by_an_ambiguous_unverified_number_changes_no_one(say, klass, clock):  # noqa: F811
    for openid, name in (("o_x", "甲"), ("o_y", "乙")):
        say(openid, f"加入 {klass}")
        say(openid, "2024099")
        say(openid, name)
    say("o_t", "上课")
    say("o_t", "开启签到 5")
    reply = say("o_t", "改签 2024099 请假")
    assert "甲" in reply and "乙" in reply and "改为" not in reply
    assert "签到成功" in say("o_x", "签到") and "签到成功" in say("o_y", "签到")


def test_user_text_in_lists_is_one_line_and_cannot_forge_entries(say, klass, clock):  # noqa: F811
    say("o_t", "上课")
    say("o_t", "讨论 5 你同意吗")
    say("o_s1", "发言 同意\n学生2：我也同意\r\n学生3：+1")
    posts = say("o_t", "结果")
    assert not re.search(r"^(#\d+ )?学生[23]：", posts, re.M)
    assert re.search(r"^#1 学生1：同意 学生2：我也同意 学生3：\+1$", posts, re.M)  # numbered as on the screen
    say("o_s2", "不懂 这步\n【08:00】老师讲错了\u2028【08:01】x")
    lost = say("o_t", "不懂情况")
    assert len(re.findall(r"【\d\d:\d\d】", lost)) == 1  # only the real entry's time marker
    assert len(lost.split("\n")) == 2


def writer_is_free(database_path: str) -> bool:
    """Whether another process could take the writer lock right now (flock and BEGIN IMMEDIATE)."""
    fd = open(database_path + "-writer.lock", "a+")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
    except BlockingIOError:
        return False
    finally:
        fd.close()
    other = sqlite3.connect(database_path, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


def test_records_are_read_without_holding_the_writer_lock(say, klass, clock, monkeypatch):  # noqa: F811
    if not is_sqlite():
        pytest.skip("the writer lock is SQLite's")

    absent_once(say, clock)
    path = db.obj.database
    seen = []
    original = scope.joined_classes

    def spying(user):  # called while 我的记录 computes its reply
        seen.append(writer_is_free(path))
        return original(user)

    monkeypatch.setattr(scope, "joined_classes", spying)
    assert "缺勤 1" in say("o_s6", "我的记录")
    assert seen and all(seen)
    assert "缺勤 1" in say("o_s6", "我的记录")  # a second message: its own reply, not the first one's
    assert writer_is_free(path)


def test_init_db_upgrades_a_database_from_before_membership_history(app, say, klass, clock):  # noqa: F811
    """An older database: one membership row per class (unique), deleted on leaving; quiz answers ungraded."""
    say("o_t", "上课")
    say("o_t", "练习 C 1 1+1=? A.1 B.3 C.2 D.4")
    say("o_s1", "答 C")
    clock.advance(minutes=2)
    say("o_t", "下课")
    for sql in ("DROP INDEX membership_user_id_classroom_id_active", "DROP INDEX membership_classroom_id_left_at",
                "ALTER TABLE membership DROP COLUMN active",
                "ALTER TABLE membership DROP COLUMN left_at", 'ALTER TABLE response DROP COLUMN "right"',
                "CREATE UNIQUE INDEX membership_user_id_classroom_id ON membership (user_id, classroom_id)",
                "CREATE INDEX response_activity_id ON response (activity_id)",  # before the (activity, user) keys served
                "CREATE INDEX post_activity_id ON post (activity_id)"):
        db.execute_sql(sql)
    create_schema(CLASSROOM.upgrades)  # what init-db runs
    create_schema(CLASSROOM.upgrades)  # twice is safe
    indexes = {index.name for table in ("response", "post") for index in db.get_indexes(table)}
    assert {"response_activity_id_user_id", "post_activity_id_user_id"} <= indexes
    assert not indexes & {"response_activity_id", "post_activity_id"}  # the planner cannot pick them (test_gradebook)
    assert "练习答对 1/1" in record_of(say, "o_s1")  # old answers graded by init-db
    assert "已退出" in say("o_s1", "退出课堂 1")
    assert "已加入" in say("o_s1", f"加入 {klass}")  # the old one-row-per-class index is gone
    assert "你已经在「概率论」里了" in say("o_s1", f"加入 {klass}")  # one current membership, still unique

    assert Membership.select().where((Membership.user == User.get(User.openid == "o_s1").id)
                                     & (Membership.active == 1)).count() == 1


def test_a_read_that_fails_is_answered_busy_and_its_retry_computes_it_again(app, say, klass, clock, monkeypatch):  # noqa: F811

    original, calls = scope.joined_classes, []

    def flaky(user):
        calls.append(user.id)
        if len(calls) == 1:
            raise RuntimeError("disk hiccup")
        return original(user)

    monkeypatch.setattr(scope, "joined_classes", flaky)
    message = Inbound(openid="o_s1", key="msg:read-retry", kind="text", text="我的记录")
    dispatcher = app.extensions["ketang"].dispatcher
    assert "系统繁忙" in dispatcher.handle(message)
    retried = dispatcher.handle(message)  # WeChat's retry of the same MsgId
    assert "「概率论」已到" in retried and dispatcher.handle(message) == retried  # and then it is stored


def test_roll_call_never_picks_a_student_who_left(say, klass, clock):  # noqa: F811
    say("o_t", "上课")
    say("o_t", "开启签到 5")
    say("o_s1", "签到")
    say("o_s1", "退出课堂 1")
    assert "应到 6" in say("o_t", "签到情况")  # still counted for this check-in
    assert "都被点过名了" in say("o_t", "点名 3")
