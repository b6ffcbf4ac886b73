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
from bot.database import reading, transaction, undoable
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
# What the write path did with a message (Dispatcher.handle): answered and claimed; claimed to be answered by the
# read path; refused (nothing kept); answered before (its stored reply); claimed first by a concurrent duplicate.
ANSWERED, READS, REFUSED, REPEATED, LOST = "answered", "reads", "refused", "repeated", "lost"


@dataclass(frozen=True)
class Inbound:
    """A verified WeChat message, reduced to what Ketang needs."""

    openid: str
    key: str  # dedupe key: "msg:<openid>:<MsgId>" or "evt:<openid>:<CreateTime>:<Event>:<EventKey>"
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
        self.extensions = plugin.extensions
        self.fallbacks = plugin.fallbacks

    def handle(self, inbound: Inbound) -> str:
        """Process *inbound* exactly once; a repeat gets the stored reply.

        The rules, one named step each:
        - write path: one transaction touches the sender's row (which holds it until commit, so one user's
          messages run one at a time) and tells whether the message was answered before (a repeat: its
          stored reply, and nothing kept); then the reply is computed and the message claimed with it.
        - a refusal (a UserError with nothing written before it) keeps none of the handler's writes: the
          write path runs again with the refusal as its reply, recorded alone.
        - replay: a concurrent duplicate that committed first wins the claim's unique key; the loser keeps
          nothing and answers the winner's stored reply.
        - read path: a message that only reads (a `reads` command, outside any dialog) holds the write
          transaction just for the claim; its reply is computed in a read-only transaction and saved after,
          so a class checking in never waits behind someone's 我的记录.
        - after commit: the handlers' slow calls (e.g. the SMS gateway), outside the transaction.
        Any failure rolls back what its transaction did and answers busy, so WeChat's retry starts afresh."""
        now = self.clock()
        actions: list = []
        try:
            step, reply, user = self.write_path(inbound, now, lambda user: self.write_reply(user, inbound, now, actions))
            if step == REFUSED:  # recorded alone: the handler's writes, and anything to follow them, are undone
                actions.clear()
                refusal = reply
                step, reply, user = self.write_path(inbound, now, lambda user: (ANSWERED, refusal))
            if step == LOST:
                actions.clear()
                reply = self.replay(inbound)
            elif step == READS:
                reply = self.read_path(user, inbound, now, actions)
        except Exception:
            log.exception("message %s from %s failed", inbound.key, inbound.openid)
            return t("busy", "zh")
        return self.after_commit(inbound, reply, actions)

    def write_path(self, inbound: Inbound, now: datetime, compute) -> tuple[str, str, User | None]:
        """One write transaction: the sender touched, *compute(user)* → (step, reply), the message claimed with
        the reply. Returns (step, reply, user); a repeat (REPEATED, its stored reply), a refusal (REFUSED) and a
        lost claim (LOST) roll back all the transaction did."""
        with undoable() as undo:
            user = touch_user(inbound.openid, now, wrote=inbound.kind != "event", key=inbound.key, query=self.touch_query,
                              langs=self.langs_of(inbound))
            if user.stored_reply is not None:
                undo()
                return REPEATED, user.stored_reply, user
            step, reply = compute(user)
            if step == REFUSED:
                undo()
                return step, reply, user
            if not CLAIM.rowcount(inbound.key, inbound.openid, now, reply):
                undo()
                return LOST, "", user
        return step, reply, user

    def langs_of(self, inbound: Inbound) -> tuple[str | None, str | None]:
        """The language a message is written in: (its command's alias, its words when it is no command); None
        when it says none (an event, a photo, digits, a bare answer like B). The user's lang keeps the last one."""
        if inbound.kind != "text":
            return None, None
        parsed = self.grammar.parse(inbound.text, suggest=False)
        if isinstance(parsed, Unknown):
            return None, parsed.lang or None
        return parsed.lang, None

    def write_reply(self, user: User, inbound: Inbound, now: datetime, actions: list) -> tuple[str, str]:
        """Inside the write transaction: a message that only reads is claimed with "busy" for now (a retry while
        its reply is computed is told to try again, not given ""); any other is answered here, and the plugins'
        message hooks see what it changed."""
        if only_reads(self.grammar, user, inbound):
            return READS, t("busy", "zh")
        reply, refused = self.route(user, inbound, now, actions)
        if refused:
            return REFUSED, reply
        for hook in self.message_hooks:
            hook(user)
        return ANSWERED, reply

    def read_path(self, user: User, inbound: Inbound, now: datetime, actions: list) -> str:
        """The reply of a claimed message that only reads, computed in a read-only transaction, then saved; if
        that fails the claim is released, so WeChat's retry computes it again."""
        try:
            with reading():
                reply, _refused = self.route(user, inbound, now, actions)
            with transaction():
                SAVE_REPLY.rowcount(reply, inbound.key)
        except Exception:
            self.release_claim(inbound.key)
            raise
        return reply

    @staticmethod
    def replay(inbound: Inbound) -> str:
        """The reply a concurrent duplicate stored, read after our transaction rolled back (busy if none)."""
        reply = STORED_REPLY.scalar(inbound.key, inbound.openid)
        if reply is None:
            log.error("message %s from %s: no stored reply after losing its claim", inbound.key, inbound.openid)
            return t("busy", "zh")
        return reply

    @staticmethod
    def after_commit(inbound: Inbound, reply: str, actions: list) -> str:
        """Run the handlers' after-commit actions; one may undo its part and return the reply that says so,
        which is stored too (a retry gets the truthful reply)."""
        for action in actions:
            try:
                replaced = action()
                if isinstance(replaced, str):
                    with transaction():
                        SAVE_REPLY.rowcount(replaced, inbound.key)
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

    def route(self, user: User, inbound: Inbound, now: datetime, after_commit: list) -> tuple[str, bool]:
        """Answer *inbound*: (reply, refused); a reply also says how many pushes wait unread. *refused*: a
        command refused with nothing written yet but the frame's (the write path keeps none of it)."""
        ctx = Context(user=user, now=now, lang=user.lang, settings=self.settings, commands=self.commands, links=self.links,
                      sms=self.sms, after_commit=after_commit, inbound=inbound, flows=self.flows,
                      extensions=self.extensions)
        reply = self.answer(ctx, inbound)
        return self.with_note(ctx, reply), ctx.refused

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
        they draw (and the texts a scan may mean); anything else is not ours, never run as a typed command
        (a printed QR must not act for whoever scans it)."""
        text = text.strip()[:MAX_SCANNED]
        if not text:
            return ctx.t("scan_empty")
        meaning = next(filter(None, (reader(ctx, text) for reader in self.scan_readers)), None)
        if meaning and meaning[0] == "scene":
            return self.scene(ctx, meaning[1])
        if meaning:
            return self.run_text(ctx, meaning[1])
        return ctx.t("scan_not_ours")

    def scene(self, ctx: Context, scene: str) -> str:
        """Answer a QR scene with the handler of its longest matching prefix (no handler: no reply)."""
        for prefix, handler in self.scenes:
            if scene.startswith(prefix):
                return handler(ctx, scene[len(prefix):])
        return ""

    def run_text(self, ctx: Context, text: str, typed: bool = True) -> str:
        """Answer text: a step of the user's dialog, a command, or what a plugin's fallback reads in it (a bare
        answer); rules in tests/test_dispatch.py. *typed*: the user wrote it, so the reply is in its language;
        a menu tap answers in the user's."""
        parsed = self.grammar.parse(text, suggest=False)  # suggestions only if nothing reads it (below)
        if ctx.user.in_dialog:
            reply = self.in_dialog(ctx, parsed, text)
            if reply is not None:
                return reply
        if typed and parsed.lang:
            ctx.lang = parsed.lang
        if isinstance(parsed, Unknown):
            for fallback in self.fallbacks:  # e.g. a bare B while a quiz is open; dialogs and commands come first
                reply = self.run_handler(ctx, fallback, text=parsed.text)
                if reply is not None:
                    return reply
            return unknown_reply(parsed, self.grammar.suggest(parsed.text, limit=6), ctx.lang, ctx.user.is_teacher)
        return self.run_command(ctx, parsed)

    def in_dialog(self, ctx: Context, parsed: Parsed | Invalid | Unknown, text: str) -> str | None:
        """The reply to *text* from a user in a dialog, or None when it runs as a command outside the dialog.

        An expired dialog (or one of a flow no longer declared) is left; an answer to it says it expired and
        how to start again. In a live dialog text that is no command answers the step; an escape command or
        one of the flow's own keeps the dialog; any other command abandons it."""
        dialog = DIALOG_OF.first(ctx.user)
        if dialog is None:
            return None
        flow = self.flows.get(dialog.flow)
        belongs = flow is not None and (isinstance(parsed, Unknown) or parsed.command.name in flow.commands)
        if flow is None or dialog.expires_at < ctx.now:
            dialog.delete_instance()
            return ctx.t("dialog_expired") + ctx.t(flow.restart) if belongs else None
        if isinstance(parsed, Unknown):
            return self.run_step(ctx, flow, dialog, text)
        if not (parsed.command.escape or belongs):
            dialog.delete_instance()  # a new command abandons the dialog
        return None

    def run_command(self, ctx: Context, parsed: Parsed | Invalid) -> str:
        """Run a command for a user of its role (checked before its usage: a student gets no teacher's); a
        malformed one gets its usage line, its bare name (a menu button) its guided dialog if it has one."""
        command = parsed.command
        alias = command.alias(ctx.lang)
        if command.role is Role.TEACHER and not (ctx.user.is_teacher or (command.staff and getattr(ctx.user, "staff", 0))):
            return ctx.t("teacher_only", command=alias)  # a class's staff (a plugin's user_reads "staff") may run staff ones
        if command.role is Role.STUDENT and ctx.user.is_teacher:
            return ctx.t("student_only", command=alias)
        ctx.command = command
        if isinstance(parsed, Invalid):
            if command.guide is not None and parsed.bare:
                return self.run_handler(ctx, command.guide)
            return usage_reply(ctx, command)
        ctx.args = parsed.args
        return self.run_handler(ctx, command.handler, **parsed.args)

    @staticmethod
    def run_handler(ctx: Context, handler, **args):
        """Run a command's handler (or a fallback, a guide). Outside a dialog nothing is written yet but the
        frame's, so a refusal (UserError) marks ctx.refused and the write path keeps nothing; in a dialog the
        handler runs in a savepoint, so a refusal leaves no half-done writes and the dialog is kept."""
        try:
            if not ctx.user.in_dialog:
                return handler(ctx, **args)
            with db.atomic():
                return handler(ctx, **args)
        except UserError as error:
            ctx.refused = not ctx.user.in_dialog
            return ctx.t(error.key, **error.params)

    @staticmethod
    def run_step(ctx: Context, flow: Flow, dialog: Dialog, text: str) -> str:
        """Answer a plain reply with the flow's step table entry for the user's step."""
        ctx.at_step = (dialog.flow, dialog.step)
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


def usage_reply(ctx: Context, command) -> str:
    """The usage line of a command given a malformed argument, with an example in the message's language."""
    example = next((e for e in command.examples if e[:1].isascii() == (ctx.lang == "en")), command.examples[0])
    return ctx.t("usage", usage=command.usage(ctx.lang), example=example)


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
STORED_REPLY = Prepared(lambda key, openid: InboundMessage.select(InboundMessage.reply)
                        .where((InboundMessage.key == key) & (InboundMessage.openid == openid)))


def _user_columns(unread, key):
    """The user's own columns, whether pushes wait unread, whether they are in a dialog, a message's stored reply."""
    return (
        User,
        Outbox.select(fn.COUNT(Outbox.id)).where((Outbox.user == User.id) & (Outbox.status == unread)).alias("unread_at_start"),
        Dialog.select(fn.COUNT(Dialog.id)).where(Dialog.user == User.id).alias("in_dialog"),
        InboundMessage.select(InboundMessage.reply).where((InboundMessage.key == key) & (InboundMessage.openid == User.openid))
        .alias("stored_reply"),  # the sender's own message only: a reused MsgId never yields someone else's reply
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
    return Prepared(lambda seen, command_lang, words_lang, openid, unread, key:
                    User.update(_touched(seen, command_lang, words_lang))
                    .where(User.openid == openid)
                    .returning(*_user_columns(unread, key), *(read().alias(name) for name, read in user_reads.items())))


DIALOG_OF = Prepared(lambda user: Dialog.select().where(Dialog.user == user).limit(1))
