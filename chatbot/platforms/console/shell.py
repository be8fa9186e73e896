"""`chatbot shell`: type `/techhelp printer jammed`, see the reply and the triage card as text,
press buttons by typing their label (`Claim`, or `Claim TH-1` to pick the card).

Deliveries go through the same outbox as on Slack; the console drains it after every line so the
transcript reads in order. Forms are asked field by field.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from chatbot.bot import Bot, Capabilities, Event, EventKind
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
from chatbot.platforms.console import render

PLATFORM = "console"
# What is shown goes to the one person at the keyboard (replies are theirs alone), and a form is
# asked field by field; no home view, and nothing sent can be looked up again.
CAPABILITIES = Capabilities(ephemeral_replies=True, modals=True, commands=True)
_TYPED_MENTION = re.compile(r"@([A-Za-z0-9]+)")
_REF = re.compile(r"\bTH-\d+\b")
HELP = """Console commands:
  /techhelp …           any slash command, as in Slack
  /dm <text>            a direct message to the bot: help, status, a command word, or a request
  <button label> [TH-n] press a button shown above, e.g. "Claim TH-1" or "5"
  /as U123              act as another person (now: {user})
  /quit                 leave"""


def as_text(message: Message) -> str:
    """A message as terminal text (for the operators' CLI)."""
    return render.message(message)


@dataclass
class Shown:
    channel: str
    message: Message


class ConsoleSender:
    """Delivers by printing; remembers what was shown so its buttons can be pressed."""

    def __init__(self, out: Callable[[str], None], shown: list[Shown]) -> None:
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
        self.shown.append(Shown(job.to.id, job.message))
        return Sent(message_id=str(next(self._ts)), conversation=job.to.id)

    def find_sent(self, job: Job) -> Sent | None:
        return None


class Console:
    def __init__(self, bot: Bot, *, user: str, out: Callable[[str], None]) -> None:
        self.bot = bot
        self.user = user
        self.out = out
        self.shown: list[Shown] = []
        bot.declare(PLATFORM, CAPABILITIES)
        self.worker = bot.attach_worker({PLATFORM: ConsoleSender(out, self.shown)}, start=False)

    def drain(self) -> None:
        """What is due now: the clock's jobs (scheduled alerts, outreach), then the outbox."""
        from chatbot.clock_process import holder_id, tick

        tick(self.bot, holder=holder_id(), platform=PLATFORM)
        while self.worker.run_once():
            pass

    def run(self, lines: Iterator[str], ask: Callable[[str], str], *, echo: bool = False) -> None:
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
            self.line(line, ask)

    def line(self, line: str, ask: Callable[[str], str]) -> None:
        if line.startswith("/as "):
            self.user = line.split(maxsplit=1)[1].strip().lstrip("@").upper()
            self.out(f"(you are now @{self.user})")
            return
        if line.startswith("/dm ") or line == "/dm":
            event = self._event("message", "", text=line.removeprefix("/dm").strip())
        elif line.startswith("/"):
            name, _, text = line.partition(" ")
            event = self._event("command", name.removeprefix("/"), text=text)
        else:
            button = self._find_button(line)
            if button is None:
                self.out(f"(no button '{line}' is shown; type /techhelp help)")
                return
            event = self._event("action", button.action, value=button.value)
        self._show(self.bot.handle(event), ask)
        self.drain()

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
        ref = _REF.search(line)
        label = _REF.sub("", line).strip().lower()
        for shown in reversed(self.shown):
            if ref and ref.group(0) not in render.message(shown.message):
                continue
            for block in shown.message.blocks:
                for button in block.buttons:
                    if button.label.lower() == label:
                        return button
        return None

    def _show(self, response: Response, ask: Callable[[str], str]) -> None:
        if isinstance(response, Reply | ReplaceMessage):
            self.out(render.message(response.message))
            self.shown.append(Shown("(reply)", response.message))
        elif isinstance(response, OpenForm):
            self._fill(response.form, ask)

    def _fill(self, form: Form, ask: Callable[[str], str]) -> None:
        self.out(f"--- form: {form.title} ---")
        if form.intro:
            self.out(render.text(form.intro))
        values: dict[str, str] = {}
        for field in form.fields:
            choices = ""
            if field.options:
                several = "; several, comma-separated" if field.multiple else ""
                choices = " (" + ", ".join(o.value for o in field.options) + several + ")"
            elif field.kind == "datetime":
                choices = " (YYYY-MM-DD HH:MM)"
            elif field.kind == "people":
                choices = " (user ids, comma-separated)"
            default = f" [{field.initial}]" if field.initial else ""
            answer = ask(f"{field.label}{choices}{default}: ").strip()
            if field.multiple:
                answer = "\n".join(part.strip() for part in answer.split(","))
            values[field.name] = answer or field.initial or ""
        event = self._event("form", form.form_id, context=form.context)
        event = Event(**{**event.__dict__, "values": values})
        response = self.bot.handle(event)
        if isinstance(response, FormErrors):
            for name, error in response.errors.items():
                self.out(f"(form not sent: {name}: {render.text(error)})")
        elif isinstance(response, CloseForm) and response.notice:
            self.out(render.text(response.notice))
        elif not isinstance(response, CloseForm | None):
            self._show(response, ask)
