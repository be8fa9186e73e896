"""The `chatbot` command: serve, socket, clock, shell, demo, alert, survey, db upgrade, teams;
with no command, the right one. One module per command group; this one only assembles them."""

from __future__ import annotations

import click

from chatbot.cli.alerts import alert
from chatbot.cli.common import settings
from chatbot.cli.db import db
from chatbot.cli.kb import kb
from chatbot.cli.serve import clock, serve, socket
from chatbot.cli.shell import demo_command, shell
from chatbot.cli.surveys import survey
from chatbot.cli.teams import teams


@click.group(invoke_without_command=True)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """TechHelp: the chat front door of the Technology Service Center.

    With no command: `serve` when Slack or Teams credentials are configured (`socket` when
    SLACK_APP_TOKEN is set too), otherwise the local console (`shell`)."""
    ctx.obj = {"verbose": verbose}
    if ctx.invoked_subcommand is None:
        current = settings()
        if current.slack_configured and current.slack_app_token:
            ctx.invoke(socket)
        elif current.slack_configured or current.teams_configured:
            ctx.invoke(serve)
        else:
            ctx.invoke(shell)


for command in (db, kb, serve, socket, clock, survey, shell, demo_command, alert, teams):
    main.add_command(command)
