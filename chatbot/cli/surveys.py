"""`chatbot survey …`: pulse checks from the command line, through the same handlers and checks
as `/pulse`."""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from chatbot.addresses import LOCAL
from chatbot.cli.common import local_bot, settings, setup_logging
from chatbot.text import plain_text

if TYPE_CHECKING:
    from chatbot.bot import EventKind


AS_HELP = "Act as this admin (an id on the TECHHELP_* platform) instead of the local operator."


def _as(command: Callable[..., None]) -> Callable[..., None]:
    """`--as ID` on each survey command that acts, where `chatbot alert` has it too."""
    return click.option("--as", "as_user", metavar="ID", default=None, help=AS_HELP)(command)


@click.group()
@click.option("--as", "actor", default=None, hidden=True)  # before each command took it
@click.pass_context
def survey(ctx: click.Context, actor: str | None) -> None:
    """Pulse checks from the command line: the same handlers and checks as `/pulse`. Messages are
    stored in the outbox and sent by a running `chatbot serve` or `chatbot clock` (as `chatbot
    alert` does without credentials)."""
    ctx.ensure_object(dict)
    ctx.obj["actor"] = actor


def _survey_run(
    ctx: click.Context,
    kind: EventKind,
    name: str,
    *,
    text: str = "",
    values: dict[str, str] | None = None,
    as_user: str | None = None,
) -> None:
    """Run the `/pulse` handler as the operator: its answer printed in plain words, a refusal
    (nothing was sent, a survey that does not exist) an error with a non-zero exit."""
    from chatbot.bot import Event
    from chatbot.messages import FormErrors, Refusal, Reply

    setup_logging(ctx.obj.get("verbose", False), quiet=True)
    current = settings()
    actor = as_user or ctx.obj.get("actor")
    # As `chatbot alert`: the local operator, whom nothing is addressed to and who acts as an
    # administrator (whoever can run this reaches the database); with `--as`, that person on
    # the TECHHELP_* platform, made an administrator for this command for the same reason.
    platform = current.techhelp_platform if actor else LOCAL
    if actor and actor not in current.techhelp_admins:
        current = current.model_copy(update={"techhelp_admins": [*current.techhelp_admins, actor]})
    bot = local_bot(current)
    user = actor or f"cli:{getpass.getuser()}"
    event = Event(
        platform=platform,
        kind=kind,
        name=name,
        user=user,
        key=f"cli:{uuid.uuid4()}",
        text=text,
        values=values or {},
    )
    handler = bot.handler_for(event)
    assert handler is not None, name
    try:
        response = bot.run(
            platform=platform,
            name=f"chatbot survey {kind} {name}",
            user=user,
            text=text,
            action=lambda c: handler(event, c),
        )
    except Refusal as refusal:
        where = f"{refusal.field}: " if refusal.field else ""
        raise click.ClickException(where + plain_text(str(refusal))) from None
    finally:
        bot.db.dispose()
    if isinstance(response, FormErrors):
        raise click.ClickException(
            "; ".join(f"{field}: {plain_text(error)}" for field, error in response.errors.items())
        )
    if isinstance(response, Reply):
        texts = [b.text for b in response.message.blocks if b.text] or [response.message.text]
        click.echo("\n".join(plain_text(text) for text in texts))
    else:
        click.echo("done")


@survey.command("send")
@click.argument("question")
@_as
@click.pass_context
def survey_send(ctx: click.Context, question: str, as_user: str | None) -> None:
    """A one-off 1–5 pulse to everyone, now (exits 1 when nobody is in the audience)."""
    _survey_run(ctx, "command", "pulse", text=f"send {question}", as_user=as_user)


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
@_as
@click.pass_context
def survey_create(
    ctx: click.Context,
    as_user: str | None,
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
    _survey_run(ctx, "form", "pulse.define", values=values, as_user=as_user)


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
@_as
@click.pass_context
def survey_close(ctx: click.Context, survey_id: str, as_user: str | None) -> None:
    """Close a survey's open run and post its results to the IT channel."""
    _survey_run(ctx, "command", "pulse", text=f"close {survey_id}", as_user=as_user)


@survey.command("stop")
@click.argument("survey_id")
@_as
@click.pass_context
def survey_stop(ctx: click.Context, survey_id: str, as_user: str | None) -> None:
    """Stop a recurring survey: no more runs (an open run still collects until it closes)."""
    _survey_run(ctx, "command", "pulse", text=f"stop {survey_id}", as_user=as_user)
