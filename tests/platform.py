"""An in-process test platform (Errbot's `backends/test.py`): the whole bot, no process, no HTTP.

It is a platform adapter like Slack's or the console's, only with a recording sender: it turns
what a person does into neutral `Event`s for `Bot.handle`, runs the delivery worker in-process
after each step, and keeps a transcript of what every address (a person's id, a channel id)
was shown. Scenarios written on it assert on neutral messages as text, never on a platform's
markup, so they run unchanged on every adapter. Two flavours declare opposite capabilities
(`FULL`, `PLAIN`): what a platform lacks, the core falls back for, and the same transcript must
still read true.

    chat.say("UALICE", "/techhelp printer jammed")      # a command
    chat.say("UALICE", "status")                        # a direct message to the bot
    chat.press("USTAFF", "Claim", card="TH-1")          # a button on a message someone was shown
    chat.fill("USTAFF", note="Cleared the jam")         # the form open for that person
    assert "TH-1" in chat.last(TRIAGE)
"""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from chatbot.app import build_bot
from chatbot.bot import EVERYTHING, Bot, Capabilities, Event
from chatbot.clock import FixedClock
from chatbot.config import Settings
from chatbot.delivery import Job, Outcome, Sent
from chatbot.messages import (
    Button,
    CloseForm,
    Form,
    FormErrors,
    Message,
    OpenForm,
    ReplaceMessage,
    Reply,
    Response,
)
from chatbot.text import plain_text

FULL = EVERYTHING  # every capability a platform may declare
PLAIN = Capabilities()  # a bare chat: no ephemeral replies, modals, home, lookup nor commands
# Teams' set: a bare chat whose card clicks are answered in the interaction (`click_replies`).
CLICK_REPLIES = Capabilities(click_replies=True)
_TYPED_MENTION = re.compile(r"@([A-Za-z0-9]+)")
_MARKUP = re.compile(r"[*_`\ue000-\uf8ff]")

How = Literal["reply", "post", "thread", "update", "replaced", "home"]


def text_of(message: Message) -> str:
    """A neutral message as the words a person reads: headers, sections, fact lists, and the
    buttons in brackets, with no markup left (`chatbot.text.plain_text`). The one place a
    scenario's view of a message is made."""
    lines: list[str] = []
    for block in message.blocks:
        if block.kind == "actions":
            lines.append(" ".join(f"[{button.label}]" for button in block.buttons))
        elif block.kind != "divider":
            lines.append(plain_text(block.text))
            lines.extend(f"{fact.label}: {plain_text(fact.value)}" for fact in block.fields)
    return "\n".join(lines) if lines else plain_text(message.text)


def words(text: str) -> str:
    """The text without emphasis marks or private-use markers: what a scenario compares, so it
    holds whatever markup the neutral text uses (`*b*`, `**b**`, literal spans)."""
    return " ".join(_MARKUP.sub("", text).split())


@dataclass
class Seen:
    """One thing an address was shown: a reply, a post, or a new version of an earlier one."""

    to: str
    how: How
    message: Message
    id: str  # this platform's message id: what an edit or a button press refers to
    visibility: str = "private"

    @property
    def text(self) -> str:
        return text_of(self.message)


@dataclass
class Step:
    """What one thing a person did caused: everything shown, to anyone, until the outbox was
    empty again; `errors` when a form was refused."""

    shown: list[Seen] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def to(self, address: str) -> list[str]:
        """What `address` was shown in this step, as `words`."""
        return [words(seen.text) for seen in self.shown if seen.to == address]


class RecordingSender:
    """The platform's sender: records each delivery as `Seen` and gives it an id."""

    def __init__(self, platform: TestPlatform) -> None:
        self.platform = platform
        self.ids = itertools.count(1)

    def send(self, job: Job) -> Outcome:
        if job.action == "update":
            edited = self.platform.by_id(job.edit_message_id or "")
            to = edited.to if edited else job.to.id
            self.platform.record(to, "update", job.message, job.edit_message_id or "")
            return Sent(message_id=job.edit_message_id or "", conversation=job.conversation or to)
        how: How = "home" if job.action == "home" else "thread" if job.thread_id else "post"
        message_id = f"m{next(self.ids)}"
        self.platform.record(job.to.id, how, job.message, message_id)
        sent = Sent(message_id=message_id, conversation=job.to.id)
        self.platform.sent_keys[job.key] = sent
        return sent

    def find_sent(self, job: Job) -> Sent | None:
        if not self.platform.capabilities.message_lookup:
            return None
        return self.platform.sent_keys.get(job.key)


class TestPlatform:
    """The adapter. `name` is the platform's name in events and deliveries."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(self, bot: Bot, *, name: str = "test", capabilities: Capabilities = FULL) -> None:
        self.bot = bot
        self.name = name
        self.capabilities = capabilities
        bot.declare(name, capabilities)
        self.transcript: list[Seen] = []
        self.forms: dict[str, Form] = {}  # the form open for each person
        self.sent_keys: dict[str, Sent] = {}
        if bot.worker is None:
            self.worker = bot.attach_worker({name: RecordingSender(self)}, start=False)
        else:  # a second platform of the same bot: one outbox, one worker, a sender each
            self.worker = bot.worker
            self.worker.senders[name] = RecordingSender(self)
        self._step: Step | None = None

    def beside(self, name: str, capabilities: Capabilities = PLAIN) -> TestPlatform:
        """A second platform adapter on the same bot and database (Slack and Teams at once):
        each platform's people act and are shown things on their own platform."""
        return TestPlatform(self.bot, name=name, capabilities=capabilities)

    # --- what a person does ---

    def say(self, user: str, text: str, *, channel: str | None = None) -> Step:
        """`/name text` is a command; anything else is a direct message to the bot."""
        if text.startswith("/"):
            name, _, rest = text.partition(" ")
            event = self._event("command", user, name.removeprefix("/"), text=rest.strip())
        else:
            event = self._event("message", user, "", text=text)
        return self._run(replace_channel(event, channel))

    def press(self, user: str, label: str, *, card: str | None = None) -> Step:
        """Press the button labelled `label` on the newest message `user` can see (sent to them,
        or to a channel) whose text mentions `card`."""
        seen, button = self._button(user, label, card)
        event = self._event("action", user, button.action, value=button.value, reply_to=seen.id)
        event = replace_channel(event, None if seen.to == user else seen.to)
        return self._run(event, pressed=seen)

    def press_action(self, user: str, action: str, value: str = "") -> Step:
        """A click on a button with `action` (one no message shows, for a handler a test adds)."""
        return self._run(self._event("action", user, action, value=value))

    def fill(self, user: str, **values: str) -> Step:
        """Submit the form open for `user`: the given values, the rest at their defaults."""
        form = self.forms.pop(user, None)
        assert form is not None, f"no form is open for {user}"
        filled = {f.name: values.get(f.name, f.initial or "") for f in form.fields}
        unknown = set(values) - set(filled)
        assert not unknown, f"the form {form.form_id} has no field {unknown}"
        event = self._event("form", user, form.form_id, context=form.context, values=filled)
        step = self._run(event)
        if step.errors:  # the form stays open
            self.forms[user] = form
        return step

    def open_home(self, user: str) -> Step:
        return self._run(self._event("event", user, "home.opened"))

    def happen(self, user: str, name: str) -> Step:
        """Something the platform tells the bot about a person (`app.installed`)."""
        return self._run(self._event("event", user, name))

    # --- what was shown ---

    def received(self, address: str) -> list[str]:
        """Every message `address` was shown, in order (a new version of one counts again),
        as `words`."""
        return [words(seen.text) for seen in self.transcript if seen.to == address]

    def last(self, address: str) -> str:
        shown = self.received(address)
        assert shown, f"{address} was shown nothing"
        return shown[-1]

    def by_id(self, message_id: str) -> Seen | None:
        return next((s for s in reversed(self.transcript) if s.id == message_id), None)

    # --- the adapter's insides ---

    def record(
        self, to: str, how: How, message: Message, message_id: str, visibility: str = "private"
    ) -> None:
        seen = Seen(to, how, message, message_id, visibility)
        self.transcript.append(seen)
        if self._step is not None:
            self._step.shown.append(seen)

    def drain(self) -> None:
        while self.worker.run_once():
            pass

    def _event(self, kind: str, user: str, name: str, **values: Any) -> Event:
        text = values.get("text", "")
        mentions = {f"@{m}": m for m in _TYPED_MENTION.findall(text)}
        return Event(
            platform=self.name,
            kind=kind,  # type: ignore[arg-type]
            name=name,
            user=user,
            key=f"{self.name}:{uuid.uuid4()}",
            mentions=mentions,
            **values,
        )

    def _run(self, event: Event, *, pressed: Seen | None = None) -> Step:
        step = self._step = Step()
        try:
            self._show(event, self.bot.handle(event), step, pressed)
            self.drain()
        finally:
            self._step = None
        return step

    def _show(self, event: Event, response: Response, step: Step, pressed: Seen | None) -> None:
        if isinstance(response, Reply):
            to = event.user if response.visibility == "private" else event.channel or event.user
            self.record(
                to, "reply", response.message, f"r{uuid.uuid4().hex[:8]}", response.visibility
            )
        elif isinstance(response, ReplaceMessage):
            assert pressed is not None, "only a pressed message can be replaced"
            self.record(pressed.to, "replaced", response.message, pressed.id)
        elif isinstance(response, OpenForm):
            self.forms[event.user] = response.form
        elif isinstance(response, FormErrors):
            step.errors = dict(response.errors)
        elif isinstance(response, CloseForm) and response.notice:  # shown where the form was
            self.record(event.user, "reply", Message.plain(response.notice), f"n{uuid.uuid4()}")
        else:
            assert response is None or isinstance(response, CloseForm), response

    def _button(self, user: str, label: str, card: str | None) -> tuple[Seen, Button]:
        for seen in reversed(self.transcript):
            if seen.to != user and not self._is_channel(seen.to):
                continue
            if card and card not in seen.text:
                continue
            if self._superseded(seen):
                continue
            for block in seen.message.blocks:
                for button in block.buttons:
                    if button.label.lower() == label.lower():
                        return seen, button
        raise AssertionError(f"{user} sees no button {label!r}" + (f" on {card}" if card else ""))

    def _superseded(self, seen: Seen) -> bool:
        """An older version of a message that was since edited or replaced."""
        newer = self.by_id(seen.id)
        return newer is not None and newer is not seen

    def _is_channel(self, address: str) -> bool:
        settings = self.bot.settings
        channels = [
            *settings.triage_channels(),
            *settings.alert_channels(),
            *settings.it_channels(),
        ]
        return address in {channel.id for channel in channels}


def replace_channel(event: Event, channel: str | None) -> Event:
    return replace(event, channel=channel)


def build(
    config: dict[str, Any],
    *,
    capabilities: Capabilities = FULL,
    name: str = "test",
    clock: FixedClock | None = None,
) -> TestPlatform:
    """The bot from an explicit configuration (settings by their names, `routing` as the YAML's
    mapping), never from the environment; its database migrated; on a test platform."""
    settings = Settings.from_values({"techhelp_platform": name, **config})
    bot = build_bot(settings, clock=clock or FixedClock())
    bot.db.upgrade()
    return TestPlatform(bot, name=name, capabilities=capabilities)
