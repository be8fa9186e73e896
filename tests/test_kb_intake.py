"""Self-service at intake, on Slack and on Teams through the real `chatbot serve`: suggestions
with the confirmation, "Show", "This solved it", "I still need help", the grace period,
`/techhelp search`, and staff saving a resolved request as an article."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from tests.drivers import Driver, SlackDriver, TeamsDriver, email

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

PASSWORD = """---
title: Reset a forgotten password
keywords: [forgot password, password expired]
---

1. Go to <b>the reset page</b>: [click here](javascript:alert(1)) or <https://evil.example>.
2. Enter your work e-mail and the code we text you.
"""
VPN = """# Connect to the VPN from home

Open GlobalProtect, portal vpn.example.org, and approve the sign-in prompt.
"""
HELD = "update deliveries set not_before = :past where key like 'request%card'"


@pytest.fixture(params=["slack", "teams"])
def chat(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Driver:
    slack = request.param == "slack"
    ids = (SlackDriver if slack else TeamsDriver).ids()
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "password.md").write_text(PASSWORD)
    (folder / "vpn.md").write_text(VPN)
    config = tmp_path / "techhelp.yml"
    config.write_text(f"staff: [{email('staff')}]\n")
    prefix = "TECHHELP" if slack else "TEAMS"
    server = request.getfixturevalue("make_server" if slack else "make_teams_server")(
        process=True,
        TECHHELP_CONFIG=str(config),
        TECHHELP_KB=str(folder),
        TECHHELP_KB_GRACE="3600",
        **{
            f"{prefix}_TRIAGE_CHANNEL": ids["triage"],
            f"{prefix}_ALERT_CHANNELS": ids["alerts"],
            f"{prefix}_IT_CHANNEL": ids["it"],
            f"{prefix}_ADMINS": ids["admin"],
        },
    ).start()
    driver: Driver = (
        SlackDriver(server) if slack else TeamsDriver(server, request.getfixturevalue("fake_teams"))
    )
    driver.sync_directory()
    return driver


def said(chat: Driver, who: str, words: str) -> str:
    before = len(chat.received(who))
    chat.say(who, words)
    return "\n".join(chat.received(who)[before:])


def _self_served(chat: Driver) -> list[tuple[int, str]]:
    with chat.engine.connect() as connection:
        return [
            (row[0], row[1])
            for row in connection.execute(
                text(
                    "select s.request_id, a.title from kb_suggestions s"
                    " join kb_articles a on a.id = s.article_id where s.solved_at is not null"
                )
            )
        ]


def test_this_solved_it_closes_the_request_and_the_card_never_reaches_triage(
    chat: Driver,
) -> None:
    answer = said(chat, "alice", "/techhelp i forgot my pasword and cant log in")
    assert "TH-1 is logged" in answer
    assert "Reset a forgotten password" in answer
    assert "Connect to the VPN" not in answer  # only what answers it
    assert chat.received("triage") == []  # the card waits while the suggestions are open

    chat.press("alice", "Show", card="Reset a forgotten password")
    steps = chat.last("alice")
    assert "Enter your work e-mail and the code we text you" in steps
    # The article's HTML and links are shown as typed, never made live.
    assert "<b>the reset page</b>" in steps and "[click here](javascript:alert(1))" in steps
    assert "This solved it" not in steps

    chat.press("alice", "This solved it", card="Reset a forgotten password")
    assert "TH-1 is closed as solved" in chat.last("alice")
    assert _self_served(chat) == [(1, "Reset a forgotten password")]
    assert "You have no open requests" in said(chat, "alice", "status")
    # The grace period ends: the withdrawn card is never posted.
    chat.later(HELD)
    assert chat.received("triage") == []
    # Everyone's home now shows the answer that helped (Teams: the home card).
    home = said(chat, "bob", "home")
    assert "Answers others found useful" in home
    assert "Reset a forgotten password · solved 1 request" in home


def test_i_still_need_help_sends_the_card_on_at_once(chat: Driver) -> None:
    answer = said(chat, "bob", "the vpn wont connect from home")
    assert "TH-1 is logged" in answer and "Connect to the VPN from home" in answer
    assert chat.received("triage") == []
    chat.press("bob", "I still need help", card="TH-1")
    assert "TH-1 is on its way to the service desk" in chat.last("bob")
    card = chat.last("triage")
    assert "the vpn wont connect from home" in card and "[Claim]" in card
    # The suggestions are gone from bob's confirmation: it was sent on.
    with pytest.raises(AssertionError, match="no button 'This solved it'"):
        chat.press("bob", "This solved it", card="Connect to the VPN from home")


def test_the_grace_period_running_out_sends_the_card(chat: Driver) -> None:
    said(chat, "alice", "password expired")
    assert chat.received("triage") == []
    chat.later(HELD)  # the held card falls due, as after TECHHELP_KB_GRACE seconds
    assert "password expired" in chat.last("triage")
    # Solved after the card went out: the card shows it closed.
    chat.press("alice", "This solved it", card="Reset a forgotten password")
    card = chat.last("triage")
    assert "State: resolved" in card and "solved by the requester" in card


def test_text_no_article_answers_gets_no_suggestion_and_its_card_at_once(chat: Driver) -> None:
    answer = said(chat, "alice", "/techhelp the coffee machine on floor 2 is broken")
    assert "TH-1 is logged" in answer
    assert "These articles may answer it" not in answer and "[Show]" not in answer
    assert "coffee machine" in chat.last("triage")
    with chat.engine.connect() as connection:
        found = connection.execute(text("select kind, found from kb_lookups")).all()
    assert [tuple(row) for row in found] == [("request", 0)]  # a content gap, counted


def test_search_finds_articles_without_opening_a_request(chat: Driver) -> None:
    answer = said(chat, "alice", "/techhelp search vpn from home")
    assert "Connect to the VPN from home" in answer
    assert "[Show]" in answer
    chat.press("alice", "Show", card="Connect to the VPN from home")
    assert "Open GlobalProtect" in chat.last("alice")
    assert "No article matches “printer toner”" in said(
        chat, "alice", "/techhelp search printer toner"
    )
    assert "You have no open requests" in said(chat, "alice", "status")
    assert chat.received("triage") == []


def test_staff_save_a_resolved_request_as_a_draft_that_an_admin_publishes(chat: Driver) -> None:
    said(chat, "alice", "/techhelp the scanner on floor 4 sends nothing to my email")
    chat.press("staff", "Claim", card="TH-1")
    chat.press("staff", "Resolve", card="TH-1")
    assert (
        chat.fill("staff", text="Scan to e-mail needs the address book refreshed: Menu > Sync")
        == {}
    )
    chat.press("alice", "Save as article", card="TH-1")
    assert "Only the service desk can save" in chat.last("alice")

    chat.press("staff", "Save as article", card="TH-1")
    assert "Saved as draft KB-3" in chat.last("staff")
    draft = chat.last("triage")
    assert "the scanner on floor 4 sends nothing to my email" in draft and "[Publish]" in draft
    # A draft is never suggested.
    assert "These articles" not in said(chat, "bob", "/techhelp scanner sends nothing to email")

    chat.press("staff", "Publish", card="KB-3")
    assert "Only an admin can publish" in chat.last("staff")
    chat.press("admin", "Publish", card="KB-3")
    assert "KB-3 “the scanner on floor 4 sends nothing to my email” is published" in chat.last(
        "triage"
    )
    answer = said(chat, "bob", "/techhelp scanner on floor 4 sends nothing to my email")
    assert "the scanner on floor 4 sends nothing to my email" in answer
    chat.press("bob", "Show", card="the scanner on floor 4")
    assert "address book refreshed" in chat.last("bob")


def test_the_form_sends_its_suggestions_to_the_person(chat: Driver) -> None:
    chat.open_form("alice", "/techhelp", "Ask IT")
    assert chat.fill("alice", description="my password expired this morning") == {}
    shown = chat.last("alice")
    assert "is logged" in shown and "Reset a forgotten password" in shown
    assert chat.received("triage") == []
    chat.press("alice", "This solved it", card="Reset a forgotten password")
    assert "closed as solved" in chat.last("alice")


def test_the_confirmation_says_when_the_service_desk_sees_a_held_request(chat: Driver) -> None:
    answer = said(chat, "alice", "/techhelp my password expired")
    assert "Reset a forgotten password" in answer
    # The card waits the grace period (an hour here): the words say so, not "now".
    assert "sees it now" not in answer
    assert "the service desk sees it in 60 min" in answer
    chat.later(HELD)
    dm = [m for m in chat.received("alice") if "We have your request" in m]
    assert dm and "sees it now" not in dm[-1] and "sees it in 60 min" in dm[-1]
    # Nothing suggested: the card goes at once, and the words say that.
    answer = said(chat, "bob", "/techhelp the coffee machine on floor 2 is broken")
    assert "the service desk sees it now" in answer
