"""Bot Framework activities → neutral events, parsed with the Teams SDK's activity models
(`microsoft_teams.api.activities`). Teams' HTML-ish message text becomes plain text here
(entities decoded, the bot's own `<at>` mention removed, other people's `<at>` kept as `@Name`
in `Event.mentions`), so the core stores what the person meant and escapes it again whenever it
is shown. A person is their Entra object id (`from.aadObjectId`).

Every event's key comes from the activity's id (within its conversation): Teams redelivers an
activity with the same id, and the core's interaction log then runs nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from typing import Any

from microsoft_teams.api.activities import ActivityTypeAdapter
from pydantic import ValidationError

from chatbot.bot import Event

PLATFORM = "teams"
CARD_ACTION = "adaptiveCard/action"
FORM_SUBMIT = "form.submit"  # the verb of a form card's submit button (render.form_card)
INSTALLED = "app.installed"  # the event of a personal install, for the core's welcome
HANDLED = ("message", "invoke", "conversationUpdate", "installationUpdate")


class BadActivity(ValueError):
    """The activity is not one the bot can use (a short reason, safe to log)."""


@dataclass(frozen=True)
class Reference:
    """A conversation reference to keep (`teams_conversations`): what a proactive message to
    this person, channel or team needs."""

    kind: str  # person | channel | team
    ref: str  # aadObjectId | channel conversation id | team id
    conversation_id: str
    service_url: str
    tenant_id: str | None = None
    user_id: str | None = None  # a person's Bot Framework id (29:…)
    name: str | None = None
    installed: bool = True


@dataclass(frozen=True)
class Inbound:
    """What an activity means: an event for the core (or none), the references it carries, and
    whether it is an invoke answered in the HTTP response."""

    event: Event | None
    references: tuple[Reference, ...] = ()
    invoke: bool = False
    # `<at>` mentions of people by their Bot Framework id, resolved by the app (stored refs).
    unresolved: dict[str, str] = field(default_factory=dict)


def parse(activity: dict[str, Any]) -> Inbound:
    """The activity's meaning; raises `BadActivity` for one the bot cannot use."""
    kind = activity.get("type")
    if kind not in HANDLED:
        return Inbound(None)
    if kind == "invoke" and activity.get("name") != CARD_ACTION:
        return Inbound(None, invoke=True)
    try:
        parsed = ActivityTypeAdapter.validate_python(activity)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"][1:]) if exc.errors() else ""
        raise BadActivity(f"{kind} activity does not parse ({where[:80]})") from exc
    if not isinstance(activity.get("id"), str) or not activity["id"]:
        raise BadActivity("activity without id")
    service_url = parsed.service_url
    if not isinstance(service_url, str) or not service_url.startswith("https://"):
        raise BadActivity("activity without an https serviceUrl")
    if kind == "message":
        return _message(parsed, activity, service_url)
    if kind == "invoke":
        return _invoke(parsed, activity, service_url)
    return _installation(parsed, activity, service_url)


def key_of(activity: dict[str, Any]) -> str:
    """The event key: the activity id within its conversation (ids repeat across them)."""
    conversation = str((activity.get("conversation") or {}).get("id", ""))
    digest = hashlib.sha256(conversation.encode()).hexdigest()[:16]
    return f"activity:{digest}:{str(activity.get('id'))[:200]}"


def _person(parsed: Any) -> str:
    person = parsed.from_
    user = person.aad_object_id if person is not None else None
    if not user or not _ID.match(user):
        raise BadActivity("activity without from.aadObjectId")
    return user


def _tenant(parsed: Any) -> str | None:
    data = parsed.channel_data
    if data is not None and data.tenant is not None and data.tenant.id:
        return data.tenant.id
    return parsed.conversation.tenant_id


def _channel_of(parsed: Any) -> str:
    """The channel's conversation id (a channel message's is `<channel>;messageid=…`)."""
    data = parsed.channel_data
    if data is not None and data.channel is not None and data.channel.id:
        return str(data.channel.id)
    return str(parsed.conversation.id).split(";", 1)[0]


def _person_reference(parsed: Any, service_url: str) -> Reference | None:
    """A personal conversation names the person's 1:1 conversation with the bot."""
    if parsed.conversation.conversation_type != "personal" or parsed.from_ is None:
        return None
    if not parsed.from_.aad_object_id:
        return None
    return Reference(
        kind="person",
        ref=parsed.from_.aad_object_id,
        conversation_id=parsed.conversation.id,
        service_url=service_url,
        tenant_id=_tenant(parsed),
        user_id=parsed.from_.id,
        name=parsed.from_.name,
    )


def _message(parsed: Any, activity: dict[str, Any], service_url: str) -> Inbound:
    user = _person(parsed)
    personal = parsed.conversation.conversation_type == "personal"
    bot_id = parsed.recipient.id if parsed.recipient is not None else None
    text, mentions, by_bf_id, to_bot = _text_and_mentions(
        parsed.text or "", parsed.entities or [], bot_id
    )
    references = tuple(r for r in (_person_reference(parsed, service_url),) if r)
    if not personal and not to_bot:
        # A channel or group message reaches the bot only when it is @mentioned; anything else
        # (a reply in a thread the bot posted, say) is not addressed to it.
        return Inbound(None, references)
    if not text.strip():
        return Inbound(None, references)
    event = Event(
        platform=PLATFORM,
        kind="message",
        name="",
        user=user,
        user_name=parsed.from_.name,
        key=key_of(activity),
        text=text.strip(),
        channel=parsed.conversation.id if personal else _channel_of(parsed),
        mentions=mentions,
    )
    return Inbound(event, references, unresolved=by_bf_id)


def _invoke(parsed: Any, activity: dict[str, Any], service_url: str) -> Inbound:
    user = _person(parsed)
    action = parsed.value.action
    verb = action.verb or ""
    data = action.data if isinstance(action.data, dict) else {}
    conversation = parsed.conversation.id
    reply_to = json.dumps(
        {
            "conversation": conversation,
            "activity": parsed.reply_to_id or "",
            "service_url": service_url,
        }
    )
    common = {
        "platform": PLATFORM,
        "user": user,
        "user_name": parsed.from_.name,
        "key": key_of(activity),
        "channel": conversation
        if parsed.conversation.conversation_type == "personal"
        else _channel_of(parsed),
        "reply_to": reply_to,
    }
    references = tuple(r for r in (_person_reference(parsed, service_url),) if r)
    if verb == FORM_SUBMIT:
        event = Event(
            kind="form",
            name=str(data.get("_form", "")),
            values=form_values(data),
            context=str(data.get("_context", "")),
            **common,
        )
    else:
        value = data.get("_value", "")
        event = Event(
            kind="action",
            name=verb,
            value=value if isinstance(value, str) else json.dumps(value),
            **common,
        )
    if not event.name:
        raise BadActivity("card action without verb")
    return Inbound(event, references, invoke=True)


def form_values(data: dict[str, Any]) -> dict[str, str]:
    """A form card's inputs as the core reads a form: a multiple choice one value per line, a
    date and time (`<name>.date`, `<name>.time`) as `YYYY-MM-DD HH:MM`."""
    multiple = set(_names(data.get("_multiple")))
    datetimes = set(_names(data.get("_datetime")))
    values: dict[str, str] = {}
    for name, raw in data.items():
        if name.startswith("_") or not isinstance(name, str):
            continue
        base, _, part = name.rpartition(".")
        if base in datetimes and part in ("date", "time"):
            continue
        value = raw if isinstance(raw, str) else "" if raw is None else str(raw)
        if name in multiple:
            value = "\n".join(v.strip() for v in value.split(",") if v.strip())
        values[name] = value
    for name in datetimes:
        date = str(data.get(f"{name}.date") or "").strip()
        time = str(data.get(f"{name}.time") or "").strip()[:5]
        values[name] = f"{date} {time or '00:00'}" if date else ""
    return values


def _names(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _installation(parsed: Any, activity: dict[str, Any], service_url: str) -> Inbound:
    """`installationUpdate` (the app added or removed) and `conversationUpdate` (members added
    or removed): the references for proactive messages; a personal install is also an event
    for the core (`app.installed`: the person's welcome)."""
    conversation = parsed.conversation
    tenant = _tenant(parsed)
    bot_id = parsed.recipient.id if parsed.recipient is not None else None
    if activity["type"] == "installationUpdate":
        installed = str(getattr(parsed, "action", "") or "").startswith("add")
    else:
        added = [m.id for m in (getattr(parsed, "members_added", None) or [])]
        removed = [m.id for m in (getattr(parsed, "members_removed", None) or [])]
        if bot_id in removed:
            installed = False
        elif bot_id in added:
            installed = True
        else:
            return _members(parsed, conversation, service_url, tenant, added)
    references: list[Reference] = []
    event: Event | None = None
    if conversation.conversation_type == "personal":
        person = _person_reference(parsed, service_url)
        if person is not None:
            references.append(replace(person, installed=installed))
            if installed and activity["type"] == "installationUpdate":
                event = Event(
                    platform=PLATFORM,
                    kind="event",
                    name=INSTALLED,
                    user=person.ref,
                    user_name=person.name,
                    key=key_of(activity),
                    channel=conversation.id,
                )
    elif conversation.conversation_type == "channel":
        data = parsed.channel_data
        team = data.team if data is not None else None
        if team is not None and team.id:
            references.append(
                Reference(
                    kind="team",
                    ref=team.id,
                    conversation_id=team.id,
                    service_url=service_url,
                    tenant_id=tenant,
                    name=team.name,
                    installed=installed,
                )
            )
        channel = _channel_of(parsed)
        references.append(
            Reference(
                kind="channel",
                ref=channel,
                conversation_id=channel,
                service_url=service_url,
                tenant_id=tenant,
                installed=installed,
            )
        )
    return Inbound(event, tuple(references))


def _members(
    parsed: Any, conversation: Any, service_url: str, tenant: str | None, added: list[str]
) -> Inbound:
    """People added to a personal conversation: their reference (the person's own install)."""
    if conversation.conversation_type != "personal" or not added:
        return Inbound(None)
    person = _person_reference(parsed, service_url)
    return Inbound(None, (person,) if person else ())


# --- text -------------------------------------------------------------------------------------

_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
_AT = re.compile(r"<at\b[^>]*>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_LOOKS_HTML = re.compile(r"</?[A-Za-z][^>]*>|&(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);")


def _text_and_mentions(
    text: str, entities: list[Any], bot_id: str | None
) -> tuple[str, dict[str, str], dict[str, str], bool]:
    """(plain text, mentions by aadObjectId, mentions by Bot Framework id only, whether the
    bot was mentioned). The bot's own mention is removed; anyone else's reads `@Name`."""
    mentioned: dict[str, Any] = {}
    for entity in entities:
        if getattr(entity, "type", None) == "mention" and getattr(entity, "mentioned", None):
            tag = getattr(entity, "text", None) or ""
            inner = _AT.fullmatch(tag.strip())
            name = _plain(inner.group(1) if inner else entity.mentioned.name or "")
            mentioned[name] = entity.mentioned
    mentions: dict[str, str] = {}
    unresolved: dict[str, str] = {}
    to_bot = False

    def replace(match: re.Match[str]) -> str:
        nonlocal to_bot
        name = _plain(match.group(1))
        who = mentioned.get(name)
        if who is not None and bot_id and who.id == bot_id:
            to_bot = True
            return ""
        label = f"@{name}"
        if who is not None:
            if who.aad_object_id:
                mentions[label] = who.aad_object_id
            elif who.id:
                unresolved[label] = who.id
        return label

    without = _AT.sub(replace, text)
    return _plain(without), mentions, unresolved, to_bot


class _Text(HTMLParser):
    """Teams' message HTML as the plain text a person sees: paragraphs and breaks as new lines,
    a link as `label (url)`, every other tag dropped, entities decoded."""

    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.href: list[str | None] = []
        self.link_start: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag == "a":
            self.href.append(dict(attrs).get("href"))
            self.link_start.append(len(self.parts))
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(alt)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.href:
            href, start = self.href.pop(), self.link_start.pop()
            label = "".join(self.parts[start:]).strip()
            if href and href != label and not href.startswith("mailto:" + label):
                self.parts.append(f" ({href})")
        elif tag in self.BLOCKS and tag not in ("br", "li"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _plain(text: str) -> str:
    if not _LOOKS_HTML.search(text):
        return text
    parser = _Text()
    parser.feed(text)
    parser.close()
    plain = "".join(parser.parts).replace("\xa0", " ")
    lines = [line.strip() for line in plain.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
