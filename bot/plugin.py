"""The one seam between the machinery (bot/) and what runs on it: a Plugin declares everything it adds.

The machinery knows nothing of classrooms. `app.create_app(plugin=...)` hands it one Plugin (the classroom's
is `handlers.plugin.CLASSROOM`; plugins combine with `+`), and the webhook, the dispatcher, the scheduler,
the CLI and the reply catalogue take their commands, dialog flows, events, QR scenes, jobs, CLI commands,
HTTP routes (and WSGI middleware), readers of what the menu's scanner read, per-message hooks and texts from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from types import MappingProxyType

import click
import flask

from bot.grammar import Command

EMPTY: Mapping = MappingProxyType({})


@dataclass(frozen=True)
class Job:
    """One row of the job table: *run(now)* every *seconds*, idempotent and safe from two processes."""

    name: str
    run: Callable[[datetime], object]
    seconds: int


@dataclass(frozen=True)
class Flow:
    """A multi-step dialog, declared: its steps, where it starts and where each step may go.

    *steps*: the step table, step name -> f(ctx, data, text) answering a plain reply at that step.
    *starts*: the steps a command may open the dialog at. *moves*: step -> the steps an answer at it may move
    the dialog to (every step names its own, () when it only ends the dialog or stays). `check` refuses at
    start-up a flow whose starts or moves name no declared step, and a step nothing reaches; at run time
    `Context.start_dialog` refuses a step or a move the flow does not declare.
    """

    steps: Mapping[str, Callable[..., str]]
    commands: tuple[str, ...] = ()  # commands that belong to the dialog and do not abandon it
    restart: str = ""  # catalogue key: how to start again after it expired
    starts: tuple[str, ...] = ()
    moves: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: EMPTY)

    def check(self, name: str) -> None:
        """Raise ValueError unless every start and move names a declared step, every step declares its moves,
        and every step is reached from a start."""
        steps = set(self.steps)
        wrong = [f"starts at {s!r}" for s in sorted(set(self.starts) - steps)]
        wrong += [f"{s!r} declares no moves" for s in sorted(steps - set(self.moves))]
        wrong += [f"moves from {s!r}, no step" for s in sorted(set(self.moves) - steps)]
        wrong += [f"moves {s!r} → {t!r}, no step" for s, targets in self.moves.items() for t in sorted(set(targets) - steps)]
        wrong += [f"nothing reaches {s!r}" for s in sorted(steps - self.reached())] if self.starts else ["declares no start"]
        if wrong:
            raise ValueError(f"dialog flow {name!r}: " + "; ".join(wrong))

    def reached(self) -> set[str]:
        """The steps a dialog can get to from its starts."""
        reached, todo = set(), list(self.starts)
        while todo:
            step = todo.pop()
            if step in self.steps and step not in reached:
                reached.add(step)
                todo += self.moves.get(step, ())
        return reached

    def may_go(self, step: str, at: str | None) -> bool:
        """Whether the dialog may be put at *step*: from step *at* (an answer at it) or, when None, by a command."""
        return step in (self.starts if at is None else self.moves.get(at, ()))


# A job that needs the scheduler process's settings or WeChat API client (the one token owner) is given as
# a factory f(settings, api) -> Job | None (None: not in this deployment, e.g. without an app_secret).
JobFactory = Callable[..., "Job | None"]


@dataclass(frozen=True)
class Plugin:
    """Everything a feature adds to the machinery; `a + b` combines two, and a duplicate is an error."""

    commands: tuple[Command, ...] = ()
    flows: Mapping[str, Flow] = field(default_factory=lambda: EMPTY)
    events: Mapping[str, Callable[..., str]] = field(default_factory=lambda: EMPTY)  # lower-case event -> f(ctx, event_key)
    scenes: Mapping[str, Callable[..., str]] = field(default_factory=lambda: EMPTY)  # QR scene prefix -> f(ctx, rest)
    jobs: tuple[Job | JobFactory, ...] = ()
    cli: tuple[click.Command, ...] = ()
    blueprints: tuple[flask.Blueprint, ...] = ()
    replies: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: EMPTY)  # key -> {"zh": ..., "en": ...}
    upgrades: tuple[Callable[[], object], ...] = ()  # init-db: bring rows an older version wrote up to date
    # What a menu scanner read (scancode_waitmsg / scancode_push): f(ctx, text) -> ("scene", s) to answer it as
    # that QR scene, ("text", s) to run s as typed text, or None when it is no QR code of this plugin's. The
    # first reader that knows it wins; what nobody knows is refused as not ours (never run as typed text).
    scan_readers: tuple[Callable[..., "tuple[str, str] | None"], ...] = ()
    # WSGI wrappers f(wsgi_app, ketang) -> wsgi_app, for answers that must not wait for Flask (e.g. a 304).
    middleware: tuple[Callable[..., Callable], ...] = ()
    # f(user), run for every message that writes, after its handler and inside its transaction (so what it
    # writes commits or rolls back with the message); keep it to one cheap statement: every message pays it.
    message_hooks: tuple[Callable[..., object], ...] = ()
    # Read with the sender's touch, the UPDATE … RETURNING every message makes anyway (no statement more):
    # name -> f() giving a scalar subquery correlated on User.id; its value is the user's attribute *name*
    # (e.g. whether a message hook has anything to do). "staff": a user who is not a teacher may run the
    # commands marked `staff` (bot/grammar.py), e.g. a class's assistant.
    user_reads: Mapping[str, Callable[[], object]] = field(default_factory=lambda: EMPTY)
    # f(ctx, text) for text that is no command, outside a dialog: a reply, or None when it is nothing of this
    # plugin's (then the next one, then "did not understand"). E.g. a bare B while a quiz is open.
    fallbacks: tuple[Callable[..., "str | None"], ...] = ()
    # Extension points one plugin offers another, by name: name -> functions (`+` joins the tuples of a name).
    # The machinery only carries them to handlers (Context.extension); what a name means is the plugins' affair
    # (the classroom's: handlers/extension_points.py).
    extensions: Mapping[str, tuple[Callable, ...]] = field(default_factory=lambda: EMPTY)

    def __post_init__(self):
        for name, flow in self.flows.items():  # the start-up check: an app with a flow that names no step fails
            flow.check(name)

    def __add__(self, other: Plugin) -> Plugin:
        combined = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if f.name == "extensions":
                combined[f.name] = MappingProxyType({name: mine.get(name, ()) + theirs.get(name, ())
                                                     for name in {**mine, **theirs}})
            elif isinstance(mine, tuple):
                _no_duplicates(f.name, [_name(x) for x in mine], [_name(x) for x in theirs])
                combined[f.name] = mine + theirs
            else:
                _no_duplicates(f.name, list(mine), list(theirs))
                combined[f.name] = MappingProxyType({**mine, **theirs})
        return Plugin(**combined)


def _name(item) -> str:
    """What must be unique in a tuple field: a command's, job's, CLI command's or blueprint's name; a function
    (a job factory, a scan reader, a hook) by where it is defined."""
    name = getattr(item, "name", None)
    if name:
        return name
    return f"{getattr(item, '__module__', '')}.{getattr(item, '__qualname__', repr(item))}"


def _no_duplicates(what: str, mine: list, theirs: list) -> None:
    clash = sorted(set(mine) & set(theirs))
    if clash:
        raise ValueError(f"two plugins both declare {what} {', '.join(map(str, clash))}")
