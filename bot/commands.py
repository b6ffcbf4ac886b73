"""THE command table: one row per command; help, usage lines and the README list derive from it."""

from __future__ import annotations

from bot.grammar import Arg, Command, Grammar, Role, en, zh
from handlers import common, schedule, student, teacher

CODE = Arg("code", r"\d{6}", "6位课堂码", "6-digit code")
REF = Arg("ref", r"\d{1,6}", "序号或课堂码", "n or code")
MINUTES = Arg("minutes", r"600|[1-5]\d\d|[1-9]\d?", "分钟1-600", "minutes 1-600", int, optional=True, default=5)
WITH_CODE = Arg("passcode", r"口令|code", "口令", "code", lambda _: True, optional=True, default=False)
CHECKIN_CODE = Arg("passcode", r"\d{4}", "4位签到码", "4-digit code", optional=True)
CORRECT = Arg("correct", r"[a-h]", "正确答案", "answer", str.upper)
INVITE = Arg("invite", r"\S{1,64}", "邀请码", "invite-code")


def rest(name: str, hint_zh: str, hint_en: str) -> Arg:
    return Arg(name, r".+", hint_zh, hint_en, rest=True)


S, T = Role.STUDENT, Role.TEACHER

COMMANDS: tuple[Command, ...] = (
    # everyone
    Command("help", common.help, zh("帮助", "菜单", "?") + en("help", "menu"), (),
            Role.ANY, "查看命令", "list commands", ("帮助", "help"), escape=True),
    Command("cancel", common.cancel, zh("取消") + en("cancel"), (),
            Role.ANY, "退出当前操作", "leave the current step", ("取消", "cancel"), escape=True),
    Command("me", common.me, zh("我的信息") + en("me"), (),
            Role.ANY, "我的身份和信息", "my role and details", ("我的信息", "me")),
    Command("become_teacher", common.become_teacher, zh("教师认证") + en("teacher"), (INVITE,),
            Role.ANY, "用邀请码成为教师", "become a teacher with the invite code", ("教师认证 abc123", "teacher abc123")),
    Command("classes", student.classes, zh("我的课堂") + en("classes"), (),
            Role.ANY, "我的课堂列表", "my classes", ("我的课堂", "classes")),
    Command("enter", student.enter, zh("进入") + en("enter"), (REF,),
            Role.ANY, "切换当前课堂", "choose the current class", ("进入 1", "enter 2")),
    Command("notices", student.notices, zh("公告", "查看公告") + en("notices"), (),
            Role.ANY, "查看当前课堂公告", "the current class's announcements", ("公告", "notices")),
    # students
    Command("join", student.join, zh("加入", "加入课堂") + en("join"), (CODE,),
            S, "加入课堂", "join a class", ("加入 123456", "加入课堂123456", "join 123456")),
    Command("check_in", student.check_in, zh("签到") + en("check in", "checkin"), (CHECKIN_CODE,),
            S, "签到（有签到码时带上）", "check in (with the code if asked)", ("签到", "签到 1234", "check in")),
    Command("answer", student.answer, zh("答", "回答") + en("answer"), (rest("text", "答案", "answer"),),
            S, "回答练习", "answer the quiz", ("答 B", "答B", "answer b")),
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
    Command("attendance", teacher.attendance, zh("签到情况") + en("attendance"), (),
            T, "签到人数和未到名单", "check-in counts and who is missing", ("签到情况", "attendance")),
    Command("quiz", teacher.quiz, zh("练习") + en("quiz"), (CORRECT, MINUTES, rest("question", "题目", "question")),
            T, "发布单选练习", "publish a single-choice quiz", ("练习 B 3 1+1=? A.1 B.2 C.3", "quiz c 2 Capital of France? A.Rome B.Bonn C.Paris")),
    Command("results", teacher.results, zh("结果") + en("results"), (),
            T, "最近一次活动的结果", "results of the latest activity", ("结果", "results")),
    Command("announce", teacher.announce, zh("发布公告") + en("announce"), (rest("text", "内容", "text"),),
            T, "发布公告并推送给学生", "post an announcement and push it", ("发布公告 下周一停课", "announce No class on Monday")),
)

# scheduled announcements (handlers/schedule.py)
DATE = Arg("date", r"\d{4}-\d{1,2}-\d{1,2}", "YYYY-MM-DD HH:MM", "YYYY-MM-DD HH:MM")
COMMANDS += (
    Command("schedule", schedule.schedule, zh("定时公告") + en("announce at"), (DATE, rest("text", "内容", "text")),
            T, "定时发布公告", "post an announcement at a set time",
            ("定时公告 2026-09-08 14:00 下午的课改到302教室", "announce at 2026-09-08 14:00 Room change: 302")),
)

GRAMMAR = Grammar(COMMANDS)
BY_NAME = {command.name: command for command in COMMANDS}


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
