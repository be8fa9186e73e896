"""The single point of intake: the share of requests through it, and each platform's intake
channel."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Connection,
    case,
    func,
    select,
)

from chatbot.db.models import (
    Request,
    RollupRequestIntake,
)
from chatbot.reports.common import (
    LOGGED_BY_STAFF,
    SELF_SERVICE,
    Filters,
    _day_week,
    _days,
    _department,
    _in_range,
    _rollup_department,
    _rollups,
    _share,
    _week,
)


def intake_share(*, conn: Connection, filters: Filters) -> list[dict[str, Any]]:
    """The single point of intake: per department and week, the share of requests that came
    through /techhelp (command or form) rather than logged by staff from phone, email or walk-in."""
    if _rollups():
        table = RollupRequestIntake
        day_week = _day_week(conn, table.day).label("week")
        group = _rollup_department(table.department).label("department")
        counted = func.sum(table.requests)
        via_ = func.sum(case((table.intake_channel.in_(SELF_SERVICE), table.requests), else_=0))
        found = conn.execute(
            select(group, day_week, counted.label("requests"), via_.label("via_techhelp"))
            .where(*_days(table, filters))
            .group_by(group, day_week)
            .having(counted > 0)
            .order_by(group, day_week)
        )
        return [
            {
                "department": row.department,
                "week": row.week,
                "requests": int(row.requests),
                "via_techhelp": int(row.via_techhelp),
                "share_pct": _share(row),
            }
            for row in found
        ]
    week = _week(conn, Request.created_at).label("week")
    department = _department(Request.department).label("department")
    via = func.sum(case((Request.intake_channel.in_(SELF_SERVICE), 1), else_=0))
    rows = conn.execute(
        select(
            department,
            week,
            func.count().label("requests"),
            via.label("via_techhelp"),
        )
        .where(*_in_range(filters))
        .group_by(department, week)
        .order_by(department, week)
    )
    return [dict(row._mapping) | {"share_pct": _share(row)} for row in rows]


def intake_channel(platform: str, intake: str, by_message: bool = False) -> str:
    """The channel a request came in by, as the intake KPI names it: each platform its own
    ("slack", "teams", "console": its command, form, or where it has no command its messages),
    a message on a platform that also has the command as "<platform> DM", and the service
    desk's phone, email and walk-in as such, whatever platform they were logged on."""
    if intake in LOGGED_BY_STAFF:
        return intake
    return f"{platform} DM" if by_message else platform


def intake_channels(*, conn: Connection, filters: Filters) -> list[dict[str, Any]]:
    """Requests per intake channel over the range (most first), with each one's share."""
    if _rollups():
        table = RollupRequestIntake
        rows = conn.execute(
            select(
                table.platform,
                table.intake_channel,
                table.by_message,
                func.sum(table.requests).label("requests"),
            )
            .where(*_days(table, filters))
            .group_by(table.platform, table.intake_channel, table.by_message)
            .having(func.sum(table.requests) > 0)
        ).all()
    else:
        rows = _channels_from_rows(conn, filters)
    counts: dict[str, int] = {}
    for platform, intake, by_message, requests in rows:
        channel = intake_channel(platform, intake, bool(by_message))
        counts[channel] = counts.get(channel, 0) + int(requests)
    total = sum(counts.values())
    return [
        {"channel": channel, "requests": n, "share_pct": round(100 * n / total, 1)}
        for channel, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def _channels_from_rows(conn: Connection, filters: Filters) -> Any:
    return conn.execute(
        select(
            Request.platform,
            Request.intake_channel,
            Request.by_message,
            func.count().label("requests"),
        )
        .where(*_in_range(filters))
        .group_by(Request.platform, Request.intake_channel, Request.by_message)
    ).all()
