"""The console's demo workspace: a directory of people in a few departments, an alert channel
and the IT channel, so that every capability (an alert to everyone, a pulse check, a department's
results) can be tried with no Slack or Teams workspace.

It is used only when nothing about a real workspace is configured (no platform credentials, no
channels, admins, staff or departments), its people are accounts on the console platform alone,
and a database that held it is marked: a process configured for Slack or Teams refuses to start
on it (`refuse_deployment`), so demo people never join a real audience and demo history never
shows on a real dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chatbot import directory
from chatbot.config import Department, Settings
from chatbot.db.models import Account, ClockState
from chatbot.directory import Member

PLATFORM = "console"
ALERT_CHANNEL = "#alerts"
IT_CHANNEL = "#it"
TRIAGE_CHANNEL = "#triage"
MARKER = "demo-workspace"
# With the default database, the demo keeps to a file of its own: a deployment configured later
# on the default `techhelp.db` starts from nothing.
DEFAULT_DATABASE = "sqlite:///techhelp.db"
DEMO_DATABASE = "sqlite:///techhelp-demo.db"


@dataclass(frozen=True)
class DemoPerson:
    id: str
    name: str
    department: str | None


PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson("USAM", "Sam Reyes (service desk)", None),
    DemoPerson("UANA", "Ana Lima", "Finance"),
    DemoPerson("UBEN", "Ben Osei", "Finance"),
    DemoPerson("UCHLOE", "Chloé Martin", "Finance"),
    DemoPerson("UDEV", "Dev Patel", "Finance"),
    DemoPerson("UEMMA", "Emma Novak", "Finance"),
    DemoPerson("UFINN", "Finn Walsh", "Parks"),
    DemoPerson("UGRACE", "Grace Kim", "Parks"),
    DemoPerson("UHUGO", "Hugo Silva", "Parks"),
    DemoPerson("UIRIS", "Iris Dubois", "Parks"),
    DemoPerson("UJAMAL", "Jamal Reed", "Parks"),
    DemoPerson("UKIM", "Kim Larsen", "Library"),
    DemoPerson("ULEO", "Leo Rossi", "Library"),
    DemoPerson("UMAYA", "Maya Cohen", "Library"),
    DemoPerson("UNOOR", "Noor Haddad", "Library"),
    DemoPerson("UOMAR", "Omar Farouk", "Library"),
)
DEPARTMENTS = ("Finance", "Parks", "Library")
STAFF = ("USAM",)


def wanted(settings: Settings) -> bool:
    """Whether the console should use the demo workspace: nothing about a real one is set."""
    routing = settings.routing
    return not (
        settings.slack_configured
        or settings.teams_configured
        or settings.techhelp_alert_channels
        or settings.techhelp_it_channel
        or settings.techhelp_admins
        or routing.staff
        or routing.departments
    )


def workspace(settings: Settings, *, me: str) -> Settings:
    """`settings` with the demo workspace: its channels, its departments, `me` as the admin and
    on the service desk with Sam, and (with the default database) a database of its own."""
    departments = [
        Department(name=name, members=[p.id for p in PEOPLE if p.department == name])
        for name in DEPARTMENTS
    ]
    routing = settings.routing.model_copy(
        update={"departments": departments, "staff": [me, *STAFF]}
    )
    database = settings.database_url
    if database == DEFAULT_DATABASE:
        database = DEMO_DATABASE
    return settings.model_copy(
        update={
            "techhelp_platform": PLATFORM,
            "techhelp_triage_channel": settings.techhelp_triage_channel or TRIAGE_CHANNEL,
            "techhelp_alert_channels": [ALERT_CHANNEL],
            "techhelp_it_channel": IT_CHANNEL,
            "techhelp_admins": [me],
            "routing": routing,
            "database_url": database,
        }
    )


def other_platforms(session: Session) -> int:
    """Accounts of other platforms in this database (a real directory: no demo here)."""
    return session.scalar(select(func.count()).where(Account.platform != PLATFORM)) or 0


def seed(session: Session, settings: Settings, *, me: str, now: datetime) -> int:
    """Put the demo people (and `me`) in the console's directory and mark the database as the
    demo's; returns how many people can be messaged. Idempotent."""
    members = [Member(me, "You", True)] + [Member(p.id, p.name, True) for p in PEOPLE if p.id != me]
    reachable, _ = directory.sync(
        session=session, platform=PLATFORM, members=members, routing=settings.routing, now=now
    )
    if session.get(ClockState, MARKER) is None:
        session.add(ClockState(name=MARKER, value=now, holder=None))
    return reachable


def is_demo(session: Session) -> bool:
    return session.get(ClockState, MARKER) is not None


def refusal(settings: Settings) -> str:
    """Why a Slack or Teams process may not use this database (the demo's)."""
    return (
        f"{settings.database_url.split('://')[0]} database at DATABASE_URL holds the console's "
        "demo workspace (demo people and history): a Slack or Teams deployment needs a database "
        "of its own. Point DATABASE_URL at another database (or delete the demo's file)."
    )
