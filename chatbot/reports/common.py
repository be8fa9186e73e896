"""What every figure shares: the filters (date range, department, urgency), the week and time
arithmetic per database, and the department column."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    Float,
    case,
    cast,
    func,
    literal,
    select,
)

from chatbot.config import Routing
from chatbot.db.models import (
    Request,
    RollupRequestCategory,
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


# The figures are read from the rollups (`chatbot.db.rollups`) unless `from_rows()` says to compute
# them from the rows, as the rollups are checked against.
_FROM_ROWS: ContextVar[bool] = ContextVar("reports_from_rows", default=False)


@contextmanager
def from_rows() -> Iterator[None]:
    """Within it, every figure is computed from the rows, not the rollups."""
    token = _FROM_ROWS.set(True)
    try:
        yield
    finally:
        _FROM_ROWS.reset(token)


def _rollups() -> bool:
    return not _FROM_ROWS.get()


def _day_week(conn: Connection, day: Any) -> ColumnElement[str]:
    """The Monday of a rollup's day (YYYY-MM-DD), as YYYY-MM-DD."""
    if _is_pg(conn):
        return func.to_char(func.date_trunc("week", cast(day, Date)), "YYYY-MM-DD")
    return func.date(day, "-6 days", "weekday 1")


def _days(table: Any, filters: Filters, *, department: bool = True) -> list[ColumnElement[bool]]:
    """A rollup's rows of the range (its days are the UTC dates of creation), and of the
    chosen department."""
    where = [table.day >= filters.start.isoformat(), table.day <= filters.end.isoformat()]
    if department and filters.department:
        where.append(table.department == filters.department)
    return where


def _rollup_department(column: Any) -> ColumnElement[str]:
    """A rollup's department ("" for none) as the figures name it."""
    return case((column == "", literal(NO_DEPARTMENT)), else_=column)


def _in_range(filters: Filters) -> list[ColumnElement[bool]]:
    where = [Request.created_at >= filters.since, Request.created_at < filters.until]
    if filters.department:
        where.append(Request.department == filters.department)
    return where


NO_DEPARTMENT = "(none)"


def _department(column: Any) -> ColumnElement[str]:
    return func.coalesce(column, literal(NO_DEPARTMENT))


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _share(row: Any) -> float:
    return round(100 * int(row.via_techhelp) / int(row.requests), 1)


def departments(*, conn: Connection, routing: Routing, filters: Filters) -> list[str]:
    """Departments to filter by: configured ones, and any found on the range's requests (not
    the whole history, which would cost a scan of every request). A department asked for that
    is neither is refused (`Pages.unknown_department`), not added."""
    if _rollups():
        table = RollupRequestCategory
        named = conn.execute(
            select(table.department)
            .where(*_days(table, filters, department=False), table.department != "")
            .group_by(table.department)
            .having(func.sum(table.requests) > 0)
        ).scalars()
        return sorted({d.name for d in routing.departments} | set(named))
    found = conn.execute(
        select(Request.department)
        .where(
            Request.created_at >= filters.since,
            Request.created_at < filters.until,
            Request.department.is_not(None),
        )
        .distinct()
    ).scalars()
    return sorted({d.name for d in routing.departments} | {d for d in found if d})
