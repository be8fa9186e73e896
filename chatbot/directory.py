"""The workspace directory, cached in `people`: who can be messaged, and their department.

Synced from the platform's member list (Slack: `users.list`, paginated) by `chatbot clock`, so a
broadcast to everyone is a query, never a per-person API call in the ack path. Departments come
from the configuration's member lists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from chatbot.config import Routing
from chatbot.db.models import Person


@dataclass(frozen=True)
class Member:
    user_id: str
    name: str | None
    reachable: bool  # a real, current, full member (not a bot, deleted or guest account)


def sync(
    *, session: Session, platform: str, members: Iterable[Member], routing: Routing, now: datetime
) -> tuple[int, int]:
    """Bring `people` in line with the directory; returns (reachable, skipped)."""
    known = {
        p.user_id: p for p in session.scalars(select(Person).where(Person.platform == platform))
    }
    reachable = skipped = 0
    seen: set[str] = set()
    for member in members:
        seen.add(member.user_id)
        department = routing.department_of(member.user_id)
        person = known.get(member.user_id)
        if person is None:
            person = Person(platform=platform, user_id=member.user_id, first_seen=now)
            session.add(person)
        person.name = member.name
        person.department = department.name if department else None
        person.active = member.reachable
        person.synced_at = now
        reachable += member.reachable
        skipped += not member.reachable
    gone = [user for user in known if user not in seen]
    if gone:
        session.execute(
            update(Person)
            .where(Person.platform == platform, Person.user_id.in_(gone))
            .values(active=False, synced_at=now)
        )
    return reachable, skipped


def reachable(
    *, session: Session, platform: str, departments: list[str] | None = None
) -> list[str]:
    """User ids to message: everyone reachable, or those of the given departments."""
    query = select(Person.user_id).where(Person.platform == platform, Person.active.is_(True))
    if departments is not None:
        query = query.where(Person.department.in_(departments))
    return list(session.scalars(query.order_by(Person.user_id)))
