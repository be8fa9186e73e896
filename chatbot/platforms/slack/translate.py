"""Bolt payloads → neutral events. Slack formatting in typed text becomes plain text here, so the
core stores what the person meant and escapes it again whenever it is shown."""

from __future__ import annotations

import html
import re
from typing import Any

from chatbot.bot import Event
from chatbot.platforms.slack import render

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
    user, text = _text(event.get("user")), _text(event.get("text")).strip()
    if (
        event.get("channel_type") != "im"
        or event.get("subtype")
        or event.get("bot_id")
        or not _ID.match(user)
        or not text
    ):
        return None
    text, mentions = plain_text_and_mentions(text)
    key = body.get("event_id") or _text(event.get("client_msg_id")) or _text(event.get("ts"))
    return Event(
        platform=PLATFORM,
        kind="message",
        name="",
        user=user,
        key=f"event:{key}",
        text=text,
        channel=_text(event.get("channel")) or None,
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
    context, reply_to = render.from_metadata(str(view.get("private_metadata") or ""))
    values: dict[str, str] = {}
    for block_id, elements in ((view.get("state") or {}).get("values") or {}).items():
        for element in elements.values():
            selected = element.get("selected_option")
            if selected:
                values[block_id] = selected["value"]
            elif element.get("selected_options") is not None:  # a multi-select: one per line
                values[block_id] = "\n".join(o["value"] for o in element["selected_options"])
            elif element.get("selected_users") is not None:  # the people picker: one per line
                values[block_id] = "\n".join(str(u) for u in element["selected_users"])
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
        context=context,
        reply_to=reply_to,
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


# --- what a payload must hold before Bolt or the core sees it ----------------------------------

_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Either text, or an object whose `id` is text (Bolt reads both forms).
_OWNERS = ("enterprise", "team", "user", "channel")
_TEXT = (
    "type",
    "command",
    "text",
    "user_id",
    "team_id",
    "channel_id",
    "enterprise_id",
    "trigger_id",
    "response_url",
    "thread_ts",
    "event_id",
    "event_ts",
    "callback_id",
    "private_metadata",
    "hash",
    "app_installed_team_id",
    "function_execution_id",
    "bot_access_token",
    "tab",
    "challenge",
)
_NESTED = (
    "event",
    "message",
    "previous_message",
    "item",
    "assistant_thread",
    "function_data",
    "container",
    "view",
    "state",
)
HANDLED = ("block_actions", "view_submission", "view_closed", "event_callback")


def problem(body: Any) -> str | None:
    """What makes a parsed Slack payload unusable (a short reason), or None. Checked before
    Bolt routes it, so a payload of the wrong shape is refused instead of failing a listener;
    every payload that reaches the core names the person it comes from."""
    if not isinstance(body, dict):
        return "payload is not an object"
    shape = _shape(body, depth=0)
    if shape:
        return shape
    kind = body.get("type")
    if kind is None and "command" in body:
        if not (body["command"] or "").startswith("/"):
            return "command is not a slash command"
        return None if _ID.match(body.get("user_id") or "") else "no user_id"
    if kind is None and body.get("ssl_check") == "1":
        return None
    if kind == "url_verification":
        return None if isinstance(body.get("challenge"), str) else "no challenge"
    if kind not in HANDLED:
        return "unsupported payload type"
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return "event is not an object with a type"
        if event["type"] == "app_home_opened" and not _ID.match(_text(event.get("user"))):
            return "event without user"
        return None
    user = body.get("user")
    if not isinstance(user, dict) or not _ID.match(_text(user.get("id"))):
        return "no user"
    if kind == "block_actions":
        return _actions_problem(body.get("actions"))
    view = body.get("view")
    if not isinstance(view, dict) or not all(
        isinstance(view.get(key), str) for key in ("type", "callback_id")
    ):
        return "view without type or callback_id"
    return _values_problem(((view.get("state") or {}).get("values")) or {})


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _shape(obj: dict[str, Any], depth: int) -> str | None:
    for key in _OWNERS:
        value = obj.get(key)
        if value is None or isinstance(value, str):
            continue
        if not isinstance(value, dict):
            return f"{key} is neither text nor an object"
        for inner in ("id", "team_id", "enterprise_id"):
            if not isinstance(value.get(inner), str | None):
                return f"{key}.{inner} is not text"
    for key in _TEXT:
        if not isinstance(obj.get(key), str | None):
            return f"{key} is not text"
    for key in _NESTED:
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            return f"{key} is not an object"
        if depth < 4:
            nested = _shape(value, depth + 1)
            if nested:
                return f"{key}.{nested}"
    for key in ("authorizations", "response_urls"):
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            return f"{key} is not a list of objects"
        if value and depth < 4:
            nested = _shape(value[0], depth + 1)
            if nested:
                return f"{key}.{nested}"
    if obj.get("is_ext_shared_channel") is True and not isinstance(obj.get("event"), dict | None):
        return "event is not an object"
    return None


def _actions_problem(actions: Any) -> str | None:
    if not isinstance(actions, list) or not actions:
        return "no actions"
    for act in actions:
        if not isinstance(act, dict) or not isinstance(act.get("action_id"), str):
            return "action without action_id"
        for key in ("value", "action_ts", "block_id", "type"):
            if not isinstance(act.get(key), str | None):
                return f"action {key} is not text"
        option = act.get("selected_option")
        if option is not None and not (
            isinstance(option, dict) and isinstance(option.get("value"), str)
        ):
            return "selected_option without value"
    return None


def _values_problem(values: Any) -> str | None:
    if not isinstance(values, dict):
        return "state.values is not an object"
    for elements in values.values():
        if not isinstance(elements, dict):
            return "state block is not an object"
        for element in elements.values():
            if not isinstance(element, dict):
                return "state element is not an object"
            option = element.get("selected_option")
            if option is not None and not (
                isinstance(option, dict) and isinstance(option.get("value"), str)
            ):
                return "selected_option without value"
            options = element.get("selected_options")
            if options is not None and not (
                isinstance(options, list)
                and all(isinstance(o, dict) and isinstance(o.get("value"), str) for o in options)
            ):
                return "selected_options without values"
            stamp = element.get("selected_date_time")
            if stamp is not None and (isinstance(stamp, bool) or not isinstance(stamp, int)):
                return "selected_date_time is not a number"
            if not isinstance(element.get("value"), str | None):
                return "value is not text"
    return None
