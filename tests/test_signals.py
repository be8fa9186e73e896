"""Signals at the core: a capability reacts to another's change without either importing the
other, in the sender's transaction (what the receiver stores commits or rolls back with the
change); and App Home, which imports neither triage nor pulse, is refreshed by their signals."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from chatbot.addresses import Address
from chatbot.bot import Bot, Context, Event, Routes
from chatbot.clock import FixedClock
from chatbot.config import Settings
from chatbot.db import Database
from chatbot.db.models import Delivery
from chatbot.messages import Message, Outgoing, Refusal, Reply, Response
from chatbot.signals import Signal
from chatbot.text import Templates

NOW = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
_keys = itertools.count()


@dataclass(frozen=True)
class Pinged:
    user: str
    text: str


pinged: Signal[Pinged] = Signal("test.pinged")


def _sender() -> Routes:
    routes = Routes()

    @routes.command("ping")
    def ping(event: Event, ctx: Context) -> Response:
        pinged.send(ctx, Pinged(user=event.user, text=event.text))
        if event.text == "then refuse":
            raise Refusal("refused after the signal was sent")
        return Reply(Message.plain("pong"))

    return routes


def _receiver(name: str, seen: list[str]) -> Routes:
    routes = Routes()

    @routes.connect(pinged)
    def store(ctx: Context, ping: Pinged) -> None:
        seen.append(name)
        ctx.send(
            Outgoing(
                key=f"{name}:{ping.text}:{next(_keys)}",
                to=Address.person("test", ping.user),
                message=Message.plain(f"{name} saw {ping.text}"),
            )
        )

    return routes


def _bot(tmp_path: Path, routes: list[Routes], name: str = "signals") -> Bot:
    url = f"sqlite:///{tmp_path / f'{name}.db'}"
    db = Database(url)
    db.upgrade()
    return Bot(
        settings=Settings(database_url=url),
        db=db,
        templates=Templates(),
        clock=FixedClock(NOW),
        routes=routes,
    )


def _ping(bot: Bot, text: str) -> Response:
    return bot.handle(
        Event(
            platform="test",
            kind="command",
            name="ping",
            user="UALICE",
            key=f"k{next(_keys)}",
            text=text,
        )
    )


def _stored(bot: Bot) -> list[str]:
    with bot.db.sessions() as session:
        return [
            Message.from_json(row.message).text
            for row in session.scalars(select(Delivery).order_by(Delivery.id))
        ]


def test_receivers_run_in_order_in_the_senders_transaction(tmp_path: Path) -> None:
    seen: list[str] = []
    bot = _bot(tmp_path, [_sender(), _receiver("first", seen), _receiver("second", seen)])
    try:
        assert isinstance(_ping(bot, "hello"), Reply)
        assert seen == ["first", "second"]
        assert _stored(bot) == ["first saw hello", "second saw hello"]

        # The sender fails after sending: what the receivers stored is rolled back with it.
        reply = _ping(bot, "then refuse")
        assert isinstance(reply, Reply) and "refused after the signal" in reply.message.text
        assert seen == ["first", "second", "first", "second"]
        assert _stored(bot) == ["first saw hello", "second saw hello"]
    finally:
        bot.db.dispose()


def test_receivers_belong_to_the_bot_that_composed_them(tmp_path: Path) -> None:
    seen: list[str] = []
    with_receiver = _bot(tmp_path, [_sender(), _receiver("home", seen)], "one")
    without = _bot(tmp_path, [_sender()], "two")
    try:
        _ping(without, "nobody listens")
        assert seen == [] and _stored(without) == []
        _ping(with_receiver, "someone listens")
        assert seen == ["home"]
    finally:
        with_receiver.db.dispose()
        without.db.dispose()


# --- App Home reacts to triage and pulse through their signals ---------------------------------


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[Bot]:
    from commands import ROUTES

    url = f"sqlite:///{tmp_path / 'home.db'}"
    db = Database(url)
    db.upgrade()
    bot = Bot(
        settings=Settings(
            database_url=url, techhelp_triage_channel="CTRIAGE", techhelp_admins=["UDESK"]
        ),
        db=db,
        templates=Templates(),
        clock=FixedClock(NOW),
        routes=ROUTES,
    )
    yield bot
    bot.db.dispose()


def _home(bot: Bot, user: str) -> Delivery | None:
    with bot.db.sessions() as session:
        return session.scalar(select(Delivery).where(Delivery.key == f"home:{user}"))


def _mark_home_sent(bot: Bot, user: str) -> None:
    with bot.db.transaction() as session:
        row = session.scalar(select(Delivery).where(Delivery.key == f"home:{user}"))
        assert row is not None
        row.status = "sent"


def _techhelp(bot: Bot) -> str:
    """The intake command's route name (with or without the platform's slash)."""
    return next(name for name in bot.commands if name.lstrip("/") == "techhelp")


def test_home_is_refreshed_when_triage_changes_my_request(bot: Bot) -> None:
    event = Event(platform="slack", kind="event", name="home.opened", user="UALICE", key="open")
    bot.handle(event)
    _mark_home_sent(bot, "UALICE")

    # A request of theirs: triage tells them and sends `request_changed`; their home is due again.
    bot.handle(
        Event(
            platform="slack",
            kind="command",
            name=_techhelp(bot),
            user="UALICE",
            key="req",
            text="my monitor flickers",
        )
    )
    home = _home(bot, "UALICE")
    assert home is not None and (home.status, home.rebuild) == ("pending", True)
    # Someone without a home gets none from a change to their request.
    bot.handle(
        Event(
            platform="slack",
            kind="command",
            name=_techhelp(bot),
            user="UBOB",
            key="req2",
            text="my keyboard is sticky",
        )
    )
    assert _home(bot, "UBOB") is None


def test_home_is_refreshed_when_i_answer_a_survey_or_click_a_closed_one(tmp_path: Path) -> None:
    from tests.test_pulse import FINANCE, click, command, make_bot

    bot = make_bot(f"sqlite:///{tmp_path / 'pulse.db'}", FixedClock(NOW))
    try:
        me = FINANCE[0]
        command(bot, "send How well do your tools work?")
        bot.handle(Event(platform="slack", kind="event", name="home.opened", user=me, key="o1"))
        _mark_home_sent(bot, me)
        click(bot, me, 3)
        home = _home(bot, me)
        assert home is not None and (home.status, home.rebuild) == ("pending", True)

        # After the run closes, a click on the old buttons drops the survey from their home.
        command(bot, "close PS-1")
        _mark_home_sent(bot, me)
        click(bot, me, 4, key="late")
        home = _home(bot, me)
        assert home is not None and (home.status, home.rebuild) == ("pending", True)
    finally:
        bot.db.dispose()
