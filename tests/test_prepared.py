"""Prepared queries return exactly what the same peewee query returns, on either database."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from peewee import CharField, DateTimeField, fn

from bot.dispatch import TOUCH
from bot.prepared import Prepared
from models import UNREAD, BaseModel, Classroom, FailedAttempt, Membership, Outbox, User
from tests.conftest import T0


def test_prepared_queries_match_peewee(app):
    for i in range(3):
        User.create(openid=f"o_{i}", created_at=T0 + timedelta(minutes=i))
    by_openid = Prepared(lambda openid: User.select().where(User.openid == openid).limit(1))
    since = Prepared(lambda moment: User.select().where(User.created_at > moment).order_by(User.id))
    assert by_openid.first("o_1") == User.get(User.openid == "o_1")
    assert by_openid.first("o_1").created_at == T0 + timedelta(minutes=1)  # a real model, fields converted
    assert by_openid.first("nobody") is None
    assert [u.openid for u in since.rows(T0)] == ["o_1", "o_2"]

    user = User.get(User.openid == "o_0")
    record = Prepared(lambda user, scope, at: FailedAttempt.insert(user=user, scope=scope, at=at))
    count = Prepared(lambda user, scope: FailedAttempt.select(fn.COUNT(FailedAttempt.id))
                     .where((FailedAttempt.user == user) & (FailedAttempt.scope == scope)))
    assert record.rowcount(user, "join", T0) == 1 and record.rowcount(user.id, "join", T0) == 1
    assert count.scalar(user, "join") == 2 == FailedAttempt.select().where(FailedAttempt.user == user).count()
    seen = Prepared(lambda at, openid: User.update(last_seen_at=at).where(User.openid == openid))
    assert seen.rowcount(T0, "o_2") == 1 and User.get(User.openid == "o_2").last_seen_at == T0


def test_a_query_whose_placeholder_does_not_survive_is_refused(app):
    inlined = Prepared(lambda n: User.select().where(User.id == 1))  # n is never used
    with pytest.raises(RuntimeError, match="cannot prepare"):
        inlined.first(5)


def test_an_insert_whose_default_is_computed_per_row_is_refused(app):


    class Stamped(BaseModel):
        name = CharField()
        at = DateTimeField(default=datetime.utcnow)

    with pytest.raises(RuntimeError, match="at"):
        Prepared(lambda name: Stamped.insert(name=name)).rowcount("x")


def test_the_column_map_kept_after_the_first_row_serves_later_rows_rightly(app):

    teacher = User.create(openid="o_t", created_at=T0)
    students = [User.create(openid=f"o_s{i}", created_at=T0) for i in range(3)]
    for n, student in enumerate(students):  # o_s0 has 0 unread pushes, o_s1 one, o_s2 two
        for k in range(n):
            Outbox.create(key=f"k{n}{k}", user=student, kind="announcement", text="x", status=UNREAD,
                          next_try_at=T0, created_at=T0)
    looked_up = [TOUCH.first(None, None, None, f"o_s{i}", UNREAD, "") for i in (2, 0, 1, 2)]  # an UPDATE … RETURNING
    assert [(u.openid, u.unread_at_start, u.in_dialog, u.stored_reply) for u in looked_up] == [
        ("o_s2", 2, 0, None), ("o_s0", 0, 0, None), ("o_s1", 1, 0, None), ("o_s2", 2, 0, None)]
    assert TOUCH.first(None, None, None, "nobody", UNREAD, "") is None

    joined = Prepared(lambda user: Classroom.select(Classroom, Membership).join(Membership)
                      .where(Membership.user == user).order_by(Classroom.id))
    for i, name in enumerate(("数学", "物理")):
        room = Classroom.create(name=name, code=f"10000{i}", owner=teacher, created_at=T0)
        Membership.create(user=students[i], classroom=room, joined_at=T0 + timedelta(minutes=i))
    for _ in range(2):  # the second round runs on the kept map
        first, second = joined.rows(students[0]), joined.rows(students[1])
        assert [(c.name, c.membership.joined_at) for c in first] == [("数学", T0)]
        assert [(c.name, c.membership.joined_at) for c in second] == [("物理", T0 + timedelta(minutes=1))]
