"""Identity: roster import, verification (one line and guided), phones, and every anomaly of the guide."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from models import Dialog, Membership, RosterEntry, School, User
from tests.conftest import build_app, simulator_for

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


def test_bad_encoding_is_reported_with_its_line(app, tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes("student_no,name,auth_code\n2024001,张三,1\n".encode("gbk"))
    result = app.test_cli_runner().invoke(args=["import-roster", "某大学", str(path)])
    assert result.exit_code != 0 and "line 2: not UTF-8" in result.output
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
    assert "名单里没有学号 2099999" in say("o_a", "认证 示范大学 2099999 张三 1")
    assert "姓名与学号 2024001" in say("o_a", "认证 示范大学 2024001 张四 839201")
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
    refused = say("o_new", "绑定手机 13800138000")
    assert "已绑定在另一个账号上" in refused and "release-phone" in refused
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


def test_http_sms_backend_posts_json(tmp_path, clock):
    received = []

    class Gateway(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/sms"
        app = build_app(tmp_path, clock, sms={"backend": "http", "url": url})
        wx = simulator_for(app)
        assert "验证码已发送到 138****8000" in wx.send_text("o_a", "绑定手机 13800138000")
        assert received and received[0]["phone"] == "13800138000"
        code = re.search(r"(\d{6})", received[0]["text"]).group(1)
        assert "绑定成功" in wx.send_text("o_a", code)
    finally:
        server.shutdown()
        server.server_close()
