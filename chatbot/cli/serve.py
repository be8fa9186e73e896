"""The long-running processes: `chatbot serve` (HTTP), `chatbot socket` (Socket Mode) and
`chatbot clock` (the scheduler)."""

from __future__ import annotations

import click

from chatbot.cli.common import chat_bot, slack_bot

SLACK_HTTP = ("slack_bot_token", "slack_signing_secret")


@click.command()
@click.option(
    "--web-only",
    is_flag=True,
    help="Answer requests only: deliveries and stored clicks are left to `chatbot clock` "
    "(several web processes, one sender).",
)
@click.pass_context
def serve(ctx: click.Context, web_only: bool) -> None:
    """HTTP server: POST /slack/events and/or POST /api/messages (Teams), GET /healthz,
    /dashboard, /report."""
    from chatbot.platforms.slack.server import slack_endpoint
    from chatbot.web.dashboard import Web
    from chatbot.web.host import Endpoint, Host
    from chatbot.web.host import serve as run_server

    workers = not web_only
    with chat_bot(ctx, *SLACK_HTTP, deliveries=workers, inbox=workers) as (bot, platforms):
        settings = bot.settings
        endpoints: list[Endpoint] = []
        if platforms.slack is not None:
            assert settings.slack_signing_secret  # required when Slack is configured
            endpoints.append(slack_endpoint(platforms.slack.app, settings.slack_signing_secret))
        if platforms.teams is not None:
            endpoints.append(platforms.teams.endpoint)
        web = Web(settings=settings, db=bot.db, clock=bot.clock)
        run_server(
            Host(bot.db, web=web, endpoints=endpoints),
            port=settings.port,
            threads=settings.web_threads,
            trusted_proxy=settings.techhelp_trusted_proxy,
        )


@click.command()
@click.pass_context
def socket(ctx: click.Context) -> None:
    """The same bot over Slack Socket Mode (needs SLACK_APP_TOKEN)."""
    from chatbot.platforms.slack.runner import run_socket_mode

    with slack_bot(ctx, "slack_bot_token", "slack_app_token", inbox=True) as (bot, parts):
        settings = bot.settings
        run_socket_mode(
            parts.app, app_token=settings.slack_app_token, api_url=settings.slack_api_url
        )


@click.command()
@click.option("--once", is_flag=True, help="Run one tick and exit (cron, or a check).")
@click.pass_context
def clock(ctx: click.Context, once: bool) -> None:
    """The scheduler: outreach, surveys, reminders, digests, and each platform's directory
    (Slack's users, the members of the Teams teams the app is installed in)."""
    from chatbot.clock_process import holder_id, run_forever, tick

    required = () if once else ("slack_bot_token",)
    with chat_bot(ctx, *required, inbox=not once) as (bot, platforms):
        directories = platforms.directories(bot.settings)
        if once:
            stored = tick(bot, holder=holder_id(), directories=directories)
            click.echo(f"stored {stored} deliveries")
        else:
            run_forever(bot, directories=directories)
