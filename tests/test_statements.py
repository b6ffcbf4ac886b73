"""Round trips per message on the hot paths: each answered in at most BUDGET statements, BEGIN and COMMIT
included, counted at the database connection (harness/statements.py) through the signed webhook.

A class checks in at once; on PostgreSQL every statement is a round trip that also holds the
transaction's row locks a little longer. Each path is held to its exact count today (STATEMENTS), not
only to the ceiling: a change that adds a query to any of them fails here, even one that stays under 7.
A change that saves one lowers the count here, on purpose.
"""

from __future__ import annotations

import os
import re

import pytest

from harness.statements import counting
from models import Post, Response, db

BUDGET = 7
# Statements per hot path, BEGIN and COMMIT included: the same on SQLite and PostgreSQL.
STATEMENTS = {"join": 7, "check-in": 6, "check-in with a code": 6, "a second check-in": 5, "answer": 6,
              "changed answer": 6, "say": 6, "repeat": 3}


@pytest.fixture
def hall(app, wechat, clock):
    """A teacher with a class in session and three students who follow the account and joined it."""
    assert app.test_cli_runner().invoke(args=["make-teacher", "o_t"]).exit_code == 0
    code = re.search(r"(\d{6})", wechat.send_text("o_t", "创建课堂 高等数学")).group(1)
    for student in ("o_s1", "o_s2", "o_s3"):
        wechat.send_event(student, "subscribe")
        assert "已加入" in wechat.send_text(student, f"加入 {code}")
    wechat.send_text("o_t", "上课")
    return code


def sent_by(wechat, clock, openid, text, msg_id=None):
    """The reply to one message and the statements it took; a second later than the last (a real touch)."""
    clock.advance(seconds=1)
    with counting() as sent:
        reply = wechat.send_text(openid, text, msg_id)
    return reply, sent


def within_budget(sent, path):
    """*path* took exactly its count of statements (which is within the budget)."""
    assert STATEMENTS[path] <= BUDGET
    assert len(sent) == STATEMENTS[path], f"{path}: {len(sent)} statements:\n" + "\n".join(s[:120] for s in sent)


def test_every_hot_path_is_within_the_budget():
    assert max(STATEMENTS.values()) <= BUDGET


def test_join_takes_its_count_of_statements(app, wechat, clock, hall):
    assert app.test_cli_runner().invoke(args=["make-teacher", "o_t2"]).exit_code == 0
    code = re.search(r"(\d{6})", wechat.send_text("o_t2", "创建课堂 线性代数")).group(1)
    wechat.send_event("o_s1", "subscribe")
    reply, sent = sent_by(wechat, clock, "o_s1", f"加入 {code}")
    assert "已加入「线性代数」" in reply
    within_budget(sent, "join")


def test_check_in_without_a_code_takes_its_count_of_statements(wechat, clock, hall):
    wechat.send_text("o_t", "开启签到 5")
    reply, sent = sent_by(wechat, clock, "o_s1", "签到")
    assert "签到成功" in reply
    within_budget(sent, "check-in")
    assert Response.select().count() == 1


def test_check_in_with_a_code_takes_its_count_of_statements(wechat, clock, hall):
    passcode = re.search(r"签到码：(\d{4})", wechat.send_text("o_t", "开启签到 5 口令")).group(1)
    reply, sent = sent_by(wechat, clock, "o_s2", f"签到 {passcode}")
    assert "签到成功" in reply
    within_budget(sent, "check-in with a code")


def test_a_second_check_in_takes_its_count_of_statements(wechat, clock, hall):
    wechat.send_text("o_t", "开启签到 5")
    wechat.send_text("o_s1", "签到")
    reply, sent = sent_by(wechat, clock, "o_s1", "签到")
    assert "无需重复签到" in reply
    within_budget(sent, "a second check-in")


def test_answer_takes_its_count_of_statements(wechat, clock, hall):
    wechat.send_text("o_t", "练习 B 3 1+1=? A.1 B.2 C.3")
    reply, sent = sent_by(wechat, clock, "o_s1", "答 B")
    assert "已提交答案 B" in reply
    within_budget(sent, "answer")
    reply, sent = sent_by(wechat, clock, "o_s1", "答 A")
    assert "答案已从 B 改为 A" in reply
    within_budget(sent, "changed answer")


def test_say_takes_its_count_of_statements(wechat, clock, hall):
    wechat.send_text("o_t", "讨论 10 生活中的导数")
    reply, sent = sent_by(wechat, clock, "o_s1", "发言 我认为是速度")
    assert "已发言" in reply
    within_budget(sent, "say")
    assert Post.select().count() == 1


def test_a_repeated_message_takes_its_count_of_statements(wechat, clock, hall):
    wechat.send_text("o_t", "开启签到 5")
    first, _ = sent_by(wechat, clock, "o_s3", "签到", msg_id=4242)
    again, sent = sent_by(wechat, clock, "o_s3", "签到", msg_id=4242)
    assert again == first and "签到成功" in again
    within_budget(sent, "repeat")
    assert Response.select().count() == 1


def test_the_counter_sees_every_statement(wechat, clock, hall):
    """The counter cannot pass by missing statements: a check-in writes, so BEGIN, an INSERT and COMMIT are seen."""
    wechat.send_text("o_t", "开启签到 5")
    _, sent = sent_by(wechat, clock, "o_s1", "签到")
    words = [s.split(None, 1)[0].upper() for s in sent]
    assert words[0] == "BEGIN" and words[-1] == "COMMIT" and "INSERT" in words


@pytest.mark.skipif(not os.environ.get("KETANG_TEST_DATABASE_URL", "").startswith("postgres"), reason="PostgreSQL only")
def test_a_pooled_connection_the_server_dropped_still_answers_the_message(wechat, clock, hall):
    """No ping when a request takes a pooled connection: a dead one is found by BEGIN and replaced, and
    the message is answered (not the busy reply)."""
    import psycopg

    wechat.send_text("o_t", "开启签到 5")
    outside = psycopg.connect(os.environ["KETANG_TEST_DATABASE_URL"], autocommit=True)
    with outside.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid()")
    outside.close()
    reply, sent = sent_by(wechat, clock, "o_s1", "签到")
    assert "签到成功" in reply
    assert Response.select().count() == 1


def test_a_refusal_without_a_savepoint_is_recorded_once_and_repeated_alike(wechat, clock, hall):
    """签到 from a student in no class is refused (a UserError): the transaction rolls back (no savepoint)
    and the refusal is recorded alone, so WeChat's retry of the message gets the same words."""
    wechat.send_event("o_s9", "subscribe")
    first, sent = sent_by(wechat, clock, "o_s9", "签到", msg_id=777)
    assert "加入" in first
    assert not any(s.upper().startswith(("SAVEPOINT", "RELEASE")) for s in sent)
    again, _ = sent_by(wechat, clock, "o_s9", "签到", msg_id=777)
    assert again == first
    assert Response.select().count() == 0


@pytest.mark.skipif(not os.environ.get("KETANG_TEST_DATABASE_URL", "").startswith("postgres"), reason="PostgreSQL only")
def test_a_block_counts_its_own_statements_only_even_beside_a_counter_left_on_a_connection(wechat, clock, hall):
    """A connection that still carries an earlier block's counting cursor (one opened where the block could not
    put the driver's back) neither adds this block's statements to the earlier list nor counts them twice."""
    wechat.send_text("o_t", "开启签到 5")
    with counting() as earlier:
        left_over = db.connection().cursor_factory
    db.connect(reuse_if_open=True)
    db.connection().cursor_factory = left_over
    reply, sent = sent_by(wechat, clock, "o_s1", "签到")
    assert "签到成功" in reply
    within_budget(sent, "check-in")
    assert earlier == []
