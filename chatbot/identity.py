"""Who acts: an account on a platform, with the e-mail address its platform's directory gives.

The configuration names people by their id on a platform (TECHHELP_ADMINS, TEAMS_ADMINS, the
YAML's staff, queue and department members, a department's manager) or by e-mail address, which
admins know where they do not know ids. An e-mail names a person on every platform whose
directory gives one of their accounts that address (Slack's `users.list` profile e-mail, Teams'
roster `email`/`userPrincipalName`, synced by `chatbot clock` into `accounts.email`). So a check
of who may do what takes an `Identity`, resolved once per unit of work from the directory
(`Context.identity`), and `Settings.is_admin` / `is_staff` / `is_service_desk` and an alert's
audience accept either name.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from chatbot.addresses import Address
from chatbot.config import Department, Settings, is_email
from chatbot.db.models import Account


@dataclass(frozen=True)
class Identity:
    """An account that acts: its platform, its id there, and its directory e-mail (if any)."""

    platform: str
    account_id: str
    email: str | None = None

    def is_admin(self, settings: Settings) -> bool:
        return settings.is_admin(self.platform, self.account_id, email=self.email)

    def is_staff(self, settings: Settings) -> bool:
        return settings.is_staff(self.platform, self.account_id, email=self.email)

    def is_service_desk(self, settings: Settings, queue: str | None = None) -> bool:
        return settings.is_service_desk(self.platform, self.account_id, queue, email=self.email)

    def department(self, settings: Settings) -> Department | None:
        return settings.routing.department_of(self.account_id, email=self.email)


def email_of(*, session: Session, platform: str, account_id: str) -> str | None:
    """The e-mail the platform's directory gives the account (lower case), if any."""
    return session.scalar(
        select(Account.email).where(Account.platform == platform, Account.account_id == account_id)
    )


def identify(*, session: Session, settings: Settings, platform: str, account_id: str) -> Identity:
    """The account as the configuration can name it. The directory is read only when the
    configuration names anyone by e-mail: otherwise ids alone decide, as they always did."""
    email = (
        email_of(session=session, platform=platform, account_id=account_id)
        if settings.names_emails
        else None
    )
    return Identity(platform, account_id, email)


def account_on(*, session: Session, entry: str, platform: str) -> str | None:
    """The account id a configured person (`entry`: an id, or an e-mail) has, to mention them:
    an id as it is; an e-mail, their account on `platform`, else on another platform, else None
    (nobody the directory knows by it yet)."""
    if not is_email(entry):
        return entry
    found = accounts_with_email(session=session, email=entry)
    mine = next((a for a in found if a.platform == platform), None)
    chosen = mine or next(iter(found), None)
    return chosen.id if chosen else None


def accounts_with_email(*, session: Session, email: str) -> list[Address]:
    """The accounts, on every platform, whose directory gives them `email`."""
    rows = session.execute(
        select(Account.platform, Account.account_id)
        .where(Account.email == email.lower())
        .order_by(Account.platform, Account.account_id)
    )
    return [Address.person(platform, account_id) for platform, account_id in rows]
