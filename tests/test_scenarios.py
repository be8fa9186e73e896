"""Shared scenarios, as transcripts on the in-process test platform: what a person does and what
each address is shown, in words, never in a platform's markup. Each runs on two platforms that
declare opposite capabilities (`full`: ephemeral replies, modals, a home view, message lookup;
`plain`: none of them), so where a platform lacks one, the core's fallback must tell the same
story, without a line of `commands/` knowing which platform it runs on."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from chatbot.db.models import Rating
from chatbot.messages import Block, Button, Message, Reply
from tests.platform import CLICK_REPLIES, FULL, PLAIN, TestPlatform

ALICE = "UALICE"
BOB = "UBOB"
STAFF = "USTAFF"
ADMIN = "UADMIN"
TRIAGE = "CTRIAGE"
CONFIG: dict[str, Any] = {
    "techhelp_triage_channel": TRIAGE,
    "techhelp_admins": [ADMIN],
    "routing": {"staff": [STAFF]},
}


@pytest.fixture(params=["full", "plain"])
def chat(request: pytest.FixtureRequest, make_chat: Any) -> TestPlatform:
    capabilities = FULL if request.param == "full" else PLAIN
    return make_chat(CONFIG, capabilities=capabilities, name=request.param)


def told(chat: TestPlatform, step: Any, user: str) -> str:
    """Everything `user` was shown in this step: a reply, or a one-to-one message."""
    return "\n".join(step.to(user))


def test_a_request_from_intake_through_triage_to_its_rating(chat: TestPlatform) -> None:
    step = chat.say(ALICE, "/techhelp printer on floor 3 is jammed")
    to_alice = told(chat, step, ALICE)
    assert "TH-1 is logged" in to_alice and "What happens next" in to_alice
    assert "We have your request TH-1" in to_alice
    card = chat.last(TRIAGE)
    assert "TH-1 · Hardware · normal" in card and "printer on floor 3 is jammed" in card
    assert "[Claim]" in card and "[Resolve]" in card

    chat.press(STAFF, "Claim", card="TH-1")
    assert "State: claimed" in chat.last(TRIAGE) and "[Claim]" not in chat.last(TRIAGE)
    assert "is now working on TH-1" in chat.last(ALICE)

    chat.press(STAFF, "Resolve", card="TH-1")
    refused = chat.fill(STAFF, text="  ")
    assert "text" in refused.errors  # an empty note keeps the form open
    resolved = chat.fill(STAFF, text="Cleared the jam")
    assert "State: resolved" in chat.last(TRIAGE)
    to_alice = told(chat, resolved, ALICE)
    assert "Cleared the jam" in to_alice and "How did we do with TH-1" in to_alice

    rated = chat.press(ALICE, "4", card="TH-1")
    assert "you rated TH-1 4/5" in told(chat, rated, ALICE)
    assert "You have no open requests" in told(chat, chat.say(ALICE, "status"), ALICE)


def test_a_direct_message_follows_one_grammar(chat: TestPlatform) -> None:
    help_text = told(chat, chat.say(ALICE, "help"), ALICE)
    assert "One place to ask IT for anything" in help_text
    assert "You have no open requests" in told(chat, chat.say(ALICE, "Status"), ALICE)

    # Anything else is a request, "help" and "status" included when they are not alone.
    step = chat.say(ALICE, "help me, my laptop will not boot")
    assert "TH-1 is logged" in told(chat, step, ALICE)
    assert "help me, my laptop will not boot" in chat.last(TRIAGE)
    listed = told(chat, chat.say(ALICE, "techhelp status"), ALICE)
    assert "TH-1" in listed and "my laptop will not boot" in listed

    # A leading command word runs that command: pulse is for admins.
    refused = told(chat, chat.say(ALICE, "pulse send Rate us"), ALICE)
    assert "Only IT administrators can run pulse checks" in refused

    # The on-behalf syntax, parsed by the command alone, works by message as by command.
    step = chat.say(STAFF, "techhelp for @UBOB via phone monitor flickers")
    assert "TH-2 is logged for" in told(chat, step, STAFF)
    assert "TH-2" in told(chat, chat.say(BOB, "status"), BOB)
    usage = told(chat, chat.say(STAFF, "/techhelp for someone via phone hi"), STAFF)
    assert "for @person via phone|email|walk-in" in usage


def test_a_form_asked_for_by_message_opens_from_a_button(chat: TestPlatform) -> None:
    """No platform can open a form straight from a free-text message: the answer is a card
    whose button opens it."""
    step = chat.say(ALICE, "techhelp")
    assert "[Ask IT]" in told(chat, step, ALICE) and ALICE not in chat.forms
    chat.press(ALICE, "Ask IT")
    assert chat.forms[ALICE].title == "Ask IT"
    chat.fill(ALICE, description="The wifi in room 12 drops", urgency="high")
    assert "The wifi in room 12 drops" in chat.last(TRIAGE)
    assert "TH-1" in told(chat, chat.say(ALICE, "status"), ALICE)


def test_a_command_opens_its_form_at_once_where_the_platform_can(chat: TestPlatform) -> None:
    step = chat.say(ALICE, "/techhelp")
    if chat.capabilities.modals:
        assert chat.forms[ALICE].title == "Ask IT" and not step.shown
    else:  # the fallback: a card with the button, shown to the person alone
        assert ALICE not in chat.forms and "[Ask IT]" in told(chat, step, ALICE)
        chat.press(ALICE, "Ask IT")
    chat.fill(ALICE, description="Need a second monitor")
    assert "Need a second monitor" in chat.last(TRIAGE)


def test_replies_are_private_to_the_person_who_asked(chat: TestPlatform) -> None:
    step = chat.say(ALICE, "/techhelp status", channel="CGENERAL")
    assert [seen.to for seen in step.shown] == [ALICE]
    assert chat.received("CGENERAL") == []
    how = step.shown[0].how
    assert how == ("reply" if chat.capabilities.ephemeral_replies else "post")


def test_help_reads_the_same_by_command_and_by_message(chat: TestPlatform) -> None:
    by_command = told(chat, chat.say(ALICE, "/techhelp help"), ALICE)
    by_message = told(chat, chat.say(ALICE, "help"), ALICE)
    assert by_command == by_message and "/techhelp <what you need>" in by_command


def test_a_rating_can_be_changed_only_until_its_week_is_published(chat: TestPlatform) -> None:
    """A rating counts in the figures of its week, published on the Monday after (UTC): a change
    after that would move it out of a published figure, which would then change by that one
    rating, so it is refused and the rating kept."""
    chat.say(ALICE, "/techhelp printer on floor 3 is jammed")
    chat.press(STAFF, "Resolve", card="TH-1")
    chat.fill(STAFF, text="Cleared the jam")
    chat.press(ALICE, "4", card="TH-1")
    changed = chat.press(ALICE, "2", card="TH-1")
    assert "you rated TH-1 2/5" in told(chat, changed, ALICE)
    clock = chat.bot.clock
    today = clock.now().date()
    clock._now = datetime.combine(today + timedelta(days=7 - today.weekday()), time(), UTC)
    refused = chat.press(ALICE, "5", card="TH-1")
    assert "already counted in the weekly figures" in told(chat, refused, ALICE)
    with chat.bot.db.sessions() as session:
        assert session.scalars(select(Rating.score)).all() == [2]


@pytest.mark.parametrize("capabilities", [PLAIN, CLICK_REPLIES], ids=["plain", "click-replies"])
def test_a_private_answer_to_a_click_is_its_own_answer_where_the_platform_can(
    make_chat: Any, capabilities: Any
) -> None:
    """A refusal of a click (Alice is not the service desk) is shown to her alone: as the
    click's own answer where the platform has one (Teams' invoke answer), else as a one-to-one
    message. Either way nobody else sees it and the card stays as it was."""
    chat = make_chat(CONFIG, capabilities=capabilities, name="teams")
    chat.say(ALICE, "/techhelp printer on floor 3 is jammed")
    card = chat.last(TRIAGE)
    step = chat.press(ALICE, "Claim", card="TH-1")
    assert [seen.to for seen in step.shown] == [ALICE]
    (seen,) = step.shown
    assert "Only the service desk" in seen.text
    assert seen.how == ("reply" if capabilities.click_replies else "post")
    assert chat.last(TRIAGE) == card


def test_a_private_answer_with_buttons_to_a_click_still_goes_one_to_one(make_chat: Any) -> None:
    """The click's own answer shows text alone: an answer with buttons would lose them, so it
    is a one-to-one message even where the platform answers clicks."""
    chat = make_chat(CONFIG, capabilities=CLICK_REPLIES, name="teams")
    chat.say(ALICE, "/techhelp printer on floor 3 is jammed")
    choice = Message(
        text="Which printer?",
        blocks=(
            Block("section", text="Which printer?"),
            Block("actions", buttons=(Button("Floor 3", "test.printer", "3"),)),
        ),
    )
    chat.bot.handlers[("action", "test.ask")] = lambda event, ctx: Reply(choice)
    step = chat.press_action(ALICE, "test.ask")
    (seen,) = step.shown
    assert (seen.to, seen.how) == (ALICE, "post")
    assert "[Floor 3]" in seen.text
