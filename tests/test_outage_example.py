"""The outage example of the README: a one-line alert about the VPN, then the requests people
really type about it. The alert's service is read from its words (the configured service names
and their keywords), short acronyms (VPN, SSO, MFA, PC) count as words, and everyone who followed
the alert or said they were affected is told, personally, when it is resolved."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from chatbot import directory
from chatbot.bot import Bot, Event
from chatbot.clock import FixedClock
from chatbot.config import Routing, Settings
from chatbot.db.models import Alert, Request
from chatbot.messages import ReplaceMessage, Reply
from tests.drivers import Driver, said, serve
from tests.rendered import slack_json

ADMIN = "UADMIN"
TRIAGE = "CTRIAGE"
ALERTS = "CALERTS"
PEOPLE = [f"U{n:03d}" for n in range(40)]
OUTAGE = "outage VPN is down for everyone working off-site"

_keys = itertools.count()


@pytest.fixture
def bot(database_url: str) -> Iterator[Bot]:
    from chatbot.db import Database
    from chatbot.text import Templates
    from commands import ROUTES

    settings = Settings(
        database_url=database_url,
        techhelp_admins=[ADMIN],
        techhelp_triage_channel=TRIAGE,
        techhelp_alert_channels=[ALERTS],
        routing=Routing(),
    )
    db = Database(database_url)
    db.upgrade()
    clock = FixedClock(datetime(2026, 1, 5, 14, 0, tzinfo=UTC))
    with db.transaction() as session:
        for user in PEOPLE:
            directory.add_account(session, platform="slack", account_id=user, now=clock.now())
    yield Bot(settings=settings, db=db, templates=Templates(), clock=clock, routes=ROUTES)
    db.dispose()


def command(bot: Bot, name: str, text: str, user: str) -> str:
    response = bot.handle(
        Event(
            platform="slack", kind="command", name=name, user=user, key=f"k{next(_keys)}", text=text
        )
    )
    assert isinstance(response, Reply | ReplaceMessage), response
    return slack_json(response.message)


def offered(bot: Bot, text: str, user: str) -> bool:
    """Whether `/techhelp <text>` offered the active alert instead of opening a request."""
    said = command(bot, "techhelp", text, user)
    if "known issue" in said:
        assert "AL-1" in said and "is logged" not in said
        return True
    assert "is logged" in said, said
    return False


def one(bot: Bot, query: Any) -> Any:
    with bot.db.sessions() as session:
        return session.scalar(query)


# How people say the same outage: every one of these must be offered AL-1.
SAME_OUTAGE = [
    "vpn not working",
    "the vpn keeps disconnecting me",
    "VPN down?",
    "vpn",
    "is the VPN down? I can't reach anything from home",
    "can't connect to the vpn from home",
    "cannot log in to VPN",
    "my vpn connection drops every few minutes",
    "Remote access is broken since this morning",
    "GlobalProtect says the gateway is unreachable",
    "anyconnect won't connect",
    "working off-site and nothing connects, is everyone down?",
]
# Requests about something else, while the VPN is down: none of them is held up.
SOMETHING_ELSE = [
    "printer on floor 3 is jammed",
    "I need a new mouse",
    "please reset my password",
    "my pc is slow",
    "the wifi in room 4 is down",
    "how do I set up mfa on my phone",
    "outlook keeps crashing",
    "everyone in my team needs excel installed",
    "my monitor is not working",
    "I am working from home tomorrow and need a headset",
    "we need a new system for shelter staffing",
    "sso login page shows an error",
]


def test_a_one_line_alert_names_its_service_from_its_words(bot: Bot) -> None:
    assert "AL-1" in command(bot, "techalert", OUTAGE, ADMIN)
    assert one(bot, select(Alert.service)) == "VPN"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_phrasing_of_the_outage_is_offered_the_known_issue_and_nothing_else_is(
    bot: Bot,
) -> None:
    command(bot, "techalert", OUTAGE, ADMIN)
    people = iter(PEOPLE)
    missed = [text for text in SAME_OUTAGE if not offered(bot, text, next(people))]
    assert missed == []
    held_up = [text for text in SOMETHING_ELSE if offered(bot, text, next(people))]
    assert held_up == []
    assert one(bot, select(Request.id).order_by(Request.id.desc())) == len(SOMETHING_ELSE)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("alert", "same", "other"),
    [
        ("outage SSO is down", "sso not working", "my pc is slow"),
        ("degraded MFA prompts are not arriving", "no mfa prompt on my phone", "vpn not working"),
        ("outage PC logins failing on floor 2", "my pc won't log me in", "sso login page"),
    ],
)
def test_short_acronyms_of_an_alert_count_as_words(
    bot: Bot, alert: str, same: str, other: str
) -> None:
    """An alert about a system with no configured service is still found by its acronym, and
    another acronym is not mistaken for it."""
    command(bot, "techalert", alert, ADMIN)
    assert offered(bot, same, PEOPLE[0])
    assert not offered(bot, other, PEOPLE[1])


def test_an_alert_naming_two_services_is_about_the_first(bot: Bot) -> None:
    command(bot, "techalert", "outage Printing is down: e-mail your print jobs to IT", ADMIN)
    assert one(bot, select(Alert.service)) == "Printing"
    assert not offered(bot, "my email won't send", PEOPLE[0])
    assert offered(bot, "printer not printing", PEOPLE[1])


# --- Slack and Teams, through the real `chatbot serve` ---


@pytest.fixture(params=["slack", "teams"])
def chat(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Driver:
    return serve(request, tmp_path, ALERT_COUNT_INTERVAL="1")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_outage_example_joins_and_everyone_following_hears_it_is_resolved(
    chat: Driver,
) -> None:
    chat.sync_directory()
    assert "AL-1" in said(chat, "admin", f"/techalert {OUTAGE}")
    copy = chat.last("alerts")
    assert "VPN" in copy.splitlines()[0] and "[I'm affected]" in copy

    offer = said(chat, "alice", "/techhelp vpn not working")
    assert "This looks like known issue AL-1" in offer and "[Follow AL-1]" in offer
    chat.press("alice", "Follow AL-1", card="known issue AL-1")
    offer = said(chat, "bob", "/techhelp the vpn keeps disconnecting me")
    assert "This looks like known issue AL-1" in offer
    chat.press("bob", "I'm affected", card="VPN is down")
    assert "TH-1 is logged" in said(chat, "staff", "/techhelp printer on floor 3 is jammed")

    said(chat, "admin", "/techalert resolve AL-1 The VPN gateway is back")
    for who in ("alice", "bob"):
        told = chat.last(who)
        assert "AL-1" in told and "resolved" in told and "The VPN gateway is back" in told
        # The alert, the resolution and why the person is told: each its own line (read as
        # words, lines are joined by a space; run together they were "off-siteThe").
        assert "working off-site The VPN gateway is back You were told" in told
    staff = chat.received("staff")
    assert not any("AL-1" in shown for shown in staff)  # not following: not told
    # The copy in the channel says it at a glance: its first line, not only a footer.
    header = chat.last("alerts").splitlines()[0]
    assert "Resolved" in header and "VPN" in header
    # Resolving again tells nobody twice.
    before = {who: len(chat.received(who)) for who in ("alice", "bob")}
    said(chat, "admin", "/techalert resolve AL-1")
    assert {who: len(chat.received(who)) for who in ("alice", "bob")} == before


def test_resolution_messages_are_durable_outbox_rows(bot: Bot) -> None:
    """The personal messages go through the outbox, keyed: stored in the transaction that
    resolves, so a crash before sending loses none, and a retried resolve stores none twice."""
    from chatbot.db.models import Delivery

    command(bot, "techalert", OUTAGE, ADMIN)
    bot.handle(
        Event(
            platform="slack",
            kind="action",
            name="techalert.affected",
            user=PEOPLE[1],
            key="a1",
            value="1",
        )
    )
    assert "known issue" in command(bot, "techhelp", "vpn not working", PEOPLE[2])
    bot.handle(
        Event(
            platform="slack",
            kind="action",
            name="techalert.follow",
            user=PEOPLE[2],
            key="a2",
            value="1",
        )
    )
    command(bot, "techalert", "resolve AL-1 Back up", ADMIN)
    with bot.db.sessions() as session:
        told = session.scalars(
            select(Delivery).where(Delivery.address_kind == "person").order_by(Delivery.id)
        ).all()
        assert sorted(d.address_id for d in told) == [PEOPLE[1], PEOPLE[2]]
        assert all("resolved" in json.dumps(d.message).lower() for d in told)
