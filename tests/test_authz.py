"""Who may do what, at the core and through the signed HTTP path: only the service desk acts on
triage cards, whatever request id a button or a form carries; an alert is seen and reported on
only by its audience; a request is rated only once it is resolved; an admin's alert text is not
live in the message's fallback text."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from chatbot import directory
from chatbot.bot import Bot, Event
from chatbot.clock import FixedClock
from chatbot.config import Department, Queue, Routing, Settings
from chatbot.db.models import (
    AffectedVote,
    Alert,
    Delivery,
    Interaction,
    Rating,
    Request,
    RequestEvent,
)
from chatbot.messages import CloseForm, FormErrors, Message, OpenForm, ReplaceMessage, Reply
from chatbot.platforms.slack import render
from chatbot.text import plain_text
from tests.conftest import Server, sqlite_only
from tests.rendered import slack_json

ADMIN = "UADMIN"
STAFF = "USTAFF"
ALICE = "UALICE"  # Finance, the requester
BOB = "UBOB"  # Sales
NOBODY = "UNOBODY"  # in no department, not staff
BRM = "UBRM"  # a member of the "Business Relationship" queue only
TRIAGE = "CTRIAGE"
ALERTS = "CALERTS"
REFUSED = "Only the service desk can act on request cards"

_keys = itertools.count()


@pytest.fixture
def bot(database_url: str) -> Iterator[Bot]:
    from chatbot.db import Database
    from chatbot.text import Templates
    from commands import ROUTES

    settings = Settings(
        database_url=database_url,
        techhelp_admins=[ADMIN],
        techhelp_triage_channel=TRIAGE,
        techhelp_alert_channels=[ALERTS],
        routing=Routing(
            staff=[STAFF],
            departments=[
                Department(name="Finance", members=[ALICE]),
                Department(name="Sales", members=[BOB]),
            ],
            queues=[Queue(name="Business Relationship", members=[BRM])],
        ),
    )
    db = Database(database_url)
    db.upgrade()
    clock = FixedClock(datetime(2026, 1, 5, 14, 0, tzinfo=UTC))
    with db.transaction() as session:  # the directory `chatbot clock` syncs
        for user in (ALICE, BOB, NOBODY, STAFF, BRM):
            department = settings.routing.department_of(user)
            directory.add_account(
                session,
                platform="slack",
                account_id=user,
                department=department.name if department else None,
                now=clock.now(),
            )
    bot = Bot(settings=settings, db=db, templates=Templates(), clock=clock, routes=ROUTES)
    yield bot
    db.dispose()


def handle(bot: Bot, kind: str, name: str, user: str, **fields: Any) -> Any:
    return bot.handle(
        Event(platform="slack", kind=kind, name=name, user=user, key=f"k{next(_keys)}", **fields)  # type: ignore[arg-type]
    )


def techhelp(bot: Bot, text: str, user: str = ALICE) -> Any:
    return handle(bot, "command", "techhelp", user, text=text)


def said(response: Any) -> str:
    """What the person is shown on Slack: a reply, a replaced message, or errors beside a
    form's fields (an action that went through without a word shows nothing)."""
    if response is None:
        return "(nothing: the action went through)"
    if isinstance(response, FormErrors):
        return json.dumps({name: plain_text(error) for name, error in response.errors.items()})
    assert isinstance(response, Reply | ReplaceMessage), response
    return slack_json(response.message)


def one(bot: Bot, query: Any) -> Any:
    with bot.db.sessions() as session:
        return session.scalar(query)


def new_request(bot: Bot, text: str = "printer on floor 3 is jammed") -> Request:
    techhelp(bot, text)
    with bot.db.sessions() as session:
        request = session.scalars(select(Request).order_by(Request.id.desc())).first()
        assert request is not None
        session.expunge(request)
        return request


def state(bot: Bot, request_id: int) -> tuple[str, str | None, int, int]:
    """The request as the service desk and the requester see it: state, assignee, tier, and
    how many messages were stored to send (card edits, direct messages)."""
    with bot.db.sessions() as session:
        request = session.get(Request, request_id)
        assert request is not None
        outbox = session.scalar(select(func.count()).select_from(Delivery))
        return request.state, request.assignee, request.tier, outbox


def resolve(bot: Bot, request_id: int) -> None:
    """The service desk resolves the request from its card."""
    handle(
        bot,
        "form",
        "triage.resolve_form",
        STAFF,
        values={"text": "Cleared"},
        context=str(request_id),
    )


def refused_log(bot: Bot, user: str) -> list[str]:
    with bot.db.sessions() as session:
        rows = session.scalars(select(Interaction).where(Interaction.user_id == user)).all()
        return [row.payload["refused"] for row in rows if "refused" in row.payload]


# Who may act is decided from the configuration and the request's queue, before anything is
# changed; what the audience queries read stays on both databases (section 7).
CARD_RULE = "a permission decided from the configuration before anything changes"

# --- 5. only the service desk acts on a card ----------------------------------------------------

BUTTONS = ("triage.claim", "triage.escalate", "triage.ask", "triage.resolve")
FORMS = {"triage.resolve_form": "fixed it myself", "triage.ask_form": "what is your password?"}


@sqlite_only(CARD_RULE)
@pytest.mark.parametrize("intruder", [BOB, NOBODY, ALICE])
def test_only_the_service_desk_acts_on_a_card(bot: Bot, intruder: str) -> None:
    """An employee (of another department, of none, or the requester herself) presses every
    card button with the request's id, and submits the resolve and ask forms with it as their
    context: each is refused with a clear message, logged, and nothing changes."""
    request = new_request(bot)
    before = state(bot, request.id)
    for action in BUTTONS:
        reply = handle(bot, "action", action, intruder, value=str(request.id))
        assert REFUSED in said(reply), action
    for form, text in FORMS.items():
        reply = handle(bot, "form", form, intruder, values={"text": text}, context=str(request.id))
        assert isinstance(reply, FormErrors) and REFUSED in reply.errors["text"], form
    assert state(bot, request.id) == before
    assert one(bot, select(func.count()).select_from(RequestEvent)) == 1  # "created" only
    asked = one(
        bot, select(func.count()).select_from(Delivery).where(Delivery.key.contains("asked"))
    )
    assert asked == 0  # no "needs your input" in the bot's name
    assert len(refused_log(bot, intruder)) == len(BUTTONS) + len(FORMS)

    # Reopening a resolved request from the card is the service desk's too.
    resolve(bot, request.id)
    resolved = state(bot, request.id)
    assert resolved[0] == "resolved"
    assert REFUSED in said(handle(bot, "action", "triage.reopen", intruder, value=str(request.id)))
    assert state(bot, request.id) == resolved


@sqlite_only(CARD_RULE)
def test_a_forged_id_is_refused_without_saying_whether_it_exists(bot: Bot) -> None:
    request = new_request(bot)
    for value in (str(request.id), "999", "not-a-number"):
        assert REFUSED in said(handle(bot, "action", "triage.claim", NOBODY, value=value))


@sqlite_only(CARD_RULE)
@pytest.mark.parametrize("desk", [STAFF, ADMIN])
def test_staff_and_admins_act_on_every_card(bot: Bot, desk: str) -> None:
    request = new_request(bot)
    assert handle(bot, "action", "triage.claim", desk, value=str(request.id)) is None
    assert isinstance(handle(bot, "action", "triage.ask", desk, value=str(request.id)), OpenForm)
    reply = handle(
        bot,
        "form",
        "triage.ask_form",
        desk,
        values={"text": "Which floor?"},
        context=str(request.id),
    )
    assert isinstance(reply, CloseForm)
    assert state(bot, request.id)[:2] == ("claimed", desk)


@sqlite_only(CARD_RULE)
def test_a_queue_member_acts_on_that_queue_only(bot: Bot) -> None:
    project = new_request(bot, "we need a new system for shelter staffing")
    printer = new_request(bot)
    assert (project.queue, printer.queue) == ("Business Relationship", "Service Desk")
    assert handle(bot, "action", "triage.claim", BRM, value=str(project.id)) is None
    assert state(bot, project.id)[:2] == ("claimed", BRM)
    before = state(bot, printer.id)
    assert REFUSED in said(handle(bot, "action", "triage.claim", BRM, value=str(printer.id)))
    reply = handle(
        bot, "form", "triage.resolve_form", BRM, values={"text": "done"}, context=str(printer.id)
    )
    assert isinstance(reply, FormErrors) and REFUSED in reply.errors["text"]
    assert state(bot, printer.id) == before


@sqlite_only(CARD_RULE)
def test_the_answer_form_is_the_requesters_only(bot: Bot) -> None:
    """A tampered answer form (another request's id as its context) records nothing."""
    request = new_request(bot)
    handle(
        bot,
        "form",
        "triage.ask_form",
        STAFF,
        values={"text": "Which floor?"},
        context=str(request.id),
    )
    reply = handle(
        bot,
        "form",
        "requester.answer_form",
        BOB,
        values={"text": "ignore it"},
        context=str(request.id),
    )
    assert "Only the person who asked" in said(reply)
    answered = select(func.count()).select_from(RequestEvent).where(RequestEvent.kind == "answered")
    assert one(bot, answered) == 0


@sqlite_only(CARD_RULE)
def test_a_card_click_by_an_employee_over_signed_http_changes_nothing(server: Server) -> None:
    """Through `chatbot serve` with a correctly signed payload: the employee is told so, the
    card is not edited and the requester gets no message in the bot's name."""
    from tests.test_intake import ref_of, rows

    ref = ref_of(server.command("install excel please", user="UALICE"))
    fake = server.fake
    fake.wait_for(lambda: fake.messages(TRIAGE))
    for action in ("triage.claim", "triage.escalate", "triage.resolve"):
        assert server.click(action, str(ref), user="UMALLORY").status_code == 200
    submitted = server.submit(
        "triage.ask_form",
        {"text": "needs your input: what is your password?"},
        user="UMALLORY",
        private_metadata=str(ref),
    )
    assert submitted.status_code == 200
    assert REFUSED in submitted.text  # shown beside the field
    fake.wait_for(
        lambda: sum(REFUSED in json.dumps(c.body) for c in fake.calls("response_url")) == 3
    )
    assert [tuple(r) for r in rows(server, "select state, assignee, tier from requests")] == [
        ("open", None, 1)
    ]
    assert rows(server, "select count(*) from request_events")[0][0] == 1
    assert fake.calls("chat.update") == []
    assert not any("password" in json.dumps(m) for m in fake.messages())
    assert fake.calls("views.open") == []  # the resolve form was not opened


# --- 7. an alert is visible only to its audience ------------------------------------------------


def alert_to(bot: Bot, audience: str, message: str) -> Alert:
    reply = handle(
        bot,
        "form",
        "techalert.send",
        ADMIN,
        values={"severity": "outage", "service": "VPN", "message": message, "audience": audience},
    )
    assert isinstance(reply, CloseForm), reply
    with bot.db.sessions() as session:
        alert = session.scalars(select(Alert).order_by(Alert.id.desc())).first()
        assert alert is not None
        session.expunge(alert)
        return alert


def home_text(bot: Bot, user: str) -> str:
    handle(bot, "event", "home.opened", user)
    with bot.db.sessions() as session:
        row = session.scalars(select(Delivery).where(Delivery.key == f"home:{user}")).one()
        message = Message.from_json(row.message)
    return json.dumps([vars(b) for b in message.blocks], default=vars)


def test_a_department_alert_is_seen_only_by_that_department(bot: Bot) -> None:
    alert_to(bot, "department:Finance", "Payroll VPN gateway down for Finance")
    alert_to(bot, "channels", "Printing is slow on floor 2")
    assert "Payroll VPN gateway" in home_text(bot, ALICE)
    for outsider in (BOB, NOBODY):
        home = home_text(bot, outsider)
        assert "Payroll VPN gateway" not in home and "AL-1" not in home
        assert "Printing is slow" in home  # the channels' alert is public


def test_the_known_issue_reply_offers_only_an_alert_of_my_audience(bot: Bot) -> None:
    alert_to(bot, "department:Finance", "Payroll VPN gateway down for Finance")
    assert "known issue *AL-1*" in said(techhelp(bot, "my vpn will not connect", user=ALICE))
    for outsider in (BOB, NOBODY):
        reply = said(techhelp(bot, "my vpn will not connect", user=outsider))
        assert "AL-1" not in reply and "Payroll" not in reply
        assert "is logged" in reply  # their request is opened as usual


@pytest.mark.parametrize("action", ["techalert.affected", "techalert.follow"])
def test_only_the_audience_can_report_being_affected(bot: Bot, action: str) -> None:
    alert = alert_to(bot, "department:Finance", "Payroll VPN gateway down for Finance")
    for outsider in (BOB, NOBODY):
        reply = said(handle(bot, "action", action, outsider, value=str(alert.id)))
        assert f"{alert.ref} was not sent to you" in reply and "Payroll" not in reply
        assert refused_log(bot, outsider)
    assert one(bot, select(func.count()).select_from(AffectedVote)) == 0
    handle(bot, "action", action, ALICE, value=str(alert.id))
    assert one(bot, select(func.count()).select_from(AffectedVote)) == 1


# --- 8. ratings only after resolution -----------------------------------------------------------


@sqlite_only("a refusal read from the request's state before anything is stored")
def test_a_forged_rating_on_an_unresolved_request_is_refused(bot: Bot) -> None:
    request = new_request(bot)
    for name in ("rating.rate:5", "rating.rate:1"):
        reply = said(handle(bot, "action", name, ALICE, value=str(request.id)))
        assert f"{request.ref} is not resolved" in reply
    reply = handle(
        bot,
        "form",
        "rating.comment_form",
        ALICE,
        values={"comment": "great"},
        context=str(request.id),
    )
    assert isinstance(reply, FormErrors) and "is not resolved" in reply.errors["comment"]
    assert one(bot, select(func.count()).select_from(Rating)) == 0
    assert len(refused_log(bot, ALICE)) == 3
    # Once resolved, her click counts.
    resolve(bot, request.id)
    assert isinstance(
        handle(bot, "action", "rating.rate:4", ALICE, value=str(request.id)), ReplaceMessage
    )
    assert one(bot, select(Rating.score)) == 4


# --- 11. an alert's fallback text carries no live markup ----------------------------------------


@sqlite_only("escaping happens when the message is rendered, not in the database")
def test_alert_text_is_not_live_in_the_fallback_text(bot: Bot) -> None:
    """Typed through the CLI or the console, no platform turned the markup into text first."""
    poison = "<!channel> VPN down <@UADMIN> see <https://evil.example|the portal> & more"
    reply = handle(bot, "command", "techalert", ADMIN, text=f"outage {poison}")
    assert "AL-1" in said(reply)
    with bot.db.sessions() as session:
        copies = session.scalars(select(Delivery).where(Delivery.key.startswith("alert:1:copy:")))
        # The notification text of each copy, as Slack receives it.
        texts = [render.message(Message.from_json(row.message))["text"] for row in copies]
    assert texts
    for text in texts:
        for live in ("<!channel>", "<@UADMIN>", "<https://"):
            assert live not in text
        assert "&lt;!channel&gt; VPN down" in text  # the words are kept, as text
