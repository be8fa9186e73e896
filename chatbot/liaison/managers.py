"""What a department's manager (`manager` in the YAML) sees of their department on App Home and
the Teams home card: its open requests and the incidents (active alerts) that reach it. No
notes: those are IT's."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chatbot.config import Department, Settings, is_email, listed
from chatbot.db.models import Alert, Request
from chatbot.identity import Identity

UNRESOLVED = ("open", "claimed")


def names(settings: Settings, person: Identity, entry: str) -> bool:
    """Whether a configured entry (an id on `techhelp_platform`, or an e-mail) is `person`."""
    if is_email(entry):
        return listed([entry], person.account_id, person.email)
    return person.platform == settings.techhelp_platform and entry == person.account_id


def managed(settings: Settings, person: Identity) -> list[Department]:
    return [
        d for d in settings.routing.departments if d.manager and names(settings, person, d.manager)
    ]


@dataclass(frozen=True)
class DepartmentView:
    department: str
    open_count: int
    requests: list[Request]
    incidents: list[Alert]


def view(session: Session, department: str, *, limit: int) -> DepartmentView:
    """The department's open requests (oldest first, at most `limit`) and the active alerts
    sent to it, to everyone or to the alert channels."""
    # By the state index, as the briefing reads them (`chatbot.liaison.briefing`).
    open_ = (Request.state.in_(UNRESOLVED), func.coalesce(Request.department, "") == department)
    total = session.scalar(select(func.count()).select_from(Request).where(*open_)) or 0
    requests = session.scalars(
        select(Request).where(*open_).order_by(Request.created_at, Request.id).limit(limit)
    ).all()
    incidents = []
    for alert in session.scalars(
        select(Alert).where(Alert.state == "active").order_by(Alert.created_at.desc())
    ):
        audience = alert.audience or {}
        public = not audience or audience.get("channels") or audience.get("everyone")
        if public or department in (audience.get("departments") or []):
            incidents.append(alert)
    return DepartmentView(department, int(total), list(requests), incidents[:limit])
