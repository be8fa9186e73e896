"""A department's briefing for its IT liaison: what happened since the last check-in.

Every figure is bounded by time or by a limit, never by the department's whole history, so a
department with years of requests and surveys is briefed as fast as a new one
(`bench/liaison.py`): open requests come from the state index, recent ones from the
(department, created) index, satisfaction and pulse figures from a window of whole weeks
(`WINDOW`) around the last meeting, with the dashboard's publication rules (whole ended weeks,
minimum group sizes, complementary suppression: `chatbot.reports`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chatbot import reports, surveys
from chatbot.config import Department, Settings
from chatbot.db.models import Alert, LiaisonAsk, LiaisonFollowUp, LiaisonMeeting, Request
from chatbot.liaison import notes, schedule
from chatbot.reports import Filters

OPEN_SHOWN = 10
RECENT = timedelta(days=30)
RECENT_SHOWN = 5
ALERTS_SHOWN = 10
SURVEYS_SHOWN = 3
# Figures are read from at most this far back: before the last meeting (to compare with), and
# never more than the cap, whatever the history holds.
BEFORE_MEETING = timedelta(weeks=6)
WINDOW_CAP = timedelta(weeks=26)
UNRESOLVED = ("open", "claimed")


@dataclass
class Trend:
    """A figure now and at the last meeting, and the change between them (None: not shown)."""

    label: str
    now: float | None
    then: float | None

    @property
    def change(self) -> float | None:
        if self.now is None or self.then is None:
            return None
        return round(self.now - self.then, 2)


@dataclass
class Briefing:
    department: str
    liaison: str | None
    cadence: str | None
    check_in: schedule.CheckIn | None
    today: date
    open_count: int
    open_requests: list[dict[str, Any]]
    recent_count: int
    resolved_recent: int
    recent_requests: list[dict[str, Any]]
    satisfaction: Trend
    pulse: list[Trend]
    alerts: list[dict[str, Any]]
    last_meeting: LiaisonMeeting | None
    last_asks: list[LiaisonAsk]
    follow_ups: list[LiaisonFollowUp]
    since: date = field(default_factory=date.today)


def _age(created: datetime, now: datetime) -> str:
    days = (now - created).days
    if days >= 1:
        return f"{days} d"
    return f"{max(int((now - created).total_seconds() // 3600), 0)} h"


def _request_row(request: Request, now: datetime) -> dict[str, Any]:
    return {
        "ref": request.ref,
        "category": request.category,
        "urgency": request.urgency,
        "state": request.state,
        "age": _age(request.created_at, now),
        "text": request.text,
    }


def build(
    *, session: Session, settings: Settings, department: Department, now: datetime, today: date
) -> Briefing:
    check_in = schedule.next_check_in(session, department, today)
    meeting = schedule.last_meeting(session, department.name)
    met = meeting.met_on if meeting else None
    start = max((met or today) - BEFORE_MEETING, today - WINDOW_CAP)
    since = met or (today - RECENT)
    in_department = Request.department == department.name
    # The open requests by the state index (the few open ones), not the department's (all its
    # history): the department is compared as an expression, which no index serves, so SQLite's
    # planner (without statistics) cannot prefer the department index and scan 50,000 rows.
    open_ = (
        Request.state.in_(UNRESOLVED),
        func.coalesce(Request.department, "") == department.name,
    )
    open_count = session.scalar(select(func.count()).select_from(Request).where(*open_)) or 0
    oldest = session.scalars(
        select(Request).where(*open_).order_by(Request.created_at, Request.id).limit(OPEN_SHOWN)
    ).all()
    recent_since = now - RECENT
    recent = (in_department, Request.created_at >= recent_since)
    recent_count, resolved_recent = session.execute(
        select(
            func.count(),
            func.count(Request.resolved_at),
        ).where(*recent)
    ).one()
    newest = session.scalars(
        select(Request)
        .where(*recent)
        .order_by(Request.created_at.desc(), Request.id.desc())
        .limit(RECENT_SHOWN)
    ).all()
    conn = session.connection()
    window = Filters(start=start, end=today, department=department.name)
    minimum = surveys.min_group_size(settings.routing, at_least=settings.techhelp_min_group)

    # Satisfaction: the last published week's rating against the last week published before
    # the meeting (each whole week read alone: the work is two weeks' ratings, whatever the
    # history or the time since the meeting).
    def week_rating(monday: date) -> float | None:
        week = Filters(start=monday, end=monday + timedelta(days=6), department=department.name)
        rows = reports.ratings_by_week(conn=conn, filters=week, min_group=minimum, today=today)
        return next((r["average"] for r in rows if r["average"] is not None), None)

    this_monday = today - timedelta(days=today.weekday())
    last_week = this_monday - timedelta(weeks=1)
    before_meeting = met - timedelta(days=met.weekday()) - timedelta(weeks=1) if met else None
    satisfaction = Trend(
        "Request satisfaction (1–5, last published week)",
        week_rating(last_week),
        week_rating(before_meeting) if before_meeting else None,
    )
    pulse_rows = [
        row
        for row in reports.pulse_trends(
            conn=conn, filters=window, routing=settings.routing, min_group=minimum
        )
        if row["scale"]
    ]
    by_survey: dict[str, list[dict[str, Any]]] = {}
    for row in pulse_rows:
        by_survey.setdefault(row["survey"], []).append(row)
    pulse: list[Trend] = []
    for rows in list(by_survey.values())[-SURVEYS_SHOWN:]:
        shown = [r for r in rows if r["average"] is not None]
        before = [r for r in shown if met and date.fromisoformat(r["sent"]) < met]
        pulse.append(
            Trend(
                f"{rows[-1]['survey']} {rows[-1]['question']}",
                shown[-1]["average"] if shown else None,
                before[-1]["average"] if before else None,
            )
        )
    alerts_since = datetime.combine(since, time(), tzinfo=UTC)
    touched = []
    for alert in session.scalars(
        select(Alert)
        .where(Alert.created_at >= alerts_since, Alert.state != "scheduled")
        .order_by(Alert.created_at.desc())
        .limit(ALERTS_SHOWN * 5)
    ):
        audience = alert.audience or {}
        public = not audience or audience.get("channels") or audience.get("everyone")
        if public or department.name in (audience.get("departments") or []):
            touched.append(alert)
    return Briefing(
        department=department.name,
        liaison=department.liaison,
        cadence=department.cadence,
        check_in=check_in,
        today=today,
        open_count=int(open_count),
        open_requests=[_request_row(r, now) for r in oldest],
        recent_count=int(recent_count),
        resolved_recent=int(resolved_recent),
        recent_requests=[_request_row(r, now) for r in newest],
        satisfaction=satisfaction,
        pulse=pulse,
        alerts=[
            {
                "ref": a.ref,
                "severity": a.severity,
                "service": a.service,
                "state": a.state,
                "message": a.message,
                "date": a.created_at.date().isoformat(),
            }
            for a in touched[:ALERTS_SHOWN]
        ],
        last_meeting=meeting,
        last_asks=notes.asks_of(session, meeting.id) if meeting else [],
        follow_ups=notes.open_follow_ups(session, department.name),
        since=since,
    )
