"""Service targets: on every clock tick, requests past their first-response or resolution target
(per urgency, `service_targets:` in the configuration) are escalated with a notice in the triage
channel, mentioning the department's service delivery manager. Once per request per target: the
request records an `overdue` event naming the target, which is what later ticks look at (the
notice itself is a keyed delivery, so a second clock stores it once)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from chatbot import identity
from chatbot.bot import Context, Routes
from chatbot.db.models import Delivery, KbSuggestion, Request, RequestEvent
from chatbot.messages import Message, Outgoing

log = logging.getLogger(__name__)
routes = Routes()

FIRST_RESPONSE = "first-response"
RESOLUTION = "resolution"


def notice_key(request_id: int, target: str) -> str:
    return f"service-target:{request_id}:{target}"


def _limit(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} minutes"
    hours = delta.total_seconds() / 3600
    return f"{hours:g} hours"


def overdue(ctx: Context) -> list[tuple[Request, str, timedelta]]:
    """(request, target, limit) for every open request past a target."""
    found: list[tuple[Request, str, timedelta]] = []
    for urgency, target in ctx.settings.routing.service_targets.items():
        first = timedelta(minutes=target.first_response_minutes)
        resolution = timedelta(hours=target.resolution_hours)
        late = list(
            ctx.session.scalars(
                select(Request)
                .where(
                    Request.urgency == urgency,
                    Request.state != "resolved",
                    Request.created_at <= ctx.now - min(first, resolution),
                )
                .order_by(Request.id)
            )
        )
        since = desk_since(ctx, late)
        for request in late:
            start = since.get(request.id, request.created_at)
            if start is None:
                continue  # still held for self-service: the desk has not seen it
            if request.first_response_at is None and start + first <= ctx.now:
                found.append((request, FIRST_RESPONSE, first))
            if start + resolution <= ctx.now:
                found.append((request, RESOLUTION, resolution))
    return found


def desk_since(ctx: Context, late: list[Request]) -> dict[int, datetime | None]:
    """When the service desk got each request whose triage card was held while its requester
    read suggested articles (`TECHHELP_KB_GRACE`): None while it is still held; the card's
    sending, or when it fell due ("I still need help" or the grace period's end), after. A
    request not held counts from its creation (not in the answer)."""
    held = {
        request_id
        for request_id in ctx.session.scalars(
            select(KbSuggestion.request_id)
            .where(KbSuggestion.request_id.in_([r.id for r in late]))
            .distinct()
        )
    }
    cards = {
        card.id: card
        for card in ctx.session.scalars(
            select(Delivery).where(
                Delivery.id.in_([r.card_delivery_id for r in late if r.id in held])
            )
        )
    }
    grace = timedelta(seconds=ctx.settings.techhelp_kb_grace)
    since: dict[int, datetime | None] = {}
    for request in late:
        if request.id not in held:
            continue
        # At the latest when its grace period ended (a card the platform is slow to take has
        # not reached the desk either, but the request has waited for it).
        due = request.created_at + grace
        card = cards.get(request.card_delivery_id or 0)
        if card is not None and card.status == "pending" and card.attempts == 0:
            if card.not_before > ctx.now:
                since[request.id] = None
                continue
            due = min(due, card.not_before)
        elif card is not None and card.status == "sent" and card.sent_at is not None:
            due = min(due, card.sent_at)
        since[request.id] = max(request.created_at, due)
    return since


def escalated(ctx: Context, request_ids: set[int]) -> set[tuple[int, str]]:
    """(request id, target) of the escalations already made: the requests' `overdue` events."""
    found = ctx.session.execute(
        select(RequestEvent.request_id, RequestEvent.detail).where(
            RequestEvent.kind == "overdue", RequestEvent.request_id.in_(request_ids)
        )
    )
    return {(request_id, (detail or {}).get("target", "")) for request_id, detail in found}


@routes.tick
def check_service_targets(ctx: Context) -> int:
    if not ctx.settings.triage_channels():
        return 0
    candidates = overdue(ctx)
    if not candidates:
        return 0
    done = escalated(ctx, {request.id for request, _, _ in candidates})
    stored = 0
    for request, target, limit in candidates:
        if (request.id, target) in done:
            continue
        channel = ctx.settings.triage_channel(request.platform)
        assert channel is not None
        key = notice_key(request.id, target)
        department = next(
            (d for d in ctx.settings.routing.departments if d.name == request.department), None
        )
        text = ctx.render(
            "service_targets/overdue.md.j2",
            request=request,
            target=target,
            limit=_limit(limit),
            manager=identity.account_on(
                session=ctx.session, entry=department.manager, platform=request.platform
            )
            if department and department.manager
            else None,
        )
        ctx.send(Outgoing(key=key, to=channel, message=Message.plain(text)))
        ctx.session.add(
            RequestEvent(
                request_id=request.id,
                actor="clock",
                kind="overdue",
                detail={"target": target},
                at=ctx.now,
            )
        )
        log.info("%s is past its %s target", request.ref, target)
        stored += 1
    return stored
