"""The long-running processes: `chatbot serve` (HTTP), `chatbot socket` (Socket Mode) and
`chatbot clock` (the scheduler)."""

from __future__ import annotations

import gc

import click

from chatbot.cli.common import chat_bot, settings, slack_bot

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
    from chatbot.metrics import Metrics
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
        metrics = Metrics(bot.db, bot.clock.now, token=settings.techhelp_metrics_token)
        # What start-up made (modules, models, templates, the Teams SDK's schemas: a few hundred
        # thousand objects that live as long as the process) is left out of the collector's
        # full passes, which otherwise scan it all while every thread waits: a pause of a
        # second or more on a loaded machine, in the middle of a burst of clicks or a broadcast.
        gc.freeze()
        run_server(
            Host(bot.db, web=web, endpoints=endpoints, metrics=metrics),
            port=settings.port,
            threads=settings.web_threads,
            trusted_proxy=settings.techhelp_trusted_proxy,
        )


@click.command()
@click.option(
    "--port",
    type=int,
    default=None,
    help="Port of its GET /healthz and /metrics (default: $PORT; 0: none).",
)
@click.pass_context
def socket(ctx: click.Context, port: int | None) -> None:
    """The same bot over Slack Socket Mode (needs SLACK_APP_TOKEN), with its health check
    (200 while the database answers and a connection to Slack is live) and metrics."""
    from chatbot.platforms.slack.runner import run_socket_mode

    with slack_bot(ctx, "slack_bot_token", "slack_app_token", inbox=True) as (bot, parts):
        settings = bot.settings
        assert settings.slack_app_token  # required above
        run_socket_mode(
            bot,
            parts.app,
            app_token=settings.slack_app_token,
            port=settings.port if port is None else port,
        )


@click.command()
@click.option("--once", is_flag=True, help="Run one tick and exit (cron, or a check).")
@click.option(
    "--check",
    is_flag=True,
    help="Health check: exit 0 when a clock ticked within its lease (150 s), else 1.",
)
@click.pass_context
def clock(ctx: click.Context, once: bool, check: bool) -> None:
    """The scheduler, one per deployment (a second one stands by). Each minute it posts
    scheduled alerts and the maintenance-window reminders in their threads, outreach and the
    weekly digest on their schedules, survey runs with their reminders and closings, and the
    service-target escalations; hourly it syncs each platform's directory (Slack's users, the
    members of the Teams teams the app is installed in) and sends what it stored. It needs
    Slack's or Teams' credentials; --once runs one tick and exits, with or without them;
    --check is the health check."""
    from chatbot.clock_process import holder_id, run_forever, tick

    if check:
        _check_clock()
        return

    required = () if once else ("slack_bot_token",)
    with chat_bot(ctx, *required, inbox=not once) as (bot, platforms):
        directories = platforms.directories(bot.settings)
        if once:
            stored = tick(bot, holder=holder_id(), directories=directories)
            click.echo(f"stored {stored} deliveries")
        else:
            run_forever(bot, directories=directories)


def _check_clock() -> None:
    """`chatbot clock --check`: reads the lease (no migration, no Slack): a container's health
    check of the clock process."""
    from chatbot.clock import LEASE, LEASE_NAME, Clock
    from chatbot.db import Database
    from chatbot.db.models import ClockState

    db = Database(settings().database_url)
    try:
        with db.sessions() as session:
            lease = session.get(ClockState, LEASE_NAME)
    except Exception as exc:
        raise click.ClickException(f"database does not answer: {exc}") from exc
    finally:
        db.dispose()
    if lease is None or lease.value is None:
        raise click.ClickException("the clock has not ticked yet")
    lag = (Clock().now() - (lease.value - LEASE)).total_seconds()
    if lag > LEASE.total_seconds():
        raise click.ClickException(f"the clock last ticked {lag:.0f} s ago")
    click.echo(f"ok: the clock ticked {lag:.0f} s ago")
