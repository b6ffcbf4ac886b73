"""The one reply catalogue: every text the bot says, keyed by id, in Chinese and English.

The machinery's own texts are below; a plugin adds its texts (`Plugin.replies`) when the app is created.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from bot.grammar import Command

CATALOGUE: dict[str, tuple[str, str]] = {
    # dispatch
    "unknown": ("没看懂「{text}」。", "Sorry, I did not understand “{text}”."),
    "did_you_mean": ("你是不是想发：{options}", "Did you mean: {options}"),
    "help_pointer": ("发送「{cmd:help}」查看全部命令。", "Send “{cmd:help}” to see every command."),
    "usage": ("格式不对。用法：{usage}\n例如：{example}", "Wrong format. Usage: {usage}\nFor example: {example}"),
    "teacher_only": ("「{command}」只有教师可以使用。如果你是教师，请发送：教师认证 <邀请码>", "“{command}” is for teachers. If you teach, send: teacher <invite-code>"),
    "student_only": ("「{command}」是学生命令，教师账号不能使用。", "“{command}” is a student command; teacher accounts cannot use it."),
    "unavailable_page": ("服务暂时不可用：数据库无法访问、只读或已满。请稍后刷新本页；如果一直这样，请联系管理员。",
                         "Temporarily unavailable: the database cannot be reached, is read-only or is full. Reload "
                         "this page in a minute; if it stays like this, tell the administrator."),
    "busy": ("系统繁忙，请稍后再试。你的操作没有被记录，请重新发送。", "The system is busy; nothing was recorded. Please send it again."),
    "dialog_expired": ("上一步操作已超时，已自动取消。", "The previous step timed out and was cancelled."),
    # a user without a name, shown by the last 4 characters of the openid (models.User.display_name)
    "unnamed": ("未实名({tail})", "unnamed({tail})"),
    # messages that are not text
    "only_text": ("收到你的{kind}，不过我只认识文字命令。发送「{cmd:help}」查看命令。", "Got your {kind}, but I only understand text commands. Send “{cmd:help}”."),
    "kind_image": ("图片", "image"),
    "kind_voice": ("语音", "voice message"),
    "kind_video": ("视频", "video"),
    "kind_shortvideo": ("小视频", "short video"),
    "kind_location": ("位置", "location"),
    "kind_link": ("链接", "link"),
    "kind_other": ("消息", "message"),
    # pushes waiting unread (bot/inbox.py)
    "unread_note": ("\n📬 你有 {n} 条未读公告，发送「{cmd:notices}」查看。", "\n📬 You have {n} unread {n|announcement|announcements}; send “{cmd:notices}” to read them."),
    "unread_header": ("【未读公告 · {n} 条】", "[Unread announcements · {n}]"),
    "unread_footer": ("再发送「{cmd:notices}」查看当前课堂的全部公告，「{cmd:notices} <序号>」看全文。", "Send “{cmd:notices}” again for all announcements of the current class, “{cmd:notices} <n>” for one in full."),
}


# The commands texts name by {cmd:name} / {syntax:name}: the plugin's command table, registered with its texts.
COMMANDS: dict[str, Command] = {}

PLURAL = re.compile(r"\{(\w+)\|([^{}|]*)\|([^{}|]*)\}")  # {n|activity|activities}: the form for n


def register(replies: Mapping[str, Mapping[str, str]], commands: Iterable[Command] = ()) -> None:
    """Add a plugin's texts and the commands they name; a key already there with other text is an error
    (the same text is fine)."""
    for key, text in replies.items():
        pair = (text["zh"], text["en"])
        if CATALOGUE.setdefault(key, pair) != pair:
            raise ValueError(f"reply {key!r} is declared twice with different texts")
    COMMANDS.update((command.name, command) for command in commands)


class CommandNames:
    """Formats {cmd:name} as the command's alias and {syntax:name} as its usage line, in one language.

    Texts name commands through the registered command table, so an English reply never says “签到”.
    """

    def __init__(self, lang: str, usage: bool = False):
        self.lang, self.usage = lang, usage

    def __format__(self, name: str) -> str:
        command = COMMANDS[name]
        return command.usage(self.lang) if self.usage else command.alias(self.lang)


def t(key: str, lang: str = "zh", **params) -> str:
    """Return catalogue text *key* in *lang* ("zh" or "en"), formatted with *params*.

    {cmd:name} and {syntax:name} name a registered command (the plugin's table) in *lang*; {n|one|many}
    picks the English singular when the parameter n is 1.
    """
    zh, en = CATALOGUE[key]
    lang = "en" if lang == "en" else "zh"
    text = PLURAL.sub(lambda m: m.group(2) if params.get(m.group(1)) == 1 else m.group(3), en if lang == "en" else zh)
    return text.format(cmd=CommandNames(lang), syntax=CommandNames(lang, usage=True), **params)
