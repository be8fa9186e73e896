"""`chatbot shell`: type `/techhelp printer jammed`, see the reply and the triage card as text,
press buttons by typing their label (`Claim`, or `Claim TH-1` to pick the card).

Deliveries go through the same outbox as on Slack; the console drains it after every line so the
transcript reads in order. What was delivered stays in the outbox, so after a restart the cards
and surveys still open (their latest version) can be shown again (`/show`) and pressed.
Forms are asked field by field: each answer is checked as it is typed (a choice among the
listed ones, by name or number; a date; a required field), and when the handler refuses a field
only that field is asked again, with every other answer kept.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import aliased

from chatbot.bot import Bot, Capabilities, Event, EventKind
from chatbot.db.models import Delivery
from chatbot.delivery import Job, Outcome, Sent
from chatbot.messages import (
    Button,
    CloseForm,
    Field,
    Form,
    FormErrors,
    Message,
    OpenForm,
    ReplaceMessage,
    Reply,
    Response,
)
from chatbot.platforms.console import render

PLATFORM = "console"
# What is shown goes to the one person at the keyboard (replies are theirs alone), and a form is
# asked field by field; no home view, and nothing sent can be looked up again.
CAPABILITIES = Capabilities(ephemeral_replies=True, modals=True, commands=True)
_TYPED_MENTION = re.compile(r"@([A-Za-z0-9]+)")
# A reference typed after a button's label picks the message that shows it.
_REF = re.compile(r"\b(?:TH|AL|PS)-\d+\b", re.IGNORECASE)
CANCEL = "/cancel"
# Stored messages read back at start-up: the latest version of this many, at most.
RESTORE_LIMIT = 500
SHOW_AT_MOST = 10  # by /show alone: the newest
HELP = """Console commands:
  /techhelp …           any slash command, as in Slack
  /dm <text>            a direct message to the bot: help, status, a command word, or a request
  <button label> [ref]  press a button shown above, e.g. "Claim TH-1", "I'm affected AL-1", "4"
  /show [ref]           show again what is still open for you (cards, surveys), e.g. /show TH-3
  /as U123              act as another person (now: {user})
  /cancel               (in a form) leave the form; nothing is sent
  /quit                 leave"""


class Ask(Protocol):
    """Reads one answer: `choices` are the valid answers, for completion. Raises EOFError when
    the input has run out."""

    def __call__(self, prompt: str, choices: Sequence[str] = ()) -> str: ...


class Cancelled(Exception):
    """The person left the form."""


def as_text(message: Message) -> str:
    """A message as terminal text (for the operators' CLI)."""
    return render.message(message)


@dataclass
class Shown:
    """A message on screen: `key` names it across its edits (the first version's id), `person`
    is whom it was for (None: a channel, seen by everyone)."""

    key: str
    where: str
    person: str | None
    message: Message


def has_buttons(message: Message) -> bool:
    return any(block.buttons for block in message.blocks)


class ConsoleSender:
    """Delivers by printing; remembers what was shown so its buttons can be pressed. A message's
    id is its outbox row's, so an edit names the message it replaces across restarts."""

    def __init__(self, out: Callable[[str], None], shown: dict[str, Shown]) -> None:
        self.out = out
        self.shown = shown
        self._ts = itertools.count(1)

    def send(self, job: Job) -> Outcome:
        where = f"DM to @{job.to.id}" if job.to.kind == "person" else job.to.id
        if job.action == "home":
            where = f"App Home of @{job.to.id}"
        if job.action == "upload" and job.message.file:
            where += f", with the image {job.message.file.name}"
        verb = "updated in" if job.action == "update" else "in thread of" if job.thread_id else ""
        self.out(f"--- [{(verb + ' ' + where).strip()}] ---\n{render.message(job.message)}")
        message_id = f"console-{job.id}"
        key = job.edit_message_id if job.action == "update" and job.edit_message_id else message_id
        person = job.to.id if job.to.kind == "person" else None
        self.shown.pop(key, None)  # the newest version is found first
        self.shown[key] = Shown(key, job.to.id, person, job.message)
        return Sent(message_id=message_id, conversation=job.to.id)

    def find_sent(self, job: Job) -> Sent | None:
        return None


class Console:
    def __init__(self, bot: Bot, *, user: str, out: Callable[[str], None]) -> None:
        self.bot = bot
        self.user = user
        self.out = out
        self.shown: dict[str, Shown] = {}
        self._replies = itertools.count(1)
        bot.declare(PLATFORM, CAPABILITIES)
        self.worker = bot.attach_worker({PLATFORM: ConsoleSender(out, self.shown)}, start=False)
        # Handlers of console commands beyond the chat's own (`/demo`, `/dashboard`).
        self.commands: dict[str, Callable[[str], None]] = {}

    def restore(self) -> int:
        """What was delivered before a restart, latest version of each message, so that its
        buttons can be pressed again; returns how many still have buttons."""
        parent = aliased(Delivery)
        with self.bot.db.reading() as conn:
            rows = conn.execute(
                select(
                    Delivery.id,
                    Delivery.action,
                    Delivery.address_kind,
                    Delivery.address_id,
                    Delivery.message,
                    Delivery.message_id,
                    parent.message_id,
                )
                .outerjoin(parent, parent.id == Delivery.edit_of)
                .where(
                    Delivery.platform == PLATFORM,
                    Delivery.status == "sent",
                    Delivery.action.in_(("post", "update")),
                )
                .order_by(Delivery.id)
            ).all()
        latest: dict[str, Shown] = {}
        for _, action, kind, to, data, message_id, parent_id in rows:
            key = (parent_id if action == "update" else message_id) or ""
            message = Message.from_json(data)
            latest.pop(key, None)
            latest[key] = Shown(key, to, to if kind == "person" else None, message)
        restored = [s for s in latest.values() if has_buttons(s.message)][-RESTORE_LIMIT:]
        for shown in restored:
            self.shown.setdefault(shown.key, shown)
        return len(restored)

    def drain(self) -> None:
        """What is due now: the clock's jobs (scheduled alerts, outreach), then the outbox."""
        from chatbot.clock_process import holder_id, tick

        tick(self.bot, holder=holder_id(), platform=PLATFORM)
        while self.worker.run_once():
            pass

    def run(self, lines: Iterator[str], ask: Ask, *, echo: bool = False) -> None:
        """Read lines until they run out; `echo` repeats each (for piped input and transcripts)."""
        self.out(HELP.format(user=self.user))
        self.drain()
        for line in lines:
            line = line.strip()
            if not line:
                continue
            if echo:
                self.out(f"techhelp> {line}")
            if line in ("/quit", "/exit"):
                break
            try:
                self.line(line, ask)
            except EOFError:
                self.out("(the input ended inside a form: nothing was sent)")
                break

    def line(self, line: str, ask: Ask) -> None:
        if line.startswith("/as "):
            self.user = line.split(maxsplit=1)[1].strip().lstrip("@").upper()
            self.out(f"(you are now @{self.user})")
            return
        if line == "/show" or line.startswith("/show "):
            self.show(line.removeprefix("/show").strip())
            return
        name, _, rest = line.partition(" ")
        if name in self.commands:
            self.commands[name](rest.strip())
            return
        if line.startswith("/dm ") or line == "/dm":
            event = self._event("message", "", text=line.removeprefix("/dm").strip())
        elif line.startswith("/"):
            event = self._event("command", name.removeprefix("/"), text=rest)
        else:
            button = self._find_button(line)
            if button is None:
                self.out(f"(no button '{line}' is shown to @{self.user}; /show lists them)")
                return
            self.press(button, ask)
            return
        self._show(self.bot.handle(event), ask)
        self.drain()

    def press(self, button: Button, ask: Ask) -> None:
        """Press a button as the person at the keyboard."""
        event = self._event("action", button.action, value=button.value)
        self._show(self.bot.handle(event), ask)
        self.drain()

    def show(self, ref: str) -> None:
        """Print again what is open for the person at the keyboard (optionally: naming `ref`)."""
        found = [
            s
            for s in self.visible()
            if has_buttons(s.message) and (not ref or _names(s.message, ref.upper()))
        ]
        if not found:
            what = f" about {ref}" if ref else ""
            self.out(f"(nothing open{what} for @{self.user})")
            return
        if not ref and len(found) > SHOW_AT_MOST:
            self.out(f"({len(found) - SHOW_AT_MOST} older ones: /show TH-n, AL-n or PS-n)")
            found = found[:SHOW_AT_MOST]
        for shown in reversed(found):
            where = f"DM to @{shown.person}" if shown.person else shown.where
            self.out(f"--- [{where}] ---\n{render.message(shown.message)}")

    def visible(self) -> list[Shown]:
        """Newest first: what the person at the keyboard can see (channels, their own DMs and
        the replies they were given)."""
        return [s for s in reversed(self.shown.values()) if s.person in (None, self.user)]

    def _event(
        self, kind: EventKind, name: str, *, text: str = "", value: str = "", context: str = ""
    ) -> Event:
        """A typed `@U123` mentions that person (the console knows people by their ids)."""
        mentions = {f"@{m}": m.upper() for m in _TYPED_MENTION.findall(text)}
        return Event(
            platform=PLATFORM,
            kind=kind,
            name=name,
            user=self.user,
            key=f"console:{uuid.uuid4()}",
            text=text,
            value=value,
            context=context,
            mentions=mentions,
        )

    def _find_button(self, line: str) -> Button | None:
        """The newest visible button labelled `line` (`Follow AL-1`), or labelled as `line`
        without its reference, on a message naming that reference (`Claim TH-1`)."""
        whole = line.strip().lower()
        for shown in self.visible():
            for block in shown.message.blocks:
                for button in block.buttons:
                    if button.label.lower() == whole:
                        return button
        match = _REF.search(line)
        ref = match.group(0).upper() if match else None
        label = _REF.sub("", line).strip().lower()
        for shown in self.visible():
            if ref and not _names(shown.message, ref):
                continue
            for block in shown.message.blocks:
                for button in block.buttons:
                    if button.label.lower() == label:
                        return button
        return None

    def _show(self, response: Response, ask: Ask) -> None:
        if isinstance(response, Reply | ReplaceMessage):
            self.out(render.message(response.message))
            key = f"reply-{next(self._replies)}"
            self.shown[key] = Shown(key, "(reply)", self.user, response.message)
        elif isinstance(response, OpenForm):
            self._fill(response.form, ask)

    def _fill(self, form: Form, ask: Ask) -> None:
        self.out(f"--- form: {form.title} ---  (/cancel leaves it)")
        if form.intro:
            self.out(render.text(form.intro))
        values: dict[str, str] = {}
        todo: Sequence[Field] = form.fields
        errors: dict[str, str] = {}
        try:
            while True:
                for field in todo:
                    values[field.name] = self._ask_field(
                        field, ask, values.get(field.name), errors.get(field.name)
                    )
                event = replace(
                    self._event("form", form.form_id, context=form.context), values=values
                )
                response = self.bot.handle(event)
                if not isinstance(response, FormErrors):
                    break
                errors = {name: render.text(error) for name, error in response.errors.items()}
                named = [f for f in form.fields if f.name in errors]
                for name, error in errors.items():
                    if not any(f.name == name for f in named):
                        self.out(f"(form not sent: {error})")
                if not named:
                    return
                todo = named
                self.out("(form not sent yet: the other answers are kept)")
        except Cancelled:
            self.out("(form left: nothing was sent)")
            return
        if isinstance(response, CloseForm) and response.notice:
            self.out(render.text(response.notice))
        elif not isinstance(response, CloseForm | None):
            self._show(response, ask)

    def _ask_field(self, field: Field, ask: Ask, previous: str | None, error: str | None) -> str:
        """One field's answer, checked as it is typed; Enter keeps `previous` (or the field's
        initial value). A multiple choice is submitted one value per line."""
        if error:
            self.out(f"({field.label}: {error})")
        choices = [o.value for o in field.options]
        hint = ""
        if field.options:
            listed = ", ".join(
                f"{i} {o.value}"
                if o.label.casefold() == o.value.casefold()
                else f"{i} {o.value} ({o.label})"
                for i, o in enumerate(field.options, 1)
            )
            several = "; several, comma-separated" if field.multiple else ""
            hint = f" [{listed}{several}]"
        elif field.kind == "datetime":
            hint = " (YYYY-MM-DD HH:MM)"
        elif field.kind == "people":
            hint = " (user ids, comma-separated)"
        if field.optional:
            hint += " (optional)"
        kept = previous if previous is not None else field.initial
        shown_kept = ", ".join(kept.splitlines()) if kept else ""
        default = f" <{shown_kept}>" if shown_kept else ""
        while True:
            answer = ask(f"{field.label}{hint}{default}: ", choices).strip()
            if answer == CANCEL:
                raise Cancelled
            if not answer:
                if kept or field.optional:
                    return kept or ""
                self.out(f"({field.label} is required)")
                continue
            problem, value = _check(field, answer)
            if problem is None:
                return value
            self.out(f"({field.label}: {problem})")


def _names(message: Message, ref: str) -> bool:
    return re.search(rf"\b{re.escape(ref)}\b", render.message(message), re.IGNORECASE) is not None


def _check(field: Field, answer: str) -> tuple[str | None, str]:
    """(a problem, or None; the value to submit) for a typed answer."""
    if field.options:
        parts = [p.strip() for p in answer.split(",")] if field.multiple else [answer]
        values = []
        for part in (p for p in parts if p):
            value = _choice(field, part)
            if value is None:
                names = ", ".join(o.value for o in field.options)
                return f"'{part}' is not one of the choices: {names} (or their numbers)", ""
            values.append(value)
        if not values:
            return "choose at least one", ""
        return None, "\n".join(dict.fromkeys(values))
    if field.kind == "datetime":
        try:
            datetime.strptime(answer, "%Y-%m-%d %H:%M")
        except ValueError:
            return "type a date and time as YYYY-MM-DD HH:MM, e.g. 2026-03-02 18:00", ""
    if field.max_length is not None and len(answer) > field.max_length:
        return f"at most {field.max_length:,} characters (this is {len(answer):,})", ""
    return None, answer


def _choice(field: Field, typed: str) -> str | None:
    """The option typed by its value, its label or its number (case does not matter)."""
    folded = typed.casefold()
    for option in field.options:
        if folded in (option.value.casefold(), option.label.casefold()):
            return option.value
    if typed.isdigit() and 1 <= int(typed) <= len(field.options):
        return field.options[int(typed) - 1].value
    return None
