"""What the `chatbot` command groups share: settings with a readable error, logging, and the
composed Slack bot with its workers for the commands that talk to Slack."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from chatbot.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from chatbot.bot import Bot
    from chatbot.platforms.slack.runner import SlackParts

log = logging.getLogger("chatbot")


def settings(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        # A line per Slack call, and one per request whenever every web thread is busy, cost
        # CPU under exactly the bursts that need it; failures are still logged.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)


def require_slack(settings: Settings, *names: str) -> None:
    missing = [name.upper() for name in names if not getattr(settings, name)]
    if missing:
        raise click.ClickException(
            f"{', '.join(missing)} not set: see the README, 'Connect a Slack workspace'. "
            "Without Slack credentials, run `chatbot shell` for the local console."
        )


def local_bot(settings: Settings) -> Bot:
    """The composed bot on an up-to-date database, for a command that runs and exits."""
    from chatbot.app import build_bot

    bot = build_bot(settings)
    bot.db.upgrade()
    return bot


@contextmanager
def slack_bot(
    ctx: click.Context, *required: str, deliveries: bool = True, inbox: bool = False
) -> Iterator[tuple[Bot, SlackParts]]:
    """The composed bot with its Slack parts, a running delivery worker unless `deliveries` is
    off, and an inbox worker if `inbox` (the long-running processes only: an operator's
    command must not take stored clicks). SIGTERM (a deploy, `kill`) ends it gracefully: the
    event and the sends in flight finish and are recorded before exit."""
    from chatbot.platforms.slack.runner import slack_parts

    setup_logging(ctx.obj["verbose"])
    current = settings()
    require_slack(current, *required)
    bot = local_bot(current)
    parts = slack_parts(bot)
    worker = bot.attach_worker({"slack": parts.sender}, start=deliveries)
    if inbox:
        parts.inbox.start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        yield bot, parts
    finally:
        log.info("stopping: finishing the event and the deliveries in flight")
        parts.inbox.stop()
        worker.stop()
        bot.db.dispose()
