"""Questionnaires at the core: a survey of several items sent as one message per person, answered
one click per item (a page of items at a time), results per item and section with the change
from the previous run; bad input refused naming its field. The Slack and Teams flows through
`chatbot serve` are in tests/test_questionnaire_parity.py."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from chatbot.bot import Bot, Event
from chatbot.clock import FixedClock
from chatbot.config import ConfigError, Department, SurveyConfig, load_routing
from chatbot.db.models import Delivery, SurveyCommentBox, SurveyTally
from chatbot.messages import FormErrors, Message, OpenForm, ReplaceMessage, Reply
from chatbot.platforms.slack import render as slack_render
from chatbot.platforms.teams import render as teams_render
from chatbot.surveys import items as quest
from chatbot.text import plain_text
from tests.fakes.slack_api import block_problems
from tests.fakes.teams import activity_problems
from tests.rendered import slack_json
from tests.teams_driver import actions_of
from tests.test_pulse import ADMIN, FINANCE, IT, OTHERS, SALES, chatbot_cli, command, make_bot

_keys = itertools.count()

ITEMS = [
    {"id": "tools", "question": "I have the tools I need", "section": "Tools"},
    {"id": "support", "question": "IT supports me well", "section": "Support"},
    {
        "id": "first",
        "question": "What should IT improve first?",
        "options": ["Speed", "Reliability", "Training"],
        "section": "Support",
    },
    {"id": "else", "question": "Anything else?", "kind": "comment", "section": "Support"},
]


def survey_config(**changes: Any) -> SurveyConfig:
    entry: dict[str, Any] = {
        "name": "annual",
        "question": "Annual customer survey",
        "items": ITEMS,
        "audience": {"everyone": True},
        "schedule": None,  # sent by `send --name` in these tests
        "reminder_hours": 24,
        "close_hours": 72,
    }
    return SurveyConfig.model_validate(entry | changes)


@pytest.fixture
def clock() -> FixedClock:
    from datetime import UTC, datetime

    return FixedClock(datetime(2026, 1, 5, 14, 0, tzinfo=UTC))


@pytest.fixture
def bot(database_url: str, clock: FixedClock) -> Iterator[Bot]:
    bot = make_bot(
        database_url,
        clock,
        surveys=[survey_config()],
        departments=[
            Department(name="Finance", manager="UFIN0", members=FINANCE),
            Department(name="Sales", manager="USAL0", members=SALES),
        ],
    )
    yield bot
    bot.db.dispose()


class Person:
    """One recipient: their questionnaire message as they see it (each click replaces it)."""

    def __init__(self, bot: Bot, user: str, run: int = 1) -> None:
        self.bot, self.user, self.run = bot, user, run
        with bot.db.sessions() as session:
            (delivery,) = session.scalars(
                select(Delivery).where(Delivery.key == f"survey-run:{run}:to:{user}")
            ).all()
        self.message = Message.from_json(delivery.message)

    @property
    def text(self) -> str:
        return slack_json(self.message)

    def buttons(self) -> list[Any]:
        return [b for block in self.message.blocks for b in block.buttons]

    def press(self, action: str, *, value: str | None = None, user: str | None = None) -> Any:
        (button,) = [b for b in self.buttons() if b.action == action]
        response = self.bot.handle(
            Event(
                platform="slack",
                kind="action",
                name=button.action,
                user=user or self.user,
                key=f"q{next(_keys)}",
                value=value or button.value,
            )
        )
        if isinstance(response, ReplaceMessage) and user is None:
            self.message = response.message
        return response

    def answer(self, item: int, option: int) -> Any:
        return self.press(f"pulse.item:{item}-{option}")


def counts(bot: Bot, run: int = 1) -> dict[tuple[int, int], int]:
    """Answers counted per (item, option), all departments together."""
    found: dict[tuple[int, int], int] = {}
    with bot.db.sessions() as session:
        for tally in session.scalars(select(SurveyTally).where(SurveyTally.run_id == run)):
            key = (tally.item, tally.option)
            found[key] = found.get(key, 0) + tally.count
    return {key: n for key, n in found.items() if n}


def send(bot: Bot, name: str = "annual") -> str:
    response = command(bot, f"send --name {name}")
    assert isinstance(response, Reply), response
    return slack_json(response.message)


def close(bot: Bot, clock: FixedClock) -> None:
    clock.advance(timedelta(hours=73).total_seconds())
    from chatbot.clock_process import tick

    tick(bot, holder="a")


# --- sending and answering -----------------------------------------------------------------------


def test_a_yaml_questionnaire_sent_by_name_is_one_message_answered_one_click_per_item(
    bot: Bot,
) -> None:
    assert "on its way to 10 people" in send(bot)
    alice = Person(bot, FINANCE[1])
    assert "Annual customer survey" in alice.text
    assert "3 questions, one click each, and 1 optional comment" in alice.text
    assert all(q["question"] in alice.text for q in ITEMS)
    assert "Tools" in alice.text and "Support" in alice.text  # the section headings
    assert [b.label for b in alice.buttons()][:5] == ["1", "2", "3", "4", "5"]

    alice.answer(0, 3)
    assert "2 of 3 questions remain" in alice.text and "Your answer: *4*" in alice.text
    assert counts(bot) == {(0, 3): 1}
    # An answer changes from her latest message: the count moves, it is not added.
    alice.answer(0, 1)
    assert counts(bot) == {(0, 1): 1}
    alice.answer(2, 2)
    alice.answer(1, 4)
    assert "Thank you" in alice.text and "You answered all 3 questions" in alice.text
    assert counts(bot) == {(0, 1): 1, (1, 4): 1, (2, 2): 1}


def test_a_click_from_an_older_message_of_the_same_person_is_refused(bot: Bot) -> None:
    send(bot)
    alice = Person(bot, FINANCE[1])
    stale = next(b for b in alice.buttons() if b.action == "pulse.item:1-0")
    alice.answer(0, 4)
    refused = alice.press("pulse.item:1-0", value=stale.value)
    assert isinstance(refused, Reply) and "already answered" in slack_json(refused.message)
    assert counts(bot) == {(0, 4): 1}


def test_someone_elses_questionnaire_is_refused(bot: Bot) -> None:
    send(bot)
    alice = Person(bot, FINANCE[1])
    refused = alice.press("pulse.item:0-4", user=FINANCE[2])  # Bob clicks Alice's button
    assert isinstance(refused, Reply) and "not valid" in slack_json(refused.message)
    outsider = alice.press("pulse.item:0-4", user="UNOBODY")  # not a recipient at all
    assert isinstance(outsider, Reply) and "not sent to you" in slack_json(outsider.message)
    assert counts(bot) == {}


def test_a_click_on_an_item_of_a_closed_run_is_refused(bot: Bot, clock: FixedClock) -> None:
    send(bot)
    alice = Person(bot, FINANCE[1])
    close(bot, clock)
    refused = alice.answer(0, 4)
    assert isinstance(refused, Reply) and "closed on" in slack_json(refused.message)
    assert counts(bot) == {}


def test_a_long_questionnaire_pages_five_items_and_moves_on_when_a_page_is_done(
    database_url: str, clock: FixedClock
) -> None:
    items = [{"question": f"Statement number {n}"} for n in range(1, 13)]
    bot = make_bot(database_url, clock, surveys=[survey_config(items=items)])
    try:
        send(bot)
        alice = Person(bot, FINANCE[1])
        assert "Page 1 of 3" in alice.text and "Statement number 5" in alice.text
        assert "Statement number 6" not in alice.text
        for item in range(4):
            alice.answer(item, 2)
            assert "Page 1 of 3" in alice.text
        alice.answer(4, 2)  # the page is done: the next one
        assert "Page 2 of 3" in alice.text and "Statement number 6" in alice.text
        assert "7 of 12 questions remain" in alice.text
        alice.press("pulse.page:0")  # back, to change an answer
        assert "Page 1 of 3" in alice.text and "Your answer: *3*" in alice.text
        alice.answer(0, 4)
        assert counts(bot)[(0, 4)] == 1 and (0, 2) not in counts(bot)
        # That page is done: on to the first page with a question left, her progress kept.
        assert "Page 2 of 3" in alice.text and "7 of 12 questions remain" in alice.text
    finally:
        bot.db.dispose()


def test_a_comment_item_opens_a_form_and_a_10000_character_comment_is_cut_with_a_note(
    bot: Bot, clock: FixedClock
) -> None:
    send(bot)
    alice = Person(bot, FINANCE[1])
    first = alice.press("pulse.item_comment:3")
    assert isinstance(first, Reply) and "answer a question first" in slack_json(first.message)
    alice.answer(0, 4)
    opened = alice.press("pulse.item_comment:3")
    assert isinstance(opened, OpenForm)
    form = opened.form

    def submit(text: str) -> Any:
        return bot.handle(
            Event(
                platform="slack",
                kind="form",
                name=form.form_id,
                user=alice.user,
                key=f"f{next(_keys)}",
                values={"comment": text},
                context=form.context,
            )
        )

    answer = submit("x" * 10_000)
    assert isinstance(answer, FormErrors)
    note = plain_text(answer.errors["comment"])
    assert "10,000 characters" in note and "first 3,000 characters were saved" in note
    with bot.db.sessions() as session:
        (box,) = session.scalars(select(SurveyCommentBox)).all()
    (entry,) = box.comments.values()
    assert len(entry["text"]) == 3000 and entry["user"] is None and entry["item"] == 3
    again = submit("Shorter now")  # a second comment replaces hers
    assert isinstance(again, ReplaceMessage) and "Shorter now" in slack_json(again.message)
    with bot.db.sessions() as session:
        (box,) = session.scalars(select(SurveyCommentBox)).all()
    assert [e["text"] for e in box.comments.values()] == ["Shorter now"]


def test_managers_and_staff_audiences(database_url: str, clock: FixedClock) -> None:
    bot = make_bot(
        database_url,
        clock,
        staff=[OTHERS[0]],
        surveys=[survey_config(audience={"managers": True})],
        departments=[
            Department(name="Finance", manager="UFIN0", members=FINANCE),
            Department(name="Sales", manager="USAL0", members=SALES),
        ],
    )
    try:
        assert "on its way to 2 people" in send(bot)
        with bot.db.sessions() as session:
            sent = sorted(
                d.address_id
                for d in session.scalars(select(Delivery).where(Delivery.key.like("survey-run:%")))
            )
        assert sent == ["UFIN0", "USAL0"]
        # The built-in staff engagement survey goes to IT staff (and the admins).
        reply = command(bot, "send --template staff-engagement")
        assert "on its way to 2 people" in slack_json(reply.message)
        staff = Person(bot, OTHERS[0], run=2)
        assert "IT staff engagement survey" in staff.text and "tools" in staff.text.lower()
    finally:
        bot.db.dispose()


# --- results -------------------------------------------------------------------------------------


def two_years(bot: Bot, clock: FixedClock) -> None:
    """Two yearly runs of the questionnaire, closed: Finance (4 people) and 4 people of no
    department answer; Sales (2) does not."""
    send(bot)
    people = FINANCE + OTHERS  # Sales (2 people) does not answer
    year_one = [(2, 2, 0), (2, 3, 0), (2, 2, 1), (2, 2, 0)]  # Finance
    year_one += [(2, 1, 0), (3, 3, 1), (3, 2, 2), (2, 3, 0)]  # no department
    for user, (a, b, c) in zip(people, year_one, strict=True):
        person = Person(bot, user)
        person.answer(0, a)
        person.answer(1, b)
        person.answer(2, c)
    close(bot, clock)
    # A year later: "support" reworded, kept as the same item by its id.
    renamed = [ITEMS[0], dict(ITEMS[1], question="IT supports me when I need it"), ITEMS[2]]
    bot.settings.routing.surveys[0] = survey_config(items=renamed)
    clock.advance(timedelta(days=365).total_seconds())
    send(bot)
    year_two = [(4, 1, 1), (4, 2, 1), (4, 2, 1), (4, 1, 1)]
    year_two += [(3, 1, 0), (4, 1, 0), (3, 2, 1), (4, 2, 1)]
    for user, (a, b, c) in zip(people, year_two, strict=True):
        person = Person(bot, user, run=2)
        person.answer(0, a)
        person.answer(1, b)
        person.answer(2, c)
    close(bot, clock)


def test_results_per_item_with_change_from_last_year_and_the_headline(
    database_url: str, clock: FixedClock
) -> None:
    bot = make_bot(database_url, clock, surveys=[survey_config()])
    try:
        two_years(bot, clock)
        text = plain_text(slack_json(command(bot, "results PS-1").message))
        assert "The score rose on 1 of 2 items" in text  # tools rose, support fell
        # tools: 3.25 → 4.75; support (reworded, the same id): 3.25 → 2.50
        assert "average *4.75* (+1.50 from 3.25)" in text
        assert "IT supports me when I need it" in text
        assert "average *2.50* (-0.75 from 3.25)" in text
        assert "Speed 25%" in text  # the choice item's distribution
        # Per department, with the minimum group size (3): Sales has no answers.
        assert "Finance: 4 (100%) · 5.00 (+2.00)" in text
        assert "No department: 4 (100%) · 4.50 (+1.00)" in text
        assert "Sales: fewer than 3 answers" in text
        assert "Tools:* 4.75 (+1.50) over 1 item" in text  # per section
    finally:
        bot.db.dispose()


def test_open_run_results_show_only_how_many_answered(bot: Bot) -> None:
    send(bot)
    Person(bot, FINANCE[1]).answer(0, 4)
    text = slack_json(command(bot, "results PS-1").message)
    assert "1 of 10 answered at least one item" in text
    assert "shown when it closes" in text and "average" not in text


# --- limits and bad input ------------------------------------------------------------------------


def test_twenty_items_with_ten_options_stay_within_slack_and_teams_limits(
    database_url: str, clock: FixedClock
) -> None:
    options = [f"Option {n} " + "w" * 60 for n in range(10)]
    items = [
        {"question": f"{n}. " + "A long question " * 30, "options": options, "section": f"S{n}"}
        for n in range(20)
    ]
    bot = make_bot(database_url, clock, surveys=[survey_config(items=items)])
    try:
        send(bot)
        alice = Person(bot, FINANCE[1])
        for page in range(4):
            if page:
                alice.press(f"pulse.page:{page}")
            rendered = slack_render.message(alice.message)
            assert block_problems(rendered["blocks"], 50) == []
            activity = teams_render.activity(alice.message)
            assert activity_problems(activity) == []
            # Nothing left out to fit: every item's every button is on the card.
            verbs = [a["verb"] for a in actions_of(activity) if a.get("type") == "Action.Execute"]
            assert len([v for v in verbs if v.startswith("pulse.item:")]) == 50
            assert len([b for b in alice.buttons() if b.action.startswith("pulse.item:")]) == 50
    finally:
        bot.db.dispose()


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"question": "Q?", "kind": "ranking"}, "surveys.0.items.1.kind"),
        ({"question": "Q?", "options": [f"o{n}" for n in range(11)]}, "surveys.0.items.1.options"),
    ],
)
def test_a_bad_item_stops_start_up_naming_the_field(
    tmp_path: Path, item: dict[str, Any], field: str
) -> None:
    import yaml

    path = tmp_path / "techhelp.yml"
    entry = {"name": "annual", "items": [{"question": "Fine?"}, item], "schedule": "yearly"}
    path.write_text(yaml.safe_dump({"surveys": [entry]}))
    with pytest.raises(ConfigError) as raised:
        load_routing(path)
    assert field in str(raised.value)


def test_more_than_twenty_items_stops_start_up(tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "techhelp.yml"
    entry = {"name": "annual", "items": [{"question": f"Q{n}"} for n in range(21)]}
    path.write_text(yaml.safe_dump({"surveys": [entry]}))
    with pytest.raises(ConfigError) as raised:
        load_routing(path)
    assert "surveys.0.items" in str(raised.value) and "20" in str(raised.value)


def test_items_from_the_form_or_a_file_are_checked_naming_the_item() -> None:
    from chatbot.messages import Refusal

    parsed = quest.parse_items(
        "# Tools\nI have the tools I need\nWhich first? | Speed; Reliability\nMore? | comment"
    )
    assert [(i["kind"], i["section"]) for i in parsed] == [
        ("scale", "Tools"),
        ("choice", "Tools"),
        ("comment", "Tools"),
    ]
    with pytest.raises(Refusal, match=r"items\.2\.kind"):
        quest.parse_items('[{"question": "A"}, {"question": "B", "kind": "ranking"}]')
    with pytest.raises(Refusal, match=r"items\.1\.options"):
        quest.parse_items("Pick | " + "; ".join(f"o{n}" for n in range(11)))


def test_the_built_in_templates_are_valid_surveys() -> None:
    names = quest.builtin_names()
    assert names == ["customer-managers", "staff-engagement", "supported-organisations"]
    engagement = quest.builtin("staff-engagement")
    ids = [item.id for item in engagement.items or []]
    assert {"tools", "support-manager", "training", "flexibility", "environment"} <= set(ids)
    assert quest.builtin("customer-managers").audience.managers


def test_reminder_goes_only_to_those_who_answered_nothing(bot: Bot, clock: FixedClock) -> None:
    send(bot)
    Person(bot, FINANCE[1]).answer(0, 4)
    clock.advance(timedelta(hours=25).total_seconds())
    from chatbot.clock_process import tick

    tick(bot, holder="a")
    with bot.db.sessions() as session:
        reminded = sorted(
            d.address_id
            for d in session.scalars(select(Delivery).where(Delivery.key.like("%:remind:%")))
        )
        reminder = session.scalars(select(Delivery).where(Delivery.key.like("%:remind:%"))).first()
    assert FINANCE[1] not in reminded and len(reminded) == 9
    assert reminder is not None and "A reminder" in slack_json(reminder.message)
    assert IT  # the results go to the IT channel at closing (tested with the pulse)


def test_cli_sends_a_yaml_survey_by_name_and_creates_one_from_a_csv_file(tmp_path: Path) -> None:
    from chatbot.clock import FixedClock

    config = tmp_path / "c.yml"
    config.write_text(
        f"departments:\n  - {{name: Finance, manager: UFIN0, members: [{', '.join(FINANCE)}]}}\n"
        "surveys:\n  - name: annual\n    question: Annual customer survey\n"
        "    audience: {managers: true}\n"
        "    items:\n      - {question: I have the tools I need}\n"
        "      - {question: 'Which first?', options: [Speed, Reliability]}\n"
    )
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    cli = chatbot_cli(
        tmp_path, DATABASE_URL=url, TECHHELP_CONFIG=str(config), TECHHELP_ADMINS=ADMIN
    )

    bot = make_bot(url, FixedClock())  # the schema, and the directory as `clock` syncs it
    try:
        sent = cli("survey", "send", "--name", "annual")
        assert sent.returncode == 0, sent.stderr
        assert "on its way to 1 person" in sent.stdout
        assert Person(bot, "UFIN0").text.count("Which first?") == 1

        items = tmp_path / "items.csv"
        items.write_text(
            "section,question,kind,options\n"
            "Tools,I have the tools I need,,\n"
            "Support,What first?,choice,Speed;Reliability;Training\n"
            "Support,Anything else?,comment,\n"
        )
        created = cli("survey", "create", "--file", str(items), "--question", "From a file")
        assert created.returncode == 0, created.stderr
        from_file = Person(bot, FINANCE[1], run=2)
        assert "From a file" in from_file.text and "2 questions, one click each" in from_file.text
        assert [b.label for b in from_file.buttons()][5:8] == ["Speed", "Reliability", "Training"]

        items.write_text("question,kind\nFine?,\nRank these,ranking\n")
        bad = cli("survey", "create", "--file", str(items), "--question", "Bad")
        assert bad.returncode == 1 and "items.2.kind" in bad.stderr

        template = cli("survey", "template", "staff-engagement")
        assert template.returncode == 0 and "id: tools" in template.stdout
    finally:
        bot.db.dispose()


def test_the_public_report_and_the_dashboard_show_the_latest_year_per_item(
    database_url: str, clock: FixedClock
) -> None:
    import csv
    import io
    import re

    from chatbot.web.dashboard import Web
    from tests.conftest import DASHBOARD_TOKEN
    from tests.test_dashboard import _table

    bot = make_bot(database_url, clock, surveys=[survey_config()])
    settings = bot.settings.model_copy(update={"techhelp_dashboard_token": DASHBOARD_TOKEN})
    app = Web(settings=settings, db=bot.db, clock=clock)

    def get(path: str, query: str = "") -> str:
        statuses: list[str] = []
        environ = {
            "PATH_INFO": path,
            "REQUEST_METHOD": "GET",
            "QUERY_STRING": query,
            "HTTP_AUTHORIZATION": f"Bearer {DASHBOARD_TOKEN}",
        }
        body = b"".join(app(environ, lambda status, headers: statuses.append(status)))
        assert statuses == ["200 OK"], statuses
        return re.sub(r"chart-(title|desc)-\d+", "chart", body.decode())  # ids count renders

    try:
        assert "Annual surveys" not in get("/report")
        two_years(bot, clock)
        clock.advance(timedelta(days=1).total_seconds())
        report = get("/report")
        # Title, sent, the run before, the headline, number, section, question, answers, …
        rows = {row[6]: row for row in _table(report, "annual")}
        tools = rows["I have the tools I need"]
        assert tools[0] == "Annual customer survey" and tools[3] == "rose on 1 of 2 items"
        assert tools[-5:-2] == [
            "4.8",
            "3.2",
            "1.5",
        ]  # average, the year before, change (4.75, 3.25)
        assert "Finance" not in report  # no department on the public page
        board = get("/dashboard/csv/questionnaire.csv")
        found = list(csv.DictReader(io.StringIO(board)))
        finance = [r for r in found if r["Department"] == "Finance" and r["Item id"] == "tools"]
        assert [(r["Answers"], r["Average (1–5)"], r["Change"]) for r in finance] == [
            ("4", "5.0", "2.0")
        ]
        assert not any(r["Department"] == "Sales" for r in found)  # too few answers
        # A third run, open: nothing of it is published until it closes.
        send(bot)
        for user in FINANCE + OTHERS:
            Person(bot, user, run=3).answer(0, 0)
        assert get("/report") == report
    finally:
        bot.db.dispose()
