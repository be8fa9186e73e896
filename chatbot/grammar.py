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


def near_subcommand(text: str) -> str | None:
    """The subcommand a single typed word most likely meant ("stats": `status`), or None. Only
    a word alone, of three letters or more, one edit away (a letter added, dropped, changed or
    two swapped): a request is never one word near a subcommand ("stats report is wrong" and
    "phone" are requests)."""
    word = text.strip().lower()
    if " " in word or len(word) < 3 or word in ALONE:
        return None
    return next((alone for alone in ALONE if _one_edit(word, alone)), None)


def _one_edit(a: str, b: str) -> bool:
    """Whether `a` becomes `b` by one insertion, deletion, substitution or swap of neighbours."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))
