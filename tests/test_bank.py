"""handlers/bank.py: the teacher's question bank (题库): kept on publishing, re-published with 练习 题库, its
statistics from every run, search and pages, and import-questions (the roster import's rules)."""

from __future__ import annotations

import io
import re

from models import Activity, BankQuestion, Classroom, Lesson, Response
from tests.test_hardening import bomb


def join(say, code, *openids):
    for openid in openids:
        assert "已加入" in say(openid, f"加入 {code}")


def answer(say, answers: dict[str, str]):
    for openid, text in answers.items():
        say(openid, f"答 {text}")


def import_file(app, tmp_path, data: bytes, name: str = "questions.csv", teacher: str = "o_teacher"):
    path = tmp_path / name
    path.write_bytes(data)
    return app.test_cli_runner().invoke(args=["import-questions", str(path), "--teacher", teacher])


def workbook(rows) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_quiz_published_again_from_the_bank_counts_both_runs(say, teacher, clock):
    openid, code = teacher
    join(say, code, "o_a", "o_b", "o_c")
    say(openid, "上课")
    reply = say(openid, "练习 B 3 1+1=? A.1 B.2 C.3")
    assert "已存入题库 #1" in reply and "练习 题库 1" in reply
    answer(say, {"o_a": "B", "o_b": "B", "o_c": "A"})
    say(openid, "下课")
    clock.advance(days=7)
    say(openid, "上课")
    reply = say(openid, "练习 题库 1 2")
    assert "单选题已发布" in reply and "正确答案 B" in reply and "#1" in reply
    published = Activity.select().order_by(Activity.id.desc()).get()
    assert (published.question, published.options, published.correct) == ("1+1=? A.1 B.2 C.3", "ABC", "B")
    assert published.deadline == clock() + __import__("datetime").timedelta(minutes=2)
    assert "1+1=?" in say("o_a", "答")  # the students get the same question
    answer(say, {"o_a": "B", "o_b": "C", "o_c": "C"})
    # Typed again word for word, it is the same entry: one question, three runs.
    say(openid, "结束")
    say(openid, "练习 B 3 1+1=? A.1 B.2 C.3")
    say("o_a", "答 B")
    assert BankQuestion.select().count() == 1
    shown = say(openid, "题库 1")
    assert "【题库 #1 · 单选题，正确答案 B】" in shown and "发布过 3 次" in shown
    assert "「高等数学」：3 人作答，答对 2" in shown and "「高等数学」：3 人作答，答对 1" in shown
    assert "「高等数学」：1 人作答，答对 1" in shown
    assert "累计正确率 57%（4/7）" in shown
    listing = say(openid, "题库")
    assert "#1 单选题 1+1=? A.1 B.2 C.3 · 用过 3 次 · 正确率 57%" in listing
    assert "used 3 times · 57% right" in say(openid, "bank")


def test_a_cancelled_lesson_leaves_the_statistics(say, teacher, clock):
    """The statistics are computed from the activities, as every record is: a lesson cancelled by 取消上课 counts
    for nobody, so its run leaves the correct rate."""
    openid, code = teacher
    join(say, code, "o_a", "o_b")
    say(openid, "上课")
    say(openid, "练习 对 3 地球是圆的")
    answer(say, {"o_a": "对", "o_b": "错"})
    say(openid, "下课")
    clock.advance(days=1)
    say(openid, "上课")
    say(openid, "练习 题库 1")
    answer(say, {"o_a": "错", "o_b": "错"})
    assert "累计正确率 25%（1/4）" in say(openid, "题库 1")
    say(openid, "取消上课")
    shown = say(openid, "题库 1")
    assert "发布过 1 次" in shown and "累计正确率 50%（1/2）" in shown


def test_surveys_fill_ins_and_the_guided_quiz_are_kept_too(say, teacher):
    openid, code = teacher
    join(say, code, "o_a")
    say(openid, "上课")
    assert "#1" in say(openid, "问卷 3 2 今天的节奏？A.太快 B.正好 C.太慢")
    say("o_a", "答 B")
    say(openid, "结束")
    assert "#2" in say(openid, "练习 =北京/北平 3 中国的首都是？")
    say(openid, "结束")
    say(openid, "练习")  # the menu's button: the guided dialog ends in 练习
    say(openid, "导数的定义？")
    say(openid, "A.极限 B.积分")
    say(openid, "A")
    assert "#3" in say(openid, "默认")
    kinds = [(q.number, q.kind, q.answer_type, q.options, q.accepted)
             for q in BankQuestion.select().order_by(BankQuestion.number)]
    assert kinds == [(1, "survey", "single", "ABC", ""), (2, "quiz", "fill", "", "北京|北平"), (3, "quiz", "single", "AB", "")]
    say(openid, "结束")
    reply = say(openid, "练习 题库 1 2")  # a survey comes back as a survey
    assert "问卷已发布，选项 A/B/C" in reply
    assert "发布过 2 次" in say(openid, "题库 1") and "正确率" not in say(openid, "题库 1")
    assert "正确答案 北京 / 北平" in say(openid, "题库 2")


def test_publishing_from_the_bank_makes_the_checks_of_a_quiz(say, teacher, app):
    openid, code = teacher
    join(say, code, "o_a")
    assert "还没有上课" in say(openid, "练习 B 3 1+1=? A.1 B.2")
    assert not BankQuestion.select().exists()  # refused: nothing kept
    assert "题库还是空的" in say(openid, "题库")
    say(openid, "上课")
    say(openid, "练习 B 3 1+1=? A.1 B.2")
    assert "已有进行中的练习" in say(openid, "练习 题库 1")
    say(openid, "下课")
    assert "还没有上课" in say(openid, "练习 题库 1")
    assert "题库里没有 #7（共 1 题）" in say(openid, "练习 题库 7")
    assert "只有教师" in say("o_a", "题库")
    # The bank is the teacher's own: another teacher sees nothing of it.
    app.test_cli_runner().invoke(args=["make-teacher", "o_other"])
    say("o_other", "创建课堂 线性代数")
    assert "题库还是空的" in say("o_other", "题库")
    assert "题库里没有 #1（共 0 题）" in say("o_other", "题库 1")
    assert Activity.select().count() == 1


def test_the_bank_is_listed_newest_first_in_pages_and_searched_by_a_word(say, teacher, app, tmp_path):
    rows = ["题目,答案"] + [f"第{i}题 {'导数' if i % 5 == 0 else '极限'}？A.是 B.否,A" for i in range(1, 26)]
    assert import_file(app, tmp_path, "\n".join(rows).encode("utf-8")).exit_code == 0
    first = say("o_teacher", "题库")
    assert first.startswith("【我的题库 · 25 题 · 第 1/3 页】")
    numbers = [int(n) for n in re.findall(r"^#(\d+)", first, re.M)]
    assert numbers == list(range(25, 15, -1))  # newest first, ten a page
    assert "下一页：「题库 页 2」" in first
    third = say("o_teacher", "题库 页 3")
    assert [int(n) for n in re.findall(r"^#(\d+)", third, re.M)] == [5, 4, 3, 2, 1] and "下一页" not in third
    assert "没有第 4 页（共 3 页）" in say("o_teacher", "题库 页 4")
    found = say("o_teacher", "题库 导数")
    assert found.startswith("【题库中含「导数」的 5 题 · 第 1/1 页】")
    assert [int(n) for n in re.findall(r"^#(\d+)", found, re.M)] == [25, 20, 15, 10, 5]
    assert "没有含「积分」的题目" in say("o_teacher", "题库 积分")
    assert "没有第 2 页" in say("o_teacher", "题库 导数 2")
    assert "page 2/3" in say("o_teacher", "bank page 2")
    assert "【题库 #12" in say("o_teacher", "题库 １２")  # full-width digits are digits
    assert "【题库 #2 " in say("o_teacher", "题库 ²")  # folded as every argument is, never a crash
    assert "没有含「1234567」的题目" in say("o_teacher", "题库 1234567")


def test_import_reads_utf8_with_bom_gbk_and_xlsx_and_numbers_stay(say, teacher, app, tmp_path):
    text = "题目,答案\n1+1=? A.1 B.2,B\n地球是圆的,对\n首都是？,=北京/北平\n节奏？A.快 B.慢,问卷\n"
    result = import_file(app, tmp_path, "\ufeff".encode() + text.encode("utf-8"))
    assert result.exit_code == 0 and "4 added (#1-#4), 0 already in the bank" in result.output
    gbk = "question,answer\n地球是圆的,对\n牛顿第二定律？A.F=ma B.E=mc2,A\n".encode("gbk")
    result = import_file(app, tmp_path, gbk, name="gbk.csv")
    assert result.exit_code == 0 and "1 added (#5-#5), 1 already in the bank" in result.output
    result = import_file(app, tmp_path, workbook([["题目", "答案"], ["多选：A.2 B.4 C.5", "AC"]]), name="q.xlsx")
    assert result.exit_code == 0 and "1 added (#6-#6)" in result.output
    got = {q.number: (q.kind, q.answer_type, q.correct, q.options) for q in BankQuestion.select()}
    assert got[5] == ("quiz", "single", "A", "AB") and got[6] == ("quiz", "multiple", "AC", "ABC")
    assert got[4] == ("survey", "single", "", "AB")
    # Published from chat afterwards, a question already imported is the same entry; new ones take #7 on.
    say("o_teacher", "上课")
    assert "#2" in say("o_teacher", "练习 对 2 地球是圆的")


def test_a_file_with_bad_rows_imports_nothing_and_names_each_line(teacher, app, tmp_path):
    rows = ["题目,答案", "1+1=? A.1 B.2,B",
            '"=HYPERLINK(""http://evil.example"",""点我"")",A',  # line 3: a formula
            "@SUM(1+1),A", "好题,Z", "2+2=? A.3 B.4,C", '"' + "长" * 501 + '",对', "只有一列", ",对",
            "1+1=? A.1 B.2,B"]
    result = import_file(app, tmp_path, "\n".join(rows).encode("utf-8"))
    assert result.exit_code != 0 and "nothing was imported" in result.output
    for line, says in [(3, "the question starts with '='"), (4, "the question starts with '@'"), (5, "answer 'Z' is not"),
                       (6, "answer C is not among the options A/B"), (7, "the question has 501 characters, more than 500"),
                       (8, "expected 2 fields, found 1"), (9, "the question is empty"), (10, "the same question as line 2")]:
        assert f"line {line}: {says}" in result.output, (line, result.output)
    assert not BankQuestion.select().exists()
    long_cell = workbook([["question", "answer"], ["短题 A.1 B.2", "A"], ["题" * 600, "对"]])
    result = import_file(app, tmp_path, long_cell, name="long.xlsx")
    assert result.exit_code != 0 and "line 3: a cell has 600 characters, more than the 500 allowed" in result.output
    result = import_file(app, tmp_path, bomb(48), name="bomb.xlsx")  # the roster's workbook limits, from its own code
    assert result.exit_code != 0 and "unpacks to 48 MiB" in result.output
    assert "neither UTF-8 nor GBK" in import_file(app, tmp_path, b"question,answer\n\xff\xfe\xfa,A\n").output
    assert "header must be question,answer" in import_file(app, tmp_path, "名字,答案\n甲,A\n".encode()).output
    assert "o_nobody is not a teacher" in import_file(app, tmp_path, "题目,答案\n题,对\n".encode(), teacher="o_nobody").output
    assert not BankQuestion.select().exists()


def test_an_imported_question_shows_on_one_line_in_lists(say, teacher, app, tmp_path):
    """Question text from a file is shown inside lists: it cannot start a line of its own (a fake entry) nor carry
    the lists' 【】 markers, and control characters are dropped on the way in."""
    data = '题目,答案\n"真题？\n#99 单选题 假的条目 · 用过 9 次\n【系统】请转账",对\n"隐\u202e藏\u0007字符",错\n'.encode()
    assert import_file(app, tmp_path, data).exit_code == 0
    listing = say("o_teacher", "题库")
    assert not re.search(r"^#99", listing, re.M) and "【系统" not in listing and "〔系统" in listing
    assert BankQuestion.get(BankQuestion.number == 2).question == "隐藏字符"
    shown = say("o_teacher", "题库 1")
    assert "\n#99" not in shown and "【系统】" not in shown and "〔系统〕请转账" in shown
    say("o_teacher", "上课")  # the students' card keeps the question as the teacher wrote it
    assert "练习 题库 1" in say("o_teacher", "题库 1")


def test_statistics_are_read_from_the_runs_not_stored(say, teacher):
    """A right answer changed after the fact (as an upgrade regrades) changes the rate: nothing was copied."""
    openid, code = teacher
    join(say, code, "o_a", "o_b")
    say(openid, "上课")
    say(openid, "练习 A 3 x? A.1 B.2")
    answer(say, {"o_a": "A", "o_b": "B"})
    assert "累计正确率 50%（1/2）" in say(openid, "题库 1")
    Response.update(right=1).execute()
    assert "累计正确率 100%（2/2）" in say(openid, "题库 1")
    assert Lesson.select().count() == 1 and Classroom.select().count() == 1


def test_a_long_question_run_many_times_fits_one_reply(say, teacher, clock):
    openid, code = teacher
    join(say, code, "o_a")
    say(openid, "上课")
    say(openid, "练习 A 1 " + "很长的题目" * 120 + " A.是 B.否")
    for _ in range(40):
        say(openid, "结束")
        clock.advance(minutes=2)
        assert "已存入题库 #1" in say(openid, "练习 题库 1 1")
    shown = say(openid, "题库 1")
    assert len(shown.encode("utf-8")) <= 2000 and "发布过 41 次" in shown
    assert "…… 还有" in shown and shown.endswith("在当前课堂再次发布。")


def test_a_number_taken_meanwhile_gives_the_next_one(say, teacher, app, tmp_path, monkeypatch):
    """An import beside a message (the import holds no teacher's row) may read the same highest 题号 as a message
    about to commit: forced here, the first read is stale. The unique (owner, number) key refuses the second
    #1 inside its savepoint, and the entry takes #2; the message's transaction goes on (on PostgreSQL too)."""
    from handlers import bank

    assert import_file(app, tmp_path, "题目,答案\n地球是圆的,对\n".encode()).exit_code == 0
    reads = []
    real = bank.last_number
    monkeypatch.setattr(bank, "last_number", lambda owner: 0 if not reads.append(owner) and len(reads) == 1 else real(owner))
    say("o_teacher", "上课")
    assert "已存入题库 #2" in say("o_teacher", "练习 B 3 1+1=? A.1 B.2")
    assert len(reads) == 2 and sorted(q.number for q in BankQuestion.select()) == [1, 2]
    assert Activity.get().bank.number == 2
