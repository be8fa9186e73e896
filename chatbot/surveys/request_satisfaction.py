"""Request satisfaction (the rating after resolution), the built-in series beside the pulse
checks: per 30 days, overall and per department of the requester.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from chatbot.config import Routing
from chatbot.db.models import Rating, Request
from chatbot.surveys.suppression import min_group_size
from chatbot.surveys.trends import Trend, _lines

SATISFACTION_WINDOW = timedelta(days=30)


@dataclass
class Satisfaction:
    """Request satisfaction (the rating after resolution) for a period, overall or per
    department: the same kind of data as a 1–5 pulse."""

    name: str
    responses: int
    average: float | None
    previous: float | None

    @property
    def change(self) -> float | None:
        if self.average is None or self.previous is None:
            return None
        return self.average - self.previous


def satisfaction_trend(
    *, session: Session, routing: Routing, until: datetime, periods: int = 6
) -> Trend:
    """Request satisfaction (the rating after resolution) per 30 days, oldest first: overall and
    per department of the requester — the built-in series beside the pulse checks."""
    start = until - periods * SATISFACTION_WINDOW
    rows = session.execute(
        select(Rating.rated_at, Request.department, Rating.score)
        .join(Request, Request.id == Rating.request_id)
        .where(Rating.rated_at > start, Rating.rated_at <= until)
    ).all()

    def period(at: datetime) -> int:
        return min(periods - 1, int((at - start) / SATISFACTION_WINDOW))

    scores = [(period(at), department or "", score, 1) for at, department, score in rows]
    labels = [(start + (i + 1) * SATISFACTION_WINDOW).strftime("to %d %b") for i in range(periods)]
    return Trend(
        labels=labels,
        lines=_lines(list(range(periods)), scores, min_group_size(routing), "All requests"),
    )


def satisfaction(
    *, session: Session, until: datetime, window: timedelta = SATISFACTION_WINDOW
) -> list[Satisfaction]:
    """Request satisfaction over `window` up to `until`, and the window before it: overall first,
    then per department of the requester."""
    since, before = until - window, until - 2 * window
    rows = session.execute(
        select(Rating.score, Rating.rated_at, Request.department)
        .join(Request, Request.id == Rating.request_id)
        .where(Rating.rated_at > before, Rating.rated_at <= until)
    ).all()

    def series(name: str, scores: list[tuple[int, datetime]]) -> Satisfaction:
        now = [s for s, at in scores if at > since]
        then = [s for s, at in scores if at <= since]
        return Satisfaction(
            name=name,
            responses=len(now),
            average=sum(now) / len(now) if now else None,
            previous=sum(then) / len(then) if then else None,
        )

    if not rows:
        return []
    result = [series("All requests", [(s, at) for s, at, _ in rows])]
    for department in sorted({d for _, _, d in rows if d}):
        result.append(series(department, [(s, at) for s, at, d in rows if d == department]))
    return result
