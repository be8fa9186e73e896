"""`/techalert`: admins broadcast an IT alert to the alert channels, update it in every copy's
thread, and resolve it everywhere at once."""

from __future__ import annotations

from typing import Any

from chatbot import alerts, directory
from chatbot.bot import Context, Event, Routes
from chatbot.db.models import Alert
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
)

routes = Routes()

FORM = "techalert.send"
AFFECTED = "techalert.affected"
FOLLOW = "techalert.follow"  # from /techhelp: "this looks like a known issue"
ICONS = {
    "outage": ":red_circle:",
    "degraded": ":large_orange_circle:",
    "maintenance": ":wrench:",
    "info": ":information_source:",
}
LABELS = {
    "outage": "Outage",
    "degraded": "Degraded service",
    "maintenance": "Maintenance",
    "info": "Information",
}


def _reply(ctx: Context, template: str, **values: object) -> Reply:
    return Reply(Message.plain(ctx.render(template, **values)))


def _when(ctx: Context, moment: object) -> str:
    return moment.strftime("%d %b %H:%M UTC")  # type: ignore[attr-defined]


@routes.command("/techalert")
def techalert(event: Event, ctx: Context) -> Response:
    if not ctx.settings.is_admin(event.user):
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
            for alert in alerts.active(session=ctx.session)
        ]
        return _reply(ctx, "techalert/list.md.j2", alerts=listed)
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
    return send(ctx, event, severity=severity.lower(), message=message)


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
                "Who should get it",
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
            ),
        ),
    )


@routes.form(FORM)
def submit_form(event: Event, ctx: Context) -> Response:
    if not ctx.settings.is_admin(event.user):
        raise Refusal(ctx.render("techalert/admins_only.md.j2"), field="message")
    send(
        ctx,
        event,
        severity=event.values.get("severity", ""),
        message=event.values.get("message", ""),
        service=event.values.get("service") or None,
        audience=event.values.get("audience") or AUDIENCE_CHANNELS,
    )
    return CloseForm()


def card(ctx: Context, alert: Alert) -> Message:
    """Every copy of an alert, as it stands: the count of affected people, and while it is
    active, the "I'm affected" button."""
    text = ctx.render(
        "techalert/card.md.j2",
        alert=alert,
        icon=ICONS[alert.severity],
        severity_label=LABELS[alert.severity],
    )
    resolved = alert.resolved_at
    context = ctx.render(
        "techalert/card_context.md.j2",
        alert=alert,
        posted=_when(ctx, alert.created_at),
        resolved=_when(ctx, resolved) if resolved else "",
        duration=alerts.duration(alert.created_at, resolved) if resolved else "",
        affected=alerts.affected_count(session=ctx.session, alert=alert),
    )
    blocks = [Block("section", text=text), Block("context", text=context)]
    if not resolved:
        blocks.append(Block("actions", buttons=(Button("I'm affected", AFFECTED, str(alert.id)),)))
    summary = f"{LABELS[alert.severity]}: {alert.message[:200]}"
    if resolved:
        summary = f"Resolved: {summary}"
    return Message(text=summary, blocks=tuple(blocks))


AUDIENCE_CHANNELS = "channels"
AUDIENCE_EVERYONE = "everyone"
AUDIENCE_BOTH = "channels+everyone"
DEPARTMENT = "department:"


def _audience(choice: str) -> dict[str, Any]:
    if choice.startswith(DEPARTMENT):
        return {"channels": False, "everyone": False, "departments": [choice[len(DEPARTMENT) :]]}
    return {
        "channels": choice in (AUDIENCE_CHANNELS, AUDIENCE_BOTH),
        "everyone": choice in (AUDIENCE_EVERYONE, AUDIENCE_BOTH),
        "departments": None,
    }


def send(
    ctx: Context,
    event: Event,
    *,
    severity: str,
    message: str,
    service: str | None = None,
    audience: str = AUDIENCE_CHANNELS,
) -> Response:
    """Store the alert and one delivery per copy, in the same transaction: channels first (one
    post reaches many fast), then direct messages to each person in the audience."""
    chosen = _audience(audience)
    channels = ctx.settings.techhelp_alert_channels if chosen["channels"] else []
    if chosen["channels"] and not channels:
        raise Refusal("TECHHELP_ALERT_CHANNELS is not set, so there is nowhere to send alerts.")
    people: list[str] = []
    if chosen["everyone"] or chosen["departments"]:
        people = directory.reachable(
            session=ctx.session, platform=event.platform, departments=chosen["departments"]
        )
        if not people:
            raise Refusal(
                "Nobody is in that audience yet: `chatbot clock` syncs the workspace directory "
                "(hourly). Nothing was sent."
            )
    alert = alerts.create_alert(
        session=ctx.session,
        platform=event.platform,
        author=event.user,
        severity=severity,
        message=message,
        service=service,
        audience=chosen,
        now=ctx.now,
    )
    copy = card(ctx, alert)
    ctx.send_many(
        [
            Outgoing(key=alerts.copy_key(alert, target), channel=target, message=copy)
            for target in [*channels, *people]
        ]
    )
    return _reply(
        ctx, "techalert/sent.md.j2", alert=alert, channels=len(channels), people=len(people)
    )


def update(ctx: Context, alert: Alert, text: str) -> Response:
    copies = alerts.copies(session=ctx.session, alert=alert)
    note = Message.plain(ctx.render("techalert/update.md.j2", alert=alert, text=text))
    stamp = f"{ctx.now.timestamp():.6f}"
    for copy in copies:
        ctx.send(
            Outgoing(
                key=f"alert:{alert.id}:update:{stamp}:{copy.id}",
                channel=copy.sent_channel or copy.channel,
                message=note,
                thread_of=copy.id,
            )
        )
    return _reply(ctx, "techalert/updated.md.j2", alert=alert, copies=len(copies))


def resolve(ctx: Context, alert: Alert, text: str | None) -> Response:
    alerts.resolve(session=ctx.session, alert=alert, text=text, now=ctx.now)
    duration = alerts.duration(alert.created_at, ctx.now)
    edited = card(ctx, alert)
    note = Message.plain(
        ctx.render("techalert/resolved_note.md.j2", alert=alert, duration=duration)
    )
    copies = alerts.copies(session=ctx.session, alert=alert)
    for copy in copies:
        ctx.send(
            Outgoing(
                key=f"alert:{alert.id}:resolved:{copy.id}",
                channel=copy.channel,
                message=edited,
                edit_of=copy.id,
            )
        )
        ctx.send(
            Outgoing(
                key=f"alert:{alert.id}:resolved-note:{copy.id}",
                channel=copy.sent_channel or copy.channel,
                message=note,
                thread_of=copy.id,
            )
        )
    return _reply(
        ctx, "techalert/resolved.md.j2", alert=alert, duration=duration, copies=len(copies)
    )


@routes.action(AFFECTED)
def on_affected(event: Event, ctx: Context) -> Response:
    alert = alerts.get(session=ctx.session, ref=event.value)
    counted = alerts.mark_affected(session=ctx.session, alert=alert, user=event.user, now=ctx.now)
    if counted:
        _refresh_counts(ctx, alert)
    count = alerts.affected_count(session=ctx.session, alert=alert)
    return _reply(ctx, "techalert/affected.md.j2", alert=alert, count=count, counted=counted)


def _refresh_counts(ctx: Context, alert: Alert) -> None:
    """One edit per copy per window, carrying the latest count when it goes: a thousand
    clicks must not cost a thousand edits of every copy (chat.update is ~50 a minute)."""
    interval = ctx.settings.alert_count_interval
    window = int(ctx.now.timestamp() // interval)
    delay = (window + 1) * interval - ctx.now.timestamp()
    edited = card(ctx, alert)
    for copy in alerts.copies(session=ctx.session, alert=alert):
        if copy.channel[:1] in ("U", "W"):
            continue  # direct-message copies keep their count: editing thousands is too slow
        ctx.send(
            Outgoing(
                key=f"alert:{alert.id}:count:{window}:{copy.id}",
                channel=copy.channel,
                message=edited,
                edit_of=copy.id,
                delay_seconds=delay,
                replace_pending=True,
            )
        )


@routes.action(FOLLOW)
def on_follow(event: Event, ctx: Context) -> Response:
    """A request that matched an active alert follows it instead of becoming a duplicate."""
    alert = alerts.get(session=ctx.session, ref=event.value)
    if alerts.mark_affected(
        session=ctx.session, alert=alert, user=event.user, now=ctx.now, source="techhelp"
    ):
        _refresh_counts(ctx, alert)
    text = ctx.render("techalert/following.md.j2", alert=alert)
    return ReplaceMessage(Message.plain(text))
