"""The client liaison program through the real `chatbot serve`, on Slack and on Teams, from the
same handlers: what the liaison, an employee and a department's manager do and are shown
(`tests/drivers.py`; the fixture is `tests/test_parity.py`'s)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.drivers import Driver, email, said, serve

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

PROGRAM = (
    "departments:\n"
    f"  - {{name: Finance, manager: '{email('bob')}', liaison: '{email('staff')}',"
    f" cadence: monthly, members: ['{email('alice')}']}}\n"
)


@pytest.fixture(params=["slack", "teams"])
def chat(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Driver:
    """The real `chatbot serve` of the platform: the liaison and the manager by e-mail."""
    return serve(request, tmp_path, PROGRAM)


def test_a_liaison_is_briefed_records_a_check_in_and_follow_ups_are_reminded(
    chat: Driver,
) -> None:
    chat.sync_directory()  # the clock's first tick: a first check-in is due, with its briefing
    chat.later()
    assert "Briefing: Finance" in chat.last("staff")
    today = datetime.now(UTC).date().isoformat()

    assert "Finance · monthly · next check-in" in said(chat, "staff", "/liaison")
    chat.open_form("staff", "/liaison note Finance", "Liaison check-in")
    typed = {
        "attendees": "Dana (Finance director)",
        "discussed": "They want self-service for leave requests.",
        "asks": "Self-service: an HR portal for leave requests",
    }
    # A follow-up due in the past is refused beside its field, and nothing is stored.
    errors = chat.fill("staff", **typed, follow_ups=f"Quote | {email('staff')} | 2020-01-01")
    assert "is in the past" in " ".join(errors.values())
    errors = chat.fill("staff", **typed | {"discussed": "x" * 10_000}, follow_ups="")
    assert "10,000 characters long; the most is 3,000" in " ".join(errors.values())
    assert "No notes or asks" in said(chat, "staff", "liaison search portal")
    assert (
        chat.fill("staff", **typed, follow_ups=f"Send the quote | {email('staff')} | {today}") == {}
    )
    assert "Check-in with Finance on" in chat.last("staff")

    found = said(chat, "staff", "liaison search PORTAL leave")  # by message: the grammar
    assert "ask · Self-service: an HR portal for leave requests" in found
    brief = said(chat, "staff", "/liaison brief finance")
    assert "They want self-service" in brief and "Send the quote" in brief

    # The follow-up is due today: its owner is reminded and marks it done from the message.
    chat.later()
    assert "A follow-up from the check-in with Finance" in chat.last("staff")
    chat.press("staff", "Done", card="Send the quote")
    assert "Done: Send the quote" in chat.last("staff")

    # Notes are IT's: an employee and the department's manager are refused.
    for outsider in ("alice", "bob"):
        answer = said(chat, outsider, "/liaison brief Finance")
        assert "for IT staff only" in answer and "self-service" not in answer
    assert "There is no department named Parks" in said(chat, "staff", "/liaison brief Parks")


def test_a_department_manager_sees_its_open_requests_at_home(chat: Driver) -> None:
    chat.sync_directory()
    assert "is logged" in said(chat, "alice", "/techhelp payroll export fails")
    home = said(chat, "bob", "home")
    assert "Finance: open requests" in home and "TH-1 · open" in home
    assert "Finance: open requests" not in said(chat, "alice", "home")
