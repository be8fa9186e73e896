"""Neutral messages → terminal text.

A terminal shows no markup live, so this renderer only makes the structure readable: the bot's
`**bold**` as `*bold*`, `- ` items as `•`, a mention as `@id`, a link as `label (url)`; a value
(a literal span) is printed exactly as it was typed.
"""

from __future__ import annotations

from chatbot.messages import Message
from chatbot.text import Link, Literal, Markup, Mention, pieces


def _markup(text: str, *, line_start: bool) -> str:
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if (line_start or i > 0) and line.startswith("- "):
            line = "• " + line[2:]
        lines[i] = line.replace("**", "*")
    return "\n".join(lines)


def text(neutral: str) -> str:
    """Neutral markup as terminal text."""
    out: list[str] = []
    for piece in pieces(neutral):
        if isinstance(piece, Markup):
            out.append(_markup(piece.text, line_start=not out or out[-1].endswith("\n")))
        elif isinstance(piece, Literal):
            out.append(piece.text)
        elif isinstance(piece, Mention):
            out.append(f"@{piece.id}")
        elif isinstance(piece, Link):
            out.append(f"{piece.label} ({piece.url})")
    return "".join(out)


def message(msg: Message) -> str:
    """A whole message: a header as `== … ==`, facts indented, buttons in brackets."""
    lines: list[str] = []
    for block in msg.blocks:
        if block.kind == "header":
            lines.append(f"== {text(block.text)} ==")
        elif block.kind == "divider":
            lines.append("-" * 40)
        elif block.kind == "actions":
            lines.append(" ".join(f"[{b.label}]" for b in block.buttons))
        else:
            lines.append(text(block.text))
            lines.extend(f"  *{fact.label}*: {text(fact.value)}" for fact in block.fields)
    if not lines:
        lines.append(text(msg.text))
    return "\n".join(lines)
