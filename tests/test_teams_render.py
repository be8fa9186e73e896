"""The Teams renderer: what the handlers send becomes Adaptive Cards 1.5 that Teams accepts and
shows as meant. Typed text stays text (no live mention, link, image, HTML or formatting), a
person the bot knows is mentioned for real, long texts are cut with a note under Teams' size
limit, buttons carry their verb and value, and a form's inputs come back by their fields' names.

The messages are the real ones: a scenario runs the handlers on the in-process test platform
(`tests/platform.py`), and every message and form it produced is rendered."""

from __future__ import annotations

import base64
import html
import io
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chatbot import directory
from chatbot.messages import Block, Button, Fact, File, Form, Message
from chatbot.platforms.teams import render as teams
from chatbot.text import Neutral, link, literal, mention
from chatbot.web import png
from tests.fakes.teams import activity_problems, card_problems
from tests.platform import PLAIN, TestPlatform, build

ALICE, BOB, STAFF, ADMIN = "UALICE", "UBOB", "USTAFF", "UADMIN"
TRIAGE, ALERTS, IT = "CTRIAGE", "CALERTS", "CIT"
NAMES = {ALICE: "Alice Adams", STAFF: "Sam Staff", ADMIN: "Ada Admin"}  # Bob: no name known
POISON = "<at>Boss</at> [click](http://evil.example) ![img](x) **x** <b>bold</b> &lt; _i_ `c`"
POISON_LINES = ["# h", "- item", "1. one", "> quote", "    indented"]
ELEMENTS = {"TextBlock", "FactSet", "ActionSet", "Image"}
INPUTS = {"Input.Text", "Input.ChoiceSet", "Input.Date", "Input.Time"}
ROOT = Path(__file__).resolve().parent.parent


# --- how Teams reads a card's Markdown (escapes honoured) -------------------------------------

_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_LIVE = (
    re.compile(r"!?\[[^\]\n]*\]\([^)\n]*\)"),  # a link or an image
    re.compile(r"<[A-Za-z/!][^>\n]*>"),  # HTML, or an <at> mention
    re.compile(r"\*\*[^*\n]+\*\*|(?<![\w\x00])_[^_\n]+_(?![\w\x00])"),  # bold, italics
    re.compile(r"(?m)^[ \t]{0,3}(?:#{1,6}\s|>|[-+*]\s|\d+[.)]\s)"),  # heading, quote, list
    re.compile(r"(?m)^(?: {4}|\t)"),  # an indented code block
    re.compile(r"`"),
)


def live(markdown: str) -> list[str]:
    """Everything in a card's text that Teams would act on: formatting, links, images, HTML,
    mentions, block structure. An escaped character is never any of them."""
    text = _ESCAPE.sub("\x00", markdown)
    return [m.group(0) for pattern in _LIVE for m in pattern.finditer(text)]


def shown(markdown: str) -> str:
    """The characters a person reads (escapes and entities resolved), one line per line."""
    text = html.unescape(_ESCAPE.sub(r"\1", markdown)).replace("\u00a0", " ")
    return text.replace("\n\n", "\n")


def texts(content: dict[str, Any]) -> list[str]:
    """Every text of a card that Teams renders as Markdown."""
    out: list[str] = []
    for element in content["body"]:
        if element["type"] == "TextBlock":
            out.append(element["text"])
        for fact in element.get("facts", ()):
            out += [fact["title"], fact["value"]]
    return out


def actions(content: dict[str, Any]) -> list[dict[str, Any]]:
    found = [a for e in content["body"] if e["type"] == "ActionSet" for a in e["actions"]]
    return found + content.get("actions", [])


def check_card(content: dict[str, Any], *, allowed: set[str] = ELEMENTS) -> None:
    """What Teams requires of a card this bot sends: the Adaptive Card 1.5 schema and Teams'
    own rules (as the fake Teams checks them), and what this renderer promises on top: known
    elements with their required properties, buttons as Action.Execute with a verb, mentions
    with their entity and only those."""
    assert card_problems(content) == []
    assert content["type"] == "AdaptiveCard" and content["version"] == "1.5"
    assert content["body"], "an empty card"
    for element in content["body"]:
        assert element["type"] in allowed, element
        if element["type"] == "TextBlock":
            assert isinstance(element["text"], str) and element["text"].strip()
            assert element["wrap"] is True
        elif element["type"] == "FactSet":
            assert element["facts"] and all(f["title"] and f["value"] for f in element["facts"])
        elif element["type"] == "ActionSet":
            assert 1 <= len(element["actions"]) <= teams.BUTTONS_PER_ROW
        elif element["type"] == "Image":
            assert element["url"].startswith("data:image/png;base64,") and element["altText"]
        else:
            assert element["id"] and element.get("label")
    for action in actions(content):
        assert action["type"] == "Action.Execute" and action["title"].strip() and action["verb"]
        assert isinstance(action["data"], dict)
    body = json.dumps(content["body"], ensure_ascii=False)
    tags = set(re.findall(r"<at>[^<]*</at>", body))
    entities = content.get("msteams", {}).get("entities", [])
    assert {e["text"] for e in entities} == tags, "every <at> needs its entity, and no other"
    for entity in entities:
        assert entity["type"] == "mention" and entity["mentioned"]["id"] in NAMES


def check_activity(activity: dict[str, Any], message: Message) -> dict[str, Any]:
    assert activity_problems(activity) == []
    assert activity["type"] == "message" and isinstance(activity["summary"], str)
    assert "text" not in activity  # a card with text beside it is split in two by Teams
    [attachment] = activity["attachments"]
    assert attachment["contentType"] == teams.CARD
    content: dict[str, Any] = attachment["content"]
    check_card(content)
    assert teams.size(activity) <= teams.MAX_ACTIVITY_BYTES
    buttons = [b for block in message.blocks for b in block.buttons]
    assert [(a["title"], a["verb"], a["data"]) for a in actions(content)] == [
        (b.label, b.action, {"_value": b.value}) for b in buttons
    ]
    return content


# --- the scenario: every kind of message the handlers send ------------------------------------


@dataclass
class Transcript:
    chat: TestPlatform
    forms: list[Form] = field(default_factory=list)
    errors: list[tuple[Form, dict[str, str]]] = field(default_factory=list)

    def do(self, action: str, user: str, *args: Any, **kwargs: Any) -> None:
        form = self.chat.forms.get(user)
        step = getattr(self.chat, action)(user, *args, **kwargs)
        if step.errors and form:
            self.errors.append((form, step.errors))
        for opened in self.chat.forms.values():
            if opened not in self.forms:
                self.forms.append(opened)

    def messages(self) -> list[Message]:
        return [seen.message for seen in self.chat.transcript]

    def last(self, address: str) -> Message:
        return next(s.message for s in reversed(self.chat.transcript) if s.to == address)


@pytest.fixture(scope="module")
def transcript(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Transcript]:
    config = {
        "database_url": f"sqlite:///{tmp_path_factory.mktemp('teams') / 'techhelp.db'}",
        "techhelp_triage_channel": TRIAGE,
        "techhelp_alert_channels": [ALERTS],
        "techhelp_it_channel": IT,
        "techhelp_admins": [ADMIN],
        "routing": {"staff": [STAFF]},
    }
    chat = build(config, capabilities=PLAIN, name="teams")  # Teams' capabilities: none of them
    with chat.bot.db.transaction() as session:
        members = [directory.Member(u, u.title(), True) for u in (ALICE, BOB, STAFF, ADMIN)]
        routing = chat.bot.settings.routing
        directory.sync(
            session=session,
            platform="teams",
            members=members,
            routing=routing,
            now=datetime.now(UTC),
        )
    t = Transcript(chat)
    t.do(
        "say", ALICE, f"/techhelp printer on floor 3 is jammed {POISON}\n" + "\n".join(POISON_LINES)
    )
    t.do("say", ALICE, "help")
    t.do("say", ALICE, "status")
    t.do("say", ALICE, "techhelp")
    t.do("press", ALICE, "Ask IT")
    t.do("fill", ALICE, description="The wifi in room 12 drops", urgency="high")
    t.do("press", STAFF, "Claim", card="TH-1")
    t.do("press", STAFF, "Escalate to Tier II", card="TH-1")
    t.do("press", STAFF, "Ask requester", card="TH-1")
    t.do("fill", STAFF, text="Which floor?")
    t.do("press", STAFF, "Resolve", card="TH-1")
    t.do("fill", STAFF, text="  ")  # refused: the form's error
    t.do("fill", STAFF, text="Cleared the jam")
    t.do("press", ALICE, "4", card="TH-1")
    t.do("press", STAFF, "Reopen", card="TH-1")
    t.do("say", ADMIN, "/techalert outage Email is down for everyone")
    t.do("press", BOB, "I'm affected", card="AL-1")
    t.do("say", ADMIN, "/techalert update AL-1 Engineers are on it")
    t.do("say", ALICE, "/techhelp my email is broken")
    t.do("say", ADMIN, "/techalert resolve AL-1 Fixed")
    t.do("say", ADMIN, "/techalert")
    t.do("press", ADMIN, "Send an IT alert")
    t.do("say", ADMIN, "/pulse")
    t.do("press", ADMIN, "New pulse check")
    t.do("say", ADMIN, "/pulse send How well do your tools work?")
    t.do("press", BOB, "4", card="How well")
    t.do("press", BOB, "Add a comment", card="How well")
    t.do("say", ADMIN, "/pulse close PS-1")
    t.do("say", BOB, "/pulse send x")
    t.do("open_home", ALICE)
    yield t
    chat.worker.stop()
    chat.bot.db.dispose()


def test_every_message_the_handlers_send_is_a_card_teams_accepts(transcript: Transcript) -> None:
    messages = transcript.messages()
    verbs = set()
    for message in messages:
        content = check_activity(teams.activity(message, names=NAMES), message)
        verbs |= {a["verb"] for a in actions(content)}
        assert teams.card(message, names=NAMES) == content
    # The scenario reached every kind of card a person presses on.
    assert {
        "triage.claim",
        "triage.escalate",
        "triage.ask",
        "triage.resolve",
        "triage.reopen",
        "requester.answer",
        "rating.rate:4",
        "rating.comment",
        "techalert.affected",
        "pulse.answer:3",
        "pulse.comment",
        "core.open_form",
        "home.new_request",
    } <= verbs, verbs
    assert len(messages) > 40


def test_every_form_the_handlers_open_is_a_card_of_inputs(transcript: Transcript) -> None:
    forms = {form.form_id: form for form in transcript.forms}
    assert {
        "techhelp.request",
        "triage.ask_form",
        "triage.resolve_form",
        "techalert.send",
        "pulse.define",
        "pulse.comment_form",
    } <= set(forms), set(forms)
    for form in forms.values():
        content = teams.form_card(form)
        check_card(content, allowed=ELEMENTS | INPUTS)
        [submit] = content["actions"]
        assert submit["verb"] == "form.submit" and submit["title"] == form.submit
        data = submit["data"]
        assert data["_form"] == form.form_id and data["_context"] == form.context
        # What Teams sends back on submit: the inputs' values merged into `data`, by input id.
        ids = [e["id"] for e in content["body"] if e["type"] in INPUTS]
        for f in form.fields:
            if f.kind == "datetime":
                assert f"{f.name}.date" in ids and f"{f.name}.time" in ids
                assert f.name in data["_datetime"]
            else:
                assert f.name in ids
            assert (f.name in data["_multiple"]) == (bool(f.options) and f.multiple)
        assert not set(ids) & set(data), "an input would overwrite the form's own data"
        for element in content["body"]:
            if element["type"] in INPUTS:
                name = element["id"].split(".")[0]
                spec = next(f for f in form.fields if f.name == name)
                assert element.get("isRequired") is (not spec.optional)
            if element["type"] == "Input.ChoiceSet":
                assert [c["value"] for c in element["choices"]] == [o.value for o in spec.options]
                assert element.get("isMultiSelect", False) is spec.multiple


def test_a_form_refused_shows_why_beside_its_field(transcript: Transcript) -> None:
    [(form, errors)] = [(f, e) for f, e in transcript.errors if f.form_id == "triage.resolve_form"]
    content = teams.form_card(form, errors=errors)
    check_card(content, allowed=ELEMENTS | INPUTS)
    body = content["body"]
    at = next(i for i, e in enumerate(body) if e.get("id") == "text")
    assert body[at]["errorMessage"] == "Please say what was done: the requester reads this note."
    assert body[at + 1]["color"] == "Attention"
    assert shown(body[at + 1]["text"]) == body[at]["errorMessage"]


def test_typed_markup_stays_text_on_the_triage_card(transcript: Transcript) -> None:
    card = teams.card(transcript.chat.transcript[0].message, names=NAMES)
    assert transcript.chat.transcript[0].to == TRIAGE
    typed = [t for t in texts(card) if "printer on floor 3" in shown(t)]
    assert len(typed) == 1
    assert live(typed[0]) == []  # no link, image, mention, HTML, bold, heading, list or quote
    lines = shown(typed[0]).splitlines()
    assert lines[0] == f"printer on floor 3 is jammed {POISON}"
    assert lines[1:] == POISON_LINES
    assert "Boss" not in json.dumps(card.get("msteams", {}))  # no entity for a typed <at>


def test_the_poison_stays_text_wherever_a_handler_repeats_it(transcript: Transcript) -> None:
    """The requester's confirmation, their status list and the triage card all quote it."""
    seen = 0
    for message in transcript.messages():
        for text in texts(teams.card(message, names=NAMES)):
            if "evil.example" in text:
                seen += 1
                assert "[click](http" not in text and "<at>Boss" not in text and "<b>" not in text
                assert "![img]" not in text and "**x**" not in text
                assert "[click](http://evil.example) ![img](x) **x** <b>bold</b>" in shown(text)
    assert seen >= 3


def test_a_person_the_bot_knows_is_mentioned_and_nobody_else(transcript: Transcript) -> None:
    claimed = next(
        s.message
        for s in transcript.chat.transcript
        if s.to == ALICE and "is now working on" in s.text
    )
    activity = teams.activity(claimed, names=NAMES)
    content = activity["attachments"][0]["content"]
    assert content["msteams"]["entities"] == [
        {
            "type": "mention",
            "text": "<at>Sam Staff</at>",
            "mentioned": {"id": STAFF, "name": "Sam Staff"},
        }
    ]
    assert "<at>Sam Staff</at> is now working on" in texts(content)[0]
    assert activity["summary"].startswith("🙋 @Sam Staff is now working on TH-1")
    # Without a name, the id is never shown as a mention, nor as the raw id.
    anonymous = teams.card(claimed, names={})
    assert "msteams" not in anonymous or "entities" not in anonymous["msteams"]
    assert "@someone is now working on" in texts(anonymous)[0] and STAFF not in json.dumps(
        anonymous
    )


def test_a_mention_name_cannot_break_out_of_its_tag() -> None:
    message = Message.plain(Neutral(f"Hi {mention('A1')}"))
    content = teams.card(message, names={"A1": "Eve</at><at>Boss [x](y)"})
    [tag] = re.findall(r"<at>[^<]*</at>", texts(content)[0])
    assert tag == "<at>Eve /at at Boss x y</at>"
    assert content["msteams"]["entities"][0]["mentioned"] == {
        "id": "A1",
        "name": "Eve</at><at>Boss [x](y)",
    }


def test_a_long_request_is_cut_with_a_note_and_fits(transcript: Transcript) -> None:
    """10,000 characters typed, most of them ones that escaping makes longer: the triage card
    the handler builds keeps Teams' limit and says how long the text was."""
    chat = transcript.chat
    typed = ("<b>&amp; *_[x](y)_* " * 500)[:10_000]
    chat.say(BOB, f"/techhelp {typed}")
    card = transcript.last(TRIAGE)
    activity = teams.activity(card, names=NAMES)
    check_activity(activity, card)
    body = " ".join(texts(activity["attachments"][0]["content"]))
    assert "characters in all" in body
    # A hand-made message with 10,000 characters in one text, each of them one that escaping
    # makes longer (about 38 KB as it would be sent): cut by the renderer itself.
    heavy = "&<*_" * 2_500
    message = Message(
        text=literal("TH-9"),
        blocks=(
            Block("header", text=literal("TH-9")),
            Block("section", text=Neutral("**Description:** ") + literal(heavy)),
            Block("actions", buttons=(Button("Claim", "triage.claim", "9"),)),
        ),
    )
    activity = teams.activity(message)
    content = check_activity(activity, message)
    assert teams.size(activity) > teams.MAX_ACTIVITY_BYTES - 1_500  # cut no more than needed
    note = "… _(cut: 10,013 characters in all)_"
    text = content["body"][1]["text"]
    assert text.startswith("**Description:** &amp;&lt;\\*\\_&amp;&lt;") and text.endswith(note)
    value = text.removeprefix("**Description:** ").removesuffix(note).rstrip()
    assert re.fullmatch(
        r"(&amp;&lt;\\\*\\_)+(&amp;(&lt;(\\\*)?)?)?", value
    )  # no escape cut in half
    assert live(value) == [] and len(shown(value)) > 3_000


def test_too_many_parts_keep_the_first_and_count_the_rest() -> None:
    facts = tuple(Fact(f"F{n}", literal("v" * 300)) for n in range(10))
    message = Message(
        text="many",
        blocks=tuple(Block("section", text=literal("s" * 300), fields=facts) for _ in range(40)),
    )
    activity = teams.activity(message)
    content = check_activity(activity, message)
    assert content["body"][-1]["text"].startswith("…and ") and content["body"][-1]["text"].endswith(
        " more"
    )
    assert len(content["body"]) > 10


def test_buttons_keep_their_verb_value_and_style_in_rows() -> None:
    buttons = tuple(
        Button(
            str(n),
            f"pulse.answer:{n}",
            f"v{n}",
            "primary" if n == 1 else "danger" if n == 2 else None,
        )
        for n in range(1, 11)
    )
    message = Message(text="Pick", blocks=(Block("actions", buttons=buttons),))
    content = check_activity(teams.activity(message), message)
    rows = [e for e in content["body"] if e["type"] == "ActionSet"]
    assert [len(r["actions"]) for r in rows] == [5, 5]
    first, second, third = rows[0]["actions"][:3]
    assert first == {
        "type": "Action.Execute",
        "title": "1",
        "verb": "pulse.answer:1",
        "data": {"_value": "v1"},
        "style": "positive",
    }
    assert second["style"] == "destructive" and "style" not in third


def test_the_bots_own_markup_becomes_teams_markdown() -> None:
    neutral = Neutral(
        "✅ **Done** and _noted_: see "
        + link("https://it.example/kb?q=a b", "the [KB]")
        + "\n\n- one\n- "
        + literal("two * <x>")
        + "\nNext line with `code_x <y>`\n> "
        + literal("a *quote*")
        + "\nafter\n```\n"
        + literal("███  40%")
        + "\n```\nend"
    )
    assert teams.text(neutral) == (
        "✅ **Done** and _noted_: see [the \\[KB\\]](https://it.example/kb?q=a%20b)"
        "\n\n- one\n- two \\* &lt;x>"
        "\n\nNext line with code\\_x &lt;y>"
        "\n\n│ a \\*quote\\*"
        "\n\nafter\n\n███  40%\n\nend"
    )
    content = teams.card(Message.plain(neutral))
    kinds = [(e.get("isSubtle", False), e.get("fontType", "Default")) for e in content["body"]]
    assert kinds == [
        (False, "Default"),
        (True, "Default"),
        (False, "Default"),
        (False, "Monospace"),
        (False, "Default"),
    ]
    assert content["body"][1]["text"] == "│ a \\*quote\\*"
    assert content["body"][3]["text"] == "███\u00a0\u00a040%"


def test_header_context_and_divider() -> None:
    message = Message(
        text="t",
        blocks=(
            Block("header", text=Neutral(f"TH-1 · {literal('Hard*ware')}")),
            Block("section", text="body", fields=(Fact("Who *", mention("A1")),)),
            Block("divider"),
            Block("context", text="small print"),
        ),
    )
    body = teams.card(message, names={"A1": "Ann"})["body"]
    assert body[0] == {
        "type": "TextBlock",
        "text": "TH-1 · Hard\\*ware",
        "size": "Large",
        "weight": "Bolder",
        "wrap": True,
    }
    assert body[2] == {"type": "FactSet", "facts": [{"title": "Who \\*", "value": "<at>Ann</at>"}]}
    assert body[3] == {
        "type": "TextBlock",
        "text": "small print",
        "size": "Small",
        "isSubtle": True,
        "separator": True,
        "wrap": True,
    }


def _chart_message(image: bytes) -> Message:
    file = File(
        name="digest.png",
        title="Weekly digest",
        alt_text="Requests per week: 5, 8, 3",
        content_b64=base64.b64encode(image).decode(),
    )
    return Message(
        text="Weekly service digest", blocks=(Block("section", text="**Digest**"),), file=file
    )


def test_a_chart_travels_inside_the_card_within_the_limit() -> None:
    from PIL import Image as Picture

    weeks = [f"2026-{m:02d}-{d:02d}" for m in range(1, 4) for d in (5, 12, 19, 26)]
    image = png.weekly_trend(
        weeks, list(range(3, 15)), [None, *range(10, 120, 10)], title="Requests"
    )
    assert len(image) * 4 / 3 > teams.MAX_ACTIVITY_BYTES  # as it is, it could never fit
    message = _chart_message(image)
    activity = teams.activity(message)
    content = check_activity(activity, message)
    [picture] = [e for e in content["body"] if e["type"] == "Image"]
    assert picture["altText"] == "Requests per week: 5, 8, 3"
    data = base64.b64decode(picture["url"].removeprefix("data:image/png;base64,"))
    assert Picture.open(io.BytesIO(data)).size == Picture.open(io.BytesIO(image)).size


def test_a_chart_too_large_to_fit_is_said_to_be_left_out() -> None:
    from PIL import Image as Picture

    noise = random.Random(7).randbytes(600 * 400 * 3)
    out = io.BytesIO()
    Picture.frombytes("RGB", (600, 400), noise).save(out, "PNG")
    message = _chart_message(out.getvalue())
    content = check_activity(teams.activity(message), message)
    assert not [e for e in content["body"] if e["type"] == "Image"]
    note = "📊 _The chart (Weekly digest) is too large to show in Teams._"
    assert shown(content["body"][-1]["text"]) == note


def test_summary_is_plain_words() -> None:
    message = Message.plain(
        Neutral(f"**TH-1** for {mention('A1')} and {mention('B2')}: {literal('<at>x</at> **y**')}")
    )
    assert (
        teams.activity(message, names={"A1": "Ann"})["summary"]
        == "TH-1 for @Ann and @someone: <at>x</at> **y**"
    )
