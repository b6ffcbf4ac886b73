"""What a first-week teacher and students hit (issue 11, and issue 10 item 7): each test failed before its fix."""

from __future__ import annotations

import csv
import io
import re

import pytest

from bot.catalogue import CATALOGUE, t
from bot.text import MAX_REPLY_BYTES
from bot.wxsim import WeChatSimulator
from handlers.commands import COMMANDS, command_list_markdown
from handlers.qr import qr_content
from handlers.teacher import MAX_ANNOUNCEMENT
from models import Classroom, Lesson, Outbox, User
from tests.conftest import build_app

CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")


# --- 1. long announcements: 公告 <序号> shows one whole, over pages; the list shows previews ---

def test_a_long_announcement_can_be_read_whole_page_by_page(say, teacher):
    openid, code = teacher
    say("o_a", f"加入 {code}")
    body = "".join(f"第{i:03d}句话。" for i in range(220))  # 1,540 characters, ~4,600 bytes
    assert "已发布" in say(openid, "发布公告 " + body)
    push = Outbox.get(Outbox.kind == "announcement").text  # one WeChat message: the start, and where the rest is
    assert len(push.encode("utf-8")) <= MAX_REPLY_BYTES and push.endswith("（未完，发送「公告」查看全文）")
    say(openid, "发布公告 明天停课")
    listing = say("o_a", "公告")  # newest first; 序号 count from the first ever posted, so they never move
    assert listing.index("2. 【08:00】明天停课") < listing.index("1. 【08:00】第000句话。")
    assert "第219句话" not in listing and "发送「公告 <序号>」看全文" in listing
    pages, reply = [], say("o_a", "公告 1")
    while True:
        assert len(reply.encode("utf-8")) <= MAX_REPLY_BYTES
        pages.append(reply)
        more = re.search(r"发送「公告 1 (\d+)」看下一页", reply)
        if not more:
            break
        say(openid, "发布公告 又一条")  # a new announcement between pages changes nothing
        reply = say("o_a", f"公告 1 {more.group(1)}")
    assert len(pages) >= 3 and "第 1/" in pages[0]
    text = "".join(re.sub(r"^【[^\n]*\n|\n（第 \d+/\d+ 页[^\n]*$", "", p) for p in pages)
    assert text == body  # every character, once, in order
    assert "没有第 9 条公告" in say("o_a", "公告 9")
    assert "Page 2/" in say("o_a", "notices 1 2")


def test_the_longest_announcement_is_documented_and_longer_is_refused(say, teacher):
    openid, code = teacher
    say("o_a", f"加入 {code}")
    refused = say(openid, "发布公告 " + "长" * (MAX_ANNOUNCEMENT + 1))
    assert f"最长 {MAX_ANNOUNCEMENT} 字" in refused and f"{MAX_ANNOUNCEMENT + 1} 字" in refused
    assert "定时" not in refused and Outbox.select().where(Outbox.kind == "announcement").count() == 0
    assert f"最长 {MAX_ANNOUNCEMENT} 字" in say(openid, "定时公告 2026-09-08 14:00 " + "长" * (MAX_ANNOUNCEMENT + 1))
    assert "已发布" in say(openid, "发布公告 " + "长" * MAX_ANNOUNCEMENT)
    with open("README.md", encoding="utf-8") as readme:
        assert f"{MAX_ANNOUNCEMENT:,} characters" in readme.read()


def test_unread_announcements_not_shown_stay_unread(say, teacher):
    """Issue 10 item 7: 公告 marks read only what it showed."""
    openid, code = teacher
    say("o_a", f"加入 {code}")
    for i in range(25):
        say(openid, f"发布公告 {i:02d}" + "通知内容" * 150)  # 602 characters each
    Outbox.update(status="unread").execute()  # nobody could be reached: all wait unread
    shown = say("o_a", "公告")
    assert "未读公告 · 25 条" in shown and "还有" in shown
    listed = len(re.findall(r"】\d\d通知内容", shown))
    assert 1 <= listed < 25
    left = Outbox.select().where(Outbox.status == "unread").count()
    assert left == 25 - listed
    assert f"你有 {left} 条未读公告" in shown
    assert "未读公告" in say("o_a", "公告")  # the rest are shown next


# --- 2. English typos get English suggestions ---

def test_an_all_ascii_message_is_answered_in_english(say, teacher):
    reply = say("o_a", "jion 123456")
    assert "Sorry, I did not understand" in reply and "“join <6-digit code>”" in reply
    assert "help" in reply and not CJK.search(reply)
    assert "没看懂" in say("o_a", "加如 123456")


# --- 3. help for a command of the other role ---

def test_help_for_the_other_roles_command_shows_its_usage_and_who_it_is_for(say, teacher):
    openid, code = teacher
    reply = say(openid, "帮助 签到")
    assert "用法：签到 [4位签到码]" in reply and "学生命令" in reply
    reply = say(openid, "help check in")
    assert "Usage: check in [4-digit code]" in reply and "student command" in reply
    say("o_a", f"加入 {code}")
    assert "教师命令" in say("o_a", "帮助 上课") and "teacher command" in say("o_a", "help start class")
    assert "Usage: roll call report" in say("o_a", "help roll call report")
    assert "没有叫「飞」的命令" in say("o_a", "帮助 飞")


# --- 4. every reply names commands in the language of the message ---

def _render_all(lang: str) -> dict[str, str]:
    rendered = {}
    for key, pair in CATALOGUE.items():
        fields = re.findall(r"\{(\w+)", pair[lang == "en"])
        rendered[key] = t(key, lang, **{f: 1 for f in fields if f not in ("cmd", "syntax")})
    return rendered


def test_no_english_reply_names_a_chinese_command(app):  # the app registers the classroom texts and commands
    for key, text in _render_all("en").items():
        assert not CJK.search(text), f"{key}: {text}"


def test_english_join_says_check_in_in_english(say, teacher):
    openid, code = teacher
    reply = say("o_a", f"join {code}")
    assert "send “check in” to check in" in reply and "“notices”" in reply
    assert "发送「签到」签到" in say("o_b", f"加入 {code}")


# --- 5. export identifies every row and says how many are unnamed ---

def test_export_labels_every_row_and_counts_the_unnamed(say, teacher, client):
    openid, code = teacher
    for student in ("o_aaaa1111", "o_bbbb2222"):
        say(student, f"加入 {code}")
    User.update(name="张三", student_no="2024001").where(User.openid == "o_bbbb2222").execute()
    reply = say(openid, "导出")
    assert "1 名学生没有姓名" in reply
    url = re.search(r"https://ketang\.example\.edu(/export/\S+)", reply).group(1)
    rows = list(csv.reader(io.StringIO(client.get(url).get_data().decode("utf-8-sig"))))
    assert rows[0][:4] == ["学生", "学号", "姓名", "认证"]
    labels = [row[0] for row in rows[1:]]
    assert sorted(labels) == ["张三", "未实名(1111)"]
    assert "1 student has no name" in say(openid, "export")


# --- 6. a teacher with several classes ---

def test_a_teacher_with_several_classes_is_asked_which(say, teacher):
    openid, code = teacher
    created = say(openid, "创建课堂 线性代数")
    assert "进入 <序号>" in created
    reply = say(openid, "上课")
    assert "你有多个课堂" in reply and "1. 高等数学" in reply and "2. 线性代数" in reply
    assert Lesson.select().count() == 0


def test_a_teacher_never_has_two_lessons_in_session_at_once(say, teacher):
    openid, code = teacher
    say(openid, "创建课堂 线性代数")
    say(openid, "进入 1")
    say(openid, "上课")
    say(openid, "开启签到 5")
    say(openid, "进入 2")
    reply = say(openid, "上课")
    assert "「高等数学」已先下课" in reply and "关闭了 1 个" in reply and "「线性代数」开始上课" in reply
    assert Lesson.select().where(Lesson.live == 1).count() == 1


# --- 7. the small wrong answers ---

def test_announce_says_how_many_get_a_push_now_and_how_many_see_it_unread(say, teacher, app):
    openid, code = teacher
    for student in ("o_a", "o_b", "o_c"):
        say(student, f"加入 {code}")
    User.update(subscribed=False).where(User.openid == "o_c").execute()
    reply = say(openid, "发布公告 明天停课")  # no app_secret: nobody can be pushed
    assert "现在推送给 0 名学生" in reply and "2 名学生下次发消息时会看到未读提醒" in reply
    assert "1 名学生已取消关注" in reply


def test_classes_beyond_one_reply_end_with_how_many_more(say, teacher):
    openid, _ = teacher
    for i in range(60):
        say(openid, f"创建课堂 {'很长的课堂名称' * 4}{i}")
    reply = say(openid, "我的课堂")
    assert re.search(r"…… 还有 \d+ 条", reply) and "发送「进入 <序号>」" in reply


def test_roll_call_beyond_the_limit_states_the_limit(say, teacher):
    openid, _ = teacher
    assert "人数1-99" in say(openid, "点名 200")


def test_fill_in_quiz_push_asks_for_an_answer_not_an_option(say, teacher):
    openid, code = teacher
    say("o_a", f"加入 {code}")
    say(openid, "上课")
    say(openid, "练习 =北京/北平 3 中国的首都是？")
    push = Outbox.select().where(Outbox.kind == "activity").get().text
    assert "答 <答案>" in push and "选项" not in push
    say(openid, "结束")
    say(openid, "练习 B 3 1+1=? A.1 B.2")
    push = Outbox.select().where(Outbox.kind == "activity").order_by(Outbox.id.desc()).get().text
    assert "1+1=? A.1 B.2" in push and "「B」" in push and "「答 B」" in push  # issue 19 item 4: the question itself


def test_fill_in_results_group_answers_graded_the_same(say, teacher):
    openid, code = teacher
    for student in ("o_a", "o_b", "o_c", "o_d"):
        say(student, f"加入 {code}")
    say(openid, "上课")
    say(openid, "练习 =北京/北平/beiping 3 中国的首都是？")
    for student, text in (("o_a", "答 北平"), ("o_b", "答 北 平"), ("o_c", "答 ＢＥＩＰＩＮＧ"), ("o_d", "答 beiping")):
        say(student, text)
    reply = say(openid, "结果")
    bars = [line for line in reply.split("\n") if "█" in line]
    assert len(bars) == 2, reply
    assert any(line.startswith("北平 ") and line.endswith(" 2 ✓") for line in bars)


def test_scheduled_list_shows_the_year(say, teacher):
    openid, _ = teacher
    say(openid, "定时公告 2027-01-05 14:00 期末考试")
    assert "2027-01-05 14:00 期末考试" in say(openid, "定时列表")


def test_join_page_of_a_class_that_does_not_exist_is_404(client, say, teacher, app):

    openid, code = teacher
    with app.app_context():
        page = qr_content(app.extensions["ketang"], code).replace("https://ketang.example.edu", "")
    assert client.get(page).status_code == 200 and f"加入 {code}" in client.get(page).get_data(as_text=True)
    Classroom.delete().execute()  # the class is gone; its printed QR code still points here
    gone = client.get(page)
    assert gone.status_code == 404 and f"没有课堂码为 {code} 的课堂" in gone.get_data(as_text=True)
    # Without the QR's signature the page gives no verdict (no way around the chat's guess limit).
    for probe in ("/join/000000", f"/join/{code}", f"/join/000000?k={page.split('k=')[1]}"):
        answer = client.get(probe)
        assert answer.status_code == 404 and "无法确认课堂" in answer.get_data(as_text=True)


# --- 8. links use the address actually served when public_url is unset ---

def test_links_follow_the_served_address_when_public_url_is_unset(tmp_path, clock):

    app = build_app(tmp_path, clock, aes=False, server={"public_url": ""})
    app.test_cli_runner().invoke(args=["make-teacher", "o_teacher"])
    client, kt = app.test_client(), app.extensions["ketang"]
    wechat = WeChatSimulator.in_process(app, base_url="http://127.0.0.1:8077")
    reply = wechat.send_text("o_teacher", "创建课堂 高等数学")
    assert "http://127.0.0.1:8077/qr/" in reply, reply
    assert "http://127.0.0.1:8077/export/" in wechat.send_text("o_teacher", "导出")
    qr = re.search(r"http://127\.0\.0\.1:8077(/qr/\S+\.png)", reply).group(1)
    assert client.get(qr, base_url="http://127.0.0.1:8077").status_code == 200
    info = app.test_cli_runner().invoke(args=["info", "--local", "http://127.0.0.1:8077/wechat"])
    assert "URL            http://127.0.0.1:8077/wechat" in info.output
    with app.app_context(), pytest.raises(RuntimeError, match="public_url is not set"):
        kt.links.url("/export/x.csv")  # outside a request (the scheduler) there is no served address to use


# --- 9. English plurals ---

def test_english_plurals(say, teacher):
    openid, code = teacher
    say("o_a", f"join {code}")
    say(openid, "start class")
    say(openid, "open checkin 5")
    say("o_a", "check in")
    reply = say(openid, "end class")
    assert "1 open activity closed" in reply and "1/1 checked in" in reply
    for key, text in _render_all("en").items():
        assert not re.search(r"\b1 (activities|students|posts|signals|codes|tries|minutes|classes)\b", text), key
        assert "(s)" not in text and "(es)" not in text, key


# --- the README's command list is the table ---

def test_readme_command_list_is_generated_from_the_table():
    with open("README.md", encoding="utf-8") as readme:
        assert command_list_markdown() in readme.read(), "run `make readme`"
    assert all(c.examples for c in COMMANDS)
