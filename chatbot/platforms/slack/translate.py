"""Bolt payloads → neutral events. Slack formatting in typed text becomes plain text here, so the
core stores what the person meant and escapes it again whenever it is shown."""

from __future__ import annotations

import html
import re
from typing import Any

from chatbot.bot import Event

PLATFORM = "slack"
_ENTITY = re.compile(r"<([@#!])([^>|]*)(?:\|([^>]*))?>|<([^>|]+)(?:\|([^>]*))?>")


def plain_text(text: str) -> str:
    """`<@U1|ann>` → `@ann`, `<!channel>` → `@channel`, `<https://x|label>` → `label (https://x)`,
    then Slack's `&amp; &lt; &gt;` back to characters."""
    return plain_text_and_mentions(text)[0]


def plain_text_and_mentions(text: str) -> tuple[str, dict[str, str]]:
    """The plain text, and the people it mentions: `@ann` as it now reads → `U1`."""
    mentions: dict[str, str] = {}

    def replace(match: re.Match[str]) -> str:
        sigil, ident, label, url, url_label = match.groups()
        if sigil == "@":
            mentions[f"@{label or ident}"] = ident
            return f"@{label or ident}"
        if sigil == "#":
            return f"#{label or ident}"
        if sigil == "!":
            return f"@{(label or ident).split('^')[0]}"
        return f"{url_label} ({url})" if url_label else url

    if "<" not in text and "&" not in text:
        return text, mentions
    return html.unescape(_ENTITY.sub(replace, text)), mentions


def command(body: dict[str, Any]) -> Event:
    """A slash command: `/techhelp` is the command "techhelp"."""
    text, mentions = plain_text_and_mentions((body.get("text") or "").strip())
    return Event(
        platform=PLATFORM,
        kind="command",
        name=body.get("command", "").removeprefix("/"),
        user=body.get("user_id", ""),
        user_name=body.get("user_name"),
        key=f"command:{body.get('trigger_id') or body.get('command_ts', '')}",
        text=text,
        channel=body.get("channel_id"),
        mentions=mentions,
    )


def direct_message(body: dict[str, Any]) -> Event | None:
    """A message to the bot in its Messages tab (`message.im`), for the core's grammar; None
    for what is not a person typing: the bot's own posts, edits, joins and other subtypes."""
    event = body.get("event") or {}
    if (
        event.get("channel_type") != "im"
        or event.get("subtype")
        or event.get("bot_id")
        or not event.get("user")
        or not (event.get("text") or "").strip()
    ):
        return None
    text, mentions = plain_text_and_mentions(event["text"].strip())
    return Event(
        platform=PLATFORM,
        kind="message",
        name="",
        user=event["user"],
        key=f"event:{body.get('event_id') or event.get('client_msg_id') or event.get('ts', '')}",
        text=text,
        channel=event.get("channel"),
        mentions=mentions,
    )


def action(body: dict[str, Any]) -> Event:
    act = (body.get("actions") or [{}])[0]
    return Event(
        platform=PLATFORM,
        kind="action",
        name=act.get("action_id", ""),
        user=(body.get("user") or {}).get("id", ""),
        key=f"action:{body.get('trigger_id')}:{act.get('action_ts', '')}",
        value=act.get("value") or (act.get("selected_option") or {}).get("value", ""),
        channel=(body.get("channel") or {}).get("id"),
        reply_to=body.get("response_url"),
    )


def form(body: dict[str, Any]) -> Event:
    view = body.get("view") or {}
    values: dict[str, str] = {}
    for block_id, elements in ((view.get("state") or {}).get("values") or {}).items():
        for element in elements.values():
            selected = element.get("selected_option")
            if selected:
                values[block_id] = selected["value"]
            elif element.get("selected_options") is not None:  # a multi-select: one per line
                values[block_id] = "\n".join(o["value"] for o in element["selected_options"])
            elif element.get("selected_date_time") is not None:  # a datetimepicker: Unix seconds
                values[block_id] = str(element["selected_date_time"])
            else:
                values[block_id] = element.get("value") or ""
    return Event(
        platform=PLATFORM,
        kind="form",
        name=view.get("callback_id", ""),
        user=(body.get("user") or {}).get("id", ""),
        key=f"form:{body.get('trigger_id') or view.get('id')}:{view.get('hash', '')}",
        values=values,
        context=view.get("private_metadata", ""),
    )


def home_opened(body: dict[str, Any]) -> Event:
    """`app_home_opened` on the Home tab; the event id makes a retried delivery a duplicate."""
    event = body.get("event") or {}
    return Event(
        platform=PLATFORM,
        kind="event",
        name="home.opened",
        user=event.get("user", ""),
        key=f"event:{body.get('event_id') or event.get('event_ts', '')}",
    )
