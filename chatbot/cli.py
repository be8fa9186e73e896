"""The `chatbot` command: serve, socket, clock, shell, survey, db upgrade; with no command, the
right one."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from chatbot.cli_alerts import alert
from chatbot.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from slack_bolt import App

    from chatbot.bot import Bot
    from chatbot.platforms.slack.sender import SlackSender

log = logging.getLogger("chatbot")


def _settings(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        # A line per Slack call, and one per request whenever every web thread is busy, cost
        # CPU under exactly the bursts that need it; failures are still logged.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)


@click.group(invoke_without_command=True)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """TechHelp: the chat front door of the Technology Service Center.

    With no command: `serve` when Slack credentials are configured (`socket` when
    SLACK_APP_TOKEN is set too), otherwise the local console (`shell`)."""
    ctx.obj = {"verbose": verbose}
    if ctx.invoked_subcommand is None:
        settings = _settings()
        if settings.slack_configured and settings.slack_app_token:
            ctx.invoke(socket)
        elif settings.slack_configured:
            ctx.invoke(serve)
        else:
            ctx.invoke(shell)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the latest schema."""
    from chatbot.db import Database

    settings = _settings()
    database = Database(settings.database_url)
    database.upgrade()
    database.dispose()
    click.echo("database is at the latest schema")


def _require_slack(settings: Settings, *names: str) -> None:
    missing = [name.upper() for name in names if not getattr(settings, name)]
    if missing:
        raise click.ClickException(
            f"{', '.join(missing)} not set: see the README, 'Connect a Slack workspace'. "
            "Without Slack credentials, run `chatbot shell` for the local console."
        )


@contextmanager
def _slack_bot(
    ctx: click.Context, *required: str, deliveries: bool = True, inbox: bool = False
) -> Iterator[tuple[Bot, App, SlackSender]]:
    """The composed bot with its Bolt app, a running delivery worker unless `deliveries` is
    off, and an inbox worker if `inbox` (the long-running processes only: an operator's
    command must not take stored clicks). SIGTERM (a deploy, `kill`) ends it gracefully: the
    event and the sends in flight finish and are recorded before exit."""
    from chatbot.app import attach_worker, build_bot, slack_parts

    _logging(ctx.obj["verbose"])
    settings = _settings()
    _require_slack(settings, *required)
    bot = build_bot(settings)
    bot.db.upgrade()
    app, sender, stored = slack_parts(bot)
    worker = attach_worker(bot, {"slack": sender}, start=deliveries)
    if inbox:
        stored.start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        yield bot, app, sender
    finally:
        log.info("stopping: finishing the event and the deliveries in flight")
        stored.stop()
        worker.stop()
        bot.db.dispose()


@main.command()
@click.option(
    "--web-only",
    is_flag=True,
    help="Answer requests only: deliveries and stored clicks are left to `chatbot clock` "
    "(several web processes, one sender: DELIVERY_RATE then holds for all of them).",
)
@click.pass_context
def serve(ctx: click.Context, web_only: bool) -> None:
    """HTTP server: POST /slack/events, GET /healthz, /dashboard, /report."""
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    from chatbot.platforms.slack.server import make_wsgi
    from chatbot.platforms.slack.server import serve as run_server
    from chatbot.web.dashboard import Web

    workers = not web_only
    required = ("slack_bot_token", "slack_signing_secret")
    with _slack_bot(ctx, *required, deliveries=workers, inbox=workers) as (bot, app, _sender):
        run_server(
            make_wsgi(
                SlackRequestHandler(app),
                bot.db,
                Web(settings=bot.settings, db=bot.db, clock=bot.clock),
            ),
            port=bot.settings.port,
            threads=bot.settings.web_threads,
        )


@main.command()
@click.pass_context
def socket(ctx: click.Context) -> None:
    """The same bot over Slack Socket Mode (needs SLACK_APP_TOKEN)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from chatbot.platforms.slack.client import make_client

    with _slack_bot(ctx, "slack_bot_token", "slack_app_token", inbox=True) as (bot, app, _sender):
        settings = bot.settings
        SocketModeHandler(
            app,
            settings.slack_app_token,
            web_client=make_client(settings.slack_app_token, settings.slack_api_url),
        ).start()


@main.command()
@click.option("--once", is_flag=True, help="Run one tick and exit (cron, or a check).")
@click.pass_context
def clock(ctx: click.Context, once: bool) -> None:
    """The scheduler: outreach messages now; surveys, reminders and digests later."""
    from chatbot.clock_process import holder_id, run_forever, tick

    required = () if once else ("slack_bot_token",)
    with _slack_bot(ctx, *required, inbox=not once) as (bot, _app, sender):
        members = sender.api.members if bot.settings.slack_configured else None
        if once:
            click.echo(f"stored {tick(bot, holder=holder_id(), members=members)} deliveries")
        else:
            run_forever(bot, members)


@main.group()
@click.option("--as", "actor", default=None, help="Admin user id to act as (default: the first).")
@click.pass_context
def survey(ctx: click.Context, actor: str | None) -> None:
    """Pulse checks from the command line: the same handlers and checks as `/pulse`. Messages are
    stored in the outbox and sent by a running `chatbot serve` or `chatbot clock`."""
    ctx.ensure_object(dict)
    ctx.obj["actor"] = actor


def _survey_run(ctx: click.Context, kind: str, name: str, **fields: object) -> None:
    import uuid

    from chatbot.app import build_bot
    from chatbot.bot import Event
    from chatbot.messages import FormErrors, Reply

    settings = _settings()
    actor = ctx.obj.get("actor") or next(iter(settings.techhelp_admins), "UCLI")
    if actor not in settings.techhelp_admins:
        # Whoever can run the CLI can reach the database: they act as an administrator.
        settings = settings.model_copy(
            update={"techhelp_admins": [*settings.techhelp_admins, actor]}
        )
    bot = build_bot(settings)
    bot.db.upgrade()
    try:
        response = bot.handle(
            Event(
                platform="slack",
                kind=kind,
                name=name,
                user=actor,
                key=f"cli:{uuid.uuid4()}",
                **fields,
            )  # type: ignore[arg-type]
        )
    finally:
        bot.db.dispose()
    if isinstance(response, FormErrors):
        raise click.ClickException(
            "; ".join(f"{field}: {error}" for field, error in response.errors.items())
        )
    if isinstance(response, Reply):
        texts = [b.text for b in response.message.blocks if b.text] or [response.message.text]
        click.echo("\n".join(texts))
    else:
        click.echo("done")


@survey.command("send")
@click.argument("question")
@click.pass_context
def survey_send(ctx: click.Context, question: str) -> None:
    """A one-off 1–5 pulse to everyone, now."""
    _survey_run(ctx, "command", "pulse", text=f"send {question}")


@survey.command("create")
@click.option("--question", required=True)
@click.option("--option", "options", multiple=True, help="2–10 custom options (default 1–5).")
@click.option(
    "--department", "departments", multiple=True, help="Only these departments (repeatable)."
)
@click.option("--staff", is_flag=True, help="IT staff (alone, or with --department).")
@click.option("--user", "users", multiple=True, help="Only these people (user ids).")
@click.option(
    "--schedule",
    type=click.Choice(["now", "at", "weekly", "monthly", "quarterly", "cron"]),
    default="now",
    show_default=True,
)
@click.option("--at", default="", help="YYYY-MM-DD HH:MM (at), HH:MM (recurring) or a crontab.")
@click.option("--named", is_flag=True, help="Not anonymous: answers keep the person's id.")
@click.option("--reminder-hours", default="24", show_default=True, help="Empty: no reminder.")
@click.option("--close-hours", default="72", show_default=True)
@click.pass_context
def survey_create(
    ctx: click.Context,
    question: str,
    options: tuple[str, ...],
    departments: tuple[str, ...],
    staff: bool,
    users: tuple[str, ...],
    schedule: str,
    at: str,
    named: bool,
    reminder_hours: str,
    close_hours: str,
) -> None:
    """Define a survey: question, options, audience, schedule, anonymity, reminder, closing."""
    picked = [f"department:{d}" for d in departments] + (["staff"] if staff else [])
    audience = "\n".join(picked) or "everyone"
    values = {
        "question": question,
        "options": "\n".join(options),
        "audience": audience,
        "users": ",".join(users),
        "schedule": schedule,
        "at": at,
        "anonymous": "no" if named else "yes",
        "reminder": reminder_hours,
        "closing": close_hours,
    }
    _survey_run(ctx, "form", "pulse.define", values=values)


@survey.command("list")
@click.pass_context
def survey_list(ctx: click.Context) -> None:
    """The surveys and their latest runs."""
    _survey_run(ctx, "command", "pulse", text="list")


@survey.command("results")
@click.argument("survey_id", required=False, default="")
@click.pass_context
def survey_results(ctx: click.Context, survey_id: str) -> None:
    """Results of a survey's latest run (of the latest survey when no id is given)."""
    _survey_run(ctx, "command", "pulse", text=f"results {survey_id}".strip())


@survey.command("close")
@click.argument("survey_id")
@click.pass_context
def survey_close(ctx: click.Context, survey_id: str) -> None:
    """Close a survey's open run and post its results to the IT channel."""
    _survey_run(ctx, "command", "pulse", text=f"close {survey_id}")


@main.command()
@click.option("--user", default=None, help="Slack-style user id to act as (default UCONSOLE).")
def shell(user: str | None) -> None:
    """Local console on the same handlers and database."""
    from chatbot.app import build_bot
    from chatbot.platforms.console.shell import Console

    logging.basicConfig(level=logging.WARNING)
    settings = _settings()
    if not settings.techhelp_triage_channel:
        settings = settings.model_copy(update={"techhelp_triage_channel": "#triage"})
    me = user or settings.console_user
    if not settings.techhelp_admins and not settings.routing.staff:
        # Alone at a console you are the service desk too, so every flow can be tried.
        settings = settings.model_copy(update={"techhelp_admins": [me]})
    bot = build_bot(settings)
    bot.db.upgrade()
    interactive = sys.stdin.isatty()

    def lines():  # type: ignore[no-untyped-def]
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


main.add_command(alert)

if __name__ == "__main__":
    main()
