"""Where a fan-out (a batch of copies, `alert:7`) stands: one aggregate query, and its rows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chatbot.db.models import Delivery


@dataclass(frozen=True)
class Tally:
    """Where a fan-out stands: copies sent, failed (with how many per reason), still to go."""

    sent: int = 0
    failed: int = 0
    pending: int = 0
    cancelled: int = 0
    reasons: tuple[tuple[str, int], ...] = ()

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
        sent=counts.get("sent", 0),
        failed=counts.get("failed", 0),
        pending=counts.get("pending", 0) + counts.get("sending", 0),
        cancelled=counts.get("cancelled", 0),
        reasons=tuple((reason or "unknown", n) for reason, n in reasons),
    )


def batch_rows(session: Session, *, batch: str) -> Iterable[Delivery]:
    """Every copy of a batch, in order, streamed (a per-recipient report of thousands)."""
    return session.scalars(
        select(Delivery)
        .where(Delivery.batch == batch, Delivery.action == "post")
        .order_by(Delivery.id)
        .execution_options(yield_per=1000)
    )
