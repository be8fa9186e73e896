"""Conversation references (`teams_conversations`): what Teams gave the bot about a person, a
channel or a team, kept for proactive messages, and the journal of posts (`teams_sends`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from chatbot.db.models import Account, TeamsConversation, TeamsSend
from chatbot.db.upsert import insert_ignore
from chatbot.platforms.teams.translate import PLATFORM, Reference


def record(session: Session, references: Iterable[Reference], now: datetime) -> None:
    """Keep each reference, newest wins (a service URL can move with the tenant's region)."""
    for ref in references:
        values = {
            "conversation_id": ref.conversation_id,
            "service_url": ref.service_url,
            "tenant_id": ref.tenant_id,
            "installed": ref.installed,
            "updated_at": now,
        }
        if ref.user_id:
            values["user_id"] = ref.user_id
        if ref.name:
            values["name"] = ref.name[:200]
        inserted = insert_ignore(session, TeamsConversation, kind=ref.kind, ref=ref.ref, **values)
        if inserted is None:
            session.execute(
                update(TeamsConversation)
                .where(TeamsConversation.kind == ref.kind, TeamsConversation.ref == ref.ref)
                .values(**values)
                .execution_options(synchronize_session=False)
            )


def signatures(
    session: Session, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, str, str | None, bool]]:
    """For each stored (kind, ref) of `keys`: its conversation, service URL, Bot Framework id
    and whether the app is installed there."""
    refs = {ref for _, ref in keys}
    kinds = {kind for kind, _ in keys}
    rows = session.execute(
        select(
            TeamsConversation.kind,
            TeamsConversation.ref,
            TeamsConversation.conversation_id,
            TeamsConversation.service_url,
            TeamsConversation.user_id,
            TeamsConversation.installed,
        )
        # The kinds as well: the unique (kind, ref) index then finds them (by ref alone, every
        # click read the whole table of thousands of people).
        .where(TeamsConversation.kind.in_(kinds), TeamsConversation.ref.in_(refs))
    )
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


def any_service_url(session: Session) -> str | None:
    """A service URL the tenant's activities carried (a team's first): it reaches every person of
    the tenant, even where their own 1:1 conversation is not stored yet."""
    return session.scalar(
        select(TeamsConversation.service_url)
        .order_by((TeamsConversation.kind != "team"), TeamsConversation.updated_at.desc())
        .limit(1)
    )


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
