"""Service-target checks on the clock: an overdue request is escalated in the triage channel once
per target, with its department's manager mentioned; met targets and resolved requests are left
alone. Time is driven, not slept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from chatbot.bot import Bot
from chatbot.clock import FixedClock
from chatbot.clock_process import tick
from chatbot.config import Department, Routing, Settings
from chatbot.db.models import Delivery, Request, RequestEvent
from tests.rendered import slack_json

TRIAGE = "CTRIAGE"
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def make_bot(database_url: str, clock: FixedClock) -> Bot:
    from chatbot.db import Database
    from chatbot.text import Templates
    from commands import ROUTES

    routing = Routing(departments=[Department(name="Finance", manager="UMGR", members=["UFIN"])])
    settings = Settings(database_url=database_url, techhelp_triage_channel=TRIAGE, routing=routing)
    db = Database(database_url)
    db.upgrade()
    return Bot(settings=settings, db=db, templates=Templates(), clock=clock, routes=ROUTES)


def add_request(bot: Bot, *, urgency: str, state: str = "open", responded: bool = False) -> int:
    with bot.db.transaction() as session:
        request = Request(
            platform="slack",
            requester="UFIN",
            intake_channel="techhelp",
            text="Payroll system <!channel> is down",
            category="Software",
            urgency=urgency,
            queue="Service Desk",
            tier=1,
            department="Finance",
            state=state,
            created_at=START,
            first_response_at=START + timedelta(minutes=5) if responded else None,
            updated_at=START,
        )
        session.add(request)
        session.flush()
        return request.id


def notices(bot: Bot) -> list[tuple[str, str]]:
    with bot.db.sessions() as session:
        rows = session.execute(
            select(Delivery.key, Delivery.message)
            .where(Delivery.key.startswith("service-target:"))
            .order_by(Delivery.id)
        )
        return [(key, slack_json(message)) for key, message in rows]


def test_overdue_requests_are_escalated_once_per_target(database_url: str) -> None:
    clock = FixedClock(START)
    bot = make_bot(database_url, clock)
    critical = add_request(bot, urgency="critical")  # 15 minutes, 4 hours
    normal = add_request(bot, urgency="normal", state="claimed", responded=True)  # 240 min, 24 h
    add_request(bot, urgency="critical", state="resolved")

    clock._now = START + timedelta(minutes=14)
    assert tick(bot, holder="a") == 0
    clock._now = START + timedelta(minutes=15)
    assert tick(bot, holder="a") == 1
    assert tick(bot, holder="a") == 0  # once per request per target
    ((key, text),) = notices(bot)
    assert key == f"service-target:{critical}:first-response"
    assert "TH-1" in text and "first-response target of 15 minutes" in text
    assert "<@UMGR>" in text and "<!channel>" not in text  # the manager; user text escaped

    clock._now = START + timedelta(hours=4)
    assert tick(bot, holder="a") == 1  # the critical one's resolution target
    clock._now = START + timedelta(hours=24)
    assert tick(bot, holder="a") == 1  # the normal one's resolution; its response was in time
    assert [k for k, _ in notices(bot)] == [
        f"service-target:{critical}:first-response",
        f"service-target:{critical}:resolution",
        f"service-target:{normal}:resolution",
    ]
    with bot.db.sessions() as session:
        with_delivery = session.scalars(
            select(Delivery.address_id).where(Delivery.key.startswith("service-target:"))
        ).all()
        events = session.scalars(select(RequestEvent).where(RequestEvent.kind == "overdue")).all()
    assert set(with_delivery) == {TRIAGE}
    assert sorted((e.request_id, e.detail["target"]) for e in events) == [
        (critical, "first-response"),
        (critical, "resolution"),
        (normal, "resolution"),
    ]
    bot.db.dispose()


def test_an_escalation_is_remembered_by_the_request_not_the_outbox(database_url: str) -> None:
    """The outbox is a transport: once its rows are purged (sent messages need not be kept),
    a request already escalated is not escalated again."""
    from sqlalchemy import delete

    clock = FixedClock(START)
    bot = make_bot(database_url, clock)
    add_request(bot, urgency="critical")
    clock._now = START + timedelta(minutes=15)
    assert tick(bot, holder="a") == 1
    with bot.db.transaction() as session:
        session.execute(delete(Delivery).where(Delivery.key.startswith("service-target:")))
    clock._now = START + timedelta(minutes=16)
    assert tick(bot, holder="a") == 0
    bot.db.dispose()


def test_a_request_held_for_self_service_counts_from_when_its_card_reaches_the_desk(
    database_url: str, tmp_path: Path
) -> None:
    """While a request's card waits the self-service grace period the service desk cannot see
    it: no escalation then, and its first-response target counts from when the card is due."""
    from chatbot import kb
    from chatbot.bot import Event
    from commands.techhelp import FORM

    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "password.md").write_text(
        "---\ntitle: Reset a forgotten password\nkeywords: [forgot password]\n---\n\n"
        "Open the reset page and enter the code we text you.\n"
    )
    clock = FixedClock(START)
    bot = make_bot(database_url, clock)
    bot.settings = bot.settings.model_copy(
        update={"techhelp_kb": folder, "techhelp_kb_grace": 7200.0}
    )
    with bot.db.transaction() as session:
        kb.sync(session=session, folder=folder, now=START)
    bot.handle(
        Event(
            platform="slack",
            kind="form",
            name=FORM,
            user="UFIN",
            key="form-1",
            values={"description": "I forgot my password", "urgency": "high"},
        )
    )
    with bot.db.sessions() as session:
        held = session.scalars(select(Delivery).where(Delivery.key.endswith(":card"))).one()
    assert held.not_before == START + timedelta(hours=2)  # the card waits the grace period

    clock._now = START + timedelta(minutes=60)  # the high-urgency first-response target
    assert tick(bot, holder="a") == 0  # the desk has not seen it: nothing to escalate
    clock._now = START + timedelta(minutes=179)
    assert tick(bot, holder="a") == 0  # 59 minutes since the card fell due
    clock._now = START + timedelta(minutes=180)
    assert tick(bot, holder="a") == 1
    ((key, text),) = notices(bot)
    assert key.endswith(":first-response") and "first-response target of 60 minutes" in text
    bot.db.dispose()
