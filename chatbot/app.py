"""Composition: settings → database, templates, the core and the capabilities it routes to.
Nothing happens at import. The one module of the core that lists `commands`."""

from __future__ import annotations

from chatbot.bot import Bot
from chatbot.clock import Clock
from chatbot.config import Settings
from chatbot.db import Database
from chatbot.text import Templates


def build_bot(settings: Settings, *, clock: Clock | None = None) -> Bot:
    from commands import ROUTES

    return Bot(
        settings=settings,
        db=Database(settings.database_url),
        templates=Templates(),
        clock=clock or Clock(),
        routes=ROUTES,
    )
