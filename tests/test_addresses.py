"""Addresses and people, at the core: every message goes where its address says, on the platform
the address names; channels and admins are configured per platform; an audience reaches people
on every platform, each once; an alert's copies are the alert's own records. Two recording
senders stand in for Slack and a second platform with Teams-shaped ids (long, no U/C prefixes)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from chatbot import directory
from chatbot.addresses import Address
from chatbot.bot import Bot, Event
from chatbot.clock import FixedClock
from chatbot.config import Department, Routing, Settings
from chatbot.db.models import Account, AlertCopy, Delivery, Person
from chatbot.delivery import DeliveryWorker, Job, Sent
from chatbot.directory import Member
from chatbot.messages import Message, Outgoing, Reply

ADMIN = "UADMIN"
TEAMS_ADMIN = "29:1admin-" + "a" * 40
TEAMS_CHANNEL = "19:" + "c" * 120 + "@thread.tacv2"  # far longer than 64 characters
TEAMS_PERSON = "29:1" + "p" * 90
NOW = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
_keys = itertools.count()


class Recorder:
    """A platform's sender: records each job, answers with the conversation and a message id."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.jobs: list[Job] = []

    def send(self, job: Job) -> Sent:
        self.jobs.append(job)
        conversation = job.conversation or job.to.id
        return Sent(
            message_id=f"{self.name}-msg-{len(self.jobs)}-" + "m" * 200, conversation=conversation
        )

    def find_sent(self, job: Job) -> Sent | None:
        return None


def test_an_address_round_trips_through_json_and_is_checked() -> None:
    thread = Address.channel("teams", TEAMS_CHANNEL).in_thread("1700000000000")
    assert Address.from_json(thread.to_json()) == thread
    assert Address.from_json({"platform": "slack", "kind": "person", "id": "U1"}) == Address(
        "slack", "person", "U1"
    )
    with pytest.raises(ValueError):
        Address("slack", "group", "G1")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Address("slack", "thread", "C1")  # a thread names the message it replies under
    with pytest.raises(ValueError):
        Address("slack", "channel", "")


def test_channels_and_admins_are_configured_per_platform() -> None:
    settings = Settings(
        techhelp_triage_channel="CTRIAGE",
        techhelp_alert_channels="CALERTS1,CALERTS2",
        techhelp_admins=ADMIN,
        teams_triage_channel=TEAMS_CHANNEL,
        teams_alert_channels=TEAMS_CHANNEL,
        teams_admins=TEAMS_ADMIN,
    )
    assert settings.alert_channels() == [
        Address.channel("slack", "CALERTS1"),
        Address.channel("slack", "CALERTS2"),
        Address.channel("teams", TEAMS_CHANNEL),
    ]
    assert settings.triage_channel("teams") == Address.channel("teams", TEAMS_CHANNEL)
    assert settings.triage_channel("slack") == Address.channel("slack", "CTRIAGE")
    assert settings.it_channels() == [  # no IT channel: each platform's triage channel
        Address.channel("slack", "CTRIAGE"),
        Address.channel("teams", TEAMS_CHANNEL),
    ]
    assert settings.is_admin("slack", ADMIN) and settings.is_admin("teams", TEAMS_ADMIN)
    assert not settings.is_admin("teams", ADMIN)  # an id means something on its platform only
    slack_only = Settings(techhelp_triage_channel="CTRIAGE", techhelp_admins=ADMIN)
    assert list(slack_only.platform_ids()) == ["slack"]
    assert slack_only.triage_channel("teams") == Address.channel("slack", "CTRIAGE")


@pytest.fixture
def two_platforms(database_url: str) -> Any:
    from chatbot.db import Database
    from chatbot.text import Templates
    from commands import ROUTES

    settings = Settings(
        database_url=database_url,
        techhelp_admins=[ADMIN],
        techhelp_alert_channels=["CALERTS"],
        techhelp_triage_channel="CTRIAGE",
        teams_alert_channels=[TEAMS_CHANNEL],
        teams_admins=[TEAMS_ADMIN],
        routing=Routing(
            timezone="America/New_York",
            departments=[Department(name="Finance", members=["UFIN", TEAMS_PERSON])],
        ),
    )
    db = Database(database_url)
    db.upgrade()
    clock = FixedClock(NOW)
    bot = Bot(settings=settings, db=db, templates=Templates(), clock=clock, routes=ROUTES)
    senders = {"slack": Recorder("slack"), "teams": Recorder("teams")}
    worker = DeliveryWorker(db, senders, clock=clock)  # type: ignore[arg-type]
    yield bot, senders, worker, clock
    worker.pool.shutdown()
    db.dispose()


def drain(worker: DeliveryWorker, clock: FixedClock) -> None:
    for _ in range(50):
        if not worker.run_once():
            clock.advance(1)
            if not worker.run_once():
                return


def alert_command(bot: Bot, text: str, *, platform: str = "slack", user: str = ADMIN) -> str:
    reply = bot.handle(
        Event(
            platform=platform,
            kind="command",
            name="techalert",
            user=user,
            key=f"k{next(_keys)}",
            text=text,
        )
    )
    assert isinstance(reply, Reply)
    return reply.message.text


def sync_people(bot: Bot) -> None:
    """Alice is on both platforms (the same e-mail), Bob on Slack, Tess on Teams only."""
    with bot.db.transaction() as session:
        routing = bot.settings.routing
        directory.sync(
            session=session,
            platform="slack",
            members=[
                Member("UFIN", "Alice", True, email="Alice@example.org"),
                Member("UBOB", "Bob", True, email="bob@example.org"),
                Member("UBOT", "A bot", False),
            ],
            routing=routing,
            now=NOW,
        )
        directory.sync(
            session=session,
            platform="teams",
            members=[
                Member("29:1alice", "Alice", True, email="alice@example.org"),
                Member(TEAMS_PERSON, "Tess", True, email="tess@example.org"),
            ],
            routing=routing,
            now=NOW,
        )


def test_a_person_is_one_identity_with_an_account_per_platform(two_platforms: Any) -> None:
    bot, *_ = two_platforms
    sync_people(bot)
    with bot.db.sessions() as session:
        people = {p.name: p for p in session.scalars(select(Person))}
        assert sorted(people) == ["A bot", "Alice", "Bob", "Tess"]
        alice = people["Alice"]
        assert [(a.platform, a.account_id) for a in alice.accounts] == [
            ("slack", "UFIN"),
            ("teams", "29:1alice"),
        ]
        assert people["Tess"].department == "Finance"
        everyone = directory.reachable(session=session)
        # One address per person, whatever the platform; the bot is not reachable.
        assert sorted(map(str, everyone)) == [
            "slack:person:UBOB",
            "slack:person:UFIN",
            f"teams:person:{TEAMS_PERSON}",
        ]
        finance = directory.reachable(session=session, departments=["Finance"])
        assert sorted(map(str, finance)) == ["slack:person:UFIN", f"teams:person:{TEAMS_PERSON}"]
        assert session.scalar(select(Account.active).where(Account.account_id == "UBOT")) is False


def test_send_delivers_on_the_platform_of_the_address(two_platforms: Any) -> None:
    """A handler reached from one platform (the console) sends to addresses on others: each
    goes to its own platform's sender, with ids far longer than Slack's."""
    bot, senders, worker, clock = two_platforms
    with bot.db.transaction() as session:
        ctx = bot.context(session, platform="console", now=NOW)
        ctx.send(
            Outgoing(
                key="a",
                to=Address.channel("teams", TEAMS_CHANNEL),
                message=Message.plain("to teams"),
            )
        )
        ctx.send(
            Outgoing(key="b", to=Address.person("slack", "UFIN"), message=Message.plain("to slack"))
        )
    drain(worker, clock)
    assert [(j.to, j.message.text) for j in senders["teams"].jobs] == [
        (Address.channel("teams", TEAMS_CHANNEL), "to teams")
    ]
    assert [(j.to, j.message.text) for j in senders["slack"].jobs] == [
        (Address.person("slack", "UFIN"), "to slack")
    ]
    with bot.db.sessions() as session:
        row = session.scalars(select(Delivery).where(Delivery.key == "a")).one()
        assert (row.status, row.address_kind, row.address_id) == ("sent", "channel", TEAMS_CHANNEL)
        assert row.sent_conversation == TEAMS_CHANNEL and len(row.message_id) > 200


def test_an_alert_reaches_every_platform_and_resolves_every_copy(two_platforms: Any) -> None:
    bot, senders, worker, clock = two_platforms
    sync_people(bot)
    said = alert_command(bot, "outage Email is down", platform="teams", user=TEAMS_ADMIN)
    assert "AL-1" in said
    drain(worker, clock)
    posted = {name: sorted(str(j.to) for j in s.jobs) for name, s in senders.items()}
    assert posted == {
        "slack": ["slack:channel:CALERTS"],
        "teams": [f"teams:channel:{TEAMS_CHANNEL}"],
    }

    with bot.db.transaction() as session:
        ctx = bot.context(session, platform="slack", now=NOW)
        from commands import techalert

        techalert.broadcast(
            ctx, author=ADMIN, severity="info", message="Printers are back", audience="everyone"
        )
    drain(worker, clock)
    with bot.db.sessions() as session:
        copies = session.scalars(select(AlertCopy).where(AlertCopy.alert_id == 2)).all()
        assert sorted(str(c.address) for c in copies) == [
            "slack:person:UBOB",
            "slack:person:UFIN",
            f"teams:person:{TEAMS_PERSON}",
        ]
    for sender in senders.values():
        sender.jobs.clear()

    # "I'm affected" refreshes the channel copies only: the kind says which are people.
    clicked = bot.handle(
        Event(
            platform="slack",
            kind="action",
            name="techalert.affected",
            user="UBOB",
            key="v1",
            value="2",
        )
    )
    assert isinstance(clicked, Reply)
    clock.advance(bot.settings.alert_count_interval + 1)
    drain(worker, clock)
    assert [j.action for s in senders.values() for j in s.jobs] == []  # no channel copy of AL-2

    alert_command(bot, "resolve AL-1 fixed")
    drain(worker, clock)
    edits = {
        name: [(j.action, j.conversation) for j in s.jobs if j.action == "update"]
        for name, s in senders.items()
    }
    assert edits == {"slack": [("update", "CALERTS")], "teams": [("update", TEAMS_CHANNEL)]}
    replies = [j for s in senders.values() for j in s.jobs if j.action == "post"]
    assert sorted((j.to.platform, j.thread_id is not None) for j in replies) == [
        ("slack", True),
        ("teams", True),
    ]
    assert all(j.thread_id and j.thread_id.startswith(j.to.platform) for j in replies)


def test_the_live_count_goes_to_a_person_author_not_an_operator(two_platforms: Any) -> None:
    from chatbot.addresses import LOCAL
    from commands import techalert

    bot, senders, worker, clock = two_platforms
    sync_people(bot)
    for platform, author in ((LOCAL, "cli:alex"), ("teams", TEAMS_ADMIN)):
        with bot.db.transaction() as session:
            ctx = bot.context(session, platform=platform, now=NOW)
            techalert.broadcast(
                ctx, author=author, severity="info", message=f"from {author}", audience="everyone"
            )
    drain(worker, clock)
    counts = [j for s in senders.values() for j in s.jobs if j.key.endswith(":progress")]
    assert [(j.key, j.to) for j in counts] == [
        ("alert:2:progress", Address.person("teams", TEAMS_ADMIN))
    ]
