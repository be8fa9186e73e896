"""Conversation references (`teams_conversations`): what Teams gave the bot about a person, a
channel or a team, kept for proactive messages, and the journal of posts (`teams_sends`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from chatbot.db.models import Account, TeamsConversation, TeamsSend
from chatbot.db.upsert import insert_ignore
from chatbot.platforms.teams.translate import PLATFORM, Reference


def record(session: Session, references: Iterable[Reference], now: datetime) -> None:
    """Keep each reference, newest wins (a service URL can move with the tenant's region); a
    reference without the person's Bot Framework id or name keeps the stored one. One prebuilt
    upsert (a click's first reference is stored in the click's own transaction)."""
    rows = [
        {
            "kind": ref.kind,
            "ref": ref.ref,
            "conversation_id": ref.conversation_id,
            "service_url": ref.service_url,
            "tenant_id": ref.tenant_id,
            "user_id": ref.user_id or None,
            "name": ref.name[:200] if ref.name else None,
            "installed": ref.installed,
            "updated_at": now,
        }
        for ref in references
    ]
    if rows:
        connection = session.connection()  # Core: no ORM overhead on the click's path
        statement = _upsert(connection.dialect.name)
        for row in rows:  # one by one: one activity may name a reference twice
            connection.execute(statement, row)


@cache
def _upsert(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = TeamsConversation.__table__
    statement = insert(table)
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[table.c.kind, table.c.ref],
        set_={
            "conversation_id": new.conversation_id,
            "service_url": new.service_url,
            "tenant_id": new.tenant_id,
            "installed": new.installed,
            "updated_at": new.updated_at,
            "user_id": func.coalesce(new.user_id, table.c.user_id),
            "name": func.coalesce(new.name, table.c.name),
        },
    )


def signatures(
    session: Session, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, str, str | None, bool]]:
    """For each stored (kind, ref) of `keys`: its conversation, service URL, Bot Framework id
    and whether the app is installed there. One prebuilt Core statement (a click's first
    reference is checked in the click's transaction; references are only written in Core)."""
    refs = sorted({ref for _, ref in keys})
    kinds = sorted({kind for kind, _ in keys})
    # The kinds as well: the unique (kind, ref) index then finds them (by ref alone, every
    # click read the whole table of thousands of people).
    rows = session.connection().execute(_SIGNATURES, {"kinds": kinds, "refs": refs})
    wanted = set(keys)
    return {(k, r): (c, u, b, i) for k, r, c, u, b, i in rows if (k, r) in wanted}


def find(session: Session, kind: str, ref: str) -> TeamsConversation | None:
    return session.scalar(
        select(TeamsConversation).where(
            TeamsConversation.kind == kind, TeamsConversation.ref == ref
        )
    )


def service_url_of(session: Session, conversation_id: str) -> str | None:
    """The service URL a stored conversation was last heard from."""
    return session.scalar(
        select(TeamsConversation.service_url)
        .where(TeamsConversation.conversation_id == conversation_id)
        .order_by(TeamsConversation.updated_at.desc())
        .limit(1)
    )


def teams(session: Session) -> list[TeamsConversation]:
    """The installed teams: whose rosters are the Teams directory."""
    return list(
        session.scalars(
            select(TeamsConversation)
            .where(TeamsConversation.kind == "team", TeamsConversation.installed.is_(True))
            .order_by(TeamsConversation.id)
        )
    )


def any_service_url(session: Session | Connection) -> str | None:
    """A service URL the tenant's activities carried (a team's first): it reaches every person of
    the tenant, even where their own 1:1 conversation is not stored yet. A team's is read
    through the (kind, ref) index; only without any team are the others sorted."""
    found = session.execute(_TEAM_URL).scalar()
    return found if found is not None else session.execute(_ANY_URL).scalar()


def person_reference(connection: Connection, ref: str) -> Row[str, str, str | None, bool] | None:
    """A person's stored reference (conversation, service URL, Bot Framework id, installed),
    read in Core: the sender asks for each new person of a broadcast."""
    return connection.execute(_PERSON, {"ref": ref}).first()


_CONVERSATIONS = TeamsConversation.__table__.c
_SIGNATURES = select(
    _CONVERSATIONS.kind,
    _CONVERSATIONS.ref,
    _CONVERSATIONS.conversation_id,
    _CONVERSATIONS.service_url,
    _CONVERSATIONS.user_id,
    _CONVERSATIONS.installed,
).where(
    _CONVERSATIONS.kind.in_(bindparam("kinds", expanding=True)),
    _CONVERSATIONS.ref.in_(bindparam("refs", expanding=True)),
)
_TEAM_URL = (
    select(_CONVERSATIONS.service_url)
    .where(_CONVERSATIONS.kind == "team")
    .order_by(_CONVERSATIONS.updated_at.desc())
    .limit(1)
)
_ANY_URL = select(_CONVERSATIONS.service_url).order_by(_CONVERSATIONS.updated_at.desc()).limit(1)
_PERSON = select(
    _CONVERSATIONS.conversation_id,
    _CONVERSATIONS.service_url,
    _CONVERSATIONS.user_id,
    _CONVERSATIONS.installed,
).where(_CONVERSATIONS.kind == "person", _CONVERSATIONS.ref == bindparam("ref"))


def names(session: Session, account_ids: Iterable[str]) -> dict[str, str]:
    """Display names of Teams accounts (for mentions the bot makes), from the directory and the
    references."""
    wanted = sorted(set(account_ids))
    if not wanted:
        return {}
    found = {
        ref: name
        for ref, name in session.execute(
            select(TeamsConversation.ref, TeamsConversation.name).where(
                TeamsConversation.kind == "person", TeamsConversation.ref.in_(wanted)
            )
        )
        if name
    }
    for account_id, name in session.execute(
        select(Account.account_id, Account.name).where(
            Account.platform == PLATFORM, Account.account_id.in_(wanted)
        )
    ):
        if name:
            found[account_id] = name
    return found


def by_bot_framework_id(session: Session, user_ids: Iterable[str]) -> dict[str, str]:
    """Entra object ids of people known by their Bot Framework ids (`29:…`)."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    return {
        user_id: ref
        for user_id, ref in session.execute(
            select(TeamsConversation.user_id, TeamsConversation.ref).where(
                TeamsConversation.kind == "person", TeamsConversation.user_id.in_(wanted)
            )
        )
        if user_id
    }


def journal(session: Session, *, key: str, conversation: str, activity: str, now: datetime) -> None:
    insert_ignore(
        session, TeamsSend, key=key, conversation_id=conversation, activity_id=activity, at=now
    )


def forget_sends(session: Session, *, before: datetime) -> None:
    """Drop journal rows no retry can need any more."""
    session.execute(delete(TeamsSend).where(TeamsSend.at < before))


def journaled(session: Session, key: str) -> TeamsSend | None:
    return session.get(TeamsSend, key)
