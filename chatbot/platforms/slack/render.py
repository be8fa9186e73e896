"""Neutral messages and forms → Block Kit, within Slack's limits (truncation happens here)."""

from __future__ import annotations

from typing import Any

from chatbot.messages import Block, Button, Field, Form, Message, Option
from chatbot.text import cut

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


def _mrkdwn(text: str, limit: int = SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": cut(text, limit) or " ", "verbatim": True}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": cut(text, limit) or " ", "emoji": True}


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
        return {"type": "header", "text": _plain(item.text, HEADER_TEXT)}
    if item.kind == "divider":
        return {"type": "divider"}
    if item.kind == "context":
        return {"type": "context", "elements": [_mrkdwn(item.text)]}
    if item.kind == "actions":
        return {"type": "actions", "elements": [_button(b) for b in item.buttons[:MAX_ACTIONS]]}
    section: dict[str, Any] = {"type": "section", "text": _mrkdwn(item.text)}
    if item.fields:
        section["fields"] = [_mrkdwn(f, FIELD_TEXT) for f in item.fields[:MAX_FIELDS]]
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
    return {"text": cut(msg.text, FALLBACK_TEXT), "blocks": _blocks(msg, MAX_BLOCKS)}


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


def view(form: Form) -> dict[str, Any]:
    blocks = [{"type": "section", "text": _mrkdwn(form.intro)}] if form.intro else []
    blocks += [_input(f) for f in form.fields]
    return {
        "type": "modal",
        "callback_id": form.form_id[:ID],
        "title": _plain(form.title, MODAL_TITLE),
        "submit": _plain(form.submit, MODAL_BUTTON),
        "close": _plain("Cancel", MODAL_BUTTON),
        "private_metadata": form.context[:PRIVATE_METADATA],
        "blocks": blocks,
    }
