"""IT alerts: creation, the copies posted, resolution. Keyword-only, the caller's transaction."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from chatbot.addresses import LOCAL, Address
from chatbot.config import Routing, listed
from chatbot.db import rowcount
from chatbot.db.models import AffectedVote, Alert, AlertCopy, Delivery
from chatbot.db.upsert import insert_ignore
from chatbot.messages import Refusal
from chatbot.text import literal

SEVERITIES = ("outage", "degraded", "maintenance", "info")
MAX_MESSAGE = 3000


def copy_key(alert: Alert, to: Address) -> str:
    """The delivery key of the copy for `to`. A Slack copy keeps the key it always had
    (`alert:7:copy:C123`), so a copy stored before an upgrade is never posted twice."""
    where = to.id if to.platform == "slack" else f"{to.platform}:{to.kind}:{to.id}"
    return f"alert:{alert.id}:copy:{where}"


def batch(alert: Alert) -> str:
    """The outbox batch of the alert's copies: its delivery count and report are a query."""
    return f"alert:{alert.id}"


def create_alert(
    *,
    session: Session,
    platform: str,
    author: str,
    severity: str,
    message: str,
    now: datetime,
    service: str | None = None,
    audience: dict[str, Any] | None = None,
    post_at: datetime | None = None,
    starts_at: datetime | None = None,
) -> Alert:
    """A new alert: active at once, or `scheduled` until the clock posts it at `post_at`."""
    if severity not in SEVERITIES:
        raise Refusal(
            f"'{severity}' is not a severity: use one of {', '.join(SEVERITIES)}.", field="severity"
        )
    if not message.strip():
        raise Refusal("The alert needs a message.", field="message")
    if len(message) > MAX_MESSAGE:
        raise Refusal(
            f"That message is {len(message):,} characters; an alert can hold {MAX_MESSAGE:,}. "
            "Nothing was sent.",
            field="message",
        )
    if starts_at is not None:
        if severity != "maintenance":
            raise Refusal("A window start time is for maintenance notices.", field="starts_at")
        if starts_at <= now:
            raise Refusal("That start time has already passed.", field="starts_at")
    if post_at is not None and post_at <= now:
        post_at = None  # a time already past means now
    if post_at and starts_at and post_at > starts_at:
        raise Refusal(
            "The notice would go out after the window starts: post it earlier.", field="post_at"
        )
    alert = Alert(
        severity=severity,
        service=service,
        message=message.strip(),
        author=author,
        platform=platform,
        state="scheduled" if post_at else "active",
        audience=audience or {},
        created_at=now,
        post_at=post_at,
        starts_at=starts_at,
    )
    session.add(alert)
    session.flush()
    return alert


def get(*, session: Session, ref: str) -> Alert:
    """`AL-12` (or `12`) → the alert, or a refusal naming what was not found."""
    number = ref.upper().removeprefix("AL-")
    alert = session.get(Alert, int(number)) if number.isdigit() else None
    if alert is None:
        raise Refusal(f"There is no alert {literal(ref)}. `/techalert list` shows the active ones.")
    return alert


def public(alert: Alert) -> bool:
    """Whether everyone may see the alert: one to the alert channels or to everyone (or with no
    audience stored: an alert from before audiences, to the channels)."""
    audience = alert.audience or {}
    return not audience or bool(audience.get("channels") or audience.get("everyone"))


def in_audience(alert: Alert, *, user: str, routing: Routing, email: str | None = None) -> bool:
    """Whether `user` is in the alert's audience, so may see it (App Home, the known-issue
    answer) and report being affected. An alert to the alert channels or to everyone is public;
    one to departments only reaches their members (the configuration's member lists), so
    someone of another department, or of none, does not see it. A member listed by e-mail is
    recognised by `email`, their account's directory e-mail."""
    if public(alert):
        return True
    departments = set((alert.audience or {}).get("departments") or ())
    return any(listed(d.members, user, email) for d in routing.departments if d.name in departments)


def active(*, session: Session) -> list[Alert]:
    # Asked by every /techhelp (the known-issue check): most of the time there is none, and a
    # Core probe answers that for a fraction of an ORM query's cost.
    if session.connection().execute(_ANY_ACTIVE).first() is None:
        return []
    return list(session.scalars(select(Alert).where(Alert.state == "active").order_by(Alert.id)))


_ANY_ACTIVE = select(Alert.__table__.c.id).where(Alert.__table__.c.state == "active").limit(1)


def open_alerts(*, session: Session) -> list[Alert]:
    """Active and scheduled alerts, for `/techalert list`."""
    query = select(Alert).where(Alert.state.in_(("scheduled", "active"))).order_by(Alert.id)
    return list(session.scalars(query))


def start_posting(*, session: Session, alert: Alert) -> bool:
    """Move a scheduled alert to active; False when someone else did (or it was cancelled)."""
    result = session.execute(
        update(Alert)
        .where(Alert.id == alert.id, Alert.state == "scheduled")
        .values(state="active")
        .execution_options(synchronize_session=False)
    )
    session.refresh(alert)
    return bool(rowcount(result))


def record_copies(*, session: Session, alert: Alert) -> None:
    """Record the copies just queued for the alert (its batch's posts not recorded yet), in
    one INSERT … SELECT however many there are."""
    recorded = select(AlertCopy.delivery_id).where(AlertCopy.alert_id == alert.id)
    new = select(
        sa.literal(alert.id),
        Delivery.id,
        Delivery.platform,
        Delivery.address_kind,
        Delivery.address_id,
    ).where(
        Delivery.batch == batch(alert),
        Delivery.action == "post",
        Delivery.id.not_in(recorded),
    )
    session.execute(
        insert(AlertCopy).from_select(
            ["alert_id", "delivery_id", "platform", "kind", "address_id"], new
        )
    )


def copies(*, session: Session, alert: Alert, kind: str | None = None) -> list[AlertCopy]:
    """Every copy of the alert that was (or will be) posted; with `kind` ("channel" or
    "person"), only those, chosen by the database (an alert to everyone has thousands of
    personal copies, which a click must not load)."""
    query = select(AlertCopy).where(AlertCopy.alert_id == alert.id)
    if kind:
        query = query.where(AlertCopy.kind == kind)
    return list(session.scalars(query.order_by(AlertCopy.id)))


def resolve(*, session: Session, alert: Alert, text: str | None, now: datetime) -> Alert:
    """Resolve an active alert, or cancel a scheduled one before it is posted (`cancelled`)."""
    for before, after in (("scheduled", "cancelled"), ("active", "resolved")):
        result = session.execute(
            update(Alert)
            .where(Alert.id == alert.id, Alert.state == before)
            .values(state=after, resolved_at=now, resolution=text or None)
            .execution_options(synchronize_session=False)
        )
        if rowcount(result):
            session.refresh(alert)
            return alert
    raise Refusal(f"{alert.ref} is already {alert.state}.")


def duration(start: datetime, end: datetime) -> str:
    """How long from `start` to `end`, in whole minutes as the dashboard counts them (rounded):
    "less than a minute", "12 min", "1 h 5 min", "2 d 3 h"."""
    minutes = duration_minutes(start, end)
    if minutes == 0:
        return "less than a minute"
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [
        f"{days} d" if days else "",
        f"{hours} h" if hours else "",
        f"{minutes} min" if minutes else "",
    ]
    return " ".join(p for p in parts if p)


def duration_minutes(start: datetime, end: datetime) -> int:
    """Whole minutes from `start` to `end` (rounded; never below 0): the chat's and the
    dashboard's one figure for how long an alert lasted."""
    return max(0, round((end - start) / timedelta(minutes=1)))


def mark_affected(
    *,
    session: Session,
    alert: Alert,
    user: str,
    now: datetime,
    source: str = "alert",
    platform: str | None = None,
) -> bool:
    """Count `user` (an account on `platform`) as affected; False when they already were (one
    vote per person)."""
    if alert.state != "active":
        raise Refusal(f"{alert.ref} is resolved, so there is nothing left to report.")
    vote = insert_ignore(
        session,
        AffectedVote,
        alert_id=alert.id,
        user_id=user,
        source=source,
        at=now,
        platform=platform,
    )
    return vote is not None


def followers(*, session: Session, alert: Alert) -> list[tuple[int, Address]]:
    """Everyone who said they were affected or followed the alert from `/techhelp`, as (vote
    id, their account): who is told personally when it is resolved."""
    votes = session.execute(
        select(AffectedVote.id, AffectedVote.platform, AffectedVote.user_id)
        .where(AffectedVote.alert_id == alert.id)
        .order_by(AffectedVote.id)
    )
    found = []
    for vote_id, platform, user in votes:
        platform = platform or alert.platform
        if platform != LOCAL:
            found.append((vote_id, Address.person(platform, user)))
    return found


def affected_count(*, session: Session, alert: Alert, source: str | None = None) -> int:
    """People counted as affected (from `source` alone, if given). Built once and run in Core
    on the session's connection: every "I'm affected" click reads it (votes are only ever
    written in Core, `mark_affected`, so nothing waits in the session to be flushed)."""
    if source:
        return int(
            session.connection()
            .execute(_COUNT_FROM, {"alert": alert.id, "source": source})
            .scalar_one()
        )
    return int(session.connection().execute(_COUNT, {"alert": alert.id}).scalar_one())


_VOTES = AffectedVote.__table__.c
_COUNT = select(func.count()).where(_VOTES.alert_id == sa.bindparam("alert"))
_COUNT_FROM = _COUNT.where(_VOTES.source == sa.bindparam("source"))


_STOP_WORDS = (  # words too common to tell two problems apart
    "about after again also because been being could does down every from have into "
    "just more most only other over some than that their them then there these they "
    "this very what when where which while will with would your "
    # what nearly every request to IT says, whatever it is about
    "working work works please help issue issues problem problems cannot unable still"
)
_STOP = frozenset(_STOP_WORDS.split())
# Words under four letters are too common to count, except the acronyms that name a system:
# these, and any short word an alert writes in capitals ("SAP is down") that is not one of
# the short words of ordinary sentences below.
_ACRONYM_WORDS = "vpn sso mfa 2fa pc pcs dns erp crm hr lan wan voip sap"
_ACRONYMS = frozenset(_ACRONYM_WORDS.split())
_SHORT_WORD_LIST = (
    "a am an and any are as at be but by can do for get go got has how i if in is it its me "
    "my new no not now of off ok old on one or our out own per so the to too two up us via "
    "was we who why yes you all"
)
_SHORT_WORDS = frozenset(_SHORT_WORD_LIST.split())
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


def _stem(word: str) -> str:
    """A plural or third person as its base word: "logins" as "login", "connects" as "connect"."""
    return word[:-1] if len(word) > 4 and word.endswith("s") and not word.endswith("ss") else word


def _words(text: str) -> set[str]:
    """The words that tell one problem from another: those of four letters or more that are
    not common, and the short acronyms (`_ACRONYMS`, or a short word in capitals)."""
    found = set()
    for word in _WORD.findall(text):
        lower = word.lower()
        if len(lower) >= 4:
            if lower not in _STOP:
                found.add(_stem(lower))
        elif (
            len(lower) >= 2 and (lower in _ACRONYMS or word.isupper()) and lower not in _SHORT_WORDS
        ):
            found.add(lower)
    return found


def _acronyms(words: set[str]) -> set[str]:
    return {w for w in words if len(w) < 4}


def _named_at(term: str, text: str) -> int | None:
    """Where `term` is first named in `text` as a whole word (any case), or None."""
    found = re.search(rf"(?<![\w-]){re.escape(term.lower())}(?![\w-])", text.lower())
    return found.start() if found else None


def infer_service(
    text: str, *, services: list[str], service_keywords: dict[str, list[str]] | None = None
) -> str | None:
    """The configured service an alert's text is about: the one whose name or keyword it names
    first ("Printing is down: e-mail your print jobs to IT" is about Printing), or None."""
    named: list[tuple[int, str]] = []
    for service in services:
        if service.lower() == "other":
            continue
        terms = [service, *(service_keywords or {}).get(service, [])]
        places = [at for at in (_named_at(t, text) for t in terms) if at is not None]
        if places:
            named.append((min(places), service))
    return min(named)[1] if named else None


def matching(
    *,
    session: Session,
    text: str,
    service_keywords: dict[str, list[str]] | None = None,
    user: str | None = None,
    routing: Routing | None = None,
    email: str | None = None,
) -> Alert | None:
    """The active alert a request seems to be about: its service named (or a keyword the
    configuration gives that service), an acronym of the alert's used (VPN, SSO), or two of
    the alert's significant words used. With `user` and `routing`, only among the alerts in
    that person's audience."""
    words = _words(text)
    for alert in reversed(active(session=session)):
        if (
            user is not None
            and routing
            and not in_audience(alert, user=user, routing=routing, email=email)
        ):
            continue
        service = alert.service or ""
        if service and service.lower() != "other":
            terms = [service, *(service_keywords or {}).get(service, [])]
            if any(_named_at(t, text) is not None for t in terms):
                return alert
        shared = words & _words(alert.message)
        if _acronyms(shared) or len(shared) >= 2:
            return alert
    return None
