"""Early warnings: each rule on a hand-built history, a frozen clock walking through the weeks, the weekly
digest's text (0, 1 and 40 students), once per class and week, the rules a teacher changes, the nudge."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.text import MAX_REPLY_BYTES
from handlers.warnings import run_digests
from models import Classroom, Lesson, Membership, Outbox, RiskDigest, RiskMark, User
from tests.conftest import T0
from tests.test_lesson import klass  # noqa: F401  (fixture)

TUESDAY = timedelta(days=1)  # the class meets on Tuesdays at 08:00; digests go on Mondays at 08:00


def at(clock, week: int, day: timedelta = timedelta(0)):
    clock.now = T0 + timedelta(weeks=week) + day


def lesson(say, clock, came=("o_s1", "o_s3", "o_s4", "o_s5", "o_s6"), quiz=None, lost=()):
    """One lesson at the clock's time: a 5-minute check-in *came* attended, a quiz answered per *quiz*
    ({openid: answer}, the right one being A), and 不懂 from each of *lost*."""
    say("o_t", "上课")
    say("o_t", "开启签到 5")
    for openid in came:
        assert "签到成功" in say(openid, "签到"), openid
    for openid in lost:
        say(openid, "不懂")
    if quiz is not None:
        say("o_t", "练习 A 2 1+1=? A.2 B.3")
        for openid, answer in quiz.items():
            say(openid, f"答 {answer}")
        clock.advance(minutes=2, seconds=1)
    clock.advance(minutes=5, seconds=1)
    say("o_t", "下课")


def digest(app, clock) -> str | None:
    """Run the weekly job now; the digest it queued for the teacher (None when none)."""
    kt = app.extensions["ketang"]
    run_digests(clock(), kt.settings, kt.links)
    rows = list(Outbox.select().where((Outbox.kind == "risk_digest") & (Outbox.created_at == clock())))
    assert len(rows) <= 1
    return rows[0].text if rows else None


def test_consecutive_absences_skip_excused_ones_and_a_student_flagged_again_says_week_2(app, say, klass, clock):  # noqa: F811
    say("o_t", "预警设置 出勤率 0 正确率下降 0")  # only the absence rule (and 不懂)
    at(clock, 0, TUESDAY)
    lesson(say, clock)  # 09-08: o_s2 absent
    at(clock, 1)
    assert digest(app, clock) is None  # one absence: nobody at risk, no digest
    at(clock, 1, TUESDAY)
    lesson(say, clock)
    say("o_t", "改签 2024002 请假")  # 09-15: excused, neither counts nor breaks the run
    at(clock, 2)
    assert digest(app, clock) is None
    at(clock, 2, TUESDAY)
    lesson(say, clock)  # 09-22: absent again
    at(clock, 3)
    assert digest(app, clock) == ("【学情预警 · 概率论】本周 1 名学生需要关注：\n"
                                  "2024002 学生2：连续缺勤 2 次（自 09-08）\n"
                                  "随时发送「预警」查看，「预警设置」查看或修改规则。")
    at(clock, 3, TUESDAY)
    lesson(say, clock, lost=("o_s3", "o_s3", "o_s3"))  # 09-29: absent; o_s3 is lost three times
    at(clock, 4)
    text = digest(app, clock)
    assert "学生2：连续缺勤 3 次（自 09-08） · 第 2 周" in say("o_t", "预警")  # on demand, as the digest says it
    clock.advance(days=2)
    assert "学生2：连续缺勤 3 次（自 09-08） · 第 2 周" in say("o_t", "预警")
    at(clock, 4)
    lines = text.split("\n")
    assert lines[1] == "2024003 学生3：两周内「不懂」3 次（自 09-29）"  # newest problem first
    assert lines[2] == "2024002 学生2：连续缺勤 3 次（自 09-08） · 第 2 周"
    at(clock, 4, TUESDAY)
    lesson(say, clock, came=("o_s1", "o_s2", "o_s4", "o_s5", "o_s6"), lost=("o_s3", "o_s3", "o_s3"))
    at(clock, 5)
    text = digest(app, clock)
    assert "学生2：" not in text and "已好转：学生2" in text  # recovered: listed once
    assert "2024003 学生3：两周内「不懂」6 次（自 09-29） · 第 2 周" in text  # absent once: not a run
    at(clock, 6)
    assert digest(app, clock) is None  # no lesson in the past week: no digest
    assert "已好转" not in (digest(app, clock) or "")


def test_attendance_rate_waits_for_three_lessons_and_says_since_when(app, say, klass, clock):  # noqa: F811
    say("o_t", "预警设置 连续缺勤 0 正确率下降 0 不懂 0")
    at(clock, 0, TUESDAY)
    lesson(say, clock, came=("o_s1",))
    lesson(say, clock, came=("o_s1", "o_s2"))
    at(clock, 1)
    assert digest(app, clock) is None  # 2 lessons: the rate does not speak yet
    at(clock, 1, TUESDAY)
    lesson(say, clock, came=("o_s1", "o_s2"))  # o_s2 2/3 = 66 % < 70
    at(clock, 2)
    text = digest(app, clock)
    assert "2024002 学生2：出勤率 66%（自 09-15）" in text
    assert "学生3：出勤率 0%（自 09-15）" in text and "学生1" not in text


def test_accuracy_drop_compares_the_last_three_quizzes_with_those_before(app, say, klass, clock):  # noqa: F811
    say("o_t", "预警设置 连续缺勤 0 出勤率 0 不懂 0 正确率下降 30")
    at(clock, 0, TUESDAY)
    everyone = ("o_s1", "o_s2", "o_s3", "o_s4", "o_s5", "o_s6")
    for _ in range(3):
        lesson(say, clock, came=everyone, quiz={"o_s1": "A", "o_s2": "A"})
    at(clock, 1, TUESDAY)
    lesson(say, clock, came=everyone, quiz={"o_s1": "A", "o_s2": "B"})
    lesson(say, clock, came=everyone, quiz={"o_s1": "A", "o_s2": "A"})
    lesson(say, clock, came=everyone, quiz={"o_s1": "A", "o_s2": "B"})
    at(clock, 2)
    text = digest(app, clock)
    assert "2024002 学生2：最近 3 次练习正确率 100→33（自 09-15）" in text
    assert "学生1" not in text  # 100 → 100
    assert "学生3" not in text  # never right: nothing fell


def test_a_rejoin_keeps_history_and_a_student_who_left_is_not_named(app, say, klass, clock):  # noqa: F811
    say("o_t", "预警设置 出勤率 0")
    at(clock, 0, TUESDAY)
    lesson(say, clock, came=("o_s1", "o_s2", "o_s3"))  # o_s4, o_s5, o_s6 absent
    say("o_s4", "退出课堂 1")
    say("o_s4", f"加入 {klass}")
    say("o_s5", "退出课堂 1")
    say("o_new", f"加入 {klass}")  # joins between the lessons: absent from one only
    at(clock, 1, TUESDAY)
    lesson(say, clock, came=("o_s1", "o_s2", "o_s3"))
    at(clock, 2)
    text = digest(app, clock)
    assert "2024004 学生4：连续缺勤 2 次（自 09-08）" in text  # the absence before leaving still counts
    assert "学生6：连续缺勤 2 次" in text and "学生5" not in text
    assert text.count("连续缺勤 2 次") == 2


def test_the_digest_of_forty_students_is_bounded_and_links_to_everyone(app, say, clock):
    app.test_cli_runner().invoke(args=["make-teacher", "o_t"])
    say("o_t", "创建课堂 大班")
    classroom = Classroom.get()
    users = [User.create(openid=f"o_{i:02d}", name=f"学生{i:02d}的名字很长很长很长", student_no=f"2024{i:03d}",
                         created_at=T0) for i in range(40)]
    Membership.insert_many([{"user": u, "classroom": classroom, "joined_at": T0} for u in users]).execute()
    at(clock, 0, TUESDAY)
    lesson(say, clock, came=())
    lesson(say, clock, came=())
    at(clock, 1)
    text = digest(app, clock)
    assert len(text.encode()) <= MAX_REPLY_BYTES
    assert "【学情预警 · 大班】本周 40 名学生需要关注：" in text
    shown = text.count("连续缺勤 2 次")
    assert 10 < shown < 40 and f"还有 {40 - shown} 条" in text
    assert "完整名单见成绩册（7天有效）：https://ketang.example.edu/gradebook/" in text
    assert text.endswith("随时发送「预警」查看，「预警设置」查看或修改规则。")


def test_once_per_class_and_week_however_often_the_job_runs(app, say, klass, clock):  # noqa: F811
    at(clock, 0, TUESDAY)
    lesson(say, clock, came=())
    lesson(say, clock, came=())
    at(clock, 1)
    kt = app.extensions["ketang"]
    assert run_digests(clock(), kt.settings, kt.links) == 1
    clock.advance(minutes=5)
    assert run_digests(clock(), kt.settings, kt.links) == 0
    clock.advance(days=3)
    assert run_digests(clock(), kt.settings, kt.links) == 0
    assert Outbox.select().where(Outbox.kind == "risk_digest").count() == 1
    assert RiskDigest.select().count() == 1 and RiskMark.select().count() == 6


def test_only_classes_with_lessons_in_the_past_week_are_looked_at(app, say, klass, clock):  # noqa: F811
    at(clock, 0, TUESDAY)
    lesson(say, clock, came=())
    lesson(say, clock, came=())
    Lesson.update(started_at=T0 - timedelta(days=8)).execute()  # both long before the week
    at(clock, 1)
    assert digest(app, clock) is None and RiskDigest.select().count() == 0


def test_on_demand_and_the_rules_in_both_languages(app, say, klass, clock):  # noqa: F811
    assert "「概率论」现在没有学生触发预警规则" in say("o_t", "预警")
    rules = say("o_t", "预警设置")
    assert "连续缺勤 2 次（请假不算）" in rules and "出勤率低于 70%" in rules and "两周内「不懂」3 次" in rules
    assert "用法" in say("o_t", "预警设置 连续缺勤 99")
    assert "用法" in say("o_t", "预警设置 连续缺勤")
    changed = say("o_t", "预警设置 连续缺勤 3 不懂 0")
    assert "已更新" in changed and "连续缺勤 3 次" in changed and "不懂：关" in changed
    at(clock, 0, TUESDAY)
    for _ in range(3):
        lesson(say, clock, came=("o_s1",))
    now = say("o_t", "预警")
    assert "【「概率论」现在需要关注的学生 · 5 名】" in now and "2024002 学生2：连续缺勤 3 次（自 09-08）" in now
    assert "[“概率论” students at risk now · 5]" in say("o_t", "at risk")
    assert "absences in a row" in say("o_t", "risk rules absences 4")
    say("o_t", "risk rules absences 0 rate 0")
    assert "Nobody in “概率论” hits a warning rule now." in say("o_t", "at risk")


@pytest.mark.parametrize("on", [True, False])
def test_the_nudge_is_off_by_default_and_names_only_the_student(app, say, klass, clock, on):  # noqa: F811
    if on:
        assert "已开启" in say("o_t", "预警 通知学生 开")
    say("o_t", "预警设置 出勤率 0")
    at(clock, 0, TUESDAY)
    lesson(say, clock, came=("o_s1", "o_s2", "o_s3", "o_s4"))
    lesson(say, clock, came=("o_s1", "o_s2", "o_s3", "o_s4"))
    say("o_s6", "退出课堂 1")
    User.update(lang="en").where(User.openid == "o_s5").execute()
    at(clock, 1)
    assert digest(app, clock) is not None
    nudges = {row.user.openid: row.text for row in Outbox.select().where(Outbox.kind == "risk_nudge")}
    if not on:
        assert nudges == {}
        return
    assert set(nudges) == {"o_s5"}  # o_s6 left the class
    assert nudges["o_s5"] == "“概率论” reminder: absent 2 times in a row (since 09-08). If there was a reason, " \
                             "send “make up <reason>”."


def test_the_weekly_run_computes_without_holding_the_write_lock(app, say, klass, clock, monkeypatch):  # noqa: F811
    """While the classes are computed another connection writes at once (a check-in is not kept waiting)."""
    import threading

    from bot.database import transaction
    from handlers import warnings
    from models import WechatState, db

    at(clock, 0, TUESDAY)
    lesson(say, clock, came=())
    lesson(say, clock, came=())
    at(clock, 1)
    wrote = []
    compute = warnings.at_risk

    def at_risk_while_someone_writes(class_ids, now):
        def write():
            with db.connection_context(), transaction():
                WechatState.create(name="probe", value="x")

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        writer.join(timeout=3)
        wrote.append(not writer.is_alive())  # written within 3 s, while this run is computing
        return compute(class_ids, now)

    monkeypatch.setattr(warnings, "at_risk", at_risk_while_someone_writes)
    assert digest(app, clock) is not None
    assert wrote == [True]


def test_the_digest_is_in_the_teachers_language(app, say, klass, clock):  # noqa: F811
    at(clock, 0, TUESDAY)
    lesson(say, clock, came=("o_s1", "o_s3", "o_s4", "o_s5", "o_s6"))
    lesson(say, clock, came=("o_s1", "o_s3", "o_s4", "o_s5", "o_s6"))
    say("o_t", "help")  # the teacher's latest message is in English
    at(clock, 1)
    assert digest(app, clock) == ("[At risk · 概率论] 1 student needs attention this week:\n"
                                  "2024002 学生2: absent 2 times in a row (since 09-08)\n"
                                  "Send “at risk” any time to see who is at risk, “risk rules” to see or change the rules.")
