"""A questionnaire opened whole as one form (the "Answer in one form" button): every item at
once, filled with the answers already given; a part of it saved keeps the rest unanswered and
the message says how many remain; answers change until the run closes; a closed run's form, or
someone else's, is refused. At the core and within Slack's and Teams' limits; the Slack and Teams
flows through `chatbot serve`, and the console's, are in
tests/test_questionnaire_form_platforms.py."""

from __future__ import annotations

import itertools
from typing import Any

from slack_sdk.models.views import View
from sqlalchemy import select

from chatbot.bot import Bot, Event
from chatbot.clock import FixedClock
from chatbot.db.models import SurveyCommentBox
from chatbot.messages import Form, FormErrors, OpenForm, ReplaceMessage, Reply
from chatbot.platforms.slack import render as slack_render
from chatbot.platforms.teams import render as teams_render
from chatbot.text import plain_text
from tests.fakes.slack_api import block_problems
from tests.fakes.teams import card_problems
from tests.rendered import slack_json
from tests.test_pulse import FINANCE, make_bot
from tests.test_questionnaire import (  # the `bot` and `clock` fixtures too
    Person,
    bot,
    clock,
    close,
    counts,
    send,
    survey_config,
)

_keys = itertools.count()
FORM = "pulse.sheet_form"
__all__ = ["bot", "clock"]  # fixtures


def open_form(person: Person, *, user: str | None = None) -> Any:
    return person.press(FORM, user=user)


def submit(person: Person, form: Form, user: str | None = None, **values: str) -> Any:
    """The form sent back with `values` (field name -> value; a field not named is empty)."""
    response = person.bot.handle(
        Event(
            platform="slack",
            kind="form",
            name=form.form_id,
            user=user or person.user,
            key=f"qf{next(_keys)}",
            values={f.name: values.get(f.name, "") for f in form.fields},
            context=form.context,
        )
    )
    if isinstance(response, ReplaceMessage) and user is None:
        person.message = response.message
    return response


def initial(form: Form) -> dict[str, str | None]:
    return {f.name: f.initial for f in form.fields}


def test_the_whole_questionnaire_opens_as_one_form_filled_with_the_answers_given(
    bot: Bot,
) -> None:
    send(bot)
    alice = Person(bot, FINANCE[1])
    assert "Answer in one form" in [b.label for b in alice.buttons()]
    alice.answer(0, 3)  # one click first
    opened = open_form(alice)
    assert isinstance(opened, OpenForm)
    form = opened.form
    # Every item, in order, each labelled with its section and number; answers given so far.
    labels = [f.label for f in form.fields]
    assert labels[0].startswith("Tools · 1. I have the tools I need")
    assert labels[2] == "Support · 3. What should IT improve first?"
    assert [o.label for o in form.fields[0].options] == ["1", "2", "3", "4", "5"]
    assert [o.label for o in form.fields[2].options] == ["Speed", "Reliability", "Training"]
    assert form.fields[3].multiline and not form.fields[3].options  # the comment item
    assert all(f.optional for f in form.fields)  # any may stay empty
    assert initial(form) == {"item0": "4", "item1": None, "item2": None, "item3": None}
    assert "2 of 3 questions remain" in plain_text(form.intro)

    # Part of it: the choice item and a comment; the second scale item stays unanswered.
    saved = submit(alice, form, item0="4", item2="Training", item3="More laptops")
    assert isinstance(saved, ReplaceMessage)
    assert "1 of 3 questions remain" in alice.text
    assert counts(bot) == {(0, 3): 1, (2, 2): 1}  # the unchanged answer is not counted twice
    with bot.db.sessions() as session:
        (box,) = session.scalars(select(SurveyCommentBox)).all()
    assert [e["text"] for e in box.comments.values()] == ["More laptops"]

    # Opened again from the message the form gave back: everything she gave is filled in.
    again = open_form(alice)
    assert isinstance(again, OpenForm)
    assert initial(again.form) == {
        "item0": "4",
        "item1": None,
        "item2": "Training",
        "item3": "More laptops",
    }
    # Answers change until the run closes: the counts move, nothing is added.
    submit(alice, again.form, item0="2", item1="5", item2="Training", item3="More laptops")
    assert "You answered all 3 questions" in alice.text
    assert counts(bot) == {(0, 1): 1, (1, 4): 1, (2, 2): 1}
    # The message's buttons go on from there: one click changes one answer.
    alice.answer(1, 0)
    assert counts(bot) == {(0, 1): 1, (1, 0): 1, (2, 2): 1}


def test_a_form_from_an_older_message_is_refused_and_changes_nothing(bot: Bot) -> None:
    send(bot)
    alice = Person(bot, FINANCE[1])
    opened = open_form(alice)
    assert isinstance(opened, OpenForm)
    alice.answer(0, 4)  # a click after the form opened: the form's sheet is old
    stale = submit(alice, opened.form, user=alice.user, item0="1", item1="2")
    assert isinstance(stale, FormErrors) and "already answered" in stale.errors["item0"]
    assert counts(bot) == {(0, 4): 1}


def test_a_comment_alone_needs_an_answer_first(bot: Bot) -> None:
    send(bot)
    alice = Person(bot, FINANCE[1])
    opened = open_form(alice)
    assert isinstance(opened, OpenForm)
    refused = submit(alice, opened.form, item3="Just a comment")
    assert isinstance(refused, FormErrors) and "answer a question first" in refused.errors["item3"]
    with bot.db.sessions() as session:
        assert session.scalars(select(SurveyCommentBox)).all() == []


def test_someone_elses_form_and_a_closed_runs_form_are_refused(bot: Bot, clock: FixedClock) -> None:
    send(bot)
    alice = Person(bot, FINANCE[1])
    # Bob presses Alice's button, and submits her form.
    refused = open_form(alice, user=FINANCE[2])
    assert isinstance(refused, Reply) and "not valid" in slack_json(refused.message)
    opened = open_form(alice)
    assert isinstance(opened, OpenForm)
    theirs = submit(alice, opened.form, user=FINANCE[2], item0="5")
    assert isinstance(theirs, FormErrors) and "not valid" in theirs.errors["item0"]
    assert counts(bot) == {}

    close(bot, clock)
    late = submit(alice, opened.form, item0="5")  # opened before closing, sent after
    assert isinstance(late, FormErrors) and "closed on" in late.errors["item0"]
    closed = open_form(alice)
    assert isinstance(closed, Reply) and "closed on" in slack_json(closed.message)
    assert counts(bot) == {}


def test_a_10000_character_comment_in_the_form_is_cut_with_a_note(bot: Bot) -> None:
    send(bot)
    alice = Person(bot, FINANCE[1])
    opened = open_form(alice)
    assert isinstance(opened, OpenForm)
    saved = submit(alice, opened.form, item0="3", item3="x" * 10_000)
    assert isinstance(saved, ReplaceMessage)
    assert "10,000 characters long: its first 3,000 characters were saved" in alice.text
    with bot.db.sessions() as session:
        (box,) = session.scalars(select(SurveyCommentBox)).all()
    assert [len(e["text"]) for e in box.comments.values()] == [3000]


def test_twenty_items_with_ten_options_fit_one_slack_modal_and_one_teams_card(
    database_url: str, clock: FixedClock
) -> None:
    options = [f"Option {n} " + "w" * 60 for n in range(10)]
    items = [
        {"question": f"{n}. " + "A long question " * 30, "options": options, "section": f"S{n}"}
        for n in range(19)
    ] + [{"question": "Anything else?", "kind": "comment"}]
    bot = make_bot(database_url, clock, surveys=[survey_config(items=items)])
    try:
        send(bot)
        alice = Person(bot, FINANCE[1])
        alice.answer(0, 9)
        opened = open_form(alice)
        assert isinstance(opened, OpenForm) and len(opened.form.fields) == 20
        reply_to = "https://hooks.slack.com/actions/T0/1/" + "x" * 24
        view = slack_render.view(opened.form, reply_to=reply_to)
        assert block_problems(view["blocks"], 100) == []
        View(**view).validate_json()  # slack_sdk's checks of the modal (title, 100 blocks…)
        selects = [b["element"] for b in view["blocks"] if b["type"] == "input"][:19]
        assert all(len(s["options"]) == 10 for s in selects)  # no option left out
        assert selects[0]["initial_option"]["value"] == options[9]
        # The modal keeps the click's reply address beside the form's context.
        assert slack_render.from_metadata(view["private_metadata"]) == (
            opened.form.context,
            reply_to,
        )
        assert card_problems(teams_render.form_card(opened.form)) == []
    finally:
        bot.db.dispose()
