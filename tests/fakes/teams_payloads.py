"""Inbound Teams activities as the Bot Connector delivers them to a bot's /api/messages: a message
in a personal chat, a channel message that @mentions the bot, an Adaptive Card `Action.Execute`
click (`invoke` adaptiveCard/action), conversationUpdate (members added) and installationUpdate.

Each builder takes the fake (`FakeTeams`, or anything with service_url, tenant_id, client_id) for
the serviceUrl, tenant and bot ids, and gives every activity a unique `id`. People come from
`person(n)` (or a roster member dict): `id` "29:…", `aadObjectId` (the account id TechHelp keeps),
`name`. Post them with `fake.post_activity(bot_url, activity)`.
"""

from __future__ import annotations

import hashlib
import itertools
import time
import uuid
from typing import Any, Protocol

Body = dict[str, Any]
BOT_NAME = "TechHelp"
TEAM_ID = "19:techhelp-team@thread.tacv2"  # the installed team (its General channel's id)
CHANNEL_ID = TEAM_ID  # the team's General channel
_ids = itertools.count(int(time.time() * 1000) * 1000)


class Endpoint(Protocol):
    service_url: str
    tenant_id: str
    client_id: str


def next_id() -> str:
    """A unique activity id (Teams uses millisecond timestamps; these never repeat)."""
    return str(next(_ids))


def person(n: int | str, *, name: str | None = None, tenant_id: str | None = None) -> Body:
    """Person number `n` (or with a name as its seed): a roster member as pagedmembers lists it.
    The same `n` always gives the same ids."""
    seed = hashlib.sha256(str(n).encode()).hexdigest()
    label = name or (f"Person {n}" if isinstance(n, int) else str(n).title())
    local = label.lower().replace(" ", ".")
    member: Body = {
        "id": f"29:1{seed[:40]}",
        "name": label,
        "aadObjectId": str(uuid.UUID(seed[:32])),
        "givenName": label.split(" ")[0],
        "surname": label.split(" ")[-1],
        "email": f"{local}@example.org",
        "userPrincipalName": f"{local}@example.org",
        "userRole": "user",
    }
    if tenant_id:
        member["tenantId"] = tenant_id
    return member


def roster(count: int, *, tenant_id: str | None = None) -> list[Body]:
    """`count` people, person(1) .. person(count)."""
    return [person(i, tenant_id=tenant_id) for i in range(1, count + 1)]


def personal_conversation_id(fake: Endpoint, who: Body) -> str:
    """The 1:1 conversation id Teams gives this person and bot (stable, as in Teams)."""
    key = str(who.get("aadObjectId") or who["id"])
    return "a:1" + hashlib.sha256(f"28:{fake.client_id}|{key}".encode()).hexdigest()[:40]


def _from(who: Body) -> Body:
    return {"id": who["id"], "name": who.get("name", ""), "aadObjectId": who.get("aadObjectId")}


def _base(fake: Endpoint, kind: str, who: Body, conversation: Body) -> Body:
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
    return {
        "type": kind,
        "id": next_id(),
        "timestamp": stamp,
        "localTimestamp": stamp,
        "serviceUrl": fake.service_url,
        "channelId": "msteams",
        "from": _from(who),
        "conversation": {"tenantId": fake.tenant_id, **conversation},
        "recipient": {"id": f"28:{fake.client_id}", "name": BOT_NAME},
        "locale": "en-US",
        "channelData": {"tenant": {"id": fake.tenant_id}},
    }


def _personal(fake: Endpoint, who: Body, conversation_id: str | None) -> Body:
    return {
        "conversationType": "personal",
        "id": conversation_id or personal_conversation_id(fake, who),
    }


def _channel_data(fake: Endpoint, channel_id: str, team_id: str) -> Body:
    return {
        "teamsChannelId": channel_id,
        "teamsTeamId": team_id,
        "channel": {"id": channel_id, "name": "General" if channel_id == team_id else "IT"},
        "team": {
            "id": team_id,
            "name": "Contoso",
            "aadGroupId": str(uuid.uuid5(uuid.NAMESPACE_URL, team_id)),
        },
        "tenant": {"id": fake.tenant_id},
    }


def personal_message(
    fake: Endpoint, who: Body, text: str, *, conversation_id: str | None = None
) -> Body:
    """A person writes to the bot in their 1:1 chat."""
    activity = _base(fake, "message", who, _personal(fake, who, conversation_id))
    activity |= {"text": text, "textFormat": "plain", "attachments": []}
    return activity


def channel_message(
    fake: Endpoint,
    who: Body,
    text: str,
    *,
    channel_id: str = CHANNEL_ID,
    team_id: str = TEAM_ID,
    reply_to: str | None = None,
    mention: bool = True,
) -> Body:
    """A person posts in a channel, @mentioning the bot (`<at>TechHelp</at> text`): a new post, or
    a reply in the thread of `reply_to` (the root's id)."""
    activity_id = next_id()
    root = reply_to or activity_id
    activity = _base(
        fake,
        "message",
        who,
        {
            "conversationType": "channel",
            "isGroup": True,
            "id": f"{channel_id};messageid={root}",
            "name": None,
        },
    )
    tag = f"<at>{BOT_NAME}</at>"
    activity |= {
        "id": activity_id,
        "text": f"{tag} {text}" if mention else text,
        "textFormat": "plain",
        "attachments": [
            {"contentType": "text/html", "content": f"<p>{tag if mention else ''} {text}</p>"}
        ],
        "entities": [
            {
                "type": "mention",
                "text": tag,
                "mentioned": {"id": f"28:{fake.client_id}", "name": BOT_NAME},
            }
        ]
        if mention
        else [],
        "channelData": _channel_data(fake, channel_id, team_id),
    }
    if reply_to:
        activity["replyToId"] = reply_to
    return activity


def card_action(
    fake: Endpoint,
    who: Body,
    verb: str,
    data: Body | None = None,
    *,
    reply_to_id: str,
    conversation_id: str | None = None,
    channel_id: str | None = None,
    team_id: str = TEAM_ID,
) -> Body:
    """A person clicks an `Action.Execute` button on the card posted as activity `reply_to_id`
    (in their 1:1 chat, or in `channel_id`'s thread of that card). Teams merges the card's
    inputs into `data`."""
    if channel_id:
        conversation: Body = {
            "conversationType": "channel",
            "isGroup": True,
            "id": conversation_id or f"{channel_id};messageid={reply_to_id}",
        }
    else:
        conversation = _personal(fake, who, conversation_id)
    activity = _base(fake, "invoke", who, conversation)
    activity |= {
        "name": "adaptiveCard/action",
        "replyToId": reply_to_id,
        "value": {
            "action": {"type": "Action.Execute", "verb": verb, "data": dict(data or {})},
            "trigger": "manual",
        },
    }
    if channel_id:
        activity["channelData"] = _channel_data(fake, channel_id, team_id)
    return activity


def members_added(
    fake: Endpoint,
    members: list[Body],
    *,
    who: Body | None = None,
    team_id: str | None = TEAM_ID,
    include_bot: bool = False,
) -> Body:
    """conversationUpdate: `members` (and the bot, with `include_bot`) joined the team, or the
    1:1 chat of `members[0]` when `team_id` is None."""
    actor = who or (members[0] if members else {"id": "29:1admin", "name": "Admin"})
    added = [_from(m) for m in members]
    if include_bot:
        added.append({"id": f"28:{fake.client_id}"})
    if team_id:
        conversation: Body = {"conversationType": "channel", "isGroup": True, "id": team_id}
        channel_data = _channel_data(fake, team_id, team_id) | {"eventType": "teamMemberAdded"}
    else:
        conversation = _personal(fake, actor, None)
        channel_data = {"tenant": {"id": fake.tenant_id}}
    activity = _base(fake, "conversationUpdate", actor, conversation)
    activity |= {"membersAdded": added, "channelData": channel_data}
    return activity


def installation_update(
    fake: Endpoint,
    who: Body,
    *,
    action: str = "add",
    team_id: str | None = None,
) -> Body:
    """installationUpdate: `who` installed (action "add") or removed ("remove") the app, in
    their personal scope, or in the team `team_id`."""
    if team_id:
        conversation: Body = {"conversationType": "channel", "isGroup": True, "id": team_id}
        channel_data = _channel_data(fake, team_id, team_id) | {"source": {"name": "message"}}
    else:
        conversation = _personal(fake, who, None)
        channel_data = {"tenant": {"id": fake.tenant_id}, "source": {"name": "message"}}
    activity = _base(fake, "installationUpdate", who, conversation)
    activity |= {"action": action, "channelData": channel_data}
    return activity
