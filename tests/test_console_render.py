"""The console renderer: a neutral message as readable terminal text, values as typed."""

from __future__ import annotations

from chatbot.messages import Block, Button, Fact, Message
from chatbot.platforms.console import render as console
from chatbot.text import Neutral, Templates, literal, mention


def test_a_card_reads_as_text() -> None:
    message = Message(
        text="TH-1 (normal) open",
        blocks=(
            Block("header", text=Neutral(f"TH-1 · {literal('Hard*ware')} · normal")),
            Block(
                "section",
                text=literal("printer <jammed> & *stuck*"),
                fields=(
                    Fact("Requester", mention("UALICE")),
                    Fact("Urgency", f"🔵 {literal('normal')}"),
                ),
            ),
            Block("divider"),
            Block("context", text=Neutral(f"TH-1 · claimed by {mention('USTAFF')}")),
            Block(
                "actions",
                buttons=(
                    Button("Claim", "triage.claim", "1"),
                    Button("Resolve", "triage.resolve", "1"),
                ),
            ),
        ),
    )
    assert console.message(message).splitlines() == [
        "== TH-1 · Hard*ware · normal ==",
        "printer <jammed> & *stuck*",
        "  *Requester*: @UALICE",
        "  *Urgency*: 🔵 normal",
        "-" * 40,
        "TH-1 · claimed by @USTAFF",
        "[Claim] [Resolve]",
    ]


def test_no_limit_and_nothing_decoded() -> None:
    message = Message.plain(Neutral(f"**Note:** {literal('&amp; ' * 1000)}"))
    assert console.message(message) == "*Note:* " + "&amp; " * 1000


def test_a_list_of_the_bots_with_a_value_that_looks_like_markup() -> None:
    request = type(
        "R",
        (),
        {"ref": "TH-1", "state": "open", "urgency": "high", "text": "- **x**", "assignee": None},
    )
    text = console.text(Templates().render("techhelp/status.md.j2", requests=[request]))
    assert text.splitlines() == ["*Your open requests (1):*", "• *TH-1* · open · high · - **x**"]
