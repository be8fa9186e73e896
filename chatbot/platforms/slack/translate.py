"""Bolt payloads → neutral events. Slack formatting in typed text becomes plain text here, so the
core stores what the person meant and escapes it again whenever it is shown."""

from __future__ import annotations

import html
import re
from typing import Any

from chatbot.bot import Event

PLATFORM = "slack"
_ON_BEHALF = re.compile(r"^for\s+<@([UW][A-Z0-9]+)(?:\|[^>]*)?>\s*", re.IGNORECASE)
_ENTITY = re.compile(r"<([@#!])([^>|]*)(?:\|([^>]*))?>|<([^>|]+)(?:\|([^>]*))?>")


def plain_text(text: str) -> str:
    """`<@U1|ann>` → `@ann`, `<!channel>` → `@channel`, `<https://x|label>` → `label (https://x)`,
    then Slack's `&amp; &lt; &gt;` back to characters."""

    def replace(match: re.Match[str]) -> str:
        sigil, ident, label, url, url_label = match.groups()
        if sigil == "@":
            return f"@{label or ident}"
        if sigil == "#":
            return f"#{label or ident}"
        if sigil == "!":
            return f"@{(label or ident).split('^')[0]}"
        return f"{url_label} ({url})" if url_label else url

    return html.unescape(_ENTITY.sub(replace, text)) if "<" in text or "&" in text else text


def command(body: dict[str, Any]) -> Event:
    raw = (body.get("text") or "").strip()
    # "/techhelp for <@U1|ann> via phone …": keep that person's id, the rest becomes plain text.
    on_behalf = _ON_BEHALF.match(raw)
    if on_behalf:
        text = f"for @{on_behalf[1]} " + plain_text(raw[on_behalf.end() :])
    else:
        text = plain_text(raw)
    return Event(
        platform=PLATFORM,
        kind="command",
        name=body.get("command", ""),
        user=body.get("user_id", ""),
        user_name=body.get("user_name"),
        key=f"command:{body.get('trigger_id') or body.get('command_ts', '')}",
        text=text,
        channel=body.get("channel_id"),
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
