"""What a message looks like on Slack, for tests that build it at the core: the core keeps
neutral markup, and what people see (and what these tests check) is the rendered text."""

from __future__ import annotations

import json
from typing import Any

from chatbot.messages import Block, Message
from chatbot.platforms.slack import render


def _message(message: Message | dict[str, Any]) -> Message:
    return message if isinstance(message, Message) else Message.from_json(message)


def slack_json(message: Message | dict[str, Any]) -> str:
    """The text and blocks Slack receives, as one string to search."""
    payload = render.message(_message(message))
    return payload["text"] + "\n" + json.dumps(payload["blocks"], ensure_ascii=False)


def slack_blocks(blocks: tuple[Block, ...]) -> str:
    return slack_json(Message(text="", blocks=blocks))


def slack_texts(message: Message | dict[str, Any]) -> str:
    """Each block's text as Slack shows it (mrkdwn), one per line."""
    texts = []
    for block in render.message(_message(message))["blocks"]:
        text = block.get("text") or (block.get("elements") or [{}])[0]
        texts.append(text.get("text", "") if isinstance(text, dict) else "")
        texts.extend(field["text"] for field in block.get("fields", ()))
    return "\n".join(texts)
