"""A questionnaire item's trend over more than two yearly runs: per item (and per department)
the averages of the last runs that held it, oldest first, an item reworded but kept by its `id`
keeping its line; in the IT channel's results, on `/report` and on the dashboard (CSV)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from chatbot.bot import Bot
from chatbot.clock import FixedClock
from chatbot.text import plain_text
from tests.rendered import slack_json
from tests.test_pulse import FINANCE, OTHERS, command, make_bot
from tests.test_questionnaire import (  # the `clock` fixture too
    ITEMS,
    Person,
    clock,
    close,
    send,
    survey_config,
    two_years,
)

__all__ = ["clock"]  # a fixture


def third_year(bot: Bot, clock: FixedClock) -> None:
    """A third yearly run: "support" reworded again (the same `id`), "first" dropped, a new
    item "training" with no history."""
    items = [
        ITEMS[0],
        dict(ITEMS[1], question="IT helps me when I need it"),
        {"id": "training", "question": "I get the training I need", "section": "Support"},
    ]
    bot.settings.routing.surveys[0] = survey_config(items=items)
    clock.advance(timedelta(days=365).total_seconds())
    send(bot)
    for user in FINANCE + OTHERS:
        person = Person(bot, user, run=3)
        person.answer(0, 4)  # tools: 5 from everyone
        person.answer(1, 2)  # support: 3
        person.answer(2, 1)  # training: 2
    close(bot, clock)


def test_each_item_keeps_its_trend_over_three_years(database_url: str, clock: FixedClock) -> None:
    from chatbot.web.dashboard import Web
    from tests.conftest import DASHBOARD_TOKEN
    from tests.test_dashboard import _table

    bot = make_bot(database_url, clock, surveys=[survey_config()])
    settings = bot.settings.model_copy(update={"techhelp_dashboard_token": DASHBOARD_TOKEN})
    app = Web(settings=settings, db=bot.db, clock=clock)

    def get(path: str) -> str:
        statuses: list[str] = []
        environ = {
            "PATH_INFO": path,
            "REQUEST_METHOD": "GET",
            "QUERY_STRING": "",
            "HTTP_AUTHORIZATION": f"Bearer {DASHBOARD_TOKEN}",
        }
        body = b"".join(app(environ, lambda status, headers: statuses.append(status)))
        assert statuses == ["200 OK"], statuses
        return body.decode()

    try:
        two_years(bot, clock)
        third_year(bot, clock)
        text = plain_text(slack_json(command(bot, "results PS-1").message))
        # tools: 3.25, 4.75, 5.00; support (reworded twice, one id): 3.25, 2.50, 3.00
        assert "Over the last 3 runs: ▅██ 3.25 → 4.75 → 5.00" in text
        assert "Over the last 3 runs: ▅▄▅ 3.25 → 2.50 → 3.00" in text
        assert "IT helps me when I need it" in text
        assert text.count("Over the last") == 2  # the new item has no line yet

        clock.advance(timedelta(days=1).total_seconds())
        report = get("/report")
        rows = {row[6]: row for row in _table(report, "annual")}
        assert "▅██ 3.25 → 4.75 → 5.00" in rows["I have the tools I need"]
        assert "▅▄▅ 3.25 → 2.50 → 3.00" in rows["IT helps me when I need it"]
        assert rows["I get the training I need"][9] == "—"  # no earlier run: no trend
        assert "Finance" not in report

        board = get("/dashboard/csv/questionnaire.csv")
        found = list(csv.DictReader(io.StringIO(board)))
        finance = {
            r["Item id"]: r["Trend over the runs"] for r in found if r["Department"] == "Finance"
        }
        # Finance's own line: 3.00 → 5.00 → 5.00 (four people, above the minimum each year)
        assert finance["tools"] == "▅██ 3.00 → 5.00 → 5.00", finance
    finally:
        bot.db.dispose()


def test_items_reordered_between_years_are_compared_by_their_id(
    database_url: str, clock: FixedClock
) -> None:
    """A closed run's counts are read under the items it was sent with, not the survey's
    items of today: reordered, each item still meets its own figures of the year before."""
    bot = make_bot(database_url, clock, surveys=[survey_config()])
    people = FINANCE + OTHERS
    try:
        send(bot)
        for user in people:
            person = Person(bot, user)
            person.answer(0, 1)  # tools: 2
            person.answer(1, 4)  # support: 5
        close(bot, clock)
        # A year later the YAML puts "support" first.
        bot.settings.routing.surveys[0] = survey_config(items=[ITEMS[1], ITEMS[0], ITEMS[2]])
        clock.advance(timedelta(days=365).total_seconds())
        send(bot)
        for user in people:
            person = Person(bot, user, run=2)
            person.answer(0, 3)  # support: 4
            person.answer(1, 2)  # tools: 3
        close(bot, clock)
        text = plain_text(slack_json(command(bot, "results PS-1").message))
        support, _, tools = text.partition("I have the tools I need")
        assert "average *4.00* (-1.00 from 5.00)" in support
        assert "average *3.00* (+1.00 from 2.00)" in tools
        assert "The score rose on 1 of 2 items" in text
    finally:
        bot.db.dispose()
