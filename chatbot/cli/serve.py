"""The long-running processes: `chatbot serve` (HTTP), `chatbot socket` (Socket Mode) and
`chatbot clock` (the scheduler)."""

from __future__ import annotations

import click

from chatbot.cli.common import slack_bot


@click.command()
@click.option(
    "--web-only",
    is_flag=True,
    help="Answer requests only: deliveries and stored clicks are left to `chatbot clock` "
    "(several web processes, one sender: DELIVERY_RATE then holds for all of them).",
)
@click.pass_context
def serve(ctx: click.Context, web_only: bool) -> None:
    """HTTP server: POST /slack/events, GET /healthz, /dashboard, /report."""
    from chatbot.platforms.slack.runner import http_app
    from chatbot.web.dashboard import Web
    from chatbot.web.host import serve as run_server

    workers = not web_only
    required = ("slack_bot_token", "slack_signing_secret")
    with slack_bot(ctx, *required, deliveries=workers, inbox=workers) as (bot, parts):
        settings = bot.settings
        assert settings.slack_signing_secret  # required above
        web = Web(settings=settings, db=bot.db, clock=bot.clock)
        run_server(
            http_app(parts.app, bot.db, web, signing_secret=settings.slack_signing_secret),
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
    """The scheduler: outreach messages now; surveys, reminders and digests later."""
    from chatbot.clock_process import holder_id, run_forever, tick

    required = () if once else ("slack_bot_token",)
    with slack_bot(ctx, *required, inbox=not once) as (bot, parts):
        members = parts.sender.api.members if bot.settings.slack_configured else None
        if once:
            click.echo(f"stored {tick(bot, holder=holder_id(), members=members)} deliveries")
        else:
            run_forever(bot, members)
