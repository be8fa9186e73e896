"""Request satisfaction (the rating after resolution), the built-in series beside the pulse
checks: per whole ended week, overall and per department of the requester, with the same
complementary suppression as every published figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from chatbot.config import Routing
from chatbot.db.models import Rating, Request
from chatbot.surveys.suppression import min_group_size, suppressed
from chatbot.surveys.trends import Trend, _lines

SATISFACTION_WEEK = timedelta(weeks=1)  # the period of every published rating figure


@dataclass
class Satisfaction:
    """Request satisfaction (the rating after resolution) for a period, overall or per
    department: the same kind of data as a 1–5 pulse."""

    name: str
    responses: int
    average: float | None  # None: hidden
    previous: float | None  # None: no figure shown for the week before
    hidden: bool = False  # too few ratings, or hidden with such a group (`suppressed`)

    @property
    def change(self) -> float | None:
        if self.average is None or self.previous is None:
            return None
        return self.average - self.previous


def published_until(moment: datetime) -> datetime:
    """The end of the last week (Monday 00:00 UTC) whose rating figures are published at
    `moment`: a week's figures appear once it has ended and never change afterwards (the grid of
    `reports.published_weeks`, the dashboard's and the report's)."""
    day = moment.astimezone(UTC).date()
    return datetime.combine(day - timedelta(days=day.weekday()), time(), tzinfo=UTC)


def satisfaction_trend(
    *, session: Session, routing: Routing, until: datetime, periods: int = 6, at_least: int = 0
) -> Trend:
    """Request satisfaction (the rating after resolution) per week, the last `periods` weeks
    published at `until` (`published_until`), oldest first: overall and per department of the
    requester — the built-in series beside the pulse checks. Per week, a group below the minimum
    is hidden, and so is a department hidden with it (`suppressed`), as on the dashboard."""
    end = published_until(until)
    start = end - periods * SATISFACTION_WEEK
    rows = session.execute(
        select(Rating.rated_at, Request.department, Rating.score)
        .join(Request, Request.id == Rating.request_id)
        .where(Rating.rated_at >= start, Rating.rated_at < end)
    ).all()

    def period(at: datetime) -> int:
        return min(periods - 1, int((aware(at) - start) / SATISFACTION_WEEK))

    scores = [(period(at), department or "", score, 1) for at, department, score in rows]
    labels = [(start + i * SATISFACTION_WEEK).strftime("%d %b") for i in range(periods)]
    minimum = min_group_size(routing, at_least=at_least)
    return Trend(
        labels=labels,
        lines=_lines(list(range(periods)), scores, minimum, "All requests", complementary=True),
    )


def aware(moment: datetime) -> datetime:
    """The moment with its time zone (UTC when the database gave none)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def satisfaction(*, session: Session, until: datetime, minimum: int) -> list[Satisfaction]:
    """Request satisfaction in the last week published at `until` (`published_until`), against
    the week before: overall first, then per department of the requester. Per week, the same
    rule as every rating figure: a group below `minimum` is hidden, and so is a department hidden
    with it (`suppressed`); a change is given only between two shown figures."""
    end = published_until(until)
    since, before = end - SATISFACTION_WEEK, end - 2 * SATISFACTION_WEEK
    rows = session.execute(
        select(Rating.score, Rating.rated_at, Request.department)
        .join(Request, Request.id == Rating.request_id)
        .where(Rating.rated_at >= before, Rating.rated_at < end)
    ).all()
    if not any(aware(at) >= since for _, at, _ in rows):
        return []
    weeks: tuple[dict[str, list[int]], dict[str, list[int]]] = ({}, {})
    for score, at, department in rows:
        weeks[1 if aware(at) >= since else 0].setdefault(department or "", []).append(score)

    def shown(week: dict[str, list[int]]) -> dict[str | None, float]:
        """The averages published for the week: overall (key None) and per department."""
        sizes = {name: len(scores) for name, scores in week.items()}
        hidden = suppressed(sizes, minimum)
        everyone = [score for scores in week.values() for score in scores]
        result: dict[str | None, float] = {
            name: sum(s) / len(s) for name, s in week.items() if name not in hidden
        }
        if len(everyone) >= minimum:
            result[None] = sum(everyone) / len(everyone)
        return result

    then, now = shown(weeks[0]), shown(weeks[1])
    this = weeks[1]
    overall = Satisfaction(
        name="All requests",
        responses=sum(len(s) for s in this.values()),
        average=now.get(None),
        previous=then.get(None),
        hidden=None not in now,
    )
    result = [overall]
    for department in sorted(name for name in this if name):
        result.append(
            Satisfaction(
                name=department,
                responses=len(this[department]),
                average=now.get(department),
                previous=then.get(department),
                hidden=department not in now,
            )
        )
    return result
