"""Every form confirms what it did where it was filled in: the alert form ("AL-1 is going out to
1 channel"), the pulse form ("PS-1 is on its way to 2 people", or when it is scheduled), the
rating's and the survey's comments, and the requester's answer. On two platforms of opposite
capabilities: shown where the form was, in the answer to its submit (as Teams' card answer and
the console show it), nothing stored or sent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from chatbot import directory
from chatbot.db.models import Delivery
from tests.platform import FULL, PLAIN, TestPlatform

ALICE = "UALICE"
BOB = "UBOB"
STAFF = "USTAFF"
ADMIN = "UADMIN"
TRIAGE = "CTRIAGE"
CONFIG: dict[str, Any] = {
    "techhelp_triage_channel": TRIAGE,
    "techhelp_admins": [ADMIN],
    "techhelp_alert_channels": ["CALERTS"],
    "routing": {"staff": [STAFF]},
}


@pytest.fixture(params=["full", "plain"])
def chat(request: pytest.FixtureRequest, make_chat: Any) -> TestPlatform:
    capabilities = FULL if request.param == "full" else PLAIN
    chat = make_chat(CONFIG, capabilities=capabilities, name=request.param)
    with chat.bot.db.transaction() as session:  # the directory, as `chatbot clock` syncs it
        for user in (ALICE, BOB):
            directory.add_account(
                session, platform=chat.name, account_id=user, now=chat.bot.clock.now()
            )
    return chat


def open_form(chat: TestPlatform, user: str, command: str, title: str) -> None:
    chat.say(user, command)
    if user not in chat.forms:  # no modals: the form card's button opens it
        chat.press(user, title)
    assert user in chat.forms


def confirmed(chat: TestPlatform, user: str, **values: str) -> str:
    step = chat.fill(user, **values)
    assert not step.errors, step.errors
    return "\n".join(step.to(user))


def test_the_alert_form_confirms_what_went_out(chat: TestPlatform) -> None:
    open_form(chat, ADMIN, "/techalert", "Send an IT alert")
    said = confirmed(chat, ADMIN, message="VPN is down for everyone working off-site")
    assert "AL-1 (outage) is going out to 1 channel" in said, said


def test_the_pulse_form_confirms_how_many_it_went_to_or_when(chat: TestPlatform) -> None:
    open_form(chat, ADMIN, "/pulse", "New pulse check")
    said = confirmed(chat, ADMIN, question="How well does IT support you?")
    assert "PS-1 is on its way to 2 people" in said, said
    open_form(chat, ADMIN, "/pulse", "New pulse check")
    said = confirmed(chat, ADMIN, question="Laptop OK?", schedule="weekly")
    assert "PS-2 is scheduled" in said and "/pulse stop PS-2" in said, said


def test_comments_and_the_requesters_answer_are_confirmed(chat: TestPlatform) -> None:
    chat.say(ALICE, "/techhelp printer on floor 3 is jammed")
    chat.press(STAFF, "Ask requester", card="TH-1")
    chat.fill(STAFF, text="Which printer exactly?")
    chat.press(ALICE, "Answer", card="Which printer")
    said = confirmed(chat, ALICE, text="The one by the kitchen")
    assert "Your answer on TH-1 is sent to the service desk" in said, said

    chat.press(STAFF, "Resolve", card="TH-1")
    chat.fill(STAFF, text="Cleared the jam")
    chat.press(ALICE, "4", card="TH-1")
    chat.press(ALICE, "Add a comment", card="TH-1")
    said = confirmed(chat, ALICE, comment="Quick and kind")
    assert "your comment on TH-1 is recorded" in said, said

    chat.say(ADMIN, "/pulse send How well does IT support you?")
    chat.press(BOB, "4", card="How well does IT support you?")
    chat.press(BOB, "Add a comment", card="Thank you")
    said = confirmed(chat, BOB, comment="More drop-in hours")
    assert "your comment on PS-1 is recorded, without your name" in said, said
    with chat.bot.db.sessions() as session:  # shown in the answer: nothing stored names Bob
        rows = session.scalars(select(Delivery).where(Delivery.address_id == BOB)).all()
        assert not any("comment" in json.dumps(d.message) for d in rows)


def test_the_pulse_form_picks_people_with_each_platforms_picker(chat: TestPlatform) -> None:
    """Slack's people picker, not typed ids; what it submits (account ids) is the survey's
    audience."""
    from chatbot.platforms.slack import render as slack
    from chatbot.platforms.slack import translate
    from chatbot.platforms.teams import render as teams

    open_form(chat, ADMIN, "/pulse", "New pulse check")
    form = chat.forms[ADMIN]
    (users,) = [b for b in slack.view(form)["blocks"] if b.get("block_id") == "users"]
    assert users["element"]["type"] == "multi_users_select"
    assert "comma" not in users["label"]["text"] and "ID" not in users["label"]["text"]
    # Teams' people picker (`choices.data`) is not in the Adaptive Card 1.5 schema its cards
    # are held to: ids are typed there.
    card = teams.form_card(form)
    (typed,) = [e for e in card["body"] if e.get("id") == "users"]
    assert typed["type"] == "Input.Text" and "comma-separated" in typed["placeholder"]

    submitted = translate.form(
        {
            "type": "view_submission",
            "user": {"id": ADMIN},
            "view": {
                "callback_id": form.form_id,
                "private_metadata": "",
                "state": {
                    "values": {
                        "users": {"users": {"type": "multi_users_select", "selected_users": [BOB]}}
                    }
                },
            },
        }
    )
    assert submitted.values["users"] == BOB
    said = confirmed(chat, ADMIN, question="Laptop OK?", users=submitted.values["users"])
    assert "PS-1 is on its way to 1 person" in said, said
