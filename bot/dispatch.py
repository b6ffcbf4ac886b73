"""One inbound message → one transaction → one reply: dedupe, user, grammar, role, handler."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from peewee import Case, fn

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
            # menu keys are command texts, answered in the user's language (a tap says none)
            "click": lambda ctx, inbound: self.run_text(ctx, inbound.event_key, typed=False),
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
        self.touch_query = touch_query(plugin.user_reads)
        self.scan_readers = plugin.scan_readers
        self.fallbacks = plugin.fallbacks

    def handle(self, inbound: Inbound) -> str:
        """Process *inbound* exactly once; a repeat gets the stored reply.

        One transaction: the user's row is touched (which holds it until commit, so one user's messages
        run one at a time) and tells whether the message was answered before; then the reply is computed
        and the message claimed with it. A repeat rolls back and gets the stored reply; a concurrent
        duplicate that commits first wins the claim's unique key, and the loser rolls back all it did.
        A message that only reads (a `reads` command, outside any dialog) holds the write transaction
        just for the claim; its reply is computed in a read-only transaction and saved after, so a
        class checking in never waits behind someone's 我的记录."""
        now = self.clock()
        after_commit: list = []
        read_only = False
        try:
            try:
                with transaction():
                    user = self.touch(inbound, now)
                    read_only = only_reads(self.grammar, user, inbound)
                    if read_only:  # a retry while the reply is computed is told to try again, not given ""
                        self.claim(inbound, now, t("busy", "zh"))
                    else:
                        reply = self.route(user, inbound, now, after_commit)
                        for hook in self.message_hooks:  # still inside the transaction: what the message changed
                            hook(user)
                        self.claim(inbound, now, reply)
            except Refused as refused:  # the handler's writes are undone; the refusal is recorded alone
                reply = refused.reply
                with transaction():
                    self.touch(inbound, now)
                    self.claim(inbound, now, reply)
            if read_only:
                try:
                    with reading():
                        reply = self.route(user, inbound, now, after_commit)
                except Refused as refused:
                    reply = refused.reply
                with transaction():
                    SAVE_REPLY.rowcount(reply, inbound.key)
        except Repeated as repeated:
            if repeated.reply is not None:
                return repeated.reply
            try:
                return stored_reply(inbound.key)
            except Exception:
                log.exception("message %s from %s: no stored reply after losing its claim", inbound.key, inbound.openid)
                return t("busy", "zh")
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

    def touch(self, inbound: Inbound, now: datetime) -> User:
        """The sender, touched; a message answered before ends the transaction (rolled back) with its reply."""
        user = touch_user(inbound.openid, now, wrote=inbound.kind != "event", key=inbound.key, query=self.touch_query,
                          langs=self.langs_of(inbound))
        if user.stored_reply is not None:
            raise Repeated(user.stored_reply)
        return user

    def langs_of(self, inbound: Inbound) -> tuple[str | None, str | None]:
        """The language a message is written in: (its command's alias, its words when it is no command); None
        when it says none (an event, a photo, digits, a bare answer like B). The user's lang keeps the last one."""
        if inbound.kind != "text":
            return None, None
        parsed = self.grammar.parse(inbound.text, suggest=False)
        if isinstance(parsed, Unknown):
            return None, parsed.lang or None
        return parsed.lang, None

    @staticmethod
    def claim(inbound: Inbound, now: datetime, reply: str) -> None:
        """Record *inbound* as answered with *reply*; a duplicate that committed first wins (we roll back)."""
        if not CLAIM.rowcount(inbound.key, inbound.openid, now, reply):
            raise Repeated(None)

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
        ctx = Context(user=user, now=now, lang=user.lang, settings=self.settings, commands=self.commands, links=self.links,
                      sms=self.sms, after_commit=after_commit, inbound=inbound)
        try:
            return self.with_note(ctx, self.answer(ctx, inbound))
        except Refused as refused:
            raise Refused(self.with_note(ctx, refused.reply)) from None

    @staticmethod
    def with_note(ctx: Context, reply: str) -> str:
        # Only a user who had unread pushes when the message arrived can have them now (公告 may read them).
        note = inbox.unread_note(ctx.user, ctx.lang) if reply and ctx.user.unread_at_start else ""
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

    def run_text(self, ctx: Context, text: str, typed: bool = True) -> str:
        """Run *text* as a command, a dialog's step, or what a plugin's fallback reads in it (a bare answer).

        *typed*: the user wrote it, so the reply is in its language; a menu tap answers in the user's."""
        parsed = self.grammar.parse(text, suggest=False)  # suggestions only if nothing reads it (below)
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
        if typed and parsed.lang:
            ctx.lang = parsed.lang
        if isinstance(parsed, Unknown):
            for fallback in self.fallbacks:  # e.g. a bare B while a quiz is open; dialogs and commands come first
                reply = self.run_handler(ctx, fallback, text=parsed.text)
                if reply is not None:
                    return reply
            return unknown_reply(parsed, self.grammar.suggest(parsed.text, limit=6), ctx.lang, ctx.user.is_teacher)
        command = parsed.command
        alias = command.alias(ctx.lang)
        if command.role is Role.TEACHER and not ctx.user.is_teacher:  # before its usage: a student gets no teacher's
            return ctx.t("teacher_only", command=alias)
        if command.role is Role.STUDENT and ctx.user.is_teacher:
            return ctx.t("student_only", command=alias)
        if isinstance(parsed, Invalid):
            if command.guide is not None and parsed.bare:  # a menu button or the bare name: a guided dialog
                return self.run_handler(ctx, command.guide)
            example = next((e for e in command.examples if e[:1].isascii() == (ctx.lang == "en")), command.examples[0])
            return ctx.t("usage", usage=command.usage(ctx.lang), example=example)
        assert isinstance(parsed, Parsed)
        return self.run_handler(ctx, command.handler, **parsed.args)

    def run_handler(self, ctx: Context, handler, **args):
        """Run a command's handler; its UserError is the reply (undoing its writes, a dialog kept)."""
        if not ctx.user.in_dialog:  # nothing written yet but the frame's: a refusal undoes the whole transaction
            try:
                return handler(ctx, **args)
            except UserError as error:
                raise Refused(ctx.t(error.key, **error.params)) from None
        try:
            with db.atomic():  # a savepoint: an expected failure leaves no half-done writes, the dialog's kept
                return handler(ctx, **args)
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
    parsed = grammar.parse(text, suggest=False)
    return isinstance(parsed, Parsed) and parsed.command.reads


def unknown_reply(parsed: Unknown, suggestions, lang: str, teacher: bool) -> str:
    """Say what was not understood and suggest commands of the user's role, in the message's language (else
    the user's): a student is never pointed at a teacher's command, nor a teacher at a student's."""
    shown = parsed.text if len(parsed.text) <= 20 else parsed.text[:20] + "…"
    lines = [t("unknown", lang, text=shown)]
    suggestions = [c for c in suggestions if c.role in (Role.ANY, Role.TEACHER if teacher else Role.STUDENT)][:3]
    if suggestions:
        quote = "「{}」" if lang == "zh" else "“{}”"
        options = ("、" if lang == "zh" else ", ").join(quote.format(c.usage(lang)) for c in suggestions)
        lines.append(t("did_you_mean", lang, options=options))
    lines.append(t("help_pointer", lang))
    return "\n".join(lines)


class Repeated(Exception):
    """The message was answered before: roll back and give its stored reply (None: read it after)."""

    def __init__(self, reply: str | None):
        super().__init__("repeated message")
        self.reply = reply


class Refused(Exception):
    """A command refused (a UserError) with nothing written before it: roll back, record the reply alone."""

    def __init__(self, reply: str):
        super().__init__("refused")
        self.reply = reply


def stored_reply(key: str) -> str:
    """The reply a concurrent duplicate stored (read after our transaction rolled back)."""
    return InboundMessage.get(InboundMessage.key == key).reply


def touch_user(openid: str, now: datetime, wrote: bool = True, key: str = "", query: Prepared | None = None,
               langs: tuple[str | None, str | None] = (None, None)) -> User:
    """Return the user for *openid*, creating it on first contact; record when they last wrote.

    One statement in the usual case (an UPDATE … RETURNING), which also tells whether pushes wait
    unread, whether a dialog is open, and the stored reply of the message *key* if it was answered
    before (`stored_reply`, None if not). Only a message the user sent opens WeChat's 48-hour
    customer-service window, so events (follow, scan, unfollow, delivery reports) leave last_seen_at alone.
    *query*: the dispatcher's touch, with its plugin's user_reads (default: the machinery's own columns).
    *langs*: the language of the message's command, and of its words when it is none, kept as the user's
    (None: it said none). Inside a dialog only a command's counts: a plain reply to a step (a name such
    as "Li Lei") keeps the language the dialog speaks.
    """
    query = query or TOUCH
    seen = now if wrote else None
    command_lang, words_lang = langs
    user = query.first(seen, command_lang, words_lang, openid, UNREAD, key)
    if user is None:
        lang = command_lang or words_lang or "zh"
        User.insert(openid=openid, created_at=now, last_seen_at=seen, lang=lang).on_conflict_ignore().execute()
        user = query.first(seen, command_lang, words_lang, openid, UNREAD, key)
    return user


# The queries every message makes, compiled once (bot/prepared.py).
CLAIM = Prepared(lambda key, openid, now, reply: InboundMessage.insert(
    key=key, openid=openid, created_at=now, reply=reply).on_conflict_ignore())
SAVE_REPLY = Prepared(lambda reply, key: InboundMessage.update(reply=reply).where(InboundMessage.key == key))


def _user_columns(unread, key):
    """The user's own columns, whether pushes wait unread, whether they are in a dialog, a message's stored reply."""
    return (
        User,
        Outbox.select(fn.COUNT(Outbox.id)).where((Outbox.user == User.id) & (Outbox.status == unread)).alias("unread_at_start"),
        Dialog.select(fn.COUNT(Dialog.id)).where(Dialog.user == User.id).alias("in_dialog"),
        InboundMessage.select(InboundMessage.reply).where(InboundMessage.key == key).alias("stored_reply"),
    )


def _touched(seen, command_lang, words_lang):
    """The touch's SET: last_seen_at kept when *seen* is NULL; lang from the message's command, else its words
    outside a dialog, else kept."""
    in_dialog = fn.EXISTS(Dialog.select(Dialog.id).where(Dialog.user == User.id))
    words = Case(None, [(in_dialog, None)], words_lang)
    return {User.last_seen_at: fn.COALESCE(seen, User.last_seen_at), User.lang: fn.COALESCE(command_lang, words, User.lang)}


# The user read and touched in one statement.
TOUCH = Prepared(lambda seen, command_lang, words_lang, openid, unread, key: User.update(_touched(seen, command_lang, words_lang))
                 .where(User.openid == openid).returning(*_user_columns(unread, key)))


def touch_query(user_reads) -> Prepared:
    """TOUCH with a plugin's user_reads beside the machinery's columns (TOUCH itself when there are none)."""
    if not user_reads:
        return TOUCH
    return Prepared(lambda seen, command_lang, words_lang, openid, unread, key: User.update(_touched(seen, command_lang, words_lang))
                    .where(User.openid == openid)
                    .returning(*_user_columns(unread, key), *(read().alias(name) for name, read in user_reads.items())))


DIALOG_OF = Prepared(lambda user: Dialog.select().where(Dialog.user == user).limit(1))
