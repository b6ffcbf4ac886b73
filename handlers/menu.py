"""The official account's custom menu: one definition, `flask --app app menu`, and the teacher tag job.

Students get the default menu; teachers get a personalised (conditional) menu matched by a user tag.
Click keys are command texts (the webhook runs them through the grammar like typed text); scanner
buttons (`scancode_waitmsg`) deliver what the QR holds, routed by handlers.events.scanned.
The tag is created by `flask --app app menu`; the scheduler's `tag_teachers` job puts teachers in it
(never a request: an API call must not hold up WeChat's 5 seconds).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

import click
import requests
from flask import current_app
from flask.cli import with_appcontext
from wechatpy.exceptions import WeChatClientException

from bot.wechat_api import TokenError
from models import TEACHER, ClassStaff, MenuTag, User, WechatState

log = logging.getLogger("ketang.menu")

TEACHER_TAG = "课堂教师"  # the user tag the teacher menu is matched by (≤30 characters)
TAG_KEY = "menu_teacher_tag"  # WechatState row holding the tag's id once `menu` made it
SCAN = "scancode_waitmsg"


def tap(name: str, key: str | None = None) -> dict:
    return {"type": "click", "name": name, "key": key or name}


def scanner(name: str, key: str) -> dict:
    return {"type": SCAN, "name": name, "key": key, "sub_button": []}


def group(name: str, *buttons: dict) -> dict:
    return {"name": name, "sub_button": list(buttons)}


# The one definition. Keys of click buttons are command texts; scanner keys only name the button.
STUDENT_MENU = {"button": [
    scanner("签到", "scan_checkin"),
    group("课堂", tap("我的课堂"), tap("公告"), tap("我的记录"), scanner("扫码加入", "scan_join"), tap("更多")),
    tap("帮助"),
]}
TEACHER_MENU = {"button": [
    group("上课", tap("上课"), tap("开启签到"), tap("签到情况"), tap("结束"), tap("下课")),
    group("互动", tap("练习"), tap("结果"), tap("不懂情况"), tap("点名"), tap("更多")),
    group("课堂", tap("我的课堂"), tap("二维码"), tap("发布公告"), tap("帮助")),
]}

TYPES = {"click", "view", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album", "pic_weixin",
         "location_select", "media_id", "article_id", "article_view_limited", "miniprogram"}


def problems(menu: dict) -> list[str]:
    """What WeChat would refuse in *menu* (1–3 buttons, 1–5 sub-buttons, name and key byte limits)."""
    found = []
    buttons = menu.get("button") or []
    if not 1 <= len(buttons) <= 3:
        found.append(f"{len(buttons)} top-level buttons (1-3 allowed)")
    for button in buttons:
        name = button.get("name", "")
        if not 0 < len(name.encode()) <= 16:
            found.append(f"top-level name {name!r} is not 1-16 bytes")
        subs = button.get("sub_button") or []
        if subs and not button.get("type"):
            if len(subs) > 5:
                found.append(f"{name!r} has {len(subs)} sub-buttons (at most 5)")
            for sub in subs:
                if not 0 < len(sub.get("name", "").encode()) <= 60:
                    found.append(f"sub-button name {sub.get('name')!r} is not 1-60 bytes")
                found += _leaf(sub)
        else:
            found += _leaf(button)
    return found


def _leaf(button: dict) -> list[str]:
    kind = button.get("type")
    if kind not in TYPES:
        return [f"{button.get('name')!r} has no valid type"]
    if kind == "view":
        return [] if 0 < len(button.get("url", "").encode()) <= 1024 else [f"{button['name']!r} url is not 1-1024 bytes"]
    key = button.get("key", "")
    return [] if 0 < len(key.encode()) <= 128 else [f"{button.get('name')!r} key is not 1-128 bytes"]


def keys(menu: dict) -> list[tuple[str, str]]:
    """Every (type, key) of *menu*'s leaves."""
    leaves = [sub for b in menu["button"] for sub in (b.get("sub_button") or [b]) if sub.get("type")]
    return [(leaf["type"], leaf.get("key", "")) for leaf in leaves]


# --- the API side -----------------------------------------------------------------------------------

REASONS = {
    48001: "this account has no permission for this API (an unverified subscription account cannot use "
           "custom menus or tags; a verified 订阅号/服务号 or the sandbox test account can)",
    45009: "the daily quota of this API is spent; try again tomorrow (or clear the quota in 公众号后台)",
    40164: "this server's IP is not in the IP whitelist (公众号后台 → 基本配置)",
    40013: "wrong app_id",
    40125: "wrong app_secret",
    45157: "the tag name is taken", 45158: "the tag name is longer than 30 characters",
    45056: "the account has too many tags (100 at most)",
    45059: "this user already has 20 tags (WeChat's limit)",
    40003: "not an openid of this account", 49003: "not an openid of this account",
    40016: "wrong number of buttons", 40017: "invalid button type", 40018: "button name too long",
    40019: "button key too long", 40023: "wrong number of sub-buttons",
}


def reason(error: Exception) -> str:
    """One clear line for an API failure."""
    code = getattr(error, "errcode", None)
    if isinstance(error, requests.RequestException):
        return f"the WeChat API is unreachable ({type(error).__name__}: {error})"
    explained = REASONS.get(code)
    message = getattr(error, "errmsg", "") or error
    detail = f"errcode {code}: {message}" if code is not None else f"the WeChat API is unreachable or refused: {message}"
    return f"{explained} ({detail})" if explained else detail


def teacher_tag_id() -> int | None:
    row = WechatState.get_or_none(WechatState.name == TAG_KEY)
    return int(row.value) if row and row.value.isdigit() else None


def ensure_tag(api) -> int:
    """The teacher tag's id: found by name, else created; remembered for the tag job."""
    tags = api.call(lambda: api.tag.get())
    tag_id = next((t["id"] for t in tags if t.get("name") == TEACHER_TAG), None)
    if tag_id is None:
        tag_id = api.call(lambda: api.tag.create(TEACHER_TAG))["id"]
    (WechatState.insert(name=TAG_KEY, value=str(tag_id))
     .on_conflict(conflict_target=[WechatState.name], update={WechatState.value: str(tag_id)}).execute())
    return int(tag_id)


def install(api) -> tuple[int, str]:
    """Create the student menu and the teacher menu (replacing Ketang's older teacher menus)."""
    for menu in (STUDENT_MENU, TEACHER_MENU):
        assert not problems(menu), problems(menu)
    tag_id = ensure_tag(api)
    api.call(lambda: api.menu.create(STUDENT_MENU))
    current = api.call(lambda: api.menu.get()) or {}
    for old in current.get("conditionalmenu") or []:
        if str((old.get("matchrule") or {}).get("tag_id")) == str(tag_id):
            api.call(lambda old=old: api.menu.del_conditional(old["menuid"]))
    result = api.call(lambda: api.menu.add_conditional({**TEACHER_MENU, "matchrule": {"tag_id": str(tag_id)}}))
    return tag_id, str(result.get("menuid", ""))


# --- the scheduler job ------------------------------------------------------------------------------

PER_RUN = 20
RETRY = timedelta(minutes=10)
STOP = {48001, 45009, 40164, 40013, 40125}  # account-wide: no point trying the next teacher this run


class TagTeachers:
    """The tag_teachers job: put every teacher, and every assistant of a class (助教, who may be a student account:
    handlers/team.py), in the teacher tag, whose menu runs a lesson; take out anyone who is neither any more."""

    __name__ = "tag_teachers"

    def __init__(self, api):
        self.api = api

    def __call__(self, now: datetime) -> int:
        tag_id = teacher_tag_id()
        if tag_id is None:
            return 0  # `flask --app app menu` has not been run: there is no teacher menu to show
        due_retry = MenuTag.retry_at.is_null() | (MenuTag.retry_at <= now)
        tagged = MenuTag.select(MenuTag.user).where(MenuTag.tag_id == tag_id)
        waiting = MenuTag.select(MenuTag.user).where(~due_retry)
        staff = (User.role == TEACHER) | User.id.in_(ClassStaff.select(ClassStaff.user))
        add = list(User.select().where(staff & User.id.not_in(tagged) & User.id.not_in(waiting)
                                       & User.subscribed).order_by(User.id).limit(PER_RUN))
        remove = list(User.select().join(MenuTag, on=(MenuTag.user == User.id))
                      .where(~staff & (MenuTag.tag_id == tag_id)).limit(PER_RUN))
        done = 0
        for user, tagging in [(u, True) for u in add] + [(u, False) for u in remove]:
            try:
                if tagging:
                    self.api.call(lambda u=user: self.api.tag.tag_user(tag_id, u.openid))
                else:
                    self.api.call(lambda u=user: self.api.tag.untag_user(tag_id, u.openid))
            except (WeChatClientException, requests.RequestException) as error:
                log.warning("tagging %s failed: %s", user.openid, reason(error))
                self._failed(user, now, reason(error))
                if isinstance(error, TokenError) or getattr(error, "errcode", None) in STOP:
                    break
                continue
            if tagging:
                values = {"tag_id": tag_id, "tagged_at": now, "retry_at": None, "last_error": None}
                (MenuTag.insert(user=user, **values)
                 .on_conflict(conflict_target=[MenuTag.user], update=values).execute())
            else:
                MenuTag.delete().where(MenuTag.user == user).execute()
            done += 1
        if done:
            log.info("updated the teacher tag of %d users", done)
        return done

    @staticmethod
    def _failed(user: User, now: datetime, why: str) -> None:
        values = {"retry_at": now + RETRY, "last_error": why[:200]}
        (MenuTag.insert(user=user, tag_id=0, **values)
         .on_conflict(conflict_target=[MenuTag.user], update=values).execute())


# --- the command ------------------------------------------------------------------------------------

def tag_teachers_job(settings, api):
    """The tag_teachers job (needs the WeChat API: an app_secret)."""
    from bot.plugin import Job

    return Job("tag_teachers", TagTeachers(api), 30) if api else None


@click.command("menu")
@with_appcontext
@click.option("--show", is_flag=True, help="Print the menus the account has now.")
@click.option("--delete", is_flag=True, help="Delete every custom menu of the account (default and personalised).")
def menu_command(show: bool, delete: bool):
    """Create the student menu and the teacher (personalised) menu through the WeChat API."""
    from bot.wechat_api import WechatApi

    kt = current_app.extensions["ketang"]
    if not kt.settings.wechat.app_secret:
        raise click.ClickException("wechat.app_secret is empty (or set WECHAT_APP_SECRET): the menu API needs it")
    api = WechatApi(kt.settings.wechat, kt.clock)
    try:
        if show:
            current = api.call(lambda: api.menu.get())
            click.echo(json.dumps(current, ensure_ascii=False, indent=2) if current else "the account has no custom menu")
        elif delete:
            api.call(lambda: api.menu.delete())
            click.echo("deleted every custom menu of the account (students and teachers see none now)")
        else:
            tag_id, menu_id = install(api)
            teachers = User.select().where(User.role == TEACHER).count()
            click.echo(f"created the student menu and the teacher menu (menuid {menu_id}, tag {TEACHER_TAG!r} id {tag_id}).")
            click.echo(f"The scheduler puts the {teachers} teacher(s) in the tag within a minute; WeChat shows "
                       "a changed menu when the chat is next opened (at most 5 minutes; re-follow to see it at once).")
    except (WeChatClientException, requests.RequestException) as error:
        raise click.ClickException(f"the WeChat API refused: {reason(error)}") from None
