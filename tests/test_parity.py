"""Parity: the shared scenarios through the real `chatbot serve`, once per platform, from one
parametrised test. What a person does is the platform's own signed request; what they were shown
is what the fake platform received, read as words (`tests/drivers.py`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.drivers import Driver, SlackDriver, TeamsDriver, said, serve

# What differs between platforms is the adapter, not the database (each database runs the
# scenarios in tests/test_scenarios.py).
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture(params=["slack", "teams"])
def chat(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Driver:
    """The real `chatbot serve` of the platform, with a test's `techhelp_yaml` mark added to its
    configuration (formatted with the platform's ids)."""
    extra = request.node.get_closest_marker("techhelp_yaml")
    ids = (SlackDriver if request.param == "slack" else TeamsDriver).ids()
    more = extra.args[0].format(platform=request.param, **ids) if extra else ""
    return serve(request, tmp_path, more, ALERT_COUNT_INTERVAL="1")


def test_ask_claim_resolve_rate_and_change_the_rating(chat: Driver) -> None:
    chat.sync_directory()
    assert "TH-1 is logged" in said(chat, "alice", "/techhelp printer on floor 3 is jammed")
    card = chat.last("triage")
    assert "printer on floor 3 is jammed" in card and "[Claim]" in card
    assert "TH-2 is logged" in said(chat, "bob", "my monitor flickers")  # a message to the bot
    assert "TH-2" in chat.last("triage")

    chat.press("staff", "Claim", card="TH-1")
    assert "State: claimed" in chat.last("triage") and "[Claim]" not in chat.last("triage")
    assert "is now working on TH-1" in chat.last("alice")
    chat.press("staff", "Resolve", card="TH-1")
    assert chat.fill("staff", text="  ")  # an empty note is refused, and the form stays open
    assert chat.fill("staff", text="Cleared the jam") == {}
    assert "State: resolved" in chat.last("triage")
    assert "How did we do with TH-1" in chat.last("alice")

    chat.press("alice", "4", card="TH-1")
    assert "you rated TH-1 4/5" in chat.last("alice")
    chat.press("alice", "2", card="TH-1")
    assert "you rated TH-1 2/5" in chat.last("alice")
    assert "You have no open requests" in said(chat, "alice", "status")

    # The service desk logs a call on someone's behalf, naming them as the platform mentions.
    assert "TH-3 is logged for" in said(chat, "staff", "techhelp for @bob via phone no dial tone")
    assert "TH-3" in said(chat, "bob", "status")


def test_an_alert_reaches_everyone_counts_the_affected_and_resolves_every_copy(
    chat: Driver,
) -> None:
    chat.sync_directory()
    assert "Only IT administrators can send alerts" in said(
        chat, "alice", "/techalert outage Email is down"
    )
    assert chat.received("alerts") == []
    answer = said(chat, "admin", "/techalert outage Email is down")
    assert "AL-1" in answer
    copy = chat.last("alerts")
    assert "Email is down" in copy and "[I'm affected]" in copy

    chat.press("alice", "I'm affected", card="Email is down")
    chat.press("bob", "I'm affected", card="Email is down")
    assert "2 people affected" in chat.last("alerts")
    said(chat, "admin", "/techalert update AL-1 Engineers are restoring the mail server")
    assert "restoring the mail server" in chat.last("alerts")
    said(chat, "admin", "/techalert resolve AL-1 Mail flows again")
    assert "resolved" in chat.last("alerts").lower()


def test_a_survey_click_can_be_changed_and_only_non_responders_are_reminded(chat: Driver) -> None:
    chat.sync_directory()
    assert "PS-1" in said(chat, "admin", "/pulse send How well does IT support you?")
    prompt = chat.last("alice")
    assert "How well does IT support you?" in prompt and "[5]" in prompt
    chat.press("alice", "4", card="How well does IT support you?")
    assert "4" in chat.last("alice") and "Thank you" in chat.last("alice")
    chat.press("alice", "2", card="Thank you")
    assert "2" in chat.last("alice")
    chat.press("alice", "Add a comment", card="Thank you")
    assert chat.fill("alice", comment="Quick and kind") == {}

    before = {who: len(chat.received(who)) for who in ("alice", "bob")}
    chat.remind_now()
    assert len(chat.received("alice")) == before["alice"]  # answered: no reminder
    assert "How well does IT support you?" in chat.last("bob")
    assert len(chat.received("bob")) == before["bob"] + 1

    assert "is closed" in said(chat, "admin", "/pulse close PS-1")
    assert "Pulse results: PS-1" in chat.last("it")


def test_an_alert_by_form_reaches_everyone_and_a_matching_request_follows_it(chat: Driver) -> None:
    chat.sync_directory()
    chat.open_form("admin", "/techalert", "Send an IT alert")
    assert (
        chat.fill(
            "admin",
            severity="outage",
            message="Wireless network offline in building A",
            audience="channels+everyone",
        )
        == {}
    )
    assert "Wireless network offline in building A" in chat.last("alerts")
    for person in ("alice", "bob", "staff"):  # everyone, by personal message, once
        assert (
            sum(
                "Wireless network offline in building A" in shown for shown in chat.received(person)
            )
            == 1
        )

    offer = said(chat, "bob", "/techhelp the wireless network is offline")
    assert "This looks like known issue AL-1" in offer and "[Follow AL-1]" in offer
    chat.press("bob", "Follow AL-1", card="known issue AL-1")
    assert "1 person affected" in chat.last("alerts")


def test_home_shows_a_persons_requests_surveys_and_alerts(chat: Driver) -> None:
    chat.sync_directory()
    said(chat, "alice", "/techhelp printer on floor 3 is jammed")
    said(chat, "admin", "/techalert outage Email is down")
    home = said(chat, "alice", "home")
    assert "TH-1" in home and "printer on floor 3 is jammed" in home
    assert "AL-1" in home and "Email is down" in home


def test_an_overdue_request_is_escalated_in_the_triage_channel(chat: Driver) -> None:
    said(chat, "alice", "/techhelp printer on floor 3 is jammed")
    # Five hours later: a normal request's first-response target is four.
    chat.later("update requests set created_at = :past", hours=5)
    escalation = chat.last("triage")
    assert "TH-1" in escalation and "past its first-response target" in escalation


@pytest.mark.techhelp_yaml('digest: "* * * * *"\n')  # the weekly digest, every minute here
def test_the_weekly_digest_with_its_chart_reaches_the_it_channel(chat: Driver) -> None:
    said(chat, "alice", "/techhelp printer on floor 3 is jammed")
    # Made a week ago (the digest covers the last whole week); this first tick starts the
    # digest's schedule from now, the next finds its run due.
    chat.later("update requests set created_at = :past", hours=7 * 24)
    chat.later("update clock_state set value = :past where name = 'digest'", hours=0.02)
    digest = chat.last("it")
    assert "Weekly service digest" in digest and "1 received" in digest
    assert [s.images for s in chat.transcript if s.to == "it"][-1] == 1  # the chart


@pytest.mark.techhelp_yaml(
    # The single point of intake, advertised in the alert channel every minute (here).
    "outreach:\n  - {{name: intake, channels: ['{alerts}'], schedule: '* * * * *',"
    " platform: {platform}}}\n"
)
def test_outreach_is_posted_on_its_schedule(chat: Driver) -> None:
    chat.later()  # the first tick starts the schedule from now
    chat.later("update clock_state set value = :past where name = 'outreach:intake'", hours=0.02)
    assert "One place to ask IT for anything" in chat.last("alerts")


def test_a_maintenance_notice_is_posted_at_its_time_and_its_window_announced(chat: Driver) -> None:
    chat.open_form("admin", "/techalert", "Send an IT alert")
    soon = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=2)
    assert (
        chat.fill(
            "admin",
            severity="maintenance",
            message="Mail server upgrade tonight",
            audience="channels",
            post_at=soon,
            starts_at=soon + timedelta(hours=1),
        )
        == {}
    )
    assert chat.received("alerts") == []  # not before its time
    chat.later("update alerts set post_at = :past", hours=0.01)
    assert "Mail server upgrade tonight" in chat.last("alerts")
    chat.later("update alerts set starts_at = :past", hours=0.005)
    assert "maintenance window of AL-1 starts now" in chat.last("alerts")
