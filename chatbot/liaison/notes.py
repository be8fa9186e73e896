"""Recording a check-in, its asks and follow-ups, and finding past notes again.

The notes are IT's: callers check that the person is staff or an admin before showing or
searching anything here (`commands/liaison.py`, the dashboard behind its token).

`search_notes` is the one search entry point: a plain, portable word match (every word, in any
case, in any of a note's texts), so it can move onto a shared full-text index without its
callers changing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from chatbot.db.models import LiaisonAsk, LiaisonFollowUp, LiaisonMeeting

MAX_WORDS = 10


@dataclass(frozen=True)
class Ask:
    theme: str
    text: str


@dataclass(frozen=True)
class FollowUp:
    text: str
    owner: str  # an id on `platform`, or an e-mail address
    due: date


@dataclass(frozen=True)
class NoteHit:
    """One search result: a meeting's notes or one ask, with its department and date."""

    kind: str  # "meeting" | "ask"
    department: str
    met_on: date
    text: str
    theme: str | None = None


def record_meeting(
    *,
    session: Session,
    department: str,
    met_on: date,
    attendees: str,
    discussed: str,
    asks: list[Ask],
    follow_ups: list[FollowUp],
    by: str,
    platform: str,
    now: datetime,
) -> LiaisonMeeting:
    """Store a check-in with its asks and follow-ups, in the caller's transaction: all or none."""
    meeting = LiaisonMeeting(
        department=department,
        met_on=met_on,
        attendees=attendees,
        discussed=discussed,
        platform=platform,
        recorded_by=by,
        recorded_at=now,
    )
    session.add(meeting)
    session.flush()
    session.add_all(
        LiaisonAsk(
            meeting_id=meeting.id,
            department=department,
            met_on=met_on,
            theme=ask.theme,
            text=ask.text,
        )
        for ask in asks
    )
    session.add_all(
        LiaisonFollowUp(
            meeting_id=meeting.id,
            department=department,
            text=item.text,
            owner=item.owner,
            platform=platform,
            due_on=item.due,
        )
        for item in follow_ups
    )
    session.flush()
    return meeting


def asks_of(session: Session, meeting_id: int) -> list[LiaisonAsk]:
    return list(
        session.scalars(
            select(LiaisonAsk).where(LiaisonAsk.meeting_id == meeting_id).order_by(LiaisonAsk.id)
        )
    )


def open_follow_ups(session: Session, department: str) -> list[LiaisonFollowUp]:
    return list(
        session.scalars(
            select(LiaisonFollowUp)
            .where(LiaisonFollowUp.department == department, LiaisonFollowUp.done_at.is_(None))
            .order_by(LiaisonFollowUp.due_on, LiaisonFollowUp.id)
        )
    )


def _all_words(words: list[str], *columns: Any) -> ColumnElement[bool]:
    """Every word in at least one of the columns, case-insensitive (LIKE, wildcards escaped)."""
    return and_(
        *(
            or_(*(func.lower(column).contains(word, autoescape=True) for column in columns))
            for word in words
        )
    )


def search_notes(session: Session, words: str, limit: int = 20) -> list[NoteHit]:
    """Past meetings' notes and asks holding every word of `words` (any case), newest first."""
    terms = [w.lower() for w in words.split()][:MAX_WORDS]
    if not terms:
        return []
    meetings = session.execute(
        select(LiaisonMeeting.department, LiaisonMeeting.met_on, LiaisonMeeting.discussed)
        .where(
            _all_words(
                terms,
                LiaisonMeeting.discussed,
                LiaisonMeeting.attendees,
                LiaisonMeeting.department,
            )
        )
        .order_by(LiaisonMeeting.met_on.desc(), LiaisonMeeting.id.desc())
        .limit(limit)
    )
    asks = session.execute(
        select(LiaisonAsk.department, LiaisonAsk.met_on, LiaisonAsk.text, LiaisonAsk.theme)
        .where(_all_words(terms, LiaisonAsk.text, LiaisonAsk.theme, LiaisonAsk.department))
        .order_by(LiaisonAsk.met_on.desc(), LiaisonAsk.id.desc())
        .limit(limit)
    )
    hits = [NoteHit("meeting", d, on, text) for d, on, text in meetings]
    hits += [NoteHit("ask", d, on, text, theme) for d, on, text, theme in asks]
    hits.sort(key=lambda hit: hit.met_on, reverse=True)
    return hits[:limit]


def asks_by_theme_and_quarter(
    session: Session, *, department: str | None = None
) -> list[dict[str, object]]:
    """Every recorded ask for planning: theme, quarter (`2026-Q1`), department, date, text."""
    query = select(LiaisonAsk).order_by(LiaisonAsk.theme, LiaisonAsk.met_on, LiaisonAsk.id)
    if department:
        query = query.where(LiaisonAsk.department == department)
    return [
        {
            "theme": ask.theme,
            "quarter": f"{ask.met_on.year}-Q{(ask.met_on.month - 1) // 3 + 1}",
            "department": ask.department,
            "date": ask.met_on.isoformat(),
            "ask": ask.text,
        }
        for ask in session.scalars(query)
    ]


def timeline(session: Session, department: str, limit: int = 50) -> list[LiaisonMeeting]:
    return list(
        session.scalars(
            select(LiaisonMeeting)
            .where(LiaisonMeeting.department == department)
            .order_by(LiaisonMeeting.met_on.desc(), LiaisonMeeting.id.desc())
            .limit(limit)
        )
    )
