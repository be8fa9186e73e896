"""Satisfaction ratings per whole published week, with small groups suppressed, and the rating
response rate."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    func,
    select,
)

from chatbot import surveys
from chatbot.db.models import (
    Rating,
    Request,
    RollupRating,
    RollupRequestIntake,
)
from chatbot.reports.common import (
    Filters,
    _day_week,
    _days,
    _department,
    _in_range,
    _rollup_department,
    _rollups,
    _week,
)


def published_weeks(filters: Filters, *, today: date) -> tuple[date, date] | None:
    """The weeks whose rating figures may be published for the range: every whole week (Monday
    to Sunday, UTC) that the range touches and that has ended before `today`'s week began, as
    [first Monday, Monday after the last). None when there is none.

    Whole weeks, so that two ranges a day apart give the same figures (their difference would be
    that day's ratings); ended weeks, so that a figure is published once, on the Monday after its
    week, and never changes with each rating (watching it before and after one would tell it)."""
    first = filters.start - timedelta(days=filters.start.weekday())
    after = filters.end - timedelta(days=filters.end.weekday()) + timedelta(weeks=1)
    after = min(after, today - timedelta(days=today.weekday()))
    return (first, after) if first < after else None


def ratings_by_week(
    *,
    conn: Connection,
    filters: Filters,
    min_group: int,
    today: date,
    by_department: bool = True,
) -> list[dict[str, Any]]:
    """Average request rating per week (of the rating), everyone's (`by_department=False`) or per
    department (every one, or only the chosen department).

    Only `published_weeks`, each whole. Per week, everyone's figure is hidden below `min_group`
    ratings; a department's is hidden below it and also when hidden with such a department so that
    everyone's figure minus the shown departments cannot reveal it (`surveys.suppressed`, the rule
    of the pulse figures), whatever the department filter: everyone's row on one page minus the
    departments on another gives no hidden group either. Hidden: average and count None."""
    weeks = published_weeks(filters, today=today)
    if weeks is None:
        return []
    if _rollups():
        table = RollupRating
        day_week = _day_week(conn, table.day).label("week")
        group = _rollup_department(table.department).label("department")
        counted = func.sum(table.ratings)
        rows: Any = conn.execute(
            select(day_week, group, counted.label("ratings"), func.sum(table.score).label("total"))
            .where(
                *_days(
                    table,
                    Filters(start=weeks[0], end=weeks[1] - timedelta(days=1)),
                    department=False,
                )
            )
            .group_by(day_week, group)
            .having(counted > 0)
            .order_by(day_week, group)
        )
    else:
        rows = _ratings_from_rows(conn, weeks)
    per_week: dict[str, dict[str, tuple[int, int]]] = {}
    for row in rows:
        per_week.setdefault(row.week, {})[row.department] = (int(row.ratings), int(row.total))
    result = []
    for name, groups in per_week.items():
        if not by_department and not filters.department:
            count = sum(n for n, _ in groups.values())
            total = sum(t for _, t in groups.values())
            result.append(_rating_row(name, None, count, total, shown=count >= min_group))
            continue
        hidden = surveys.suppressed({d: n for d, (n, _) in groups.items()}, min_group)
        for department_name, (count, total) in groups.items():
            if filters.department and department_name != filters.department:
                continue
            shown = department_name not in hidden
            result.append(_rating_row(name, department_name, count, total, shown=shown))
    return result


def _ratings_from_rows(conn: Connection, weeks: tuple[date, date]) -> Any:
    since, until = (datetime.combine(d, time(), tzinfo=UTC) for d in weeks)
    week = _week(conn, Rating.rated_at).label("week")
    department = _department(Request.department).label("department")
    return conn.execute(
        select(
            week,
            department,
            func.count().label("ratings"),
            func.sum(Rating.score).label("total"),
        )
        .select_from(Rating)
        .join(Request, Request.id == Rating.request_id)
        .where(Rating.rated_at >= since, Rating.rated_at < until)
        .group_by(week, department)
        .order_by(week, department)
    )


def _rating_row(
    week: str, department: str | None, count: int, total: int, *, shown: bool
) -> dict[str, Any]:
    row: dict[str, Any] = {"week": week}
    if department is not None:
        row["department"] = department
    row["ratings"] = count if shown else None
    row["average"] = round(total / count, 2) if shown and count else None
    return row


def rating_response(*, conn: Connection, filters: Filters, min_group: int) -> list[dict[str, Any]]:
    """Per department: requests resolved in the range, how many were rated, the response rate.
    How many were rated is hidden below `min_group`, and for the departments hidden with such a
    one (`surveys.suppressed`, over every department whatever the filter)."""
    everywhere = Filters(start=filters.start, end=filters.end)
    if _rollups():
        table = RollupRequestIntake
        group = _rollup_department(table.department).label("department")
        resolved = func.sum(table.resolved)
        rows: Any = conn.execute(
            select(group, resolved.label("resolved"), func.sum(table.rated).label("rated"))
            .where(*_days(table, everywhere))
            .group_by(group)
            .having(resolved > 0)
            .order_by(group)
        ).all()
    else:
        rows = _response_from_rows(conn, everywhere)
    hidden = surveys.suppressed({row.department: int(row.rated) for row in rows}, min_group)
    result = []
    for row in rows:
        if filters.department and row.department != filters.department:
            continue
        shown = row.department not in hidden
        result.append(
            {
                "department": row.department,
                "resolved": int(row.resolved),
                "rated": int(row.rated) if shown else None,
                "response_pct": round(100 * int(row.rated) / int(row.resolved), 1)
                if shown and row.resolved
                else None,
            }
        )
    return result


def _response_from_rows(conn: Connection, everywhere: Filters) -> Any:
    department = _department(Request.department).label("department")
    return conn.execute(
        select(
            department,
            func.count(Request.id).label("resolved"),
            func.count(Rating.id).label("rated"),
        )
        .select_from(Request)
        .outerjoin(Rating, Rating.request_id == Request.id)
        .where(*_in_range(everywhere), Request.resolved_at.is_not(None))
        .group_by(department)
        .order_by(department)
    ).all()
