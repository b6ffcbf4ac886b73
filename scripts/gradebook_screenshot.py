"""The README's pictures of the grade book, from a real run: `make screenshots`.

A real app on a fresh SQLite database with a frozen clock; a teacher and 40 students talk to it through the signed,
encrypted webhook (bot/wxsim.py) for twelve lessons (check-ins with late comers and an extension, 改签 to 请假,
quizzes, discussions, a student who leaves and comes back); the teacher sends 成绩 and Debian's Chromium opens the
link it answers. One absence is marked made up in the database (h22's 补签 approval sets the same flag).
"""

from __future__ import annotations

import logging
import random
import re
import shutil
import sys
import tempfile
import threading
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from werkzeug.serving import make_server

from app import create_app
from bot.clock import FrozenClock
from bot.database import create_schema
from bot.wxsim import WeChatSimulator
from models import Activity, Response, User, db

OUT = Path(__file__).resolve().parent.parent / "docs"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
NAMES = ("王芳 李娜 张伟 刘洋 陈静 杨帆 赵磊 黄敏 周杰 吴婷 徐晨 孙悦 马超 朱琳 胡斌 郭佳 何雪 高翔 林涛 罗丹 "
         "郑凯 谢敏 韩梅 唐亮 冯雪 于洋 董浩 萧然 程琳 曹阳 袁媛 邓超 许诺 傅强 沈悦 曾静 彭飞 吕晨 苏畅 卢琪").split()
QUIZZES = ("B 2 lim(x→0) sin x / x = ? A.0 B.1 C.∞", "对 2 可导一定连续", "AC 2 哪些是奇函数？A.x³ B.x² C.sin x",
           "=2x 2 x² 的导数是？", "C 2 ∫₀¹ 2x dx = ? A.0 B.2 C.1")


def main() -> None:
    chromium = shutil.which("chromium") or sys.exit("needs Debian's chromium: apt-get install chromium fonts-wqy-microhei")
    clock = FrozenClock(datetime(2026, 9, 7, 0, 0, 0))  # Monday 08:00 in Shanghai
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"wechat": {"app_id": "wx5823bf96d3bd56c7", "token": "ketangScreenshots2026",
                                     "encoding_aes_key": AES_KEY},
                          "database": {"url": f"sqlite:///{tmp}/ketang.db"},
                          "server": {"public_url": "", "secret_key": "screenshots-only-Key_0123456789abcdef"}}, clock=clock)
        with app.app_context():
            create_schema()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        say = chat(app, f"http://127.0.0.1:{server.server_port}")
        app.test_cli_runner().invoke(args=["make-teacher", "o_teacher"])
        term(say, clock)
        say("o_teacher", "成绩规则 迟到 70")
        photograph(chromium, re.search(r"(http://\S+/gradebook/\S+)", say("o_teacher", "成绩")).group(1))
        server.shutdown()
        db.close()
    for name in ("gradebook", "gradebook-grid", "gradebook-phone"):
        print(OUT / f"{name}.png")


def chat(app, base: str):
    """say(openid, text) -> reply, through the signed, encrypted webhook over HTTP."""
    def post(query, body):
        request = urllib.request.Request(f"{base}/wechat?{urlencode(query)}", data=body, headers={"Content-Type": "text/xml"})
        with urllib.request.urlopen(request) as response:
            return response.status, response.read()

    kt = app.extensions["ketang"]
    return WeChatSimulator(kt.settings, post, now=kt.epoch).send_text


def term(say, clock) -> None:
    """Twelve lessons of a 40-student class, on Mondays and Wednesdays."""
    rng = random.Random(21)
    code = re.search(r"课堂码：(\d{6})", say("o_teacher", "创建课堂 高等数学（一）")).group(1)
    students = [f"o_s{i:02d}" for i in range(40)]
    for openid in students:
        say(openid, f"加入 {code}")
    for index, user in enumerate(User.select().where(User.openid.in_(students)).order_by(User.id)):
        User.update(name=NAMES[index], student_no=f"20240{index + 1:03d}").where(User.id == user.id).execute()
    diligence = {openid: 0.55 + 0.45 * rng.random() for openid in students}
    made_up = None
    for number in range(12):
        lesson_start = clock.now
        say("o_teacher", "上课")
        came = check_in(say, clock, rng, students, diligence)
        absent = [s for s in students if s not in came]
        if number == 8 and absent:  # approved later as a make-up (below)
            made_up = (absent.pop(), Activity.select().where(Activity.kind == "checkin").order_by(Activity.id.desc()).first())
        if absent and rng.random() < 0.5:
            say("o_teacher", f"改签 {User.get(User.openid == absent[0]).student_no} 请假")
        clock.advance(minutes=3)
        activities(say, clock, rng, came, diligence, discussion=number % 3 == 0)
        say("o_teacher", "下课")
        if number in (4, 6):  # one student leaves after lesson 5 and comes back after lesson 7
            say(students[7], f"{'退出课堂' if number == 4 else '加入'} {code}")
        clock.now = lesson_start + timedelta(days=2 if number % 2 == 0 else 5)
    if made_up:  # one absence approved as a make-up (the flag h22's 补签 approval sets)
        student, checkin = made_up
        Response.create(activity=checkin, user=User.get(User.openid == student), status="present", made_up=True,
                        created_at=clock.now, updated_at=clock.now)


def check_in(say, clock, rng, students, diligence) -> list[str]:
    """A check-in: most come on time, a few late during an extension; return who came."""
    say("o_teacher", "开启签到 3")
    came = [s for s in students if rng.random() < diligence[s] + 0.1]
    late = [s for s in came if rng.random() < 0.08]
    for openid in came:
        if openid not in late:
            say(openid, "签到")
    clock.advance(minutes=3)
    if late:
        say("o_teacher", "延长 2")  # at the deadline, still open: who comes now is late
        clock.advance(seconds=1)
        for openid in late:
            say(openid, "签到")
    return came


def activities(say, clock, rng, came, diligence, discussion: bool) -> None:
    """Two quizzes, answered rightly as often as a student is diligent, and now and then a discussion."""
    for quiz in rng.sample(QUIZZES, 2):
        say("o_teacher", f"练习 {quiz}")
        key = quiz.split()[0]
        wrong = "错" if key == "对" else "B" if key == "A" else "A"
        for openid in came:
            if rng.random() < 0.9:
                say(openid, f"答 {key.lstrip('=') if rng.random() < diligence[openid] else wrong}")
        clock.advance(minutes=3)
    if discussion:
        say("o_teacher", "讨论 5 这一节最难的是哪一步？")
        for openid in came:
            if rng.random() < diligence[openid] - 0.2:
                say(openid, "发言 链式法则")
        clock.advance(minutes=6)


def photograph(chromium: str, link: str) -> None:
    """The grade book at 1280 wide (sorted by grade, best first), its grid, and on a phone."""
    from playwright.sync_api import sync_playwright

    OUT.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(link)
        page.get_by_role("button", name="平时成绩").click()
        page.get_by_role("button", name="平时成绩").click()
        page.screenshot(path=OUT / "gradebook.png")
        page.locator("h2").scroll_into_view_if_needed()
        page.locator(".grid").screenshot(path=OUT / "gradebook-grid.png")
        phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, device_scale_factor=2)
        phone.goto(link)
        phone.screenshot(path=OUT / "gradebook-phone.png")
        browser.close()


if __name__ == "__main__":
    main()
