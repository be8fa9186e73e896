"""Pulse checks at the core: a fresh database, a fixed clock, handlers called with neutral events;
assertions on replies, stored answers and outbox rows. End-to-end paths through `chatbot serve`
are in tests/test_pulse_server.py."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from chatbot import directory, surveys
from chatbot.bot import Bot, Event
from chatbot.clock import FixedClock
from chatbot.clock_process import tick
from chatbot.config import Department, PulseSettings, Routing, Settings, SurveyConfig
from chatbot.db.models import (
    Account,
    Delivery,
    Interaction,
    Rating,
    Request,
    SurveyCommentBox,
    SurveyRecipient,
    SurveyRun,
    SurveyTally,
)
from chatbot.messages import CloseForm, FormErrors, Message, OpenForm, ReplaceMessage, Reply
from tests.conftest import sqlite_only
from tests.rendered import slack_blocks, slack_json, slack_texts

ADMIN = "UADMIN"
IT = "CIT"
FINANCE = [f"UFIN{i}" for i in range(4)]
SALES = [f"USAL{i}" for i in range(2)]
OTHERS = [f"UOTH{i}" for i in range(4)]
EVERYONE = FINANCE + SALES + OTHERS
_keys = itertools.count()


def make_bot(
    database_url: str,
    clock: FixedClock,
    *,
    secret_key: str | None = "secret",
    slack_secret: str | None = None,
    **routing: Any,
) -> Bot:
    from chatbot.db import Database
    from chatbot.text import Templates
    from commands import ROUTES

    routing.setdefault("timezone", "America/New_York")
    routing.setdefault(
        "departments",
        [Department(name="Finance", members=FINANCE), Department(name="Sales", members=SALES)],
    )
    settings = Settings(
        database_url=database_url,
        techhelp_admins=[ADMIN],
        techhelp_it_channel=IT,
        techhelp_secret_key=secret_key,
        slack_signing_secret=slack_secret,
        routing=Routing(**routing),
    )
    db = Database(database_url)
    db.upgrade()
    bot = Bot(settings=settings, db=db, templates=Templates(), clock=clock, routes=ROUTES)
    with db.transaction() as session:
        known = set(session.scalars(select(Account.account_id)))
        for user in EVERYONE:
            if user in known:  # a second bot on the same database
                continue
            department = settings.routing.department_of(user)
            directory.add_account(
                session,
                platform="slack",
                account_id=user,
                department=department.name if department else None,
                now=clock.now(),
                active=True,
            )
    return bot


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 1, 5, 14, 0, tzinfo=UTC))  # Monday 09:00 in New York


@pytest.fixture
def bot(database_url: str, clock: FixedClock) -> Iterator[Bot]:
    bot = make_bot(database_url, clock)
    yield bot
    bot.db.dispose()


def chatbot_cli(tmp_path: Path, **env: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`chatbot <args>` run as its own process in `tmp_path`, this checkout on its path, with
    `env` (DATABASE_URL, TECHHELP_CONFIG, …); `input` is typed to it (the console)."""
    root = Path(__file__).resolve().parent.parent
    full = {"PATH": os.environ["PATH"], "PYTHONPATH": str(root), **env}

    def cli(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "chatbot.cli", *args],
            env=full,
            input=input,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )

    return cli


def command(bot: Bot, text: str, user: str = ADMIN) -> Any:
    return bot.handle(
        Event(
            platform="slack",
            kind="command",
            name="pulse",
            user=user,
            key=f"c{next(_keys)}",
            text=text,
        )
    )


def reply_text(response: Any) -> str:
    assert isinstance(response, Reply), response
    return slack_json(response.message)


def deliveries(bot: Bot, prefix: str = "survey-run:") -> list[Delivery]:
    with bot.db.sessions() as session:
        return list(
            session.scalars(
                select(Delivery).where(Delivery.key.startswith(prefix)).order_by(Delivery.id)
            )
        )


def buttons(delivery: Delivery) -> list[dict[str, Any]]:
    message = Message.from_json(delivery.message)
    return [vars(b) for block in message.blocks for b in block.buttons]


def dm(bot: Bot, user: str, run: int = 1) -> Delivery:
    (found,) = deliveries(bot, surveys.copy_key(run, user))
    return found


# The person's latest thank-you per run: in Slack it replaces the message they clicked, so their
# next click (a change, or "Add a comment") comes from its buttons.
_latest: weakref.WeakKeyDictionary[Bot, dict[tuple[str, int], Message]] = (
    weakref.WeakKeyDictionary()
)


def latest_buttons(bot: Bot, user: str, run: int = 1) -> list[dict[str, Any]]:
    thanks = _latest.get(bot, {}).get((user, run))
    if thanks is None:
        return buttons(dm(bot, user, run))
    return [vars(b) for block in thanks.blocks for b in block.buttons]


def click(bot: Bot, user: str, option: int, run: int = 1, key: str | None = None) -> Any:
    button = latest_buttons(bot, user, run)[option]
    response = bot.handle(
        Event(
            platform="slack",
            kind="action",
            name=button["action"],
            user=user,
            key=key or f"a{next(_keys)}",
            value=button["value"],
        )
    )
    if isinstance(response, ReplaceMessage):
        _latest.setdefault(bot, {})[(user, run)] = response.message
    return response


@dataclass
class Answer:
    """An answer as the results count it (the user only on named surveys)."""

    option: int
    department: str | None
    user_id: str | None = None


def answers(bot: Bot, run: int | None = None) -> list[Answer]:
    """The counted answers, one per answer, by option (a named survey's with their person)."""
    with bot.db.sessions() as session:
        tallies = session.scalars(
            select(SurveyTally).order_by(SurveyTally.option, SurveyTally.department)
        ).all()
        named = {
            (r.run_id, r.department, r.option): r.user_id
            for r in session.scalars(select(SurveyRecipient)).all()
            if r.option is not None
        }
    found = []
    for tally in tallies:
        if run is not None and tally.run_id != run:
            continue
        for _ in range(tally.count):
            user = named.get((tally.run_id, tally.department, tally.option))
            found.append(Answer(tally.option, tally.department or None, user))
    return found


def stored_comments(bot: Bot) -> list[str]:
    with bot.db.sessions() as session:
        boxes = session.scalars(select(SurveyCommentBox)).all()
    return [entry["text"] for box in boxes for entry in box.comments.values()]


# --- defining and sending ----------------------------------------------------------------------


def test_quick_pulse_to_everyone_with_five_signed_buttons(bot: Bot) -> None:
    said = reply_text(command(bot, "send How well does IT support you?"))
    assert "PS-1" in said and "10 people" in said
    copies = deliveries(bot)
    assert sorted(d.address_id for d in copies) == sorted(EVERYONE)
    assert {d.key for d in copies} == {surveys.copy_key(1, u) for u in EVERYONE}
    first = buttons(copies[0])
    assert [b["label"] for b in first] == ["1", "2", "3", "4", "5"]
    assert [b["action"] for b in first] == [f"pulse.answer:{i}" for i in range(5)]
    assert all(b["value"].startswith("1.") and len(b["value"]) < 2000 for b in first)
    text = slack_json(copies[0].message)
    assert "How well does IT support you?" in text and "Anonymous" in text


@sqlite_only("a refusal before anything is stored")
def test_non_admins_are_told_and_nothing_is_sent(bot: Bot) -> None:
    said = reply_text(command(bot, "send Hello?", user="UFIN0"))
    assert "Only IT administrators" in said
    assert deliveries(bot) == []
    with bot.db.sessions() as session:
        assert session.scalars(select(SurveyRun)).all() == []


def test_usage_and_empty_audience(database_url: str, clock: FixedClock) -> None:
    bot = make_bot(database_url, clock)
    assert "Usage" in reply_text(command(bot, "send"))
    assert "Usage" in reply_text(command(bot, "frobnicate"))
    with bot.db.transaction() as session:
        for account in session.scalars(select(Account)):
            account.active = False
    said = reply_text(command(bot, "send Anyone there?"))
    assert "Nobody is in that audience" in said and deliveries(bot) == []
    bot.db.dispose()


# --- answering ---------------------------------------------------------------------------------


def test_click_records_and_another_click_changes_the_answer(bot: Bot) -> None:
    command(bot, "send How are we doing?")
    replaced = click(bot, "UFIN0", 3)
    assert isinstance(replaced, ReplaceMessage)
    text = slack_json(replaced.message)
    assert "Thank you" in text and "*4*" in text and "pulse.comment" in text
    primary = [b for b in replaced.message.blocks[1].buttons if b.style == "primary"]
    assert [b.label for b in primary] == ["4"]
    assert [(a.option, a.department) for a in answers(bot)] == [(3, "Finance")]
    changed = click(bot, "UFIN0", 1)
    assert isinstance(changed, ReplaceMessage) and "*2*" in slack_json(changed.message)
    assert [a.option for a in answers(bot)] == [1]  # one answer per person per run


def test_double_delivered_click_records_one_answer(bot: Bot) -> None:
    command(bot, "send How are we doing?")
    assert isinstance(click(bot, "UFIN0", 4, key="same-trigger"), ReplaceMessage)
    assert click(bot, "UFIN0", 0, key="same-trigger") is None  # the retry runs nothing
    assert [a.option for a in answers(bot)] == [4]


def test_anonymous_answers_store_no_identity(bot: Bot, clock: FixedClock) -> None:
    command(bot, "send How are we doing?")
    clock.advance(3723)
    click(bot, "USAL1", 2, key="action:trigger:1767625323.000100")
    (answer,) = answers(bot)
    assert (answer.option, answer.department, answer.user_id) == (2, "Sales", None)
    with bot.db.sessions() as session:
        recipient = session.get(SurveyRecipient, (1, "USAL1"))
        assert recipient is not None and (recipient.version, recipient.option) == (1, None)
        # The interaction log keeps that someone acted that day, not who, what, nor when.
        logged = session.scalars(select(Interaction).where(Interaction.kind == "action")).one()
    assert logged.name == "pulse.answer" and "2" not in json.dumps(logged.payload)
    assert logged.user_id == "-" and logged.at == datetime(2026, 1, 5, tzinfo=UTC)
    assert logged.key.startswith("private:") and "1767625323" not in logged.key


def test_named_survey_keeps_the_user(bot: Bot) -> None:
    bot.handle(form_event({"question": "Rate our laptops", "anonymous": "no"}))
    click(bot, "UFIN1", 0)
    assert [(a.user_id, a.option) for a in answers(bot)] == [("UFIN1", 0)]
    assert "Not anonymous" in slack_json(dm(bot, "UFIN1").message)


def test_comment_opens_a_form_and_is_stored(bot: Bot) -> None:
    command(bot, "send How are we doing?")
    comment_button = buttons(dm(bot, "UFIN0"))  # no comment button before an answer
    assert all(b["action"].startswith("pulse.answer") for b in comment_button)
    replaced = click(bot, "UFIN0", 4)
    button = next(b for b in replaced.message.blocks[1].buttons if b.action == "pulse.comment")
    opened = bot.handle(
        Event(
            platform="slack",
            kind="action",
            name=button.action,
            user="UFIN0",
            key="ac",
            value=button.value,
        )
    )
    assert isinstance(opened, OpenForm) and opened.form.form_id == "pulse.comment_form"
    submitted = bot.handle(
        Event(
            platform="slack",
            kind="form",
            name="pulse.comment_form",
            user="UFIN0",
            key="fc",
            values={"comment": "Fast & friendly <!channel>"},
            context=opened.form.context,
        )
    )
    assert isinstance(submitted, CloseForm)
    assert stored_comments(bot) == ["Fast & friendly <!channel>"]
    # Someone who has not answered cannot comment yet.
    early = bot.handle(
        Event(
            platform="slack",
            kind="form",
            name="pulse.comment_form",
            user="UFIN1",
            key="fc2",
            values={"comment": "hi"},
            context=opened.form.context,
        )
    )
    assert isinstance(early, FormErrors) and "choose an answer first" in early.errors["comment"]


@sqlite_only("the signature is checked before anything is read or stored")
@pytest.mark.parametrize(
    "tamper",
    [
        lambda v: v.replace("1.3.", "1.4.", 1),  # another option under the same signature
        lambda v: "2" + v[1:],  # another run
        lambda v: v[:-1] + ("0" if v[-1] != "0" else "1"),  # a changed signature
        lambda v: "garbage",
    ],
)
def test_forged_button_values_are_refused(bot: Bot, tamper: Any) -> None:
    command(bot, "send How are we doing?")
    button = buttons(dm(bot, "UFIN0"))[3]
    refused = bot.handle(
        Event(
            platform="slack",
            kind="action",
            name="pulse.answer:3",
            user="UFIN0",
            key="forged",
            value=tamper(button["value"]),
        )
    )
    assert "not valid" in reply_text(refused)
    assert answers(bot) == []


@sqlite_only("the signature is checked before anything is read or stored")
def test_a_value_signed_with_another_secret_is_refused(
    database_url: str, clock: FixedClock
) -> None:
    bot = make_bot(database_url, clock)
    command(bot, "send How are we doing?")
    bot.db.dispose()
    rotated = make_bot(database_url, clock, secret_key="rotated")
    assert "not valid" in reply_text(click(rotated, "UFIN0", 0))
    rotated.db.dispose()


def test_the_signing_key_is_techhelps_own_not_slacks(database_url: str, clock: FixedClock) -> None:
    """Without TECHHELP_SECRET_KEY the key is stored on first use: one that signed with the key
    its Slack signing secret used to give keeps it, so buttons already sent still work, and a
    new Slack signing secret afterwards changes nothing."""
    bot = make_bot(database_url, clock, secret_key=None, slack_secret="old-slack")
    command(bot, "send How are we doing?")
    first = buttons(dm(bot, "UFIN0"))[0]
    assert first["value"] == surveys.button_value(
        surveys.key_from_secret("old-slack"), 1, "0", "UFIN0"
    )
    bot.db.dispose()
    rotated = make_bot(database_url, clock, secret_key=None, slack_secret="new-slack")
    assert isinstance(click(rotated, "UFIN0", 0), ReplaceMessage)
    assert isinstance(click(rotated, "UFIN1", 3), ReplaceMessage)
    assert len(answers(rotated)) == 2
    rotated.db.dispose()


def test_stored_secret_when_no_signing_secret(database_url: str, clock: FixedClock) -> None:
    bot = make_bot(database_url, clock, secret_key=None)
    command(bot, "send How are we doing?")
    assert isinstance(click(bot, "UFIN0", 2), ReplaceMessage)
    from chatbot.db.models import Secret

    with bot.db.sessions() as session:
        assert session.get(Secret, "pulse-hmac") is not None
    bot.db.dispose()


def test_clicks_on_a_closed_survey_get_a_polite_answer(bot: Bot) -> None:
    command(bot, "send How are we doing?")
    click(bot, "UFIN0", 4)
    assert "is closed" in reply_text(command(bot, "close PS-1"))
    late = click(bot, "UFIN1", 0)
    said = reply_text(late)
    assert "closed on" in said and "not recorded" in said
    assert [a.option for a in answers(bot)] == [4]
    assert "no open run" in reply_text(command(bot, "close PS-1"))


# --- results -----------------------------------------------------------------------------------


def results_text(bot: Bot, run: int = 1) -> str:
    (posted,) = deliveries(bot, f"survey-results:{run}")
    assert posted.address_id == IT
    return slack_texts(posted.message)


def test_results_known_answers(bot: Bot) -> None:
    command(bot, "send How are we doing?")
    # Finance 4 of 4: 5, 4, 4, 3; Sales 2 of 2: 1, 2; others 1 of 4: 5.
    for user, score in zip(FINANCE, (5, 4, 4, 3), strict=True):
        click(bot, user, score - 1)
    click(bot, "USAL0", 0)
    click(bot, "USAL1", 1)
    click(bot, "UOTH0", 4)
    command(bot, "close PS-1")
    text = results_text(bot)
    assert "7 of 10 (70%)" in text
    assert "*Average:* 3.43 / 5" in text  # 24 / 7
    assert "█░░░░░░░░░  14% (1)  1" in text  # one 1 of seven: 1.4 of 10 cells
    assert "███░░░░░░░  29% (2)  4" in text
    assert "*Finance:* 4 of 4 (100%) · average 4.00" in text
    assert "*Sales:* fewer than 3 answers: not shown" in text
    assert "*No department:* fewer than 3 answers: not shown" in text
    assert "2.00" not in text and "1.50" not in text  # Sales' average is nowhere


def test_change_from_previous_run_and_comment_threshold(bot: Bot, clock: FixedClock) -> None:
    command(bot, "send How are we doing?")
    for user in FINANCE:
        click(bot, user, 1)  # four 2s
    command(bot, "close PS-1")
    clock.advance(7 * 86400)
    command(bot, "send How are we doing?")  # the same question: compared with PS-1
    for user in FINANCE + SALES:
        click(bot, user, 3, run=2)  # six 4s
    for user in FINANCE[:4]:
        comment(bot, user, f"comment from {user}", run=2)
    command(bot, "close PS-2")
    text = results_text(bot, run=2)
    assert "6 of 10 (60%) · +20 points from the previous run" in text
    assert "*Average:* 4.00 / 5 · +2.00 from the previous run (2.00)" in text
    # Everyone (6) minus Finance (4) would be Sales' two answers: Finance is hidden with them.
    assert "*Finance:* not shown, so that a smaller group cannot be worked out" in text
    assert "4 not shown: fewer than 5" in text and "comment from" not in text


def comment(bot: Bot, user: str, text: str, run: int = 1) -> None:
    (button,) = [b for b in latest_buttons(bot, user, run) if b["action"] == "pulse.comment"]
    value = button["value"]
    response = bot.handle(
        Event(
            platform="slack",
            kind="form",
            name="pulse.comment_form",
            user=user,
            key=f"f{next(_keys)}",
            values={"comment": text},
            context=value,
        )
    )
    assert isinstance(response, CloseForm), response


def test_comments_shown_from_five_anonymised(bot: Bot) -> None:
    command(bot, "send How are we doing?")
    for user in FINANCE + SALES:
        click(bot, user, 2)
    for user in (FINANCE + SALES)[:5]:
        comment(bot, user, f"note <@{user}> & more")
    command(bot, "close PS-1")
    text = results_text(bot)
    assert "*Comments (5)*" in text
    assert "note &lt;@UFIN0&gt; &amp; more" in text  # escaped, never a live mention
    assert "<@UFIN0>" not in text


def test_results_command_latest_and_by_id(bot: Bot) -> None:
    assert "No pulse check has been sent" in reply_text(command(bot, "results"))
    command(bot, "send First question?")
    command(bot, "send Second question?")
    assert "Second question?" in reply_text(command(bot, "results"))
    assert "(still open)" in reply_text(command(bot, "results"))
    assert "First question?" in reply_text(command(bot, "results PS-1"))
    assert "There is no survey PS-9" in reply_text(command(bot, "results PS-9"))
    listing = reply_text(command(bot, "list"))
    assert "PS-1" in listing and "PS-2" in listing and "10 sent" in listing


def add_rating(session: Any, user: str, department: str, score: int, at: datetime) -> None:
    request = Request(
        platform="slack",
        requester=user,
        intake_channel="techhelp",
        text="x",
        category="Hardware",
        urgency="normal",
        queue="Service Desk",
        tier=1,
        department=department,
        state="resolved",
        created_at=at,
        updated_at=at,
    )
    session.add(request)
    session.flush()
    session.add(Rating(request_id=request.id, rater=user, score=score, rated_at=at))


def add_ratings(bot: Bot, now: datetime) -> None:
    with bot.db.transaction() as session:
        for i, (score, days_ago, department) in enumerate(
            [
                (5, 1, "Finance"),
                (4, 2, "Finance"),
                (3, 3, "Finance"),
                (2, 40, "Finance"),
                (1, 3, "Sales"),
            ]
        ):
            add_rating(session, f"UR{i}", department, score, now - timedelta(days=days_ago))


def test_request_satisfaction_shows_in_results(bot: Bot, clock: FixedClock) -> None:
    add_ratings(bot, clock.now())
    command(bot, "send How are we doing?")
    command(bot, "close PS-1")
    text = results_text(bot)
    # The last whole week before the close (29 Dec to 4 Jan): Finance 5, 4, 3 and Sales 1. The
    # week before had no rating (the one 40 days back is further), so no change is given.
    assert "*All requests:* 3.25 / 5 from 4\n" in text
    # Everyone (4 ratings, 3.25) minus Finance (3, 4.00) would be Sales' one rating: Finance is
    # hidden with it, as the pulse figures are.
    assert "*Finance:* not shown, so that a smaller group cannot be worked out" in text
    assert "*Sales:* fewer than 3 ratings" in text
    assert "4.00" not in text


def test_request_satisfaction_in_results_hides_a_small_previous_week(
    bot: Bot, clock: FixedClock
) -> None:
    """The change from the week before is given only when that week's figure was shown itself:
    a change against one rating would tell that rating."""
    with bot.db.transaction() as session:
        for i, score in enumerate((5, 5, 4)):  # last week (29 Dec to 4 Jan): Finance, 3 ratings
            add_rating(session, f"UN{i}", "Finance", score, clock.now() - timedelta(days=3))
        add_rating(session, "UN9", "Finance", 1, clock.now() - timedelta(days=12))  # 24 Dec
    command(bot, "send How are we doing?")
    command(bot, "close PS-1")
    text = results_text(bot)
    assert "*All requests:* 4.67 / 5 from 3\n" in text  # the week before: one rating, hidden
    assert text.endswith("*Finance:* 4.67 / 5 from 3") and "week before" not in text


# --- the clock: scheduled runs, reminders, closing ---------------------------------------------


def form_event(values: dict[str, str], user: str = ADMIN) -> Event:
    defaults = {
        "question": "How easy was it to get help?",
        "options": "",
        "audience": "everyone",
        "users": "",
        "schedule": "now",
        "at": "",
        "anonymous": "yes",
        "reminder": "24",
        "closing": "72",
    }
    return Event(
        platform="slack",
        kind="form",
        name="pulse.define",
        user=user,
        key=f"f{next(_keys)}",
        values=defaults | values,
    )


def test_form_custom_options_and_department_audience(bot: Bot) -> None:
    opened = command(bot, "")
    assert isinstance(opened, OpenForm) and opened.form.form_id == "pulse.define"
    response = bot.handle(
        form_event({"options": "Yes\nNo\nNot sure", "audience": "department:Finance"})
    )
    assert isinstance(response, CloseForm)
    assert sorted(d.address_id for d in deliveries(bot)) == FINANCE
    assert [b["label"] for b in buttons(dm(bot, "UFIN0"))] == ["Yes", "No", "Not sure"]


def test_form_several_departments_and_staff(database_url: str, clock: FixedClock) -> None:
    # The audience is a multi-select: Finance and Sales and the IT staff, each person once.
    bot = make_bot(database_url, clock, staff=["USTAFF1", FINANCE[0]])
    response = bot.handle(form_event({"audience": "department:Finance\ndepartment:Sales\nstaff"}))
    assert isinstance(response, CloseForm)
    assert sorted(d.address_id for d in deliveries(bot)) == sorted(
        [*FINANCE, *SALES, "USTAFF1", ADMIN]
    )
    bot.db.dispose()


@sqlite_only("the form's checks refuse it before anything is stored")
@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"question": ""}, "question", "needs a question"),
        ({"options": "Only one"}, "options", "2 to 10"),
        ({"options": "\n".join(str(i) for i in range(11))}, "options", "2 to 10"),
        ({"schedule": "at", "at": "tomorrow"}, "at", "YYYY-MM-DD HH:MM"),
        ({"schedule": "cron", "at": "every day"}, "at", "not a cron expression"),
        ({"closing": "soon"}, "closing", "number of hours"),
        ({"reminder": "80"}, "reminder", "before the survey closes"),
    ],
)
def test_form_bad_input_names_the_field(
    bot: Bot, values: dict[str, str], field: str, message: str
) -> None:
    response = bot.handle(form_event(values))
    assert isinstance(response, FormErrors) and message in response.errors[field]
    assert deliveries(bot) == []


@sqlite_only("a refusal before anything is stored")
def test_non_admin_form_is_refused(bot: Bot) -> None:
    response = bot.handle(form_event({}, user="UFIN0"))
    assert isinstance(response, FormErrors) and deliveries(bot) == []


def at_ny(day: int, hour: int, minute: int = 0) -> datetime:
    """January 2026 in New York (UTC-5)."""
    return datetime(2026, 1, day, hour + 5, minute, tzinfo=UTC)


def test_once_at_a_time_is_sent_by_the_clock(bot: Bot, clock: FixedClock) -> None:
    clock._now = at_ny(5, 8, 0)
    bot.handle(form_event({"schedule": "at", "at": "2026-01-06 10:30"}))
    assert deliveries(bot) == []
    clock._now = at_ny(6, 10, 29)
    assert tick(bot, holder="a") == 0
    clock._now = at_ny(6, 10, 30)
    assert tick(bot, holder="a") == 10
    assert tick(bot, holder="a") == 0
    assert len(deliveries(bot)) == 10


def test_weekly_fires_at_local_time_once(bot: Bot, clock: FixedClock) -> None:
    clock._now = at_ny(2, 12, 0)  # Friday
    bot.handle(form_event({"schedule": "weekly", "at": "10:15", "reminder": "", "closing": "48"}))
    clock._now = at_ny(5, 10, 14)
    assert tick(bot, holder="a") == 0
    clock._now = at_ny(5, 10, 15)
    assert tick(bot, holder="a") == 10
    assert tick(bot, holder="a") == 0
    clock._now = at_ny(7, 10, 15)  # 48 hours later: closed, results to the IT channel
    assert tick(bot, holder="a") == 1
    assert deliveries(bot, "survey-results:1")[0].address_id == IT
    clock._now = at_ny(12, 10, 15)
    assert tick(bot, holder="a") == 10
    with bot.db.sessions() as session:
        runs = session.scalars(select(SurveyRun).order_by(SurveyRun.id)).all()
    assert [r.scheduled_for for r in runs] == [at_ny(5, 10, 15), at_ny(12, 10, 15)]


def test_yaml_survey_monthly_with_restart_and_two_clocks(
    database_url: str, clock: FixedClock
) -> None:
    config = SurveyConfig(
        name="engagement",
        question="How well do your tools work?",
        audience={"staff": True},
        schedule="monthly",
        reminder_hours=None,
        close_hours=24,
    )
    clock._now = at_ny(31, 8, 0) - timedelta(days=30)  # 1 Jan 08:00
    one = make_bot(database_url, clock, surveys=[config], staff=["USTAFF1", "USTAFF2"])
    assert tick(one, holder="one") == 0  # the survey is created; its schedule starts now
    clock._now = at_ny(1, 8, 58)
    tick(one, holder="one")
    one.db.dispose()  # the old clock dies before 09:00; the new one waits out its lease
    two = make_bot(database_url, clock, surveys=[config], staff=["USTAFF1", "USTAFF2"])
    three = make_bot(database_url, clock, surveys=[config], staff=["USTAFF1", "USTAFF2"])
    clock._now = at_ny(1, 9, 0)
    assert tick(two, holder="two") == 0  # the old lease still runs
    clock._now = at_ny(1, 9, 1)
    sent = sum(tick(b, holder=h) for b, h in [(two, "two"), (three, "three")] * 3)
    assert sent == 3  # the admin and two staff, once
    assert sorted(d.address_id for d in deliveries(two)) == ["UADMIN", "USTAFF1", "USTAFF2"]
    with two.db.sessions() as session:
        (run,) = session.scalars(select(SurveyRun)).all()
    assert run.scheduled_for == at_ny(1, 9, 0)
    two.db.dispose()
    three.db.dispose()


def test_yaml_wording_changes_wait_for_the_open_run(database_url: str, clock: FixedClock) -> None:
    """Answers are option numbers: new options in the YAML while a run is open would relabel
    them. The run keeps its wording to the end; the next one has the new."""
    before = SurveyConfig(
        name="tools",
        question="Do your tools work?",
        audience={"staff": True},
        schedule="weekly",
        reminder_hours=None,
        close_hours=24,
    )
    after = before.model_copy(update={"question": "Tools OK?", "options": ["Yes", "No"]})
    clock._now = at_ny(1, 8, 0)
    bot = make_bot(database_url, clock, surveys=[before], staff=["USTAFF1"])
    tick(bot, holder="a")
    clock._now = at_ny(5, 9, 1)  # the first weekly run
    assert tick(bot, holder="a") == 2
    bot.db.dispose()

    bot = make_bot(database_url, clock, surveys=[after], staff=["USTAFF1"])
    clock.advance(60)
    tick(bot, holder="a")
    thanks = click(bot, "USTAFF1", 3)
    assert "*4*" in slack_blocks(thanks.message.blocks)
    clock.advance(24 * 3600)
    tick(bot, holder="a")  # closes the run: its results keep the 1–5 labels
    (results,) = deliveries(bot, "survey-results:1")
    assert "Do your tools work?" in slack_json(results.message) and "Yes" not in slack_json(
        results.message
    )
    clock._now = at_ny(12, 9, 1)  # the next run asks the new question with the new options
    tick(bot, holder="a")
    text = slack_json(dm(bot, "USTAFF1", run=2).message)
    labels = [b["label"] for b in buttons(dm(bot, "USTAFF1", 2))]
    assert "Tools OK?" in text and labels[:2] == ["Yes", "No"]
    bot.db.dispose()


def test_reminder_only_to_non_responders_once(bot: Bot, clock: FixedClock) -> None:
    command(bot, "send How are we doing?")  # reminder after 24 h, closing after 72 h
    for user in FINANCE:
        click(bot, user, 4)
    clock.advance(23 * 3600)
    assert tick(bot, holder="a") == 0
    clock.advance(3600)
    assert tick(bot, holder="a") == 6
    reminders = deliveries(bot, "survey-run:1:remind:")
    assert sorted(d.address_id for d in reminders) == sorted(SALES + OTHERS)
    assert "A reminder" in slack_json(reminders[0].message)
    clock.advance(3600)
    assert tick(bot, holder="a") == 0
    # A reminder button answers the same run.
    value = buttons(reminders[0])[2]["value"]
    bot.handle(
        Event(
            platform="slack",
            kind="action",
            name="pulse.answer:2",
            user=reminders[0].address_id,
            key="r",
            value=value,
        )
    )
    assert len(answers(bot)) == 5


def test_contact_budget_holds_back_and_results_say_so(database_url: str, clock: FixedClock) -> None:
    bot = make_bot(database_url, clock, pulse=PulseSettings(weekly_contact_budget=2))
    command(bot, "send One?")
    command(bot, "send Two?")
    said = reply_text(command(bot, "send Three?"))
    assert "0 people" in said and "10 held back" in said
    assert len(deliveries(bot)) == 20
    command(bot, "close PS-3")
    assert "10 people were not asked" in results_text(bot, run=3)
    clock.advance(8 * 86400)  # a week later the budget is back
    assert "10 people" in reply_text(command(bot, "send Four?"))
    bot.db.dispose()


# --- the CLI -----------------------------------------------------------------------------------


def test_survey_cli_defines_sends_lists_and_refuses_bad_input(tmp_path: Any) -> None:
    config = tmp_path / "c.yml"
    config.write_text(f"departments:\n  - {{name: Finance, members: [{', '.join(FINANCE)}]}}\n")
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    cli = chatbot_cli(
        tmp_path, DATABASE_URL=url, TECHHELP_CONFIG=str(config), TECHHELP_ADMINS=ADMIN
    )

    bot = make_bot(url, FixedClock())  # the schema, and the directory as `clock` syncs it
    created = cli(
        "survey", "create", "--question", "Laptop OK?", "--option", "Yes", "--option", "No",
        "--department", "Finance", "--named",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    copies = deliveries(bot)
    assert sorted(d.address_id for d in copies) == FINANCE
    assert [b["label"] for b in buttons(copies[0])] == ["Yes", "No"]
    assert "Not anonymous" in slack_json(copies[0].message)

    bad = cli("survey", "create", "--question", "Q", "--option", "Only")
    assert bad.returncode == 1 and "options: Give 2 to 10 options" in bad.stderr
    listed = cli("survey", "list")
    assert listed.returncode == 0 and "PS-1" in listed.stdout and "Laptop OK?" in listed.stdout
    results = cli("survey", "results", "PS-1")
    assert "0 of 4" in results.stdout
    assert "is closed" in cli("survey", "close", "1").stdout
    bot.db.dispose()


def test_stop_ends_a_recurring_survey(bot: Bot, clock: FixedClock) -> None:
    clock._now = at_ny(2, 12, 0)
    bot.handle(form_event({"schedule": "weekly"}))
    bot.handle(form_event({"schedule": "at", "at": "2026-01-09 09:00"}))
    said = reply_text(command(bot, "stop PS-1"))
    assert "PS-1* is stopped" in said
    assert "1 scheduled run cancelled" in reply_text(command(bot, "stop PS-2"))
    clock._now = at_ny(5, 9, 0)
    assert tick(bot, holder="a") == 0
    clock._now = at_ny(9, 9, 0)
    assert tick(bot, holder="a") == 0
    assert deliveries(bot) == []
    assert "(stopped)" in reply_text(command(bot, "list"))
    assert "has not been sent yet" in reply_text(command(bot, "results PS-2"))


def test_yaml_surveys_are_validated_naming_the_field(tmp_path: Any) -> None:
    from chatbot.config import ConfigError, load_routing

    path = tmp_path / "c.yml"
    path.write_text(
        "surveys:\n"
        "  - {name: tools, question: 'Tools OK?', schedule: quarterly, audience: {staff: true}}\n"
    )
    (loaded,) = load_routing(path).surveys
    assert loaded.schedule == "0 9 1 1,4,7,10 *" and loaded.audience.staff
    for bad, field in [
        ("{name: a, question: Q, schedule: 'every day'}", "surveys.0.schedule"),
        ("{name: a, question: Q, schedule: weekly, options: [only]}", "surveys.0.options"),
        ("{name: a, question: Q, schedule: weekly, audience: {}}", "surveys.0.audience"),
        ("{name: a, question: Q, schedule: weekly, close_hours: 24}", "surveys.0.close_hours"),
    ]:
        path.write_text(f"surveys:\n  - {bad}\n")
        with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
            load_routing(path)


def test_request_satisfaction_series_per_period_and_department(bot: Bot, clock: FixedClock) -> None:
    add_ratings(bot, clock.now())
    said = reply_text(command(bot, "results satisfaction"))
    # Monday 5 Jan: the six whole weeks to 4 Jan. The last: 5, 4, 3 (Finance) and 1 (Sales);
    # 40 days back only one rating (hidden).
    assert "per week from Monday, UTC: 24 Nov, 01 Dec, 08 Dec, 15 Dec, 22 Dec, 29 Dec" in said
    assert "*All requests:* `·····▅` – → – → – → – → – → 3.25" in said
    assert "Sales" not in said  # one rating: never shown
    # Nor Finance: 4 × 3.25 − 3 × Finance's average would be Sales' rating.
    assert "*Finance:*" not in said


def test_request_satisfaction_series_hides_complementary_departments(
    bot: Bot, clock: FixedClock
) -> None:
    """Per week, the departments shown beside everyone never let a hidden one be worked out;
    with enough ratings hidden together, the others are shown."""
    last_week = clock.now() - timedelta(days=3)
    with bot.db.transaction() as session:
        for i, (department, score) in enumerate(
            [("Finance", 5), ("Finance", 4), ("Finance", 3), ("Sales", 1)]
            + [("Parks", 2), ("Parks", 2), ("Parks", 2), ("Parks", 5)]
        ):
            add_rating(session, f"UQ{i}", department, score, last_week)
    said = reply_text(command(bot, "results satisfaction"))
    # Sales (1) is hidden, and with it Finance (3, the smallest of the others); Parks is shown:
    # everyone minus Parks is Finance and Sales together, 4 ratings.
    assert "*All requests:* `·····▅` – → – → – → – → – → 3.00" in said
    assert "*Parks:* `·····▄` – → – → – → – → – → 2.75" in said
    assert "*Finance:*" not in said and "*Sales:*" not in said


def test_request_satisfaction_published_once_the_week_has_ended(
    bot: Bot, clock: FixedClock
) -> None:
    """A rating made now changes nothing until the week is over (Monday 00:00 UTC): comparing
    the figures before and after one rating tells nothing."""
    add_ratings(bot, clock.now())
    before = reply_text(command(bot, "results satisfaction"))
    with bot.db.transaction() as session:
        for i, score in enumerate((1, 1, 1)):
            add_rating(session, f"UT{i}", "Finance", score, clock.now())
    clock._now = clock.now() + timedelta(days=6, hours=9)  # Sunday 23:00 UTC
    assert reply_text(command(bot, "results satisfaction")) == before
    clock._now = clock.now() + timedelta(hours=1)  # Monday 00:00 UTC: the week is published
    after = reply_text(command(bot, "results satisfaction"))
    assert "01 Dec, 08 Dec, 15 Dec, 22 Dec, 29 Dec, 05 Jan" in after
    assert "*All requests:* `····▅▁` – → – → – → – → 3.25 → 1.00" in after
    assert "*Finance:* `·····▁` – → – → – → – → – → 1.00" in after


def test_trend_line_per_department_over_runs(bot: Bot, clock: FixedClock) -> None:
    clock._now = at_ny(2, 12, 0)
    bot.handle(form_event({"schedule": "weekly", "reminder": "", "closing": "24"}))
    for week, score in enumerate((2, 3, 5)):
        clock._now = at_ny(5 + 7 * week, 9, 0)
        tick(bot, holder="a")
        for user in FINANCE:
            click(bot, user, score - 1, run=week + 1)
        click(bot, "USAL0", 0, run=week + 1)  # Sales: one answer a week, never shown
        clock._now = at_ny(6 + 7 * week, 9, 0)
        tick(bot, holder="a")  # closes the run
    text = results_text(bot, run=3)
    assert "*Trend* (last 3 runs: 05 Jan, 12 Jan, 19 Jan)" in text
    assert "*All respondents:* `▂▄▇` 1.80 → 2.60 → 4.20" in text
    # Everyone (5) minus Finance (4) would be Sales' one answer each week: no Finance line.
    assert "*Finance:* `" not in text
    assert "*Sales:* `" not in text


def test_custom_options_results_and_named_comments(bot: Bot) -> None:
    bot.handle(form_event({"options": "Yes\nNo\nNot sure", "anonymous": "no"}))
    for user, option in zip(FINANCE + SALES, (0, 0, 0, 1, 2, 0), strict=True):
        click(bot, user, option)
    for user in (FINANCE + SALES)[:5]:
        comment(bot, user, f"from {user}")
    command(bot, "close PS-1")
    text = results_text(bot)
    assert "6 of 10 (60%)" in text and "Average" not in text  # options, not a scale
    assert "███████░░░  67% (4)  Yes" in text
    assert "██░░░░░░░░  17% (1)  No" in text
    assert "██░░░░░░░░  17% (1)  Not sure" in text
    assert "*Comments (5)*" in text and "<@UFIN0>: from UFIN0" in text  # named: who said it


@sqlite_only("the length check refuses it before anything is stored")
def test_oversized_question_is_refused_and_nothing_sent(bot: Bot) -> None:
    said = reply_text(command(bot, "send " + "x" * 5000))
    assert "5,000 characters" in said and "Nothing was sent" in said
    assert deliveries(bot) == []
    with bot.db.sessions() as session:
        assert session.scalars(select(SurveyRun)).all() == []


# --- anonymity: what the database, the logs and the published figures can tell ------------------


@pytest.fixture
def other_database_url(database_url: str, tmp_path: Any) -> Iterator[str]:
    """A second, empty database of the same kind."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other.db'}"
    else:
        from tests.conftest import _postgres_database

        yield from _postgres_database()


def dump(bot: Bot) -> dict[str, list[tuple[Any, ...]]]:
    """Every table as an attacker with read access sees it: every column, in storage order
    (SQLite's rowid; PostgreSQL's ctid) with the row's transaction (xmin, ranked)."""
    from sqlalchemy import text

    from chatbot.db.models import Base

    found: dict[str, list[tuple[Any, ...]]] = {}
    with bot.db.engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        for table in sorted(Base.metadata.tables):
            if postgres:
                query = f"SELECT xmin::text::bigint, ctid::text, * FROM {table} ORDER BY ctid"
            else:
                query = f"SELECT rowid, * FROM {table} ORDER BY rowid"
            found[table] = [tuple(row) for row in conn.execute(text(query))]
    if postgres:  # transaction ids are the server's: compare their order, not their numbers
        xids = sorted({row[0] for rows in found.values() for row in rows})
        rank = {xid: i for i, xid in enumerate(xids)}
        found = {t: [(rank[r[0]], *r[1:]) for r in rows] for t, rows in found.items()}
    # The comment row's keys are random ballot tokens (drawn anew in each world): the texts.
    found["survey_comments"] = [
        (*row[:-1], sorted(entry["text"] for entry in _loaded(row[-1]).values()))
        for row in found["survey_comments"]
    ]
    return found


def _loaded(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else value


def answer_world(url: str, choices: dict[str, int], comments: dict[str, str], caplog: Any) -> Any:
    """The same clicks at the same moments, the people's choices being `choices`."""
    global _keys
    _keys = itertools.count()  # the same platform keys in both worlds
    clock = FixedClock(datetime(2026, 1, 5, 14, 0, tzinfo=UTC))
    bot = make_bot(url, clock)
    caplog.clear()
    command(bot, "send How are we doing?")
    for step, (user, option) in enumerate(choices.items()):
        clock.advance(61)
        click(bot, user, option, key=f"action:T{step}:1767625{step:03}.000100")
    clock.advance(61)
    first = next(iter(choices))
    click(bot, first, (choices[first] + 2) % 5, key="action:change:1")  # a change of mind
    # Slack retries a click that was handled long ago: the log must not tell its option.
    click(bot, first, choices[first], key="action:T0:1767625000.000100")
    for user, text in comments.items():
        clock.advance(61)
        comment(bot, user, text)
    logged = [r.getMessage() for r in caplog.records]
    return bot, dump(bot), logged


def test_a_reader_of_the_database_and_logs_cannot_tell_who_answered_what(
    database_url: str, other_database_url: str, caplog: Any
) -> None:
    """Two worlds where the same people click at the same moments but chose differently (and
    wrote each other's comments): every table, in storage order with row versions, and every
    log line are the same. Whatever an attacker sorts or joins, nothing tells the worlds apart,
    so nothing links an answer or a comment to a person."""
    import logging

    caplog.set_level(logging.DEBUG)
    people = ["UFIN0", "UFIN1", "UFIN2", "USAL0", "UOTH0"]
    one, world_a, log_a = answer_world(
        database_url,
        dict(zip(people, (4, 0, 2, 1, 3), strict=True)),
        {"UFIN0": "Great help on Monday", "UFIN1": "Too slow"},
        caplog,
    )
    two, world_b, log_b = answer_world(
        other_database_url,
        dict(zip(people, (0, 4, 1, 3, 2), strict=True)),
        {"UFIN0": "Too slow", "UFIN1": "Great help on Monday"},
        caplog,
    )
    try:
        # The worlds differ: the counts per option do (not by person).
        assert sorted(a.option for a in answers(one)) != sorted(a.option for a in answers(two))
        differing = [t for t in world_a if world_a[t] != world_b[t]]
        assert differing == ["survey_tallies"]
        # ... and there only in the counts: the rows, their order and their versions are equal.
        strip = [row[:-1] for row in world_a["survey_tallies"]]
        assert strip == [row[:-1] for row in world_b["survey_tallies"]]
        assert log_a == log_b
        assert not any("pulse.answer:" in line for line in log_a)
        # Nothing is waiting in the inbox, and the comments are stored once, without a name.
        assert world_a["inbox"] == []
        assert stored_comments(one) != [] and "UFIN" not in json.dumps(world_a["survey_comments"])
    finally:
        one.db.dispose()
        two.db.dispose()


def test_figures_are_published_when_the_run_closes_not_between_clicks(bot: Bot) -> None:
    from chatbot import reports
    from chatbot.reports import Filters

    routing = bot.settings.routing
    filters = Filters(start=datetime(2026, 1, 1).date(), end=datetime(2026, 1, 31).date())

    def published() -> tuple[list[dict[str, Any]], str]:
        with bot.db.reading() as conn:
            rows = reports.pulse_trends(
                conn=conn, filters=filters, routing=routing, min_group=3, by_department=False
            )
        said = reply_text(command(bot, "results PS-1"))
        return rows, said

    command(bot, "send How are we doing?")
    for user in FINANCE[:3]:
        click(bot, user, 4)
    before_rows, before = published()
    click(bot, "UFIN3", 0)  # the click an observer would like to read off the figures
    after_rows, after = published()
    assert before_rows == after_rows == []  # /report and the dashboard: nothing of an open run
    for said in (before, after):
        assert "shown when it closes" in said
        assert "Average" not in said and "Distribution" not in said and "█" not in said
    assert "*Finance:* 3 of 4 (75%) so far" in before and "*Finance:* 4 of 4 (100%) so far" in after
    command(bot, "close PS-1")
    closed_rows, closed = published()
    assert [(r["answers"], r["average"]) for r in closed_rows] == [(4, 4.0)]
    assert "*Average:* 4.00 / 5" in closed


def test_everyone_minus_the_shown_departments_never_reveals_a_hidden_group(
    bot: Bot, clock: FixedClock
) -> None:
    """The finding: Everyone and Finance were shown, Sales (one answer) hidden, so Everyone
    minus Finance was that one person's answer. Finance is now hidden with Sales, everywhere:
    /pulse results and the IT channel, the trend line, the dashboard and the report."""
    from chatbot import reports
    from chatbot.reports import Filters

    clock._now = at_ny(2, 12, 0)
    bot.handle(form_event({"schedule": "weekly", "reminder": "", "closing": "24"}))
    for week in range(2):
        clock._now = at_ny(5 + 7 * week, 9, 0)
        tick(bot, holder="a")
        for user in FINANCE:
            click(bot, user, 3, run=week + 1)
        click(bot, "USAL0", 0, run=week + 1)  # the one answer of Sales: a 1
        clock._now = at_ny(6 + 7 * week, 9, 0)
        tick(bot, holder="a")
    text = results_text(bot, run=2)
    assert "*Average:* 3.40 / 5" in text  # everyone: (4 × 4 + 1) / 5
    assert "*Finance:* not shown, so that a smaller group cannot be worked out" in text
    assert "*Sales:* fewer than 3 answers: not shown" in text
    assert "4.00" not in text  # neither Finance's average nor its trend
    filters = Filters(start=datetime(2026, 1, 1).date(), end=datetime(2026, 1, 31).date())
    finance = Filters(start=filters.start, end=filters.end, department="Finance")
    with bot.db.reading() as conn:
        rows = reports.pulse_trends(
            conn=conn, filters=filters, routing=bot.settings.routing, min_group=3
        )
        alone = reports.pulse_trends(
            conn=conn, filters=finance, routing=bot.settings.routing, min_group=3
        )
    shown = {(r["run"], r["department"]): r["average"] for r in rows}
    assert shown[(2, "Everyone")] == 3.4
    assert shown[(2, "Finance")] is None and shown[(2, "Sales")] is None
    assert [r["average"] for r in alone] == [None, None]  # the filter shows no more


def test_finance_is_shown_when_the_hidden_groups_together_are_large_enough(bot: Bot) -> None:
    command(bot, "send How are we doing?")
    for user in FINANCE:
        click(bot, user, 3)
    for user in ["USAL0", "UOTH0", "UOTH1"]:  # hidden: Sales 1 and no department 2, 3 together
        click(bot, user, 0)
    command(bot, "close PS-1")
    text = results_text(bot)
    assert "*Finance:* 4 of 4 (100%) · average 4.00" in text
    assert "*Sales:* fewer than 3 answers: not shown" in text


def test_only_the_runs_recipients_may_answer_and_the_signature_names_them(bot: Bot) -> None:
    bot.handle(form_event({"audience": "department:Finance"}))
    key = surveys.key_from_secret("secret")

    def press(user: str, value: str) -> Any:
        return bot.handle(
            Event(
                platform="slack",
                kind="action",
                name="pulse.answer:4",
                user=user,
                key=f"n{next(_keys)}",
                value=value,
            )
        )

    # Someone the survey was never sent to, with a correctly signed button of their own.
    outsider = press("USAL0", surveys.button_value(key, 1, "4", "USAL0"))
    assert "was not sent to you" in reply_text(outsider)
    # ... or with a recipient's button.
    borrowed = press("USAL0", surveys.button_value(key, 1, "4", "UFIN0"))
    assert "was not sent to you" in reply_text(borrowed)
    # A recipient pressing another recipient's button: the person in the signature is not them.
    forged = press("UFIN1", surveys.button_value(key, 1, "4", "UFIN0"))
    assert "not valid" in reply_text(forged)
    assert answers(bot) == []
    command(bot, "close PS-1")
    assert "0 of 4" in results_text(bot)  # never "3 of 1"


def test_only_the_latest_message_changes_an_answer(bot: Bot) -> None:
    command(bot, "send How are we doing?")
    first = buttons(dm(bot, "UFIN0"))
    click(bot, "UFIN0", 4)
    old_thanks = latest_buttons(bot, "UFIN0")
    click(bot, "UFIN0", 1)

    def press(button: dict[str, Any]) -> Any:
        return bot.handle(
            Event(
                platform="slack",
                kind="action",
                name=button["action"],
                user="UFIN0",
                key=f"s{next(_keys)}",
                value=button["value"],
            )
        )

    assert "already answered" in reply_text(press(first[2]))  # the original message's button
    assert "already answered" in reply_text(press(old_thanks[0]))  # an older thank-you's
    assert [a.option for a in answers(bot)] == [1]  # counted once, as last chosen


def test_a_comment_cannot_pass_for_the_bots_figures(bot: Bot) -> None:
    command(bot, "send How are we doing?")
    for user in FINANCE + SALES:
        click(bot, user, 0)
    for user in (FINANCE + SALES)[:5]:
        comment(bot, user, "fine\n*Average:* 4.90\n_great_ `code`")
    command(bot, "close PS-1")
    text = results_text(bot)
    lines = text.splitlines()
    assert [line for line in lines if line.startswith("*Average:*")] == ["*Average:* 1.00 / 5"]
    assert "4.90" in text and "*Average:* 4.90" not in text
    assert "• fine ↵ ∗Average:∗ 4.90 ↵ ˍgreatˍ ˋcodeˋ" in lines
