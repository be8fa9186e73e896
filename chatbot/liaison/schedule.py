"""When a department's next check-in is due: from its cadence and the last recorded meeting.

The due date is asked of the database, never kept in memory: the last meeting's date plus the
cadence; before any meeting is recorded, the date of the first briefing stored for the
department (the program's start for it), else today. So a restart of the clock, or a meeting
recorded late, moves the schedule exactly as the records say.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chatbot.config import Department
from chatbot.db.models import LiaisonBriefing, LiaisonMeeting


def after(cadence: str, day: date) -> date:
    """The check-in after one held on `day`, for a cadence as `parse_cadence` spells it."""
    if cadence == "weekly":
        return day + timedelta(weeks=1)
    if cadence.startswith("every "):
        return day + timedelta(weeks=int(cadence.split()[1]))
    months = 1 if cadence == "monthly" else 3
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class CheckIn:
    department: str
    last_met: date | None
    due: date

    def overdue(self, today: date) -> bool:
        return self.due < today

    def days_late(self, today: date) -> int:
        return max((today - self.due).days, 0)


def last_meeting(session: Session, department: str) -> LiaisonMeeting | None:
    return session.scalars(
        select(LiaisonMeeting)
        .where(LiaisonMeeting.department == department)
        .order_by(LiaisonMeeting.met_on.desc(), LiaisonMeeting.id.desc())
        .limit(1)
    ).first()


def next_check_in(session: Session, department: Department, today: date) -> CheckIn | None:
    """The department's next check-in; None without a liaison and a cadence."""
    if not department.liaison or not department.cadence:
        return None
    met = session.scalar(
        select(func.max(LiaisonMeeting.met_on)).where(LiaisonMeeting.department == department.name)
    )
    if met is not None:
        return CheckIn(department.name, met, after(department.cadence, met))
    first = session.scalar(
        select(func.min(LiaisonBriefing.due_on)).where(
            LiaisonBriefing.department == department.name
        )
    )
    return CheckIn(department.name, None, first or today)
