"""Data that leaves when it should (handlers/privacy.py, README "Data and privacy"): retention of archived classes,
a person's own data behind a signed link, 注销 and `purge-user` — checked against EVERY table of models.py."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from peewee import CharField, ForeignKeyField, TextField

from bot.config import ConfigError, settings_from_dict
from handlers.privacy import _fingerprint, purge_archived
from models import (
    MODELS,
    AbsenceRequest,
    Classroom,
    ClassStaff,
    Lesson,
    LostSignal,
    Membership,
    Post,
    Response,
    RosterEntry,
    School,
    SmsLog,
    Tally,
    User,
)
from tests.conftest import T0, at_once, settings_dict

NAME, NUMBER, PHONE, OPENID = "隐私甲", "PRV2026001", "13912345678", "o_erase_me"
KEEP = timedelta(days=365)
# The school's roster is the school's list (imported by its administrator), not the person's account: 注销 removes
# the claim on the entry (verified_user, verified_at) and leaves the school's row.
SCHOOL_ROWS = {("roster_entry", "name"), ("roster_entry", "student_no")}


def person(openid: str = OPENID) -> User:
    return User.get(User.openid == openid)


@pytest.fixture
def lesson(app, say, teacher, clock):
    """A lesson with everything a student leaves behind: a check-in, a quiz answer, a post, 不懂, a roll call, a
    leave request, an SMS, a verified roster claim; and a second student who keeps their data."""
    t, code = teacher
    for openid in (OPENID, "o_keeper"):
        say.event(openid, "subscribe")
        assert "已加入" in say(openid, f"加入 {code}")
    school = School.create(name="隐私大学", created_at=T0)
    me = person()
    identity = {User.name: NAME, User.student_no: NUMBER, User.phone: PHONE, User.school: school, User.verify_state: "verified"}
    User.update(identity).where(User.id == me.id).execute()
    RosterEntry.create(school=school, student_no=NUMBER, name=NAME, verified_user=me, verified_at=T0)
    SmsLog.create(user=me, phone=PHONE, at=T0)
    assert "开始上课" in say(t, "上课")
    say(t, "开启签到")
    assert "签到成功" in say(OPENID, "签到") and "签到成功" in say("o_keeper", "签到")
    say(t, "练习 A 2 1+1=? A.2 B.3")
    say(OPENID, "A")
    say("o_keeper", "B")
    assert "讨论已开始" in say(t, "讨论 5 你的例子")
    assert "已发言" in say(OPENID, f"发言 =HYPERLINK(\"x\") 我是{NAME} {NUMBER}")
    assert "匿名" in say(OPENID, f"不懂 {NAME}不懂第二步")
    say(t, "点名 2")
    say(OPENID, "到")
    assert "已向" in say(OPENID, f"请假 9-9 {NAME}生病")
    assert Response.select().where(Response.user == me).count() == 2
    return t, code


def traces(user_id: int, tokens: tuple[str, ...]) -> list[tuple[str, str, object]]:
    """Every (table, column, value) of every model in models.py that refers to the user id (a foreign key to
    User) or holds one of *tokens* (openid, name, phone, number) in a text column."""
    found = []
    for model in MODELS:
        table = model._meta.table_name
        for row in model.select().dicts():
            for f in model._meta.sorted_fields:
                value = row[f.name]
                if isinstance(f, ForeignKeyField) and f.rel_model is User and value == user_id:
                    found.append((table, f.name, value))
                elif (isinstance(f, (CharField, TextField)) and isinstance(value, str) and (table, f.name) not in SCHOOL_ROWS
                      and any(token in value for token in tokens)):
                    found.append((table, f.name, value))
        if model is User:
            found += [(table, "id", user_id)] if model.select().where(model.id == user_id).exists() else []
    return found


def everything_of_the_person_is_gone(me: User) -> None:
    assert traces(me.id, (me.openid, NAME, PHONE, NUMBER)) == []
    assert RosterEntry.get(RosterEntry.student_no == NUMBER).verified_at is None  # the claim is free again
    keeper = person("o_keeper")
    assert Membership.select().where(Membership.user == keeper).count() == 1  # the other student keeps theirs
    assert Response.select().where(Response.user == keeper).count() == 2


def test_delete_me_cancelled_or_not_confirmed_deletes_nothing(app, say, lesson):
    assert "确认注销" in say(OPENID, "注销")
    assert "已取消" in say(OPENID, "取消")
    assert "确认注销" in say(OPENID, "注销")
    assert "没有注销" in say(OPENID, "好的")
    me = person()
    assert me.phone == PHONE and me.name == NAME and Membership.select().where(Membership.user == me).count() == 1
    assert "你在课堂" not in say(OPENID, "好的")  # the dialog ended: a stray word confirms nothing later
    assert User.get_or_none(User.openid == OPENID) is not None


def test_delete_me_confirmed_leaves_nothing_of_the_person_in_any_table(app, say, lesson):
    t, _code = lesson
    me = person()
    before = {model: model.select().count() for model in (Response, Post, LostSignal, AbsenceRequest)}
    assert "确认注销" in say(OPENID, "注销")
    reply = say(OPENID, "确认注销")
    assert "已注销" in reply and "1 个课堂" in reply and "匿名" in reply, reply
    everything_of_the_person_is_gone(me)
    # What the teacher still sees: the counts (rows kept, anonymous), no name.
    assert {model: model.select().count() for model in before} == before
    status = say(t, "签到情况")
    assert NAME not in status and NUMBER not in status and "应到 2：已到 2" in status
    results = say(t, "结果")
    assert "已注销的用户" in results and NAME not in results and "未实名" not in results, results
    placeholder = Response.select().where(Response.user != person("o_keeper")).get().user
    assert placeholder.name is None and placeholder.phone is None and placeholder.student_no is None
    assert placeholder.openid.startswith("erased-") and Post.get().text == ""
    # A new message from that WeChat account starts afresh.
    assert "课堂" in say(OPENID, "我的信息") and person().name is None


def test_delete_me_in_english_needs_the_english_words(app, say, lesson):
    assert "erase me" in say(OPENID, "delete me")
    assert "Nothing was deleted" in say(OPENID, "yes")
    assert "erase me" in say(OPENID, "delete me")
    assert "Deleted" in say(OPENID, "Erase me")
    assert User.get_or_none(User.openid == OPENID) is None


def test_purge_user_cli_does_the_same_and_refuses_unknown_and_class_owners(app, say, lesson):
    t, _code = lesson
    me = person()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["purge-user", OPENID])
    assert result.exit_code == 0 and "records kept anonymously" in result.output, result.output
    everything_of_the_person_is_gone(me)
    assert "no account" in runner.invoke(args=["purge-user", "o_nobody"]).output
    refused = runner.invoke(args=["purge-user", t])
    assert refused.exit_code != 0 and "nothing was deleted" in refused.output
    assert User.get_or_none(User.openid == t) is not None and Classroom.select().count() == 1


def test_a_teacher_who_owns_classes_is_told_what_to_do_and_keeps_everything(app, say, lesson):
    t, _code = lesson
    reply = say(t, "注销")
    assert "拥有 1 个课堂" in reply and "管理员" in reply
    assert "没有注销" not in say(t, "确认注销")  # no dialog was started
    assert Classroom.select().count() == 1 and person(t).is_teacher


def link_of(reply: str, kind: str) -> str:
    return re.search(rf"https://ketang\.example\.edu(/my-data/\S+\.{kind})", reply).group(1)


def test_my_data_is_a_short_signed_link_to_everything_about_the_person(app, say, lesson, client, clock):
    reply = say(OPENID, "我的数据")
    path = link_of(reply, "json")
    got = client.get(path)
    assert got.status_code == 200 and got.headers["Cache-Control"] == "no-store"
    assert got.headers["Referrer-Policy"] == "no-referrer"
    data = json.loads(got.data)
    assert data["account"]["name"] == NAME and data["account"]["phone"] == PHONE and data["account"]["openid"] == OPENID
    assert data["roster_claim"]["student_no"] == NUMBER and [m["class"] for m in data["memberships"]] == ["高等数学"]
    assert sorted(r["kind"] for r in data["answers_and_check_ins"]) == ["checkin", "quiz"]
    assert len(data["posts"]) == 1 and len(data["not_understood"]) == 1 and len(data["requests"]) == 1
    assert data["sms_sent"] == [{"phone": PHONE, "at": T0.isoformat()}]
    keeper = json.loads(client.get(link_of(say("o_keeper", "我的数据"), "json")).data)
    assert NAME not in json.dumps(keeper, ensure_ascii=False)  # one's own data only
    rows = list(csv.reader(io.StringIO(client.get(link_of(reply, "csv")).data.decode("utf-8-sig"))))
    post = next(r for r in rows if r[0] == "posts" and r[2] == "text")
    assert post[3].startswith("'=HYPERLINK")  # formula-safe: Excel shows it as text
    token = path.split("/")[-1].removesuffix(".json")
    assert client.get(f"/my-data/{token[:-2]}xx.json").status_code == 403  # forged
    assert client.get(f"/my-data/{token}.html").status_code == 404
    clock.advance(minutes=16)
    assert client.get(path).status_code == 403  # expired after [privacy] link_minutes


def test_a_my_data_link_dies_with_the_account(app, say, lesson, client, clock):
    path = link_of(say(OPENID, "我的数据"), "json")
    app.test_cli_runner().invoke(args=["purge-user", OPENID])
    say(OPENID, "我的信息")  # the same WeChat account comes back as a new user
    assert client.get(path).status_code == 403
    # A link made for an id that another account holds now (SQLite may reuse a deleted row's id) is refused too.
    kt = app.extensions["ketang"]
    reused = kt.links.token("my_data", f"{person('o_keeper').id}:{_fingerprint(OPENID)}", clock(), timedelta(minutes=5))
    assert client.get(f"/my-data/{reused}.json").status_code == 403


def archive(code: str, at) -> Classroom:
    Classroom.update(archived_at=at).where(Classroom.code == code).execute()
    return Classroom.get(Classroom.code == code)


ACCOUNT_TABLES = {"outbox", "dialog", "failed_attempt", "sms_log", "menu_tag", "roster_entry", "inbound_message",
                  "user", "sim_message"}  # the person's account, not the class: kept while they use Ketang


def test_retention_turns_an_archived_class_into_counts_after_the_day_once(app, say, lesson, clock, caplog):
    _t, code = lesson
    classroom = archive(code, T0)
    students = [person(), person("o_keeper")]
    clock.now = T0 + KEEP - timedelta(seconds=1)
    assert purge_archived(clock(), KEEP) == 0 and Response.select().count() == 4 and Tally.select().count() == 0
    clock.now = T0 + KEEP + timedelta(seconds=1)
    with caplog.at_level("INFO", logger="ketang.privacy"):
        assert purge_archived(clock(), KEEP) == 1
    assert re.search(r"retention: class \d+ \(高等数学\) replaced by counts: tallies \d+, responses 4, posts 1", caplog.text)
    counts = {(t.what, t.activity_id is None): t.count for t in Tally.select()}
    assert counts[("members", True)] == 2 and counts[("status:present", False)] == 2
    assert counts[("right:1", False)] == 1 and counts[("right:0", False)] == 1
    assert counts[("posts", False)] == 1 and counts[("lost", True)] == 1 and counts[("roll_calls", True)] == 2
    for student in students:
        left = {table for table, _column, _value in traces(student.id, (student.openid, NUMBER, PHONE, NAME))}
        assert left <= ACCOUNT_TABLES, left
    assert Classroom.get_by_id(classroom.id).purged_at == clock()
    tallies = Tally.select().count()
    clock.advance(days=30)
    assert purge_archived(clock(), KEEP) == 0 and Tally.select().count() == tallies  # idempotent


def test_retention_keeps_classes_not_archived_and_is_done_by_one_of_two_schedulers(app, say, lesson, clock):
    _t, code = lesson
    clock.now = T0 + KEEP * 3
    assert purge_archived(clock(), KEEP) == 0 and Response.select().count() == 4  # not archived: kept
    archive(code, T0)

    def scheduler():
        with app.app_context():
            return purge_archived(clock(), KEEP)

    results = at_once(scheduler, scheduler)
    assert sorted(results) == [0, 1]
    assert Tally.select().where(Tally.what == "members").count() == 1


def test_retention_days_are_bounded(tmp_path):
    for wrong in (0, 3651):
        with pytest.raises(ConfigError, match="privacy.retention_days must be 1–3650"):
            settings_from_dict(settings_dict(tmp_path, privacy={"retention_days": wrong}))
    assert settings_from_dict(settings_dict(tmp_path)).privacy.retention_days == 365


def test_an_assistant_deletes_their_account_and_leaves_the_team_and_its_trail_anonymous(app, say, teacher):
    t, _code = teacher
    code = re.search(r"助教邀请码：(\d{8})", say(t, "添加助教")).group(1)
    say("o_aide", "帮助")
    User.update(name="助教乙丙", phone="13800001111").where(User.openid == "o_aide").execute()
    assert "助教" in say("o_aide", f"助教 {code}")
    aide = person("o_aide")
    assert ClassStaff.select().where(ClassStaff.user == aide).count() == 1
    assert "开始上课" in say("o_aide", "上课")
    say("o_aide", "开启签到")  # who did it is recorded (the audit trail)
    before = {table for table, _column, _value in traces(aide.id, ("o_aide", "助教乙丙", "13800001111"))}
    assert {"user", "class_staff", "staff_invite"} <= before, before
    assert "确认注销" in say("o_aide", "注销")
    assert "已注销" in say("o_aide", "确认注销")
    assert traces(aide.id, ("o_aide", "助教乙丙", "13800001111")) == []
    assert ClassStaff.select().count() == 0 and Classroom.select().count() == 1 and Lesson.select().count() == 1
