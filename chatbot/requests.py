"""Requests to IT: creation and the state machine. Keyword-only, one transaction (the caller's).

States: open → claimed → resolved, and resolved → reopened (open again). Escalation moves the
tier (I → II → III) in any unresolved state. Each change is a `RequestEvent` (who, what, when).
Transitions are conditional, so a double click changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from chatbot import identity
from chatbot.config import Settings
from chatbot.db import rowcount
from chatbot.db.models import Request, RequestEvent
from chatbot.messages import Refusal
from chatbot.routing import Triage

MAX_TEXT = 20_000
INTAKE_CHANNELS = ("techhelp", "form", "phone", "email", "walk-in")


class RequestError(Refusal):
    """A change that cannot be made; the message is shown to the person who tried."""


@dataclass(frozen=True)
class Change:
    request: Request
    event: RequestEvent


def create_request(
    *,
    session: Session,
    settings: Settings,
    platform: str,
    requester: str,
    text: str,
    triage: Triage,
    intake_channel: str,
    now: datetime,
    logged_by: str | None = None,
    service: str | None = None,
    by_message: bool = False,
) -> Request:
    if intake_channel not in INTAKE_CHANNELS:
        raise ValueError(f"unknown intake channel {intake_channel!r}")
    department = identity.identify(
        session=session, settings=settings, platform=platform, account_id=requester
    ).department(settings)
    values = {
        "platform": platform,
        "requester": requester,
        "logged_by": logged_by,
        "intake_channel": intake_channel,
        "by_message": by_message,
        "text": text,
        "category": triage.category,
        "urgency": triage.urgency,
        "queue": triage.queue,
        "tier": triage.tier,
        "service": service,
        "department": department.name if department else None,
        "state": "open",
        "assignee": None,
        "resolution": None,
        "created_at": now,
        "first_response_at": None,
        "resolved_at": None,
        "updated_at": now,
        "card_delivery_id": None,
    }
    # Core, not the ORM's flush: this runs inside every /techhelp acknowledgement, and two
    # flushes (the request, its event) cost several times the two INSERTs themselves.
    connection = session.connection()
    request_id = connection.execute(_INSERT_REQUEST, values).scalar_one()
    connection.execute(
        _INSERT_EVENT,
        {
            "request_id": request_id,
            "actor": logged_by or requester,
            "kind": "created",
            "detail": {"intake": intake_channel},
            "at": now,
        },
    )
    # The row as stored, in the session as if it had been read: later changes in this unit of
    # work (and reads of it) go through the ORM as usual, without a SELECT.
    request = Request(id=request_id, **values)
    make_transient_to_detached(request)
    session.add(request)
    return request


_INSERT_REQUEST = insert(Request.__table__).returning(Request.__table__.c.id)
_INSERT_EVENT = insert(RequestEvent.__table__)
_SET_CARD = (
    update(Request.__table__)
    .where(Request.__table__.c.id == bindparam("row_id"))
    .values(card_delivery_id=bindparam("card"))
)


def set_card(*, session: Session, request: Request, delivery_id: int | None) -> None:
    """Record where the request's triage card is (its delivery), in one UPDATE."""
    session.connection().execute(_SET_CARD, {"row_id": request.id, "card": delivery_id})
    set_committed_value(request, "card_delivery_id", delivery_id)


def get(*, session: Session, request_id: int) -> Request:
    request = session.get(Request, request_id)
    if request is None:
        raise RequestError(f"There is no request TH-{request_id}.")
    return request


def open_requests(*, session: Session, requester: str, limit: int = 20) -> list[Request]:
    return list(
        session.scalars(
            select(Request)
            .where(Request.requester == requester, Request.state != "resolved")
            .order_by(Request.id.desc())
            .limit(limit)
        )
    )


def _transition(
    session: Session,
    request: Request,
    *,
    allowed_from: tuple[str, ...],
    values: Mapping[str, object],
    now: datetime,
) -> bool:
    """Apply `values` only if the request is still in an allowed state (race- and retry-safe)."""
    result = session.execute(
        update(Request)
        .where(Request.id == request.id, Request.state.in_(allowed_from))
        .values(updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if rowcount(result):
        session.refresh(request)
    return bool(rowcount(result))


def _record(
    session: Session,
    request: Request,
    *,
    actor: str,
    kind: str,
    now: datetime,
    detail: Mapping[str, object] | None = None,
) -> RequestEvent:
    event = RequestEvent(
        request_id=request.id, actor=actor, kind=kind, detail=dict(detail or {}), at=now
    )
    session.add(event)
    session.flush()
    return event


def _first_response(request: Request, now: datetime) -> dict[str, object]:
    return {} if request.first_response_at else {"first_response_at": now}


def claim(*, session: Session, request: Request, actor: str, now: datetime) -> Change:
    if request.state == "claimed" and request.assignee == actor:
        raise RequestError(f"You have already claimed {request.ref}.")
    if request.state == "resolved":
        raise RequestError(f"{request.ref} is resolved; reopen it first.")
    values = {"state": "claimed", "assignee": actor, **_first_response(request, now)}
    if not _transition(session, request, allowed_from=("open", "claimed"), values=values, now=now):
        raise RequestError(f"{request.ref} changed meanwhile; nothing done.")
    return Change(request, _record(session, request, actor=actor, kind="claimed", now=now))


def escalate(*, session: Session, request: Request, actor: str, now: datetime) -> Change:
    if request.state == "resolved":
        raise RequestError(f"{request.ref} is resolved; reopen it first.")
    if request.tier >= 3:
        raise RequestError(f"{request.ref} is already at Tier III.")
    tier = request.tier + 1
    result = session.execute(
        update(Request)
        .where(Request.id == request.id, Request.tier == request.tier, Request.state != "resolved")
        .values(tier=tier, updated_at=now, **_first_response(request, now))
        .execution_options(synchronize_session=False)
    )
    if not rowcount(result):
        raise RequestError(f"{request.ref} changed meanwhile; nothing done.")
    session.refresh(request)
    return Change(
        request,
        _record(session, request, actor=actor, kind="escalated", now=now, detail={"tier": tier}),
    )


def resolve(*, session: Session, request: Request, actor: str, note: str, now: datetime) -> Change:
    if request.state == "resolved":
        raise RequestError(f"{request.ref} is already resolved.")
    values = {
        "state": "resolved",
        "resolution": note,
        "resolved_at": now,
        "assignee": request.assignee or actor,
        **_first_response(request, now),
    }
    if not _transition(session, request, allowed_from=("open", "claimed"), values=values, now=now):
        raise RequestError(f"{request.ref} changed meanwhile; nothing done.")
    return Change(
        request,
        _record(
            session, request, actor=actor, kind="resolved", now=now, detail={"note": note[:2000]}
        ),
    )


def self_serve(
    *, session: Session, request: Request, actor: str, article: str, now: datetime
) -> Change:
    """The requester solved it with a suggested article ("This solved it"): resolved as
    self-served, by them."""
    if actor != request.requester:
        raise RequestError(f"Only the person who asked can close {request.ref}.")
    if request.state == "resolved":
        raise RequestError(f"{request.ref} is already resolved.")
    values = {
        "state": "resolved",
        "resolution": f"Self-served with the article: {article}",
        "resolved_at": now,
    }
    if not _transition(session, request, allowed_from=("open", "claimed"), values=values, now=now):
        raise RequestError(f"{request.ref} changed meanwhile; nothing done.")
    detail = {"article": article[:300]}
    return Change(
        request, _record(session, request, actor=actor, kind="self_served", now=now, detail=detail)
    )


def reopen(*, session: Session, request: Request, actor: str, now: datetime) -> Change:
    if request.state != "resolved":
        raise RequestError(f"{request.ref} is not resolved, so there is nothing to reopen.")
    values = {"state": "open", "resolved_at": None, "assignee": None}
    if not _transition(session, request, allowed_from=("resolved",), values=values, now=now):
        raise RequestError(f"{request.ref} changed meanwhile; nothing done.")
    return Change(request, _record(session, request, actor=actor, kind="reopened", now=now))


def ask(*, session: Session, request: Request, actor: str, question: str, now: datetime) -> Change:
    """The service desk needs the requester's input; counts as a first response."""
    if request.state == "resolved":
        raise RequestError(f"{request.ref} is resolved; reopen it first.")
    if not request.first_response_at:
        request.first_response_at = now
    request.updated_at = now
    detail = {"question": question[:2000]}
    return Change(
        request, _record(session, request, actor=actor, kind="asked", now=now, detail=detail)
    )


def answer(*, session: Session, request: Request, actor: str, text: str, now: datetime) -> Change:
    if actor != request.requester:
        raise RequestError(f"Only the person who asked can answer for {request.ref}.")
    request.updated_at = now
    return Change(
        request,
        _record(
            session, request, actor=actor, kind="answered", now=now, detail={"answer": text[:4000]}
        ),
    )


def recent_duplicate(
    *, session: Session, requester: str, text: str, since: datetime
) -> Request | None:
    """The same text from the same person, logged since `since` (a double click)."""
    return session.scalars(
        select(Request).where(
            Request.requester == requester, Request.text == text, Request.created_at >= since
        )
    ).first()
