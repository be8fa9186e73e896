"""Guess a request's category and urgency from its text, with rules from configuration."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from chatbot.config import URGENCIES, Category, Routing


@dataclass(frozen=True)
class Triage:
    category: str
    urgency: str
    queue: str
    tier: int


def _mentions(text: str, keyword: str) -> bool:
    # The substring test first: most keywords are not in a given text at all, and it costs a
    # fraction of the whole-word search.
    return keyword.lower() in text and _pattern(keyword).search(text) is not None


@lru_cache(maxsize=4096)
def _pattern(keyword: str) -> re.Pattern[str]:
    """A keyword as a whole word, compiled once: every /techhelp tries each configured keyword,
    more of them than `re`'s own cache keeps."""
    return re.compile(rf"(?<!\w){re.escape(keyword.lower())}(?!\w)")


def guess(text: str, routing: Routing) -> Triage:
    lowered = text.lower()
    category: Category | None = None
    best = 0
    for candidate in routing.categories:
        hits = sum(_mentions(lowered, keyword) for keyword in candidate.keywords)
        if hits > best:
            category, best = candidate, hits
    category = category or routing.category(routing.default_category)
    urgency = category.urgency
    for rule in routing.urgency_rules:  # rules are in priority order: first match wins
        if any(_mentions(lowered, keyword) for keyword in rule.keywords):
            urgency = rule.urgency
            break
    return Triage(category.name, urgency, category.queue, category.tier)


def for_category(name: str, urgency: str | None, routing: Routing) -> Triage:
    """Routing for a category chosen by the requester (the form)."""
    category = routing.category(name)
    chosen = urgency if urgency in URGENCIES else category.urgency
    return Triage(category.name, chosen, category.queue, category.tier)
