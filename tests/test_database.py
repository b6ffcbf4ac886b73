"""Write transactions: nested ones commit once, a failed one leaves nothing, on either database."""

from __future__ import annotations

import pytest

from bot.database import transaction
from models import User
from tests.conftest import T0


def test_nested_transactions_commit_together_and_roll_back_together(app):
    with transaction():
        User.create(openid="o_outer", created_at=T0)
        with transaction():
            User.create(openid="o_inner", created_at=T0)
    assert User.select().count() == 2
    with pytest.raises(RuntimeError):
        with transaction():
            User.create(openid="o_lost", created_at=T0)
            raise RuntimeError("boom")
    assert not User.select().where(User.openid == "o_lost").exists()
    with transaction():  # the writer lock was released: the next write goes through
        User.create(openid="o_after", created_at=T0)
    assert User.select().count() == 3
