"""Identity across platforms, on the in-process test platform: account ids as long as Teams'
through every table that names a person, and people named by e-mail in the configuration."""

from __future__ import annotations

from typing import Any

import pytest

from chatbot import directory
from tests.platform import FULL, PLAIN, TestPlatform

ADMIN = "UADMIN"
TRIAGE = "CTRIAGE"
# A Teams-shaped account id, far past the 64 characters Slack's ids fit in.
LONG = "29:1" + "Zq7" * 65 + "x"
LONG_STAFF = "29:1" + "Sd4" * 65 + "y"


def add_people(chat: TestPlatform, *users: str, email: dict[str, str] | None = None) -> None:
    """Accounts in the directory, as `chatbot clock`'s sync would leave them."""
    with chat.bot.db.transaction() as session:
        for user in users:
            directory.add_account(
                session,
                platform=chat.name,
                account_id=user,
                now=chat.bot.clock.now(),
                email=(email or {}).get(user),
            )


@pytest.fixture(params=["full", "plain"])
def chat(request: pytest.FixtureRequest, make_chat: Any) -> TestPlatform:
    config = {
        "techhelp_triage_channel": TRIAGE,
        "techhelp_admins": [ADMIN],
        "routing": {"staff": [LONG_STAFF]},
    }
    capabilities = FULL if request.param == "full" else PLAIN
    return make_chat(config, capabilities=capabilities, name=request.param)


def test_a_200_character_account_id_asks_is_served_and_answers_a_survey(
    chat: TestPlatform,
) -> None:
    assert len(LONG) == 200
    step = chat.say(LONG, "/techhelp printer on floor 3 is jammed")
    assert "TH-1 is logged" in "\n".join(step.to(LONG))
    assert "printer on floor 3 is jammed" in chat.last(TRIAGE)

    chat.press(LONG_STAFF, "Claim", card="TH-1")
    assert "State: claimed" in chat.last(TRIAGE)
    assert "is now working on TH-1" in chat.last(LONG)
    chat.press(LONG_STAFF, "Resolve", card="TH-1")
    chat.fill(LONG_STAFF, text="Cleared the jam")
    rated = chat.press(LONG, "5", card="TH-1")
    assert "you rated TH-1 5/5" in "\n".join(rated.to(LONG))

    add_people(chat, LONG)
    sent = chat.say(ADMIN, "/pulse send How are your tools?")
    assert "is on its way to 1 person" in "\n".join(sent.to(ADMIN))
    assert "How are your tools?" in chat.last(LONG)
    answered = chat.press(LONG, "4", card="How are your tools?")
    assert "You answered 4" in "\n".join(answered.to(LONG))
