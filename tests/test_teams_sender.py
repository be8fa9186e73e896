"""The Teams sender against a recorded Bot Connector (httpx's mock transport): where each kind of
address goes, what each failure means to the outbox, the tenant's and conversations' limits, and
the journal that keeps a crashed send from being posted twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatbot.addresses import Address
from chatbot.config import Settings
from chatbot.db import Database
from chatbot.delivery import Failed, Job, Retry, Sent
from chatbot.messages import Message
from chatbot.platforms.teams.client import Connector, ConversationLimits
from chatbot.platforms.teams.sender import TeamsSender

SERVICE = "https://bots.example/teams/"
CHANNEL = "19:triage@thread.tacv2"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Connector_:
    """Answers the Bot Connector's calls; `fail` queues statuses for the next calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.fail: list[tuple[int, dict[str, str]] | Exception] = []
        self.next_id = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        self.calls.append((request.method, request.url.path, body))
        assert request.headers["Authorization"] == "Bearer bot-token"
        if self.fail:
            failure = self.fail.pop(0)
            if isinstance(failure, Exception):
                raise failure
            status, headers = failure
            return httpx.Response(status, headers=headers, json={"error": {"code": "x"}})
        if request.url.path.endswith("/v3/conversations"):
            return httpx.Response(201, json={"id": "a:created-1on1"})
        self.next_id += 1
        return httpx.Response(201, json={"id": f"act-{self.next_id}"})


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'teams.db'}")
    database.upgrade()
    return database


@pytest.fixture
def rig(db: Database) -> tuple[TeamsSender, Connector_, FakeClock]:
    fake, clock = Connector_(), FakeClock()
    connector = Connector(
        lambda: "bot-token",
        transport=httpx.MockTransport(fake.handler),
        clock=clock,
        sleep=clock.sleep,
    )
    settings = Settings.from_values(
        {
            "teams_client_id": "client",
            "teams_client_secret": "secret",
            "teams_tenant_id": "tenant",
            "teams_service_url": SERVICE,
        }
    )
    sender = TeamsSender(
        connector,
        db,
        settings,
        render_activity=lambda message, names: {"type": "message", "text": message.text},
        limits=ConversationLimits(),
        clock=clock,
        sleep=clock.sleep,
    )
    return sender, fake, clock


def job(
    to: Address,
    *,
    key: str = "k1",
    action: str = "post",
    attempts: int = 1,
    **extra: Any,
) -> Job:
    now = datetime.now(UTC)
    return Job(
        id=1,
        key=key,
        platform="teams",
        action=action,
        to=to,
        message=Message.plain("hello"),
        attempts=attempts,
        in_doubt=False,
        attempt_started=now,
        created_at=now,
        **extra,
    )


def test_first_message_to_a_person_creates_and_keeps_the_1on1(rig: Any) -> None:
    sender, fake, _ = rig
    person = Address.person("teams", "aad-ann")
    assert sender.send(job(person, key="a")) == Sent("act-1", "a:created-1on1")
    assert sender.send(job(person, key="b")) == Sent("act-2", "a:created-1on1")
    create = [c for c in fake.calls if c[1] == "/teams/v3/conversations"]
    assert len(create) == 1  # stored, not created again
    assert create[0][2] == {
        "isGroup": False,
        "bot": {"id": "28:client"},
        "members": [{"id": "aad-ann"}],
        "tenantId": "tenant",
        "channelData": {"tenant": {"id": "tenant"}},
    }
    assert [c[1] for c in fake.calls[1:]] == [
        "/teams/v3/conversations/a:created-1on1/activities",
        "/teams/v3/conversations/a:created-1on1/activities",
    ]


def test_channel_thread_and_edit(rig: Any) -> None:
    sender, fake, _ = rig
    channel = Address.channel("teams", CHANNEL)
    assert sender.send(job(channel)) == Sent("act-1", CHANNEL)
    thread = channel.in_thread("root-1")
    assert sender.send(job(thread, key="t", thread_id="root-1")) == Sent("act-2", CHANNEL)
    edit = job(channel, key="e", action="update", conversation=CHANNEL, edit_message_id="act-1")
    assert sender.send(edit) == Sent("act-1", CHANNEL)
    assert [(m, p) for m, p, _ in fake.calls] == [
        ("POST", f"/teams/v3/conversations/{CHANNEL}/activities"),
        ("POST", f"/teams/v3/conversations/{CHANNEL};messageid=root-1/activities"),
        ("PUT", f"/teams/v3/conversations/{CHANNEL}/activities/act-1"),
    ]
    assert fake.calls[2][2]["id"] == "act-1"


def test_a_home_view_is_not_something_teams_has(rig: Any) -> None:
    sender, fake, _ = rig
    assert isinstance(sender.send(job(Address.person("teams", "x"), action="home")), Failed)
    assert fake.calls == []


def test_429_holds_every_teams_call_for_its_retry_after(rig: Any) -> None:
    sender, fake, clock = rig
    fake.fail.append((429, {"Retry-After": "7"}))
    outcome = sender.send(job(Address.channel("teams", CHANNEL)))
    assert outcome == Retry("rate limited (post)", after=7.0, attempted=False)
    calls = len(fake.calls)
    held = sender.send(job(Address.channel("teams", "19:other@thread.tacv2"), key="other"))
    assert isinstance(held, Retry) and not held.attempted and 6.9 < (held.after or 0) <= 7
    assert len(fake.calls) == calls  # nothing was sent while held
    clock.now += 7.1
    assert isinstance(sender.send(job(Address.channel("teams", CHANNEL), key="later")), Sent)


@pytest.mark.parametrize(("status", "in_doubt"), [(412, False), (502, True), (504, True)])
def test_412_502_504_back_off_with_jitter(rig: Any, status: int, in_doubt: bool) -> None:
    sender, fake, _ = rig
    afters = []
    for attempt in range(1, 41):
        fake.fail.append((status, {}))
        outcome = sender.send(job(Address.channel("teams", CHANNEL), key=f"k{attempt}", attempts=5))
        assert isinstance(outcome, Retry) and outcome.attempted
        assert outcome.in_doubt is in_doubt
        afters.append(outcome.after)
    assert all(16 <= a <= 32 for a in afters)  # 2^5 s, between half and all of it
    assert len(set(afters)) > 30  # jittered: not the same moment for everyone


def test_time_out_after_sending_is_in_doubt_and_connect_failure_is_not(rig: Any) -> None:
    sender, fake, _ = rig
    channel = Address.channel("teams", CHANNEL)
    fake.fail.append(httpx.ReadTimeout("slow"))
    doubt = sender.send(job(channel))
    assert isinstance(doubt, Retry) and doubt.in_doubt
    fake.fail.append(httpx.ConnectError("refused"))
    sure = sender.send(job(channel, key="k2"))
    assert isinstance(sure, Retry) and not sure.in_doubt


def test_a_post_is_journaled_before_the_outbox_records_it(rig: Any) -> None:
    """A crash after Teams answered, before the outbox's round was recorded: the next attempt
    finds the journaled post and does not send it again."""
    sender, fake, _ = rig
    channel = Address.channel("teams", CHANNEL)
    sent = sender.send(job(channel, key="alert:1:copy"))
    assert sender.find_sent(job(channel, key="alert:1:copy")) == sent
    assert sender.find_sent(job(channel, key="never-sent")) is None
    assert len(fake.calls) == 1


def test_tenant_pacing_keeps_under_50_requests_a_second(rig: Any) -> None:
    sender, fake, clock = rig
    start = clock.now
    for n in range(101):  # to 101 people: their own conversations, no per-conversation limit
        sender.send(job(Address.channel("teams", f"19:c{n}@thread.tacv2"), key=f"p{n}"))
    assert len(fake.calls) == 101
    assert 100 / 50 <= clock.now - start <= 100 / 45


def test_one_conversation_keeps_its_own_limits(rig: Any) -> None:
    sender, fake, clock = rig
    channel = Address.channel("teams", CHANNEL)
    start = clock.now
    outcomes = [sender.send(job(channel, key=f"m{n}")) for n in range(58)]
    took = clock.now - start
    assert all(isinstance(o, Sent) for o in outcomes[:57])
    # Under 8 in 2 s: 57 sends take at least 14 s; the 58th would be near 60 in 30 s, so it
    # goes back to the outbox (not counted as an attempt) instead of holding the thread.
    assert took >= 14
    assert isinstance(outcomes[57], Retry) and not outcomes[57].attempted
    assert len(fake.calls) == 57
