"""Group commit at the core: on SQLite, where a process's transactions take turns anyway, events
handled at the same moment share one transaction and its commit (`chatbot.db.group`), yet each
is stored, refused or failed as if it had run alone, and its caller returns only once its own
work is committed. On PostgreSQL events run side by side: a slow one holds up no other."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, select

from chatbot.addresses import Address
from chatbot.bot import Bot, Context, Event, Routes
from chatbot.clock import FixedClock
from chatbot.config import Settings
from chatbot.db import Database
from chatbot.db.models import Delivery, Interaction
from chatbot.messages import Message, Outgoing, Refusal, Reply, Response
from chatbot.text import Templates

NOW = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)


burst: list[str] = []  # the events of the burst under way, behind the one that holds
quick_done = threading.Event()  # the quick event beside a slow one was answered


def _routes(held: threading.Event, bot_of: list[Bot]) -> Routes:
    routes = Routes()

    @routes.command("note")
    def note(event: Event, ctx: Context) -> Response:
        if event.text == "slow":  # a pulse check to thousands: others are handled meanwhile
            quick_done.wait(30)
            return Reply(Message.plain(f"slow, quick done first: {quick_done.is_set()}"))
        if event.text == "hold":
            # The first event of a group: wait until the others queue behind it, so that the
            # next group holds them all.
            deadline = time.monotonic() + 30
            while len(bot_of[0].group._waiting) < len(burst) and time.monotonic() < deadline:
                time.sleep(0.01)
            held.set()
        if event.text == "refuse":
            ctx.send(_note("refused-note"))
            raise Refusal("not this one")
        if event.text == "boom":
            ctx.send(_note("failed-note"))
            raise RuntimeError("the handler broke")
        # Each sees what the events before it stored, as if they ran one after the other.
        before = ctx.session.scalar(select(Delivery.id).where(Delivery.key == "note:a"))
        ctx.send(_note(f"note:{event.text}"))
        return Reply(Message.plain(f"stored {event.text} (a before: {before is not None})"))

    return routes


def _note(key: str) -> Outgoing:
    return Outgoing(key=key, to=Address.channel("slack", "CNOTES"), message=Message.plain(key))


@pytest.fixture
def grouped(database_url: str) -> Iterator[tuple[Bot, threading.Event, list[int]]]:
    db = Database(database_url)
    db.upgrade()
    held = threading.Event()
    bot_of: list[Bot] = []
    bot = Bot(
        settings=Settings(_env_file=None, database_url=database_url),
        db=db,
        templates=Templates(),
        clock=FixedClock(NOW),
        routes=[_routes(held, bot_of)],
    )
    bot_of.append(bot)
    sizes: list[int] = []
    commit = bot.group._commit

    def counted(group: list[Any]) -> None:
        sizes.append(len(group))
        commit(group)

    bot.group._commit = counted  # type: ignore[method-assign]
    yield bot, held, sizes
    db.dispose()


def _event(text: str, n: int) -> Event:
    return Event(
        platform="slack", kind="command", name="note", user=f"U{n}", key=f"k{n}", text=text
    )


def _burst(bot: Bot, held: threading.Event, texts: list[str]) -> dict[str, Any]:
    """One event that holds its group open, then `texts` at once; what each caller got."""
    outcomes: dict[str, Any] = {}
    burst[:] = texts

    def call(text: str, n: int) -> None:
        try:
            outcomes[text] = bot.handle(_event(text, n))
        except Exception as exc:
            outcomes[text] = exc

    first = threading.Thread(target=call, args=("hold", 0))
    first.start()
    while not bot.group._leading:
        time.sleep(0.005)
    threads = [threading.Thread(target=call, args=(t, i + 1)) for i, t in enumerate(texts)]
    for thread in threads:
        thread.start()
    for thread in [first, *threads]:
        thread.join(60)
    assert held.is_set()
    return outcomes


def _stored(bot: Bot) -> set[str]:
    with bot.db.transaction() as session:
        return set(session.scalars(select(Delivery.key)))


sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@sqlite_only
def test_each_event_of_a_group_is_stored_refused_or_failed_as_if_alone(
    grouped: tuple[Bot, threading.Event, list[int]],
) -> None:
    bot, held, sizes = grouped
    outcomes = _burst(bot, held, ["a", "refuse", "b", "boom", "c", "d"])

    # The six behind the first were committed as one group.
    assert 6 in sizes
    assert isinstance(outcomes["boom"], RuntimeError)
    for text in "abcd":
        reply = outcomes[text]
        assert isinstance(reply, Reply), reply
        assert reply.message.text.startswith(f"stored {text}")
    # A later event of the group sees what an earlier one stored in the shared transaction.
    assert "(a before: True)" in outcomes["d"].message.text
    assert "not this one" in outcomes["refuse"].message.text
    # What the refused and the failed handlers stored is gone; the others' stays.
    assert _stored(bot) == {"note:hold", "note:a", "note:b", "note:c", "note:d"}
    with bot.db.transaction() as session:
        logged = dict(session.execute(select(Interaction.key, Interaction.payload)).all())
    # The refused event is still logged, with its refusal; the failed one is not logged.
    assert logged["k2"]["refused"] == "not this one"
    assert "k4" not in logged
    assert {"k0", "k1", "k3", "k5", "k6"} <= set(logged)


@sqlite_only
def test_a_group_whose_commit_fails_stores_each_event_alone(
    grouped: tuple[Bot, threading.Event, list[int]],
) -> None:
    bot, held, sizes = grouped
    writing = bot.db.writing
    failures = []

    @contextmanager
    def commit_fails() -> Iterator[Connection]:
        with writing() as connection:
            yield connection
            failures.append("commit")
            raise RuntimeError("the database went away at commit")  # rolls the group back

    bot.db.writing = commit_fails  # type: ignore[method-assign]
    outcomes = _burst(bot, held, ["a", "b", "c"])

    assert failures and max(sizes) >= 3
    for text in "abc":
        assert isinstance(outcomes[text], Reply), outcomes[text]
    assert _stored(bot) == {"note:hold", "note:a", "note:b", "note:c"}


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_on_postgresql_a_slow_event_holds_up_no_other(
    grouped: tuple[Bot, threading.Event, list[int]],
) -> None:
    bot, _, sizes = grouped
    quick_done.clear()
    slow: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: slow.update(reply=bot.handle(_event("slow", 1))))
    thread.start()
    time.sleep(0.2)  # the slow event's transaction is open
    quick = bot.handle(_event("quick", 2))
    quick_done.set()
    thread.join(60)
    assert isinstance(quick, Reply) and quick.message.text.startswith("stored quick")
    assert slow["reply"].message.text == "slow, quick done first: True"
    assert sizes == []  # nothing was grouped
