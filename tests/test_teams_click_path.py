"""What the Teams click path and the broadcast sender keep while they were made cheaper: a stored
conversation reference is updated in one statement without losing what a later activity does not
carry, a new person's 1:1 is created at the team's service URL, and a broadcast's copies each
carry their own message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from chatbot.addresses import Address
from chatbot.config import Settings
from chatbot.db import Database
from chatbot.delivery import Job, Sent
from chatbot.messages import Message
from chatbot.platforms.teams import conversations
from chatbot.platforms.teams.client import Connector, ConversationLimits
from chatbot.platforms.teams.sender import TeamsSender
from chatbot.platforms.teams.translate import Reference

TEAM_SERVICE = "https://smba.example/emea/"
PERSON_SERVICE = "https://smba.example/amer/"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def person(
    service_url: str = PERSON_SERVICE,
    *,
    user_id: str | None = None,
    name: str | None = None,
    conversation: str = "a:ann-1on1",
) -> Reference:
    return Reference(
        kind="person",
        ref="aad-ann",
        conversation_id=conversation,
        service_url=service_url,
        tenant_id="tenant",
        user_id=user_id,
        name=name,
    )


def stored(db: Database) -> Any:
    with db.sessions() as session:
        return conversations.find(session, "person", "aad-ann")


def test_a_reference_without_the_persons_id_or_name_keeps_the_stored_ones(
    database_url: str,
) -> None:
    db = Database(database_url)
    try:
        with db.transaction() as session:
            conversations.record(session, [person(user_id="29:ann", name="Ann Lee")], NOW)
        # A later activity (a proactive 1:1 made by the sender) carries neither: both are kept,
        # what it does carry (a new service URL, a new conversation) replaces the stored.
        later = NOW + timedelta(minutes=5)
        with db.transaction() as session:
            conversations.record(session, [person(TEAM_SERVICE, conversation="a:ann-new")], later)
        row = stored(db)
        assert (row.user_id, row.name) == ("29:ann", "Ann Lee")
        assert (row.service_url, row.conversation_id) == (TEAM_SERVICE, "a:ann-new")
        assert row.updated_at == later
        # One that carries them replaces them, and the signature the click path compares says so.
        with db.transaction() as session:
            conversations.record(session, [person(user_id="29:ann-2", name="Ann Smith")], later)
            signature = conversations.signatures(session, [("person", "aad-ann")])
        row = stored(db)
        assert (row.user_id, row.name, row.service_url) == ("29:ann-2", "Ann Smith", PERSON_SERVICE)
        assert signature == {
            ("person", "aad-ann"): ("a:ann-1on1", PERSON_SERVICE, "29:ann-2", True)
        }
        with db.sessions() as session:
            assert conversations.signatures(session, [("person", "aad-bob")]) == {}
    finally:
        db.dispose()


class Recorder:
    """The Bot Connector: records calls (host, path, body) and answers them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        import json

        body = json.loads(request.content) if request.content else {}
        self.calls.append((f"{request.url.scheme}://{request.url.host}", request.url.path, body))
        if request.url.path.endswith("/v3/conversations"):
            member = body["members"][0]["id"]
            return httpx.Response(201, json={"id": f"a:{member}-1on1"})
        return httpx.Response(201, json={"id": f"act-{len(self.calls)}"})


@pytest.fixture
def sender(tmp_path: Any) -> Any:
    db = Database(f"sqlite:///{tmp_path / 'teams.db'}")
    db.upgrade()
    recorder = Recorder()
    connector = Connector(lambda: "bot-token", transport=httpx.MockTransport(recorder.handler))
    settings = Settings.from_values(
        {
            "teams_client_id": "client",
            "teams_client_secret": "secret",
            "teams_tenant_id": "tenant",
            "teams_service_url": "https://default.example/",
        }
    )
    teams = TeamsSender(
        connector,
        db,
        settings,
        render_activity=lambda message, names: {"type": "message", "text": message.text},
        limits=ConversationLimits(windows=((1.0, 1000),)),
    )
    yield teams, recorder, db
    db.dispose()


def post(to: str, message: Message, key: str) -> Job:
    return Job(
        id=1,
        key=key,
        platform="teams",
        action="post",
        to=Address.person("teams", to),
        message=message,
        attempts=1,
        in_doubt=False,
        attempt_started=NOW,
        created_at=NOW,
    )


def test_a_new_persons_1on1_is_created_at_the_teams_service_url(sender: Any) -> None:
    teams, recorder, db = sender
    team = Reference(
        kind="team",
        ref="19:team",
        conversation_id="19:team",
        service_url=TEAM_SERVICE,
        tenant_id="tenant",
    )
    with db.transaction() as session:
        conversations.record(session, [team], NOW)
        # someone else's newer 1:1, on another service URL: the team's is the tenant's
        conversations.record(session, [person(PERSON_SERVICE)], NOW + timedelta(hours=1))
    assert teams.send(post("aad-bob", Message.plain("hello"), "k1")) == Sent(
        "act-2", "a:aad-bob-1on1"
    )
    assert [(host, path) for host, path, _ in recorder.calls] == [
        ("https://smba.example", "/emea/v3/conversations"),
        ("https://smba.example", "/emea/v3/conversations/a:aad-bob-1on1/activities"),
    ]
    # and the 1:1 is kept: Bob's next message goes straight to it
    teams.send(post("aad-bob", Message.plain("again"), "k2"))
    assert recorder.calls[-1][1] == "/emea/v3/conversations/a:aad-bob-1on1/activities"
    assert len(recorder.calls) == 3


def test_each_copy_of_a_broadcast_carries_its_own_message(sender: Any) -> None:
    teams, recorder, _ = sender
    outage, update = Message.plain("Phones are down"), Message.plain("Phones are back")
    sends = [("aad-1", outage), ("aad-2", outage), ("aad-1", update), ("aad-3", outage)]
    for i, (to, message) in enumerate(sends):
        assert isinstance(teams.send(post(to, message, f"k{i}")), Sent)
    posted = [
        (path.split("/")[-2], body["text"])
        for _, path, body in recorder.calls
        if path.endswith("/activities")
    ]
    assert posted == [
        ("a:aad-1-1on1", "Phones are down"),
        ("a:aad-2-1on1", "Phones are down"),
        ("a:aad-1-1on1", "Phones are back"),
        ("a:aad-3-1on1", "Phones are down"),
    ]
    # what one post was given is not what the next is given: an edit adds its id to a copy
    bodies = [body for _, path, body in recorder.calls if path.endswith("/activities")]
    assert all("id" not in body for body in bodies)
