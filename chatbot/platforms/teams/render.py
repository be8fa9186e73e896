"""Neutral messages and forms → Adaptive Cards 1.5 for Microsoft Teams, within Teams' limits.

This is where neutral markup (`chatbot/text.py`) becomes the Markdown subset a Teams card shows
(`**bold**`, `_italic_`, `- ` and `1. ` lists, `[label](url)`; no headings, quotes, code or HTML),
once, when the platform is known. The bot's own words keep their structure: a `> ` quote becomes
a subtle line of its own (a card has no quote), a fenced block a monospace text, an inline code
span plain words. A literal span (a value: what a person typed) has every Markdown character
backslash-escaped and `& <` written as entities, so `**x**`, `[click](http://evil)`, `![img](x)`,
`# h`, `<b>` or a typed `<at>Boss</at>` stay text: nothing in it can format, link, show an image
or mention. A mention token becomes `<at>Name</at>` with its entity on the card only for a person
in `names` (id → display name); any other id is a plain "@someone".

Every line break is Markdown's: a card's TextBlock joins lines unless they are list items or
paragraphs, so lines are separated by a blank line (list items by one newline), as Teams' card
formatting notes say. A whole activity stays under Teams' message size (about 28 KB): when it
would not, the longest texts are cut to a common length by `chatbot.text.fit`, each with its
note; a chart (`Message.file`, a PNG) travels inline as a `data:` URI, re-encoded with fewer
colours when that makes it fit, else the card says it was left out.

The cards are built with the Teams SDK's card models (`microsoft_teams.cards`): they check every
element's names and enumerations, and dump to the plain JSON Teams expects.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final
from typing import Literal as Kind

from microsoft_teams.cards import (
    Action,
    ActionSet,
    AdaptiveCard,
    CardElement,
    Choice,
    ChoiceSetInput,
    DateInput,
    ExecuteAction,
    Fact,
    FactSet,
    Image,
    MentionedEntity,
    TeamsCardProperties,
    TextBlock,
    TextInput,
    TimeInput,
)
from microsoft_teams.cards import (
    Mention as MentionEntity,
)

from chatbot.messages import Block, Button, Field, File, Form, Message
from chatbot.text import (
    Link,
    Literal,
    Markup,
    Mention,
    fit,
    link,
    literal,
    mention,
    pieces,
    plain_text,
)

CARD = "application/vnd.microsoft.card.adaptive"
VERSION: Final = "1.5"
MAX_ACTIVITY_BYTES = 28_000  # Teams refuses a message much over ~28 KB
MIN_TEXT = 200  # the shortest a text is cut to before whole elements are left out
BUTTONS_PER_ROW = 5  # a host shows only so many actions in a row (its maxActions): rows of five
MAX_BUTTONS = 25
BUTTON_TEXT = 75
LABEL_TEXT = 300
CHOICE_TEXT = 150
PLACEHOLDER_TEXT = 150
ERROR_TEXT = 300
SUMMARY_TEXT = 500
ALT_TEXT = 1_000
FORM_TEXT = 3_000
FORM_SUBMIT = "form.submit"
# The few words the renderer itself adds (as Slack's "…and N more").
MORE = "…and {n} more"
NO_CHART = "📊 _The chart ({title}) is too large to show in Teams._"
TIME_LABEL = "Time"

_NO_NAMES: Mapping[str, str] = MappingProxyType({})
_STYLES: dict[str, Kind["positive", "destructive"]] = {
    "primary": "positive",
    "danger": "destructive",
}

# --- neutral markup → Teams Markdown ---------------------------------------------------------

# In a value every Markdown character is escaped; `& <` become entities (a card's text may be
# read as HTML on some clients, and `<at>` is Teams' mention tag).
_VALUE = str.maketrans(
    {
        "\\": "\\\\",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "[": "\\[",
        "]": "\\]",
        "(": "\\(",
        ")": "\\)",
        "~": "\\~",
        "|": "\\|",
        "&": "&amp;",
        "<": "&lt;",
    }
)
# In the bot's words `**`, `_` and `- ` are structure; the rest is escaped as in a value.
_WORDS = str.maketrans(
    {"\\": "\\\\", "[": "\\[", "]": "\\]", "~": "\\~", "|": "\\|", "&": "&amp;", "<": "&lt;"}
)
_LEADING_SPACE = re.compile(r"^[ \t]+")
_LEADING_MARK = re.compile(r"^([-+#>=])")
_LEADING_NUMBER = re.compile(r"^(\d+)([.)])")
_ITEM = re.compile(r"^(- |\d+\. )")
_FENCE = "```"
_AT_UNSAFE = re.compile(r"[<>&\\`*_\[\]()~|#\s]+")


class _Spans:
    """Whether the text being rendered is inside a bot's inline code span (across pieces)."""

    def __init__(self) -> None:
        self.open = False


def _value(text: str, *, line_start: bool) -> str:
    """A literal span: shown as typed, nothing in it live. A list, number, heading or quote
    marker opening one of its lines is escaped, and leading spaces kept (as no-break spaces,
    which Markdown does not read as an indented code block)."""
    lines = text.translate(_VALUE).split("\n")
    for i, line in enumerate(lines):
        if i == 0 and not line_start:
            continue
        line = _LEADING_SPACE.sub(lambda m: "\u00a0" * len(m.group(0)), line)
        line = _LEADING_MARK.sub(r"\\\1", line)
        lines[i] = _LEADING_NUMBER.sub(r"\1\\\2", line)
    return "\n".join(lines)


def _words(text: str, *, line_start: bool) -> str:
    """The bot's own words (outside code spans): `**`, `_`, `- ` and `1. ` kept; a `> ` quote
    opening a line becomes a bar (a card has no quote); a `#` there is not a heading."""
    if line_start and text.startswith(">"):
        text = "│ " + text[1:].removeprefix(" ")
    elif line_start and text.startswith("#"):
        return "\\" + text.translate(_WORDS)
    return text.translate(_WORDS)


def _markup_line(line: str, *, line_start: bool, spans: _Spans) -> str:
    parts = line.split("`")
    out: list[str] = []
    for i, part in enumerate(parts):
        if i > 0:
            spans.open = not spans.open  # a backtick: Teams has no code span, the words stay
        start = line_start and not "".join(out)
        out.append(_value(part, line_start=start) if spans.open else _words(part, line_start=start))
    return "".join(out)


def _markup(text: str, *, line_start: bool, spans: _Spans, code: bool) -> str:
    lines = text.split("\n")
    for i, line in enumerate(lines):
        start = line_start or i > 0
        if start and line.strip() == _FENCE:
            lines[i] = ""
        elif code:
            lines[i] = _value(line, line_start=start)
        else:
            lines[i] = _markup_line(line, line_start=start, spans=spans)
    return "\n".join(lines)


def _at_name(name: str) -> str:
    """A display name as it can stand inside `<at>…</at>`: nothing in it read as markup."""
    return _AT_UNSAFE.sub(" ", name).strip()


def _mention(ident: str, names: Mapping[str, str]) -> str:
    name = _at_name(names.get(ident, ""))
    return f"<at>{name}</at>" if name else "@someone"


def _url(url: str) -> str:
    return "".join(
        {" ": "%20", "(": "%28", ")": "%29", "<": "%3C", ">": "%3E"}.get(c, c) for c in url
    )


def _breaks(markdown: str) -> str:
    """Lines as a card shows them: blank-line separated, list items one newline apart."""
    lines = [line for line in markdown.split("\n") if line.strip()]
    out: list[str] = []
    for i, line in enumerate(lines):
        if i:
            out.append("\n" if _ITEM.match(lines[i - 1]) and _ITEM.match(line) else "\n\n")
        out.append(line)
    return "".join(out)


def _render(neutral: str, names: Mapping[str, str], *, code: bool = False) -> str:
    out: list[str] = []
    line_start = True
    spans = _Spans()
    for piece in pieces(neutral):
        if isinstance(piece, Markup):
            text = _markup(piece.text, line_start=line_start, spans=spans, code=code)
        elif isinstance(piece, Literal):
            text = _value(piece.text, line_start=line_start)
        elif isinstance(piece, Mention):
            text = _mention(piece.id, names)
        else:
            label = _value(piece.label or piece.url, line_start=False)
            text = f"[{label}]({_url(piece.url)})"
        out.append(text)
        if text:
            line_start = text.endswith("\n")
    rendered = _breaks("".join(out))
    return rendered.replace(" ", "\u00a0") if code else rendered


def text(neutral: str, *, names: Mapping[str, str] = _NO_NAMES) -> str:
    """Neutral markup as Teams Markdown (a card's TextBlock, or a message's text)."""
    return _render(neutral, names)


def summary(neutral: str, *, names: Mapping[str, str] = _NO_NAMES) -> str:
    """Neutral markup as plain words, nothing live: a notification's preview."""

    def named(ident: str) -> str:
        return f"@{names[ident]}" if ident in names else "@someone"

    return fit(neutral, lambda n: plain_text(n, mention=named), SUMMARY_TEXT)


def _plain(words: str, limit: int) -> str:
    """Plain words (a button, a label, a choice): shown as they are, cut to the limit."""
    return fit(literal(words), plain_text, limit) or " "


# --- a section's text as a card's text blocks ------------------------------------------------

Segment = tuple[Kind["text", "quote", "code"], str]


def _encode(piece: Literal | Mention | Link) -> str:
    if isinstance(piece, Literal):
        return literal(piece.text)
    if isinstance(piece, Mention):
        return mention(piece.id)
    return link(piece.url, piece.label)


def segments(neutral: str) -> list[Segment]:
    """A text split where a card needs elements of its own: a `> ` quote line of the bot's
    (a subtle line) and a fenced block (monospace). Only the bot's words can start one."""
    out: list[Segment] = []
    kind: Kind["text", "quote", "code"] = "text"
    current: list[str] = []

    def close(following: Kind["text", "quote", "code"]) -> None:
        nonlocal kind, current
        if any(part.strip() for part in current):
            out.append((kind, "".join(current)))
        kind, current = following, []

    line_start = True
    for piece in pieces(neutral):
        if not isinstance(piece, Markup):
            current.append(_encode(piece))
            line_start = False
            continue
        for i, line in enumerate(piece.text.split("\n")):
            if i > 0:
                if kind == "quote":
                    close("text")
                else:
                    current.append("\n")
            start = line_start or i > 0
            if start and line.strip() == _FENCE:
                close("text" if kind == "code" else "code")
                continue
            if start and kind != "code" and line.startswith(">"):
                close("quote")
                line = line[1:].removeprefix(" ")
            current.append(line)
        if piece.text:
            line_start = piece.text.endswith("\n")
    close("text")
    return out


# --- messages ---------------------------------------------------------------------------------


class _Texts:
    """Renders a message's texts, each cut to `budget` rendered characters (None: whole)."""

    def __init__(self, names: Mapping[str, str], budget: int | None) -> None:
        self.names = names
        self.budget = budget

    def __call__(self, neutral: str, *, code: bool = False, limit: int | None = None) -> str:
        budget = min(b for b in (self.budget, limit, 10**9) if b is not None)
        return fit(neutral, lambda n: _render(n, self.names, code=code), budget) or " "

    def blocks(self, neutral: str, **style: Any) -> list[CardElement]:
        elements: list[CardElement] = []
        for kind, part in segments(neutral):
            if kind == "quote":
                elements.append(
                    TextBlock(text=self("│ " + part), wrap=True, is_subtle=True, spacing="Small")
                )
            elif kind == "code":
                elements.append(
                    TextBlock(text=self(part, code=True), wrap=True, font_type="Monospace")
                )
            else:
                elements.append(TextBlock(text=self(part), wrap=True, **style))
        return elements


def _button(button: Button) -> ExecuteAction:
    action = ExecuteAction(
        title=_plain(button.label, BUTTON_TEXT),
        verb=button.action,
        data={"_value": button.value},
    )
    if button.style:
        action.style = _STYLES[button.style]
    return action


def _rows(buttons: Sequence[Button]) -> list[CardElement]:
    shown: list[Action] = [_button(b) for b in buttons[:MAX_BUTTONS]]
    return [
        ActionSet(actions=shown[at : at + BUTTONS_PER_ROW])
        for at in range(0, len(shown), BUTTONS_PER_ROW)
    ]


def _elements(block: Block, texts: _Texts) -> list[CardElement]:
    if block.kind == "header":
        return [TextBlock(text=texts(block.text), size="Large", weight="Bolder", wrap=True)]
    if block.kind == "context":
        return texts.blocks(block.text, size="Small", is_subtle=True)
    if block.kind == "actions":
        return _rows(block.buttons)
    if block.kind == "divider":
        return []
    elements = texts.blocks(block.text)
    if block.fields:
        facts = [
            Fact(title=texts(literal(f.label), limit=LABEL_TEXT), value=texts(f.value))
            for f in block.fields
        ]
        elements.append(FactSet(facts=facts))
    return elements


def _body(message: Message, texts: _Texts) -> list[CardElement]:
    body: list[CardElement] = []
    separator = False
    for block in message.blocks or (Block("section", text=message.text),):
        if block.kind == "divider":
            separator = bool(body)
            continue
        elements = _elements(block, texts)
        if elements and separator:
            elements[0].separator = True  # type: ignore[attr-defined]  # every element has it
            separator = False
        body.extend(elements)
    return body or [TextBlock(text=" ", wrap=True)]


def _image(file: File, url: str) -> Image:
    alt = fit(literal(file.alt_text or file.title), plain_text, ALT_TEXT)
    return Image(url=url, alt_text=alt)


def _chart_urls(file: File) -> Iterator[str]:
    """The chart as a `data:` URI: as it is, then with fewer colours and smaller (a chart has
    few colours, so a palette PNG is a third of the size and looks the same)."""
    yield f"data:image/png;base64,{file.content_b64}"
    try:
        from PIL import Image as Picture
    except ImportError:  # matplotlib brings Pillow; without it, only the original is tried
        return
    try:
        original = Picture.open(io.BytesIO(base64.b64decode(file.content_b64))).convert("RGB")
    except Exception:  # noqa: BLE001 - not a picture Pillow reads: only the original is tried
        return
    for scale, colours in ((1.0, 64), (1.0, 16), (0.75, 16), (0.5, 16)):
        picture = original
        if scale < 1:
            size = (max(1, int(picture.width * scale)), max(1, int(picture.height * scale)))
            picture = picture.resize(size, Picture.Resampling.LANCZOS)
        out = io.BytesIO()
        picture.quantize(colors=colours).save(out, "PNG", optimize=True)
        yield "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def size(activity: Mapping[str, Any]) -> int:
    """An activity's size as Teams counts it: its JSON in UTF-8 bytes (with the spaces of
    Python's default separators, a little more than any client sends)."""
    return len(json.dumps(activity, ensure_ascii=False).encode())


def _entities(content: str, names: Mapping[str, str]) -> list[MentionEntity]:
    entities: list[MentionEntity] = []
    for ident, name in names.items():
        at = _mention(ident, names)
        if at.startswith("<at>") and at in content:
            entities.append(MentionEntity(text=at, mentioned=MentionedEntity(id=ident, name=name)))
    return entities


def _lengths(body: list[dict[str, Any]]) -> list[int]:
    """The length of every text a cut can shorten (text blocks and fact values)."""
    lengths = [len(e.get("text", "")) for e in body]
    return lengths + [len(f.get("value", "")) for e in body for f in e.get("facts", ())]


def _common_length(lengths: list[int], need: int) -> int:
    """The longest length that, cutting every longer text to it, saves `need` characters."""
    low, high = 0, max(lengths, default=0)
    while low < high:
        middle = (low + high + 1) // 2
        if sum(max(0, n - middle) for n in lengths) >= need:
            low = middle
        else:
            high = middle - 1
    return low


class _Builder:
    def __init__(self, message: Message, names: Mapping[str, str]) -> None:
        self.message = message
        self.names = names
        self.summary = summary(message.text, names=names)

    def build(self, budget: int | None, extra: Sequence[CardElement] = ()) -> dict[str, Any]:
        return self.wrap([*_body(self.message, _Texts(self.names, budget)), *extra])

    def wrap(self, body: Sequence[CardElement]) -> dict[str, Any]:
        card = AdaptiveCard(version=VERSION, body=list(body))
        content = card.model_dump(by_alias=True, exclude_none=True)
        entities = _entities(json.dumps(content["body"], ensure_ascii=False), self.names)
        properties = TeamsCardProperties(width="full", entities=entities or None)
        content["msteams"] = properties.model_dump(by_alias=True, exclude_none=True)
        return {
            "type": "message",
            "summary": self.summary,
            "attachments": [{"contentType": CARD, "content": content}],
        }

    def chart(self, file: File) -> list[CardElement]:
        """The chart, the largest version of it that fits beside the texts; else a note."""
        room = MAX_ACTIVITY_BYTES - size(self.build(None))
        for url in _chart_urls(file):
            image = _image(file, url)
            if len(json.dumps(image.model_dump(by_alias=True, exclude_none=True))) + 2 <= room:
                return [image]
        note = NO_CHART.format(title=literal(file.title or file.name))
        return [TextBlock(text=text(note), wrap=True, is_subtle=True)]

    def fitted(self) -> dict[str, Any]:
        extra = self.chart(self.message.file) if self.message.file else []
        activity = self.build(None, extra)
        for _ in range(8):  # two or three rounds, as the texts' escapes make bytes of chars
            over = size(activity) - MAX_ACTIVITY_BYTES
            if over <= 0:
                return activity
            lengths = _lengths(activity["attachments"][0]["content"]["body"])
            chars = sum(lengths) or 1
            in_json = len(json.dumps(activity["attachments"][0]["content"]["body"]).encode())
            need = int(over * chars / in_json * 1.05) + 64  # characters to cut, with a margin
            budget = _common_length(lengths, need)
            if budget < MIN_TEXT:
                break
            activity = self.build(budget, extra)
        return self.trimmed(MIN_TEXT, extra)

    def trimmed(self, budget: int, extra: Sequence[CardElement]) -> dict[str, Any]:
        """Too many elements even with short texts: the first ones that fit, and a count."""
        body = _body(self.message, _Texts(self.names, budget))
        sizes = [size(e.model_dump(by_alias=True, exclude_none=True)) + 2 for e in body]
        room = MAX_ACTIVITY_BYTES - size(self.wrap([_more(len(body)), *extra]))
        keep = 0
        while keep < len(body) and sizes[keep] <= room:
            room -= sizes[keep]
            keep += 1
        while True:
            activity = self.wrap([*body[:keep], _more(len(body) - keep), *extra])
            if size(activity) <= MAX_ACTIVITY_BYTES or keep == 0:
                return activity
            keep -= 1  # a mention's entity took the room of the last element


def _more(n: int) -> TextBlock:
    return TextBlock(text=MORE.format(n=n), size="Small", is_subtle=True, wrap=True)


def activity(message: Message, *, names: Mapping[str, str] = _NO_NAMES) -> dict[str, Any]:
    """The activity that posts (or, with PUT, edits) the message: its card as the one
    attachment, the summary for notifications (`summary`: Teams splits an activity with both
    `text` and a card into two messages, and an edit could then reach only one of them)."""
    return _Builder(message, names).fitted()


def card(message: Message, *, names: Mapping[str, str] = _NO_NAMES) -> dict[str, Any]:
    """The message as an Adaptive Card (what an invoke answer replaces the clicked card with)."""
    content: dict[str, Any] = activity(message, names=names)["attachments"][0]["content"]
    return content


# --- forms ------------------------------------------------------------------------------------


def _error(error: str, texts: _Texts) -> TextBlock:
    return TextBlock(
        text=texts(error, limit=ERROR_TEXT),
        wrap=True,
        color="Attention",
        size="Small",
        spacing="Small",
    )


def _choices(field: Field) -> ChoiceSetInput:
    initial = field.initial
    if initial and field.multiple:
        initial = ",".join(v.strip() for v in initial.splitlines() if v.strip())
    return ChoiceSetInput(
        id=field.name,
        label=_plain(field.label, LABEL_TEXT),
        choices=[Choice(title=_plain(o.label, CHOICE_TEXT), value=o.value) for o in field.options],
        style="expanded" if len(field.options) <= 5 else "compact",
        is_multi_select=field.multiple or None,
        value=initial or None,
        placeholder=_plain(field.placeholder, PLACEHOLDER_TEXT) if field.placeholder else None,
        is_required=not field.optional,
        wrap=True,
    )


def _date_time(field: Field, error: str | None) -> list[CardElement]:
    date = time = None
    if field.initial:
        day, _, clock = field.initial.partition(" ")
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
            date, time = day, clock[:5] or None
    return [
        DateInput(
            id=f"{field.name}.date",
            label=_plain(field.label, LABEL_TEXT),
            value=date,
            is_required=not field.optional,
            error_message=error,
        ),
        TimeInput(
            id=f"{field.name}.time",
            label=TIME_LABEL,
            value=time,
            is_required=not field.optional,
            spacing="Small",
        ),
    ]


def _inputs(field: Field, error: str | None) -> list[CardElement]:
    if field.options:
        choice = _choices(field)
        choice.error_message = error
        return [choice]
    if field.kind == "datetime":
        return _date_time(field, error)
    if field.kind == "people":
        # Teams' people picker (`choices.data`, a Data.Query of graph.microsoft.com/users) is
        # not in the Adaptive Card 1.5 schema these cards are held to: ids, typed.
        return [
            TextInput(
                id=field.name,
                label=_plain(field.label, LABEL_TEXT),
                placeholder="Entra object ids, comma-separated",
                is_required=not field.optional,
                error_message=error,
            )
        ]
    return [
        TextInput(
            id=field.name,
            label=_plain(field.label, LABEL_TEXT),
            is_multiline=field.multiline or None,
            max_length=field.max_length,
            placeholder=_plain(field.placeholder, PLACEHOLDER_TEXT) if field.placeholder else None,
            value=field.initial or None,
            is_required=not field.optional,
            error_message=error,
        )
    ]


def form_card(form: Form, *, errors: Mapping[str, str] = _NO_NAMES) -> dict[str, Any]:
    """The form as card inputs: each input's id is its field's name (a date and time field is
    `<name>.date` and `<name>.time`); the submit button sends them with the form's id and
    context. `errors` (field name → neutral markup) show beside their fields, in red."""
    texts = _Texts(_NO_NAMES, None)
    body: list[CardElement] = [
        TextBlock(
            text=texts(literal(form.title), limit=LABEL_TEXT),
            size="Large",
            weight="Bolder",
            wrap=True,
        )
    ]
    if form.intro:
        body += _Texts(_NO_NAMES, FORM_TEXT).blocks(form.intro)
    names = {f.name for f in form.fields}
    body += [_error(e, texts) for name, e in errors.items() if name not in names]
    for field in form.fields:
        error = errors.get(field.name)
        plain = fit(error, plain_text, ERROR_TEXT) if error else None
        body += _inputs(field, plain)
        if error:
            body.append(_error(error, texts))
    submit = ExecuteAction(
        title=_plain(form.submit, BUTTON_TEXT),
        verb=FORM_SUBMIT,
        style="positive",
        data={
            "_form": form.form_id,
            "_context": form.context,
            "_multiple": [f.name for f in form.fields if f.options and f.multiple],
            "_datetime": [f.name for f in form.fields if f.kind == "datetime" and not f.options],
        },
    )
    card = AdaptiveCard(version=VERSION, body=body, actions=[submit])
    content = card.model_dump(by_alias=True, exclude_none=True)
    content["msteams"] = {"width": "full"}
    return content
