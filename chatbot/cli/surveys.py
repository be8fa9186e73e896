"""`chatbot survey …`: pulse checks from the command line, through the same handlers and checks
as `/pulse`."""

from __future__ import annotations

import getpass
import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from chatbot.addresses import LOCAL
from chatbot.cli.common import local_bot, settings, setup_logging
from chatbot.text import plain_text

if TYPE_CHECKING:
    from chatbot.bot import EventKind


AS_HELP = (
    "Act as this admin (their user id on the TECHHELP_PLATFORM platform) instead of the local "
    "operator."
)


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
@click.argument("question", required=False, default="")
@click.option("--name", default="", help="Send a run of this YAML survey (TECHHELP_CONFIG) now.")
@click.option(
    "--template",
    default="",
    help="Send a built-in questionnaire now, as it is (see `chatbot survey template`).",
)
@_as
@click.pass_context
def survey_send(
    ctx: click.Context, question: str, name: str, template: str, as_user: str | None
) -> None:
    """A one-off 1–5 pulse to everyone, now; or, with --name, a run of a YAML survey now
    (exits 1 when nobody is in the audience)."""
    chosen = [part for part in (question, name, template) if part]
    if len(chosen) != 1:
        raise click.UsageError("Give a question, or --name NAME, or --template NAME.")
    if name:
        _survey_run(ctx, "command", "pulse", text=f"send --name {name}", as_user=as_user)
    elif template:
        _survey_run(ctx, "command", "pulse", text=f"send --template {template}", as_user=as_user)
    else:
        _survey_run(ctx, "command", "pulse", text=f"send {question}", as_user=as_user)


@survey.command("template")
@click.argument("name", required=False, default="")
def survey_template(name: str) -> None:
    """Print a built-in questionnaire's YAML (customer-managers, supported-organisations,
    staff-engagement) to copy under `surveys:` in TECHHELP_CONFIG and edit; without a name,
    list them."""
    from chatbot.messages import Refusal
    from chatbot.surveys import items

    if not name:
        click.echo("\n".join(items.builtin_names()))
        return
    try:
        click.echo(items.builtin_text(name), nl=False)
    except Refusal as refusal:
        raise click.ClickException(plain_text(str(refusal))) from None


def items_from_file(path: str) -> tuple[str | None, list[dict[str, Any]]]:
    """(title, items) from a YAML file (one survey as in TECHHELP_CONFIG's `surveys:`, or a
    list of items) or a CSV file (a header row; columns `question` and optionally `kind`,
    `options` separated by `;`, `section`, `id`)."""
    import csv
    from pathlib import Path

    import yaml

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None
    if file.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        items = []
        for row in rows:
            entry: dict[str, Any] = {
                (key or "").strip().lower(): (value or "").strip() for key, value in row.items()
            }
            entry["options"] = [o.strip() for o in entry.get("options", "").split(";") if o.strip()]
            items.append({k: v for k, v in entry.items() if v})
        return None, items
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise click.ClickException(f"{path} is not valid YAML: {exc}") from None
    if isinstance(loaded, dict) and isinstance(loaded.get("items"), list):
        return loaded.get("question") or loaded.get("name"), loaded["items"]
    if isinstance(loaded, list):
        return None, loaded
    raise click.ClickException(f"{path}: give a survey with `items:`, or a list of items")


@survey.command("create")
@click.option("--question", default="", help="The question; a questionnaire's title.")
@click.option(
    "--file",
    "items_file",
    default="",
    help="A questionnaire's items: a YAML file (a survey with `items:`) or a CSV file "
    "(columns question, kind, options separated by ';', section, id).",
)
@click.option("--option", "options", multiple=True, help="2–10 custom options (default 1–5).")
@click.option(
    "--department", "departments", multiple=True, help="Only these departments (repeatable)."
)
@click.option("--staff", is_flag=True, help="IT staff (alone, or with --department).")
@click.option("--managers", is_flag=True, help="The departments' managers.")
@click.option("--user", "users", multiple=True, help="Only these people (user ids).")
@click.option(
    "--schedule",
    type=click.Choice(["now", "at", "weekly", "monthly", "quarterly", "yearly", "cron"]),
    default="now",
    show_default=True,
)
@click.option("--at", default="", help="YYYY-MM-DD HH:MM (at), HH:MM (recurring) or a crontab.")
@click.option("--named", is_flag=True, help="Not anonymous: answers keep the person's id.")
@click.option("--reminder-hours", default="24", show_default=True, help="Empty: no reminder.")
@click.option(
    "--close-hours", default="72", show_default=True, help="Hours after sending until it closes."
)
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
    items_file: str,
    managers: bool,
) -> None:
    """Define a survey: question, options, audience, schedule, anonymity, reminder, closing;
    with --file, a questionnaire of up to 20 items."""
    items: list[dict[str, Any]] = []
    if items_file:
        title, items = items_from_file(items_file)
        question = question or title or ""
    if not question:
        raise click.UsageError("Give --question (a questionnaire's title), or a --file with one.")
    picked = [f"department:{d}" for d in departments] + (["staff"] if staff else [])
    picked += ["managers"] if managers else []
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
        "items": json.dumps(items) if items else "",
    }
    _survey_run(ctx, "form", "pulse.define", values=values, as_user=as_user)


@survey.command("list")
@click.pass_context
def survey_list(ctx: click.Context) -> None:
    """The surveys and their latest runs."""
    _survey_run(ctx, "command", "pulse", text="list")


@survey.command("results")
@click.argument("survey_id", metavar="[REF]", required=False, default="")
@click.pass_context
def survey_results(ctx: click.Context, survey_id: str) -> None:
    """Results of a survey's latest run (REF: PS-n; without it, the latest survey's)."""
    _survey_run(ctx, "command", "pulse", text=f"results {survey_id}".strip())


@survey.command("close")
@click.argument("survey_id", metavar="REF")
@_as
@click.pass_context
def survey_close(ctx: click.Context, survey_id: str, as_user: str | None) -> None:
    """Close a survey's open run and post its results to the IT channel."""
    _survey_run(ctx, "command", "pulse", text=f"close {survey_id}", as_user=as_user)


@survey.command("stop")
@click.argument("survey_id", metavar="REF")
@_as
@click.pass_context
def survey_stop(ctx: click.Context, survey_id: str, as_user: str | None) -> None:
    """Stop a recurring survey: no more runs (an open run still collects until it closes)."""
    _survey_run(ctx, "command", "pulse", text=f"stop {survey_id}", as_user=as_user)
