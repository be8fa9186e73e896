"""Scheduled maintenance notices on the clock: posted at their time, a reminder in every copy's
thread when the window starts, cancelled before they go out, validated on the form. Time is
driven; the core is called as the Slack adapter calls it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from chatbot.bot import Bot, Event
from chatbot.clock import FixedClock
from chatbot.clock_process import tick
from chatbot.config import Routing, Settings
from chatbot.db.models import Alert, Delivery
from chatbot.messages import CloseForm, FormErrors, Reply
from tests.rendered import slack_json, slack_texts

ADMIN = "UADMIN"
CHANNELS = ["CALERTS1", "CALERTS2"]


def make_bot(database_url: str, clock: FixedClock) -> Bot:
    from chatbot.db import Database
    from chatbot.text import Templates
    from commands import ROUTES

    settings = Settings(
        database_url=database_url,
        techhelp_admins=[ADMIN],
        techhelp_alert_channels=CHANNELS,
        routing=Routing(timezone="America/New_York"),
    )
    db = Database(database_url)
    db.upgrade()
    return Bot(settings=settings, db=db, templates=Templates(), clock=clock, routes=ROUTES)


def submit(bot: Bot, key: str, **values: str):  # type: ignore[no-untyped-def]
    form = {"severity": "maintenance", "service": "VPN", "audience": "channels"} | values
    return bot.handle(
        Event(
            platform="slack", kind="form", name="techalert.send", user=ADMIN, key=key, values=form
        )
    )


def command(bot: Bot, key: str, text: str) -> str:
    reply = bot.handle(
        Event(platform="slack", kind="command", name="techalert", user=ADMIN, key=key, text=text)
    )
    assert isinstance(reply, Reply)
    return slack_texts(reply.message)


def deliveries(bot: Bot) -> list[Delivery]:
    with bot.db.sessions() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def mark_sent(bot: Bot) -> None:
    """What the worker records after posting: where each copy landed."""
    with bot.db.transaction() as session:
        for row in session.scalars(select(Delivery).where(Delivery.status == "pending")):
            row.status, row.sent_conversation, row.message_id = (
                "sent",
                row.address_id,
                f"{row.id}.000100",
            )


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, 5, hour, minute, tzinfo=UTC)


def test_posted_at_its_time_and_reminded_when_the_window_starts(database_url: str) -> None:
    clock = FixedClock(at(14))  # 09:00 in New York
    bot = make_bot(database_url, clock)
    # Typed local times (New York): post at 10:00, window from 11:00.
    answer = submit(
        bot, "f1", message="VPN upgrade", post_at="2026-01-05 10:00", starts_at="2026-01-05 11:00"
    )
    assert isinstance(answer, CloseForm)
    with bot.db.sessions() as session:
        alert = session.scalars(select(Alert)).one()
        assert (alert.state, alert.post_at, alert.starts_at) == ("scheduled", at(15), at(16))
    assert deliveries(bot) == []
    assert "scheduled for Mon 05 Jan 10:00 EST" in command(bot, "c1", "list")

    clock._now = at(14, 59)
    assert tick(bot, holder="a") == 0
    clock._now = at(15)
    assert tick(bot, holder="a") == 2  # one copy per alert channel
    assert tick(bot, holder="a") == 0  # the same minute again: nothing twice
    copies = deliveries(bot)
    assert sorted(c.address_id for c in copies) == CHANNELS
    assert all(
        c.batch == "alert:1" and "window starts Mon 05 Jan 11:00 EST" in slack_json(c.message)
        for c in copies
    )
    mark_sent(bot)

    clock._now = at(16)
    assert tick(bot, holder="a") == 2
    assert tick(bot, holder="a") == 0
    notes = deliveries(bot)[2:]
    assert sorted(n.thread_of for n in notes) == sorted(c.id for c in copies)
    assert all("maintenance window of AL-1 starts now" in slack_json(n.message) for n in notes)
    bot.db.dispose()


def test_two_clocks_post_a_scheduled_notice_once(database_url: str) -> None:
    clock = FixedClock(at(14))
    one, two = make_bot(database_url, clock), make_bot(database_url, clock)
    submit(one, "f1", message="Phones patching", post_at=str(int(at(14, 30).timestamp())))
    tick(one, holder="one")
    tick(two, holder="two")  # stands by: "one" holds the lease
    clock._now = at(14, 30)
    for _ in range(3):
        tick(two, holder="two")
        tick(one, holder="one")
    # Even a clock that wrongly thinks it holds the lease cannot post twice: the state moves
    # from scheduled once, and copies are keyed.
    with one.db.transaction() as session:
        session.execute(update(Alert).values(state="scheduled"))
    tick(one, holder="one")
    assert sorted(d.address_id for d in deliveries(one)) == CHANNELS
    one.db.dispose()
    two.db.dispose()


def test_resolving_a_scheduled_notice_cancels_it(database_url: str) -> None:
    clock = FixedClock(at(14))
    bot = make_bot(database_url, clock)
    submit(bot, "f1", message="Printer firmware", post_at="2026-01-05 12:00")
    assert "is cancelled" in command(bot, "c1", "resolve AL-1")
    assert "No active alerts" in command(bot, "c2", "list")
    clock._now = at(18)
    assert tick(bot, holder="a") == 0
    assert deliveries(bot) == []
    assert "already cancelled" in command(bot, "c3", "resolve AL-1")
    bot.db.dispose()


def test_update_of_a_scheduled_notice_is_refused(database_url: str) -> None:
    bot = make_bot(database_url, FixedClock(at(14)))
    submit(bot, "f1", message="Printer firmware", post_at="2026-01-05 12:00")
    assert "is not posted yet" in command(bot, "c1", "update AL-1 moved to 13:00")
    assert deliveries(bot) == []
    bot.db.dispose()


def test_bad_times_are_refused_beside_the_field(database_url: str) -> None:
    bot = make_bot(database_url, FixedClock(at(14)))
    cases = [
        ({"starts_at": "tomorrow"}, "starts_at", "YYYY-MM-DD HH:MM"),
        ({"starts_at": "2026-01-05 08:00"}, "starts_at", "already passed"),
        ({"severity": "outage", "starts_at": "2026-01-05 11:00"}, "starts_at", "maintenance"),
        (
            {"post_at": "2026-01-05 12:00", "starts_at": "2026-01-05 11:00"},
            "post_at",
            "after the window starts",
        ),
    ]
    for i, (values, field, expected) in enumerate(cases):
        answer = submit(bot, f"f{i}", message="Work", **values)
        assert isinstance(answer, FormErrors), values
        assert expected in answer.errors[field]
    with bot.db.sessions() as session:
        assert session.scalars(select(Alert)).all() == []
    bot.db.dispose()
