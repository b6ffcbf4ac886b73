"""One inbound message → one transaction → one reply: dedupe, user, grammar, role, handler."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from peewee import fn

from bot import inbox
from bot.catalogue import t
from bot.clock import Clock
from bot.config import Settings
from bot.context import Context, UserError
from bot.database import reading, transaction
from bot.grammar import Grammar, Invalid, Parsed, Role, Unknown
from bot.links import Links
from bot.plugin import Flow, Plugin
from bot.prepared import Prepared
from bot.sms import SmsSender
from bot.text import MAX_REPLY_BYTES, fit
from models import UNREAD, Dialog, InboundMessage, Outbox, User, db

log = logging.getLogger("ketang.dispatch")

NOTHING = Plugin()  # the machinery alone: no commands, no flows

SILENT_EVENTS = {"view", "location", "masssendjobfinish", "view_miniprogram"}  # no reply
SUBSCRIBED = {"subscribe": True, "subscribe_scan": True, "unsubscribe": False}  # what follow events set
SCENE_EVENTS = {"scan", "subscribe_scan"}  # their EventKey is a QR scene (wechatpy drops "qrscene_")
SCANNER_EVENTS = {"scancode_waitmsg", "scancode_push"}  # the menu's scanner buttons (what they read: scan_result)
MAX_SCANNED = 512
KINDS = {"image", "voice", "video", "shortvideo", "location", "link"}  # messages that are not text, named


@dataclass(frozen=True)
class Inbound:
    """A verified WeChat message, reduced to what Ketang needs."""

    openid: str
    key: str  # dedupe key: "msg:<MsgId>" or "evt:<openid>:<CreateTime>:<Event>:<EventKey>"
    kind: str  # text, event, image, voice, video, shortvideo, location, link, unknown
    text: str = ""
    event: str = ""  # lower case: subscribe, subscribe_scan, scan, unsubscribe, click, ...
    event_key: str = ""
    msg_id: str = ""  # TEMPLATESENDJOBFINISH: the template message's MsgID
    status: str = ""  # TEMPLATESENDJOBFINISH: success, failed:user block, failed: system failed
    created: int = 0  # WeChat's CreateTime (epoch seconds; 0 when missing or not a number)
    scan_result: str = ""  # scancode_waitmsg / scancode_push: what the menu's scanner read (ScanResult)


class Dispatcher:
    """Routes a message to the plugin's commands, dialog flows, events and QR scenes."""

    def __init__(self, settings: Settings, links: Links, clock: Clock, sms: SmsSender | None = None,
                 plugin: Plugin = NOTHING):
        self.settings = settings
        self.links = links
        self.clock = clock
        self.sms = sms
        self.commands = plugin.commands
        self.grammar = Grammar(plugin.commands)
        self.flows = plugin.flows
        self.scenes = sorted(plugin.scenes.items(), key=lambda item: -len(item[0]))  # longest prefix first
        # The event table: the machinery's own handlers f(ctx, inbound); the plugin's f(ctx, event_key) beside.
        self.events = {
            "click": lambda ctx, inbound: self.run_text(ctx, inbound.event_key),  # menu keys are command texts
            "templatesendjobfinish": lambda ctx, inbound: inbox.template_finished(ctx.user, inbound.msg_id,
                                                                                  inbound.status, ctx.now),
            **{event: lambda ctx, inbound: "" for event in SILENT_EVENTS | {"unsubscribe"}},  # no reply reaches them
            **{event: lambda ctx, inbound: self.scene(ctx, inbound.event_key) for event in SCENE_EVENTS},
            # what a scanner read goes where a scan goes, or runs as typed text (the plugins' readers decide)
            **{event: lambda ctx, inbound: self.scanned(ctx, inbound.scan_result) for event in SCANNER_EVENTS},
        }
        clash = (set(self.events) - SCENE_EVENTS) & set(plugin.events)
        if clash:
            raise ValueError(f"the machinery answers events {sorted(clash)} itself")
        self.plugin_events = plugin.events
        self.message_hooks = plugin.message_hooks
        self.scan_readers = plugin.scan_readers

    def handle(self, inbound: Inbound) -> str:
        """Process *inbound* exactly once; a repeat gets the stored reply.

        A message that only reads (a `reads` command, outside any dialog) holds the write transaction
        just for the claim; its reply is computed in a read-only transaction and saved after, so a
        class checking in never waits behind someone's 我的记录."""
        now = self.clock()
        after_commit: list = []
        read_only = False
        try:
            with transaction():
                claimed = CLAIM.rowcount(inbound.key, inbound.openid, now)
                if not claimed:
                    return InboundMessage.get(InboundMessage.key == inbound.key).reply
                user = touch_user(inbound.openid, now, wrote=inbound.kind != "event")
                read_only = only_reads(self.grammar, user, inbound)
                if read_only:  # a retry while the reply is computed is told to try again, not given ""
                    SAVE_REPLY.rowcount(t("busy", "zh"), inbound.key)
                else:
                    reply = self.route(user, inbound, now, after_commit)
                    for hook in self.message_hooks:  # still inside the transaction: what the message changed
                        hook(user)
                    SAVE_REPLY.rowcount(reply, inbound.key)
            if read_only:
                with reading():
                    reply = self.route(user, inbound, now, after_commit)
                with transaction():
                    SAVE_REPLY.rowcount(reply, inbound.key)
        except Exception:
            # Everything above rolled back, so a WeChat retry may try again from scratch.
            log.exception("message %s from %s failed", inbound.key, inbound.openid)
            if read_only:
                self.release_claim(inbound.key)
            return t("busy", "zh")
        for action in after_commit:  # outside the transaction: e.g. the SMS gateway call
            try:
                replaced = action()  # an action may undo its part and return the reply that says so
                if isinstance(replaced, str):
                    with transaction():
                        SAVE_REPLY.rowcount(replaced, inbound.key)  # a retry gets the truthful reply too
                    reply = replaced
            except Exception:
                log.exception("after-commit action of message %s failed", inbound.key)
        return reply

    @staticmethod
    def release_claim(key: str) -> None:
        """Forget a read-only message whose reply failed, so WeChat's retry computes it again."""
        try:
            with transaction():
                InboundMessage.delete().where(InboundMessage.key == key).execute()
        except Exception:
            log.exception("could not release the claim of message %s", key)

    def route(self, user: User, inbound: Inbound, now: datetime, after_commit: list) -> str:
        """Answer *inbound*; a reply also says how many pushes wait unread."""
        ctx = Context(user=user, now=now, lang="zh", settings=self.settings, commands=self.commands, links=self.links,
                      sms=self.sms, after_commit=after_commit, inbound=inbound)
        reply = self.answer(ctx, inbound)
        # Only a user who had unread pushes when the message arrived can have them now (公告 may read them).
        note = inbox.unread_note(user, ctx.lang) if reply and user.unread_at_start else ""
        return fit(reply, MAX_REPLY_BYTES - len(note.encode("utf-8"))) + note

    def answer(self, ctx: Context, inbound: Inbound) -> str:
        """Text runs a command; another message kind is named kindly; an event goes through the event table.

        A follow event also records whether pushes may reach the user. An event with a QR scene (scan, a
        follow by scanning) gets the plugin's own handler for it first (a greeting), then the scene's.
        """
        if inbound.kind == "text":
            return self.run_text(ctx, inbound.text)
        if inbound.kind != "event":
            return other_message(ctx, inbound.kind)
        if inbound.event in SUBSCRIBED:
            User.update(subscribed=SUBSCRIBED[inbound.event]).where(User.id == ctx.user.id).execute()
        own, plugin = self.events.get(inbound.event), self.plugin_events.get(inbound.event)
        if own is None and plugin is None:
            return other_message(ctx, "other")
        replies = [plugin(ctx, inbound.event_key) if plugin else "", own(ctx, inbound) if own else ""]
        return "\n".join(r for r in replies if r)

    def scanned(self, ctx: Context, text: str) -> str:
        """A scanner button read *text*: the plugins' scan readers name a scene or a command for the QR codes
        they draw; otherwise a link is not ours and other text is a typed command."""
        text = text.strip()[:MAX_SCANNED]
        if not text:
            return ctx.t("scan_empty")
        meaning = next(filter(None, (reader(ctx, text) for reader in self.scan_readers)), None)
        if meaning and meaning[0] == "scene":
            return self.scene(ctx, meaning[1])
        if meaning:
            return self.run_text(ctx, meaning[1])
        return ctx.t("scan_not_ours") if "://" in text else self.run_text(ctx, text)

    def scene(self, ctx: Context, scene: str) -> str:
        """Answer a QR scene with the handler of its longest matching prefix (no handler: no reply)."""
        for prefix, handler in self.scenes:
            if scene.startswith(prefix):
                return handler(ctx, scene[len(prefix):])
        return ""

    def run_text(self, ctx: Context, text: str) -> str:
        parsed = self.grammar.parse(text)
        dialog = DIALOG_OF.first(ctx.user) if ctx.user.in_dialog else None
        if dialog is not None:
            flow = self.flows.get(dialog.flow)
            belongs = flow is not None and (isinstance(parsed, Unknown) or parsed.command.name in flow.commands)
            if flow is None or dialog.expires_at < ctx.now:
                dialog.delete_instance()
                if belongs:  # an answer to a step that timed out: say so rather than "did not understand"
                    return ctx.t("dialog_expired") + ctx.t(flow.restart)
            elif isinstance(parsed, Unknown):
                return self.run_step(ctx, flow, dialog, text)
            elif not (parsed.command.escape or belongs):
                dialog.delete_instance()  # a new command abandons the dialog
        if isinstance(parsed, Unknown):
            ctx.lang = parsed.lang
            return unknown_reply(parsed)
        ctx.lang = parsed.lang
        command = parsed.command
        if isinstance(parsed, Invalid):
            example = next((e for e in command.examples if e[:1].isascii() == (ctx.lang == "en")), command.examples[0])
            return ctx.t("usage", usage=command.usage(ctx.lang), example=example)
        assert isinstance(parsed, Parsed)
        alias = command.alias(ctx.lang)
        if command.role is Role.TEACHER and not ctx.user.is_teacher:
            return ctx.t("teacher_only", command=alias)
        if command.role is Role.STUDENT and ctx.user.is_teacher:
            return ctx.t("student_only", command=alias)
        try:
            with db.atomic():  # a savepoint: an expected failure leaves no half-done writes
                return command.handler(ctx, **parsed.args)
        except UserError as error:
            return ctx.t(error.key, **error.params)


    @staticmethod
    def run_step(ctx: Context, flow: Flow, dialog: Dialog, text: str) -> str:
        """Answer a plain reply with the flow's step table entry for the user's step."""
        try:
            with db.atomic():
                return flow.steps[dialog.step](ctx, json.loads(dialog.data), text)
        except UserError as error:
            return ctx.t(error.key, **error.params)


def other_message(ctx: Context, kind: str) -> str:
    """Answer an image, voice, location, link or unknown event kindly."""
    return ctx.t("only_text", kind=ctx.t(f"kind_{kind}") if kind in KINDS else ctx.t("kind_other"))


def only_reads(grammar: Grammar, user: User, inbound: Inbound) -> bool:
    """Whether answering *inbound* only reads: a command marked `reads` in the plugin's table, outside a dialog."""
    if user.in_dialog:
        return False
    if inbound.kind == "text":
        text = inbound.text
    elif inbound.kind == "event" and inbound.event == "click":
        text = inbound.event_key
    else:
        return False
    parsed = grammar.parse(text)
    return isinstance(parsed, Parsed) and parsed.command.reads


def unknown_reply(parsed: Unknown) -> str:
    """Say what was not understood and suggest commands, in the message's language."""
    lang = parsed.lang
    shown = parsed.text if len(parsed.text) <= 20 else parsed.text[:20] + "…"
    lines = [t("unknown", lang, text=shown)]
    if parsed.suggestions:
        quote = "「{}」" if lang == "zh" else "“{}”"
        options = ("、" if lang == "zh" else ", ").join(quote.format(c.usage(lang)) for c in parsed.suggestions)
        lines.append(t("did_you_mean", lang, options=options))
    lines.append(t("help_pointer", lang))
    return "\n".join(lines)


def touch_user(openid: str, now: datetime, wrote: bool = True) -> User:
    """Return the user for *openid*, creating it on first contact; record when they last wrote.

    Only a message the user sent opens WeChat's 48-hour customer-service window, so events
    (follow, scan, unfollow, delivery reports) leave last_seen_at alone.
    """
    user = USER_BY_OPENID.first(openid, UNREAD)  # the usual case: one query, not five
    if user is None:
        User.insert(openid=openid, created_at=now, last_seen_at=now if wrote else None).on_conflict_ignore().execute()
        user = USER_BY_OPENID.first(openid, UNREAD)
    if wrote and user.last_seen_at != now:
        SEEN.rowcount(now, user.id)
        user.last_seen_at = now
    return user


# The queries every message makes, compiled once (bot/prepared.py).
CLAIM = Prepared(lambda key, openid, now: InboundMessage.insert(key=key, openid=openid, created_at=now).on_conflict_ignore())
SAVE_REPLY = Prepared(lambda reply, key: InboundMessage.update(reply=reply).where(InboundMessage.key == key))
# The user, whether pushes wait unread for them, and whether they are in a dialog: one statement.
USER_BY_OPENID = Prepared(lambda openid, unread: User.select(
    User,
    Outbox.select(fn.COUNT(Outbox.id)).where((Outbox.user == User.id) & (Outbox.status == unread)).alias("unread_at_start"),
    Dialog.select(fn.COUNT(Dialog.id)).where(Dialog.user == User.id).alias("in_dialog"),
).where(User.openid == openid).limit(1))
DIALOG_OF = Prepared(lambda user: Dialog.select().where(Dialog.user == user).limit(1))
SEEN = Prepared(lambda now, user_id: User.update(last_seen_at=now).where(User.id == user_id))
