"""Regenerate the README's pictures of the classroom screen from a real run: `make screenshots`.

A real app on a fresh SQLite database (a frozen clock, so the pictures do not depend on the hour), served
over HTTP in this process; a teacher and 48 students talk to it through the signed, encrypted webhook
(bot/wxsim.py); Debian's Chromium (Playwright, executable_path) photographs /screen at 1280×720.
"""

from __future__ import annotations

import logging
import re
import shutil
import sys
import tempfile
import threading
from datetime import datetime
from pathlib import Path

from werkzeug.serving import make_server

from app import create_app
from bot.clock import FrozenClock
from bot.database import create_schema
from bot.wxsim import WeChatSimulator
from models import User, db

OUT = Path(__file__).resolve().parent.parent / "docs"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
POSTS = ("切线的斜率", "函数的瞬时变化率", "斜率", "变化率的极限", "切线斜率", "瞬时速度", "极限", "斜率",
         "平均变化率的极限", "曲线切线的斜率", "瞬时变化率", "导数就是斜率", "变化的快慢", "速度", "切线")
NAMES = "王芳 李娜 张伟 刘洋 陈静 杨帆 赵磊 黄敏 周杰 吴婷 徐晨 孙悦 马超 朱琳 胡斌 郭佳".split()


def main() -> None:
    chromium = shutil.which("chromium") or sys.exit("needs Debian's chromium: apt-get install chromium fonts-wqy-microhei")
    from playwright.sync_api import expect, sync_playwright

    clock = FrozenClock(datetime(2026, 9, 7, 1, 58, 0))  # 09:58 in Shanghai
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"wechat": {"app_id": "wx5823bf96d3bd56c7", "token": "ketangScreenshots2026",
                                     "encoding_aes_key": AES_KEY},
                          "database": {"url": f"sqlite:///{tmp}/ketang.db"},
                          "server": {"public_url": "https://ketang.example.edu",
                                     "secret_key": "screenshots-only-Key_0123456789abcdef"}}, clock=clock)
        with app.app_context():
            create_schema()
        wx = WeChatSimulator.in_process(app)
        app.test_cli_runner().invoke(args=["make-teacher", "o_teacher"])
        code = re.search(r"课堂码：(\d{6})", wx.send_text("o_teacher", "创建课堂 高等数学（一）")).group(1)
        students = [f"o_s{i:02d}" for i in range(48)]
        for openid in students:
            wx.send_text(openid, f"加入 {code}")
        for index, user in enumerate(User.select().where(User.openid.in_(students)).order_by(User.id)):
            User.update(name=NAMES[index % len(NAMES)]).where(User.id == user.id).execute()
        wx.send_text("o_teacher", "发布公告 第三章习题周五交，课代表收齐")

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        OUT.mkdir(exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium)
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(f"http://127.0.0.1:{server.server_port}/screen")
            expect(page.locator("#pair-code")).to_have_text(re.compile(r"^\d{6}$"), timeout=5000)
            page.screenshot(path=OUT / "screen-pairing.png")
            wx.send_text("o_teacher", f"投屏 {page.locator('#pair-code').inner_text()}")
            expect(page.locator(".big-code")).to_have_text(code, timeout=3000)
            page.screenshot(path=OUT / "screen-idle.png")

            wx.send_text("o_teacher", "上课")
            wx.send_text("o_teacher", "开启签到 2 口令")
            expect(page.locator("#passcode")).to_be_visible(timeout=3000)
            clock.advance(seconds=3)
            for openid in students[:31]:
                wx.send_text(openid, f"签到 {page.locator('#passcode').inner_text()}")
            for openid in students[:2]:
                wx.send_text(openid, "不懂")
            expect(page.locator("#checkin-count")).to_have_text("已到 31 / 48", timeout=3000)
            page.screenshot(path=OUT / "screen-checkin.png")

            clock.advance(minutes=2)
            wx.send_text("o_teacher", "练习 C 2 下列哪个函数在 x=0 处不可导？A.x² B.sin x C.|x| D.eˣ")
            for openid, answer in zip(students[:31], "CCCCCCCCCCCCCCCCCCCAAAABBBBBDDD", strict=True):
                wx.send_text(openid, f"答 {answer}")
            wx.send_text("o_teacher", "结束")
            expect(page.locator("#bars svg")).to_be_visible(timeout=3000)
            page.screenshot(path=OUT / "screen-quiz.png")

            clock.advance(minutes=1)
            wx.send_text("o_teacher", "讨论 10 用一句话说说：导数是什么？")
            wx.send_text("o_teacher", "审核 开")
            for openid, text in zip(students, POSTS, strict=False):
                wx.send_text(openid, f"发言 {text}")
            wx.send_text("o_teacher", "通过 全部")
            wx.send_text(students[30], "发言 " + "哈" * 30)  # waits for 通过: stays off the screen
            expect(page.locator("#wall li").first).to_contain_text(POSTS[len(POSTS) - 1], timeout=3000)
            page.screenshot(path=OUT / "screen-wall.png")

            wx.send_text("o_teacher", "词云")
            expect(page.locator("#cloud svg")).to_be_visible(timeout=10000)  # the first cloud loads jieba's dictionary
            page.screenshot(path=OUT / "screen-cloud.png")
            browser.close()
        server.shutdown()
        db.close()
    for name in ("screen-pairing", "screen-idle", "screen-checkin", "screen-quiz", "screen-wall", "screen-cloud"):
        print(OUT / f"{name}.png")


if __name__ == "__main__":
    main()
