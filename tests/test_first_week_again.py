"""A teacher's first week, again (issue 19 items 4, 7-11): each test failed before its fix."""

from __future__ import annotations

import re

import pytest

from models import Classroom, Dialog, Outbox, Response, User

ROSTER = "student_no,name,auth_code\n2024001,张三,839201\n2024002,李四,551177\nE2024009,Anne-Marie O'Neil,424242\n"


@pytest.fixture
def school(app, tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER, encoding="utf-8")
    assert app.test_cli_runner().invoke(args=["import-roster", "示范大学", str(path)]).exit_code == 0
    return "示范大学"


@pytest.fixture
def lesson(say, teacher):
    """A class in session with a Chinese student o_a and an English one o_e; returns the teacher's openid."""
    openid, code = teacher
    say("o_a", f"加入 {code}")
    assert "Joined" in say("o_e", f"join {code}")
    say(openid, "上课")
    return openid


def pushes(kind: str, openid: str) -> list[str]:
    return [row.text for row in Outbox.select().join(User).where((Outbox.kind == kind) & (User.openid == openid))
            .order_by(Outbox.id)]


# --- 4. the question on the phone ---

def test_the_quiz_push_and_answer_alone_show_the_question_options_and_time_left(say, lesson, clock):
    say(lesson, "练习 B 3 1+1=? A.1 B.2 C.3")
    push = pushes("activity", "o_a")[-1]
    assert "1+1=? A.1 B.2 C.3" in push and "还剩 3 分钟" in push and "08:03 截止" in push and "「B」" in push
    clock.advance(seconds=70)
    shown = say("o_a", "答")
    assert "1+1=? A.1 B.2 C.3" in shown and "还剩 2 分钟" in shown and "格式不对" not in shown
    assert "1 minute left" not in say("o_e", "answer") and "2 minutes left" in say("o_e", "answer")


def test_a_bare_option_answers_the_open_quiz_or_survey(say, lesson):
    say(lesson, "练习 B 3 1+1=? A.1 B.2 C.3")
    assert "已提交答案 B" in say("o_a", "b")
    assert "答案已从 B 改为 C" in say("o_a", "C")
    say(lesson, "结束")
    say(lesson, "练习 AC 3 哪些是质数？A.2 B.4 C.5")
    assert "已提交答案 AC" in say("o_a", "ac")
    say(lesson, "结束")
    say(lesson, "练习 对 2 地球是圆的")
    assert "已提交答案 对" in say("o_a", "对")
    assert "答案已从 对 改为 错" in say("o_a", "false")  # a bare English answer keeps a Chinese student Chinese
    say(lesson, "结束")
    say(lesson, "问卷 3 2 今天的节奏？A.太快 B.正好 C.太慢")
    assert "已提交：A" in say("o_a", "A")
    assert Response.select().count() == 4


def test_a_student_who_became_a_teacher_answers_no_quiz_with_a_bare_letter(say, lesson):
    """A member who turned teacher (教师认证) is no longer a student of the class: a bare B during its quiz is not
    taken as their answer (they are told it was not understood) and nothing is written. Two things keep it so,
    each enough alone: becoming a teacher ends one's student memberships, and bare answers skip teachers."""
    say("o_a", "教师认证 JOIN-STAFF")
    say(lesson, "练习 B 3 1+1=? A.1 B.2 C.3")
    reply = say("o_a", "B")
    assert "已提交" not in reply and Response.select().count() == 0


def test_a_bare_answer_steals_no_command_dialog_reply_or_free_text(say, lesson, school):
    assert "没看懂「B」" in say("o_a", "B")  # nothing open: not understood, in Chinese
    say(lesson, "练习 =北京/北平 3 中国的首都是？")
    assert "没看懂" in say("o_a", "北京")  # a fill-in needs 答: any text would be taken as an answer
    assert "没看懂" in say("o_a", "A") and Response.select().count() == 0
    say(lesson, "结束")
    say(lesson, "练习 B 3 1+1=? A.1 B.2 C.3")
    assert "只有教师" not in say(lesson, "B") and Response.select().count() == 0  # a teacher's B is no answer
    say("o_a", "认证")  # a dialog: its step takes the bare text
    assert "第 2 步" in say("o_a", "示范大学")
    assert "姓名" in say("o_a", "B") and Response.select().count() == 0
    say("o_a", "取消")
    assert "已提交答案 B" in say("o_a", "B")


def test_a_bare_c_is_answered_in_the_users_language(say, teacher):
    assert "没看懂「C」" in say("o_a", "C")  # a Chinese user (everyone starts in Chinese)
    say("o_a", "help")
    assert "did not understand" in say("o_a", "C")  # an English one
    say("o_a", "帮助")
    assert "没看懂「AC」" in say("o_a", "AC")


def test_a_bare_class_code_outside_a_class_suggests_joining(say, teacher):
    _, code = teacher
    assert f"「加入 {code}」" in say("o_a", code)
    say("o_a", f"加入 {code}")
    assert "加入" not in say("o_a", "123456")  # in a class: no guess


# --- 8. one language end to end ---

def test_pushes_are_written_in_each_recipients_language(say, lesson, clock):
    say(lesson, "练习 B 3 1+1=? A.1 B.2 C.3")
    assert "Single-choice quiz in “高等数学”" in pushes("activity", "o_e")[-1]
    assert "单选题" in pushes("activity", "o_a")[-1]
    say(lesson, "发布公告 明天停课")
    assert pushes("announcement", "o_e") == ["[“高等数学” announcement] 明天停课"]
    assert pushes("announcement", "o_a") == ["【「高等数学」公告】明天停课"]
    say(lesson, "开启签到")
    say("o_e", "check in")
    say(lesson, "下课")
    assert pushes("lesson_summary", "o_e")[0].startswith("“高等数学” has ended. Attendance: present; Quizzes: 0/1")
    assert "签到：缺勤" in pushes("lesson_summary", "o_a")[0]


def test_a_menu_tap_and_a_dialog_step_answer_in_the_users_language(say, teacher, school):
    say("o_e", "classes")
    assert "You have not joined a class" in say.event("o_e", "click", "我的课堂")
    assert "Step 1" in say("o_e", "verify")
    assert "Step 2" in say("o_e", "示范大学")  # a plain reply keeps the dialog's language
    assert "Send your name" in say("o_e", "e2024009")
    assert User.get(User.openid == "o_e").lang == "en"


def test_a_roll_call_reply_is_one_language(say, lesson):
    say(lesson, "开启签到")
    say("o_a", "签到")
    say("o_e", "check in")
    reply = say(lesson, "roll call 2")
    assert reply.startswith("Called: ") and not re.search(r"[、\u4e00-\u9fff]", reply.split("\n")[0]), reply


# --- 9. identity rough edges ---

def test_a_wrong_code_in_the_guided_verification_keeps_the_dialog_for_the_tries_left(say, school):
    say("o_a", "认证")
    say("o_a", "示范大学")
    say("o_a", "2024001")
    say("o_a", "张三")
    wrong = say("o_a", "111111")
    assert "还可以再试 4 次" in wrong and "再发送认证码" in wrong and Dialog.select().count() == 1
    assert "认证成功" in say("o_a", "839201")  # the right code next is read as the code, not "没看懂"
    assert Dialog.select().count() == 0


def test_one_line_verification_takes_a_name_with_a_space(say, school):
    assert "Recorded: E2024009 Anne-Marie O'Neil" in say("o_f", "verify 示范大学 E2024009 Anne-Marie O'Neil")
    assert "认证成功" in say("o_e", "认证 示范大学 E2024009 “Anne-Marie O'Neil” 424242")
    assert "认证成功" in say("o_g", "认证 示范大学 2024002 李四 551177")


def test_one_label_for_a_student_without_a_name_and_mark_accepts_it(say, lesson):
    tail = "o_a"[-4:]
    say(lesson, "开启签到")
    roster = say(lesson, "名单")
    assert f"— 未实名({tail})" in roster and "未填姓名" not in roster
    assert f"未实名({tail})" in say(lesson, "签到情况")
    assert "请假" in say(lesson, f"改签 未实名({tail}) 请假")
    assert Response.get().status == "excused"
    assert f"unnamed({tail})" in say(lesson, "roster")


def test_wrong_class_codes_say_the_tries_left_from_the_fifth(say, teacher):
    replies = [say("o_a", f"加入 {100000 + i}") for i in range(10)]
    assert all("还可以再试" not in r for r in replies[:4])
    assert "还可以再试 5 次" in replies[4] and "还可以再试 1 次" in replies[8] and "60 分钟后再试" in replies[9]


# --- 7. menu buttons that need an argument start a guided dialog; 更多 lists what the menu lacks ---

def test_the_quiz_button_guides_the_teacher_step_by_step(say, lesson):
    first = say.event(lesson, "click", "练习")
    assert "第 1 步" in first and "格式不对" not in first
    assert "第 2 步" in say(lesson, "地球是圆的吗？")
    assert "第 3 步" in say(lesson, "无")
    assert "最后一步" in say(lesson, "对")
    assert "格式不对" not in (done := say(lesson, "2")) and "判断题已发布" in done and "08:02 截止" in done
    assert "地球是圆的吗？" in pushes("activity", "o_a")[-1]
    say(lesson, "结束")
    say(lesson, "练习")
    say(lesson, "1+1=? A.1 B.2 C.3")  # options with the question: straight to the answer
    assert "不在选项 A/B/C 中" in say(lesson, "D")  # said at once, and asked again
    say(lesson, "B")
    assert "单选题已发布" in say(lesson, "默认")
    say(lesson, "结束")
    say(lesson, "help")  # an English teacher taps the same button: the dialog speaks English
    assert "Step 1: send the question" in say.event(lesson, "click", "练习")
    assert "Step 2" in say(lesson, "地球是圆的吗？")  # a Chinese question inside the dialog keeps it English


def test_the_announce_button_asks_for_the_text(say, lesson):
    assert "请发送公告内容" in say.event(lesson, "click", "发布公告")
    assert "最长 2000 字" in say(lesson, "长" * 2001)  # refused: the dialog stays for a shorter one
    assert "公告已发布" in say(lesson, "明天停课 Room 302")
    assert pushes("announcement", "o_a") == ["【「高等数学」公告】明天停课 Room 302"]


def test_a_student_is_told_quiz_is_a_teacher_command(say, lesson):
    reply = say("o_a", "练习")
    assert "只有教师可以使用" in reply and "格式不对" not in reply


def test_more_and_help_name_every_teacher_command_not_on_the_menu(say, lesson):
    more = say.event(lesson, "click", "更多")
    for name in ("投屏", "结束投屏", "问卷", "讨论", "导出", "名单", "隐藏", "定时列表"):
        assert f"• {name}" in more, name
    assert "更多" in say(lesson, "帮助")
    for openid, text in ((lesson, "help"), ("o_a", "help"), (lesson, "more"), (lesson, "帮助")):
        reply = say(openid, text)
        assert reply.rstrip().endswith(("leaves the current step.", "to switch (this leaves classes joined as a student).",
                                        "退出当前操作。")), reply[-80:]


# --- 10. small wrong answers ---

def test_the_check_in_push_asks_for_the_code_when_one_is_needed(say, lesson):
    say(lesson, "开启签到 5 口令")
    assert "「签到 <签到码>」" in pushes("activity", "o_a")[-1]
    assert "“check in <code>”" in pushes("activity", "o_e")[-1]
    say(lesson, "结束")
    say(lesson, "开启签到")
    assert "「签到」" in pushes("activity", "o_a")[-1] and "签到码" not in pushes("activity", "o_a")[-1]


def test_an_announcement_counts_current_student_members_only(say, lesson):
    say("o_e", "leave 1")
    assert "你已成为教师" in say("o_a", "教师认证 JOIN-STAFF")
    say("o_b", f"加入 {Classroom.get().code}")
    reply = say(lesson, "发布公告 明天停课")
    assert "现在推送给 0 名学生" in reply and "1 名学生下次发消息时" in reply, reply
    assert len(pushes("announcement", "o_b")) == 1 and not pushes("announcement", "o_a")


def test_a_student_is_never_suggested_a_teacher_command(say, teacher):
    reply = say("o_a", "练西")
    assert "练习" not in reply
    assert "练习" in say(teacher[0], "练西")


def test_the_lost_reply_says_the_count_is_shown_not_who(say, lesson):
    reply = say("o_a", "不懂")
    assert "只显示有几个人没听懂" in reply and "不显示是谁" in reply
    assert "never who" in say("o_e", "lost")


def test_a_student_who_became_a_teacher_stays_in_the_export_by_name_marked(say, client, app, school):
    import csv
    import io

    assert app.test_cli_runner().invoke(args=["make-teacher", "o_teacher", "--school", "示范大学"]).exit_code == 0
    say("o_teacher", "创建课堂 高等数学")
    say("o_a", f"加入 {Classroom.get().code}")
    say("o_a", "2024001")
    say("o_a", "张三")
    say("o_teacher", "上课")
    say("o_teacher", "开启签到")
    say("o_a", "签到")
    say("o_teacher", "下课")
    say("o_a", "教师认证 JOIN-STAFF")
    for text, header, row in (("导出", "学生", ["张三", "", "张三", "已转为教师", "已到"]),
                              ("export", "student", ["张三", "", "张三", "now a teacher", "present"])):
        url = re.search(r"https://ketang\.example\.edu(/export/\S+)", say("o_teacher", text)).group(1)
        rows = list(csv.reader(io.StringIO(client.get(url).get_data().decode("utf-8-sig"))))
        assert rows[0][0] == header and rows[1][:5] == row, rows


def test_the_screen_never_says_answered_0_of_0(app, clock):
    from tests.test_screen import Room

    room = Room(app, clock)
    room.paired()
    room.teacher("上课")
    room.teacher("开启签到")  # nobody checks in
    room.teacher("练习 B 3 1+1=? A.1 B.2 C.3")
    page = room.page()
    assert f"已作答 0 / {len(room.students)}" in re.sub(r"<[^>]+>", "", page)  # the class, not the 0 who checked in


# --- 11. the simulator and the pages ---

def test_the_screen_and_link_pages_name_the_menu_button_as_it_is(app, clock, client):
    from handlers.menu import STUDENT_MENU
    from tests.test_screen import Room

    scanners = {b["name"] for b in STUDENT_MENU["button"] if b.get("type") == "scancode_waitmsg"}
    room = Room(app, clock)
    room.paired()
    room.teacher("上课")
    room.teacher("开启签到")
    pages = [room.page(), client.get("/c/whatever").get_data(as_text=True)]
    for page in pages:
        named = re.findall(r"菜单[^「]{0,4}「(?:<b>)?([^」<]+)", page)
        assert named and set(named) <= scanners, named


def test_a_voice_message_with_a_transcription_is_read_as_text_and_a_photo_is_named(wechat, lesson):
    def say_voice(text):
        return wechat.deliver(wechat.voice_xml("o_a", text))

    assert "没有开启签到" in say_voice("签到。")  # WeChat's transcription ends with 。: a command all the same
    assert "收到你的语音" in say_voice("")  # no transcription: named, as before
    assert "收到你的图片" in wechat.deliver(wechat.image_xml("o_a"))


def test_the_simulator_passes_long_messages_to_the_webhook_and_says_when_too_long(tmp_path, clock):
    from tests.test_simulator import Phones, local_app

    app = local_app(tmp_path, clock)
    phones = Phones(app)
    assert app.test_cli_runner().invoke(args=["make-teacher", "o_sim_teacher"]).exit_code == 0
    phones.send("o_sim_teacher", "text", "创建课堂 高等数学")
    assert "最长 2000 字" in phones.send("o_sim_teacher", "text", "发布公告 " + "长" * 2001)  # the handler's answer
    assert "公告已发布" in phones.send("o_sim_teacher", "text", "发布公告 " + "长" * 2000)
    refused = phones.client.post("/simulator/send", json={"openid": "o_sim_teacher", "action": "text", "value": "长" * 4001})
    assert refused.status_code == 400 and "消息太长：4001 字" in refused.get_json()["error"]
    assert "收到你的图片" in phones.send("o_sim_student1", "image")
    assert "你还没有加入课堂" in phones.send("o_sim_student1", "voice", "签到。")
    assert "[语音] 签到。" in phones.bubbles("o_sim_student1", "user")


def test_info_warns_when_the_simulators_api_is_not_this_server(tmp_path, clock):
    from tests.test_simulator import local_app

    app = local_app(tmp_path, clock)  # api_base_url on port 8000
    moved = app.test_cli_runner().invoke(args=["info", "--local", "http://127.0.0.1:8001/wechat"])
    assert "WARNING: [wechat] api_base_url is http://127.0.0.1:8000/simulator/api" in moved.stderr
    assert 'api_base_url = "http://127.0.0.1:8001/simulator/api"' in moved.stderr
    for local in ("http://127.0.0.1:8000/wechat", "http://localhost:8000/wechat"):  # loopback names are one server
        same = app.test_cli_runner().invoke(args=["info", "--local", local])
        assert same.exit_code == 0 and "WARNING: [wechat] api_base_url" not in same.stderr


def test_the_readme_demo_roster_command_loads_a_school_to_verify_against(app, say):
    with open("README.md", encoding="utf-8") as readme:
        text = readme.read()
    line = re.search(r"`\.venv/bin/flask --app app (import-roster \S+ docs/demo-roster\.csv)`", text).group(1)
    assert app.test_cli_runner().invoke(args=line.split()).exit_code == 0
    example = re.search(r"`(认证 示范大学 E2024009 \"Anne-Marie O'Neil\" \d+)`", text).group(1)
    assert "认证成功" in say("o_a", example)
    assert "teacher_invite_code" in text.split("### The web simulator")[1].split("## Connect")[0]


CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")


def test_an_english_lesson_is_english_end_to_end_replies_and_pushes(say, app):
    """Names are data; every frame, separator and list line around them is in the user's language."""
    assert app.test_cli_runner().invoke(args=["make-teacher", "o_t"]).exit_code == 0
    out = []

    def s(who, text):
        reply = say(who, text)
        out.append((who, text, reply))
        return reply

    s("o_t", "create class Calculus")
    code = Classroom.get().code
    for st in ("o_s1", "o_s2"):
        s(st, f"join {code}")
    for cmd in ["help", "more", "classes", "qr", "start class", "open checkin 5 code", "attendance", "roster",
                "quiz c 2 Capital of France? A.Rome B.Bonn C.Paris", "results", "roll call", "roll call report", "lost report",
                "export", "announce Room 302", "scheduled", "announce at 2026-09-08 14:00 Room change",
                "survey 2 Pace OK? A.yes B.no", "close", "discuss 5 Derivatives", "extend 3", "results", "close",
                "mark unnamed(o_s1) late", "end class", "me", "notices", "quiz", "announce", "cancel", "xyz"]:
        s("o_t", cmd)
    for cmd in ("start class", "open checkin 5", "discuss 5 Derivatives"):
        s("o_t", cmd)
    for cmd in ["help", "more", "check in", "answer", "record", "notices", "lost", "say hello there", "here", "me", "say hi",
                "C", "123456", "verify", "cancel", "leave 1", "classes", "quiz"]:
        s("o_s1", cmd)
    pushed = [("push", row.kind, row.text) for row in Outbox.select()]
    # 【08:00】 marks an entry's time in lists (a user's 【】 are shown as 〔〕): punctuation, not language
    mixed = [(w, t, r) for w, t, r in out + pushed if CJK.search(re.sub(r"【\d\d:\d\d】", "", r))]
    assert not mixed, mixed


def test_a_bare_answer_and_a_menu_tap_keep_the_statement_budget(wechat, clock, app):
    """The bare B is a hot path (a class answers at once): the touch keeps the language with no statement more."""
    from tests.test_statements import sent_by, within_budget

    assert app.test_cli_runner().invoke(args=["make-teacher", "o_t"]).exit_code == 0
    code = re.search(r"(\d{6})", wechat.send_text("o_t", "创建课堂 高等数学")).group(1)
    wechat.send_text("o_s1", f"join {code}")
    wechat.send_text("o_t", "上课")
    wechat.send_text("o_t", "练习 B 3 1+1=? A.1 B.2 C.3")
    reply, sent = sent_by(wechat, clock, "o_s1", "b")
    assert "Answer B saved" in reply  # in the student's language, kept by the touch
    within_budget(sent, "answer")
    reply, sent = sent_by(wechat, clock, "o_s1", "答 C")
    assert "已提交答案" in reply or "答案已从 B 改为 C" in reply
    within_budget(sent, "changed answer")
