"""`chatbot kb …`: the knowledge base of self-service answers."""

from __future__ import annotations

import click

from chatbot.bot import Bot
from chatbot.cli.common import settings
from chatbot.kb import SyncReport


@click.group()
def kb() -> None:
    """Knowledge-base articles (`TECHHELP_KB`)."""


@kb.command("sync")
def kb_sync() -> None:
    """Read the TECHHELP_KB folder: publish new and changed articles, withdraw removed ones."""
    from chatbot.cli.common import local_bot

    current = settings()
    if current.techhelp_kb is None:
        click.echo("TECHHELP_KB is not set: no folder to read")
    bot = local_bot(current, sync=False)
    report = sync_now(bot)
    bot.db.dispose()
    click.echo(
        f"{len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.withdrawn)} withdrawn, {report.unchanged} unchanged, "
        f"{len(report.skipped)} skipped"
    )
    for problem in report.skipped:
        click.echo(f"skipped {problem}", err=True)


def sync_now(bot: Bot) -> SyncReport:
    from chatbot import kb as knowledge_base

    with bot.db.transaction() as session:
        return knowledge_base.sync(
            session=session, folder=bot.settings.techhelp_kb, now=bot.clock.now()
        )
