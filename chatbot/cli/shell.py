"""`chatbot shell`: the local console, on the same handlers and database."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import click

from chatbot.cli.common import local_bot, settings


@click.command()
@click.option("--user", default=None, help="Slack-style user id to act as (default UCONSOLE).")
def shell(user: str | None) -> None:
    """Local console on the same handlers and database."""
    from chatbot.platforms.console.shell import Console

    logging.basicConfig(level=logging.WARNING)
    # At the console, the ids of TECHHELP_* (channels, admins) are console names.
    current = settings().model_copy(update={"techhelp_platform": "console"})
    if not current.techhelp_triage_channel:
        current = current.model_copy(update={"techhelp_triage_channel": "#triage"})
    me = user or current.console_user
    if not current.techhelp_admins and not current.routing.staff:
        # Alone at a console you are the service desk too, so every flow can be tried.
        current = current.model_copy(update={"techhelp_admins": [me]})
    bot = local_bot(current)
    interactive = sys.stdin.isatty()

    def lines() -> Iterator[str]:
        while True:
            try:
                line = input("techhelp> ") if interactive else sys.stdin.readline()
            except EOFError:
                return
            if not interactive and not line:
                return
            yield line

    def ask(prompt: str) -> str:
        if interactive:
            return input(prompt)
        answer = sys.stdin.readline().rstrip("\n")
        click.echo(f"{prompt}{answer}")
        return answer

    Console(bot, user=me, out=click.echo).run(lines(), ask, echo=not interactive)
    bot.db.dispose()
