"""The Teams platform's parts for a process: the dispatcher, the sender and the endpoint built
from the composed `Bot`, and the roster of the installed teams for `chatbot clock`. The
`chatbot` command calls these, so it never imports the Teams SDK or MSAL itself."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from chatbot.bot import Bot
from chatbot.delivery import SharedPacer
from chatbot.directory import Member
from chatbot.inbox import Inbox
from chatbot.platforms.teams import conversations
from chatbot.platforms.teams.app import Renderer, TeamsApp, build_app
from chatbot.platforms.teams.client import (
    TENANT_RATE,
    BotToken,
    Connector,
    TeamsCallError,
    endpoint,
)
from chatbot.platforms.teams.sender import TeamsSender
from chatbot.platforms.teams.server import TokenValidator, teams_endpoint
from chatbot.web.host import Endpoint

log = logging.getLogger(__name__)
PAGE_SIZE = 200


@dataclass(frozen=True)
class TeamsParts:
    app: TeamsApp
    sender: TeamsSender
    inbox: Inbox  # shared with Slack's when both run; started by the long-running processes
    endpoint: Endpoint  # POST /api/messages

    def members(self) -> Iterator[Member]:
        return roster(self.app.bot, self.sender.api)


def teams_parts(bot: Bot, inbox: Inbox | None = None) -> TeamsParts:
    """The dispatcher, the Teams sender and the endpoint, sharing one configuration. `inbox`:
    the process's inbox (Slack's) to register Teams' replier in; without, one of its own."""
    settings = bot.settings
    # A send must finish well inside its lease, or another worker could take it over mid-flight.
    timeout = max(1.0, min(15.0, settings.delivery_lease_seconds / 2))
    # The tenant's rate is shared by every process on the database, as the posting rate is.
    pacer = SharedPacer(bot.db, "teams", TENANT_RATE)
    connector = Connector(BotToken(settings), timeout=timeout, pacer=pacer)
    renderer = Renderer(bot)
    inbox = inbox if inbox is not None else Inbox(bot, {})
    app = build_app(bot, connector, inbox, renderer)
    cloud = settings.teams_cloud_environment()
    validator = TokenValidator(
        metadata_url=cloud.openid_metadata_url,
        issuer=cloud.token_issuer,
        audience=settings.teams_client_id or "",
    )
    sender = TeamsSender(connector, bot.db, settings)
    return TeamsParts(app=app, sender=sender, inbox=inbox, endpoint=teams_endpoint(app, validator))


def roster(bot: Bot, api: Connector) -> Iterator[Member]:
    """Everyone in the installed teams (the teams come from the stored conversation references),
    each once, page by page (`pagedmembers`; a 429 is waited out)."""
    import time

    with bot.db.sessions() as session:
        installed = [(t.conversation_id, t.service_url) for t in conversations.teams(session)]
    seen: set[str] = set()
    for team, service_url in installed:
        token = ""
        while True:
            path = f"v3/conversations/{team}/pagedmembers?pageSize={PAGE_SIZE}"
            if token:
                from urllib.parse import quote

                path += f"&continuationToken={quote(token, safe='')}"
            try:
                page = api.call("GET", endpoint(service_url, path))
            except TeamsCallError as exc:
                if exc.status != 429:
                    raise
                time.sleep(exc.retry_after or 1)
                continue
            for member in page.get("members") or []:
                user = member.get("aadObjectId")
                if not isinstance(user, str) or not user or user in seen:
                    continue
                seen.add(user)
                yield Member(
                    user_id=user,
                    name=member.get("name") or None,
                    reachable=(member.get("userRole") or "user") != "guest",
                    email=member.get("email") or member.get("userPrincipalName") or None,
                )
            token = page.get("continuationToken") or ""
            if not token:
                break
