"""Neutral messages and forms → Block Kit, within Slack's limits.

This is where neutral markup (`chatbot/text.py`) becomes Slack mrkdwn, once, when the platform
is known: the bot's `**bold**` becomes `*bold*`, `- ` items become `•`, emoji their Slack short
names; `& < >` are escaped everywhere. A literal span (a value: what a person typed) also has
mrkdwn's formatting characters (asterisk, underscore, tilde, backtick) swapped for look-alikes
and a `>` opening one of its lines defused, so it can never make bold, italics, a quote, a link
or a mention beside the bot's own words. A mention token becomes `<@id>`. Every text is cut to
its limit by its rendered length, with a note (`chatbot.text.fit`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from chatbot.messages import Block, Button, Fact, Field, Form, Message, Option
from chatbot.text import Literal, Markup, Mention, fit, literal, pieces, plain_markup, plain_text

MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
SECTION_TEXT = 3000
FIELD_TEXT = 2000
MAX_FIELDS = 10
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
ID = 255
FALLBACK_TEXT = 3000
MODAL_TITLE = 24
MODAL_BUTTON = 24
LABEL = 2000
PLACEHOLDER = 150
OPTION_TEXT = 75
PRIVATE_METADATA = 3000
MAX_ACTIONS = 25
ERROR_TEXT = 150

# The emoji the templates use, by their Slack names (Slack shows both; the names keep what
# Slack receives as it was, and read better in its notifications).
SHORT_NAMES = {
    "⚠️": "warning",
    "🚨": "rotating_light",
    "📊": "bar_chart",
    "🔒": "lock",
    "👁️": "eye",
    "👋": "wave",
    "🙏": "pray",
    "❓": "question",
    "🙋": "raising_hand",
    "⬆️": "arrow_up",
    "📥": "inbox_tray",
    "🔄": "arrows_counterclockwise",
    "✅": "white_check_mark",
    "⏰": "alarm_clock",
    "🚫": "no_entry_sign",
    "📤": "outbox_tray",
    "📆": "calendar",
    "📣": "mega",
    "🔧": "wrench",
    "🔍": "mag",
    "💬": "speech_balloon",
    "🔴": "red_circle",
    "🟠": "large_orange_circle",
    "🔵": "large_blue_circle",
    "⚪": "white_circle",
    "ℹ️": "information_source",
    "📨": "incoming_envelope",
    "📄": "page_facing_up",
    "💡": "bulb",
    "📝": "memo",
    "🔎": "mag_right",
}
_EMOJI = re.compile("|".join(re.escape(e) for e in sorted(SHORT_NAMES, key=len, reverse=True)))
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# mrkdwn has no escape for its formatting characters: in a value they become look-alikes.
_DEFUSE = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"})
_QUOTE_IN_VALUE = re.compile(r"^(\s*)&gt;", re.MULTILINE)
_USER_ID = re.compile(r"^[A-Z0-9]{2,64}$")


def escape(text: str) -> str:
    """`& < >` as Slack requires them in any text it reads as mrkdwn."""
    return text.translate(_ESCAPES)


def _emoji(text: str) -> str:
    return _EMOJI.sub(lambda m: f":{SHORT_NAMES[m.group(0)]}:", text)


def _markup_line(line: str, *, line_start: bool, formatting: bool) -> str:
    if not formatting:
        return _emoji(escape(plain_markup(line, line_start=line_start)))
    marker = ""
    if line_start and line.startswith(">"):
        marker, line = ">", line[1:]
    elif line_start and line.startswith("- "):
        marker, line = "• ", line[2:]
    return marker + _emoji(escape(line).replace("**", "*"))


def _value(text: str) -> str:
    """A literal span: shown as it is, nothing in it live. A `>` opening one of its lines would
    quote it: a soft hyphen before it keeps it a character."""
    return _QUOTE_IN_VALUE.sub("\\1\u00ad&gt;", escape(text).translate(_DEFUSE))


def mrkdwn(neutral: str, *, formatting: bool = True) -> str:
    """Neutral markup as Slack mrkdwn (`formatting=False`: no bold, italics, quotes or code,
    for the notification text; values escaped and mentions live all the same)."""
    out: list[str] = []
    line_start = True
    quoting = False  # on a line the bot's `>` opened: a value's every line stays in the quote
    for piece in pieces(neutral):
        if isinstance(piece, Markup):
            lines = piece.text.split("\n")
            rendered = [
                _markup_line(line, line_start=line_start or i > 0, formatting=formatting)
                for i, line in enumerate(lines)
            ]
            text = "\n".join(rendered)
            if line_start or len(lines) > 1:
                quoting = formatting and lines[-1].startswith(">")
        elif isinstance(piece, Literal):
            text = _value(piece.text)
            if quoting:
                text = text.replace("\n", "\n>")
        elif isinstance(piece, Mention):
            text = f"<@{piece.id}>" if _USER_ID.match(piece.id) else _value(piece.id)
        else:
            label = _value(piece.label)
            text = f"<{escape(piece.url).replace('|', '%7C')}|{label}>"
        out.append(text)
        if text:
            line_start = text.endswith("\n")
    return "".join(out)


def _mrkdwn(text: str, limit: int = SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": fit(text, mrkdwn, limit) or " ", "verbatim": True}


def _plain(text: str, limit: int) -> dict[str, Any]:
    """Plain words (a button, a title, a label): shown as they are, cut to the limit."""
    text = fit(literal(text), plain_text, limit)
    return {"type": "plain_text", "text": text or " ", "emoji": True}


def _fact(fact: Fact) -> dict[str, Any]:
    return _mrkdwn(f"**{literal(fact.label)}**\n{fact.value}", FIELD_TEXT)


def _button(button: Button) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": _plain(button.label, BUTTON_TEXT),
        "action_id": button.action[:ID],
        "value": button.value[:BUTTON_VALUE],
    }
    if button.style:
        element["style"] = button.style
    return element


def block(item: Block) -> dict[str, Any]:
    if item.kind == "header":
        header = fit(item.text, plain_text, HEADER_TEXT) or " "
        return {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}}
    if item.kind == "divider":
        return {"type": "divider"}
    if item.kind == "context":
        return {"type": "context", "elements": [_mrkdwn(item.text)]}
    if item.kind == "actions":
        return {"type": "actions", "elements": [_button(b) for b in item.buttons[:MAX_ACTIONS]]}
    section: dict[str, Any] = {"type": "section", "text": _mrkdwn(item.text)}
    if item.fields:
        section["fields"] = [_fact(f) for f in item.fields[:MAX_FIELDS]]
    return section


def _blocks(msg: Message, limit: int) -> list[dict[str, Any]]:
    blocks = [block(b) for b in msg.blocks]
    if len(blocks) > limit:
        blocks = blocks[: limit - 1] + [
            {"type": "context", "elements": [_mrkdwn(f"…and {len(blocks) - limit + 1} more")]}
        ]
    return blocks


def message(msg: Message) -> dict[str, Any]:
    """Keyword arguments for chat.postMessage / chat.update / respond."""
    fallback = fit(msg.text, lambda text: mrkdwn(text, formatting=False), FALLBACK_TEXT)
    return {"text": fallback, "blocks": _blocks(msg, MAX_BLOCKS)}


def errors(errors: dict[str, str]) -> dict[str, str]:
    """Errors shown beside a modal's fields: plain text."""
    return {name: fit(text, plain_text, ERROR_TEXT) for name, text in errors.items()}


def home(msg: Message) -> dict[str, Any]:
    """An App Home view (views.publish): up to 100 blocks, no title or buttons of its own."""
    return {"type": "home", "blocks": _blocks(msg, MAX_VIEW_BLOCKS) or [block(Block("section"))]}


def _input(field: Field) -> dict[str, Any]:
    if field.options:

        def option(o: Option) -> dict[str, Any]:
            return {"text": _plain(o.label, OPTION_TEXT), "value": o.value[:150]}

        element: dict[str, Any] = {
            "type": "multi_static_select" if field.multiple else "static_select",
            "action_id": field.name,
            "options": [option(o) for o in field.options[:100]],
        }
        initial = next((o for o in field.options if o.value == field.initial), None)
        if initial:
            if field.multiple:
                element["initial_options"] = [option(initial)]
            else:
                element["initial_option"] = option(initial)
    elif field.kind == "datetime":
        element = {"type": "datetimepicker", "action_id": field.name}
    elif field.kind == "people":  # Slack's people picker: the workspace's members
        element = {"type": "multi_users_select", "action_id": field.name}
    else:
        element = {
            "type": "plain_text_input",
            "action_id": field.name,
            "multiline": field.multiline,
        }
        if field.max_length:
            element["max_length"] = min(field.max_length, 3000)
        if field.initial:
            element["initial_value"] = field.initial
    if field.placeholder:
        element["placeholder"] = _plain(field.placeholder, PLACEHOLDER)
    return {
        "type": "input",
        "block_id": field.name,
        "label": _plain(field.label, LABEL),
        "optional": field.optional,
        "element": element,
    }


REPLY_TO = (
    "techhelp:reply_to"  # a modal's metadata: the form's context and the click's reply address
)


def metadata(form: Form, reply_to: str | None) -> str:
    """The modal's private metadata: the form's context, and, for a form whose submit replaces
    the message it was opened from (`Form.replaces_message`), the response_url of the click
    that opened it (valid for half an hour), when both fit."""
    if form.replaces_message and reply_to:
        both = json.dumps({REPLY_TO: reply_to, "context": form.context})
        if len(both) <= PRIVATE_METADATA:
            return both
    return form.context[:PRIVATE_METADATA]


def from_metadata(raw: str) -> tuple[str, str | None]:
    """(the form's context, the reply address of the click that opened it, if it travels)."""
    if raw.startswith("{") and REPLY_TO in raw:
        try:
            both = json.loads(raw)
        except ValueError:
            return raw, None
        if isinstance(both, dict) and isinstance(both.get(REPLY_TO), str):
            return str(both.get("context") or ""), both[REPLY_TO]
    return raw, None


def view(form: Form, *, reply_to: str | None = None) -> dict[str, Any]:
    """A modal of the form; `reply_to`: the response_url of the click that opened it."""
    blocks = [{"type": "section", "text": _mrkdwn(form.intro)}] if form.intro else []
    blocks += [_input(f) for f in form.fields]
    return {
        "type": "modal",
        "callback_id": form.form_id[:ID],
        "title": _plain(form.title, MODAL_TITLE),
        "submit": _plain(form.submit, MODAL_BUTTON),
        "close": _plain("Cancel", MODAL_BUTTON),
        "private_metadata": metadata(form, reply_to),
        "blocks": blocks,
    }


def done_view(title: str, notice: str) -> dict[str, Any]:
    """What a submitted modal becomes when its form says what it did (`CloseForm.notice`): the
    same title, the notice, and Done (Slack's `response_action: update` of the view)."""
    return {
        "type": "modal",
        "title": _plain(title or "Done", MODAL_TITLE),
        "close": _plain("Done", MODAL_BUTTON),
        "blocks": [{"type": "section", "text": _mrkdwn(notice)}],
    }
