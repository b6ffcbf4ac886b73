"""Prepared queries return exactly what the same peewee query returns, on either database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from peewee import fn

from bot.prepared import Prepared
from models import FailedAttempt, User
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
    from datetime import datetime

    from peewee import CharField, DateTimeField

    from models import BaseModel

    class Stamped(BaseModel):
        name = CharField()
        at = DateTimeField(default=datetime.utcnow)

    with pytest.raises(RuntimeError, match="at"):
        Prepared(lambda name: Stamped.insert(name=name)).rowcount("x")
