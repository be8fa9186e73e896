"""A questionnaire on Slack and Teams through the real `chatbot serve`, from one parametrised
test (the `chat` fixture of tests/test_parity.py): one message per person, one click per item
with the progress shown, a comment item's form, a change of answer, the results per item in
the IT channel at closing, and a click after closing refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.drivers import Driver, said, serve

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

TITLE = "Annual IT survey"
SURVEY = """
surveys:
  - name: annual
    question: Annual IT survey
    audience:
      everyone: true
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
    return serve(request, tmp_path, SURVEY)


def press_nth(chat: Driver, who: str, label: str, nth: int, *, card: str) -> None:
    """Press the `nth` button labelled `label` on the card (each 1–5 item has a "4")."""
    find = chat.button

    def nth_button(who_: str, label_: str, card_: str | None) -> tuple[Any, Any]:
        shown, _ = find(who_, label_, card_)
        handles = [handle for text, handle in shown.buttons if text.lower() == label_.lower()]
        return shown, handles[nth]

    chat.button = nth_button  # type: ignore[method-assign]
    try:
        chat.press(who, label, card=card)
    finally:
        del chat.button


def test_a_questionnaire_answered_item_by_item_and_its_results_per_item(chat: Driver) -> None:
    chat.sync_directory()
    assert "on its way" in said(chat, "admin", "/pulse send --name annual")
    prompt = chat.last("alice")
    assert TITLE in prompt and "2 questions, one click each, and 1 optional comment" in prompt
    assert "I have the tools I need" in prompt and "What should IT improve first?" in prompt

    press_nth(chat, "alice", "4", 0, card=TITLE)
    shown = chat.last("alice")
    assert "1 of 2 questions remain" in shown and "Your answer: 4" in shown
    chat.press("alice", "Reliability", card=TITLE)
    assert "You answered all 2 questions" in chat.last("alice")
    press_nth(chat, "alice", "5", 0, card=TITLE)  # a change of mind, from the same message
    assert "Your answer: 5" in chat.last("alice")
    chat.press("alice", "Write a comment", card=TITLE)
    assert chat.fill("alice", comment="More laptops please") == {}
    # Her questionnaire is still there (Teams' form took its card's place, and gives it back).
    assert "Your answer: 5" in chat.last("alice") or "More laptops please" in chat.last("alice")

    # Bob stops halfway: his message keeps his progress.
    press_nth(chat, "bob", "2", 0, card=TITLE)
    assert "1 of 2 questions remain" in chat.last("bob")

    chat.later("update survey_runs set closes_at = :past")
    results = chat.last("it")
    assert TITLE in results and "2 of" in results
    assert "1. I have the tools I need" in results and "2. What should IT improve first?" in results
    assert "Answers: 2" in results  # the tools item: Alice and Bob

    press_nth(chat, "alice", "3", 0, card=TITLE)  # after closing
    assert "closed on" in chat.last("alice")
