"""The platform-neutral core: inbound events, the handler context, routing and the unit of work.

A platform adapter turns what it receives into an `Event` and calls `Bot.handle(event)`. In one
transaction the bot logs the interaction (its key is unique, so a retried delivery runs nothing
twice), runs the handler, and stores whatever the handler queued for delivery. After the commit
the delivery worker is woken. The handler's return value is the immediate reply.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal, TypeAlias, TypeVar

from sqlalchemy.orm import Session

from chatbot import delivery, grammar
from chatbot.addresses import Address
from chatbot.clock import Clock
from chatbot.config import Settings
from chatbot.db import Database
from chatbot.db.group import GroupCommit
from chatbot.db.models import Interaction
from chatbot.db.upsert import insert_ignore
from chatbot.identity import Identity, identify
from chatbot.messages import (
    Block,
    Button,
    FormErrors,
    Message,
    OpenForm,
    Outgoing,
    Refusal,
    Reply,
    Response,
)
from chatbot.signals import Signal
from chatbot.text import Neutral, Templates, plain_text

log = logging.getLogger(__name__)
T = TypeVar("T")
P = TypeVar("P")

EventKind = Literal["command", "message", "action", "form", "event"]
# A button of the core's own: the card shown where a platform cannot open a form at once.
OPEN_FORM = "core.open_form"
FORM_CARD_TEXT = 1500  # command text carried in the card's button (a value holds 2,000)


@dataclass(frozen=True)
class Capabilities:
    """What a platform can do, declared by its adapter (`Bot.declare`). Where one is missing the
    core falls back, so a handler never asks which platform it runs on."""

    # A reply only the person who acted sees, in the conversation where they acted (Slack's
    # ephemeral messages). Without: a private reply becomes a one-to-one message to them.
    ephemeral_replies: bool = False
    # A form opened at once in answer to a command (Slack: a modal by `trigger_id`). Without:
    # the core answers with a card whose button opens the form (Teams opens a task module from a
    # card's button). A free-text message never opens a form at once, on any platform.
    modals: bool = False
    # A view of their own for each person, kept up to date by the bot (Slack's App Home).
    home_view: bool = False
    # A message sent in doubt (a time-out) can be found again by its delivery key, so it is not
    # posted twice. Without: the delivery worker posts it again (at least once).
    message_lookup: bool = False
    # Commands of their own kind beside free-text messages (Slack's slash commands). Without:
    # people ask by message alone (Teams), so a message is the platform's own way in, and a
    # request from one counts as the platform's channel, not as its "DM" (`chatbot.reports`).
    commands: bool = False
    # A private answer to a button or a form can be shown to the person who clicked, in the
    # interaction's own answer (Teams answers an `adaptiveCard/action` invoke with a message).
    # Only text alone: a private reply with buttons, or to a click handled later from the inbox
    # (its answer is already given), still becomes a one-to-one message.
    click_replies: bool = False


# A platform that declares nothing gets its replies handed back as they are.
EVERYTHING = Capabilities(
    ephemeral_replies=True,
    modals=True,
    home_view=True,
    message_lookup=True,
    commands=True,
    click_replies=True,
)
PRIVATE_USER = "-"  # the logged user of a private route: nobody in particular


@dataclass(frozen=True)
class Event:
    """Something a person did, on any platform.

    A command is named neutrally ("techhelp"; the Slack adapter strips the slash). Free text to
    the bot is a `message` with no name: the core routes it by one grammar (`chatbot.grammar`)
    to a command, filling in `name` and `text`."""

    platform: str
    kind: EventKind
    name: str  # command ("techhelp"), action id ("triage.claim") or form id; "" for a message
    user: str
    key: str  # unique per delivery from the platform; a retry carries the same key
    text: str = ""  # command or message text, as plain text
    value: str = ""  # button value
    values: dict[str, str] = field(default_factory=dict)  # form fields
    context: str = ""  # form context given back on submit
    channel: str | None = None
    user_name: str | None = None
    # Where an answer after the ack goes: opaque to the core, understood by the adapter that
    # made it (Slack: the interaction's response_url).
    reply_to: str | None = None
    # People mentioned in `text`: the mention as it reads there ("@ann") -> their account id.
    mentions: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))  # a shallow copy: `asdict` costs 10× as much (deep copies)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        return cls(**data)

    def log_payload(self) -> dict[str, Any]:
        return {
            "text": self.text[:2000],
            "value": self.value[:500],
            "values": {k: v[:2000] for k, v in self.values.items()},
            "context": self.context[:500],
            "channel": self.channel,
        }


@dataclass
class Context:
    """What a handler may use. `send` queues a message in the handler's own transaction; it goes
    to its address's platform (`Outgoing.to`), whichever platform the event came from."""

    session: Session
    settings: Settings
    templates: Templates
    platform: str
    now: datetime
    capabilities: Capabilities = EVERYTHING  # of the platform the event came from
    queued: bool = False  # something was stored for delivery: the worker is woken after commit
    # Who reacts to a signal sent in this unit of work (`chatbot.signals`): composed by the bot.
    receivers: Mapping[Signal[Any], Sequence[Receiver[Any]]] = field(default_factory=dict)
    _identities: dict[tuple[str, str], Identity] = field(default_factory=dict, repr=False)

    def identity(self, platform: str, user: str) -> Identity:
        """The account as the configuration can name it (its id, its directory e-mail), read
        once per unit of work: what authorization and audiences check."""
        key = (platform, user)
        if key not in self._identities:
            self._identities[key] = identify(
                session=self.session, settings=self.settings, platform=platform, account_id=user
            )
        return self._identities[key]

    def actor(self, event: Event) -> Identity:
        """Who did what `event` records."""
        return self.identity(event.platform, event.user)

    def send(self, outgoing: Outgoing) -> int:
        self.queued = True
        return delivery.enqueue(self.session, outgoing=outgoing, now=self.now)

    def send_many(self, outgoing: list[Outgoing]) -> None:
        """Queue many new posts in one statement (a broadcast's copies)."""
        self.queued = self.queued or bool(outgoing)
        delivery.enqueue_many(self.session, outgoing=outgoing, now=self.now)

    def render(self, template: str, **values: Any) -> str:
        return self.templates.render(template, **values)


Handler = Callable[[Event, Context], Response]
# What a deferred click is about (a survey run, from its button's value); None: nothing to order.
Subject = Callable[[Event], str | None]
# Run by `chatbot clock` on every tick (once a minute), in its own transaction; returns how many
# deliveries it stored. What is due is asked of the database, so a tick may run any number of times.
Tick = Callable[[Context], int]
# Told where a fan-out stands after its copies were delivered (or failed): a live count.
Progress = Callable[[Context, str, "delivery.Tally"], None]
# Builds a view (e.g. App Home) for a person when its delivery is sent (`delivery.rebuild_later`).
Builder = Callable[[Context, Address], Message]
# Reacts to a signal, in the sender's transaction (`chatbot.signals`).
Receiver: TypeAlias = Callable[["Context", P], None]


class Routes:
    """A capability's handlers, declared in its own module (`routes = Routes()`)."""

    def __init__(self) -> None:
        self.handlers: dict[tuple[EventKind, str], Handler] = {}
        self.ticks: list[Tick] = []
        self.progress_handlers: dict[str, Progress] = {}
        self.builders: dict[str, Builder] = {}
        self.private: set[tuple[EventKind, str]] = set()
        self.deferred: set[tuple[EventKind, str]] = set()
        self.subjects: dict[tuple[EventKind, str], Subject] = {}
        self.receivers: dict[Signal[Any], list[Receiver[Any]]] = {}

    def _add(
        self,
        kind: EventKind,
        name: str,
        *,
        private: bool = False,
        deferred: bool = False,
        subject: Subject | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            if (kind, name) in self.handlers:
                raise ValueError(f"{kind} {name} is registered twice")
            self.handlers[(kind, name)] = handler
            if private:
                self.private.add((kind, name))
            if deferred:
                self.deferred.add((kind, name))
            if subject is not None:
                self.subjects[(kind, name)] = subject
            return handler

        return register

    def command(self, name: str) -> Callable[[Handler], Handler]:
        return self._add("command", name)

    def action(
        self,
        action_id: str,
        *,
        private: bool = False,
        deferred: bool = False,
        subject: Subject | None = None,
    ) -> Callable[[Handler], Handler]:
        """Action ids may carry a suffix after ':' (`rating.rate:4`); routing uses the part
        before it, because Slack wants distinct ids for the buttons of one block. A `private`
        action's value and suffix are not logged (an anonymous survey answer). A `deferred`
        action is stored and acknowledged, then handled by the inbox worker (`chatbot.inbox`):
        for a click that comes in bursts of thousands and needs no answer within the request
        (its reply goes to `Event.reply_to`; it cannot open a form). A deferred action's
        `subject` names what a click is about (a survey run): of one person's clicks on one
        subject still stored, only the last is handled (the others are superseded, unanswered),
        so a click held up by a crashed process never overrides a newer one."""
        return self._add("action", action_id, private=private, deferred=deferred, subject=subject)

    def form(self, form_id: str, *, private: bool = False) -> Callable[[Handler], Handler]:
        return self._add("form", form_id, private=private)

    def event(self, name: str) -> Callable[[Handler], Handler]:
        """Something that happened on the platform, not a command: e.g. "home.opened"."""
        return self._add("event", name)

    def tick(self, job: Tick) -> Tick:
        """Declare a clock job: scheduled sends, reminders, checks (see `chatbot clock`)."""
        self.ticks.append(job)
        return job

    def progress(self, prefix: str) -> Callable[[Progress], Progress]:
        """Declare who reports on batches named `<prefix>:…` (e.g. "alert" for `alert:7`)."""

        def register(handler: Progress) -> Progress:
            self.progress_handlers[prefix] = handler
            return handler

        return register

    def connect(self, signal: Signal[P]) -> Callable[[Receiver[P]], Receiver[P]]:
        """Declare a receiver of `signal`: run, with the sender's context, whenever another
        capability sends it (e.g. App Home refreshing when triage changes a request)."""

        def register(receiver: Receiver[P]) -> Receiver[P]:
            self.receivers.setdefault(signal, []).append(receiver)
            return receiver

        return register

    def builder(self, action: str) -> Callable[[Builder], Builder]:
        """Declare who builds deliveries of `action` (e.g. "home") marked to be built when sent."""

        def register(build: Builder) -> Builder:
            self.builders[action] = build
            return build

        return register


class Bot:
    """The composed core. Built by `chatbot.app.build()`; shared by every platform."""

    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        templates: Templates,
        clock: Clock,
        routes: list[Routes],
        message_command: str = "techhelp",
    ) -> None:
        """`message_command` takes a free-text message that names no command (a new request)."""
        self.settings = settings
        self.db = db
        self.templates = templates
        self.clock = clock
        self.handlers: dict[tuple[EventKind, str], Handler] = {}
        self.ticks: list[Tick] = [job for module_routes in routes for job in module_routes.ticks]
        self.progress_handlers: dict[str, Progress] = {
            prefix: handler
            for module_routes in routes
            for prefix, handler in module_routes.progress_handlers.items()
        }
        self.builders: dict[str, Builder] = {
            action: build
            for module_routes in routes
            for action, build in module_routes.builders.items()
        }
        self.private = {route for module_routes in routes for route in module_routes.private}
        self.receivers: dict[Signal[Any], tuple[Receiver[Any], ...]] = {}
        for module_routes in routes:
            for signal, receivers in module_routes.receivers.items():
                self.receivers[signal] = (*self.receivers.get(signal, ()), *receivers)
        self.deferred = {route for module_routes in routes for route in module_routes.deferred}
        self.subjects = {
            route: subject
            for module_routes in routes
            for route, subject in module_routes.subjects.items()
        }
        for module_routes in routes:
            for route, handler in module_routes.handlers.items():
                if route in self.handlers:
                    raise ValueError(f"{route} is registered by two modules")
                self.handlers[route] = handler
        self.worker: delivery.DeliveryWorker | None = None
        self.group = GroupCommit(db)
        self.message_command = message_command
        self.capabilities: dict[str, Capabilities] = {}

    def attach_worker(
        self, senders: dict[str, delivery.Sender], *, start: bool = True
    ) -> delivery.DeliveryWorker:
        """This process's delivery worker, sending through `senders` (one per platform); the
        core wakes it after every commit that stored something to send."""
        settings = self.settings
        worker = delivery.DeliveryWorker(
            self.db,
            senders,
            clock=self.clock,
            concurrency=settings.delivery_concurrency,
            lease=timedelta(seconds=settings.delivery_lease_seconds),
            # One budget for every process on the database: DELIVERY_RATE is the workspace's.
            pacer=(
                delivery.SharedPacer(self.db, "post", settings.delivery_rate)
                if settings.delivery_rate
                else None
            ),
            on_progress=self.report_progress,
            build=self.build,
        )
        self.worker = worker
        if start:
            worker.start()
        return worker

    @property
    def commands(self) -> list[str]:
        return sorted(name for kind, name in self.handlers if kind == "command")

    def declare(self, platform: str, capabilities: Capabilities) -> None:
        """A platform adapter says what its platform can do (see `Capabilities`)."""
        self.capabilities[platform] = capabilities

    def capabilities_of(self, platform: str) -> Capabilities:
        return self.capabilities.get(platform, EVERYTHING)

    def context(self, session: Session, *, platform: str, now: datetime) -> Context:
        return Context(
            session=session,
            settings=self.settings,
            templates=self.templates,
            platform=platform,
            now=now,
            capabilities=self.capabilities_of(platform),
            receivers=self.receivers,
        )

    def run(
        self, *, platform: str, name: str, user: str, text: str, action: Callable[[Context], T]
    ) -> T:
        """A trusted local caller's unit of work (the operator CLI): logged like any interaction,
        one transaction; a `Refusal` rolls it back and propagates to the caller."""
        event = Event(
            platform=platform,
            kind="command",
            name=name,
            user=user,
            key=f"local:{uuid.uuid4()}",
            text=text,
        )
        now = self.clock.now()
        with self.db.transaction() as session:
            self._log(session, event, now)
            ctx = self.context(session, platform=platform, now=now)
            result = action(ctx)
        if self.worker and ctx.queued:
            self.worker.wake()
        return result

    def build(self, job: delivery.Job) -> Message:
        """Called by the delivery worker for a job marked `rebuild`: its latest content, built
        by the capability that owns its action in a transaction of its own."""
        with self.db.transaction() as session:
            ctx = self.context(session, platform=job.platform, now=self.clock.now())
            return self.builders[job.action](ctx, job.to)

    def report_progress(self, batches: dict[str, str]) -> None:
        """Called by the delivery worker with the batches (and their platform) that moved."""
        now = self.clock.now()
        queued = False
        with self.db.transaction() as session:
            for batch, platform in batches.items():
                handler = self.progress_handlers.get(batch.split(":", 1)[0])
                if handler:
                    ctx = self.context(session, platform=platform, now=now)
                    handler(ctx, batch, delivery.tally(session, batch=batch))
                    queued = queued or ctx.queued
        if self.worker and queued:
            self.worker.wake()

    @staticmethod
    def route_of(event: Event) -> tuple[EventKind, str]:
        if event.kind == "message":  # routed by the grammar to a command (`routed`)
            return "command", event.name
        return event.kind, event.name.split(":", 1)[0] if event.kind == "action" else event.name

    def routed(self, event: Event) -> Event:
        """A free-text message with its command and text filled in by the one grammar."""
        if event.kind != "message" or event.name:
            return event
        name, text = grammar.parse(event.text, commands=self.commands, default=self.message_command)
        return replace(event, name=name, text=text)

    def handler_for(self, event: Event) -> Handler | None:
        if self.route_of(event) == ("action", OPEN_FORM):
            return self._open_form
        return self.handlers.get(self.route_of(event))

    def _open_form(self, event: Event, ctx: Context) -> Response:
        """The button of a form card (`_adapt`): the command that asked for the form, again,
        now from a button, which every platform with forms can open one from."""
        try:
            asked = json.loads(event.value)
            handler = self.handlers[("command", asked["command"])]
        except (ValueError, KeyError, TypeError):
            return Reply(Message.plain(self.templates.render("common/unknown_action.md.j2")))
        return handler(replace(event, text=str(asked.get("text", ""))), ctx)

    def _adapt(self, ctx: Context, event: Event, response: Response) -> Response:
        """Fall back where the platform lacks a capability: a form that cannot open at once
        becomes a card with a button that opens it; a private reply the platform cannot show
        to one person alone, or any answer to a free-text message (there is no interaction to
        answer), becomes a one-to-one message through the outbox, unless the platform can show
        it in the answer to the click (`Capabilities.click_replies`)."""
        caps = ctx.capabilities
        if isinstance(response, OpenForm) and (
            event.kind == "message" or (event.kind == "command" and not caps.modals)
        ):
            response = Reply(self._form_card(ctx, event, response))
        if isinstance(response, Reply) and (
            event.kind == "message"
            or (
                response.visibility == "private"
                and not caps.ephemeral_replies
                and not self._answered_in_click(caps, event, response)
            )
        ):
            ctx.send(
                Outgoing(
                    key=f"reply:{event.key}",
                    to=Address.person(event.platform, event.user),
                    message=response.message,
                )
            )
            return None
        return response

    def _answered_in_click(self, caps: Capabilities, event: Event, reply: Reply) -> bool:
        """Whether a private reply can be the answer to the click itself: the platform shows
        one (`click_replies`), the click is answered now (not handled later from the inbox),
        and the reply is text alone, which such an answer shows whole (buttons would be lost)."""
        return (
            caps.click_replies
            and event.kind in ("action", "form")
            and not self.defers(event)
            and reply.message.text_alone
        )

    def _form_card(self, ctx: Context, event: Event, opened: OpenForm) -> Message:
        text = event.text if len(event.text) <= FORM_CARD_TEXT else ""
        value = json.dumps({"command": event.name, "text": text})
        body = ctx.render("common/open_form.md.j2", title=opened.form.title)
        button = Button(opened.form.title, OPEN_FORM, value, style="primary")
        return Message(
            text=body, blocks=(Block("section", text=body), Block("actions", buttons=(button,)))
        )

    def subject_of(self, event: Event) -> str | None:
        """What a deferred event is about, for its person (`Routes.action(subject=…)`): a
        digest, so the stored row names neither the person nor the survey in clear."""
        route = self.route_of(event)
        subject = self.subjects.get(route)
        about = subject(event) if subject is not None else None
        if about is None:
            return None
        named = "\x1f".join((event.platform, event.user, *route, about))
        return hashlib.sha256(named.encode()).hexdigest()

    def defers(self, event: Event) -> bool:
        """Whether the platform should store this event and ack, leaving it to the inbox."""
        return self.route_of(event) in self.deferred

    def handle(
        self, event: Event, *, within: Callable[[Session], object] | None = None
    ) -> Response:
        """`within` runs in the same transaction, whatever the outcome (the inbox deletes the
        stored event there, so it is handled once)."""
        event = self.routed(event)
        handler = self.handler_for(event)
        now = self.clock.now()
        private = self.route_of(event) in self.private

        def unit(session: Session) -> tuple[Response, bool]:
            if within:
                within(session)
            if self._log(session, event, now, private=private) is None:
                if private:
                    log.info("duplicate %s %s ignored", *self.route_of(event))
                else:
                    log.info("duplicate %s %s (key %s) ignored", event.kind, event.name, event.key)
                return None, False
            ctx = self.context(session, platform=event.platform, now=now)
            response: Response
            if handler is None and event.kind == "command":
                text = self.templates.render(
                    "common/unknown_command.md.j2", command=event.name, commands=self.commands
                )
                response = Reply(Message.plain(text))
            elif handler is None:
                text = self.templates.render("common/unknown_action.md.j2")
                response = Reply(Message.plain(text))
            else:
                response = handler(event, ctx)
            return self._adapt(ctx, event, response), ctx.queued

        try:
            # Concurrent events share a transaction and its commit (`GroupCommit`); this
            # returns once this one's is committed.
            response, queued = self.group.run(unit)
        except Refusal as refusal:
            # Everything the handler did is rolled back; the interaction is still logged.
            with self.db.transaction() as session:
                if within:
                    within(session)
                self._log(
                    session,
                    event,
                    now,
                    refused=plain_text(str(refusal)),
                    private=self.route_of(event) in self.private,
                )
                if event.kind == "form" and refusal.field:
                    return FormErrors({refusal.field: str(refusal)})
                # A refusal's words are neutral markup: a template's, or the bot's own.
                text = self.templates.render("common/error.md.j2", message=Neutral(str(refusal)))
                ctx = self.context(session, platform=event.platform, now=now)
                response = self._adapt(ctx, event, Reply(Message.plain(text)))
                queued = ctx.queued
        if self.worker and queued:
            # Only then: a wake costs the worker a claiming write, and a click that stored
            # nothing to send (a survey answer) must not pay for one.
            self.worker.wake()
        return response

    @staticmethod
    def _log(
        session: Session,
        event: Event,
        now: datetime,
        refused: str | None = None,
        *,
        private: bool = False,
    ) -> int | None:
        """Record the interaction; None when its key was seen before (a retry). A private
        route's log (an anonymous survey's click or comment) says that someone used it, on that
        day: not who, not what, and not the platform's key, which holds the time of the click
        (a hash of it still tells a retry)."""
        if private:
            payload: dict[str, Any] = {"private": True}
            key = "private:" + hashlib.sha256(event.key.encode()).hexdigest()
            user, at = PRIVATE_USER, now.replace(hour=0, minute=0, second=0, microsecond=0)
        else:
            payload, key, user, at = event.log_payload(), event.key[:255], event.user, now
        payload |= {"refused": refused[:500]} if refused else {}
        return insert_ignore(
            session,
            Interaction,
            key=key,
            platform=event.platform,
            kind=event.kind,
            name=(Bot.route_of(event)[1] if private else event.name)[:100],
            user_id=user,
            payload=payload,
            at=at,
        )
