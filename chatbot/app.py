"""Composition: settings → database, templates, core, platforms. Nothing happens at import."""

from __future__ import annotations

from datetime import timedelta

from chatbot.bot import Bot
from chatbot.clock import Clock
from chatbot.config import Settings
from chatbot.db import Database
from chatbot.delivery import DeliveryWorker, Sender
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


def attach_worker(bot: Bot, senders: dict[str, Sender], *, start: bool = True) -> DeliveryWorker:
    """The delivery worker for this process; the core wakes it after every commit."""
    settings = bot.settings
    worker = DeliveryWorker(
        bot.db,
        senders,
        clock=bot.clock,
        concurrency=settings.delivery_concurrency,
        lease=timedelta(seconds=settings.delivery_lease_seconds),
        posts_per_second=settings.delivery_rate,
        on_progress=bot.report_progress,
        build=bot.build,
    )
    bot.worker = worker
    if start:
        worker.start()
    return worker


def slack_parts(bot: Bot):  # type: ignore[no-untyped-def]
    """The Bolt app, the Slack sender and the inbox (not started), sharing one configuration."""
    from chatbot.inbox import Inbox
    from chatbot.platforms.slack.app import Replies, build_app
    from chatbot.platforms.slack.client import make_client
    from chatbot.platforms.slack.sender import SlackAPI, SlackSender

    settings = bot.settings
    # A send must finish well inside its lease, or another worker could take it over mid-flight.
    timeout = int(max(1, min(15, settings.delivery_lease_seconds / 2)))
    api = SlackAPI(settings.slack_bot_token, settings.slack_api_url, timeout=timeout)
    bolt_client = make_client(None, settings.slack_api_url, timeout=5)
    replies = Replies(bot.templates.render("common/apology.md.j2"))
    inbox = Inbox(bot, {"slack": replies.reply})
    app = build_app(bot, bolt_client, replies, inbox)
    return app, SlackSender(api), inbox
