"""Identity: roster import, verification (one line and guided), phones, and every anomaly of the guide."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.config import ConfigError
from bot.dispatch import Inbound
from models import Dialog, FailedAttempt, Membership, RosterEntry, School, SmsLog, User
from tests.conftest import at_once, build_app, simulator_for

ROSTER = "student_no,name,auth_code\n2024001,张三,839201\n2024002,李四,551177\n2024003,王五,\n"


@pytest.fixture
def school(app, tmp_path):
    """The school 示范大学 with a three-student roster, imported through the CLI."""
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-roster", "示范大学", str(path)])
    assert result.exit_code == 0 and "3 added, 0 updated" in result.output, result.output
    return "示范大学"


def sms_codes(caplog) -> list[str]:
    return re.findall(r"验证码是 (\d{6})", caplog.text)


# --- roster import -------------------------------------------------------------------------------


def test_reimport_updates_and_never_duplicates_and_codes_are_hashed(app, school, tmp_path, say):
    path = tmp_path / "again.csv"
    path.write_text("\ufeffstudent_no,name,auth_code\n2024001,张三丰,111111\n2024004,赵六,222222\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-roster", school, str(path)])
    assert "1 added, 1 updated" in result.output
    assert RosterEntry.select().count() == 4
    entry = RosterEntry.get(RosterEntry.student_no == "2024001")
    assert entry.name == "张三丰" and entry.auth_hash.startswith("pbkdf2_sha256$") and "111111" not in entry.auth_hash
    assert "认证成功" in say("o_a", "认证 示范大学 2024001 张三丰 111111")  # the new code works


@pytest.mark.parametrize("content,line", [
    ("student_no,name,auth_code\n2024001,张三,1\n2024009,,2\n", "line 3"),
    ("student_no,name,auth_code\n2024001,张三,1\n2024001,张三,2\n", "line 3: student number 2024001 repeats line 2"),
    ("student_no,name,auth_code\n2024001,张三,1\n2024002,李四\n", "line 3: expected 3 fields"),
    ("student_no,name\n2024001,张三\n", "line 1"),
])
def test_a_bad_row_is_reported_and_nothing_is_imported(app, school, tmp_path, content, line):
    before = [(e.student_no, e.name, e.auth_hash) for e in RosterEntry.select().order_by(RosterEntry.id)]
    path = tmp_path / "bad.csv"
    path.write_text(content.replace("2024009", "2024005"), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-roster", school, str(path)])
    assert result.exit_code != 0 and line in result.output and "nothing was imported" in result.output
    assert [(e.student_no, e.name, e.auth_hash) for e in RosterEntry.select().order_by(RosterEntry.id)] == before


def test_undecodable_bytes_are_reported_with_their_line(app, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("student_no,name,auth_code\n2024001,Zoé,1\n".encode("latin-1") + b"2024002,\xff\xfe,2\n")
    result = app.test_cli_runner().invoke(args=["import-roster", "某大学", str(path)])
    assert result.exit_code != 0 and "line 2: neither UTF-8 nor GBK" in result.output
    assert School.select().count() == 0


# --- verification --------------------------------------------------------------------------------


def test_verify_with_code_then_me_shows_everything(say, school):
    assert "认证成功" in say("o_a", "认证 示范大学 2024001 张三 839201")
    me = say("o_a", "我的信息")
    assert all(part in me for part in ("学校：示范大学", "学号：2024001", "姓名：张三", "认证：已认证", "手机：未设置"))


def test_verify_without_code_is_recorded_unverified_and_teachers_see_it(say, school, teacher):
    openid, code = teacher
    say("o_a", f"加入 {code}")
    say("o_a", "取消")
    assert "未认证" in say("o_a", "认证 示范大学 2024002 李四 暂无认证码")
    roster = say(openid, "名单")
    assert "2024002 李四 · 未认证" in roster and "已认证 0" in roster


def test_wrong_auth_codes_are_limited(say, school):
    replies = [say("o_a", "认证 示范大学 2024001 张三 000000") for _ in range(5)]
    assert "还可以再试 4 次" in replies[0] and "尝试次数太多" in replies[4]
    assert "尝试次数太多" in say("o_a", "认证 示范大学 2024001 张三 839201")
    assert RosterEntry.get(RosterEntry.student_no == "2024001").verified_user is None


def test_unknown_school_and_number_get_clear_replies(say, school):
    assert "没有找到学校「清华」" in say("o_a", "认证 清华 2024001 张三 1") and "示范大学" in say("o_a", "认证 清华 1 张三")
    assert "没有这个学号和姓名：2099999" in say("o_a", "认证 示范大学 2099999 张三 1")
    assert "没有这个学号和姓名：2024001" in say("o_a", "认证 示范大学 2024001 张四 839201")
    assert "用法：认证" in say("o_a", "认证 示范大学 2024001")


def test_guided_dialog_across_messages_and_workers(tmp_path, clock, school, app):
    # Two app instances on one database stand for two gunicorn workers.
    other = build_app(tmp_path, clock, aes=True, fresh=False)
    first, second = simulator_for(app), simulator_for(other)
    assert "请发送学校名称" in first.send_text("o_a", "认证")
    assert "第 2 步" in second.send_text("o_a", "示范大学")
    assert "姓名" in first.send_text("o_a", "2024001")
    assert "学生命令" in second.send_text("o_a", "帮助")  # help works inside the dialog
    assert Dialog.select().count() == 1  # ...and did not end it
    assert "认证码" in second.send_text("o_a", "张三")
    assert "认证成功" in first.send_text("o_a", "839201")
    assert Dialog.select().count() == 0


def test_guided_dialog_with_an_expired_step(wechat, school, clock):
    assert "学校名称" in wechat.send_text("o_a", "认证")
    assert "第 2 步" in wechat.send_text("o_a", "示范大学")
    clock.advance(minutes=11)
    reply = wechat.send_text("o_a", "2024001")
    assert "已超时" in reply and "重新发送「认证」" in reply
    assert "没看懂" in wechat.send_text("o_a", "2024001")  # the dialog is gone
    assert "请发送学校名称" in wechat.send_text("o_a", "认证")
    assert "已取消" in wechat.send_text("o_a", "取消") and Dialog.select().count() == 0


def test_a_new_command_abandons_the_dialog(say, school):
    say("o_a", "认证")
    assert "你还没有加入课堂" in say("o_a", "我的课堂")
    assert Dialog.select().count() == 0


# --- anomalies of the guide's appendix -----------------------------------------------------------


def test_student_number_already_verified_by_another_account(say, school, teacher, app):
    openid, code = teacher
    say("o_impostor", f"加入 {code}")
    say("o_impostor", "取消")
    assert "认证成功" in say("o_impostor", "认证 示范大学 2024001 张三 839201")
    refused = say("o_real", "认证 示范大学 2024001 张三 839201")
    assert "已被另一个微信账号认证" in refused and "解除认证 2024001" in refused and "release-student" in refused
    assert "已解除学号 2024001" in say(openid, "解除认证 2024001")
    assert "认证成功" in say("o_real", "认证 示范大学 2024001 张三 839201")
    assert User.get(User.openid == "o_impostor").verify_state == "unverified"
    # An admin can do the same from the command line.
    result = app.test_cli_runner().invoke(args=["release-student", school, "2024001"])
    assert result.exit_code == 0 and "o_real" in result.output


def test_teacher_release_is_limited_to_their_own_students(say, school, teacher):
    openid, _ = teacher
    say("o_x", "认证 示范大学 2024001 张三 839201")  # not in the teacher's class
    assert "不在你的课堂里" in say(openid, "解除认证 2024001")


def test_abnormal_verification_relation(say, school, teacher):
    openid, code = teacher
    say("o_a", f"加入 {code}")
    say("o_a", "2024003")  # the join question: a wrong number given by mistake...
    say("o_a", "王五")
    assert "认证成功" in say("o_b", "认证 示范大学 2024001 张三 839201")
    say("o_c", f"加入 {code}")
    say("o_c", "2024001")  # ...and another claims a number someone else verified
    say("o_c", "某人")
    roster = say(openid, "名单")
    assert "2024001 某人 · 未认证 ⚠学号已被他人认证" in roster
    # The first student fixes their number by verifying properly; a verified account cannot switch.
    assert "认证成功" in say("o_a", "认证 示范大学 2024002 李四 551177")
    assert "不能再认证其他学号" in say("o_a", "认证 示范大学 2024003 王五 暂无认证码")


def test_teacher_shown_as_student_has_a_one_command_fix(say, school, teacher):
    openid, code = teacher
    say("o_prof", f"加入 {code}")
    say("o_prof", "取消")
    assert "教师认证 <邀请码>" in say("o_prof", "帮助")
    fixed = say("o_prof", "教师认证 JOIN-STAFF")
    assert "已成为教师" in fixed and "退出" in fixed
    assert Membership.select().where(Membership.active == 1).count() == 0  # no class as a student now
    assert Membership.select().where(Membership.left_at.is_null(False)).count() == 1  # the history stays
    assert "还没有学生" in say(openid, "名单")


def test_entering_a_school_class_unverified_asks_number_and_name(wechat, school, teacher):
    openid, code = teacher
    joined = wechat.send_text("o_a", f"加入 {code}")
    assert "已加入" in joined and "本课堂属于「示范大学」" in joined
    assert "姓名" in wechat.send_text("o_a", "2024003")
    assert "未认证" in wechat.send_text("o_a", "王五")
    assert "2024003 王五 · 未认证" in simulator_for_teacher(wechat, openid)
    # A verified student is not asked again in another class of the school.
    wechat.send_text("o_v", "认证 示范大学 2024001 张三 839201")
    assert "本课堂属于" not in wechat.send_text("o_v", f"加入 {code}")


def simulator_for_teacher(wechat, openid):
    return wechat.send_text(openid, "名单")


# --- phones --------------------------------------------------------------------------------------


def test_phone_changed_rebinds_and_numbers_are_masked(say, caplog, clock):
    reply = say("o_a", "绑定手机 13800138000")
    assert "138****8000" in reply and "13800138000" not in reply
    assert "绑定成功" in say("o_a", sms_codes(caplog)[-1])
    clock.advance(minutes=2)
    say("o_a", "绑定手机 13900139000")
    changed = say("o_a", f"验证码 {sms_codes(caplog)[-1]}")
    assert "从 138****8000 更换为 139****9000" in changed
    assert "手机：139****9000" in say("o_a", "我的信息")
    assert User.get(User.openid == "o_a").phone == "13900139000"


def test_phone_lost_with_no_access_is_released_by_the_admin(say, caplog, app, clock):
    say("o_old", "绑定手机 13800138000")
    say("o_old", sms_codes(caplog)[-1])
    clock.advance(minutes=2)
    # The reply to 绑定手机 does not tell whether the number is bound elsewhere; the code proves the phone.
    assert "验证码已发送到 138****8000" in say("o_new", "绑定手机 13800138000")
    refused = say("o_new", sms_codes(caplog)[-1])
    assert "已绑定在另一个账号上" in refused and "release-phone" in refused
    clock.advance(minutes=2)
    result = app.test_cli_runner().invoke(args=["release-phone", "13800138000"])
    assert result.exit_code == 0 and "o_old" in result.output
    say("o_new", "绑定手机 13800138000")
    assert "绑定成功" in say("o_new", sms_codes(caplog)[-1])


def test_wrong_sms_codes_are_limited_and_sends_are_rate_limited(say, caplog, clock):
    say("o_a", "绑定手机 13800138000")
    real = sms_codes(caplog)[-1]
    wrong = "000000" if real != "000000" else "111111"
    replies = [say("o_a", wrong) for _ in range(5)]
    assert "还可以再试 4 次" in replies[0] and "已取消" in replies[4]
    assert "没看懂" in say("o_a", real)  # the dialog ended; the code is dead
    assert "1 分钟后" in say("o_a", "绑定手机 13800138000")
    for _ in range(4):
        clock.advance(minutes=2)
        assert "验证码已发送" in say("o_a", "绑定手机 13800138000")
    clock.advance(minutes=2)
    assert "明天再试" in say("o_a", "绑定手机 13800138000")


def test_sms_code_expires_after_ten_minutes(say, caplog, clock):
    say("o_a", "绑定手机 13800138000")
    clock.advance(minutes=10, seconds=1)
    assert "已超时" in say("o_a", f"验证码 {sms_codes(caplog)[-1]}")
    assert User.get(User.openid == "o_a").phone is None


def test_unbind_phone(say, caplog):
    assert "还没有绑定手机" in say("o_a", "解绑手机")
    say("o_a", "绑定手机 13800138000")
    say("o_a", sms_codes(caplog)[-1])
    assert "已解绑手机 138****8000" in say("o_a", "解绑手机")
    assert "手机：未设置" in say("o_a", "我的信息")


class SmsGateway:
    """An SMS gateway on a loopback port for one test: it keeps what it was sent and answers with *status*
    (500 while it is down); each test starts its own (`with SmsGateway() as gateway`), so none shares state."""

    def __init__(self, status: int = 200):
        self.status, self.received = status, []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                gateway.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(gateway.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_http_sms_backend_posts_json(tmp_path, clock):
    with SmsGateway() as gateway:
        app = build_app(tmp_path, clock, sms={"backend": "http", "url": gateway.url})
        wx = simulator_for(app)
        assert "验证码已发送到 138****8000" in wx.send_text("o_a", "绑定手机 13800138000")
        assert gateway.received and gateway.received[0]["phone"] == "13800138000"
        code = re.search(r"(\d{6})", gateway.received[0]["text"]).group(1)
        assert "绑定成功" in wx.send_text("o_a", code)


# --- issue 10: names, probes, SMS outages, roster formats ----------------------------------------


def import_file(app, tmp_path, data: bytes, name: str = "roster.csv", school: str = "示范大学"):
    path = tmp_path / name
    path.write_bytes(data)
    return app.test_cli_runner().invoke(args=["import-roster", school, str(path)])


def test_the_join_dialog_refuses_a_long_or_forged_name_and_keeps_asking(wechat, school, teacher):
    """Item 6: a 700-character name used to be stored (SQLite) or answer 系统繁忙 forever (PostgreSQL)."""
    openid, code = teacher
    wechat.send_text("o_a", f"加入 {code}")
    assert "姓名" in wechat.send_text("o_a", "s2024009")
    for bad in ("长" * 700, "王五\n李雷：我也同意", "=HYPERLINK(\"http://evil\")", "@王五", "【12:00】王五"):
        reply = wechat.send_text("o_a", bad)
        assert "姓名须为 1–40 个字" in reply and "取消" in reply, reply
    assert User.get(User.openid == "o_a").verify_state == "not_given"
    assert "已记录「示范大学」S2024009 Anne-Marie O'Neil" in wechat.send_text("o_a", "Anne-Marie O'Neil")
    assert "S2024009 Anne-Marie O'Neil · 未认证" in wechat.send_text(openid, "名单")


def test_the_guided_verify_refuses_a_bad_name(say, school):
    say("o_a", "认证")
    say("o_a", "示范大学")
    say("o_a", "2024001")
    assert "姓名须为" in say("o_a", "张" * 41)
    assert "认证码" in say("o_a", "张三")
    assert "认证成功" in say("o_a", "839201")


def test_verify_probes_answer_alike_and_count_against_the_limit(say, school):
    """Item 14: an unknown number and a wrong name look the same, and each probe uses up a try."""
    unknown = say("o_a", "认证 示范大学 2099999 张三")
    wrong_name = say("o_a", "认证 示范大学 2024001 张四")
    assert unknown.replace("2099999", "N").replace("4 次", "X") == wrong_name.replace("2024001", "N").replace("3 次", "X")
    say("o_b", "认证 示范大学 2024002 李四 551177")
    assert "已被另一个微信账号认证" in say("o_a", "认证 示范大学 2024002 李四")  # needs number and name; counted
    say("o_a", "认证 示范大学 2099998 张三")
    assert "尝试次数太多" in say("o_a", "认证 示范大学 2099997 张三")
    assert "尝试次数太多" in say("o_a", "认证 示范大学 2024001 张三 839201")  # even the right answer now waits


def test_bind_phone_answers_alike_and_caps_sms_per_number(say, caplog, clock):
    """Item 14: 绑定手机 does not reveal a bound number; one number gets at most 1 SMS a minute, 5 a day."""
    say("o_owner", "绑定手机 13800138000")
    say("o_owner", sms_codes(caplog)[-1])
    clock.advance(minutes=2)
    bound = say("o_p1", "绑定手机 13800138000").replace("138****8000", "X")
    clock.advance(minutes=2)
    free = say("o_p1", "绑定手机 13900139000").replace("139****9000", "X")
    assert bound == free
    clock.advance(minutes=2)
    replies = [say(f"o_q{i}", "绑定手机 13700137000") for i in range(3)]  # three accounts, one number, seconds apart
    assert "验证码已发送" in replies[0] and all("1 分钟后" in r for r in replies[1:])
    for i in range(4):
        clock.advance(minutes=2)
        assert "验证码已发送" in say(f"o_r{i}", "绑定手机 13700137000")
    clock.advance(minutes=2)
    assert "今天已向 137****7000 发送 5 次" in say("o_r9", "绑定手机 13700137000")
    assert SmsLog.select().where(SmsLog.phone == "13700137000").count() == 5


def test_the_number_clash_warning_only_counts_the_same_school(say, school, app, tmp_path, teacher):
    """Item 17: 2024001 verified at another school is no clash in this one."""
    assert import_file(app, tmp_path, ROSTER.encode(), school="别的大学").exit_code == 0
    openid, code = teacher
    assert "认证成功" in say("o_elsewhere", "认证 别的大学 2024001 张三 839201")
    say("o_a", f"加入 {code}")
    say("o_a", "2024001")
    say("o_a", "张三")
    assert "2024001 张三 · 未认证" in say(openid, "名单") and "⚠" not in say(openid, "名单")
    say("o_b", "认证 示范大学 2024001 张三 839201")
    assert "2024001 张三 · 未认证 ⚠学号已被他人认证" in say(openid, "名单")


def run_at_once(app, messages: list[tuple[str, str]]) -> list[str]:
    """Send (openid, text) messages all at once from threads, each on its own database connection."""

    dispatcher = app.extensions["ketang"].dispatcher
    replies = at_once(*(lambda n=n, openid=openid, text=text: dispatcher.handle(
        Inbound(openid=openid, key=f"msg:at-once-{n}", kind="text", text=text)) for n, (openid, text) in enumerate(messages)))
    assert len(replies) == len(messages) and not [r for r in replies if "系统繁忙" in r]
    return replies


def test_concurrent_guesses_never_pass_the_hourly_limit(app, school):
    """Item 14: 20 simultaneous wrong guesses, each on its own connection, record at most 5 failures each."""
    replies = run_at_once(app, [("o_x", f"教师认证 wrong{n}") for n in range(10)]
                          + [("o_x", f"认证 示范大学 20990{n:02d} 张三") for n in range(10)])
    for scope_name in ("invite", "auth"):
        assert FailedAttempt.select().where(FailedAttempt.scope == scope_name).count() == 5
    assert sum("邀请码不对" in r for r in replies) == 5 and sum("没有这个学号和姓名" in r for r in replies) == 4
    assert sum("尝试次数太多" in r for r in replies) == 11  # the 5th wrong 认证 already says no tries are left


def test_concurrent_binds_of_one_number_send_one_sms(app, caplog):
    replies = run_at_once(app, [(f"o_p{n}", "绑定手机 13800138000") for n in range(10)])
    assert sum("验证码已发送" in r for r in replies) == 1 and sum("1 分钟后" in r for r in replies) == 9
    assert SmsLog.select().count() == 1 and len(sms_codes(caplog)) == 1


def test_an_sms_gateway_that_is_down_is_said_and_not_counted(tmp_path, clock):
    """Item 16: a failing gateway used to reply 验证码已发送 and lock the account after 5 tries."""
    with SmsGateway(status=500) as gateway:
        app = build_app(tmp_path, clock, sms={"backend": "http", "url": gateway.url})
        wx = simulator_for(app)
        for _ in range(7):
            reply = wx.send_text("o_a", "绑定手机 13800138000")
            assert "短信没有发出去" in reply and "验证码已发送" not in reply, reply
        assert len(gateway.received) == 7 and SmsLog.select().count() == 0 and Dialog.select().count() == 0
        assert "没看懂" in wx.send_text("o_a", "123456")  # no code is pending
        # WeChat's retry of a message gets the same truthful reply.
        assert "短信没有发出去" in wx.send_text("o_a", "绑定手机 13800138000", msg_id=424242)
        assert "短信没有发出去" in wx.send_text("o_a", "绑定手机 13800138000", msg_id=424242)
        assert len(gateway.received) == 8
        gateway.status = 200
        assert "验证码已发送到 138****8000" in wx.send_text("o_a", "绑定手机 13800138000")
        code = re.search(r"(\d{6})", gateway.received[-1]["text"]).group(1)
        assert "绑定成功" in wx.send_text("o_a", code)


def test_an_http_sms_backend_without_url_refuses_to_start(tmp_path, clock):
    for url in ("", "gateway.local/sms"):
        with pytest.raises(ConfigError, match='sms.url must be .* when sms.backend = "http"'):
            build_app(tmp_path, clock, sms={"backend": "http", "url": url})


def test_cr_only_roster_imports(app, tmp_path):
    """Item 15: a file with old Mac line endings (CR only) used to crash with a traceback."""
    result = import_file(app, tmp_path, ROSTER.replace("\n", "\r").encode())
    assert result.exit_code == 0 and "3 added" in result.output, result.output
    assert RosterEntry.get(RosterEntry.student_no == "2024003").name == "王五"


def test_numbers_that_cannot_be_typed_are_refused_with_their_lines(app, tmp_path):
    long_no = "2" * 33
    data = f"student_no,name,auth_code\n2024_001,张三,1\n学2024003,李四,2\n2024004,王五,3\n{long_no},赵六,4\n"
    result = import_file(app, tmp_path, data.encode())
    assert result.exit_code != 0 and "nothing was imported" in result.output
    for line in ("line 2: student number '2024_001'", "line 3: student number '学2024003'",
                 f"line 5: student number '{long_no}'"):
        assert line in result.output
    assert "line 4" not in result.output and RosterEntry.select().count() == 0


def test_bad_names_in_a_roster_are_refused_with_their_lines(app, tmp_path):
    data = "student_no,name,auth_code\n2024001,=HYPERLINK(1),1\n2024002," + "长" * 70 + ",2\n2024003,王五,\n"
    result = import_file(app, tmp_path, data.encode())
    assert result.exit_code != 0 and "line 2: name" in result.output and "line 3: name" in result.output
    assert RosterEntry.select().count() == 0


def test_student_numbers_match_ignoring_case(app, tmp_path, say):
    data = "student_no,name,auth_code\nS2024001,张三,839201\n"
    assert import_file(app, tmp_path, data.encode()).exit_code == 0
    assert "认证成功：「示范大学」S2024001 张三" in say("o_a", "认证 示范大学 s2024001 张三 839201")
    again = import_file(app, tmp_path, "student_no,name,auth_code\ns2024001,张三丰,1\n".encode(), name="again.csv")
    assert "0 added, 1 updated" in again.output and RosterEntry.select().count() == 1
    # A row imported before numbers were upper-cased still matches.
    RosterEntry.create(school=School.get(), student_no="t2024009", name="王五", auth_hash=None)
    assert "已记录：「示范大学」T2024009 王五" in say("o_b", "认证 示范大学 T2024009 王五 暂无")
    twice = import_file(app, tmp_path, "学号,姓名,认证码\nS1,张三,1\ns1,李四,2\n".encode(), name="twice.csv")
    assert twice.exit_code != 0 and "line 3: student number S1 repeats line 2" in twice.output


def test_a_gbk_roster_with_the_chinese_header_imports(app, tmp_path, say):
    """Item 15: what Chinese Excel saves as CSV by default (GBK) used to be refused."""
    data = "学号,姓名,认证码\r\n2024001,张三,839201\r\n2024002,欧阳娜娜,\r\n".encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = import_file(app, tmp_path, data)
    assert result.exit_code == 0 and "2 added" in result.output, result.output
    assert RosterEntry.get(RosterEntry.student_no == "2024002").name == "欧阳娜娜"
    assert "认证成功" in say("o_a", "认证 示范大学 2024001 张三 839201")


def test_an_xlsx_roster_imports_and_a_bad_one_names_its_row(app, tmp_path, say):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in (("学号", "姓名", "认证码"), (2024001, "张三", 839201), ("s2024002", "李四", None), (None, None, None)):
        sheet.append(row)
    path = tmp_path / "roster.xlsx"
    book.save(path)
    result = app.test_cli_runner().invoke(args=["import-roster", "示范大学", str(path)])
    assert result.exit_code == 0 and "2 added" in result.output, result.output
    assert "认证成功" in say("o_a", "认证 示范大学 2024001 张三 839201")
    assert RosterEntry.get(RosterEntry.student_no == "S2024002").auth_hash is None
    sheet.append(("2024_003", "王五", "1"))
    book.save(path)
    bad = app.test_cli_runner().invoke(args=["import-roster", "示范大学", str(path)])
    assert bad.exit_code != 0 and "line 5: student number '2024_003'" in bad.output
