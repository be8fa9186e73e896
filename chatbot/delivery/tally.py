"""Where a fan-out (a batch of copies, `alert:7`) stands: one aggregate query, and its rows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from chatbot.db.models import Delivery


@dataclass(frozen=True)
class Tally:
    """Where a fan-out stands: copies sent, failed (with how many per reason), still to go
    (with how many wait after a failed attempt, per reason: why delivery is waiting)."""

    sent: int = 0
    failed: int = 0
    pending: int = 0
    cancelled: int = 0
    reasons: tuple[tuple[str, int], ...] = ()
    waiting: tuple[tuple[str, int], ...] = ()

    @property
    def total(self) -> int:
        return self.sent + self.failed + self.pending + self.cancelled

    @property
    def done(self) -> bool:
        return self.pending == 0


def tally(session: Session, *, batch: str) -> Tally:
    """Counts by status for one batch: one aggregate query on its index, no rows loaded."""
    counts: dict[str, int] = {}
    for status, n in session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.batch == batch)
        .group_by(Delivery.status)
    ):
        counts[status] = n
    reasons = session.execute(
        select(Delivery.last_error, func.count())
        .where(Delivery.batch == batch, Delivery.status == "failed")
        .group_by(Delivery.last_error)
        .order_by(func.count().desc())
    ).all()
    return Tally(
        waiting=tuple(waiting_reasons(session, batch=batch)),
        sent=counts.get("sent", 0),
        failed=counts.get("failed", 0),
        pending=counts.get("pending", 0) + counts.get("sending", 0),
        cancelled=counts.get("cancelled", 0),
        reasons=tuple((reason or "unknown", n) for reason, n in reasons),
    )


# A row held back behind another (its channel's earlier message, the message it edits, a pause
# for a rate limit) has no trouble of its own: the row it waits for says why.
_HELD = ("waiting for %", "waiting out %")


def _troubled() -> list[Any]:
    return [
        Delivery.status.in_(("pending", "sending")),
        Delivery.last_error.is_not(None),
        *(Delivery.last_error.not_like(held) for held in _HELD),
    ]


def waiting_reasons(session: Session, *, batch: str) -> list[tuple[str, int]]:
    """Why a batch's undelivered copies wait: the last error of each, counted."""
    return [
        (reason or "unknown", n)
        for reason, n in session.execute(
            select(Delivery.last_error, func.count())
            .where(Delivery.batch == batch, *_troubled())
            .group_by(Delivery.last_error)
            .order_by(func.count().desc())
        )
    ]


@dataclass(frozen=True)
class Waiting:
    """Messages to a platform that wait after a failed attempt, for one reason."""

    platform: str
    reason: str
    messages: int
    since: datetime  # the oldest of them was stored then


def waiting(conn: Connection | Session) -> list[Waiting]:
    """Everything the outbox holds back after a failed attempt, per platform and reason (the
    dashboard's notice that delivery is in trouble): an aggregate of the due rows' index."""
    rows = conn.execute(
        select(
            Delivery.platform,
            Delivery.last_error,
            func.count(),
            func.min(Delivery.created_at),
        )
        .where(*_troubled())
        .group_by(Delivery.platform, Delivery.last_error)
        .order_by(func.count().desc())
    )
    return [Waiting(p, reason or "unknown", n, since) for p, reason, n, since in rows]


def batch_rows(session: Session, *, batch: str) -> Iterable[Delivery]:
    """Every copy of a batch, in order, streamed (a per-recipient report of thousands)."""
    return session.scalars(
        select(Delivery)
        .where(Delivery.batch == batch, Delivery.action == "post")
        .order_by(Delivery.id)
        .execution_options(yield_per=1000)
    )
