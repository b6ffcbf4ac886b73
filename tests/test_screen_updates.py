"""Issue 23 on the screen, through the real HTTP routes and the signed webhook with a frozen clock: polls that
answer only what changed, the QR encoded once per content, moderation of the wall (审核/通过, banned words,
folded repeats), the missing count (未到, 未到 投屏), the word cloud (词云, fill-in quizzes) and the roll call's draw."""

from __future__ import annotations

import html
import re

import pytest
import qrcode

from handlers.screen import cloud, minting
from handlers.screen import shown as what_is_shown
from handlers.screen.minting import AHEAD, QrDrawer
from models import QrDrawing, User, db
from tests.conftest import build_app
from tests.test_screen import Room, shown

NAMES = ("王芳", "李娜", "张伟", "刘洋")


@pytest.fixture
def room(app, clock):
    room = Room(app, clock, students=4)
    for openid, name in zip(room.students, NAMES, strict=True):
        User.update(name=name).where(User.openid == openid).execute()
    room.paired()
    room.teacher("上课")
    return room


def poll_as_page(room, etag=None, shape=None):
    headers = {"X-Screen": room.secret}
    if etag:
        headers["If-None-Match"] = etag
    if shape:
        headers["X-Shape"] = shape
    response = room.client.get("/screen/state", headers=headers)
    room.secret = response.headers.get("X-Screen-Secret") or room.secret  # handed over at pairing, as the page does
    return response


def shape_of(response) -> str:
    return re.search(r'data-shape="([0-9a-f]+)"', response.get_data(as_text=True)).group(1)


def test_a_count_change_answers_just_the_counts_and_a_new_kind_the_whole_page(room):
    room.teacher("开启签到 5 口令")
    first = poll_as_page(room)
    assert first.mimetype == "text/html" and 'class="qr"' in first.get_data(as_text=True)
    shape = shape_of(first)
    assert first.headers["X-Shape"] == shape
    code = re.search(r'id="passcode">(\d{4})<', first.get_data(as_text=True)).group(1)
    assert "签到成功" in room.wx.send_text(room.students[0], f"签到 {code}")
    counts = poll_as_page(room, first.headers["ETag"], shape)
    assert counts.status_code == 200 and counts.mimetype == "application/json"
    assert counts.json["parts"] == {"lost": "0", "came": "1", "roster": "4", "missing": "3"}
    assert len(counts.get_data()) < 200 and counts.headers["ETag"] != first.headers["ETag"]
    room.teacher("结束")
    room.teacher("练习 B 2 1+1=? A.1 B.2")  # another activity: the whole page, with its new shape
    changed = poll_as_page(room, counts.headers["ETag"], shape)
    assert changed.mimetype == "text/html" and "1+1=?" in changed.get_data(as_text=True) and shape_of(changed) != shape


def test_the_next_slots_qr_is_a_whole_page_and_each_qr_is_encoded_once(room, clock, monkeypatch):
    made = []
    real = what_is_shown.draw_qr
    monkeypatch.setattr(what_is_shown, "draw_qr", lambda data: made.append(data) or real(data))
    what_is_shown.svg_qr.cache_clear()
    room.teacher("开启签到 5")
    first = poll_as_page(room)
    for _ in range(3):
        assert poll_as_page(room).status_code == 200
    assert len(made) == 1  # every poll of this slot reused the one encoding
    clock.advance(seconds=room.settings.screen.rotate_seconds)
    rotated = poll_as_page(room, first.headers["ETag"], shape_of(first))
    assert rotated.mimetype == "text/html" and shape_of(rotated) != shape_of(first)  # a new QR is a new page
    assert len(made) == 2 and made[0] != made[1]


def test_the_scheduler_draws_the_coming_slots_so_no_worker_encodes_a_qr(room, clock, monkeypatch):
    """A school's screens change code every slot; each web worker encoding each room's code itself cost a burst
    a fifth of its CPU. The scheduler's job draws this slot's and the next ones' codes once into QrDrawing, and
    a worker meeting a new slot reads the drawing: the pages show the same QR and no worker draws one."""
    room.teacher("开启签到 5")
    drawer = QrDrawer(room.settings)
    with room.app.app_context():
        assert drawer(clock()) == 1 + AHEAD  # this slot and the next AHEAD
        assert drawer(clock()) == 0  # drawn once
    made = []
    monkeypatch.setattr(what_is_shown, "draw_qr", lambda data: made.append(data))
    what_is_shown.svg_qr.cache_clear()
    first = poll_as_page(room)
    clock.advance(seconds=room.settings.screen.rotate_seconds)
    rotated = poll_as_page(room, first.headers["ETag"], shape_of(first))
    assert made == []  # both slots' codes came drawn
    codes = [re.search(r'<svg class="qr".*?</svg>', p.get_data(as_text=True)).group(0) for p in (first, rotated)]
    assert codes[0] != codes[1] and all('<path d="M' in c for c in codes)
    monkeypatch.undo()
    content = html.unescape(re.search(r'id="checkin-qr" data-qr="([^"]+)"', rotated.get_data(as_text=True)).group(1))
    assert codes[1] == what_is_shown.draw_qr(content)  # the drawing of what the page says it shows
    clock.advance(seconds=(AHEAD + 2) * room.settings.screen.rotate_seconds + 60)
    with room.app.app_context():
        drawer(clock())  # expired drawings go
        assert QrDrawing.select().count() == 1 + AHEAD  # only the new slots' codes


def test_the_scheduler_draws_the_soonest_slots_first_and_a_few_a_run(room, clock, monkeypatch):
    """Every room's code changes at the same second: the job draws at most DRAW_PER_RUN codes a run, the current
    slot's before the later ones, so the drawings spread over runs instead of taking the cores at once."""
    monkeypatch.setattr(minting, "DRAW_PER_RUN", 2)
    room.teacher("开启签到 5")
    drawer = QrDrawer(room.settings)
    made = []
    real = minting.draw_qr
    monkeypatch.setattr(minting, "draw_qr", lambda data: made.append(data) or real(data))
    with room.app.app_context():
        assert drawer(clock()) == 2 and drawer(clock()) == AHEAD + 1 - 2 and drawer(clock()) == 0
    now_shown = html.unescape(re.search(r'id="checkin-qr" data-qr="([^"]+)"', poll_as_page(room).get_data(as_text=True)).group(1))
    assert made[0] == now_shown  # the current slot's code came first


def test_a_drawn_qr_is_exactly_the_libraries_matrix():
    """The SVG path (one rectangle per run of dark modules) covers exactly the modules qrcode encoded."""
    data = "https://ketang.example.edu/c/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    code = qrcode.QRCode(border=2)
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()
    svg = what_is_shown.draw_qr(data)
    size = int(re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).group(1))
    drawn = [[False] * size for _ in range(size)]
    for x, y, width in re.findall(r"M(\d+),(\d+)h(\d+)v1h-\3z", re.search(r' d="([^"]*)"', svg).group(1)):
        for dx in range(int(width)):
            assert not drawn[int(y)][int(x) + dx]  # no module drawn twice
            drawn[int(y)][int(x) + dx] = True
    assert size == len(matrix) and drawn == [list(row) for row in matrix]


def test_the_checkin_screen_counts_who_is_missing_and_never_names_them(room):
    room.teacher("开启签到 5 口令")
    page = room.page()
    assert "未到 4" in shown(page)
    code = re.search(r'id="passcode">(\d{4})<', page).group(1)
    room.wx.send_text(room.students[0], f"签到 {code}")
    assert "未到 3" in shown(room.page())
    reply = room.teacher("未到 投屏")
    assert all(name in reply for name in NAMES[1:]) and "只显示未到人数" in reply  # the names go to the teacher
    page = room.page()
    assert 'data-state="missing"' in page and re.search(r'id="missing-count"><b data-part="missing">3<', page)
    assert not any(name in page for name in NAMES)  # the projector never names anyone
    room.teacher("练习 B 2 1+1=? A.1 B.2")  # the next activity takes the screen back
    assert 'data-state="open-quiz"' in room.page()
    room.teacher("结束")
    assert "未到" not in room.page()  # the count is shown while the check-in is open only


def test_missing_alone_lists_the_names_and_leaves_the_screen_as_it_was(room):
    room.teacher("开启签到 5")
    reply = room.teacher("未到")
    assert all(name in reply for name in NAMES) and 'data-state="checkin"' in room.page()


def test_in_approval_mode_a_post_reaches_the_screen_only_after_the_teachers_pass(room, clock):
    room.teacher("讨论 导数的意义")
    assert "开启审核" in room.teacher("审核 开")
    before = poll_as_page(room)
    assert "审核中 · 待审 0" in shown(before.get_data(as_text=True))
    assert "已发言" in room.wx.send_text(room.students[0], "发言 切线的斜率")
    waiting = poll_as_page(room, before.headers["ETag"], shape_of(before))  # the wall did not change: a count did
    assert waiting.mimetype == "application/json" and waiting.json["parts"]["waiting"] == "1"
    assert "切线的斜率" not in room.page()
    results = room.teacher("结果")
    assert "#1 【待审】王芳：切线的斜率" in results
    room.wx.send_text(room.students[1], "发言 瞬时变化率")
    assert "已通过" in room.teacher("通过 1")
    page = room.page()
    assert "切线的斜率" in page and "瞬时变化率" not in page
    assert "不在待审中" in room.teacher("通过 1")
    assert "已通过 1 条" in room.teacher("通过 全部")
    assert "瞬时变化率" in room.page()
    assert "关闭审核" in room.teacher("审核 关")
    clock.advance(seconds=1)
    room.wx.send_text(room.students[2], "发言 极限")
    assert "极限" in room.page()


def test_turning_approval_off_leaves_what_waits_waiting(room):
    room.teacher("讨论 导数的意义")
    room.teacher("审核 开")
    room.wx.send_text(room.students[0], "发言 还没审")
    assert "仍有 1 条待审" in room.teacher("审核 关")
    assert "还没审" not in room.page()


def test_hidden_posts_stay_hidden_and_are_marked_in_results(room):
    room.teacher("讨论 导数的意义")
    room.wx.send_text(room.students[0], "发言 无关的话")
    room.teacher("隐藏 1")
    assert "无关的话" not in room.page() and "#1 【已隐藏】王芳：无关的话" in room.teacher("结果")


def test_a_repeated_post_is_folded_and_an_overlong_one_cut_and_all_is_escaped(room):
    room.teacher("讨论 导数的意义")
    for student in room.students[:3]:
        room.wx.send_text(student, "发言 斜率")
    room.wx.send_text(room.students[3], "发言 " + "很长" * 60)
    room.wx.send_text(room.students[3], "发言 <img src=x onerror=alert(1)>")
    page = room.page()
    assert page.count("斜率") == 1 and "×3" in page  # shown once, with how often
    assert "很长" * 40 + "…" in page and "很长" * 41 not in page
    assert "<img" not in page and "&lt;img src=x" in page
    results = room.teacher("结果")
    assert "#2 【重复·已合并】" in results and "#1 李娜" not in results


@pytest.fixture
def banned_room(tmp_path, clock):
    words = tmp_path / "banned.txt"
    words.write_text("# 一行一个词\n傻瓜\nidiot\n", encoding="utf-8")
    app = build_app(tmp_path, clock, screen={"banned_words_file": str(words)})
    room = Room(app, clock, students=2)
    room.paired()
    room.teacher("上课")
    yield room
    db.close()


def test_a_post_with_a_banned_word_stays_off_the_screen_and_its_poster_is_not_told(banned_room):
    room = banned_room
    room.teacher("讨论 今天的课")
    reply = room.wx.send_text(room.students[0], "发言 老师是 傻 瓜")  # spaced out still matches
    assert "已发言" in reply and "傻瓜" not in reply and "屏蔽" not in reply
    room.wx.send_text(room.students[1], "发言 ＩＤＩＯＴ here")  # full width, upper case
    room.wx.send_text(room.students[1], "发言 讲得清楚")
    page = room.page()
    assert "傻" not in page and "IDIOT" not in page and "讲得清楚" in page
    results = room.teacher("结果")
    assert "#1 【屏蔽词·未上屏】" in results and "#2 【屏蔽词·未上屏】" in results and "#3 【" not in results


def test_a_closed_fill_in_quiz_shows_a_cloud_of_the_answers_sized_by_count(room):
    room.teacher("练习 =北京 2 中国的首都是？")
    for student, answer in zip(room.students, ("北京", "北京", "北京", "上海"), strict=True):
        room.wx.send_text(student, f"答 {answer}")
    room.teacher("结束")
    page = room.page()
    sizes = dict((word, int(size)) for size, word in re.findall(r'font-size="(\d+)"[^>]*>([^<]+)</text>', page))
    assert sizes["北京"] > sizes["上海"] and 'id="bars"' not in page
    assert not any(name in page for name in NAMES)


def test_the_teachers_cloud_shows_a_discussions_words_without_stop_words_or_names(room):
    room.teacher("讨论 导数是什么")
    posts = ("导数是切线的斜率", "切线斜率", "变化率，变化率", "我觉得是斜率 <b>粗</b>")
    for student, text in zip(room.students, posts, strict=True):
        room.wx.send_text(student, f"发言 {text}")
    assert "词云" in room.teacher("词云")
    page = room.page()
    words = dict((word, int(n)) for n, word in re.findall(r'data-n="(\d+)">([^<]+)</text>', page))
    assert words["斜率"] == 3 and words["切线"] == 2 and words["变化率"] == 1  # a post counts a word once
    assert "的" not in words and "我" not in words and "<b>粗" not in page and "粗" in words
    assert not any(name in page for name in NAMES)
    assert cloud.cloud_svg(["切线斜率", "斜率"]) == cloud.cloud_svg(["切线斜率", "斜率"])  # same answers, same picture


def test_cloud_needs_a_discussion_or_survey(room):
    room.teacher("练习 B 2 1+1=? A.1 B.2")
    assert "不是讨论或问卷" in room.teacher("词云")


def test_a_closed_surveys_cloud_sizes_each_option_by_its_votes(room):
    room.teacher("问卷 3 2 节奏怎么样？A.太快 B.正好 C.<太慢>")
    for student, answer in zip(room.students, "BBAC", strict=True):
        room.wx.send_text(student, f"答 {answer}")
    assert "词云" in room.teacher("词云")
    assert 'id="cloud"' not in room.page()  # open: no distribution on the screen
    room.teacher("结束")
    page = room.page()
    words = dict((word, int(n)) for n, word in re.findall(r'data-n="(\d+)">([^<]+)</text>', page))
    assert words == {"正好": 2, "太快": 1, "&lt;太慢&gt;": 1} and 'id="bars"' not in page


def test_a_roll_call_just_picked_plays_its_draw_then_shows_the_names(room, clock):
    room.teacher("开启签到 5 口令")
    code = re.search(r'id="passcode">(\d{4})<', room.page()).group(1)
    for student in room.students:
        room.wx.send_text(student, f"签到 {code}")
    room.teacher("点名 2")
    page = room.page()
    assert 'class="calls draw"' in page and 'class="drum"' in page
    clock.advance(seconds=what_is_shown.DRAW_SECONDS + 1)
    page = room.page()
    assert 'class="calls"' in page and "drum" not in page and sum(name in page for name in NAMES) == 2


def test_a_quiz_during_an_open_check_in_keeps_the_check_in_in_a_panel_whose_count_moves_in_place(room):
    room.teacher("开启签到 5 口令")
    room.teacher("练习 C 3 哪个是质数？A.4 B.6 C.7 D.9")
    first = poll_as_page(room)
    page = first.get_data(as_text=True)
    assert 'id="question"' in page and '<aside class="panel">' in page and 'id="checkin-qr"' in page
    code = re.search(r'id="passcode">(\d{4})<', page).group(1)
    assert "签到成功" in room.wx.send_text(room.students[0], f"签到 {code}")  # the 口令 in the panel is the live one
    counts = poll_as_page(room, first.headers["ETag"], shape_of(first))
    assert counts.mimetype == "application/json" and counts.json["parts"]["came"] == "1"
    assert re.search(r'id="checkin-count">已到 <span data-part="came">', page)  # the panel's count is one of the parts


def test_a_roll_call_of_students_without_a_name_or_number_shows_them_as_classmates(room):
    User.update(name=None, student_no=None).where(User.openid.in_(room.students)).execute()
    room.teacher("开启签到 5 口令")
    code = re.search(r'id="passcode">(\d{4})<', room.page()).group(1)
    for student in room.students:
        room.wx.send_text(student, f"签到 {code}")
    room.teacher("点名 2")
    page = room.page()
    assert page.count("同学 <span>") == 2 and not any(name in page for name in NAMES)


def test_the_screens_counts_are_the_ones_attendance_counts_as_students_come_and_go(room, clock):
    room.teacher("开启签到 5 口令")
    code = re.search(r'id="passcode">(\d{4})<', room.page()).group(1)
    room.wx.send_text(room.students[0], f"签到 {code}")
    clock.advance(seconds=1)
    room.wx.send_text(room.students[1], "退出课堂 1")  # left after it opened: still counted, missing
    room.wx.send_text("o_newcomer", f"加入 {room.code}")  # joined during it: counted
    page = shown(room.page())
    assert "已到 1 / 5" in page and "未到 4" in page
    assert "应到 5：已到 1" in room.teacher("签到情况")  # the teacher's count is the screen's


def test_a_post_cannot_turn_the_screens_text_around_and_a_long_word_fits_the_cloud(room):
    room.teacher("讨论 导数的意义")
    room.wx.send_text(room.students[0], "发言 \u202e反过来\u202c的字")
    assert "\u202e" not in room.page() and "反过来的字" in room.page()
    svg = str(cloud.counts_svg((("中华人民共和国万岁万万岁", 3),)))
    size, x = re.search(r'x="(-?\d+)" y="\d+" font-size="(\d+)"', svg).group(2, 1)
    assert int(x) >= 0 and int(size) * 12 <= cloud.WIDTH  # twelve characters of one em on one row


def test_a_check_in_screens_count_poll_is_the_304_check_and_three_reads_however_large_the_class(app, clock):
    from harness.statements import counting

    room = Room(app, clock, students=3)
    room.paired()
    room.teacher("上课")
    room.teacher("开启签到 5 口令")
    first = poll_as_page(room)
    for i in range(20):  # a bigger class, more answers: the same statements
        room.wx.send_text(f"o_more{i}", f"加入 {room.code}")
    code = re.search(r'id="passcode">(\d{4})<', first.get_data(as_text=True)).group(1)
    room.wx.send_text(room.students[0], f"签到 {code}")
    with counting() as sent:
        counts = poll_as_page(room, first.headers["ETag"], shape_of(first))
    assert counts.json["parts"]["roster"] == "23"
    reads = [s for s in sent if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 4 and reads[0].startswith("SELECT id, version, net,"), "\n".join(s[:100] for s in sent)


def test_a_teachers_marks_move_the_screens_counts(room):
    room.teacher("开启签到 5 口令")
    code = re.search(r'id="passcode">(\d{4})<', room.page()).group(1)
    room.wx.send_text(room.students[0], f"签到 {code}")
    for index, openid in enumerate(room.students[:2]):
        User.update(student_no=f"2024{index:03d}").where(User.openid == openid).execute()
    assert "已到 1 / 4" in shown(room.page())
    room.teacher("改签 2024000 缺勤")  # came, then marked absent: not counted as come
    assert "已到 0 / 4" in shown(room.page()) and "未到 4" in shown(room.page())
    room.teacher("改签 2024001 请假")  # excused: neither come nor missing
    assert "已到 0 / 4" in shown(room.page()) and "未到 3" in shown(room.page())


def test_a_banned_words_file_that_is_not_there_stops_the_start(tmp_path):
    from bot.config import ConfigError, settings_from_dict
    from tests.conftest import settings_dict

    with pytest.raises(ConfigError, match="banned_words_file"):
        settings_from_dict(settings_dict(tmp_path, True, screen={"banned_words_file": str(tmp_path / "nope.txt")}))


def test_the_cloud_leaves_out_what_the_wall_would_not_show(banned_room, clock):
    room = banned_room
    room.teacher("讨论 今天的课")
    room.wx.send_text(room.students[0], "发言 傻瓜 老师")  # banned: off the wall, off the cloud
    room.teacher("审核 开")
    clock.advance(seconds=1)
    room.wx.send_text(room.students[1], "发言 秘密 计划")  # waiting for 通过
    room.teacher("词云")
    page = room.page()
    assert not any(word in page for word in ("傻瓜", "老师", "秘密", "计划"))
    room.teacher("通过 2")
    page = room.page()
    assert "秘密" in page and "计划" in page and "傻瓜" not in page
