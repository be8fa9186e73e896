"""The contact budget: how many surveys a person may be sent in a week; the rest are held back."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chatbot.addresses import Address
from chatbot.config import Routing
from chatbot.db.models import Delivery

CONTACT_WINDOW = timedelta(days=7)


def contacts_this_week(*, session: Session, now: datetime) -> Counter[str]:
    """Unsolicited direct messages (survey runs and reminders) per person in the last 7 days."""
    rows = session.execute(
        select(Delivery.address_id, func.count())
        .where(
            Delivery.key.startswith("survey-run:"),
            Delivery.created_at > now - CONTACT_WINDOW,
            Delivery.status != "cancelled",
        )
        .group_by(Delivery.address_id)
    )
    return Counter({channel: count for channel, count in rows})


def within_budget(
    *, session: Session, routing: Routing, people: list[tuple[Address, str]], now: datetime
) -> tuple[list[tuple[Address, str]], int]:
    """Those who may still be contacted this week, and how many were held back."""
    budget = routing.pulse.weekly_contact_budget
    contacted = contacts_this_week(session=session, now=now)
    allowed = [(to, dept) for to, dept in people if contacted[to.id] < budget]
    return allowed, len(people) - len(allowed)
