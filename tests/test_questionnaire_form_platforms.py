"""The whole questionnaire as one form, on Slack and Teams through the real `chatbot serve`
(`serve`, `said` of tests/drivers.py) and in the console (`chatbot shell`): opened from the
questionnaire message, part of it saved (the message says how many remain), opened again
with the answers kept and changed, refused after the run closes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.drivers import Driver, said, serve

ROOT = Path(__file__).resolve().parent.parent
TITLE = "Annual IT survey"
SURVEY = """
surveys:
  - name: annual
    question: Annual IT survey
    audience:
      {audience}
    reminder_hours: 24
    close_hours: 72
    items:
      - id: tools
        section: Tools
        question: I have the tools I need
      - id: priority
        section: Support
        question: What should IT improve first?
        options: [Speed, Reliability]
      - section: Support
        question: Anything else?
        kind: comment
"""


@pytest.fixture(params=["slack", "teams"])
def chat(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Driver:
    return serve(request, tmp_path, SURVEY.format(audience="everyone: true"))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_questionnaire_answered_in_one_form_kept_changed_and_closed(chat: Driver) -> None:
    chat.sync_directory()
    assert "on its way" in said(chat, "admin", "/pulse send --name annual")
    assert "Answer in one form" in chat.last("alice")

    # Part of it: the choice only; the 1-5 item stays unanswered.
    chat.press("alice", "Answer in one form", card=TITLE)
    assert chat.fill("alice", item1="Reliability") == {}
    shown = chat.last("alice")
    assert "1 of 2 questions remain" in shown and "Your answer: Reliability" in shown

    # Again, from the message the form gave back: the rest, and a comment.
    chat.press("alice", "Answer in one form", card=TITLE)
    assert chat.fill("alice", item0="4", item2="More laptops please") == {}
    shown = chat.last("alice")
    assert "You answered all 2 questions" in shown
    assert "Your answer: 4" in shown and "Your answer: Reliability" in shown

    # A change of mind in the form; the choice she gave is kept as it was.
    chat.press("alice", "Answer in one form", card=TITLE)
    assert chat.fill("alice", item0="2") == {}
    shown = chat.last("alice")
    assert "Your answer: 2" in shown and "Your answer: Reliability" in shown
    with chat.engine.connect() as connection:
        counted = dict(
            connection.execute(
                text("select item, sum(count) from survey_tallies group by item")
            ).all()
        )
    assert counted == {0: 1, 1: 1}  # one answer per item: changed, not added

    chat.later("update survey_runs set closes_at = :past")
    chat.press("alice", "Answer in one form", card=TITLE)
    assert "closed on" in chat.last("alice")


def test_the_questionnaire_answered_in_one_form_in_the_console(tmp_path: Path) -> None:
    config = tmp_path / "techhelp.yml"
    config.write_text("staff: [UCONSOLE]\n" + SURVEY.format(audience="users: [UCONSOLE]"))
    typed = (
        "/pulse send --name annual\n"
        "Answer in one form\n"
        "\n"  # the 1-5 item: left for later
        "2\n"  # the choice, by its number: Reliability
        "\n"  # no comment
        "Answer in one form\n"
        "4\n"
        "\n"  # Enter keeps Reliability
        "More laptops please\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "chatbot.cli", "shell"],
        input=typed,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'console.db'}",
            "TECHHELP_CONFIG": str(config),
            "TECHHELP_ADMINS": "UCONSOLE",
        },
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    first, _, second = out.partition("--- form: Your answers ---")[2].partition(
        "--- form: Your answers ---"
    )
    assert "Tools · 1. I have the tools I need" in first
    assert "1 of 2 questions remain" in first and "Your answer: *Reliability*" in first
    assert "<Reliability>" in second  # her answer, filled in
    assert "You answered all 2 questions" in second and "Your answer: *4*" in second
    engine = create_engine(f"sqlite:///{tmp_path / 'console.db'}")
    with engine.connect() as conn:
        counted = dict(
            conn.execute(text("select item, sum(count) from survey_tallies group by item")).all()
        )
        assert counted == {0: 1, 1: 1}
        assert "More laptops please" in str(
            conn.execute(text("select comments from survey_comments")).scalar_one()
        )
    engine.dispose()
