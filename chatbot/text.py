"""Words live in `templates/`; this module renders them into *neutral markup*.

Neutral markup is a `str` that no platform has seen yet, so it holds no platform's syntax and
nothing is escaped in it. The bot's own words carry a little structure, CommonMark-like:
`**bold**`, `_italic_`, `` `code` ``, a line starting `> ` (a quote) or `- ` (a list item).
Everything else is marked with Unicode private-use sentinels that only this module makes:

- a *literal span* (`literal(text)`): text that must be shown exactly as it is, never read as
  markup. Every value a template interpolates becomes one, so `<!channel>`, `<@U1>`, `*bold*`
  or `> quote` typed by a person stay text on every platform;
- a *mention* (`mention(person)`): a person the bot itself knows, for the platform to make live;
- a *link* (`link(url, label)`): a link the bot itself made.

Each platform's renderer (`chatbot/platforms/<name>/render.py`) reads the markup once with
`pieces()` and escapes and formats for its platform; `plain_text()` gives the text without any
markup (for a notification or an error shown beside a form field); `fit()` is the one place
rendered text is cut to a platform's limit, with a note saying so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

LITERAL, END_LITERAL = "\ue000", "\ue001"
MENTION, END_MENTION = "\ue002", "\ue003"
LINK, LINK_LABEL, END_LINK = "\ue004", "\ue005", "\ue006"
_SENTINELS = re.compile("[\ue000-\ue00f]")
_TOKEN = re.compile(
    f"{LITERAL}([^{END_LITERAL}]*){END_LITERAL}"
    f"|{MENTION}([^{END_MENTION}]*){END_MENTION}"
    f"|{LINK}([^{LINK_LABEL}]*){LINK_LABEL}([^{END_LINK}]*){END_LINK}"
)
CUT_NOTE = "… _(cut: {n:,} characters in all)_"


class Neutral(str):
    """Neutral markup the bot built itself (a mention, a line made in code): a template shows
    it as markup instead of turning it into a literal span."""


@dataclass(frozen=True)
class Markup:
    """The bot's own words, with their structure (`**bold**`, `_italic_`, `> `, `- `)."""

    text: str


@dataclass(frozen=True)
class Literal:
    """Text to show exactly as it is (a value: what a person typed, a name, a number)."""

    text: str


@dataclass(frozen=True)
class Mention:
    """A person the bot knows, by their id on the platform the message goes to."""

    id: str


@dataclass(frozen=True)
class Link:
    url: str
    label: str


Piece = Markup | Literal | Mention | Link


def _clean(value: object) -> str:
    return _SENTINELS.sub("", str(value))


def literal(value: object) -> Neutral:
    """`value` as a literal span: shown as it is, on every platform."""
    text = _clean(value)
    return Neutral(f"{LITERAL}{text}{END_LITERAL}") if text else Neutral("")


def mention(person: object) -> Neutral:
    """A live mention of a person the bot knows (a user id, or an address with an `id`).
    Never for typed text: only ids the bot got from the platform or its configuration."""
    if not person:
        return Neutral("someone")
    ident = _clean(getattr(person, "id", person))
    return Neutral(f"{MENTION}{ident}{END_MENTION}")


def link(url: str, label: str) -> Neutral:
    """A link the bot made (its own URL); the label is shown as text."""
    return Neutral(f"{LINK}{_clean(url)}{LINK_LABEL}{_clean(label)}{END_LINK}")


def pieces(neutral: str) -> list[Piece]:
    """Neutral markup read into its parts, in order (what every renderer walks)."""
    out: list[Piece] = []
    at = 0
    for match in _TOKEN.finditer(neutral):
        if match.start() > at:
            out.append(Markup(_SENTINELS.sub("", neutral[at : match.start()])))
        text, ident, url, label = match.groups()
        if text is not None:
            out.append(Literal(text))
        elif ident is not None:
            out.append(Mention(ident))
        else:
            out.append(Link(url, label))
        at = match.end()
    if at < len(neutral):
        out.append(Markup(_SENTINELS.sub("", neutral[at:])))
    return out


_BOLD = re.compile(r"\*\*")
_ITALIC = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_QUOTE = re.compile(r"^> ?", re.MULTILINE)
_ITEM = re.compile(r"^- ", re.MULTILINE)


def _inline(text: str) -> str:
    return _ITALIC.sub("", _BOLD.sub("", text)).replace("`", "")


def plain_markup(text: str, *, line_start: bool = True) -> str:
    """The bot's own words without their markup (bullets kept as `•`). `line_start`: whether
    `text` begins a line (a `> ` or `- ` there is structure, elsewhere a character)."""
    if not line_start:
        head, newline, rest = text.partition("\n")
        return _inline(head) + (newline + plain_markup(rest) if newline else "")
    return _inline(_QUOTE.sub("", _ITEM.sub("• ", text)))


def plain_text(neutral: str, *, mention: Callable[[str], str] = "@{}".format) -> str:
    """Neutral markup as plain text, with no markup live at all: for a notification, a
    fallback, an error shown beside a form field, a log. Mentions become `@id` unless the
    caller knows better."""
    out: list[str] = []
    for piece in pieces(neutral):
        line_start = not out or out[-1].endswith("\n")
        if isinstance(piece, Markup):
            out.append(plain_markup(piece.text, line_start=line_start))
        elif isinstance(piece, Literal):
            out.append(piece.text)
        elif isinstance(piece, Mention):
            out.append(mention(piece.id))
        else:
            out.append(piece.label)
    return "".join(out)


def shorten(value: object, limit: int) -> Neutral:
    """A value cut to `limit` characters as typed, as a literal span with a note saying so
    (the `cut` filter of templates: how much of a long text a message shows)."""
    text = _clean(value)
    if len(text) <= limit:
        return literal(text)
    note = CUT_NOTE.format(n=len(text))
    return Neutral(literal(text[: max(0, limit - len(note))].rstrip()) + note)


def _prefix(neutral: str, end: int) -> str:
    """The first `end` characters of neutral markup, never splitting a mention or a link,
    with an open literal span closed and an open `**` closed."""
    head = neutral[:end]
    for opener, closer in ((MENTION, END_MENTION), (LINK, END_LINK)):
        if head.rfind(opener) > head.rfind(closer):
            head = head[: head.rfind(opener)]
    open_literal = head.rfind(LITERAL) > head.rfind(END_LITERAL)
    head = head.rstrip() if open_literal else head.rstrip().rstrip("*")
    if open_literal:
        head += END_LITERAL
    if sum(p.text.count("**") for p in pieces(head) if isinstance(p, Markup)) % 2:
        head += "**"
    return head


def fit(neutral: str, render: Callable[[str], str], limit: int) -> str:
    """`neutral` rendered by `render`, at most `limit` rendered characters: if longer, cut
    (by rendered length, so an escaped `&amp;` counts five) with a note saying how long it
    was. The one place text is truncated for a platform's limits."""
    whole = render(neutral)
    if len(whole) <= limit:
        return whole
    note = CUT_NOTE.format(n=len(plain_text(neutral)))

    def attempt(end: int) -> str:
        return render(_prefix(neutral, end) + note)

    low, high = 0, len(neutral)
    while low < high:  # the longest prefix whose rendering, note included, fits
        middle = (low + high + 1) // 2
        if len(attempt(middle)) <= limit:
            low = middle
        else:
            high = middle - 1
    result = attempt(low)
    return result if len(result) <= limit else result[:limit]


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Neutral):
        return value
    return literal(value)


def templates_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("templates/ not found beside the chatbot package")


class Templates:
    """`render("techhelp/received.md.j2", request=...)` → neutral markup, every value in it a
    literal span (Jinja's autoescape is HTML, not ours: it is off)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.env = Environment(
            loader=FileSystemLoader(directory or templates_dir()),
            undefined=StrictUndefined,
            finalize=_finalize,
            autoescape=False,
            keep_trailing_newline=False,
            auto_reload=False,  # templates change with a deploy, not while running
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(mention=mention, link=link)
        self.env.filters.update(cut=shorten)

    def render(self, name: str, **values: Any) -> Neutral:
        return Neutral(self.env.get_template(name).render(**values).strip())

    def blocks(self, name: str, **values: Any) -> list[Neutral]:
        """A template split into parts on lines holding only `---` (one part per block)."""
        return [Neutral(part.strip()) for part in self.render(name, **values).split("\n---\n")]
