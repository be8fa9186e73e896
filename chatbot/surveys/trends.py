"""Trends: averages per period, overall and per department, each group shown only when large
enough; a survey's trend over its last closed runs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chatbot.config import Routing
from chatbot.db.models import SurveyRun
from chatbot.surveys.answers import tallies
from chatbot.surveys.suppression import min_group_size, suppressed

SPARKS = "▁▂▃▄▅▆▇█"


@dataclass
class Line:
    """One group's averages over a series of periods (None: too few answers to show)."""

    name: str
    points: list[float | None]

    @property
    def spark(self) -> str:
        return "".join(
            "·" if p is None else SPARKS[round((min(max(p, 1), 5) - 1) / 4 * (len(SPARKS) - 1))]
            for p in self.points
        )

    @property
    def empty(self) -> bool:
        """No period has enough answers to show: the line is left out, not drawn as dashes."""
        return all(p is None for p in self.points)

    @property
    def values(self) -> str:
        return " → ".join("–" if p is None else f"{p:.2f}" for p in self.points)


@dataclass
class Trend:
    labels: list[str]  # one per period, oldest first
    lines: list[Line]  # overall first, then per department

    @property
    def shown(self) -> list[Line]:
        """The lines with at least one figure to show."""
        return [line for line in self.lines if not line.empty]


def _lines(
    periods: list[Any],
    scores: list[tuple[Any, str, int, int]],
    minimum: int,
    overall: str,
    *,
    complementary: bool = False,
) -> list[Line]:
    """Averages per period, overall and per department, from (period, department, score, how
    many), hiding groups below `minimum`; with `complementary`, also the groups that would let
    the overall figure minus the shown ones reveal a hidden group (`suppressed`)."""

    def average(values: list[tuple[int, int]]) -> float | None:
        n = sum(count for _, count in values)
        return sum(v * count for v, count in values) / n if n else None

    departments = sorted({d for _, d, _, _ in scores if d})
    points: dict[str, list[float | None]] = {overall: []}
    for department in departments:
        points[department] = []
    for q in periods:
        here = [(d, v, n) for p, d, v, n in scores if p == q]
        sizes: Counter[str] = Counter()
        for d, _, n in here:
            sizes[d] += n
        hidden = (
            suppressed(sizes, minimum)
            if complementary
            else {d for d, n in sizes.items() if n < minimum}
        )
        total = sizes.total()
        points[overall].append(average([(v, n) for _, v, n in here]) if total >= minimum else None)
        for department in departments:
            shown = sizes[department] and department not in hidden
            points[department].append(
                average([(v, n) for d, v, n in here if d == department]) if shown else None
            )
    return [
        Line(name, line)
        for name, line in points.items()
        if name == overall or any(point is not None for point in line)
    ]


def trend(*, session: Session, routing: Routing, run: SurveyRun, runs: int = 6) -> Trend | None:
    """The survey's last `runs` closed runs up to this one: the trend line per department."""
    series = list(
        session.scalars(
            select(SurveyRun)
            .where(
                SurveyRun.survey_id == run.survey_id,
                SurveyRun.state == "closed",
                SurveyRun.scheduled_for <= run.scheduled_for,
            )
            .order_by(SurveyRun.scheduled_for.desc())
            .limit(runs)
        )
    )[::-1]
    if len(series) < 2:
        return None
    counted = tallies(session=session, run_ids=[r.id for r in series])
    scores = [
        (run_id, department, option + 1, n)
        for run_id, groups in counted.items()
        for department, options in groups.items()
        for option, n in options.items()
    ]
    return Trend(
        labels=[(r.sent_at or r.scheduled_for).strftime("%d %b") for r in series],
        lines=_lines(
            [r.id for r in series],
            scores,
            min_group_size(routing),
            "All respondents",
            complementary=True,
        ),
    )
