"""Words and commands a newcomer meets: a likely typo of a subcommand is asked about instead of
becoming a request, an unknown command is answered about commands, and the wordings that read
as unfinished (a plural, a suggestion that does not apply, an empty trend line, blank lines)
read right. On two platforms of opposite capabilities (the in-process test platform)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from chatbot.db.models import Request
from tests.platform import FULL, PLAIN, TestPlatform

ALICE = "UALICE"
ADMIN = "UADMIN"
TRIAGE = "CTRIAGE"
CONFIG: dict[str, Any] = {
    "techhelp_triage_channel": TRIAGE,
    "techhelp_admins": [ADMIN],
    "techhelp_alert_channels": ["CALERTS"],
}


@pytest.fixture(params=["full", "plain"])
def chat(request: pytest.FixtureRequest, make_chat: Any) -> TestPlatform:
    capabilities = FULL if request.param == "full" else PLAIN
    return make_chat(CONFIG, capabilities=capabilities, name=request.param)


def told(chat: TestPlatform, user: str, text: str) -> str:
    return "\n".join(chat.say(user, text).to(user))


def requests_logged(chat: TestPlatform) -> int:
    with chat.bot.db.sessions() as session:
        return session.scalar(select(func.count()).select_from(Request)) or 0


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("stats", "status"), ("staus", "status"), ("hepl", "help"), ("hlep", "help"), ("hom", "home")],
)
@pytest.mark.parametrize("how", ["/techhelp ", ""])  # the command, or a message to the bot
def test_a_likely_typo_of_a_subcommand_asks_instead_of_opening_a_request(
    chat: TestPlatform, typed: str, meant: str, how: str
) -> None:
    answer = told(chat, ALICE, how + typed)
    assert f"Did you mean /techhelp {meant}?" in answer, answer
    assert "is logged" not in answer and requests_logged(chat) == 0


@pytest.mark.parametrize(
    "text",
    [
        "stats report for finance is wrong",  # a real request that starts near `status`
        "help me set up the projector",
        "home directory is full",
        "phone",  # one word, but no subcommand's typo
        "printer",
    ],
)
def test_a_request_near_a_subcommand_is_still_a_request(chat: TestPlatform, text: str) -> None:
    answer = told(chat, ALICE, f"/techhelp {text}")
    assert "TH-1 is logged" in answer and "Did you mean" not in answer
    assert requests_logged(chat) == 1


def test_an_unknown_command_is_answered_about_commands(chat: TestPlatform) -> None:
    answer = told(chat, ALICE, "/techhlep printer jammed")
    assert "/techhlep is not a command" in answer and "/techhelp" in answer
    assert "button" not in answer and "form" not in answer.replace("/techhelp", "")
    assert requests_logged(chat) == 0


def test_resolving_one_copy_says_is_not_are(chat: TestPlatform) -> None:
    told(chat, ADMIN, "/techalert outage Email is down")
    answer = told(chat, ADMIN, "/techalert resolve AL-1 Mail flows again")
    assert "1 copy is being edited" in answer, answer


def test_alert_list_has_no_blank_lines_between_alerts(chat: TestPlatform) -> None:
    told(chat, ADMIN, "/techalert outage Email is down")
    told(chat, ADMIN, "/techalert degraded Printing is slow")
    step = chat.say(ADMIN, "/techalert list")
    (seen,) = [s for s in step.shown if s.to == ADMIN]
    text = seen.message.text
    assert "AL-1" in text and "AL-2" in text
    assert "\n\n" not in text.strip(), repr(text)


def test_an_alert_resolved_at_once_says_so_as_the_dashboard_counts_it(chat: TestPlatform) -> None:
    from datetime import timedelta

    from chatbot import reports
    from chatbot.reports import Filters

    told(chat, ADMIN, "/techalert outage Email is down")
    answer = told(chat, ADMIN, "/techalert resolve AL-1")
    assert "resolved after less than a minute" in answer, answer
    now = chat.bot.clock.now()
    filters = Filters(start=now.date() - timedelta(days=1), end=now.date(), department=None)
    with chat.bot.db.reading() as conn:
        (row,) = reports.alert_history(conn=conn, filters=filters, now=now)
    assert row["duration_minutes"] == 0


def test_stopping_a_closed_survey_does_not_suggest_closing_it(chat: TestPlatform) -> None:
    from chatbot import directory

    with chat.bot.db.transaction() as session:  # someone to send it to
        directory.add_account(
            session, platform=chat.name, account_id=ALICE, now=chat.bot.clock.now()
        )
    assert "PS-1" in told(chat, ADMIN, "/pulse send How well does IT support you?")
    told(chat, ADMIN, "/pulse close PS-1")
    answer = told(chat, ADMIN, "/pulse stop PS-1")
    assert "PS-1 is stopped" in answer and "/pulse close" not in answer, answer


def test_a_trend_with_no_figure_is_said_in_words_not_dashes(chat: TestPlatform) -> None:
    answer = told(chat, ADMIN, "/pulse results satisfaction")
    assert "– → –" not in answer and "······" not in answer, answer
    assert "No week has enough ratings to show a figure yet" in answer
