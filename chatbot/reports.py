"""The figures of the dashboard, the public report and the weekly digest.

Every figure is an aggregate computed by the database (GROUP BY, window functions), never by
loading rows into Python to count them, so a page costs a few queries whatever the size of the
history. Functions are keyword-only and take a read-only connection (`Database.reading()`).

Conventions: a request belongs to the week (Monday, UTC) and the date range of its creation;
percentiles are nearest-rank (the smallest value with at least p of the values at or below it).
Rating figures are published per whole week that has ended (`published_weeks`), and per week a
group smaller than `min_group` is hidden (None), with the departments hidden beside it so that
everyone's figure minus the shown ones cannot reveal it (`surveys.suppressed`): a small
department's ratings cannot be traced to a person, by one page or by several.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)

from chatbot import surveys
from chatbot.config import URGENCIES, Routing
from chatbot.db.models import (
    AffectedVote,
    Alert,
    AlertCopy,
    Delivery,
    Rating,
    Request,
    Survey,
    SurveyRun,
    SurveyTally,
)

# The single point of intake (the command, or a message to the bot, and the form); the rest was
# logged by staff.
SELF_SERVICE = ("techhelp", "form")
LOGGED_BY_STAFF = ("phone", "email", "walk-in")
UNRESOLVED = ("open", "claimed")  # IN, not != 'resolved': the state index then finds only these
DEFAULT_WEEKS = 12
OVERDUE_LIMIT = 200
ALERT_LIMIT = 200


@dataclass(frozen=True)
class Filters:
    """What the reader chose: a date range of creation (inclusive) and a department."""

    start: date
    end: date
    department: str | None = None

    @classmethod
    def default(cls, *, today: date, weeks: int = DEFAULT_WEEKS) -> Filters:
        return cls(start=today - timedelta(weeks=weeks) + timedelta(days=1), end=today)

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(), tzinfo=UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time(), tzinfo=UTC)

    def query(self) -> dict[str, str]:
        """As URL parameters (for links that keep the filters, CSV exports)."""
        values = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.department:
            values["department"] = self.department
        return values


# --- dialect helpers ----------------------------------------------------------------------------


def _is_pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _week(conn: Connection, column: Any) -> ColumnElement[str]:
    """The Monday (UTC) of the column's week, as YYYY-MM-DD."""
    if _is_pg(conn):
        return func.to_char(func.date_trunc("week", func.timezone("UTC", column)), "YYYY-MM-DD")
    return func.date(column, "-6 days", "weekday 1")


def _seconds(conn: Connection, later: Any, earlier: Any) -> ColumnElement[float]:
    if _is_pg(conn):
        return cast(func.extract("epoch", later - earlier), Float)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _in_range(filters: Filters) -> list[ColumnElement[bool]]:
    where = [Request.created_at >= filters.since, Request.created_at < filters.until]
    if filters.department:
        where.append(Request.department == filters.department)
    return where


NO_DEPARTMENT = "(none)"


def _department(column: Any) -> ColumnElement[str]:
    return func.coalesce(column, literal(NO_DEPARTMENT))


# --- requests -----------------------------------------------------------------------------------


def open_by_state_and_tier(*, conn: Connection, filters: Filters) -> list[dict[str, Any]]:
    """Requests not resolved now, by state and tier (the date range does not apply: open is
    open, however old)."""
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
    of `kind` = "first_response" or "resolution" (requests that have one)."""
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


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def intake_share(*, conn: Connection, filters: Filters) -> list[dict[str, Any]]:
    """The single point of intake: per department and week, the share of requests that came
    through /techhelp (command or form) rather than logged by staff from phone, email or walk-in."""
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
    rows = conn.execute(
        select(
            Request.platform,
            Request.intake_channel,
            Request.by_message,
            func.count().label("requests"),
        )
        .where(*_in_range(filters))
        .group_by(Request.platform, Request.intake_channel, Request.by_message)
    ).all()
    counts: dict[str, int] = {}
    for platform, intake, by_message, requests in rows:
        channel = intake_channel(platform, intake, bool(by_message))
        counts[channel] = counts.get(channel, 0) + int(requests)
    total = sum(counts.values())
    return [
        {"channel": channel, "requests": n, "share_pct": round(100 * n / total, 1)}
        for channel, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def _share(row: Any) -> float:
    return round(100 * int(row.via_techhelp) / int(row.requests), 1)


def totals(*, conn: Connection, filters: Filters) -> dict[str, Any]:
    """Headline counts for the range: created, resolved, via /techhelp."""
    row = conn.execute(
        select(
            func.count().label("created"),
            func.sum(case((Request.resolved_at.is_not(None), 1), else_=0)).label("resolved"),
            func.sum(case((Request.intake_channel.in_(SELF_SERVICE), 1), else_=0)).label(
                "via_techhelp"
            ),
        ).where(*_in_range(filters))
    ).one()
    created = int(row.created or 0)
    via = int(row.via_techhelp or 0)
    return {
        "created": created,
        "resolved": int(row.resolved or 0),
        "via_techhelp": via,
        "share_pct": round(100 * via / created, 1) if created else None,
    }


def weekly_volume(*, conn: Connection, filters: Filters) -> list[dict[str, Any]]:
    """Requests created and share via /techhelp per week (all departments or the chosen one)."""
    week = _week(conn, Request.created_at).label("week")
    via = func.sum(case((Request.intake_channel.in_(SELF_SERVICE), 1), else_=0))
    rows = conn.execute(
        select(week, func.count().label("requests"), via.label("via_techhelp"))
        .where(*_in_range(filters))
        .group_by(week)
        .order_by(week)
    )
    return [dict(row._mapping) | {"share_pct": _share(row)} for row in rows]


# --- satisfaction -------------------------------------------------------------------------------


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
    since, until = (datetime.combine(d, time(), tzinfo=UTC) for d in weeks)
    week = _week(conn, Rating.rated_at).label("week")
    department = _department(Request.department).label("department")
    rows = conn.execute(
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
    department = _department(Request.department).label("department")
    everywhere = Filters(start=filters.start, end=filters.end)
    rows = conn.execute(
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


EVERYONE = "Everyone"  # the row of all respondents, beside the departments


def pulse_trends(
    *,
    conn: Connection,
    filters: Filters,
    routing: Routing,
    min_group: int,
    by_department: bool = True,
) -> list[dict[str, Any]]:
    """Pulse survey results as trend lines: per survey, each closed run sent in the range
    (oldest first), everyone's row and then one per department of the respondents (or only the
    chosen department's). Each row: recipients, answers, response rate, and the average (1–5
    scale) or the distribution and top option (custom options).

    Only closed runs: the figures are published once, when a run closes, and never change with
    each click (comparing them before and after one would tell that person's answer). The
    counts come from `survey_tallies` (per run, department and option). A group with fewer
    answers than the minimum (the larger of `min_group` and `pulse.min_group_size`, the rule of
    /pulse results) shows no answers, rate, average nor distribution; nor does any department
    hidden with it so that everyone's row minus the shown departments cannot reveal it
    (`surveys.suppressed`), whether or not the page shows everyone's row or one department. No
    comments and no respondents here."""
    minimum = surveys.min_group_size(routing, at_least=min_group)
    sent = [
        SurveyRun.state == "closed",
        SurveyRun.sent_at >= filters.since,
        SurveyRun.sent_at < filters.until,
    ]
    runs = conn.execute(
        select(
            SurveyRun.id,
            SurveyRun.sent_at,
            SurveyRun.recipients,
            SurveyRun.recipients_by_department,
            Survey.id.label("survey_id"),
            Survey.question,
            Survey.options,
            Survey.scale,
        )
        .join(Survey, Survey.id == SurveyRun.survey_id)
        .where(*sent)
        .order_by(Survey.id, SurveyRun.sent_at, SurveyRun.id)
    ).all()
    if not runs:
        return []
    department = _department(func.nullif(SurveyTally.department, literal(""))).label("department")
    counted = conn.execute(
        select(SurveyTally.run_id, department, SurveyTally.option, SurveyTally.count)
        .join(SurveyRun, SurveyRun.id == SurveyTally.run_id)
        .where(*sent, SurveyTally.count > 0)
    )
    counts: dict[int, dict[str, Counter[int]]] = {}
    for run_id, name, option, count in counted:
        counts.setdefault(run_id, {}).setdefault(name, Counter())[option] += int(count)
    result = []
    for run in runs:
        groups = counts.get(run.id, {})
        asked = {
            (name or NO_DEPARTMENT): int(n)
            for name, n in (run.recipients_by_department or {}).items()
        }
        names = sorted(set(asked) | set(groups))
        hidden = surveys.suppressed(
            {name: groups.get(name, Counter()).total() for name in names}, minimum
        )
        rows: list[tuple[str, int, Counter[int], bool]] = []
        if filters.department:
            name = filters.department
            chosen = groups.get(name, Counter())
            shown = name not in hidden and chosen.total() >= minimum
            rows.append((name, asked.get(name, 0), chosen, shown))
        else:
            everyone = sum(groups.values(), Counter())
            rows.append((EVERYONE, int(run.recipients), everyone, everyone.total() >= minimum))
            if by_department:
                for name in names:
                    rows.append(
                        (name, asked.get(name, 0), groups.get(name, Counter()), name not in hidden)
                    )
        for name, recipients, chosen, shown in rows:
            result.append(_pulse_row(run, name, recipients, chosen, shown=shown))
    return result


def _pulse_row(
    run: Any, department: str, recipients: int, counts: Counter[int], *, shown: bool
) -> dict[str, Any]:
    answers = counts.total()
    shares = surveys.distribution(list(run.options), counts)
    average = surveys.scale_average(run.scale, counts)
    top = max(shares, key=lambda share: share.count) if shares and answers else None
    return {
        "survey": f"PS-{run.survey_id}",
        "question": run.question,
        "scale": bool(run.scale),
        "run": run.id,
        "sent": _utc(run.sent_at).strftime("%Y-%m-%d"),
        "department": department,
        "recipients": recipients,
        "answers": answers if shown else None,
        "response_pct": round(100 * answers / recipients, 1) if shown and recipients else None,
        "average": round(average, 2) if shown and average is not None else None,
        "top_option": f"{top.label} ({top.percent:.0f}%)"
        if shown and top and not run.scale
        else None,
        "distribution": " · ".join(f"{s.label}: {s.percent:.0f}%" for s in shares)
        if shown
        else None,
        "percents": {s.label: round(s.percent, 1) for s in shares} if shown else {},
    }


# --- alerts -------------------------------------------------------------------------------------


def alert_history(*, conn: Connection, filters: Filters, now: datetime) -> list[dict[str, Any]]:
    """Alerts created in the range, newest first: severity, duration, copies delivered (sent
    copies whose delivery was sent) and people affected ("I'm affected" and followers)."""
    copies = (
        select(func.count())
        .select_from(AlertCopy)
        .join(Delivery, Delivery.id == AlertCopy.delivery_id)
        .where(AlertCopy.alert_id == Alert.id, Delivery.status == "sent")
        .scalar_subquery()
    )
    affected = select(func.count()).where(AffectedVote.alert_id == Alert.id).scalar_subquery()
    # Alerts concern the whole organisation: the department filter does not apply to them.
    where = [Alert.created_at >= filters.since, Alert.created_at < filters.until]
    rows = conn.execute(
        select(
            Alert.id,
            Alert.severity,
            Alert.service,
            Alert.state,
            Alert.created_at,
            Alert.resolved_at,
            copies.label("copies"),
            affected.label("affected"),
        )
        .where(*where)
        .order_by(Alert.created_at.desc(), Alert.id.desc())
        .limit(ALERT_LIMIT)
    )
    result = []
    for row in rows:
        created = _utc(row.created_at)
        ended = _utc(row.resolved_at) if row.resolved_at else now
        result.append(
            {
                "alert": f"AL-{row.id}",
                "severity": row.severity,
                "service": row.service or "",
                "state": row.state,
                "created": created.strftime("%Y-%m-%d %H:%M"),
                "resolved": _utc(row.resolved_at).strftime("%Y-%m-%d %H:%M")
                if row.resolved_at
                else "",
                "duration_minutes": round((ended - created).total_seconds() / 60),
                "copies": int(row.copies),
                "affected": int(row.affected),
            }
        )
    return result


def departments(*, conn: Connection, routing: Routing, filters: Filters) -> list[str]:
    """Departments to filter by: configured ones, and any found on the range's requests (not
    the whole history, which would cost a scan of every request)."""
    found = conn.execute(
        select(Request.department)
        .where(
            Request.created_at >= filters.since,
            Request.created_at < filters.until,
            Request.department.is_not(None),
        )
        .distinct()
    ).scalars()
    chosen = {filters.department} if filters.department else set()
    return sorted({d.name for d in routing.departments} | {d for d in found if d} | chosen)
