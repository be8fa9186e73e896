"""Requests: open by state and tier, volume per week, response and resolution times against the
service targets, what is overdue, the totals."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    func,
    literal,
    or_,
    select,
)

from chatbot.config import URGENCIES, Routing
from chatbot.db import rollups
from chatbot.db.models import (
    Request,
    RollupDuration,
    RollupRequestCategory,
    RollupRequestIntake,
    RollupRequestState,
)
from chatbot.reports.common import (
    OVERDUE_LIMIT,
    SELF_SERVICE,
    UNRESOLVED,
    Filters,
    _day_week,
    _days,
    _department,
    _in_range,
    _is_pg,
    _rollup_department,
    _rollups,
    _seconds,
    _share,
    _utc,
    _week,
)


def open_by_state_and_tier(*, conn: Connection, filters: Filters) -> list[dict[str, Any]]:
    """Requests not resolved now, by state and tier (the date range does not apply: open is
    open, however old)."""
    if _rollups():
        table = RollupRequestState
        where_: list[ColumnElement[bool]] = [table.state.in_(UNRESOLVED)]
        if filters.department:
            where_.append(table.department == filters.department)
        counted = func.sum(table.requests)
        rows = conn.execute(
            select(table.state, table.tier, counted.label("requests"))
            .where(*where_)
            .group_by(table.state, table.tier)
            .having(counted > 0)
            .order_by(table.state, table.tier)
        )
        return [dict(row._mapping) | {"requests": int(row.requests)} for row in rows]
    where: list[ColumnElement[bool]] = [Request.state.in_(UNRESOLVED)]
    if filters.department:
        where.append(Request.department == filters.department)
    rows = conn.execute(
        select(Request.state, Request.tier, func.count().label("requests"))
        .where(*where)
        .group_by(Request.state, Request.tier)
        .order_by(Request.state, Request.tier)
    )
    return [dict(row._mapping) for row in rows]


def volume_by_week(
    *, conn: Connection, filters: Filters, by: str = "category"
) -> list[dict[str, Any]]:
    """Requests created per week, by `category` or `department`."""
    if _rollups():
        table = RollupRequestCategory
        group = table.category if by == "category" else _rollup_department(table.department)
        day_week = _day_week(conn, table.day).label("week")
        counted = func.sum(table.requests)
        rows = conn.execute(
            select(day_week, group.label(by), counted.label("requests"))
            .where(*_days(table, filters))
            .group_by(day_week, group)
            .having(counted > 0)
            .order_by(day_week, group)
        )
        return [dict(row._mapping) | {"requests": int(row.requests)} for row in rows]
    column = Request.category if by == "category" else _department(Request.department)
    week = _week(conn, Request.created_at).label("week")
    rows = conn.execute(
        select(week, column.label(by), func.count().label("requests"))
        .where(*_in_range(filters))
        .group_by(week, column)
        .order_by(week, column)
    )
    return [dict(row._mapping) for row in rows]


def _target_case(routing: Routing, kind: str) -> ColumnElement[float]:
    """Per urgency, the service target in seconds."""
    whens = []
    for urgency, target in routing.service_targets.items():
        seconds = (
            target.first_response_minutes * 60.0
            if kind == "first_response"
            else target.resolution_hours * 3600.0
        )
        whens.append((Request.urgency == urgency, seconds))
    return case(*whens, else_=None) if whens else literal(None)


def response_times(
    *, conn: Connection, filters: Filters, routing: Routing, kind: str
) -> list[dict[str, Any]]:
    """Per urgency: how many, the median and p90 in minutes, and the share within the target,
    of `kind` = "first_response" or "resolution" (requests that have one).

    From the rollups, each duration counts as its step (`chatbot.db.rollups.STEPS`, rounded up):
    the median and p90 are shown to that step, and a request is within a target on a step (any
    whole minutes up to an hour, 5 minutes up to 10 hours, hours up to a week) exactly when its
    time is."""
    if _rollups():
        return _response_times_from_rollups(conn, filters, routing, kind)
    end = Request.first_response_at if kind == "first_response" else Request.resolved_at
    seconds = _seconds(conn, end, Request.created_at)
    target = _target_case(routing, kind)
    durations = (
        select(
            Request.urgency.label("urgency"),
            seconds.label("secs"),
            case((seconds <= target, 1), else_=0).label("met"),
        )
        .where(*_in_range(filters), end.is_not(None))
        .subquery()
    )
    ranked = select(
        durations.c.urgency,
        durations.c.secs,
        durations.c.met,
        func.row_number()
        .over(partition_by=durations.c.urgency, order_by=durations.c.secs)
        .label("rank"),
        func.count().over(partition_by=durations.c.urgency).label("n"),
    ).subquery()
    rows = conn.execute(
        select(
            ranked.c.urgency,
            func.max(ranked.c.n).label("n"),
            func.min(case((ranked.c.rank >= ranked.c.n * 0.5, ranked.c.secs))).label("p50"),
            func.min(case((ranked.c.rank >= ranked.c.n * 0.9, ranked.c.secs))).label("p90"),
            func.sum(ranked.c.met).label("met"),
        ).group_by(ranked.c.urgency)
    )
    found = {row.urgency: row for row in rows}
    result = []
    for urgency in URGENCIES:
        row = found.get(urgency)
        goal = routing.service_targets.get(urgency)
        target_minutes = None
        if goal is not None:
            target_minutes = (
                goal.first_response_minutes
                if kind == "first_response"
                else goal.resolution_hours * 60
            )
        n = int(row.n) if row else 0
        result.append(
            {
                "urgency": urgency,
                "requests": n,
                "median_minutes": _minutes(row.p50) if row else None,
                "p90_minutes": _minutes(row.p90) if row else None,
                "target_minutes": target_minutes,
                # No target, no share within it (not 0 %: every request would read as late).
                "within_target_pct": (
                    round(100 * int(row.met) / n, 1)
                    if row is not None and n and target_minutes is not None
                    else None
                ),
            }
        )
    return result


def _target_minutes(routing: Routing, urgency: str, kind: str) -> float | None:
    goal = routing.service_targets.get(urgency)  # type: ignore[call-overload]
    if goal is None:
        return None
    return goal.first_response_minutes if kind == "first_response" else goal.resolution_hours * 60


def _response_times_from_rollups(
    conn: Connection, filters: Filters, routing: Routing, kind: str
) -> list[dict[str, Any]]:
    """`response_times` from the durations' rollup: the whole weeks of the range from its
    weekly rows, the days before and after them from its daily rows."""
    table = RollupDuration
    first_monday = filters.start + timedelta(days=(7 - filters.start.weekday()) % 7)
    after_monday = filters.end + timedelta(days=1) - timedelta(days=(filters.end.weekday() + 1) % 7)
    periods: list[ColumnElement[bool]] = []
    if first_monday < after_monday:
        periods.append(
            and_(
                table.period == "week",
                table.start >= first_monday.isoformat(),
                table.start < after_monday.isoformat(),
            )
        )
        days = [(filters.start, first_monday - timedelta(days=1)), (after_monday, filters.end)]
    else:
        days = [(filters.start, filters.end)]
    for first, last in days:
        if first <= last:
            periods.append(
                and_(
                    table.period == "day",
                    table.start >= first.isoformat(),
                    table.start <= last.isoformat(),
                )
            )
    who = (
        and_(table.scope == "department", table.department == filters.department)
        if filters.department
        else and_(table.scope == rollups.EVERY_DEPARTMENT, table.department == "")
    )
    counted = func.sum(table.requests)
    rows = conn.execute(
        select(table.urgency, table.minutes, counted.label("n"))
        .where(who, table.kind == kind, or_(*periods))
        .group_by(table.urgency, table.minutes)
        .having(counted > 0)
        .order_by(table.urgency, table.minutes)
    ).all()
    histograms: dict[str, list[tuple[int, int]]] = {}
    for urgency, minutes, n in rows:
        histograms.setdefault(urgency, []).append((int(minutes), int(n)))
    result = []
    for urgency in URGENCIES:
        histogram = histograms.get(urgency, [])
        n = sum(count for _, count in histogram)
        target_minutes = _target_minutes(routing, urgency, kind)
        met = sum(
            count
            for minutes, count in histogram
            if target_minutes is not None and minutes <= target_minutes
        )
        result.append(
            {
                "urgency": urgency,
                "requests": n,
                "median_minutes": _rank(histogram, n, 0.5),
                "p90_minutes": _rank(histogram, n, 0.9),
                "target_minutes": target_minutes,
                "within_target_pct": (
                    round(100 * met / n, 1) if n and target_minutes is not None else None
                ),
            }
        )
    return result


def _rank(histogram: list[tuple[int, int]], n: int, p: float) -> float | None:
    """Nearest rank: the smallest value with a rank (from 1) of at least n * p."""
    seen = 0
    for minutes, count in histogram:
        seen += count
        if seen >= n * p:
            return float(minutes)
    return None


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(float(seconds) / 60, 1)


def overdue(
    *, conn: Connection, filters: Filters, routing: Routing, now: datetime
) -> list[dict[str, Any]]:
    """Unresolved requests past a target: no first response within its time, or not resolved
    within its time. Oldest first; no request text (references only)."""
    # On SQLite the creation time is wrapped so that its index is not chosen: it would walk the
    # whole history in date order, when the state index finds the few unresolved requests.
    created: Any = Request.created_at
    if not _is_pg(conn):
        created = func.coalesce(Request.created_at, Request.created_at)
    late_response = []
    late_resolution = []
    for urgency, target in routing.service_targets.items():
        late_response.append(
            and_(
                Request.urgency == urgency,
                created < now - timedelta(minutes=target.first_response_minutes),
            )
        )
        late_resolution.append(
            and_(
                Request.urgency == urgency,
                created < now - timedelta(hours=target.resolution_hours),
            )
        )
    if not late_response:
        return []
    no_response = and_(Request.first_response_at.is_(None), or_(*late_response))
    where = [Request.state.in_(UNRESOLVED), or_(no_response, or_(*late_resolution))]
    if filters.department:
        where.append(Request.department == filters.department)
    rows = conn.execute(
        select(
            Request.id,
            Request.urgency,
            Request.category,
            _department(Request.department).label("department"),
            Request.state,
            Request.tier,
            Request.created_at,
            case((no_response, "first response"), else_="resolution").label("missed"),
        )
        .where(*where)
        .order_by(created, Request.id)
        .limit(OVERDUE_LIMIT)
    )
    return [
        {
            "request": f"TH-{row.id}",
            "urgency": row.urgency,
            "category": row.category,
            "department": row.department,
            "state": row.state,
            "tier": row.tier,
            "created": _utc(row.created_at).strftime("%Y-%m-%d %H:%M"),
            "age_hours": round((now - _utc(row.created_at)).total_seconds() / 3600, 1),
            "missed": row.missed,
        }
        for row in rows
    ]


def totals(*, conn: Connection, filters: Filters) -> dict[str, Any]:
    """Headline counts for the range: created, resolved, via /techhelp."""
    if _rollups():
        table = RollupRequestIntake
        row = conn.execute(
            select(
                func.sum(table.requests).label("created"),
                func.sum(table.resolved).label("resolved"),
                func.sum(
                    case((table.intake_channel.in_(SELF_SERVICE), table.requests), else_=0)
                ).label("via_techhelp"),
            ).where(*_days(table, filters))
        ).one()
    else:
        row = _totals_from_rows(conn, filters)
    created = int(row.created or 0)
    via = int(row.via_techhelp or 0)
    return {
        "created": created,
        "resolved": int(row.resolved or 0),
        "via_techhelp": via,
        "share_pct": round(100 * via / created, 1) if created else None,
    }


def _totals_from_rows(conn: Connection, filters: Filters) -> Any:
    return conn.execute(
        select(
            func.count().label("created"),
            func.sum(case((Request.resolved_at.is_not(None), 1), else_=0)).label("resolved"),
            func.sum(case((Request.intake_channel.in_(SELF_SERVICE), 1), else_=0)).label(
                "via_techhelp"
            ),
        ).where(*_in_range(filters))
    ).one()


def weekly_volume(*, conn: Connection, filters: Filters) -> list[dict[str, Any]]:
    """Requests created and share via /techhelp per week (all departments or the chosen one)."""
    if _rollups():
        table = RollupRequestIntake
        day_week = _day_week(conn, table.day).label("week")
        counted = func.sum(table.requests)
        via_ = func.sum(case((table.intake_channel.in_(SELF_SERVICE), table.requests), else_=0))
        found = conn.execute(
            select(day_week, counted.label("requests"), via_.label("via_techhelp"))
            .where(*_days(table, filters))
            .group_by(day_week)
            .having(counted > 0)
            .order_by(day_week)
        )
        return [
            {"week": row.week, "requests": int(row.requests), "via_techhelp": int(row.via_techhelp)}
            | {"share_pct": _share(row)}
            for row in found
        ]
    week = _week(conn, Request.created_at).label("week")
    via = func.sum(case((Request.intake_channel.in_(SELF_SERVICE), 1), else_=0))
    rows = conn.execute(
        select(week, func.count().label("requests"), via.label("via_techhelp"))
        .where(*_in_range(filters))
        .group_by(week)
        .order_by(week)
    )
    return [dict(row._mapping) | {"share_pct": _share(row)} for row in rows]
