"""The inbox at the core: events stored before their ack (from many request threads at once) and
handled after it, once, with retries, by a worker on a clock that moves when told."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from chatbot.bot import Bot, Event, Routes
from chatbot.clock import FixedClock
from chatbot.config import Settings
from chatbot.db import Database
from chatbot.db.models import InboxEvent, Interaction
from chatbot.inbox import MAX_ATTEMPTS, Inbox
from chatbot.messages import Message, Refusal, ReplaceMessage, Response
from chatbot.text import Templates


class Flaky:
    """A deferred click handler that fails its first `failures` calls."""

    def __init__(self) -> None:
        self.failures = 0
        self.calls: list[str] = []

    def __call__(self, event: Event, ctx: Any) -> Response:
        self.calls.append(event.value)
        if event.value == "refuse":
            raise Refusal("That button is not valid.")
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the database went away")
        return ReplaceMessage(Message.plain(f"recorded {event.value}"))


def make_inbox(
    database_url: str, *, private: bool = False
) -> tuple[Inbox, Flaky, FixedClock, list[Any]]:
    """An inbox on a bot whose one deferred route (`test.click`) is a `Flaky` handler; the
    replies it gives are collected. `private`: the route of an anonymous survey's click."""
    routes = Routes()
    handler = Flaky()
    routes.action("test.click", private=private, deferred=True)(handler)
    clock = FixedClock()
    db = Database(database_url)
    db.upgrade()
    bot = Bot(
        settings=Settings(database_url=database_url),
        db=db,
        templates=Templates(),
        clock=clock,
        routes=[routes],
    )
    replies: list[tuple[Event, Response]] = []
    inbox = Inbox(bot, {"test": lambda event, response: replies.append((event, response))})
    return inbox, handler, clock, replies


@pytest.fixture
def setup(database_url: str) -> Iterator[tuple[Inbox, Flaky, FixedClock, list[Any]]]:
    parts = make_inbox(database_url)
    yield parts
    parts[0].bot.db.dispose()


def click(key: str, value: str = "4") -> Event:
    return Event(
        platform="test",
        kind="action",
        name="test.click:4",
        user="UALICE",
        key=key,
        value=value,
        reply_to=f"https://reply.example/{key}",
    )


def stored(inbox: Inbox) -> list[InboxEvent]:
    with inbox.bot.db.sessions() as session:
        return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def test_the_route_is_deferred_and_its_event_survives_the_store(setup) -> None:  # type: ignore[no-untyped-def]
    inbox, handler, _, replies = setup
    event = click("k1")
    assert inbox.bot.defers(event)
    assert not inbox.bot.defers(Event("test", "action", "other", "U1", "k2"))
    inbox.accept(event)
    assert handler.calls == [] and replies == []  # stored, not handled
    (row,) = stored(inbox)
    assert Event.from_json(row.event) == event

    assert inbox.run_once() == 1
    assert handler.calls == ["4"] and stored(inbox) == []
    ((replied_to, response),) = replies
    assert replied_to.reply_to == "https://reply.example/k1"
    assert isinstance(response, ReplaceMessage) and response.message.text == "recorded 4"


def test_many_request_threads_store_every_event_once(setup) -> None:  # type: ignore[no-untyped-def]
    inbox, handler, _, replies = setup
    keys = [f"k{i}" for i in range(60)]
    start = threading.Barrier(120)
    errors: list[BaseException] = []

    def request(key: str) -> None:  # each key twice: Slack's retry races its first delivery
        start.wait()
        try:
            inbox.accept(click(key))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=request, args=(k,)) for k in keys + keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(row.key for row in stored(inbox)) == sorted(keys)
    while inbox.run_once():
        pass
    assert len(handler.calls) == len(replies) == 60
    with inbox.bot.db.sessions() as session:
        assert session.scalar(select(text("count(*)")).select_from(Interaction)) == 60


def test_a_retry_after_handling_is_not_handled_again(setup) -> None:  # type: ignore[no-untyped-def]
    inbox, handler, _, replies = setup
    inbox.accept(click("k1"))
    inbox.run_once()
    inbox.accept(click("k1"))  # Slack's retry, arriving after the first was handled
    inbox.run_once()
    assert handler.calls == ["4"] and len(replies) == 1 and stored(inbox) == []


def test_a_stopping_worker_hands_back_what_it_claimed(setup) -> None:  # type: ignore[no-untyped-def]
    inbox, handler, _, _ = setup
    for key in ("k1", "k2"):
        inbox.accept(click(key))
    inbox.stop()  # a deploy's SIGTERM: the next process takes them at once, not after the lease
    assert inbox.run_once() == 2
    assert handler.calls == []
    assert [(row.lease_until, row.attempts) for row in stored(inbox)] == [(None, 0), (None, 0)]


def test_a_failure_is_retried_after_a_backoff_and_then_handled_once(setup) -> None:  # type: ignore[no-untyped-def]
    inbox, handler, clock, replies = setup
    handler.failures = 2
    inbox.accept(click("k1"))
    assert inbox.run_once() == 1
    (row,) = stored(inbox)
    assert row.attempts == 1 and "the database went away" in (row.last_error or "")
    assert row.lease_until == clock.now() + timedelta(seconds=2) and replies == []
    clock.advance(1.5)
    assert inbox.run_once() == 0  # not before its backoff
    clock.advance(1)
    assert inbox.run_once() == 1  # fails again: the backoff doubles
    (row,) = stored(inbox)
    assert row.lease_until == clock.now() + timedelta(seconds=4)
    clock.advance(3.5)
    assert inbox.run_once() == 0
    clock.advance(1)
    assert inbox.run_once() == 1
    assert handler.calls == ["4", "4", "4"] and stored(inbox) == []
    assert [response.message.text for _, response in replies] == ["recorded 4"]


def test_an_event_that_keeps_failing_is_kept_and_the_person_told(setup) -> None:  # type: ignore[no-untyped-def]
    inbox, handler, clock, replies = setup
    handler.failures = 100
    inbox.accept(click("k1"))
    for _ in range(MAX_ATTEMPTS + 2):
        inbox.run_once()
        clock.advance(120)
    assert len(handler.calls) == MAX_ATTEMPTS
    ((_, response),) = replies
    assert "not recorded" in response.message.text
    (row,) = stored(inbox)  # kept for the operator, never claimed again
    assert row.attempts == MAX_ATTEMPTS and row.lease_until is None
    assert "RuntimeError" in (row.last_error or "")


def test_a_refusal_is_answered_and_the_event_consumed(setup) -> None:  # type: ignore[no-untyped-def]
    inbox, _, _, replies = setup
    inbox.accept(click("k1", value="refuse"))
    inbox.run_once()
    ((_, response),) = replies
    assert "not valid" in response.message.text and stored(inbox) == []
    with inbox.bot.db.sessions() as session:
        (logged,) = session.scalars(select(Interaction))
    assert logged.payload["refused"] == "That button is not valid."


def test_a_store_that_fails_raises_in_every_waiting_request(setup) -> None:  # type: ignore[no-untyped-def]
    inbox, _, _, _ = setup
    with inbox.bot.db.transaction() as session:
        session.execute(text("DROP TABLE inbox"))
    with pytest.raises(Exception, match="inbox"):
        inbox.accept(click("k1"))


def test_a_private_click_that_keeps_failing_is_not_kept(database_url: str) -> None:
    """An anonymous survey's click holds who clicked what: it is told like any other, but its
    row is deleted rather than kept, and the log names the route, never the option."""
    import logging

    inbox, handler, clock, replies = make_inbox(database_url, private=True)
    handler.failures = 100
    seen: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    catcher = Catch()
    logging.getLogger("chatbot").addHandler(catcher)
    try:
        inbox.accept(click("k1"))
        for _ in range(MAX_ATTEMPTS + 2):
            inbox.run_once()
            clock.advance(120)
    finally:
        logging.getLogger("chatbot").removeHandler(catcher)
        inbox.bot.db.dispose()
    assert len(handler.calls) == MAX_ATTEMPTS
    ((_, response),) = replies
    assert "not recorded" in response.message.text
    assert stored(inbox) == []
    assert seen and not any("test.click:4" in line or "k1" in line for line in seen)
