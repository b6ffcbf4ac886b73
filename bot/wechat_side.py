"""WeChat's side of the custom-menu and user-tag API, played by the loopback mock (harness/mock_wechat.py)
and by the web simulator (handlers/simulator.py): one behaviour for both.

The state is a JSON-able dict, so the mock keeps it in memory and the simulator in the database.
Limits and error codes are WeChat's documented ones (menu/create: 1-3 buttons, 1-5 sub-buttons, names
of at most 16/60 bytes, keys of at most 128 bytes; tags: names of at most 30 characters, 50 openids a call).
"""

from __future__ import annotations

BUTTON_TYPES = {"click", "view", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album", "pic_weixin",
                "location_select", "media_id", "article_id", "article_view_limited", "miniprogram"}
OK = {"errcode": 0, "errmsg": "ok"}


def new_state() -> dict:
    return {"menu": None, "conditional": [], "tags": {}, "tagged": {}, "next_id": 1}


def _next(state: dict) -> int:
    state["next_id"] += 1
    return 400000000 + state["next_id"]


def menu_error(body: dict) -> dict | None:
    """WeChat's answer to a menu it refuses, else None."""
    buttons = body.get("button")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return {"errcode": 40016, "errmsg": "invalid button size"}
    for button in buttons:
        if not isinstance(button, dict) or not 0 < len(str(button.get("name", "")).encode()) <= 16:
            return {"errcode": 40018, "errmsg": "invalid button name size"}
        subs = button.get("sub_button") or []
        if len(subs) > 5:
            return {"errcode": 40023, "errmsg": "invalid sub button size"}
        for leaf in subs or [button]:
            if subs and not 0 < len(str(leaf.get("name", "")).encode()) <= 60:
                return {"errcode": 40025, "errmsg": "invalid sub button name size"}
            if leaf.get("type") not in BUTTON_TYPES:
                return {"errcode": 40017, "errmsg": "invalid button type"}
            if leaf["type"] != "view" and not 0 < len(str(leaf.get("key", "")).encode()) <= 128:
                return {"errcode": 40019, "errmsg": "invalid button key size"}
    return None


def answer(state: dict, path: str, body: dict) -> dict:
    """Answer one call to a path of MENU_PATHS, changing *state* as WeChat would (the table below)."""
    return CALLS[path](state, body)


def _create_menu(state: dict, body: dict) -> dict:
    error = menu_error(body)
    if error:
        return error
    state["menu"] = {"button": body["button"], "menuid": _next(state)}
    return OK


def _get_menu(state: dict, body: dict) -> dict:
    if state["menu"] is None:
        return {"errcode": 46003, "errmsg": "menu no exist"}
    return {"menu": state["menu"], **({"conditionalmenu": state["conditional"]} if state["conditional"] else {})}


def _delete_menus(state: dict, body: dict) -> dict:
    """The default menu and every personalised one."""
    state["menu"], state["conditional"] = None, []
    return OK


def _add_conditional(state: dict, body: dict) -> dict:
    rule = body.get("matchrule") or {}
    error = menu_error(body)
    if error:
        return error
    if not rule or (rule.get("tag_id") and str(rule["tag_id"]) not in state["tags"]):
        return {"errcode": 40055, "errmsg": "invalid matchrule"}  # the exact code is unverified
    menu_id = _next(state)
    state["conditional"].append({"button": body["button"], "matchrule": rule, "menuid": menu_id})
    return {"menuid": menu_id}


def _delete_conditional(state: dict, body: dict) -> dict:
    before = len(state["conditional"])
    state["conditional"] = [m for m in state["conditional"] if str(m["menuid"]) != str(body.get("menuid"))]
    return OK if len(state["conditional"]) < before else {"errcode": 65301, "errmsg": "no such conditional menu"}


def _create_tag(state: dict, body: dict) -> dict:
    name = str((body.get("tag") or {}).get("name", ""))
    if name in state["tags"].values():
        return {"errcode": 45157, "errmsg": "invalid tag name"}
    if not 0 < len(name) <= 30:
        return {"errcode": 45158, "errmsg": "tag name too long"}
    tag_id = 100 + len(state["tags"])
    state["tags"][str(tag_id)] = name
    return {"tag": {"id": tag_id, "name": name}}


def _get_tags(state: dict, body: dict) -> dict:
    return {"tags": [{"id": int(i), "name": n, "count": len(state["tagged"].get(i, []))} for i, n in state["tags"].items()]}


def _tags_of(state: dict, body: dict) -> dict:
    return {"tagid_list": sorted(int(i) for i, users in state["tagged"].items() if body.get("openid") in users)}


def _tagging(tag: bool):
    """Tag (or untag) up to 50 openids."""

    def call(state: dict, body: dict) -> dict:
        tag_id, openids = str(body.get("tagid")), body.get("openid_list") or []
        if tag_id not in state["tags"]:
            return {"errcode": 45159, "errmsg": "invalid tag id"}
        if not isinstance(openids, list) or not 0 < len(openids) <= 50:
            return {"errcode": 40032, "errmsg": "invalid openid list size"}
        members, changed = set(state["tagged"].get(tag_id, [])), set(map(str, openids))
        state["tagged"][tag_id] = sorted(members | changed if tag else members - changed)
        return OK

    return call


# path -> f(state, body): WeChat's answer to that call
CALLS = {
    "/cgi-bin/menu/create": _create_menu,
    "/cgi-bin/menu/get": _get_menu,
    "/cgi-bin/menu/delete": _delete_menus,
    "/cgi-bin/menu/addconditional": _add_conditional,
    "/cgi-bin/menu/delconditional": _delete_conditional,
    "/cgi-bin/tags/create": _create_tag,
    "/cgi-bin/tags/get": _get_tags,
    "/cgi-bin/tags/getidlist": _tags_of,
    "/cgi-bin/tags/members/batchtagging": _tagging(tag=True),
    "/cgi-bin/tags/members/batchuntagging": _tagging(tag=False),
}
MENU_PATHS = frozenset(CALLS)


def menu_for(state: dict, openid: str) -> dict | None:
    """The menu WeChat shows *openid*: the newest personalised menu whose tag they carry, else the default."""
    for menu in reversed(state["conditional"]):
        tag = str(menu["matchrule"].get("tag_id") or "")
        if tag and openid in state["tagged"].get(tag, []):
            return menu
    return state["menu"]
