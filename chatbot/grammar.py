"""The one grammar of a free-text message to the bot (Slack's Messages tab, Teams personal
chat, a console line): `help`, `status` or `home` alone, a leading command word (`techhelp`,
`techalert`, `pulse`, `liaison`: any registered command), or else the text of a new request. Every
platform adapter hands the raw text to the core, which routes it here, once."""

from __future__ import annotations

from collections.abc import Collection

# Words that, alone, mean the default command's own `help`, `status` and `home` (the person's
# home card, for platforms without a home view of their own).
ALONE = ("help", "status", "home")


def parse(text: str, *, commands: Collection[str], default: str) -> tuple[str, str]:
    """(command name, its text) for a message. A leading slash on the command word is allowed,
    as people type it out of habit; words the bot does not know are request text."""
    stripped = text.strip()
    if stripped.lower() in ALONE:
        return default, stripped.lower()
    parts = stripped.split(maxsplit=1)
    word = parts[0].lower().removeprefix("/") if parts else ""
    if word in commands:
        return word, parts[1].strip() if len(parts) > 1 else ""
    return default, stripped
