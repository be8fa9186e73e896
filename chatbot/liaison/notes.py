"""Recording a check-in, its asks and follow-ups, and finding past notes again.

The notes are IT's: callers check that the person is staff or an admin before showing or
searching anything here (`commands/liaison.py`, the dashboard behind its token).

`search_notes` is the one search entry point. Each meeting's notes and each ask are documents of
the bot's full-text index (`chatbot.search`, the knowledge base's: SQLite FTS5 or PostgreSQL
full-text search), put there as they are recorded; the index finds the candidates, and a note is
shown when it holds every word asked for (any case), newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from chatbot import search
from chatbot.db.models import LiaisonAsk, LiaisonFollowUp, LiaisonMeeting

MAX_WORDS = 10
# The index's kinds of document, and how many candidates one search reads from it.
MEETING_DOCUMENT = "liaison-meeting"
ASK_DOCUMENT = "liaison-ask"
CANDIDATES = 500


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
    _index(session, meeting, now)
    return meeting


def _index(session: Session, meeting: LiaisonMeeting, now: datetime) -> None:
    """Put the meeting's notes and each of its asks in the full-text index, in the caller's
    transaction (a note is findable exactly when it is stored)."""
    search.put(
        session,
        document=search.Document(
            kind=MEETING_DOCUMENT,
            key=str(meeting.id),
            title=meeting.department,
            body=f"{meeting.discussed}\n{meeting.attendees}",
        ),
        now=now,
    )
    for ask in asks_of(session, meeting.id):
        search.put(
            session,
            document=search.Document(
                kind=ASK_DOCUMENT,
                key=str(ask.id),
                title=ask.department,
                body=ask.text,
                keywords=(ask.theme,),
            ),
            now=now,
        )


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


def _holds_every(words: list[str], *texts: str) -> bool:
    """Every word in at least one of the texts, case-insensitive."""
    joined = "\n".join(texts).lower()
    return all(word in joined for word in words)


def search_notes(session: Session, words: str, limit: int = 20) -> list[NoteHit]:
    """Past meetings' notes and asks holding every word of `words` (any case), newest first."""
    terms = [w.lower() for w in words.split()][:MAX_WORDS]
    if not terms or not search.words(" ".join(terms)):
        return []

    def candidates(kind: str) -> list[int]:
        found = search.search(session, kind=kind, terms=terms, limit=CANDIDATES)
        return [int(hit.key) for hit in found]

    meetings = session.scalars(
        select(LiaisonMeeting).where(LiaisonMeeting.id.in_(candidates(MEETING_DOCUMENT)))
    )
    asks = session.scalars(select(LiaisonAsk).where(LiaisonAsk.id.in_(candidates(ASK_DOCUMENT))))
    hits = [
        (m.id, NoteHit("meeting", m.department, m.met_on, m.discussed))
        for m in meetings
        if _holds_every(terms, m.discussed, m.attendees, m.department)
    ]
    hits += [
        (a.id, NoteHit("ask", a.department, a.met_on, a.text, a.theme))
        for a in asks
        if _holds_every(terms, a.text, a.theme, a.department)
    ]
    hits.sort(key=lambda hit: (hit[1].met_on, hit[0]), reverse=True)
    return [hit for _, hit in hits[:limit]]


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
