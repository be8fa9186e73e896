"""Platform-neutral messages, forms and replies.

Handlers build these; each platform renders them (Block Kit, console text, later Adaptive Cards).
Message and block text is *neutral markup* (`chatbot/text.py`): the bot's words with their
structure, values as literal spans and mentions as tokens, nothing escaped for any platform; a
renderer escapes, formats and keeps its platform's limits. Button labels, form titles and field
labels are plain text. Everything here is plain data and round-trips through JSON, because
deliveries are stored in the outbox before they are sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from chatbot.addresses import Address


@dataclass(frozen=True)
class Button:
    label: str
    action: str  # namespaced action id, e.g. "triage.claim"
    value: str = ""
    style: Literal["primary", "danger"] | None = None


@dataclass(frozen=True)
class Fact:
    """One line of a fact list: a label (plain words) and its value (neutral markup)."""

    label: str
    value: str

    @classmethod
    def from_json(cls, data: dict[str, str] | str) -> Fact:
        if isinstance(data, str):  # stored before facts were structured: "*Label*\nvalue"
            label, _, value = data.partition("\n")
            return cls(label.strip("*"), value)
        return cls(**data)


@dataclass(frozen=True)
class Block:
    """One visual unit: a header, a text section (optionally with a fact list), a context
    line, a row of buttons, or a divider."""

    kind: Literal["header", "section", "context", "actions", "divider"]
    text: str = ""
    fields: tuple[Fact, ...] = ()
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True)
class File:
    """A file to share with a message (a chart image). The bytes travel base64-encoded in the
    stored delivery, so an upload survives a restart like any other message."""

    name: str
    title: str
    alt_text: str
    content_b64: str


@dataclass(frozen=True)
class Message:
    text: str  # a short summary (neutral markup): notifications, accessibility, fallback
    blocks: tuple[Block, ...] = ()
    file: File | None = None

    @classmethod
    def plain(cls, text: str) -> Message:
        """A message of one text section."""
        return cls(text=text, blocks=(Block("section", text=text),))

    @property
    def text_alone(self) -> bool:
        """Whether the summary says it all: no file, and no block but the summary as one
        section (`Message.plain`), so no button, fact or second section is lost when only
        `text` is shown."""
        return self.file is None and self.blocks in ((), (Block("section", text=self.text),))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"file": vars(self.file)} if self.file else {}
        return data | {
            "text": self.text,
            "blocks": [
                {
                    "kind": b.kind,
                    "text": b.text,
                    "fields": [vars(fact) for fact in b.fields],
                    "buttons": [vars(button) for button in b.buttons],
                }
                for b in self.blocks
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        blocks = tuple(
            Block(
                kind=b["kind"],
                text=b.get("text", ""),
                fields=tuple(Fact.from_json(f) for f in b.get("fields", ())),
                buttons=tuple(Button(**button) for button in b.get("buttons", ())),
            )
            for b in data.get("blocks", ())
        )
        file = File(**data["file"]) if data.get("file") else None
        return cls(text=data["text"], blocks=blocks, file=file)


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class Field:
    """One input of a form. `options` makes it a choice (`multiple`: any number of them,
    submitted one value per line); `kind="datetime"` a date and time (submitted as Unix
    seconds, or typed as `YYYY-MM-DD HH:MM` local time on a console); `kind="people"` people
    picked from the platform's directory (Slack's and Teams' people pickers; typed as ids,
    comma-separated, on a console), submitted as their account ids, one per line; otherwise
    it is free text."""

    name: str
    label: str
    options: tuple[Option, ...] = ()
    multiple: bool = False
    kind: Literal["text", "datetime", "people"] = "text"
    initial: str | None = None
    multiline: bool = False
    optional: bool = False
    max_length: int | None = None
    placeholder: str | None = None


def chosen(value: str) -> list[str]:
    """The values submitted for a `multiple` field (also accepts a single value)."""
    return [v.strip() for v in value.splitlines() if v.strip()]


@dataclass(frozen=True)
class Form:
    form_id: str  # namespaced, e.g. "techhelp.request"
    title: str
    submit: str
    fields: tuple[Field, ...]
    intro: str = ""
    context: str = ""  # opaque state carried back on submit (e.g. a request id)
    # Opened from a message's button, its submit may answer `ReplaceMessage` for that message
    # wherever the form shows (Slack's modal too: the click's reply address travels with it).
    replaces_message: bool = False


# --- replies: what a handler gives back to the platform for immediate display ---------------


@dataclass(frozen=True)
class Reply:
    """A message shown at once where the person acted: `private`, to them alone (Slack: an
    ephemeral message; where a platform cannot, the core sends it to them one-to-one), or
    `public`, to everyone in that conversation."""

    message: Message
    visibility: Literal["private", "public"] = "private"


@dataclass(frozen=True)
class ReplaceMessage:
    """Replace the message whose button was pressed (e.g. a rating prompt becomes a thank-you).
    From a form: the message whose button opened it, where the form took its place (Teams' card
    inputs), or, for a form that says so (`Form.replaces_message`), under a form of its own
    (Slack's modal closes and the message is replaced); otherwise a modal just closes over the
    message, left as it was."""

    message: Message


@dataclass(frozen=True)
class OpenForm:
    form: Form


@dataclass(frozen=True)
class FormErrors:
    """Keep the form open and show these messages beside the named fields."""

    errors: dict[str, str]


@dataclass(frozen=True)
class CloseForm:
    """The form is done. `notice` (neutral markup): what was done, shown to the person where
    the form was as it closes ("PS-1 is on its way to 40 people"), nothing stored or sent."""

    notice: str | None = None


Response = Reply | ReplaceMessage | OpenForm | FormErrors | CloseForm | None


class Refusal(Exception):
    """Raised by a handler or service: nothing changes, and the person is told why (beside
    `field` when the refusal is about a form's input). The interaction is still logged.
    The message is neutral markup: a rendered template, or the bot's own words with any
    value in them made a `literal` span."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class Outgoing:
    """A message to deliver later through the outbox."""

    key: str  # idempotency key: the same key is never delivered twice
    to: Address  # where it goes; its platform's sender delivers it
    message: Message
    edit_of: int | None = None  # delivery id of the message to edit in place
    thread_of: int | None = None  # delivery id of the message to reply under
    delay_seconds: float = 0
    # While a delivery with this key (or, for an edit, any edit of the same message) is still
    # waiting, replace its message instead: a burst of edits costs one call.
    replace_pending: bool = False
    batch: str | None = None  # the fan-out it belongs to (`alert:7`), for counts and reports
    # "post" (or an edit, with `edit_of`); "home": publish the message as the person's home view
    # (`to` is the person); "upload": post the message's file (`Message.file`).
    # A "home" key is delivered again whenever it is enqueued again: the latest content wins,
    # and a burst of refreshes while one is waiting costs one publish.
    action: str = "post"
