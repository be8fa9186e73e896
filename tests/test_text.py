"""Neutral text: templates make markup no platform has seen; values stay literal, mentions are
tokens, and each renderer escapes for its own platform. Long text is cut with a note."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from chatbot.messages import Block, Fact, Message
from chatbot.platforms.console import render as console
from chatbot.platforms.slack import render as slack
from chatbot.text import Neutral, Templates, fit, link, literal, mention, plain_text, shorten

ROOT = Path(__file__).resolve().parent.parent
POISON = "<!channel> <@U1> *bold* _it_ ~no~ `code` & <https://evil.example|x>\n> quote"


def test_escape_and_trusted_mentions() -> None:
    assert slack.mrkdwn(literal("<!channel> & <@U1>")) == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert slack.mrkdwn(mention("U123ABC")) == "<@U123ABC>" and isinstance(mention("U1X"), Neutral)
    assert slack.mrkdwn(mention("<!here>")) == "&lt;!here&gt;"  # not an id: shown as text


def test_a_value_stays_literal_on_slack() -> None:
    shown = slack.mrkdwn(Neutral(f"**Figures:** {literal(POISON)} · **3** open"))
    assert shown.startswith("*Figures:* ") and shown.endswith(" · *3* open")  # the bot's bold
    value = shown.removeprefix("*Figures:* ").removesuffix(" · *3* open")
    for live in ("<!channel>", "<@U1>", "<https://", "*bold*", "_it_", "~no~", "`code`"):
        assert live not in value, value
    assert not re.search(r"[*_~`<]", value)  # nothing left that mrkdwn could read as markup
    assert "&amp;" in value and "&lt;!channel&gt;" in value
    assert "\n>" not in value and "\n\u00ad&gt; quote" in value  # a quote marker, defused
    # The look-alikes keep the words readable.
    assert "\u2217bold\u2217" in value and "\u02cbcode\u02cb" in value


def test_a_value_stays_literal_on_the_console_and_in_plain_text() -> None:
    neutral = Neutral(f"**Figures:** {literal(POISON)}")
    assert console.text(neutral) == f"*Figures:* {POISON}"  # as typed, nothing decoded
    assert plain_text(neutral) == f"Figures: {POISON}"


def test_a_literal_cannot_smuggle_a_token() -> None:
    forged = "\ue002U0ADMIN\ue003 \ue000x"
    assert slack.mrkdwn(literal(forged)) == "U0ADMIN x"
    assert "<@" not in slack.mrkdwn(Neutral(f"hi {literal(forged)}"))


def test_mentions_become_each_platforms_own() -> None:
    text = Neutral(f"{mention('UALICE')} is now working on **{literal('TH-1')}**")
    assert slack.mrkdwn(text) == "<@UALICE> is now working on *TH-1*"
    assert console.text(text) == "@UALICE is now working on *TH-1*"
    assert plain_text(text) == "@UALICE is now working on TH-1"
    assert mention(None) == "someone"


def test_structure_and_links() -> None:
    text = Neutral(
        f"**Open (2):**\n- _first_\n- {link('https://it.example/a?b=1&c=2', 'the <page>')}"
    )
    assert slack.mrkdwn(text) == (
        "*Open (2):*\n• _first_\n• <https://it.example/a?b=1&amp;c=2|the &lt;page&gt;>"
    )
    assert (
        console.text(text) == "*Open (2):*\n• _first_\n• the <page> (https://it.example/a?b=1&c=2)"
    )
    assert plain_text(text) == "Open (2):\n• first\n• the <page>"


def test_emoji_are_unicode_and_slack_keeps_its_short_names() -> None:
    text = Templates().render("techalert/cancelled.md.j2", alert=type("A", (), {"ref": "AL-1"}))
    assert text.startswith("🚫 ")
    assert slack.mrkdwn(text).startswith(":no_entry_sign: *AL-1*")
    assert console.text(text).startswith("🚫 *AL-1*")
    # A value's emoji is the person's: left as it is.
    assert slack.mrkdwn(literal("🚫")) == "🚫"


def test_facts_are_structured_and_round_trip() -> None:
    facts = (Fact("Requester", mention("UALICE")), Fact("Department", literal("R&D <1>")))
    message = Message(text="card", blocks=(Block("section", text="body", fields=facts),))
    assert Message.from_json(message.to_json()) == message
    fields = slack.message(message)["blocks"][0]["fields"]
    assert [f["text"] for f in fields] == [
        "*Requester*\n<@UALICE>",
        "*Department*\nR&amp;D &lt;1&gt;",
    ]
    assert console.message(message).splitlines()[1:] == [
        "  *Requester*: @UALICE",
        "  *Department*: R&D <1>",
    ]
    # A message stored in the outbox before facts were structured still reads.
    old = {"text": "x", "blocks": [{"kind": "section", "text": "", "fields": ["*State*\nopen"]}]}
    assert Message.from_json(old).blocks[0].fields == (Fact("State", "open"),)


def test_cut_says_so_and_never_splits_an_entity() -> None:
    assert fit(literal("short"), slack.mrkdwn, 10) == "short"
    text = literal("a" * 95 + "&" + "b" * 104)  # 200 characters, 204 once escaped for Slack
    result = fit(text, slack.mrkdwn, 120)
    assert len(result) <= 120 and "200 characters in all" in result
    assert "&am" not in result.replace("&amp;", "")


def test_shorten_keeps_a_value_literal() -> None:
    short = shorten("*" * 100, 60)
    assert len(plain_text(short)) <= 60 and "100 characters in all" in plain_text(short)
    assert slack.mrkdwn(short).startswith("\u2217" * 28 + "… _(cut")  # the value's stars defused


def test_every_template_renders_and_escapes_values() -> None:
    templates = Templates()

    class R:
        id = 7
        ref = "TH-7"
        text = "<!channel> help"
        requester = "UALICE"
        logged_by = None
        intake_channel = "techhelp"
        category = "Hardware"
        urgency = "high"
        queue = "Service Desk"
        state = "open"
        assignee = None
        resolution = "<@U0ADMIN> fixed"
        department = "Finance"

    rendered = slack.mrkdwn(templates.render("requester/resolved.md.j2", request=R, actor="USTAFF"))
    assert "<@USTAFF>" in rendered and "&lt;@U0ADMIN&gt;" in rendered
    assert "<@U0ADMIN>" not in rendered
    status = slack.mrkdwn(templates.render("techhelp/status.md.j2", requests=[R]))
    assert "&lt;!channel&gt;" in status


def _strings(path: Path) -> list[str]:
    """The string constants of a module, its docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


SLACK_SYNTAX = re.compile(
    r"<@[A-Z]|<![a-z]|&(?:lt|gt|amp);|:[a-z]+(?:_[a-z]+)+:|:(?:"
    + "|".join(name for name in slack.SHORT_NAMES.values() if "_" not in name)
    + "):"
)


def test_no_slack_syntax_outside_the_platforms() -> None:
    for template in sorted((ROOT / "templates").rglob("*.md.j2")):
        words = template.read_text()
        assert not re.search(r":[a-z_]+:", words), f"{template}: an emoji code, not Unicode"
        assert not SLACK_SYNTAX.search(words), f"{template}: Slack syntax"
        assert not re.search(r"(?<!\*)\*[^*\s][^*]*\*(?!\*)", words), f"{template}: *bold*"
    core = [*(ROOT / "chatbot").rglob("*.py"), *(ROOT / "commands").rglob("*.py")]
    for module in core:
        if {"platforms", "web"} & set(module.relative_to(ROOT).parts):
            continue
        for string in _strings(module):
            assert not SLACK_SYNTAX.search(string), f"{module}: {string!r}"
