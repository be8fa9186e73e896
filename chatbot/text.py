"""Words live in `templates/`; this module renders them safely.

Every value interpolated into a template is escaped for Slack mrkdwn (`& < >`) by `finalize`,
so `<!channel>`, `<@U…>` and `<https://…|links>` typed by a user are shown as text, never made
live. Values the bot builds itself (a mention of the requester) are wrapped in `Trusted` by the
`mention` helper and pass through unchanged. Jinja's autoescape is HTML, not Slack: it is off.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ID = re.compile(r"^[A-Z0-9]{2,64}$")
_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")
CUT_NOTE = "… _(cut: {n:,} characters in all)_"


class Trusted(str):
    """Text built by the bot itself: already valid mrkdwn, not to be escaped again."""


def escape(value: object) -> str:
    if isinstance(value, Trusted):
        return value
    return str(value).translate(_ESCAPES)


def mention(user_id: str | None) -> Trusted:
    """A live mention, only for ids the bot knows are user ids (never for typed text)."""
    if not user_id:
        return Trusted("someone")
    if not _ID.match(user_id):
        return Trusted(escape(user_id))
    return Trusted(f"<@{user_id}>")


def cut(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, saying so. The one place text is truncated."""
    if len(text) <= limit:
        return text
    note = CUT_NOTE.format(n=len(text))
    head = _PARTIAL_ENTITY.sub("", text[: max(0, limit - len(note))])
    return head.rstrip() + note


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    return escape(value)


def templates_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("templates/ not found beside the chatbot package")


class Templates:
    """`render("techhelp/received.md.j2", request=...)` → escaped mrkdwn text."""

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
        self.env.globals.update(mention=mention)
        self.env.filters.update(cut=lambda value, limit: Trusted(cut(escape(value), limit)))

    def render(self, name: str, **values: Any) -> str:
        return self.env.get_template(name).render(**values).strip()

    def blocks(self, name: str, **values: Any) -> list[str]:
        """A template split into parts on lines holding only `---` (one part per block)."""
        return [part.strip() for part in self.render(name, **values).split("\n---\n")]
