"""Issue 18: holes an attacker found — invisible names, stored replies, what a scan may mean, the health
check's clock, unauthenticated 500s, and a roster import that froze every write."""

from __future__ import annotations

import pytest

from bot.catalogue import t
from bot.dispatch import Inbound
from models import RosterEntry, User
from tests.test_identity import import_file, school  # noqa: F401  (fixture)

FILLERS = ("\u3164", "\u115f", "\u1160", "\uffa0")


@pytest.mark.parametrize("filler", FILLERS)
def test_a_name_of_hangul_fillers_is_refused_in_chat_and_in_a_roster(say, school, filler, app, tmp_path):  # noqa: F811
    say("o_a", "认证")
    say("o_a", "示范大学")
    say("o_a", "2024001")
    assert "姓名须为" in say("o_a", filler * 3)  # shows as nothing in 名单, 点名 and on the screen
    assert "姓名须为" in say("o_a", "李" + filler + "雷")
    result = import_file(app, tmp_path, f"student_no,name,auth_code\n2024101,{filler * 2},1\n".encode(), name="f.csv")
    assert result.exit_code != 0 and "line 2: name" in result.output
    assert not RosterEntry.select().where(RosterEntry.student_no == "2024101").exists()


def test_a_letter_under_a_pile_of_combining_marks_is_refused_but_accents_are_names(say, school):  # noqa: F811
    say("o_a", "认证")
    say("o_a", "示范大学")
    say("o_a", "2024001")
    assert "姓名须为" in say("o_a", "Z" + "\u0336\u0301\u0308" * 10 + "oe")  # a 30-mark smear over the lines below
    say("o_b", "认证")
    say("o_b", "示范大学")
    say("o_b", "2024002")
    assert "认证码" in say("o_b", "สมศักดิ์")  # Thai: two marks in a row on one letter is a name
    assert User.get(User.openid == "o_a").verify_state == "not_given"


# --- item 15: a stored reply belongs to its sender ------------------------------------------------------------

def test_another_account_reusing_a_msgid_never_gets_the_teachers_reply(wechat, teacher):
    openid, code = teacher
    link = wechat.send_text(openid, "导出", msg_id=6054768590064713728)
    assert "/export/" in link
    assert wechat.send_text(openid, "导出", msg_id=6054768590064713728) == link  # the teacher's retry: the same reply
    reused = wechat.send_text("o_outsider", "帮助", msg_id=6054768590064713728)
    assert "/export/" not in reused and "帮助" in reused  # answered as its own message
    assert wechat.send_text("o_outsider", "导出", msg_id=6054768590064713728) == reused  # and deduplicated as its own


def test_a_key_claimed_by_another_sender_yields_no_reply_of_theirs(app, teacher):
    dispatcher = app.extensions["ketang"].dispatcher
    link = dispatcher.handle(Inbound(openid=teacher[0], key="msg:42", kind="text", text="导出"))
    assert "/export/" in link
    other = dispatcher.handle(Inbound(openid="o_outsider", key="msg:42", kind="text", text="帮助"))
    assert other == t("busy", "zh")  # the key is taken: try again, never the teacher's export link
