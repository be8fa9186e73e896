"""The Slack renderer: neutral messages become Block Kit that Slack accepts, with its escaping,
its emoji names and its limits counted on the rendered text."""

from __future__ import annotations

import re
from pathlib import Path

from chatbot.messages import Block, Button, Fact, Message
from chatbot.platforms.slack import render as slack
from chatbot.text import Neutral, fit, literal, mention

ROOT = Path(__file__).resolve().parent.parent
POISON = "<!channel> <@U1> *bold* _it_ ~no~ `code` & <https://evil.example|x>\n> quote"


def test_cut_counts_rendered_characters() -> None:
    # 2,000 ampersands are 10,000 characters of mrkdwn: Slack's 3,000 are counted after escaping.
    message = Message.plain(Neutral(f"**Note:** {literal('&' * 2000)}"))
    section = slack.message(message)["blocks"][0]["text"]["text"]
    assert len(section) <= slack.SECTION_TEXT and section.startswith("*Note:* &amp;")
    assert section.endswith("… _(cut: 2,006 characters in all)_")
    assert not re.search(r"&(?!amp;)", section)  # no entity cut in half
    bold = fit(Neutral(f"**{literal('x' * 500)}** done"), slack.mrkdwn, 100)
    assert bold.startswith("*x") and bold.count("*") == 2  # the cut closes the bot's bold


def test_fallback_text_has_no_live_markup_but_the_mention() -> None:
    neutral = Neutral(
        f"✅ **{literal('TH-1')}** is resolved by {mention('USTAFF')}:\n>{literal(POISON)}"
    )
    text = slack.message(Message.plain(neutral))["text"]
    assert text.startswith(":white_check_mark: TH-1 is resolved by <@USTAFF>:\n")
    assert "*" not in text and "\n>" not in text and "<!channel>" not in text


def test_every_emoji_a_template_uses_has_a_slack_name() -> None:
    emoji = re.compile(r"[\u2139\u2300-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff]\ufe0f?")
    used = {
        m.group(0)
        for t in (ROOT / "templates").rglob("*.md.j2")
        for m in emoji.finditer(t.read_text())
    }
    assert used and used <= set(slack.SHORT_NAMES), used - set(slack.SHORT_NAMES)


def test_limits_are_kept_and_said() -> None:
    many = tuple(Block("section", text=f"line {n}") for n in range(60))
    header = Block("header", text=Neutral(f"TH-1 · {literal('x' * 200)}"))
    facts = tuple(Fact(f"F{n}", literal("v" * 2500)) for n in range(12))
    buttons = (Button("b" * 100, "triage.claim", "1"),)
    message = Message(
        text=literal("t" * 4000),
        blocks=(
            header,
            Block("section", text="s", fields=facts),
            Block("actions", buttons=buttons),
            *many,
        ),
    )
    payload = slack.message(message)
    blocks = payload["blocks"]
    assert len(blocks) == slack.MAX_BLOCKS
    assert blocks[-1]["elements"][0]["text"] == "…and 14 more"
    assert (
        len(blocks[0]["text"]["text"]) <= slack.HEADER_TEXT
        and "characters in all" in blocks[0]["text"]["text"]
    )
    fields = blocks[1]["fields"]
    assert len(fields) == slack.MAX_FIELDS and all(
        len(f["text"]) <= slack.FIELD_TEXT for f in fields
    )
    assert fields[0]["text"].startswith("*F0*\nvvv")
    assert len(blocks[2]["elements"][0]["text"]["text"]) <= slack.BUTTON_TEXT
    assert (
        len(payload["text"]) <= slack.FALLBACK_TEXT and "4,000 characters in all" in payload["text"]
    )


def test_form_errors_are_plain_text() -> None:
    errors = slack.errors(
        {"comment": Neutral(f"**No** survey {literal('<PS-9>')} for {mention('U1')}")}
    )
    assert errors == {"comment": "No survey <PS-9> for @U1"}
