"""The home card, for platforms without a home view: `home` (or `/techhelp home`) and installing
the bot answer with the person's requests, surveys awaiting them and the active alerts, as a
message; and later changes never post a new card. On both test platforms: `full` (with a home
view) and `plain` (without)."""

from __future__ import annotations

from typing import Any

import pytest

from chatbot import directory
from tests.platform import FULL, PLAIN, TestPlatform

ALICE = "UALICE"
STAFF = "USTAFF"
ADMIN = "UADMIN"
TRIAGE = "CTRIAGE"
ALERTS = "CALERTS"
CONFIG: dict[str, Any] = {
    "techhelp_triage_channel": TRIAGE,
    "techhelp_alert_channels": [ALERTS],
    "techhelp_admins": [ADMIN],
    "routing": {"staff": [STAFF]},
}


@pytest.fixture(params=["full", "plain"])
def chat(request: pytest.FixtureRequest, make_chat: Any) -> TestPlatform:
    capabilities = FULL if request.param == "full" else PLAIN
    return make_chat(CONFIG, capabilities=capabilities, name=request.param)


def card_of(step: Any, user: str) -> str:
    cards = [text for text in step.to(user) if "Your open requests" in text]
    assert len(cards) == 1, step.to(user)
    return cards[0]


def test_home_answers_with_requests_surveys_and_alerts(chat: TestPlatform) -> None:
    with chat.bot.db.transaction() as session:
        directory.add_account(
            session, platform=chat.name, account_id=ALICE, now=chat.bot.clock.now()
        )
    chat.say(ALICE, "/techhelp my monitor flickers")
    chat.say(ADMIN, "/techalert outage Email is down for everyone")
    chat.say(ADMIN, "/pulse send How are your tools?")

    step = chat.say(ALICE, "home")
    card = card_of(step, ALICE)
    assert "TH-1" in card and "my monitor flickers" in card
    assert "AL-1" in card and "Email is down" in card
    assert "Surveys awaiting your answer" in card and "How are your tools?" in card
    assert "[Ask IT]" in card and "[4]" in card
    assert [seen.how for seen in step.shown] == ["post"]  # a message, not a view

    by_command = chat.say(ALICE, "/techhelp home")
    assert card_of(by_command, ALICE) == card
    # "home" among other words is a request, as "help" is.
    assert "TH-2 is logged" in "\n".join(chat.say(ALICE, "home office wifi drops").to(ALICE))


def test_installing_the_bot_sends_the_home_card(chat: TestPlatform) -> None:
    step = chat.happen(ALICE, "app.installed")
    card = card_of(step, ALICE)
    assert "You have no open requests" in card and "[Ask IT]" in card
    assert [seen.to for seen in step.shown] == [ALICE]


def test_a_home_card_is_not_posted_again_when_things_change(chat: TestPlatform) -> None:
    chat.say(ALICE, "/techhelp my monitor flickers")
    if chat.capabilities.home_view:
        chat.open_home(ALICE)  # a home view: refreshed in place when the request changes
    else:
        chat.say(ALICE, "home")  # a card: a message like any other
    claimed = chat.press(STAFF, "Claim", card="TH-1")
    shown = [(seen.how, seen.text) for seen in claimed.shown if seen.to == ALICE]
    assert any("is now working on TH-1" in text for _, text in shown)
    homes = [how for how, text in shown if "Your open requests" in text]
    assert homes == (["home"] if chat.capabilities.home_view else [])


def test_help_tells_of_home(chat: TestPlatform) -> None:
    assert "/techhelp home" in "\n".join(chat.say(ALICE, "help").to(ALICE))
