"""Driving a `chatbot serve` as Teams people would, through the fake Microsoft side: send a
message as a person, click a button seen in a conversation, read what a conversation shows.
Platform-neutral enough for the parity test (the same scenario on Slack and Teams)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from tests.conftest import TEAMS_TRIAGE, Server
from tests.fakes.teams import FakeTeams
from tests.fakes.teams_payloads import (
    card_action,
    channel_message,
    installation_update,
    members_added,
    person,
    personal_conversation_id,
    personal_message,
)

Body = dict[str, Any]

ADMIN = person("admin", name="Ada Admin")
ALICE = person("alice", name="Alice Ames")
BOB = person("bob", name="Bob Burns")


class TeamsDriver:
    def __init__(self, server: Server, fake: FakeTeams) -> None:
        self.server = server
        self.fake = fake

    @property
    def url(self) -> str:
        return self.server.url

    # --- acting as people -----------------------------------------------------------------

    def post(self, activity: Body, **kwargs: Any) -> httpx.Response:
        return self.fake.post_activity(self.url, activity, **kwargs)

    def say(self, who: Body, text: str, **kwargs: Any) -> httpx.Response:
        """`who` writes `text` to the bot in their 1:1 chat."""
        return self.post(personal_message(self.fake, who, text), **kwargs)

    def say_in_channel(self, who: Body, text: str, **kwargs: Any) -> httpx.Response:
        """`who` @mentions the bot in the team's General channel."""
        return self.post(channel_message(self.fake, who, text), **kwargs)

    def install(self, *people: Body) -> None:
        """The app installed in the team (its roster: `people`) and for each person."""
        self.fake.members[:] = [*people]
        added = members_added(self.fake, [], who=people[0], include_bot=True)
        assert self.post(added).status_code == 200
        for who in people:
            assert self.post(installation_update(self.fake, who)).status_code == 200

    def click(
        self,
        who: Body,
        label: str,
        *,
        conversation: str,
        inputs: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """`who` presses the newest button titled `label` in `conversation` (a channel id, or a
        1:1 conversation id), with `inputs` typed into the card's inputs."""
        message, action = self.button(conversation, label)
        data = dict(action.get("data") or {}) | dict(inputs or {})
        channel = conversation if conversation.startswith("19:") else None
        activity = card_action(
            self.fake,
            who,
            str(action["verb"]),
            data,
            reply_to_id=str(message["id"]),
            conversation_id=None if channel else conversation,
            channel_id=channel,
        )
        return self.post(activity, **kwargs)

    def submit(
        self,
        who: Body,
        action: Body,
        inputs: dict[str, str],
        *,
        conversation: str,
        message_id: str,
        **kwargs: Any,
    ) -> httpx.Response:
        """`who` submits a form card (an invoke's answer) opened from message `message_id`:
        Teams merges the inputs' values into the submit action's data."""
        channel = conversation if conversation.startswith("19:") else None
        activity = card_action(
            self.fake,
            who,
            str(action["verb"]),
            dict(action.get("data") or {}) | inputs,
            reply_to_id=message_id,
            conversation_id=None if channel else conversation,
            channel_id=channel,
        )
        return self.post(activity, **kwargs)

    # --- reading ----------------------------------------------------------------------------

    def personal(self, who: Body) -> str:
        """`who`'s 1:1 conversation id with the bot."""
        return personal_conversation_id(self.fake, who)

    def messages(self, conversation: str) -> list[Body]:
        return self.fake.messages(conversation)

    def shown(self, conversation: str) -> list[str]:
        """Each message of `conversation` as the text it shows (card text, facts, buttons)."""
        return [text_of(m) for m in self.messages(conversation)]

    def wait_shown(
        self, conversation: str, contains: str, *, count: int = 1, timeout: float = 15
    ) -> list[str]:
        """Wait until `count` messages of `conversation` show `contains`; returns them all."""

        def found() -> list[str]:
            shown = self.shown(conversation)
            return shown if sum(contains in s for s in shown) >= count else []

        return self.fake.wait_for(found, timeout=timeout)

    def button(self, conversation: str, label: str) -> tuple[Body, Body]:
        for message in reversed(self.messages(conversation)):
            for action in actions_of(message):
                if action.get("title") == label:
                    return message, action
        raise AssertionError(f"no button {label!r} in {conversation}: {self.shown(conversation)}")

    def triage(self) -> list[str]:
        return self.shown(TEAMS_TRIAGE)

    def wait(self, predicate: Callable[[], Any], timeout: float = 15) -> Any:
        return self.fake.wait_for(predicate, timeout=timeout)

    def settle(self, quiet: float = 0.3, timeout: float = 30) -> None:
        """Wait until the bot has done what it would (to assert that nothing came): every
        delivery due sent or given up, every stored click handled (a message is handled, and its
        answers queued, before Teams gets its 200), and no call reached the fake for `quiet`
        seconds (an invoke's public reply is posted beside its answer)."""
        engine = create_engine(self.server.env["DATABASE_URL"])
        deadline = time.monotonic() + timeout
        try:
            while True:
                soon = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=3)
                with engine.connect() as connection:
                    busy = connection.execute(
                        text(
                            "select (select count(*) from deliveries"
                            " where status in ('pending', 'sending') and not_before <= :soon)"
                            " + (select count(*) from inbox)"
                        ),
                        {"soon": soon},
                    ).scalar_one()
                calls = len(self.fake.calls)
                if not busy:
                    time.sleep(quiet)
                    if len(self.fake.calls) == calls:
                        return
                assert time.monotonic() < deadline, f"{busy} deliveries or clicks still waiting"
                time.sleep(0.05)
        finally:
            engine.dispose()


def cards_of(activity: Body) -> list[Body]:
    return [
        a["content"]
        for a in activity.get("attachments") or []
        if a.get("contentType") == "application/vnd.microsoft.card.adaptive"
    ]


def _elements(node: Any) -> Iterator[Body]:
    if isinstance(node, list):
        for item in node:
            yield from _elements(item)
    elif isinstance(node, dict):
        yield node
        for key in ("body", "items", "columns", "inlines", "actions", "card"):
            if key in node:
                yield from _elements(node[key])


def actions_of(activity: Body) -> list[Body]:
    return [
        e
        for card in cards_of(activity)
        for e in _elements(card)
        if e.get("type") in ("Action.Execute", "Action.Submit")
    ]


def text_of(activity: Body) -> str:
    """What a person reads: the card's text blocks, facts and button titles (else the text)."""
    parts: list[str] = []
    for card in cards_of(activity):
        for element in _elements(card):
            kind = element.get("type")
            if kind in ("TextBlock", "TextRun") and element.get("text"):
                parts.append(str(element["text"]))
            elif kind == "FactSet":
                parts.extend(
                    f"{f.get('title')}: {f.get('value')}" for f in element.get("facts", [])
                )
            elif kind in ("Action.Execute", "Action.Submit") and element.get("title"):
                parts.append(f"[{element['title']}]")
    return "\n".join(parts) if parts else str(activity.get("text") or "")
