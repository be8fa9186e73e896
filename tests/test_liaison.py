"""The client liaison program at the core, on a driven clock: the configuration's liaisons and
cadences, the note form and what it refuses, the next check-in from the last recorded meeting,
the briefing before it (once, across ticks and restarts), follow-up reminders and Done, the
weekly overdue list, search, and who may see any of it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from chatbot import directory
from chatbot.bot import Capabilities
from chatbot.clock import FixedClock
from chatbot.clock_process import tick
from chatbot.config import ConfigError, Settings, load_settings
from chatbot.db.models import (
    Alert,
    LiaisonAsk,
    LiaisonFollowUp,
    LiaisonMeeting,
    Rating,
    Request,
    Survey,
    SurveyRun,
    SurveyTally,
)
from chatbot.liaison import search_notes
from tests.platform import FULL, PLAIN, TestPlatform
from tests.platform import words as shown_words

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday
LIAISON, STAFF, ADMIN, EMPLOYEE, MANAGER = "ULIA", "USTAFF", "UADMIN", "UFIN", "UMGR"
IT = "CIT"


def config(**liaison: Any) -> dict[str, Any]:
    return {
        "techhelp_it_channel": IT,
        "techhelp_admins": [ADMIN],
        "routing": {
            "staff": [LIAISON, STAFF],
            "departments": [
                {
                    "name": "Finance",
                    "manager": MANAGER,
                    "liaison": LIAISON,
                    "cadence": "weekly",
                    "members": [EMPLOYEE],
                },
                {"name": "Parks", "liaison": STAFF, "cadence": "every 2 weeks"},
                {"name": "Library", "members": ["ULIB"]},  # not in the program
            ],
            "liaison": {"briefing_days": 2, **liaison},
        },
    }


MakeChat = Callable[..., TestPlatform]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def chat(make_chat: MakeChat, clock: FixedClock) -> TestPlatform:
    return make_chat(config(), clock=clock)


def said(chat: TestPlatform, user: str, text: str) -> str:
    """What `user` was shown in answer to saying `text`."""
    return "\n".join(chat.say(user, text).to(user))


def run_clock(chat: TestPlatform) -> int:
    stored = tick(chat.bot, holder="test-clock")
    chat.drain()
    return stored


def at(clock: FixedClock, moment: datetime) -> None:
    clock.advance((moment - clock.now()).total_seconds())


def count(chat: TestPlatform, model: Any) -> int:
    with chat.bot.db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def record(chat: TestPlatform, user: str = LIAISON, department: str = "Finance", **values: str):
    chat.say(user, f"/liaison note {department}")
    if user not in chat.forms:  # a platform without modals answers with a card that opens it
        chat.press(user, "Liaison check-in")
    defaults = {
        "date": "2026-01-05",
        "attendees": "Dana (Finance director), Lee (payroll)",
        "discussed": "Payroll close is painful; they want self-service for leave requests.",
        "asks": "Self-service: an HR portal for leave requests\n"
        "Reporting: monthly budget dashboards",
        "follow_ups": "Send the VPN quote | me | 2026-01-09",
    }
    return chat.fill(user, **(defaults | values))


def in_directory(chat: TestPlatform, *accounts: str) -> None:
    with chat.bot.db.transaction() as session:
        for account in accounts:
            directory.add_account(session, platform="test", account_id=account, now=START)


def add_request(chat: TestPlatform, *, created: datetime, state: str = "open", **more: Any) -> int:
    with chat.bot.db.transaction() as session:
        request = Request(
            platform="test",
            requester=EMPLOYEE,
            intake_channel="techhelp",
            text=more.pop("text", "Payroll export fails"),
            category="Software",
            urgency="normal",
            queue="Service Desk",
            tier=1,
            department=more.pop("department", "Finance"),
            state=state,
            created_at=created,
            resolved_at=created + timedelta(hours=2) if state == "resolved" else None,
            updated_at=created,
        )
        session.add(request)
        session.flush()
        return request.id


# --- configuration ------------------------------------------------------------------------------


def write_yaml(tmp_path: Path, departments: str, staff: str = "[ULIA]") -> Path:
    path = tmp_path / "techhelp.yml"
    path.write_text(f"staff: {staff}\ndepartments:\n{departments}")
    return path


def test_an_unknown_cadence_stops_start_up_naming_the_field(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "  - {name: Finance, liaison: ULIA, cadence: fortnightly}\n")
    with pytest.raises(ConfigError) as error:
        load_settings(techhelp_config=path, database_url="sqlite://")
    assert "departments.0.cadence" in str(error.value)
    assert "unknown cadence 'fortnightly'" in str(error.value)


def test_a_liaison_who_is_not_staff_stops_start_up_naming_the_field(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path,
        "  - {name: Finance, liaison: ULIA, cadence: monthly}\n"
        "  - {name: Parks, liaison: UNOBODY, cadence: quarterly}\n",
    )
    with pytest.raises(ConfigError) as error:
        load_settings(techhelp_config=path, database_url="sqlite://")
    assert "departments.1.liaison" in str(error.value) and "UNOBODY" in str(error.value)
    assert "not IT staff" in str(error.value)
    # An admin may be a liaison, by id or by e-mail in any case; every cadence form is read.
    path = write_yaml(
        tmp_path,
        "  - {name: Finance, liaison: UADMIN, cadence: Every 3 Weeks}\n"
        "  - {name: Parks, liaison: Pat@Example.org, cadence: quarterly}\n",
        staff="[pat@example.org]",
    )
    settings = load_settings(
        techhelp_config=path, database_url="sqlite://", techhelp_admins="UADMIN"
    )
    assert [d.cadence for d in settings.routing.departments] == ["every 3 weeks", "quarterly"]
    with pytest.raises(ValueError, match="departments.0.liaison"):
        Settings.from_values(
            {"routing": {"departments": [{"name": "X", "liaison": "U1", "cadence": "weekly"}]}}
        )


# --- the command and the form -------------------------------------------------------------------


def test_a_check_in_is_recorded_and_the_next_one_follows_it(chat: TestPlatform) -> None:
    listing = said(chat, LIAISON, "/liaison")
    assert "Your departments (1)" in listing and "Finance" in listing
    assert "no meeting recorded" in listing and "Parks" in listing  # the others, below
    assert "Library" not in listing

    assert record(chat).errors == {}
    confirmation = chat.last(LIAISON)
    assert "Check-in with Finance on 2026-01-05 recorded: 2 asks, 1 follow-up" in confirmation
    assert "Next check-in: 2026-01-12" in confirmation  # weekly, from the meeting
    assert "next check-in 2026-01-12, last met 2026-01-05" in said(chat, LIAISON, "/liaison")
    # A meeting recorded for an earlier date moves nothing back: the latest meeting counts.
    assert record(chat, date="2026-01-02", follow_ups="").errors == {}
    assert "next check-in 2026-01-12" in said(chat, LIAISON, "/liaison")
    with chat.bot.db.sessions() as session:
        themes = session.scalars(select(LiaisonAsk.theme).order_by(LiaisonAsk.id)).all()
    assert themes == ["Self-service", "Reporting", "Self-service", "Reporting"]


def test_every_cadence_counts_from_the_last_meeting(chat: TestPlatform, clock: FixedClock) -> None:
    assert record(chat, department="Parks", user=STAFF, date="2025-12-29").errors == {}
    assert "Parks · every 2 weeks · next check-in 2026-01-12" in said(chat, STAFF, "/liaison")
    from chatbot.liaison import after

    assert after("monthly", date(2026, 1, 31)) == date(2026, 2, 28)
    assert after("quarterly", date(2025, 11, 30)) == date(2026, 2, 28)
    assert after("every 3 weeks", date(2026, 1, 5)) == date(2026, 1, 26)


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"follow_ups": "Send the quote | me | 2026-01-04"}, "follow_ups", "is in the past"),
        ({"discussed": "x" * 10_000}, "discussed", "10,000 characters long; the most is 3,000"),
        ({"asks": "an HR portal please"}, "asks", "has no theme"),
        ({"follow_ups": "Send the quote | me"}, "follow_ups", "what | owner | YYYY-MM-DD"),
        ({"follow_ups": "Send it | UNOBODY | 2026-02-01"}, "follow_ups", "nobody called UNOBODY"),
        ({"date": "next tuesday"}, "date", "is not a date"),
        ({"date": "2026-02-01"}, "date", "is in the future"),
        ({"attendees": "  "}, "attendees", "Say who attended"),
    ],
)
def test_bad_notes_are_refused_beside_the_field_and_nothing_is_stored(
    chat: TestPlatform, values: dict[str, str], field: str, words: str
) -> None:
    # Every part of the form is valid but one: a meeting, asks and follow-ups would be stored.
    errors = record(chat, **values).errors
    assert list(errors) == [field] and words in shown_words(errors[field])
    assert count(chat, LiaisonMeeting) == count(chat, LiaisonAsk) == 0
    assert count(chat, LiaisonFollowUp) == 0
    assert record(chat).errors == {}  # the same form, corrected, is recorded
    assert count(chat, LiaisonMeeting) == 1


def test_an_unknown_department_is_answered_with_the_program(chat: TestPlatform) -> None:
    for command in ("/liaison brief Marketing", "/liaison note Marketing"):
        answer = said(chat, LIAISON, command)
        assert "There is no department named Marketing" in answer
        assert "The departments are: Finance, Parks" in answer
    assert LIAISON not in chat.forms
    assert "/liaison brief <department>" in said(chat, LIAISON, "/liaison what")


def test_notes_are_for_it_only(chat: TestPlatform) -> None:
    assert record(chat).errors == {}
    for command in ("/liaison", "/liaison brief Finance", "/liaison search payroll"):
        for outsider in (EMPLOYEE, MANAGER):
            answer = said(chat, outsider, command)
            assert "for IT staff only" in answer and "Payroll close" not in answer
    chat.say(MANAGER, "liaison note Finance")  # by message, too
    assert "for IT staff only" in chat.last(MANAGER) and MANAGER not in chat.forms
    # A form submitted with a forged context by someone not on IT stores nothing.
    chat.forms[EMPLOYEE] = chat.forms.get(LIAISON) or _form(chat)
    assert chat.fill(EMPLOYEE, discussed="forged").errors == {}
    assert "for IT staff only" in chat.last(EMPLOYEE)
    assert count(chat, LiaisonMeeting) == 1
    # The admins are IT.
    assert "Payroll close" in said(chat, ADMIN, "/liaison search payroll")


def _form(chat: TestPlatform) -> Any:
    chat.say(STAFF, "/liaison note Finance")
    return chat.forms.pop(STAFF)


def test_search_finds_notes_and_asks_by_every_word_in_any_case(chat: TestPlatform) -> None:
    assert record(chat).errors == {}
    assert (
        record(
            chat,
            user=STAFF,
            department="Parks",
            attendees="Sam (head ranger)",
            discussed="Rangers need offline maps; 100% of the tablets are old.",
            asks="Field work: offline maps on the rangers' tablets",
            follow_ups="",
        ).errors
        == {}
    )
    found = said(chat, STAFF, "/liaison search OFFLINE maps")
    assert "Parks · 2026-01-05 · notes: Rangers need offline maps" in found
    assert "ask · Field work: offline maps" in found and "Finance" not in found
    assert "HR portal" in said(chat, STAFF, "/liaison search portal self-service")
    # Every word must match: one absent word finds nothing; wildcards are just characters.
    assert "No notes or asks hold every word" in said(chat, STAFF, "/liaison search maps payroll")
    with chat.bot.db.sessions() as session:
        assert [h.department for h in search_notes(session, "100%", 10)] == ["Parks"]
        assert search_notes(session, "_", 10) == []
        assert search_notes(session, "   ", 10) == []


# --- the clock: briefings, follow-ups, overdue check-ins ----------------------------------------


def test_the_briefing_reaches_the_liaison_days_before_once_whatever_the_restarts(
    make_chat: MakeChat, chat: TestPlatform, clock: FixedClock
) -> None:
    add_request(chat, created=START - timedelta(days=9), text="Payroll export fails")
    add_request(chat, created=START - timedelta(days=40), state="resolved")
    add_request(chat, created=START - timedelta(days=1), department="Parks")
    assert record(chat).errors == {}  # met on Monday 5 January: next check-in on the 12th
    briefed = lambda: [t for t in chat.received(LIAISON) if "Briefing: Finance" in t]  # noqa: E731
    at(clock, datetime(2026, 1, 9, 23, 0, tzinfo=UTC))  # three days before: not yet
    run_clock(chat)
    assert briefed() == []
    at(clock, datetime(2026, 1, 10, 0, 5, tzinfo=UTC))  # two days before
    run_clock(chat)
    [briefing] = briefed()
    assert "next check-in 2026-01-12" in briefing and "Last meeting: 2026-01-05" in briefing
    assert (
        "Open requests: 1" in briefing and "TH-1 · open · normal · Software · 13 d old" in briefing
    )
    assert "Payroll export fails" in briefing and "TH-3" not in briefing  # Parks' is not here
    assert "Payroll close is painful" in briefing and "ask · Self-service" in briefing
    assert "Open follow-ups (1)" in briefing and "Send the VPN quote" in briefing
    run_clock(chat)
    at(clock, clock.now() + timedelta(hours=5))
    run_clock(chat)
    # A restart: a new process on the same database sends nothing twice.
    again = make_chat(config(), clock=clock)
    run_clock(again)
    assert len(briefed()) == 1 and again.received(LIAISON) == []
    # `/liaison brief` shows the same at any time.
    assert "Payroll close is painful" in said(chat, STAFF, "/liaison brief finance")


def test_a_clock_that_was_down_still_briefs_and_a_new_department_is_briefed_at_once(
    chat: TestPlatform, clock: FixedClock
) -> None:
    run_clock(chat)  # nothing recorded yet: a first check-in is due now, with a briefing
    assert any("Briefing: Finance" in t for t in chat.received(LIAISON))
    assert any("Briefing: Parks" in t for t in chat.received(STAFF))
    assert record(chat).errors == {}
    at(clock, datetime(2026, 1, 13, 9, 0, tzinfo=UTC))  # down over the window and the due day
    run_clock(chat)
    finance = [t for t in chat.received(LIAISON) if "Briefing: Finance" in t]
    assert len(finance) == 2
    assert "next check-in 2026-01-12 (overdue by 1 day)" in finance[-1]


def test_follow_up_owners_are_reminded_when_due_and_mark_it_done(
    chat: TestPlatform, clock: FixedClock
) -> None:
    in_directory(chat, STAFF)
    assert (
        record(
            chat,
            follow_ups=f"Send the VPN quote | me | 2026-01-07\n"
            f"Check the payroll export | {STAFF} | 2026-01-08",
        ).errors
        == {}
    )
    at(clock, datetime(2026, 1, 7, 8, 0, tzinfo=UTC))
    run_clock(chat)
    reminder = [t for t in chat.received(LIAISON) if "A follow-up from" in t]
    assert reminder and "due 2026-01-07" in reminder[-1] and "Send the VPN quote" in reminder[-1]
    assert not any("payroll export" in t for t in chat.received(STAFF))
    run_clock(chat)  # reminded once
    assert len([t for t in chat.received(LIAISON) if "A follow-up from" in t]) == 1
    # Someone else (not IT) cannot mark it done; the owner can.
    seen, button = chat._button(LIAISON, "Done", "VPN quote")
    chat.press_action(EMPLOYEE, button.action, button.value)
    assert "Only the follow-up's owner or IT staff" in chat.last(EMPLOYEE)
    chat.press(LIAISON, "Done", card="VPN quote")
    assert "Done: Send the VPN quote" in chat.last(LIAISON)
    at(clock, datetime(2026, 1, 8, 8, 0, tzinfo=UTC))
    run_clock(chat)
    assert "Check the payroll export" in chat.last(STAFF)
    briefing = said(chat, STAFF, "/liaison brief Finance")
    assert "Open follow-ups (1)" in briefing and "VPN quote" not in briefing.split("follow-ups")[1]


def test_overdue_check_ins_are_listed_in_the_it_channel_once_a_week(
    chat: TestPlatform, clock: FixedClock
) -> None:
    assert record(chat, date="2025-12-15", follow_ups="").errors == {}  # due 2025-12-22
    assert record(chat, user=STAFF, department="Parks", follow_ups="").errors == {}
    run_clock(chat)  # the schedule starts now
    assert chat.received(IT) == []
    at(clock, datetime(2026, 1, 12, 9, 0, tzinfo=UTC))  # Monday 09:00
    run_clock(chat)
    at(clock, datetime(2026, 1, 12, 9, 5, tzinfo=UTC))
    run_clock(chat)
    [listing] = [t for t in chat.received(IT) if "liaison" in t]
    assert "Overdue liaison check-ins (1)" in listing
    assert "Finance · liaison" in listing and "due 2025-12-22 · last met 2025-12-15" in listing
    assert "21 days late" in listing and "Parks" not in listing  # Parks is due 2026-01-19


# --- figures ------------------------------------------------------------------------------------


def test_the_briefing_shows_satisfaction_with_its_change_since_the_last_meeting(
    chat: TestPlatform, clock: FixedClock
) -> None:
    # Three ratings a week (the minimum group): 2/5 in the week before the meeting, 5/5 after.
    for week, score in ((date(2025, 12, 29), 2), (date(2026, 1, 5), 5)):
        for n in range(3):
            moment = datetime(week.year, week.month, week.day, 10 + n, tzinfo=UTC)
            request = add_request(chat, created=moment, state="resolved")
            with chat.bot.db.transaction() as session:
                session.add(
                    Rating(request_id=request, rater=EMPLOYEE, score=score, rated_at=moment)
                )
    # A weekly pulse answered by three of Finance: 2/5 before the meeting, 4/5 after.
    with chat.bot.db.transaction() as session:
        survey = Survey(
            question="How well do your tools support your work?",
            options=["1", "2", "3", "4", "5"],
            scale=True,
            audience={"everyone": True},
            timezone="UTC",
            anonymous=True,
            close_hours=72,
            author=ADMIN,
            platform="test",
            source="command",
            created_at=START - timedelta(weeks=2),
        )
        session.add(survey)
        session.flush()
        for sent, option in ((datetime(2025, 12, 29, 9, tzinfo=UTC), 1), (START, 3)):  # 0-based
            run = SurveyRun(
                survey_id=survey.id,
                scheduled_for=sent,
                state="closed",
                sent_at=sent,
                closed_at=sent + timedelta(days=3),
                recipients=5,
                recipients_by_department={"Finance": 5},
            )
            session.add(run)
            session.flush()
            session.add(SurveyTally(run_id=run.id, department="Finance", option=option, count=3))
    add_alert(chat, "Finance's ledger is down", {"departments": ["Finance"]})
    add_alert(chat, "Parks radios are down", {"departments": ["Parks"]})
    add_alert(chat, "Email is slow for everyone", {"everyone": True})
    assert record(chat, date="2026-01-05", follow_ups="").errors == {}
    at(clock, datetime(2026, 1, 13, 9, 0, tzinfo=UTC))
    briefing = said(chat, LIAISON, "/liaison brief Finance")
    assert "How well do your tools support your work?: 4.00 (+2.00 since the last meeting)" in (
        briefing
    )
    assert "AL-1 · outage · Email · active" in briefing and "Finance's ledger is down" in briefing
    assert "Email is slow for everyone" in briefing and "Parks radios" not in briefing
    assert (
        "Request satisfaction (1–5, last published week): 5.00 (+3.00 since the last meeting)"
        in briefing
    )


# --- department managers ------------------------------------------------------------------------


def add_alert(chat: TestPlatform, message: str, audience: dict[str, Any]) -> None:
    with chat.bot.db.transaction() as session:
        session.add(
            Alert(
                severity="outage",
                service="Email",
                message=message,
                author=ADMIN,
                platform="test",
                state="active",
                audience=audience,
                created_at=START,
            )
        )


@pytest.mark.parametrize("capabilities", [FULL, PLAIN], ids=["home view", "home card"])
def test_a_manager_sees_the_departments_open_requests_and_incidents_at_home(
    make_chat: MakeChat, clock: FixedClock, capabilities: Capabilities
) -> None:
    chat = make_chat(config(), clock=clock, capabilities=capabilities)
    add_request(chat, created=START - timedelta(days=3), text="Payroll export fails")
    add_request(chat, created=START - timedelta(days=1), state="resolved")
    add_request(chat, created=START, department="Parks")
    add_alert(chat, "Finance's ledger is down", {"departments": ["Finance"]})
    add_alert(chat, "Parks radios are down", {"departments": ["Parks"]})
    assert record(chat).errors == {}
    if capabilities.home_view:
        chat.open_home(MANAGER)
    else:
        chat.say(MANAGER, "home")
    home = chat.last(MANAGER)
    assert "Finance: open requests" in home and "As the manager of Finance" in home
    assert "open requests (1)" in home and "TH-1 · open · normal · Software · open 3 d" in home
    assert "TH-2" not in home and "TH-3" not in home  # resolved; another department's
    assert "Incident AL-1" in home and "AL-2" not in home
    assert "Payroll close is painful" not in home and "Payroll export fails" not in home
    # An employee of the department sees only their own requests, not the department's.
    if capabilities.home_view:
        chat.open_home(EMPLOYEE)
    else:
        chat.say(EMPLOYEE, "home")
    assert "Finance: open requests" not in chat.last(EMPLOYEE)
