"""The directory: people, each with an account per platform, and who can be messaged.

A person is one identity (`people`: name, department) with an `Account` on each platform they
use (`accounts`: the platform's id for them, and whether it can be messaged now). Each
platform's member list (Slack: `users.list`, paginated) is synced by `chatbot clock`, so a
broadcast to everyone is a query, never a per-person API call in the ack path. Departments come
from the configuration's member lists. An audience ("everyone", a department) resolves to the
addresses of people across every platform, one per person.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from chatbot.addresses import Address
from chatbot.config import Routing
from chatbot.db.models import Account, Person


@dataclass(frozen=True)
class Member:
    user_id: str
    name: str | None
    reachable: bool  # a real, current, full member (not a bot, deleted or guest account)
    # When the platform gives it: the same address on two platforms is the same person.
    email: str | None = None


def add_account(
    session: Session,
    *,
    platform: str,
    account_id: str,
    now: datetime,
    name: str | None = None,
    department: str | None = None,
    email: str | None = None,
    active: bool = True,
) -> Account:
    """A new account and, unless its e-mail names someone already known, a new person."""
    email = email.lower() if email else None
    person = session.scalar(select(Person).where(Person.email == email)) if email else None
    if person is None:
        person = Person(name=name, email=email, department=department, first_seen=now)
        session.add(person)
    account = Account(
        person=person,
        platform=platform,
        account_id=account_id,
        name=name,
        email=email,
        first_seen=now,
        active=active,
        synced_at=now if active else None,
    )
    session.add(account)
    return account


def sync(
    *, session: Session, platform: str, members: Iterable[Member], routing: Routing, now: datetime
) -> tuple[int, int]:
    """Bring the platform's accounts in line with its directory; returns (reachable, skipped)."""
    known = {
        a.account_id: a
        for a in session.scalars(
            select(Account)
            .where(Account.platform == platform)
            .options(selectinload(Account.person).selectinload(Person.accounts))
        )
    }
    reachable = skipped = 0
    seen: set[str] = set()
    for member in members:
        seen.add(member.user_id)
        account = known.get(member.user_id)
        if account is None:
            account = add_account(
                session, platform=platform, account_id=member.user_id, now=now, email=member.email
            )
        account.name = member.name
        account.active = member.reachable
        account.synced_at = now
        _take_email(session, account, member.email)
        person = account.person
        person.name = member.name
        # The configuration lists departments' members by their ids on one platform, or by
        # e-mail: the person's department is the one any of their accounts is listed in.
        listed = (routing.department_of(a.account_id, a.email) for a in person.accounts)
        department = next((d for d in listed if d), None)
        person.department = department.name if department else None
        reachable += member.reachable
        skipped += not member.reachable
    gone = [user for user in known if user not in seen]
    if gone:
        session.execute(
            update(Account)
            .where(Account.platform == platform, Account.account_id.in_(gone))
            .values(active=False, synced_at=now)
        )
    return reachable, skipped


def _take_email(session: Session, account: Account, email: str | None) -> None:
    """The account's e-mail as its platform's directory gives it now (an account synced before
    the platform gave e-mails gets one). A person without an address takes it; an address that
    names someone else already (their account on another platform) moves the account to them,
    so a person is reached once."""
    email = email.lower() if email else None
    account.email = email
    person = account.person
    if not email or person.email == email:
        return
    owner = session.scalar(select(Person).where(Person.email == email))
    if owner is None:
        if person.email is None:
            person.email = email
    elif owner is not person and person.email is None:
        account.person = owner
        session.flush()


def audience(
    *, session: Session, departments: list[str] | None = None
) -> list[tuple[Address, str | None]]:
    """Whom to message, with their department: everyone reachable, or those of the given
    departments, on whichever platform they can be reached (one address per person: their
    first account, by platform and id)."""
    query = (
        select(Account.person_id, Account.platform, Account.account_id, Person.department)
        .join(Person, Person.id == Account.person_id)
        .where(Account.active.is_(True))
    )
    if departments is not None:
        query = query.where(Person.department.in_(departments))
    found: dict[int, tuple[Address, str | None]] = {}
    for person_id, platform, account_id, department in session.execute(
        query.order_by(Account.platform, Account.account_id, Account.id)
    ):
        found.setdefault(person_id, (Address.person(platform, account_id), department))
    return list(found.values())


def reachable(*, session: Session, departments: list[str] | None = None) -> list[Address]:
    """Whom to message: everyone reachable, or those of the given departments, on whichever
    platform they can be reached (one address per person: their first account)."""
    return [address for address, _ in audience(session=session, departments=departments)]


def people_of(*, session: Session, addresses: Iterable[Address]) -> dict[Address, int]:
    """The person behind each address the directory knows (an account on its platform)."""
    wanted = {a for a in addresses if a.is_person}
    by_platform: dict[str, list[str]] = {}
    for address in wanted:
        by_platform.setdefault(address.platform, []).append(address.id)
    found: dict[Address, int] = {}
    for platform, ids in by_platform.items():
        for account_id, person_id in session.execute(
            select(Account.account_id, Account.person_id).where(
                Account.platform == platform, Account.account_id.in_(ids)
            )
        ):
            found[Address.person(platform, account_id)] = person_id
    return found


def once_each(*, session: Session, addresses: Iterable[Address]) -> list[Address]:
    """`addresses` with a person reached once: a second account of someone already listed
    (their account on another platform) is left out; unknown addresses are kept."""
    listed = list(dict.fromkeys(addresses))
    people = people_of(session=session, addresses=listed)
    seen: set[int] = set()
    kept: list[Address] = []
    for address in listed:
        person = people.get(address)
        if person is not None:
            if person in seen:
                continue
            seen.add(person)
        kept.append(address)
    return kept


def accounts(
    *, session: Session, platform: str, departments: list[str] | None = None
) -> list[tuple[str, str | None]]:
    """(account id, department) of the reachable accounts on one platform."""
    query = (
        select(Account.account_id, Person.department)
        .join(Person, Person.id == Account.person_id)
        .where(Account.platform == platform, Account.active.is_(True))
    )
    if departments is not None:
        query = query.where(Person.department.in_(departments))
    return [(a, d) for a, d in session.execute(query.order_by(Account.account_id))]
