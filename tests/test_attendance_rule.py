"""The honesty of the attendance record (issues 18 and 19): a lesson's attendance is the best status over all
its check-ins, a student cannot step out of an absence, a cancelled lesson counts for nobody, 结果 <n> and
结束 <n> mean activity n, and an activity past its deadline is closed for every purpose. Handler tests with a
frozen clock; the second check-in also end to end through the signed webhook."""

from __future__ import annotations

import re

from bot.database import create_schema, is_sqlite
from handlers.records import lesson_attendance, lesson_attendance_marked
from harness.statements import counting
from models import Activity, Lesson, Outbox, Response, User, db
from tests.conftest import build_app, simulator_for
from tests.test_lesson import export_rows, klass  # noqa: F401  (fixture)


def record_of(send, openid: str) -> str:
    return re.search(r"「概率论」.*", send(openid, "我的记录")).group(0)


def summary_of(openid: str) -> str:
    return Outbox.get((Outbox.kind == "lesson_summary") & (Outbox.user == User.get(User.openid == openid))).text


def by_number(app, send) -> dict[str, list[str]]:
    rows, _ = export_rows(app.test_client(), send("o_t", "导出"))
    return {row[1]: row for row in rows[1:]}  # column 0 is the 学生 label, 1 the number, 4 lesson 1's check-in


def test_a_second_check_in_never_wipes_the_first_end_to_end(app, klass, clock):  # noqa: F811
    """Issue 19.1 through the signed webhook: three check in, 结束, 开启签到 again, a latecomer checks in.
    签到情况, the summaries, 我的记录 and the export all keep the first three present."""
    wx = simulator_for(app)
    send = wx.send_text
    send("o_t", "上课")
    send("o_t", "开启签到 5")
    for i in (1, 2, 3):
        assert "签到成功" in send(f"o_s{i}", "签到")
    assert "已结束 1 个" in send("o_t", "结束")
    clock.advance(minutes=3)
    assert "这是本节课第 2 次签到：每人按最好的一次计" in send("o_t", "开启签到 2")
    assert "签到成功" in send("o_s4", "签到")
    second = Activity.select().order_by(Activity.id.desc()).first()
    asked_again = Outbox.select().join(User).where(Outbox.key.startswith(f"activity:{second.id}:open:"))
    assert sorted(o.user.openid for o in asked_again) == ["o_s4", "o_s5", "o_s6"]  # not those who came
    report = send("o_t", "签到情况")
    assert "应到 6：已到 4，迟到 0，请假 0，未到 2" in report
    assert "共 2 次签到，每人按最好的一次计" in report and "2024005 学生5" in report and "2024002" not in report
    clock.advance(minutes=3)
    assert "签到 4/6 人" in send("o_t", "下课")
    assert "签到：已到" in summary_of("o_s2") and "签到：已到" in summary_of("o_s4") and "签到：缺勤" in summary_of("o_s5")
    assert "已到 1 · 迟到 0 · 请假 0 · 缺勤 0" in record_of(send, "o_s2")
    rows = by_number(app, send)
    assert rows["2024002"][4] == "已到" and rows["2024004"][4] == "已到" and rows["2024005"][4] == "缺勤"
    assert len(rows["2024002"]) == 4 + 2 + 10  # one lesson: one column pair, however many check-ins it had


def test_late_only_if_late_in_every_check_in_attended_and_excused_beats_absent(app, say, klass, clock):  # noqa: F811
    say("o_t", "上课")
    say("o_t", "开启签到 2")
    clock.advance(minutes=1, seconds=59)
    say("o_t", "延长 5")  # from its first deadline on, check-ins are late
    clock.advance(seconds=2)
    for i in (1, 2):
        assert "迟到" in say(f"o_s{i}", "签到")  # late in the first
    say("o_t", "结束")
    assert "请假" in say("o_t", "改签 2024003 请假")  # the teacher's word for the lesson
    say("o_t", "开启签到 3")
    assert "签到成功" in say("o_s1", "签到")  # present in the second: present for the lesson
    report = say("o_t", "签到情况")
    assert "应到 6：已到 1，迟到 1，请假 1，未到 3" in report
    say("o_t", "下课")
    rows = by_number(app, say)
    assert [rows[f"202400{i}"][4] for i in (1, 2, 3, 4)] == ["已到", "迟到", "请假（老师改签）", "缺勤"]
    assert "迟到 1" in record_of(say, "o_s2") and "请假 1" in record_of(say, "o_s3")


def test_marking_a_student_sets_the_lesson_not_one_check_in(say, klass, clock):  # noqa: F811
    """改签 after two check-ins: the teacher's status is the lesson's (a present in the other one does not hide it)."""
    say("o_t", "上课")
    say("o_t", "开启签到 5")
    say("o_s1", "签到")
    say("o_t", "结束")
    say("o_t", "开启签到 5")
    assert "这节课的出勤改为「缺勤」" in say("o_t", "改签 2024001 缺勤")  # e.g. they left after the first
    assert "应到 6：已到 0，迟到 0，请假 0，未到 6" in say("o_t", "签到情况")


def test_one_function_counts_attendance_with_two_queries_whatever_the_class_size(app, say, klass, clock):  # noqa: F811
    """No query per student or per check-in: grade book and warnings reuse this."""
    for _ in range(2):
        say("o_t", "上课")
        for _checkin in range(2):
            say("o_t", "开启签到 1")
            say("o_s1", "签到")
            clock.advance(minutes=2)
        say("o_t", "下课")
        clock.advance(hours=1)
    with app.app_context(), counting() as sent:
        sheet = lesson_attendance(Lesson.classroom.is_null(False))
    assert len([s for s in sent if s.lstrip().upper().startswith("SELECT")]) == 2, sent
    assert len(sheet) == 2 * 6 and sum(1 for s in sheet.values() if s == "present") == 2


def test_a_student_cannot_step_out_of_an_absence(app, say, klass, clock):  # noqa: F811
    """Issue 18.3: leave after the 上课 push and rejoin after the check-in closed: still absent; leaving in the
    very second the check-in opens does not escape it either."""
    say("o_t", "上课")
    clock.advance(seconds=30)
    assert "已退出" in say("o_s6", "退出课堂 1")
    say("o_t", "开启签到 1")
    for i in range(1, 5):
        say(f"o_s{i}", "签到")
    assert "已退出" in say("o_s5", "退出课堂 1")  # the same second the check-in opened
    clock.advance(minutes=2)
    assert "已加入" in say("o_s6", f"加入 {klass}")
    report = say("o_t", "签到情况")
    assert "应到 6：已到 4，迟到 0，请假 0，未到 2" in report and "2024006 学生6" in report and "2024005 学生5" in report
    assert "缺勤 1" in record_of(say, "o_s6")
    say("o_t", "下课")
    rows = by_number(app, say)
    assert rows["2024006"][4] == "缺勤" and rows["2024005"][4] == "缺勤"


def test_results_n_shows_check_in_n_not_the_latest(say, klass, clock):  # noqa: F811
    """Issues 19.2 / 20.1."""
    say("o_t", "上课")
    say("o_t", "开启签到 5")
    say("o_s1", "签到")
    say("o_s2", "签到")
    say("o_t", "结束")
    clock.advance(minutes=1)
    say("o_t", "开启签到 5")
    say("o_s3", "签到")
    first, second = say("o_t", "结果 1"), say("o_t", "结果 2")
    assert "第 1 个活动：签到 08:00" in first and "已到 2，" in first and "2024003 学生3" in first
    assert "第 2 个活动：签到 08:01" in second and "已到 1，" in second and "2024001 学生1" in second
    assert "每人最好的一次" in first


def test_cancelling_a_lesson_records_nothing_tells_students_and_keeps_the_audit(app, say, klass, clock):  # noqa: F811
    """Issue 19.3: a lesson started by mistake, with a check-in and a quiz, cancelled while it runs."""
    say("o_t", "上课")
    say("o_t", "开启签到 5")
    say("o_s1", "签到")
    say("o_t", "练习 B 1 1+1=? A.1 B.2")
    say("o_s1", "答 A")
    clock.advance(minutes=2)
    reply = say("o_t", "取消上课")
    assert "已取消「概率论」08:00 开始的这节课" in reply and "通知 6 名学生" in reply
    lesson = Lesson.get()
    assert lesson.cancelled_at == clock() and lesson.cancelled_by.openid == "o_t" and lesson.live is None  # kept
    pushes = Outbox.select().where(Outbox.kind == "lesson_cancelled")
    assert pushes.count() == 6 and "不计入记录" in pushes[0].text
    assert Outbox.select().where(Outbox.kind == "lesson_summary").count() == 0  # no summary of a cancelled lesson
    assert "缺勤 0" in record_of(say, "o_s6") and "练习答对 0/0" in record_of(say, "o_s1")
    assert "已于 08:02 取消" in say("o_t", "签到情况")
    assert "现在没有上课" in say("o_s2", "签到")
    rows, _ = export_rows(app.test_client(), say("o_t", "导出"))
    assert len(rows[0]) == 4 + 10  # no column for the cancelled lesson
    assert "没有可以取消的课" in say("o_t", "取消上课")  # once


def test_a_lesson_can_be_cancelled_up_to_fifteen_minutes_after_it_ended(say, klass, clock):  # noqa: F811
    say("o_t", "上课")
    say("o_t", "开启签到 1")
    say("o_t", "下课")
    clock.advance(minutes=15)
    assert "Cancelled the lesson" in say("o_t", "cancel lesson")
    assert "缺勤 0" in record_of(say, "o_s1")
    say("o_t", "上课")
    say("o_t", "开启签到 1")
    say("o_t", "下课")
    clock.advance(minutes=15, seconds=1)
    assert "没有可以取消的课" in say("o_t", "取消上课")
    assert "缺勤 1" in record_of(say, "o_s1")


def test_close_n_closes_just_that_activity(say, klass, clock):  # noqa: F811
    """Issue 19.5: 结束 <序号> closes activity n only; 结束 alone still closes every open one."""
    say("o_t", "上课")
    say("o_t", "开启签到 10")
    say("o_t", "练习 B 10 1+1=? A.1 B.2")
    assert "已结束第 2 个活动（练习）" in say("o_t", "结束 2")
    assert "已于" in say("o_s1", "答 B")  # the quiz is closed
    assert "签到成功" in say("o_s1", "签到")  # the check-in is still open
    assert "第 2 个活动（练习）已于 08:00 结束" in say("o_t", "结束 2")
    assert "只有 2 个活动" in say("o_t", "结束 3")
    say("o_t", "练习 A 10 2+2=? A.4 B.5")
    assert "已结束 2 个进行中的活动（全部" in say("o_t", "结束")


def test_past_its_deadline_an_activity_is_closed_for_every_purpose(say, klass, clock):  # noqa: F811
    """Issue 18.12: after the deadline, before the close job: 答 shows the key, so 延长 must not reopen it."""
    say("o_t", "上课")
    say("o_t", "练习 B 1 1+1=? A.1 B.2")
    say("o_s1", "答 A")
    clock.advance(minutes=1, seconds=1)  # no close job has run
    assert "已于 08:01 结束" in say("o_s1", "答 B") and "正确答案" in say("o_s1", "答 B")
    assert "现在没有进行中的活动" in say("o_t", "延长 1")
    assert "已于 08:01 结束" in say("o_s1", "答 B")
    assert Response.get().answer == "A"


def test_a_lesson_started_in_the_wrong_class_is_undone_after_starting_the_right_one(say, klass, clock):  # noqa: F811
    """Issue 19.3's case: 上课 + 开启签到 in the wrong class, then 上课 in the right one ends the wrong lesson
    (summaries pushed); the reply says how to undo it, and 取消上课 there leaves no absence on anyone."""
    other = re.search(r"课堂码：(\d{6})", say("o_t", "创建课堂 线性代数")).group(1)
    say("o_t", f"进入 {klass}")
    say("o_t", "上课")
    say("o_t", "开启签到 5")
    clock.advance(minutes=1)
    say("o_t", f"进入 {other}")
    started = say("o_t", "上课")
    assert "「概率论」已先下课" in started and "发送「取消上课」" in started
    assert "缺勤 1" in record_of(say, "o_s1")
    say("o_t", f"进入 {klass}")
    assert "已取消「概率论」08:00 开始的这节课" in say("o_t", "取消上课")
    assert "缺勤 0" in record_of(say, "o_s1")
    assert "不计入记录" in Outbox.get(Outbox.kind == "lesson_cancelled").text
    assert Lesson.get(Lesson.live == 1).classroom.code == other  # the right lesson goes on


def test_the_rule_over_every_pair_of_statuses(say, klass, clock):  # noqa: F811
    """present > late > excused > absent over a lesson's check-ins, whatever wrote the rows (a check-in, 改签,
    or an approved leave request that marks one check-in)."""
    say("o_t", "上课")
    for _ in range(2):
        say("o_t", "开启签到 1")
        clock.advance(minutes=2)
    first, second = Activity.select().order_by(Activity.id)
    pairs = {"o_s1": ("absent", "excused"), "o_s2": ("late", "absent"), "o_s3": ("late", "late"),
             "o_s4": ("late", "present"), "o_s5": ("absent", None), "o_s6": (None, None)}
    for openid, statuses in pairs.items():
        for checkin, status in zip((first, second), statuses, strict=True):
            if status:
                Response.create(activity=checkin, user=User.get(User.openid == openid), status=status,
                                created_at=clock(), updated_at=clock())
    sheet = lesson_attendance(Lesson.id == first.lesson_id)
    got = {User.get_by_id(uid).openid: status for (_lesson, uid), status in sheet.items()}
    assert got == {"o_s1": "excused", "o_s2": "late", "o_s3": "late", "o_s4": "present", "o_s5": "absent", "o_s6": "absent"}
    # Where the deciding status came from (the export's 老师改签 and 补 cells): an approved request on o_s1's excused.
    Response.update(made_up=True).where((Response.activity == second) & (Response.status == "excused")).execute()
    marked = lesson_attendance_marked(Lesson.id == first.lesson_id)
    assert [uid for uid, found in marked.items() if found.made_up] == [(first.lesson_id, User.get(User.openid == "o_s1").id)]


def test_init_db_adds_the_new_columns_to_an_existing_database(tmp_path, clock):
    """Lesson.cancelled_at / cancelled_by and Activity.rotating come to an older database with `init-db`."""
    app = build_app(tmp_path, clock)
    with app.app_context():
        db.execute_sql("ALTER TABLE lesson DROP COLUMN cancelled_at")
        db.execute_sql("ALTER TABLE activity DROP COLUMN rotating")
        if not is_sqlite():  # SQLite cannot drop a column that is a foreign key
            db.execute_sql("ALTER TABLE lesson DROP COLUMN cancelled_by_id")
        create_schema()
        assert {"cancelled_at", "cancelled_by_id"} <= {c.name for c in db.get_columns("lesson")}
        assert "rotating" in {c.name for c in db.get_columns("activity")}
    db.close()
