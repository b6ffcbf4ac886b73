"""The classroom's command table: one row per command; help, usage lines and the README list derive from it."""

from __future__ import annotations

from bot.grammar import Arg, Command, Role, en, zh
from bot.plugin import Flow
from handlers import account, attendance, common, records, results, roster, scheduled_announcements, student, teacher

DATE = Arg("date", r"\d{4}-\d{1,2}-\d{1,2}", "YYYY-MM-DD HH:MM", "YYYY-MM-DD HH:MM")
CODE = Arg("code", r"\d{6}", "6位课堂码", "6-digit code")
REF = Arg("ref", r"\d{1,6}", "序号或课堂码", "n or code")
MINUTES = Arg("minutes", r"600|[1-5]\d\d|[1-9]\d?", "分钟1-600", "minutes 1-600", int, optional=True, default=5)
WITH_CODE = Arg("passcode", r"口令|code", "口令", "code", lambda _: True, optional=True, default=False)
CHECKIN_CODE = Arg("passcode", r"\d{4}", "4位签到码", "4-digit code", optional=True)
CORRECT = Arg("correct", r"[a-h]{1,8}|对|错|[tf]|true|false|√|×|=\S+", "正确答案", "answer")
INVITE = Arg("invite", r"\S{1,64}", "邀请码", "invite-code")


SCHOOL = Arg("school", r"\S{1,64}", "学校", "school", optional=True)
# Student numbers are matched ignoring case: the canonical form is upper case (handlers/account.py).
STUDENT_NO = Arg("student_no", r"[a-z0-9-]{1,32}", "学号", "student-no", str.upper, optional=True)
NAME = Arg("name", r"\S{1,32}", "姓名", "name", optional=True)
AUTH = Arg("auth", r"\S{1,64}", "认证码", "auth-code", optional=True)
PHONE = Arg("phone", r"1[3-9]\d{9}", "手机号", "mobile number")
SMS_CODE = Arg("code", r"\d{6}", "6位验证码", "6-digit code")
NUMBER = Arg("student_no", r"[a-z0-9-]{1,32}", "学号", "student-no", str.upper)
STATUS = Arg("status", r"已到|到|迟到|请假|缺勤|旷课|present|late|excused|absent", "已到|迟到|请假|缺勤",
             "present|late|excused|absent")
EXTRA = Arg("minutes", r"600|[1-5]\d\d|[1-9]\d?", "分钟1-600", "minutes 1-600", int)
OPTION_COUNT = Arg("count", r"[2-8]", "选项数2-8", "options 2-8", int)
PICK = Arg("count", r"[1-9]\d?", "人数1-99", "n 1-99", int, optional=True, default=1)
SCHEDULED_NO = Arg("number", r"[1-9]\d?", "序号", "n", int)
ACTIVITY_NO = Arg("number", r"[1-9]\d?", "序号", "n", int, optional=True)
NOTICE_NO = Arg("number", r"[1-9]\d{0,3}", "序号", "n", int, optional=True)
PAGE = Arg("page", r"[1-9]\d?", "页", "page", int, optional=True)


def rest(name: str, hint_zh: str, hint_en: str) -> Arg:
    return Arg(name, r".+", hint_zh, hint_en, rest=True)


S, T = Role.STUDENT, Role.TEACHER

COMMANDS: tuple[Command, ...] = (
    # everyone
    Command("help", common.help, zh("帮助", "菜单", "?") + en("help", "menu"), (rest("topic", "命令", "command").but(optional=True),),
            Role.ANY, "查看命令（带命令名看详细用法）", "list commands (name one for details)", ("帮助", "帮助 签到", "help"),
            escape=True),
    Command("cancel", common.cancel, zh("取消") + en("cancel"), (),
            Role.ANY, "退出当前操作", "leave the current step", ("取消", "cancel"), escape=True),
    Command("me", common.me, zh("我的信息") + en("me"), (),
            Role.ANY, "我的身份和信息", "my role and details", ("我的信息", "me"), reads=True),
    Command("become_teacher", common.become_teacher, zh("教师认证") + en("teacher"), (INVITE,),
            Role.ANY, "用邀请码成为教师", "become a teacher with the invite code", ("教师认证 abc123", "teacher abc123")),
    Command("verify", account.verify, zh("认证") + en("verify"), (SCHOOL, STUDENT_NO, NAME, AUTH),
            S, "学号认证（不带参数则一步步引导）", "verify your student number (alone: guided)",
            ("认证 示范大学 2024001 张三 839201", "认证 示范大学 2024001 张三 暂无认证码", "认证", "verify")),
    Command("bind_phone", account.bind_phone, zh("绑定手机", "绑定手机号") + en("bind phone"), (PHONE,),
            Role.ANY, "绑定手机（短信验证码）", "bind a phone (SMS code)", ("绑定手机 13800138000", "bind phone 13800138000")),
    Command("verify_code", account.phone_code, zh("验证码") + en("code"), (SMS_CODE,),
            Role.ANY, "回复短信验证码", "reply with the SMS code", ("验证码 123456", "code 123456")),
    Command("unbind_phone", account.unbind_phone, zh("解绑手机") + en("unbind phone"), (),
            Role.ANY, "解绑手机", "unbind the phone", ("解绑手机", "unbind phone")),
    Command("classes", student.classes, zh("我的课堂") + en("classes"), (),
            Role.ANY, "我的课堂列表", "my classes", ("我的课堂", "classes"), reads=True),
    Command("enter", student.enter, zh("进入") + en("enter"), (REF,),
            Role.ANY, "切换当前课堂", "choose the current class", ("进入 1", "enter 2")),
    Command("notices", student.notices, zh("公告", "查看公告") + en("notices"), (NOTICE_NO, PAGE),
            Role.ANY, "查看当前课堂公告（带序号看全文，长的分页）", "the current class's announcements (n: one in full, by page)",
            ("公告", "公告 1", "公告 1 2", "notices", "notices 1")),
    # students
    Command("join", student.join, zh("加入", "加入课堂") + en("join"), (CODE,),
            S, "加入课堂", "join a class", ("加入 123456", "加入课堂123456", "join 123456")),
    Command("check_in", student.check_in, zh("签到") + en("check in", "checkin"), (CHECKIN_CODE,),
            S, "签到（有签到码时带上）", "check in (with the code if asked)", ("签到", "签到 1234", "check in")),
    Command("answer", student.answer, zh("答", "回答") + en("answer"), (rest("text", "答案", "answer"),),
            S, "回答练习或问卷（B、AC、对/错、填空）", "answer the quiz or survey (B, AC, true/false, text)",
            ("答 B", "答B", "答 AC", "答 对", "answer b")),
    Command("say", student.say, zh("发言") + en("say"), (rest("text", "内容", "text"),),
            S, "在讨论中发言", "post to the discussion", ("发言 我认为答案是 42", "say I think it is 42")),
    Command("lost", student.lost, zh("不懂") + en("lost"), (rest("note", "说明", "note").but(optional=True),),
            S, "匿名告诉老师没听懂", "tell the teacher anonymously you are lost", ("不懂", "不懂 第二步没看明白", "lost")),
    Command("here", attendance.here, zh("到") + en("here"), (),
            S, "被点名时回复", "answer a roll call", ("到", "here")),
    Command("record", records.record, zh("我的记录") + en("record"), (),
            S, "我的出勤和练习成绩", "my attendance and quiz scores", ("我的记录", "record"), reads=True),
    Command("leave", student.leave, zh("退出课堂") + en("leave"), (REF,),
            S, "退出课堂", "leave a class", ("退出课堂 1", "leave 1")),
    # teachers
    Command("create_class", teacher.create_class, zh("创建课堂") + en("create class"), (rest("name", "名称", "name"),),
            T, "创建课堂", "create a class", ("创建课堂 高等数学", "create class Calculus")),
    Command("qr", teacher.qr, zh("二维码") + en("qr"), (),
            T, "课堂加入二维码", "the class's join QR code", ("二维码", "qr")),
    Command("start_lesson", teacher.start_lesson, zh("上课") + en("start class"), (),
            T, "开始上课", "start a lesson", ("上课", "start class")),
    Command("end_lesson", teacher.end_lesson, zh("下课") + en("end class"), (),
            T, "下课并结束所有活动", "end the lesson and close everything", ("下课", "end class")),
    Command("open_checkin", teacher.open_checkin, zh("开启签到", "发起签到") + en("open checkin"), (MINUTES, WITH_CODE),
            T, "开启签到（默认5分钟，加「口令」生成签到码）", "open check-in (5 min default; add “code” for a code)",
            ("开启签到", "开启签到 10 口令", "open checkin 3")),
    Command("close", teacher.close, zh("结束", "结束签到") + en("close"), (),
            T, "立即结束进行中的活动", "close open activities now", ("结束", "close")),
    Command("extend", teacher.extend, zh("延长") + en("extend"), (EXTRA,),
            T, "延长进行中的活动（延长期间签到算迟到）", "extend the open activity (check-ins then count as late)",
            ("延长 3", "extend 3")),
    Command("attendance", attendance.attendance, zh("签到情况") + en("attendance"), (),
            T, "已到/迟到/请假/缺勤人数和未到名单", "present/late/excused/absent and who is missing", ("签到情况", "attendance"), reads=True),
    Command("mark", attendance.mark, zh("改签") + en("mark"), (NUMBER, STATUS),
            T, "手动修改签到状态", "change a student's status by hand", ("改签 2024001 请假", "mark 2024001 late")),
    Command("quiz", teacher.quiz, zh("练习") + en("quiz"), (CORRECT, MINUTES, rest("question", "题目", "question")),
            T, "发布练习（单选 B、多选 AC、判断 对/错、填空 =答案1/答案2）", "publish a quiz: B, AC, true/false, =text",
            ("练习 B 3 1+1=? A.1 B.2 C.3", "练习 AC 5 哪些是质数？A.2 B.4 C.5", "练习 对 2 地球是圆的",
             "练习 =北京/北平 3 中国的首都是？", "quiz c 2 Capital of France? A.Rome B.Bonn C.Paris")),
    Command("survey", teacher.survey, zh("问卷") + en("survey"), (OPTION_COUNT, MINUTES, rest("question", "题目", "question")),
            T, "发布匿名问卷（选项 A 起）", "publish an anonymous survey (options from A)",
            ("问卷 3 2 今天的节奏？A.太快 B.正好 C.太慢", "survey 2 Pace OK? A.yes B.no")),
    Command("discuss", teacher.discuss, zh("讨论") + en("discuss"), (MINUTES.but(default=10), rest("topic", "话题", "topic")),
            T, "发起讨论（默认10分钟）", "open a discussion (10 min default)", ("讨论 10 生活中的导数", "discuss Derivatives in life")),
    Command("results", results.results, zh("结果") + en("results"), (ACTIVITY_NO,),
            T, "查看活动结果（最近一个，或第 n 个）", "results of the latest (or n-th) activity", ("结果", "结果 2", "results"), reads=True),
    Command("lost_report", results.lost_report, zh("不懂情况") + en("lost report"), (),
            T, "本节课的「不懂」人数和说明", "this lesson's lost signals and notes", ("不懂情况", "lost report"), reads=True),
    Command("roll_call", attendance.roll_call, zh("点名") + en("roll call"), (PICK,),
            T, "随机点名已签到的学生（2分钟内回复「到」）", "call random checked-in students (answer within 2 min)",
            ("点名", "点名 3", "roll call 2")),
    Command("roll_call_report", attendance.roll_call_report, zh("点名情况") + en("roll call report"), (),
            T, "被点名学生是否应答", "who answered the roll call", ("点名情况", "roll call report"), reads=True),
    Command("export", records.export, zh("导出") + en("export"), (),
            T, "导出出勤和成绩 CSV（1小时有效链接）", "a CSV of attendance and scores (link valid 1 h)", ("导出", "export"), reads=True),
    Command("roster", roster.roster, zh("名单") + en("roster"), (),
            T, "学生名单与认证状态", "students with number, name and verification", ("名单", "roster"), reads=True),
    Command("release", roster.release, zh("解除认证") + en("release"), (NUMBER,),
            T, "解除某学号的认证（学号被他人占用时）", "release a verified student number", ("解除认证 2024001", "release 2024001")),
    Command("announce", teacher.announce, zh("发布公告") + en("announce"), (rest("text", "内容", "text"),),
            T, "发布公告并推送给学生", "post an announcement and push it", ("发布公告 下周一停课", "announce No class on Monday")),
    Command("schedule", scheduled_announcements.schedule, zh("定时公告") + en("announce at"), (DATE, rest("text", "内容", "text")),
            T, "定时发布公告（「定时列表」查看，「取消定时 <序号>」取消）",
            "post an announcement at a set time (“scheduled” lists them, “unschedule <n>” cancels one)",
            ("定时公告 2026-09-08 14:00 改到302教室", "announce at 2026-09-08 14:00 Room change: 302")),
    Command("scheduled", scheduled_announcements.scheduled_list, zh("定时列表") + en("scheduled"), (),
            T, "待发布的定时公告", "scheduled announcements still to be posted", ("定时列表", "scheduled"), brief=False, reads=True),
    Command("unschedule", scheduled_announcements.unschedule, zh("取消定时") + en("unschedule"), (SCHEDULED_NO,),
            T, "取消一条定时公告", "cancel a scheduled announcement", ("取消定时 1", "unschedule 1"), brief=False),
)

FLOWS = {
    "verify": Flow(account.VERIFY_STEPS, restart="restart_verify"),
    "bind_phone": Flow(account.PHONE_STEPS, commands=("verify_code",), restart="restart_bind_phone"),
    "join_identity": Flow(account.JOIN_IDENTITY_STEPS, restart="restart_verify"),
}


def command_list_markdown() -> str:
    """Render the command table as the README's command list."""
    lines = ["| command | Chinese | English | who | what it does |", "|---|---|---|---|---|"]
    for c in COMMANDS:
        zh_forms = " ".join(f"`{a.text}`" for a in c.aliases if a.lang == "zh")
        en_forms = " ".join(f"`{a.text}`" for a in c.aliases if a.lang == "en")
        args = " ".join(a.hint("zh") for a in c.args)
        who = {Role.ANY: "everyone", Role.STUDENT: "student", Role.TEACHER: "teacher"}[c.role]
        lines.append(f"| {c.name} | {zh_forms}{' ' + args if args else ''} | {en_forms} | {who} | {c.summary_en} |")
    return "\n".join(lines)


def update_readme(path: str = "README.md") -> None:
    """Rewrite the command list between the README's markers from the table."""
    import re
    from pathlib import Path

    readme = Path(path)
    text = readme.read_text(encoding="utf-8")
    block = f"<!-- commands:start -->\n{command_list_markdown()}\n<!-- commands:end -->"
    readme.write_text(re.sub(r"<!-- commands:start -->.*?<!-- commands:end -->", lambda _: block, text, flags=re.S),
                      encoding="utf-8")


if __name__ == "__main__":
    update_readme()
