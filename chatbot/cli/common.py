"""What the `chatbot` command groups share: settings with a readable error, logging, and the
composed bot with the parts of every configured platform (Slack, Teams) and its workers."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from chatbot.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from chatbot.bot import Bot
    from chatbot.delivery import Sender
    from chatbot.directory import Member
    from chatbot.inbox import Inbox
    from chatbot.platforms.slack.runner import SlackParts
    from chatbot.platforms.teams.runner import TeamsParts

log = logging.getLogger("chatbot")


def settings(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def setup_logging(verbose: bool, *, quiet: bool = False) -> None:
    """INFO and up (`quiet`: an operator's command that runs and exits, warnings and up: its
    answer is what it prints); `verbose`, everything. Plain lines, or JSON lines with
    `LOG_FORMAT=json` (`chatbot.logs`)."""
    from chatbot import logs

    json_lines = os.environ.get("LOG_FORMAT", "").strip().lower() == "json"
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logs.configure(level=level, json_lines=json_lines)
    if not verbose:
        # Alembic's lines on every start ("Context impl SQLiteImpl") say nothing to act on.
        logging.getLogger("alembic").setLevel(logging.WARNING)
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


def delivers_here(settings: Settings) -> bool:
    """Whether this process can send (a platform's credentials are configured): an operator's
    command then delivers what it stored; otherwise a `chatbot serve` that has them does."""
    return bool(settings.slack_bot_token) or settings.teams_configured


def local_bot(settings: Settings, *, sync: bool = True) -> Bot:
    """The composed bot on an up-to-date database, for a command that runs and exits; the
    knowledge base's folder (`TECHHELP_KB`) read when `sync` (a start)."""
    from chatbot import kb
    from chatbot.app import build_bot

    bot = build_bot(settings)
    bot.db.upgrade()
    if settings.slack_configured or settings.teams_configured:
        from chatbot import demo

        with bot.db.transaction() as session:
            if demo.is_demo(session):
                bot.db.dispose()
                raise click.ClickException(demo.refusal(settings))
    if sync and settings.techhelp_kb is not None:
        with bot.db.transaction() as session:
            report = kb.sync(session=session, folder=settings.techhelp_kb, now=bot.clock.now())
        log.info(
            "knowledge base: %d added, %d updated, %d withdrawn, %d skipped",
            len(report.added),
            len(report.updated),
            len(report.withdrawn),
            len(report.skipped),
        )
    return bot


@dataclass
class Platforms:
    """The platforms this process serves: Slack's parts, Teams' parts (each None when not
    configured), and the one inbox their deferred clicks share."""

    slack: SlackParts | None
    teams: TeamsParts | None
    inbox: Inbox | None

    def senders(self) -> dict[str, Sender]:
        found: dict[str, Sender] = {}
        if self.slack is not None:
            found["slack"] = self.slack.sender
        if self.teams is not None:
            found["teams"] = self.teams.sender
        return found

    def directories(self, settings: Settings) -> dict[str, Callable[[], Iterable[Member]]]:
        """Each configured platform's member list, for `chatbot clock`'s directory sync."""
        found: dict[str, Callable[[], Iterable[Member]]] = {}
        if self.slack is not None and settings.slack_configured:
            found["slack"] = self.slack.sender.api.members
        if self.teams is not None:
            found["teams"] = self.teams.members
        return found


def require_platform(settings: Settings, *slack: str) -> None:
    """Slack's named settings, unless Teams alone is configured (then Slack is simply off)."""
    if settings.teams_configured and not settings.slack_configured:
        return
    require_slack(settings, *slack)


def compose(bot: Bot, *, slack: bool = True) -> Platforms:
    """The parts of every configured platform, sharing the composed bot and one inbox."""
    settings = bot.settings
    slack_parts_: SlackParts | None = None
    teams: TeamsParts | None = None
    inbox: Inbox | None = None
    if slack and (settings.slack_configured or not settings.teams_configured):
        from chatbot.platforms.slack.runner import slack_parts

        slack_parts_ = slack_parts(bot)
        inbox = slack_parts_.inbox
    if settings.teams_configured:
        from chatbot.platforms.teams.runner import teams_parts

        teams = teams_parts(bot, inbox)
        inbox = teams.inbox
    return Platforms(slack=slack_parts_, teams=teams, inbox=inbox)


@contextmanager
def chat_bot(
    ctx: click.Context,
    *required: str,
    deliveries: bool = True,
    inbox: bool = False,
    quiet: bool = False,
) -> Iterator[tuple[Bot, Platforms]]:
    """The composed bot with the parts of every configured platform (Slack, Teams or both), one
    running delivery worker sending through all of their senders unless `deliveries` is off,
    and the inbox worker if `inbox` (the long-running processes only: an operator's command
    must not take stored clicks). `required` names Slack settings needed unless Teams alone is
    configured. SIGTERM (a deploy, `kill`) ends it gracefully: the event and the sends in
    flight finish and are recorded before exit. `quiet`: an operator's command (only warnings
    are logged)."""
    setup_logging(ctx.obj["verbose"], quiet=quiet)
    current = settings()
    require_platform(current, *required)
    bot = local_bot(current)
    platforms = compose(bot)
    worker = bot.attach_worker(platforms.senders(), start=deliveries)
    if inbox and platforms.inbox is not None:
        platforms.inbox.start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        yield bot, platforms
    finally:
        log.info("stopping: finishing the event and the deliveries in flight")
        if platforms.inbox is not None:
            platforms.inbox.stop()
        worker.stop()
        bot.db.dispose()


@contextmanager
def slack_bot(
    ctx: click.Context, *required: str, deliveries: bool = True, inbox: bool = False
) -> Iterator[tuple[Bot, SlackParts]]:
    """`chat_bot` for a command that needs Slack itself (Socket Mode): its Slack parts."""
    setup_logging(ctx.obj["verbose"])
    require_slack(settings(), *required)
    with chat_bot(ctx, *required, deliveries=deliveries, inbox=inbox) as (bot, platforms):
        assert platforms.slack is not None
        yield bot, platforms.slack
