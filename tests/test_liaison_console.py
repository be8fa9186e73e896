"""The liaison program in the console (`chatbot shell`): the same handlers, typed as a person
would, the form asked field by field."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from tests.test_console import run_shell


def test_a_check_in_recorded_searched_and_briefed_in_the_console(tmp_path: Path) -> None:
    config = tmp_path / "techhelp.yml"
    config.write_text(
        "staff: [UCONSOLE]\n"
        "departments:\n"
        "  - {name: Finance, liaison: UCONSOLE, cadence: monthly, manager: UCONSOLE}\n"
    )
    typed = (
        "/liaison note Finance\n"
        "\n"  # the date: today, as offered
        "Dana, Lee\n"
        "They want an HR portal\n"
        "Self-service: HR portal for leave\n"
        "Send the quote | me | 2020-01-01\n"  # in the past: refused, nothing stored
        "/liaison note Finance\n"
        "\n"
        "Dana, Lee\n"
        "They want an HR portal\n"
        "Self-service: HR portal for leave\n"
        "Send the quote | me | 2099-01-01\n"
        "/liaison\n"
        "/dm liaison search hr PORTAL\n"
        "/liaison brief Finance\n"
        "/techhelp payroll export fails\n"
        "/dm home\n"
    )
    out = run_shell(tmp_path, typed, TECHHELP_CONFIG=str(config))
    assert "--- form: Liaison check-in ---" in out and "Attendees:" in out
    assert "the due date 2020-01-01 is in the past" in out
    assert "Check-in with *Finance* on" in out and "1 ask, 1 follow-up" in out
    assert "*Your departments (1):*" in out and "last met" in out
    assert "ask · Self-service: HR portal for leave" in out  # found by message, any case
    assert "*Last meeting's notes*" in out and "They want an HR portal" in out
    assert "Finance: open requests" in out and "TH-1" in out  # the manager's home card
    engine = create_engine(f"sqlite:///{tmp_path / 'console.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from liaison_meetings")).scalar() == 1
        assert conn.execute(text("select count(*) from liaison_follow_ups")).scalar() == 1
    engine.dispose()
