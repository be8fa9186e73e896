"""The whole questionnaire as one form, on Slack and Teams through the real `chatbot serve`
(the questionnaire parity test's `chat` fixture and survey) and in the console (`chatbot
shell`): opened from the questionnaire message, part of it saved (the message says how many
remain), opened again with the answers kept and changed, refused after the run closes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.drivers import Driver, said
from tests.test_pulse import chatbot_cli
from tests.test_questionnaire_parity import SURVEY, TITLE, chat

# The chat fixture: the real `chatbot serve` of Slack or Teams with the parity test's survey.
__all__ = ["chat"]


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
    config.write_text("staff: [UCONSOLE]\n" + SURVEY.replace("everyone: true", "users: [UCONSOLE]"))
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
    cli = chatbot_cli(
        tmp_path,
        DATABASE_URL=f"sqlite:///{tmp_path / 'console.db'}",
        TECHHELP_CONFIG=str(config),
        TECHHELP_ADMINS="UCONSOLE",
    )
    result = cli("shell", input=typed)
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
