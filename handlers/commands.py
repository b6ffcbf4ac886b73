"""The classroom's command table: one row per command; help, usage lines and the README list derive from it."""

from __future__ import annotations

import re
from pathlib import Path

from bot.grammar import Arg, Command, Role, en, zh
from bot.plugin import Flow
from handlers import (
    account,
    attendance,
    bank,
    common,
    gradebook,
    grading,
    guides,
    privacy,
    records,
    requests,
    results,
    roster,
    scheduled_announcements,
    scope,
    sections,
    student,
    teacher,
    team,
    terms,
    warnings,
)
from models import OWNER

DATE = Arg("date", r"\d{4}-\d{1,2}-\d{1,2}", "YYYY-MM-DD HH:MM", "YYYY-MM-DD HH:MM")
CODE = Arg("code", r"\d{6}", "6位课堂码", "6-digit code")
REF = Arg("ref", r"\d{1,6}", "序号或课堂码", "n or code")
MINUTES = Arg("minutes", grading.MINUTES, "分钟1-600", "minutes 1-600", int, optional=True, default=5)
WITH_CODE = Arg("with_code", r"口令|code", "口令", "code", lambda _: True, optional=True, default=False)  # a flag: bool
CHECKIN_CODE = Arg("passcode", r"\d{4}", "4位签到码", "4-digit code", optional=True)
CORRECT = Arg("correct", grading.ANSWER_KEY, "正确答案", "answer")
INVITE = Arg("invite", r"\S{1,64}", "邀请码", "invite-code")


SCHOOL = Arg("school", r"\S{1,64}", "学校", "school", optional=True)
# Student numbers are matched ignoring case: the canonical form is upper case (handlers/account.py).
STUDENT_NO = Arg("student_no", r"[a-z0-9-]{1,32}", "学号", "student-no", str.upper, optional=True)
# The name (with spaces: "Anne-Marie O'Neil", in quotes if it is unclear) and the auth code after it.
NAME_AND_AUTH = Arg("rest", r".+", "姓名", "name", optional=True, rest=True)
PHONE = Arg("phone", r"1[3-9]\d{9}", "手机号", "mobile number")
SMS_CODE = Arg("code", r"\d{6}", "6位验证码", "6-digit code")
NUMBER = Arg("student_no", r"[a-z0-9-]{1,32}", "学号", "student-no", str.upper)
# 改签 names a student by number, or by the label lists give one with no name: 未实名(ent4) (openid tails keep case)
STUDENT = Arg("student_no", r"[a-z0-9-]{1,32}|(?:未实名|unnamed)\(\S{1,4}\)", "学号或未实名(…)", "student-no or unnamed(…)",
              lambda s: s if "(" in s else s.upper())
STATUS = Arg("status", r"已到|到|迟到|请假|缺勤|旷课|present|late|excused|absent", "已到|迟到|请假|缺勤",
             "present|late|excused|absent")
EXTRA = Arg("minutes", grading.MINUTES, "分钟1-600", "minutes 1-600", int)
OPTION_COUNT = Arg("count", r"[2-8]", "选项数2-8", "options 2-8", int)
PICK = Arg("count", r"[1-9]\d?", "人数1-99", "n 1-99", int, optional=True, default=1)
SCHEDULED_NO = Arg("number", r"[1-9]\d?", "序号", "n", int)
ACTIVITY_NO = Arg("number", r"[1-9]\d?", "序号", "n", int, optional=True)
NOTICE_NO = Arg("number", r"[1-9]\d{0,3}", "序号", "n", int, optional=True)
PAGE = Arg("page", r"[1-9]\d?", "页", "page", int, optional=True)
BANK_NO = Arg("number", r"[1-9]\d{0,5}", "题号", "n", int)
SECTION = Arg("section", r"(?=\S*\D)\S{1,16}", "分组", "section", optional=True)  # a section's name: never all digits
EVERYTHING_TOO = Arg("everything", r"全部|all", "全部", "all", lambda _: True, optional=True, default=False)  # a flag


def rest(name: str, hint_zh: str, hint_en: str) -> Arg:
    return Arg(name, r".+", hint_zh, hint_en, rest=True)


S, T = Role.STUDENT, Role.TEACHER
LESSON, SETTINGS, EXPORT, OWNER_ONLY = scope.LESSON, scope.SETTINGS, scope.EXPORT, OWNER

COMMANDS: tuple[Command, ...] = (
    # everyone
    Command(name="help", handler=common.help, aliases=zh("帮助", "菜单", "?") + en("help", "menu"),
            args=(rest("topic", "命令", "command").but(optional=True),), role=Role.ANY,
            summary_zh="查看命令（带命令名看详细用法）",
            summary_en="list commands (name one for details)", examples=("帮助", "帮助 签到", "help"), escape=True),
    Command(name="more", handler=common.more, aliases=zh("更多", "更多命令") + en("more"),
            role=Role.ANY, summary_zh="菜单上没有的命令（投屏、结束投屏、问卷、讨论、导出、名单、隐藏、定时列表……）",
            summary_en="commands not on the menu (screen, end screen, survey, discuss, export, roster, hide, scheduled…)",
            examples=("更多", "more"), escape=True, reads=True),
    Command(name="cancel", handler=common.cancel, aliases=zh("取消") + en("cancel"),
            role=Role.ANY, summary_zh="退出当前操作", summary_en="leave the current step",
            examples=("取消", "cancel"), escape=True),
    Command(name="me", handler=common.me, aliases=zh("我的信息") + en("me"),
            role=Role.ANY, summary_zh="我的身份和信息", summary_en="my role and details", examples=("我的信息", "me"),
            reads=True),
    Command(name="my_data", handler=privacy.my_data, aliases=zh("我的数据") + en("my data"),
            role=Role.ANY, summary_zh="下载课堂保存的关于我的全部数据（JSON、CSV，几分钟内有效的链接）",
            summary_en="download everything Ketang holds about me (JSON, CSV; a link valid a few minutes)",
            examples=("我的数据", "my data"), reads=True, brief=False),  # in 更多 and 帮助 我的数据: the help stays short
    Command(name="delete_me", handler=privacy.delete_me, aliases=zh("注销") + en("delete me"),
            role=Role.ANY, summary_zh="注销账号：删除我的手机号、认证、姓名和课堂，过去的记录匿名保留为统计",
            summary_en="delete my account: phone, verification, name and classes; past records stay as anonymous counts",
            examples=("注销", "delete me"), brief=False),
    Command(name="become_teacher", handler=common.become_teacher, aliases=zh("教师认证") + en("teacher"),
            args=(INVITE,), role=Role.ANY, summary_zh="用邀请码成为教师", summary_en="become a teacher with the invite code",
            examples=("教师认证 abc123", "teacher abc123")),
    Command(name="verify", handler=account.verify, aliases=zh("认证") + en("verify"),
            args=(SCHOOL, STUDENT_NO, NAME_AND_AUTH), role=S,
            summary_zh="学号认证（姓名有空格可加引号；不带参数则一步步引导）",
            summary_en="verify your student number (quote a name with spaces; alone: guided)",
            examples=("认证 示范大学 2024001 张三 839201", "认证 示范大学 2024001 张三 暂无认证码",
                      "认证 示范大学 E2024009 \"Anne-Marie O'Neil\" 424242", "认证", "verify")),
    Command(name="bind_phone", handler=account.bind_phone, aliases=zh("绑定手机", "绑定手机号") + en("bind phone"),
            args=(PHONE,), role=Role.ANY, summary_zh="绑定手机（短信验证码）", summary_en="bind a phone (SMS code)",
            examples=("绑定手机 13800138000", "bind phone 13800138000")),
    Command(name="verify_code", handler=account.phone_code, aliases=zh("验证码") + en("code"),
            args=(SMS_CODE,), role=Role.ANY, summary_zh="回复短信验证码", summary_en="reply with the SMS code",
            examples=("验证码 123456", "code 123456"), brief=False),
    Command(name="unbind_phone", handler=account.unbind_phone, aliases=zh("解绑手机") + en("unbind phone"),
            role=Role.ANY, summary_zh="解绑手机", summary_en="unbind the phone",
            examples=("解绑手机", "unbind phone")),
    Command(name="classes", handler=student.classes, aliases=zh("我的课堂") + en("classes"),
            args=(EVERYTHING_TOO,), role=Role.ANY, summary_zh="我的课堂列表（「全部」含已归档的）",
            summary_en="my classes (all: archived too)",
            examples=("我的课堂", "我的课堂 全部", "classes", "classes all"), reads=True),
    Command(name="enter", handler=student.enter, aliases=zh("进入") + en("enter"),
            args=(REF,), role=Role.ANY, summary_zh="切换当前课堂", summary_en="choose the current class",
            examples=("进入 1", "enter 2")),
    Command(name="notices", handler=student.notices, aliases=zh("公告", "查看公告") + en("notices"),
            args=(NOTICE_NO, PAGE), role=Role.ANY, summary_zh="查看当前课堂公告（带序号看全文，长的分页）",
            summary_en="the current class's announcements (n: one in full, by page)",
            examples=("公告", "公告 1", "公告 1 2", "notices", "notices 1")),
    # students
    Command(name="join", handler=student.join, aliases=zh("加入", "加入课堂") + en("join"),
            args=(CODE,), role=S, summary_zh="加入课堂", summary_en="join a class",
            examples=("加入 123456", "加入课堂123456", "join 123456")),
    Command(name="check_in", handler=student.check_in, aliases=zh("签到") + en("check in", "checkin"),
            args=(CHECKIN_CODE,), role=S, summary_zh="签到（有签到码时带上）", summary_en="check in (with the code if asked)",
            examples=("签到", "签到 1234", "check in")),
    Command(name="answer", handler=student.answer, aliases=zh("答", "回答") + en("answer"),
            args=(rest("text", "答案", "answer").but(optional=True),), role=S,
            summary_zh="回答练习或问卷（B、AC、对/错、填空；进行中也可直接发 B）；只发「答」看题目",
            summary_en="answer the quiz or survey (B, AC, true/false, text; or just B while it is open); alone: the question",
            examples=("答 B", "答B", "答 AC", "答 对", "答", "answer b")),
    Command(name="say", handler=student.say, aliases=zh("发言") + en("say"),
            args=(rest("text", "内容", "text"),), role=S, summary_zh="在讨论中发言", summary_en="post to the discussion",
            examples=("发言 我认为答案是 42", "say I think it is 42")),
    Command(name="lost", handler=student.lost, aliases=zh("不懂") + en("lost"),
            args=(rest("note", "说明", "note").but(optional=True),), role=S, summary_zh="匿名告诉老师没听懂",
            summary_en="tell the teacher anonymously you are lost", examples=("不懂", "不懂 第二步没看明白", "lost")),
    Command(name="here", handler=attendance.here, aliases=zh("到") + en("here"),
            role=S, summary_zh="被点名时回复", summary_en="answer a roll call", examples=("到", "here")),
    Command(name="record", handler=records.record, aliases=zh("我的记录") + en("record"),
            role=S, summary_zh="我的出勤和练习成绩", summary_en="my attendance and quiz scores",
            examples=("我的记录", "record"), reads=True),
    Command(name="make_up", handler=requests.make_up, aliases=zh("补签") + en("make up"),
            args=(rest("text", "理由", "reason").but(optional=True),), role=Role.ANY,
            summary_zh="申请补签（教师：补签 关/开）",
            summary_en="ask to make up a missed check-in (teachers: make up off/on)",
            examples=("补签 生病了", "补签 9-7 手机没电了", "补签 关", "make up My phone died"), brief=False),
    Command(name="leave_request", handler=requests.leave_request, aliases=zh("请假") + en("leave request"),
            args=(rest("text", "日期 理由", "date reason"),), role=S, summary_zh="提前请假（老师批准后当天记为请假）",
            summary_en="ask ahead for leave on a day (once approved, that day counts as excused)",
            examples=("请假 9-14 参加校运动会", "leave request 9-14 Sports day")),
    Command(name="grades", handler=gradebook.my_grades, aliases=zh("我的成绩") + en("grades"),
            role=S, summary_zh="我的平时成绩（截至目前，各部分和权重）", summary_en="my grade to date, part by part",
            examples=("我的成绩", "grades"), reads=True),
    Command(name="leave", handler=student.leave, aliases=zh("退出课堂") + en("leave"),
            args=(REF,), role=S, summary_zh="退出课堂", summary_en="leave a class", examples=("退出课堂 1", "leave 1")),
    # teachers
    Command(name="create_class", handler=teacher.create_class, aliases=zh("创建课堂") + en("create class"),
            args=(rest("name", "名称", "name"),), role=T, summary_zh="创建课堂", summary_en="create a class",
            examples=("创建课堂 高等数学", "create class Calculus")),
    Command(name="copy_class", handler=terms.copy_class, aliases=zh("复制课堂") + en("copy class"),
            args=(REF, rest("name", "新名称", "new name")), role=T, staff=OWNER_ONLY,
            summary_zh="新学期复制课堂（不含学生）",
            summary_en="copy a class for next term",
            examples=("复制课堂 1 高等数学（2027春）", "copy class 1 Calculus 2027"), brief=False),
    Command(name="archive", handler=terms.archive, aliases=zh("归档") + en("archive"),
            args=(REF,), role=T, staff=OWNER_ONLY, summary_zh="结课归档（只读）",
            summary_en="end a class (read-only)",
            examples=("归档 1", "archive 1"), brief=False),
    Command(name="unarchive", handler=terms.unarchive, aliases=zh("取消归档") + en("unarchive"),
            args=(REF,), role=T, staff=OWNER_ONLY, summary_zh="取消归档", summary_en="undo archive",
            examples=("取消归档 1", "unarchive 1"), brief=False),
    Command(name="qr", handler=teacher.qr, aliases=zh("二维码") + en("qr"),
            role=T, staff=LESSON, summary_zh="课堂加入二维码", summary_en="the class's join QR code", examples=("二维码", "qr")),
    Command(name="start_lesson", handler=teacher.start_lesson, aliases=zh("上课") + en("start class"),
            role=T, staff=LESSON, summary_zh="开始上课", summary_en="start a lesson", examples=("上课", "start class")),
    Command(name="end_lesson", handler=teacher.end_lesson, aliases=zh("下课") + en("end class"),
            role=T, staff=LESSON, summary_zh="下课并结束所有活动", summary_en="end the lesson and close everything",
            examples=("下课", "end class")),
    Command(name="open_checkin", handler=teacher.open_checkin, aliases=zh("开启签到", "发起签到") + en("open checkin"),
            args=(MINUTES, WITH_CODE), role=T, staff=LESSON, summary_zh="开启签到（默认5分钟，加「口令」生成签到码）",
            summary_en="open check-in (5 min default; add “code” for a code)",
            examples=("开启签到", "开启签到 10 口令", "open checkin 3")),
    Command(name="cancel_lesson", handler=teacher.cancel_lesson, aliases=zh("取消上课") + en("cancel lesson"),
            role=T, staff=LESSON, summary_zh="取消误开的课（上课中或下课15分钟内；不计入任何记录）",
            summary_en="cancel a lesson started by mistake (during it or 15 min after; counts for nobody)",
            examples=("取消上课", "cancel lesson"), brief=False),
    Command(name="close", handler=teacher.close, aliases=zh("结束", "结束签到") + en("close"),
            args=(ACTIVITY_NO,), role=T, staff=LESSON, summary_zh="立即结束进行中的活动（带序号只结束第 n 个）",
            summary_en="close open activities now (n: only the n-th)", examples=("结束", "结束 2", "close", "close 2")),
    Command(name="extend", handler=teacher.extend, aliases=zh("延长") + en("extend"),
            args=(EXTRA,), role=T, staff=LESSON, summary_zh="延长进行中的活动（延长期间签到算迟到）",
            summary_en="extend the open activity (check-ins then count as late)", examples=("延长 3", "extend 3")),
    Command(name="attendance", handler=attendance.attendance, aliases=zh("签到情况") + en("attendance"),
            args=(SECTION,), role=T, staff=LESSON, summary_zh="已到/迟到/请假/缺勤人数和未到名单（可带分组）",
            summary_en="present/late/excused/absent and who is missing (of a section)",
            examples=("签到情况", "签到情况 一班", "attendance"), reads=True),
    Command(name="mark", handler=attendance.mark, aliases=zh("改签") + en("mark"),
            args=(STUDENT, STATUS), role=T, staff=LESSON, summary_zh="手动修改签到状态（学号，或名单上的「未实名(…)」）",
            summary_en="change a student's status by hand (number, or the roster's “unnamed(…)”)",
            examples=("改签 2024001 请假", "mark 2024001 late")),
    Command(name="quiz", handler=teacher.quiz, aliases=zh("练习") + en("quiz"),
            args=(CORRECT, MINUTES, rest("question", "题目", "question")), role=T, staff=LESSON, guide=guides.quiz_guide,
            summary_zh="发布练习（单选 B、多选 AC、判断 对/错、填空 =答案1/答案2）",
            summary_en="publish a quiz: B, AC, true/false, =text",
            examples=("练习 B 3 1+1=? A.1 B.2 C.3", "练习 AC 5 哪些是质数？A.2 B.4 C.5", "练习 对 2 地球是圆的",
             "练习 =北京/北平 3 中国的首都是？", "quiz c 2 Capital of France? A.Rome B.Bonn C.Paris")),
    Command(name="quiz_bank", handler=teacher.quiz_from_bank, aliases=zh("练习 题库", "练习题库") + en("quiz bank"),
            args=(BANK_NO, MINUTES), role=T, staff=LESSON, summary_zh="从题库再次发布一题",
            summary_en="publish a bank question again",
            examples=("练习 题库 1", "练习 题库 1 3", "quiz bank 1 2"), brief=False),
    Command(name="bank", handler=bank.bank, aliases=zh("题库") + en("bank"),
            args=(rest("text", "词 页|题号", "word page|n").but(optional=True),), role=T,
            summary_zh="我的题库（搜索，看正确率）",
            summary_en="my question bank",
            examples=("题库", "题库 1", "题库 导数", "题库 导数 2", "题库 页 2", "bank", "bank 1", "bank derivative"),
            reads=True, brief=False),
    Command(name="survey", handler=teacher.survey, aliases=zh("问卷") + en("survey"),
            args=(OPTION_COUNT, MINUTES, rest("question", "题目", "question")), role=T, staff=LESSON,
            summary_zh="发布匿名问卷（选项 A 起）",
            summary_en="publish an anonymous survey (options from A)",
            examples=("问卷 3 2 今天的节奏？A.太快 B.正好 C.太慢", "survey 2 Pace OK? A.yes B.no")),
    Command(name="discuss", handler=teacher.discuss, aliases=zh("讨论") + en("discuss"),
            args=(MINUTES.but(default=10), rest("topic", "话题", "topic")), role=T, staff=LESSON,
            summary_zh="发起讨论（默认10分钟）",
            summary_en="open a discussion (10 min default)", examples=("讨论 10 生活中的导数", "discuss Derivatives in life")),
    Command(name="results", handler=results.results, aliases=zh("结果") + en("results"),
            args=(ACTIVITY_NO, SECTION), role=T, staff=LESSON, summary_zh="查看活动结果（最近一个，或第 n 个；可带分组）",
            summary_en="results of the latest (or n-th) activity (of a section)",
            examples=("结果", "结果 2", "结果 2 一班", "results"), reads=True),
    Command(name="lost_report", handler=results.lost_report, aliases=zh("不懂情况") + en("lost report"),
            role=T, staff=LESSON, summary_zh="本节课的「不懂」人数和说明", summary_en="this lesson's lost signals and notes",
            examples=("不懂情况", "lost report"), reads=True),
    Command(name="roll_call", handler=attendance.roll_call, aliases=zh("点名") + en("roll call"),
            args=(PICK,), role=T, staff=LESSON, summary_zh="随机点名已签到的学生（2分钟内回复「到」）",
            summary_en="call random checked-in students (answer within 2 min)", examples=("点名", "点名 3", "roll call 2")),
    Command(name="roll_call_report", handler=attendance.roll_call_report, aliases=zh("点名情况") + en("roll call report"),
            role=T, staff=LESSON, summary_zh="被点名学生是否应答", summary_en="who answered the roll call",
            examples=("点名情况", "roll call report"), reads=True),
    Command(name="export", handler=records.export, aliases=zh("导出") + en("export"),
            args=(SECTION,), role=T, staff=EXPORT, summary_zh="导出成绩单和记录（Excel、CSV，1小时有效链接）",
            summary_en="the grade sheet (.xlsx) and a CSV of raw records (links valid 1 h)",
            examples=("导出", "导出 一班", "export"),
            reads=True),
    Command(name="grading", handler=gradebook.grading, aliases=zh("成绩规则") + en("grading"),
            args=(rest("rule", "规则", "rule").but(optional=True),), role=T, staff=SETTINGS,
            summary_zh="查看或修改平时成绩规则（权重、迟到、请假、排名）", summary_en="show or change the grading rule",
            examples=("成绩规则", "成绩规则 出勤 50 练习 30 参与 20", "成绩规则 迟到 80", "成绩规则 请假 不计",
                      "成绩规则 排名 开",
                      "grading", "grading late 70"), brief=False),
    Command(name="gradebook", handler=gradebook.gradebook, aliases=zh("成绩") + en("gradebook"),
            args=(SECTION,), role=T, staff=LESSON, summary_zh="平时成绩和成绩册",
            summary_en="the class's grades and a link to the grade book",
            examples=("成绩", "成绩 一班", "gradebook"), reads=True,
            brief=False),  # 帮助's list is at its byte budget: 导出 names it
    Command(name="roster", handler=roster.roster, aliases=zh("名单") + en("roster"),
            role=T, staff=LESSON, summary_zh="学生名单与认证状态", summary_en="students with number, name and verification",
            examples=("名单", "roster"), reads=True),
    Command(name="release", handler=roster.release, aliases=zh("解除认证") + en("release"),
            args=(NUMBER,), role=T, staff=OWNER_ONLY, summary_zh="解除某学号的认证（学号被他人占用时）",
            summary_en="release a verified student number",
            examples=("解除认证 2024001", "release 2024001")),
    Command(name="requests", handler=requests.requests_list, aliases=zh("补签申请") + en("requests"),
            role=T, staff=LESSON, summary_zh="待审批的补签/请假申请", summary_en="make-up and leave requests waiting",
            examples=("补签申请", "requests"), brief=False),
    Command(name="approve", handler=requests.approve, aliases=zh("批准") + en("approve"),
            args=(rest("text", "号 [已到|迟到]", "n [present|late]"),), role=T, staff=LESSON,
            summary_zh="批准申请（默认记为请假）；批准 全部", summary_en="approve a request (excused unless given); approve all",
            examples=("批准 1", "批准 1 已到", "批准 全部", "approve 1 late"), brief=False),
    Command(name="reject", handler=requests.reject, aliases=zh("驳回") + en("reject"),
            args=(Arg("number", r"\d{1,9}", "号", "n", int), rest("note", "原因", "reason").but(optional=True)),
            role=T, staff=LESSON,
            summary_zh="驳回申请（可附原因）", summary_en="reject a request (with a reason if you like)",
            examples=("驳回 1", "驳回 1 请附假条", "reject 1"), brief=False),
    Command(name="risk", handler=warnings.risk, aliases=zh("预警") + en("at risk"),
            args=(rest("text", "通知学生 开|关", "notify students on|off").but(optional=True),), role=T, staff=SETTINGS,
            summary_zh="需要关注的学生（预警 通知学生 开：每周私信提醒）",
            summary_en="students at risk now (at risk notify students on: a weekly private note)",
            examples=("预警", "预警 通知学生 开", "at risk"), brief=False),
    Command(name="risk_rules", handler=warnings.risk_rules, aliases=zh("预警设置") + en("risk rules"),
            args=(rest("text", "规则 数值", "rule value").but(optional=True),), role=T, staff=SETTINGS,
            summary_zh="查看或修改预警规则", summary_en="see or change the warning rules",
            examples=("预警设置", "预警设置 连续缺勤 2 出勤率 70 正确率下降 30 不懂 3", "risk rules absences 3"), brief=False),
    Command(name="announce", handler=teacher.announce, aliases=zh("发布公告") + en("announce"),
            args=(rest("text", "内容", "text"),), role=T, staff=LESSON, guide=guides.announce_guide,
            summary_zh="发布公告并推送给学生",
            summary_en="post an announcement and push it", examples=("发布公告 下周一停课", "announce No class on Monday")),
    Command(name="schedule", handler=scheduled_announcements.schedule, aliases=zh("定时公告") + en("announce at"),
            args=(DATE, rest("text", "内容", "text")), role=T, staff=LESSON,
            summary_zh="定时发布公告（「定时列表」查看，「取消定时 <序号>」取消）",
            summary_en="post an announcement at a set time (“scheduled” lists them, “unschedule <n>” cancels one)",
            examples=("定时公告 2026-09-08 14:00 改到302教室", "announce at 2026-09-08 14:00 Room change: 302")),
    Command(name="scheduled", handler=scheduled_announcements.scheduled_list, aliases=zh("定时列表") + en("scheduled"),
            role=T, staff=LESSON, summary_zh="待发布的定时公告", summary_en="scheduled announcements still to be posted",
            examples=("定时列表", "scheduled"), brief=False, reads=True),
    Command(name="unschedule", handler=scheduled_announcements.unschedule, aliases=zh("取消定时") + en("unschedule"),
            args=(SCHEDULED_NO,), role=T, staff=LESSON,
            summary_zh="取消一条定时公告", summary_en="cancel a scheduled announcement",
            examples=("取消定时 1", "unschedule 1"), brief=False),
)

# The teaching team (handlers/team.py).
ASSIST_CODE = Arg("code", r"\d{8}", "8位助教码", "8-digit code", optional=True)
STAFF_NO = Arg("number", r"[1-9]\d?", "序号", "n", int)
SWITCH = Arg("switch", r"开|关|on|off", "开|关", "on|off")
TEAM = (
    Command(name="add_assistant", handler=team.add_assistant, aliases=zh("添加助教") + en("add assistant"),
            role=T, staff=OWNER_ONLY, summary_zh="生成一次性助教邀请码（24小时有效）",
            summary_en="an assistant's one-time code (valid 24 h)",
            examples=("添加助教", "add assistant"), brief=False),
    Command(name="team", handler=team.team, aliases=zh("助教") + en("assistants", "assist"),
            args=(ASSIST_CODE,), role=Role.ANY, summary_zh="查看教学团队（助教发送「助教 <码>」加入）",
            summary_en="the teaching team (an assistant joins with “assist <code>”)",
            examples=("助教", "助教 12345678", "assistants", "assist 12345678"), brief=False),
    Command(name="remove_assistant", handler=team.remove_assistant, aliases=zh("移除助教") + en("remove assistant"),
            args=(STAFF_NO,), role=T, staff=OWNER_ONLY, summary_zh="移除第 n 位助教",
            summary_en="remove the n-th assistant", examples=("移除助教 1", "remove assistant 1"), brief=False),
    Command(name="assistant_rights", handler=team.permissions, aliases=zh("助教权限") + en("assistant rights"),
            args=(STAFF_NO, Arg("what", r"导出|export", "导出", "export"), SWITCH), role=T, staff=OWNER_ONLY,
            summary_zh="允许或禁止第 n 位助教导出（含学号姓名）",
            summary_en="may the n-th assistant export (identity data)",
            examples=("助教权限 1 导出 开", "助教权限 1 导出 关", "assistant rights 1 export on"), brief=False),
    Command(name="team_pushes", handler=team.notify, aliases=zh("助教通知") + en("team pushes"),
            args=(SWITCH,), role=T, staff=OWNER_ONLY, summary_zh="给老师的推送（申请、点名、预警）也发给助教：开|关",
            summary_en="pushes for the teacher (requests, roll calls, warnings) reach the assistants too: on|off",
            examples=("助教通知 开", "助教通知 关", "team pushes on"), brief=False),
)
COMMANDS += TEAM

# Sections of a class (handlers/sections.py): 分组 lists (any staff), makes and fills (the owner: SETTINGS).
SECTION_NAME = Arg("which", r"\S{1,16}", "分组名|全部", "section|all")
SECTIONS = (
    Command(name="sections", handler=sections.sections, aliases=zh("分组") + en("sections", "section"),
            args=(rest("text", "名称 [学号…]", "name [numbers…]").but(optional=True),), role=T, staff=SETTINGS,
            summary_zh="分组：查看；建立（各有加入码）；按学号分",
            summary_en="sections: list; make one (own join code); put numbers in one",
            examples=("分组", "分组 一班", "分组 一班 2024001 2024002", "sections", "section A 2024003"), brief=False),
    Command(name="rename_section", handler=sections.rename, aliases=zh("分组改名") + en("rename section"),
            args=(Arg("old", r"\S{1,16}", "旧名称", "old name"), Arg("new", r"\S{1,16}", "新名称", "new name")), role=T,
            staff=OWNER_ONLY, summary_zh="给分组改名（加入码、学生和助教不变）",
            summary_en="rename a section (its join code, students and assistants stay)",
            examples=("分组改名 一般 一班", "rename section A1 A"), brief=False),
    Command(name="delete_section", handler=sections.delete, aliases=zh("删除分组") + en("delete section"),
            args=(Arg("which", r"\S{1,16}", "名称", "name"),), role=T, staff=OWNER_ONLY,
            summary_zh="删除分组（学生仍在课堂，不再分组）", summary_en="delete a section (its students stay in the class)",
            examples=("删除分组 一班", "delete section A"), brief=False),
    Command(name="assistant_section", handler=sections.assistant_section, aliases=zh("助教分组") + en("assistant section"),
            args=(STAFF_NO, SECTION_NAME), role=T, staff=OWNER_ONLY, summary_zh="让第 n 位助教只负责一个分组（全部：整个课堂）",
            summary_en="limit the n-th assistant to one section (all: the whole class)",
            examples=("助教分组 1 一班", "助教分组 1 全部", "assistant section 1 A"), brief=False),
)
COMMANDS += SECTIONS

FLOWS = {
    "verify": Flow(account.VERIFY_STEPS, restart="restart_verify", starts=("school",),
                   moves={"school": ("student_no",), "student_no": ("name",), "name": ("code",),
                          "code": ("code",)}),
    "bind_phone": Flow(account.PHONE_STEPS, commands=("verify_code",), restart="restart_bind_phone", starts=("code",),
                       moves={"code": ()}),
    "join_identity": Flow(account.JOIN_IDENTITY_STEPS, restart="restart_verify", starts=("student_no",),
                          moves={"student_no": ("name",), "name": ()}),
    "quiz_guide": Flow(guides.QUIZ_STEPS, restart="restart_quiz_guide", starts=("question",),
                       moves={"question": ("options", "answer"), "options": ("answer",), "answer": ("minutes",),
                              "minutes": ()}),
    "announce_guide": Flow(guides.ANNOUNCE_STEPS, restart="restart_announce_guide", starts=("text",), moves={"text": ()}),
    "delete_me": Flow({"confirm": privacy.confirm_delete}, restart="restart_delete_me", starts=("confirm",),
                      moves={"confirm": ()}),
}


def command_list_markdown() -> str:
    """Render the command table of everything `create_app` runs (the classroom's and the screen's) as the
    README's command list."""
    from handlers.plugin import EVERYTHING  # it imports this module

    lines = ["| command | Chinese | English | who | what it does |", "|---|---|---|---|---|"]
    for c in EVERYTHING.commands:
        zh_forms = " ".join(f"`{a.text}`" for a in c.aliases if a.lang == "zh")
        en_forms = " ".join(f"`{a.text}`" for a in c.aliases if a.lang == "en")
        args = " ".join(a.hint("zh") for a in c.args)
        who = {Role.ANY: "everyone", Role.STUDENT: "student", Role.TEACHER: "teacher"}[c.role]
        who = {LESSON: "teacher, assistant", SETTINGS: "teacher, assistant (to read)", EXPORT: "teacher, assistant if allowed",
               OWNER: "teacher (the class's owner)"}.get(c.staff, who)
        lines.append(f"| {c.name} | {zh_forms}{' ' + args if args else ''} | {en_forms} | {who} | {c.summary_en} |")
    return "\n".join(lines)


def update_readme(path: str = "README.md") -> None:
    """Rewrite the command list between the README's markers from the table."""
    readme = Path(path)
    text = readme.read_text(encoding="utf-8")
    block = f"<!-- commands:start -->\n{command_list_markdown()}\n<!-- commands:end -->"
    readme.write_text(re.sub(r"<!-- commands:start -->.*?<!-- commands:end -->", lambda _: block, text, flags=re.S),
                      encoding="utf-8")


if __name__ == "__main__":
    update_readme()
