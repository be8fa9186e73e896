"""`/techalert`: admins broadcast an IT alert to the alert channels, update it in every copy's
thread, and resolve it everywhere at once."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from chatbot import alerts, delivery, directory, schedules
from chatbot.addresses import LOCAL, Address
from chatbot.bot import Context, Event, Routes
from chatbot.db.models import Alert, AlertCopy, Delivery
from chatbot.delivery import Tally
from chatbot.messages import (
    Block,
    Button,
    CloseForm,
    Field,
    Form,
    Message,
    OpenForm,
    Option,
    Outgoing,
    Refusal,
    ReplaceMessage,
    Reply,
    Response,
    chosen,
)
from chatbot.text import Neutral, literal

routes = Routes()

FORM = "techalert.send"
AFFECTED = "techalert.affected"
FOLLOW = "techalert.follow"  # from /techhelp: "this looks like a known issue"
AUDIENCE_CHANNELS = "channels"
AUDIENCE_EVERYONE = "everyone"
AUDIENCE_BOTH = "channels+everyone"
DEPARTMENT = "department:"
ICONS = {"outage": "🔴", "degraded": "🟠", "maintenance": "🔧", "info": "ℹ️"}
LABELS = {
    "outage": "Outage",
    "degraded": "Degraded service",
    "maintenance": "Maintenance",
    "info": "Information",
}


def _reply(ctx: Context, template: str, **values: object) -> Reply:
    return Reply(Message.plain(ctx.render(template, **values)))


PROGRESS_EVERY = 5  # seconds between edits of the admin's live delivery count


def _zone(ctx: Context) -> ZoneInfo:
    return ZoneInfo(ctx.settings.routing.timezone)


def when(ctx: Context, moment: datetime) -> str:
    """A time as people read it: in the configured time zone, with the zone's name."""
    return moment.astimezone(_zone(ctx)).strftime("%a %d %b %H:%M %Z")


@routes.command("techalert")
def techalert(event: Event, ctx: Context) -> Response:
    if not ctx.actor(event).is_admin(ctx.settings):
        raise Refusal(ctx.render("techalert/admins_only.md.j2"))
    words = event.text.split(maxsplit=2)
    verb = words[0].lower() if words else ""
    if not words:
        return OpenForm(alert_form(ctx))
    if verb == "list" and len(words) == 1:
        listed = [
            (
                alert,
                alerts.affected_count(session=ctx.session, alert=alert),
                alerts.affected_count(session=ctx.session, alert=alert, source="techhelp"),
            )
            for alert in alerts.open_alerts(session=ctx.session)
        ]
        return _reply(
            ctx,
            "techalert/list.md.j2",
            alerts=listed,
            when={a.id: when(ctx, a.posted_at) for a, _, _ in listed},
        )
    if verb == "update":
        if len(words) < 3:
            return _reply(ctx, "techalert/usage.md.j2")
        return update(ctx, alerts.get(session=ctx.session, ref=words[1]), words[2])
    if verb == "resolve":
        if len(words) < 2:
            return _reply(ctx, "techalert/usage.md.j2")
        text = words[2] if len(words) > 2 else None
        return resolve(ctx, alerts.get(session=ctx.session, ref=words[1]), text)
    severity, _, message = event.text.strip().partition(" ")
    if severity.lower() not in alerts.SEVERITIES:
        return _reply(ctx, "techalert/usage.md.j2")
    return send(ctx, author=event.user, severity=severity.lower(), message=message)


def alert_form(ctx: Context) -> Form:
    return Form(
        form_id=FORM,
        title="Send an IT alert",
        submit="Send",
        fields=(
            Field(
                "severity",
                "Severity",
                options=tuple(Option(s, LABELS[s]) for s in alerts.SEVERITIES),
                initial="outage",
            ),
            Field(
                "service",
                "Affected service",
                options=tuple(Option(s, s) for s in ctx.settings.routing.services),
                optional=True,
            ),
            Field("message", "Message", multiline=True, max_length=alerts.MAX_MESSAGE),
            Field(
                "audience",
                "Who should get it (one or more)",
                options=(
                    Option(AUDIENCE_CHANNELS, "The alert channels"),
                    Option(AUDIENCE_BOTH, "The alert channels and everyone by direct message"),
                    Option(AUDIENCE_EVERYONE, "Everyone, by direct message"),
                    *(
                        Option(f"{DEPARTMENT}{d.name}", f"{d.name} (direct messages)")
                        for d in ctx.settings.routing.departments
                    ),
                ),
                initial=AUDIENCE_CHANNELS,
                multiple=True,
            ),
            Field("post_at", "Post the notice at (empty: now)", kind="datetime", optional=True),
            Field("starts_at", "Maintenance window starts", kind="datetime", optional=True),
        ),
    )


def _time_field(ctx: Context, event: Event, name: str) -> datetime | None:
    try:
        return schedules.parse_when(event.values.get(name, ""), _zone(ctx))
    except ValueError as exc:
        raise Refusal(str(exc), field=name) from None


@routes.form(FORM)
def submit_form(event: Event, ctx: Context) -> Response:
    if not ctx.actor(event).is_admin(ctx.settings):
        raise Refusal(ctx.render("techalert/admins_only.md.j2"), field="message")
    sent = send(
        ctx,
        author=event.user,
        severity=event.values.get("severity", ""),
        message=event.values.get("message", ""),
        service=event.values.get("service") or None,
        audience=event.values.get("audience") or AUDIENCE_CHANNELS,
        post_at=_time_field(ctx, event, "post_at"),
        starts_at=_time_field(ctx, event, "starts_at"),
    )
    assert isinstance(sent, Reply)
    return CloseForm(notice=sent.message.text)


def card(ctx: Context, alert: Alert) -> Message:
    """Every copy of an alert, as it stands: the count of affected people, and while it is
    active, the "I'm affected" button."""
    text = ctx.render(
        "techalert/card.md.j2",
        alert=alert,
        icon=Neutral("✅" if alert.state == "resolved" else ICONS[alert.severity]),
        severity_label=LABELS[alert.severity],
    )
    resolved = alert.resolved_at
    context = ctx.render(
        "techalert/card_context.md.j2",
        alert=alert,
        posted=when(ctx, alert.posted_at),
        window=when(ctx, alert.starts_at) if alert.starts_at else "",
        resolved=when(ctx, resolved) if resolved else "",
        duration=alerts.duration(alert.posted_at, resolved) if resolved else "",
        affected=alerts.affected_count(session=ctx.session, alert=alert),
    )
    blocks = [Block("section", text=text), Block("context", text=context)]
    if not resolved:
        blocks.append(Block("actions", buttons=(Button("I'm affected", AFFECTED, str(alert.id)),)))
    # The notification and fallback text: the admin's words are a literal like every other
    # value, so a `<!channel>` or a link typed into an alert (through the CLI or the console,
    # where no platform turned it into text) is not made live there either.
    summary = f"{LABELS[alert.severity]}: {literal(alert.message[:200])}"
    if resolved:
        summary = f"Resolved: {summary}"
    return Message(text=summary, blocks=tuple(blocks))


def _audience(choice: str) -> dict[str, Any]:
    """The audience chosen: one value, or several (one per line) from the form's multi-select,
    e.g. the alert channels and two departments."""
    picked = set(chosen(choice)) or {AUDIENCE_CHANNELS}
    everyone = bool(picked & {AUDIENCE_EVERYONE, AUDIENCE_BOTH})
    departments = sorted(p[len(DEPARTMENT) :] for p in picked if p.startswith(DEPARTMENT))
    return {
        "channels": bool(picked & {AUDIENCE_CHANNELS, AUDIENCE_BOTH}),
        "everyone": everyone,
        "departments": None if everyone or not departments else departments,
    }


def _recipients(ctx: Context, alert: Alert) -> tuple[list[Address], list[Address]]:
    """The channels and the people the alert's audience names, as of now, on every platform."""
    chosen = alert.audience
    channels = ctx.settings.alert_channels() if chosen.get("channels") else []
    people: list[Address] = []
    if chosen.get("everyone") or chosen.get("departments"):
        people = directory.reachable(session=ctx.session, departments=chosen.get("departments"))
    return channels, people


def send(ctx: Context, **details: Any) -> Response:
    """`/techalert` and its form: broadcast, then tell the author what happens next."""
    return sent_reply(ctx, *broadcast(ctx, **details))


def broadcast(
    ctx: Context,
    *,
    author: str,
    severity: str,
    message: str,
    service: str | None = None,
    audience: str = AUDIENCE_CHANNELS,
    post_at: datetime | None = None,
    starts_at: datetime | None = None,
) -> tuple[Alert, int, int]:
    """Store the alert and, unless it is scheduled for later, one delivery per copy, in the same
    transaction; returns the alert and how many channels and people it goes to."""
    chosen = _audience(audience)
    routing = ctx.settings.routing
    # A one-line alert names its service in its words ("VPN is down"): the known-issue answer
    # to `/techhelp` and the reports need it.
    service = service or alerts.infer_service(
        message, services=routing.services, service_keywords=routing.service_keywords
    )
    if chosen["channels"] and not ctx.settings.alert_channels():
        raise Refusal("TECHHELP_ALERT_CHANNELS is not set, so there is nowhere to send alerts.")
    alert = alerts.create_alert(
        session=ctx.session,
        platform=ctx.platform,
        author=author,
        severity=severity,
        message=message,
        service=service,
        audience=chosen,
        now=ctx.now,
        post_at=post_at,
        starts_at=starts_at,
    )
    channels, people = _recipients(ctx, alert)
    if not channels and not people:
        raise Refusal(
            "Nobody is in that audience yet: `chatbot clock` syncs the workspace directory "
            "(hourly). Nothing was sent."
        )
    if alert.state == "scheduled":
        return alert, len(channels), len(people)
    return alert, *post_copies(ctx, alert)


def sent_reply(
    ctx: Context, alert: Alert, channels: int, people: int, *, cli: bool = False
) -> Reply:
    """What the author is told; `cli`: at the command line, whose verbs it suggests
    (`chatbot alert update AL-1 TEXT`, not `/techalert update`)."""
    if alert.state == "scheduled":
        return _reply(
            ctx,
            "techalert/scheduled.md.j2",
            alert=alert,
            post_at=when(ctx, alert.posted_at),
            window=when(ctx, alert.starts_at) if alert.starts_at else "",
            cli=cli,
        )
    return _reply(
        ctx,
        "techalert/sent.md.j2",
        alert=alert,
        channels=channels,
        people=people,
        live=bool(people) and _author(alert) is not None,
        cli=cli,
    )


def _author(alert: Alert) -> Address | None:
    """Where the author's live count goes: none for an operator at the command line."""
    return None if alert.platform == LOCAL else Address.person(alert.platform, alert.author)


def _progress_key(alert: Alert) -> str:
    return f"alert:{alert.id}:progress"


def post_copies(ctx: Context, alert: Alert) -> tuple[int, int]:
    """Queue every copy of the alert (channels first: one post reaches many fast, then direct
    messages), in one statement; returns (channels, people). A broadcast by direct message
    also gets its author a live delivery count, queued first so it arrives before the copies."""
    channels, people = _recipients(ctx, alert)
    author = _author(alert)
    if people and author:
        ctx.send(
            Outgoing(
                key=_progress_key(alert),
                to=author,
                message=progress_message(ctx, alert, Tally(pending=len(channels) + len(people))),
            )
        )
    copy = card(ctx, alert)
    ctx.send_many(
        [
            Outgoing(
                key=alerts.copy_key(alert, target),
                to=target,
                message=copy,
                batch=alerts.batch(alert),
            )
            for target in [*channels, *people]
        ]
    )
    alerts.record_copies(session=ctx.session, alert=alert)
    return len(channels), len(people)


def progress_message(ctx: Context, alert: Alert, tally: Tally) -> Message:
    return Message.plain(ctx.render("techalert/progress.md.j2", alert=alert, tally=tally))


@routes.progress("alert")
def on_progress(ctx: Context, batch: str, tally: Tally) -> None:
    """Edit the author's live count: at most once per `PROGRESS_EVERY` seconds, carrying the
    latest figures when it goes (later rounds in the window replace the pending edit)."""
    alert = ctx.session.get(Alert, int(batch.split(":")[1]))
    key = _progress_key(alert) if alert else ""
    post = ctx.session.scalar(select(Delivery.id).where(Delivery.key == key)) if alert else None
    if alert is None or post is None:
        return
    window = int(ctx.now.timestamp() // PROGRESS_EVERY)
    ctx.send(
        Outgoing(
            key=f"{key}:{window}",
            to=delivery.destination(ctx.session, post),
            message=progress_message(ctx, alert, tally),
            edit_of=post,
            delay_seconds=(window + 1) * PROGRESS_EVERY - ctx.now.timestamp(),
            replace_pending=True,
        )
    )


@routes.tick
def post_scheduled(ctx: Context) -> int:
    """Scheduled notices whose time has come are posted; maintenance windows that start now get
    a reminder in every copy's thread. Keyed deliveries: a second clock stores nothing twice."""
    stored = 0
    due = select(Alert).where(Alert.state == "scheduled", Alert.post_at <= ctx.now)
    for alert in ctx.session.scalars(due).all():
        if alerts.start_posting(session=ctx.session, alert=alert):
            channels, people = post_copies(ctx, alert)
            stored += channels + people
    starting = select(Alert).where(
        Alert.state == "active", Alert.starts_at <= ctx.now, Alert.window_noted_at.is_(None)
    )
    for alert in ctx.session.scalars(starting).all():
        alert.window_noted_at = ctx.now
        started = alert.starts_at  # never None here: the query asks for starts_at <= now
        if started is None or ctx.now - started > schedules.CATCH_UP:
            continue  # the clock was down: a "starting now" hours late would mislead
        note = Message.plain(ctx.render("techalert/window_starts.md.j2", alert=alert))
        copies = alerts.copies(session=ctx.session, alert=alert)
        stored += _reply_in_threads(ctx, alert, copies, note, key="window")
    return stored


def _reply_in_threads(
    ctx: Context, alert: Alert, copies: list[AlertCopy], note: Message, *, key: str
) -> int:
    """`note` in each copy's thread, once per copy (`key` names the note within the alert).
    Returns how many were stored."""
    for copy in copies:
        ctx.send(
            Outgoing(
                key=f"alert:{alert.id}:{key}:{copy.delivery_id}",
                to=copy.address,
                message=note,
                thread_of=copy.delivery_id,
            )
        )
    return len(copies)


def update(ctx: Context, alert: Alert, text: str) -> Response:
    if alert.state == "scheduled":
        raise Refusal(
            f"{alert.ref} is not posted yet (it goes out {when(ctx, alert.posted_at)}): "
            f"`/techalert resolve {alert.ref}` cancels it."
        )
    note = Message.plain(ctx.render("techalert/update.md.j2", alert=alert, text=text))
    copies = alerts.copies(session=ctx.session, alert=alert)
    _reply_in_threads(ctx, alert, copies, note, key=f"update:{ctx.now.timestamp():.6f}")
    return _reply(ctx, "techalert/updated.md.j2", alert=alert, copies=len(copies))


def resolve(ctx: Context, alert: Alert, text: str | None) -> Response:
    alerts.resolve(session=ctx.session, alert=alert, text=text, now=ctx.now)
    if alert.state == "cancelled":
        return _reply(ctx, "techalert/cancelled.md.j2", alert=alert)
    duration = alerts.duration(alert.posted_at, ctx.now)
    edited = card(ctx, alert)
    note = Message.plain(
        ctx.render("techalert/resolved_note.md.j2", alert=alert, duration=duration)
    )
    copies = alerts.copies(session=ctx.session, alert=alert)
    for copy in copies:
        ctx.send(
            Outgoing(
                key=f"alert:{alert.id}:resolved:{copy.delivery_id}",
                to=copy.address,
                message=edited,
                edit_of=copy.delivery_id,
            )
        )
    _reply_in_threads(ctx, alert, copies, note, key="resolved-note")
    _tell_followers(ctx, alert, duration)
    return _reply(
        ctx, "techalert/resolved.md.j2", alert=alert, duration=duration, copies=len(copies)
    )


def _tell_followers(ctx: Context, alert: Alert, duration: str) -> None:
    """A personal message to everyone who followed the alert or said they were affected: the
    thread's note reaches only those who look at the channel. One keyed delivery each, in the
    transaction that resolves it."""
    told = Message.plain(
        ctx.render("techalert/resolved_personal.md.j2", alert=alert, duration=duration)
    )
    ctx.send_many(
        [
            Outgoing(key=f"alert:{alert.id}:resolved-dm:{vote}", to=person, message=told)
            for vote, person in alerts.followers(session=ctx.session, alert=alert)
        ]
    )


def _alert_for(ctx: Context, event: Event) -> Alert:
    """The alert an "I'm affected" or "Follow" button names, if the person is in its
    audience: a department's alert cannot be reported on by someone it was not sent to."""
    alert = alerts.get(session=ctx.session, ref=event.value)
    if alerts.public(alert):  # no need to read who they are (a burst of clicks on an outage)
        return alert
    routing, email = ctx.settings.routing, ctx.actor(event).email
    if not alerts.in_audience(alert, user=event.user, routing=routing, email=email):
        raise Refusal(ctx.render("techalert/not_in_audience.md.j2", alert=alert))
    return alert


@routes.action(AFFECTED)
def on_affected(event: Event, ctx: Context) -> Response:
    alert = _alert_for(ctx, event)
    counted = alerts.mark_affected(
        session=ctx.session, alert=alert, user=event.user, now=ctx.now, platform=event.platform
    )
    if counted:
        _refresh_counts(ctx, alert)
    count = alerts.affected_count(session=ctx.session, alert=alert)
    return _reply(ctx, "techalert/affected.md.j2", alert=alert, count=count, counted=counted)


def _refresh_counts(ctx: Context, alert: Alert) -> None:
    """One edit per channel copy per window, carrying the latest count when it goes: a
    thousand clicks must not cost a thousand edits of every copy (chat.update is ~50 a
    minute). Direct-message copies keep their count (editing thousands is too slow), so only
    the channel copies are read: a click on an alert to everyone costs what one to the
    channels does."""
    if alert.audience and not alert.audience.get("channels"):
        return  # to people alone (everyone, departments): no copy shows a count to edit
    channel_copies = alerts.copies(session=ctx.session, alert=alert, kind="channel")
    if not channel_copies:
        return
    interval = ctx.settings.alert_count_interval
    window = int(ctx.now.timestamp() // interval)
    delay = (window + 1) * interval - ctx.now.timestamp()
    edited = card(ctx, alert)
    for copy in channel_copies:
        ctx.send(
            Outgoing(
                key=f"alert:{alert.id}:count:{window}:{copy.delivery_id}",
                to=copy.address,
                message=edited,
                edit_of=copy.delivery_id,
                delay_seconds=delay,
                replace_pending=True,
            )
        )


@routes.action(FOLLOW)
def on_follow(event: Event, ctx: Context) -> Response:
    """A request that matched an active alert follows it instead of becoming a duplicate."""
    alert = _alert_for(ctx, event)
    if alerts.mark_affected(
        session=ctx.session,
        alert=alert,
        user=event.user,
        now=ctx.now,
        source="techhelp",
        platform=event.platform,
    ):
        _refresh_counts(ctx, alert)
    text = ctx.render("techalert/following.md.j2", alert=alert)
    return ReplaceMessage(Message.plain(text))
