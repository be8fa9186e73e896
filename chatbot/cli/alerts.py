"""`chatbot alert …`: the operators' side of alerts, on the same handlers and outbox as Slack.

`send`, `update` and `resolve` store their deliveries in one transaction like `/techalert`, then
follow the broadcast with a progress bar while this process helps deliver it (several processes
can drain one outbox); `list` and `show` read the database; `show --csv` writes the
per-recipient delivery report.
"""

from __future__ import annotations

import csv
import getpass
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO
from zoneinfo import ZoneInfo

import click

from chatbot.cli.common import chat_bot, delivers_here, local_bot, settings, setup_logging
from chatbot.text import plain_text

if TYPE_CHECKING:
    from chatbot.bot import Bot, Context
    from chatbot.db.models import Alert
    from chatbot.messages import Response

AUDIENCES = ("channels", "everyone", "channels+everyone")
POLL_SECONDS = 0.5


def _author(as_user: str | None) -> str:
    return as_user or f"cli:{getpass.getuser()}"


def _run(
    bot: Bot, command: str, as_user: str | None, action: Callable[[Context], Response]
) -> None:
    """Run one alert action as a logged interaction; print its answer or refuse clearly. With
    `--as`, as that person (on the configured platform: they get the live count); else as a
    local operator, whom nothing is addressed to."""
    from chatbot.addresses import LOCAL
    from chatbot.messages import Refusal, Reply

    platform = bot.settings.techhelp_platform if as_user else LOCAL
    try:
        response = bot.run(
            platform=platform,
            name=f"chatbot alert {command}",
            user=_author(as_user),
            text="",
            action=action,
        )
    except Refusal as refusal:
        raise click.ClickException(plain_text(str(refusal))) from None
    if isinstance(response, Reply):
        click.echo(plain_text(response.message.text))


AS_HELP = (
    "Act as this person (their user id on the TECHHELP_PLATFORM platform; they get what is "
    "addressed to the author, e.g. the live count) instead of the local operator."
)


@contextmanager
def _operator_bot(ctx: click.Context) -> Iterator[tuple[Bot, bool]]:
    """The bot for an alert command, and whether this process delivers what it stores: with a
    platform's credentials it sends (and follows) the copies itself; without, they wait in the
    outbox for a `chatbot serve` that has them (as `chatbot survey` does)."""
    current = settings()
    if delivers_here(current):
        with chat_bot(ctx, quiet=True) as (bot, _parts):
            yield bot, True
        return
    setup_logging(ctx.obj["verbose"], quiet=True)
    bot = local_bot(current)
    try:
        yield bot, False
    finally:
        bot.db.dispose()


def _stored_only() -> None:
    click.echo(
        "No Slack or Teams credentials here: the messages wait in the outbox, and a "
        "`chatbot serve` (or `chatbot clock`) with credentials sends them."
    )


def _follow(bot: Bot, batch: str, *, wait: bool) -> None:
    """A progress bar until every copy of `batch` is sent or failed, then the tally. While
    copies wait after a failed attempt (the platform unreachable, say), why is printed as soon
    as it is known and whenever it changes. Exits non-zero when not one copy was sent."""
    from chatbot.delivery import tally

    with bot.db.sessions() as session:
        counts = tally(session, batch=batch)
    if wait and not counts.done:
        with click.progressbar(length=counts.total, label="Delivering", show_pos=True) as bar:
            shown, said = 0, counts.waiting
            try:
                while not counts.done:
                    time.sleep(POLL_SECONDS)
                    with bot.db.sessions() as session:
                        counts = tally(session, batch=batch)
                    if counts.waiting and counts.waiting != said:
                        bar.label = f"Delivering ({_waiting_words(counts.waiting)})"
                        click.echo(f"\n{_waiting_words(counts.waiting)}; retrying")
                    said = counts.waiting
                    bar.update(counts.total - counts.pending - shown)
                    shown = counts.total - counts.pending
            except KeyboardInterrupt:
                click.echo("\nstopped following; what is left is delivered by `chatbot serve`")
    click.echo(_tally_line(counts))
    if counts.total and not counts.sent and (wait or counts.failed):
        raise click.exceptions.Exit(1)


def _waiting_words(waiting: tuple[tuple[str, int], ...]) -> str:
    return "; ".join(f"waiting: {reason} ({n:,})" for reason, n in waiting)


def _tally_line(counts: Any) -> str:
    line = f"sent {counts.sent:,} · failed {counts.failed:,} · pending {counts.pending:,}"
    if counts.cancelled:
        line += f" · withdrawn {counts.cancelled:,}"
    for reason, n in counts.reasons:
        line += f"\n  failed: {reason} ({n:,})"
    for reason, n in counts.waiting:
        line += f"\n  waiting: {reason} ({n:,})"
    return line


@click.group()
def alert() -> None:
    """IT alerts from the command line: send, update, resolve, list, show."""


@alert.command()
@click.argument("message", nargs=-1, required=True)
@click.option(
    "--severity",
    type=click.Choice(["outage", "degraded", "maintenance", "info"]),
    default="outage",
    show_default=True,
    help="How bad it is: it sets the alert's icon and heading.",
)
@click.option("--service", default=None, help="The affected service, e.g. Email.")
@click.option(
    "--audience",
    default="channels",
    show_default=True,
    help="channels, everyone, channels+everyone, or department:NAME (direct messages); "
    "several, comma-separated: channels,department:Finance,department:Parks.",
)
@click.option("--post-at", default="", help='Post later: "YYYY-MM-DD HH:MM" (configured zone).')
@click.option("--starts-at", default="", help="Maintenance window start, same format.")
@click.option("--as", "as_user", metavar="ID", default=None, help=AS_HELP)
@click.option("--no-wait", is_flag=True, help="Store it and return; do not follow delivery.")
@click.pass_context
def send(
    ctx: click.Context,
    message: tuple[str, ...],
    severity: str,
    service: str | None,
    audience: str,
    post_at: str,
    starts_at: str,
    as_user: str | None,
    no_wait: bool,
) -> None:
    """Send an alert to its audience and follow its delivery."""
    from chatbot import alerts, schedules
    from commands import techalert

    parts = [p.strip() for p in audience.split(",") if p.strip()]
    for part in parts:
        if part not in AUDIENCES and not part.startswith("department:"):
            raise click.BadParameter(f"unknown audience {part!r}", param_hint="--audience")
    audience = "\n".join(parts)
    with _operator_bot(ctx) as (bot, delivering):
        zone = ZoneInfo(bot.settings.routing.timezone)
        try:
            post, start = (schedules.parse_when(v, zone) for v in (post_at, starts_at))
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
        sent: list[Alert] = []

        def action(c: Context) -> Response:
            alert, channels, people = techalert.broadcast(
                c,
                author=_author(as_user),
                severity=severity,
                message=" ".join(message),
                service=service,
                audience=audience,
                post_at=post,
                starts_at=start,
            )
            sent.append(alert)
            return techalert.sent_reply(c, alert, channels, people, cli=True)

        _run(bot, "send", as_user, action)
        if not delivering:
            _stored_only()
        elif sent[0].state == "active":
            _follow(bot, alerts.batch(sent[0]), wait=not no_wait)


@alert.command()
@click.argument("ref")
@click.argument("text", nargs=-1, required=True)
@click.option("--as", "as_user", metavar="ID", default=None, help=AS_HELP)
@click.pass_context
def update(ctx: click.Context, ref: str, text: tuple[str, ...], as_user: str | None) -> None:
    """Add an update to every copy's thread."""
    from chatbot import alerts
    from commands import techalert

    with _operator_bot(ctx) as (bot, delivering):
        _run(
            bot,
            "update",
            as_user,
            lambda c: techalert.update(c, alerts.get(session=c.session, ref=ref), " ".join(text)),
        )
        if delivering:
            _drain(bot)
        else:
            _stored_only()


@alert.command()
@click.argument("ref")
@click.argument("text", nargs=-1)
@click.option("--as", "as_user", metavar="ID", default=None, help=AS_HELP)
@click.pass_context
def resolve(ctx: click.Context, ref: str, text: tuple[str, ...], as_user: str | None) -> None:
    """Resolve an alert everywhere (or cancel a scheduled one)."""
    from chatbot import alerts
    from commands import techalert

    with _operator_bot(ctx) as (bot, delivering):
        _run(
            bot,
            "resolve",
            as_user,
            lambda c: techalert.resolve(
                c, alerts.get(session=c.session, ref=ref), " ".join(text) or None
            ),
        )
        if delivering:
            _drain(bot)
        else:
            _stored_only()


def _drain(bot: Bot, timeout: float = 30) -> None:
    """Give this process's worker a moment to send the edits and replies it just stored."""
    from sqlalchemy import func, select

    from chatbot.db.models import Delivery

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with bot.db.sessions() as session:
            due = session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.status.in_(("pending", "sending")))
                .where(Delivery.not_before <= bot.clock.now())
            )
        if not due:
            return
        time.sleep(POLL_SECONDS)
    click.echo("some deliveries are still waiting; `chatbot serve` sends them")


def _bot() -> Bot:
    return local_bot(settings())


@alert.command("list")
def list_alerts() -> None:
    """Active and scheduled alerts."""
    from chatbot import alerts
    from chatbot.delivery import tally

    bot = _bot()
    with bot.db.sessions() as session:
        found = alerts.open_alerts(session=session)
        if not found:
            click.echo("no active or scheduled alerts")
        for item in found:
            counts = tally(session, batch=alerts.batch(item))
            affected = alerts.affected_count(session=session, alert=item)
            click.echo(
                f"{item.ref}  {item.state:<9}  {item.severity:<11}  {item.service or '-':<10}  "
                f"{item.posted_at:%Y-%m-%d %H:%M} UTC  sent {counts.sent:,}/{counts.total:,}  "
                f"affected {affected:,}  {item.message[:60]}"
            )
    bot.db.dispose()


@alert.command()
@click.argument("ref")
@click.option(
    "--csv",
    "csv_path",
    type=click.File("w", encoding="utf-8"),
    default=None,
    help="Write the per-recipient delivery report to this file ('-' for standard output).",
)
def show(ref: str, csv_path: TextIO | None) -> None:
    """One alert: its audience, delivery tally with failure reasons, and who is affected."""
    from chatbot import alerts
    from chatbot.delivery import batch_rows, tally
    from chatbot.messages import Refusal

    bot = _bot()
    with bot.db.sessions() as session:
        try:
            item = alerts.get(session=session, ref=ref)
        except Refusal as refusal:
            raise click.ClickException(plain_text(str(refusal))) from None
        counts = tally(session, batch=alerts.batch(item))
        affected = alerts.affected_count(session=session, alert=item)
        deflected = alerts.affected_count(session=session, alert=item, source="techhelp")
        out = sys.stderr if csv_path is not None and csv_path.name == "<stdout>" else sys.stdout
        echo = lambda line: click.echo(line, file=out)  # noqa: E731
        echo(f"{item.ref} · {item.severity} · {item.service or 'no service'} · {item.state}")
        echo(f"by {item.author}, posted {item.posted_at:%Y-%m-%d %H:%M} UTC")
        if item.starts_at:
            echo(f"maintenance window starts {item.starts_at:%Y-%m-%d %H:%M} UTC")
        if item.resolved_at:
            echo(f"{item.state} {item.resolved_at:%Y-%m-%d %H:%M} UTC")
        echo(f"audience: {_describe_audience(item.audience)}")
        echo(item.message)
        echo(f"copies: {counts.total:,} · {_tally_line(counts)}")
        echo(f"affected: {affected:,} ({deflected:,} by following it from /techhelp)")
        if csv_path is not None:
            writer = csv.writer(csv_path)
            writer.writerow(
                ["recipient", "kind", "status", "attempts", "sent_at", "message_ts", "error"]
            )
            rows = 0
            for row in batch_rows(session, batch=alerts.batch(item)):
                writer.writerow(
                    [
                        row.address_id,
                        "direct message" if row.address_kind == "person" else "channel",
                        "pending" if row.status == "sending" else row.status,
                        row.attempts,
                        row.sent_at.isoformat() if row.sent_at else "",
                        row.message_id or "",
                        row.last_error if row.status != "sent" else "",
                    ]
                )
                rows += 1
            echo(f"delivery report: {rows:,} rows")
    bot.db.dispose()


def _describe_audience(audience: dict[str, Any]) -> str:
    parts = []
    if audience.get("channels"):
        parts.append("the alert channels")
    if audience.get("everyone"):
        parts.append("everyone by direct message")
    if audience.get("departments"):
        parts.append(", ".join(audience["departments"]) + " by direct message")
    return " and ".join(parts) or "nobody"
