"""One delivery mechanism for everything the bot sends: the outbox and its worker.

A handler stores an `Outgoing` in the same transaction as the change that caused it (`enqueue`).
The worker claims due rows with a lease (a conditional UPDATE … RETURNING; `FOR UPDATE SKIP
LOCKED` on PostgreSQL, so several processes can drain one outbox), sends them through the
platform's `Sender`, and records where each landed so later edits are a query.

Never twice: the key is unique, so the same outgoing is stored once. An attempt that may have
reached the platform (a time-out, or a process killed mid-send whose lease then expired) is marked
`in_doubt`; before posting again the sender looks for the copy already posted (Slack: the
delivery key travels in message metadata).

Each row carries its destination as an address (`chatbot.addresses.Address`: platform, kind,
id) and, once sent, the platform's `message_id` and the conversation it landed in; it knows
nothing of what the message is about (an alert's copies are the alert's own records).

Nothing lost: a 429 stores a not-before time (`Retry-After`) instead of sleeping; transient
failures back off; rows left by a crash are picked up by the next worker when their lease runs
out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Protocol

from sqlalchemy import bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session

from chatbot.addresses import Address
from chatbot.background import Worker
from chatbot.clock import Clock
from chatbot.db import Database, rowcount
from chatbot.db.models import Delivery
from chatbot.db.upsert import insert_ignore, insert_ignore_many
from chatbot.messages import Message, Outgoing

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
MAX_BACKOFF = 300.0
MAX_ATTEMPTS = 25


# --- what a platform sender returns ---------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """Delivered: the platform's id of the message, and the conversation it is in (for a
    direct message, the person's conversation with the bot), which edits and replies use."""

    message_id: str
    conversation: str


@dataclass(frozen=True)
class Retry:
    """Try again later. `after` is Slack's Retry-After when rate limited; `in_doubt` when the
    attempt may have been delivered; `pause` when the whole method is limited, not just this row;
    `attempted` False when nothing was sent (waiting on a pause or another message), which does
    not count towards giving up."""

    reason: str
    after: float | None = None
    in_doubt: bool = False
    pause: bool = False
    attempted: bool = True


@dataclass(frozen=True)
class Failed:
    reason: str


Outcome = Sent | Retry | Failed


@dataclass(frozen=True)
class Job:
    """A claimed delivery, with what the sender needs to know about its parents."""

    id: int
    key: str
    platform: str
    action: str  # post | update | home | upload
    to: Address
    message: Message
    attempts: int
    in_doubt: bool
    attempt_started: datetime
    created_at: datetime
    thread_id: str | None = None  # the message it replies under (a thread address, or its parent)
    batch: str | None = None
    # Where the message it edits or replies under landed (its conversation), and for an edit,
    # that message's id.
    conversation: str | None = None
    edit_message_id: str | None = None
    parent_status: str | None = None  # of the message this one edits or replies under
    rebuild: bool = False  # a view to build afresh before sending (`rebuild_later`)

    @property
    def waiting(self) -> bool:
        """Its parent has not been sent yet, so there is nothing to edit or reply under."""
        return self.parent_status is not None and self.parent_status != "sent"


class Sender(Protocol):
    def send(self, job: Job) -> Outcome: ...

    def find_sent(self, job: Job) -> Sent | None:
        """Look for a copy of this job already posted by an attempt that was in doubt."""
        ...


class Pacer:
    """A token bucket shared by the sending threads: posts go out at a steady `rate` per second
    (bursts up to `burst`), below the platform's limit, instead of running into 429s."""

    def __init__(
        self,
        rate: float,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate, self.burst = rate, burst
        self.clock, self.sleep = clock, sleep
        self.tokens = float(burst)
        self.updated = clock()
        self.lock = threading.Lock()

    def acquire(self) -> None:
        with self.lock:  # one waiter at a time keeps the order and the rate exact
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens < 1:
                self.sleep((1 - self.tokens) / self.rate)
                self.tokens = 1.0
                self.updated = self.clock()
            self.tokens -= 1


# --- storing ----------------------------------------------------------------------------------


def _address_columns(to: Address) -> dict[str, Any]:
    return {
        "platform": to.platform,
        "address_kind": to.kind,
        "address_id": to.id,
        "thread_id": to.thread,
    }


def address_of(row: Any) -> Address:
    """The destination of a stored delivery (a `Delivery`, or a row with its columns)."""
    return Address(row.platform, row.address_kind, row.address_id, thread=row.thread_id)


def destination(session: Session, delivery_id: int) -> Address:
    """Where a stored delivery goes: its edits and thread replies go to the same place."""
    row = session.get(Delivery, delivery_id)
    if row is None:
        raise LookupError(f"no delivery {delivery_id}")
    return address_of(row)


def enqueue(session: Session, *, outgoing: Outgoing, now: datetime) -> int:
    """Store an outgoing message; returns its delivery id. The same key is stored only once.
    A newer edit of the same message makes older pending edits unnecessary: a coalescing edit
    (`replace_pending`) takes the place of the one still waiting, keeping its turn; any other
    cancels it."""
    if outgoing.edit_of is not None and outgoing.replace_pending:
        waiting = session.execute(
            update(Delivery)
            .where(Delivery.edit_of == outgoing.edit_of, Delivery.status == "pending")
            .values(message=outgoing.message.to_json())
            .returning(Delivery.id)
        ).scalar()
        if waiting is not None:
            return waiting
    if outgoing.edit_of is not None:
        session.execute(
            update(Delivery)
            .where(
                Delivery.edit_of == outgoing.edit_of,
                Delivery.status == "pending",
                Delivery.key != outgoing.key,
            )
            .values(status="cancelled", last_error="superseded by a newer edit")
        )
    action = "update" if outgoing.edit_of is not None else outgoing.action
    new_id = insert_ignore(
        session,
        Delivery,
        key=outgoing.key,
        action=action,
        **_address_columns(outgoing.to),
        message=outgoing.message.to_json(),
        thread_of=outgoing.thread_of,
        edit_of=outgoing.edit_of,
        status="pending",
        attempts=0,
        in_doubt=False,
        not_before=now + timedelta(seconds=outgoing.delay_seconds),
        created_at=now,
        batch=outgoing.batch,
    )
    if new_id is not None:
        return new_id
    if action == "home":
        _republish(session, outgoing, now)
    elif outgoing.replace_pending:
        session.execute(
            update(Delivery)
            .where(Delivery.key == outgoing.key, Delivery.status == "pending")
            .values(message=outgoing.message.to_json())
        )
    return session.execute(select(Delivery.id).where(Delivery.key == outgoing.key)).scalar_one()


def _republish(session: Session, outgoing: Outgoing, now: datetime) -> None:
    """Deliver a home view again with its latest content. A waiting row just takes the new
    content (a burst coalesces); a sent, failed or cancelled one is due again now; one being
    sent is due again when its lease ends, so the newer content is published after it."""
    session.connection().execute(
        _rearm_statement(with_message=True),
        {"row_key": outgoing.key, "now": now, "message": outgoing.message.to_json()},
    )


def rebuild_later(session: Session, *, key: str, now: datetime) -> bool:
    """A view stored before (an App Home) is out of date: deliver it again, built afresh by the
    capability that owns its action when it is sent (`DeliveryWorker(build=…)`). One UPDATE
    (a click pays no more), due as `_republish` is; nothing for a key never stored. Returns
    whether there was one."""
    result = session.connection().execute(
        _rearm_statement(with_message=False), {"row_key": key, "now": now}
    )
    return bool(result.rowcount)


@cache
def _rearm_statement(*, with_message: bool) -> Any:
    table = Delivery.__table__
    due = bindparam("now", type_=table.c.not_before.type)
    values: dict[str, Any] = {
        "not_before": case(
            (table.c.status == "pending", table.c.not_before),
            (table.c.status == "sending", func.coalesce(table.c.lease_until, due)),
            else_=due,
        ),
        "attempts": case((table.c.status == "pending", table.c.attempts), else_=0),
        "in_doubt": False,
        "last_error": None,
        "status": "pending",
        # New content replaces the mark; a mark keeps the last content (sent if no builder).
        "rebuild": not with_message,
    }
    if with_message:
        values["message"] = bindparam("message", type_=table.c.message.type)
    return update(table).where(table.c.key == bindparam("row_key")).values(values)


def enqueue_many(session: Session, *, outgoing: list[Outgoing], now: datetime) -> None:
    """Store many new posts at once (a broadcast); keys already stored are skipped. Copies
    usually share one message: it is encoded once (the list keeps every message alive, so an
    `id` is not reused while this runs)."""
    encoded: dict[int, dict[str, Any]] = {}
    for out in outgoing:
        if id(out.message) not in encoded:
            encoded[id(out.message)] = out.message.to_json()
    insert_ignore_many(
        session,
        Delivery,
        [
            {
                "key": out.key,
                "action": "post",
                **_address_columns(out.to),
                "message": encoded[id(out.message)],
                "thread_of": None,
                "edit_of": None,
                "status": "pending",
                "attempts": 0,
                "in_doubt": False,
                "not_before": now + timedelta(seconds=out.delay_seconds),
                "created_at": now,
                "batch": out.batch,
            }
            for out in outgoing
        ],
    )


def cancel(session: Session, *, key: str, reason: str) -> bool:
    """Withdraw a delivery that has not been sent (e.g. a rating prompt after a reopen)."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.key == key, Delivery.status == "pending")
        .values(status="cancelled", last_error=reason)
    )
    return rowcount(result) > 0


def reschedule(session: Session, *, key: str, now: datetime, delay_seconds: float) -> bool:
    """Bring a cancelled delivery back (e.g. the rating prompt after a second resolution)."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.key == key, Delivery.status == "cancelled")
        .values(
            status="pending",
            last_error=None,
            not_before=now + timedelta(seconds=delay_seconds),
        )
    )
    return rowcount(result) > 0


@dataclass(frozen=True)
class Tally:
    """Where a fan-out stands: copies sent, failed (with how many per reason), still to go."""

    sent: int = 0
    failed: int = 0
    pending: int = 0
    cancelled: int = 0
    reasons: tuple[tuple[str, int], ...] = ()

    @property
    def total(self) -> int:
        return self.sent + self.failed + self.pending + self.cancelled

    @property
    def done(self) -> bool:
        return self.pending == 0


def tally(session: Session, *, batch: str) -> Tally:
    """Counts by status for one batch: one aggregate query on its index, no rows loaded."""
    counts: dict[str, int] = {}
    for status, n in session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.batch == batch)
        .group_by(Delivery.status)
    ):
        counts[status] = n
    reasons = session.execute(
        select(Delivery.last_error, func.count())
        .where(Delivery.batch == batch, Delivery.status == "failed")
        .group_by(Delivery.last_error)
        .order_by(func.count().desc())
    ).all()
    return Tally(
        sent=counts.get("sent", 0),
        failed=counts.get("failed", 0),
        pending=counts.get("pending", 0) + counts.get("sending", 0),
        cancelled=counts.get("cancelled", 0),
        reasons=tuple((reason or "unknown", n) for reason, n in reasons),
    )


def batch_rows(session: Session, *, batch: str) -> Iterable[Delivery]:
    """Every copy of a batch, in order, streamed (a per-recipient report of thousands)."""
    return session.scalars(
        select(Delivery)
        .where(Delivery.batch == batch, Delivery.action == "post")
        .order_by(Delivery.id)
        .execution_options(yield_per=1000)
    )


# --- sending ----------------------------------------------------------------------------------


class DeliveryWorker(Worker):
    """Drains the outbox in a background thread; `wake()` after a commit sends at once. After
    a wake it lingers 5 ms: a burst commits many rows at once, collected into one round."""

    name = "delivery-worker"

    def __init__(
        self,
        db: Database,
        senders: dict[str, Sender],
        *,
        clock: Clock,
        concurrency: int = 4,
        batch: int = 100,
        idle_poll: float = 0.5,
        linger: float = 0.005,
        lease: timedelta = LEASE,
        posts_per_second: float | None = None,
        on_progress: Callable[[dict[str, str]], None] | None = None,
        build: Callable[[Job], Message] | None = None,
    ) -> None:
        self.db = db
        self.on_progress = on_progress
        self.build = build  # builds a `rebuild` job's message (without one: the stored one)
        self.senders = senders
        self.clock = clock
        super().__init__(idle_poll=idle_poll, linger=linger)
        self.batch = batch
        self.lease = lease
        self.pacer = Pacer(posts_per_second) if posts_per_second else None
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="delivery")
        self._paused_until: dict[str, datetime] = {}

    def stop(self, timeout: float = 10) -> None:
        super().stop(timeout)
        self.pool.shutdown(wait=True, cancel_futures=True)

    # one round
    def run_once(self) -> int:
        """Claim due deliveries and send them; returns how many were claimed."""
        jobs = self._claim()
        if not jobs:
            return 0
        by_channel: dict[tuple[str, str], list[Job]] = {}
        for job in jobs:
            by_channel.setdefault((job.to.platform, job.to.id), []).append(job)
        # One channel's messages go in order; channels go in parallel. What happened is
        # recorded in one transaction per round (a crash before it leaves rows in doubt).
        results = [
            r for group in self.pool.map(self._send_in_order, by_channel.values()) for r in group
        ]
        self._record(results)
        return len(jobs)

    def _claim(self) -> list[Job]:
        now = self.clock.now()
        with self.db.transaction() as session:
            ids = sorted(
                session.execute(
                    _CLAIM,
                    {
                        "now": now,
                        "lease_until": now + self.lease,
                        "platforms": list(self.senders),
                        "claim_limit": self.batch,
                    },
                ).scalars()
            )
            if not ids:
                return []
            return [
                Job(
                    id=row.id,
                    key=row.key,
                    platform=row.platform,
                    action=row.action,
                    to=address_of(row),
                    message=Message.from_json(row.message),
                    attempts=row.attempts,
                    in_doubt=row.in_doubt,
                    attempt_started=row.attempt_started,
                    created_at=row.created_at,
                    batch=row.batch,
                    thread_id=row.parent_message_id if row.thread_of else row.thread_id,
                    conversation=row.parent_conversation,
                    edit_message_id=row.parent_message_id if row.edit_of else None,
                    parent_status=row.parent_status,
                    rebuild=row.rebuild,
                )
                for row in session.execute(_CLAIMED, {"ids": ids})
            ]

    def _send_in_order(self, jobs: Iterable[Job]) -> list[tuple[Job, Outcome]]:
        """Send one channel's jobs in order; returns each job with its outcome."""
        results: list[tuple[Job, Outcome]] = []
        held: Retry | None = None
        for job in jobs:
            if held is not None:  # keep the channel's order: later messages wait too
                results.append((job, held))
                continue
            outcome = self._attempt(job)
            results.append((job, outcome))
            if isinstance(outcome, Retry):
                if outcome.pause and outcome.after:
                    until = self.clock.now() + timedelta(seconds=outcome.after)
                    self._paused_until[job.action] = until
                held = Retry(
                    "waiting for an earlier message", after=outcome.after or 1, attempted=False
                )
        return results

    def _attempt(self, job: Job) -> Outcome:
        if job.waiting:
            if job.parent_status in ("failed", "cancelled"):
                return Failed(f"the message it depends on was {job.parent_status}")
            return Retry("waiting for the message it depends on", after=0.2, attempted=False)
        paused = self._paused_until.get(job.action)
        if paused and paused > self.clock.now():
            wait = (paused - self.clock.now()).total_seconds()
            return Retry("waiting out a rate limit", after=wait, attempted=False)
        sender = self.senders[job.platform]
        try:
            if job.in_doubt and job.action in ("post", "upload"):
                found = sender.find_sent(job)
                if found:
                    log.info("delivery %s was already posted; not posting it again", job.key)
                    return found
            if job.action == "post" and self.pacer:
                self.pacer.acquire()
            if job.rebuild and self.build:
                job = replace(job, message=self.build(job))
            return sender.send(job)
        except Exception as exc:  # a sender bug must not kill the worker or lose the row
            log.exception("delivery %s failed unexpectedly", job.key)
            return Retry(f"unexpected error: {exc!r}", in_doubt=job.action in ("post", "upload"))

    def _record(self, results: list[tuple[Job, Outcome]]) -> None:
        now = self.clock.now()
        rows = [self._after(job, outcome, now) for job, outcome in results]
        with self.db.transaction() as session:
            session.connection().execute(_RECORD, rows)
        # Batches whose copies changed for good this round: their live counts are refreshed.
        moved = {
            job.batch: job.platform
            for (job, _), row in zip(results, rows, strict=True)
            if job.batch and row["status"] != "pending"
        }
        if moved and self.on_progress:
            try:
                self.on_progress(moved)
            except Exception:  # a count that is late must not stop the deliveries
                log.exception("progress report failed")

    def _after(self, job: Job, outcome: Outcome, now: datetime) -> dict[str, Any]:
        """The row's new values after an attempt (the same columns whatever happened, so one
        executemany records a round)."""
        row: dict[str, Any] = {
            "job_id": job.id,
            "status": "pending",
            "attempts": job.attempts,
            "not_before": now,
            "in_doubt": job.in_doubt,
            "last_error": None,
            "sent_conversation": None,
            "message_id": None,
            "sent_at": None,
        }
        if isinstance(outcome, Sent):
            return row | {
                "status": "sent",
                "in_doubt": False,
                "sent_conversation": outcome.conversation,
                "message_id": outcome.message_id,
                "sent_at": now,
            }
        if isinstance(outcome, Failed):
            log.warning("delivery %s failed: %s", job.key, outcome.reason)
            return row | {"status": "failed", "last_error": outcome.reason[:500]}
        attempts = job.attempts if outcome.attempted else job.attempts - 1
        if attempts >= MAX_ATTEMPTS:
            log.warning("delivery %s: giving up after %d attempts", job.key, attempts)
            return row | {"status": "failed", "last_error": f"gave up: {outcome.reason}"[:500]}
        delay = outcome.after if outcome.after is not None else _backoff(attempts)
        return row | {
            "attempts": attempts,
            "not_before": now + timedelta(seconds=delay),
            "in_doubt": job.in_doubt or outcome.in_doubt,
            "last_error": outcome.reason[:500],
        }


def _statements() -> tuple[Any, Any, Any]:
    """The worker's SQL, built once (Core, not the ORM: it runs every round)."""
    table = Delivery.__table__
    parent = table.alias("parent")
    due = or_(
        (table.c.status == "pending") & (table.c.not_before <= bindparam("now")),
        (table.c.status == "sending") & (table.c.lease_until < bindparam("now")),
    )
    waits_for = table.alias("waits_for")
    candidates = (
        select(table.c.id)
        .outerjoin(waits_for, waits_for.c.id == func.coalesce(table.c.edit_of, table.c.thread_of))
        .where(
            due,
            table.c.platform.in_(bindparam("platforms", expanding=True)),
            # An edit or reply whose message is not out yet is not claimed: it would only take
            # a place in the round from the message it waits for.
            or_(waits_for.c.id.is_(None), waits_for.c.status.in_(("sent", "failed", "cancelled"))),
        )
        # One person's request must not queue behind a broadcast to thousands: rows of a
        # fan-out (a batch) go after everything else that is due.
        .order_by(table.c.batch.is_not(None), table.c.id)
        .limit(bindparam("claim_limit"))
        .with_for_update(skip_locked=True, of=table)
        .scalar_subquery()
    )
    claim = (
        update(table)
        .where(table.c.id.in_(candidates))
        .values(
            # A lease that ran out means the process died mid-send: maybe delivered.
            in_doubt=case((table.c.status == "sending", True), else_=table.c.in_doubt),
            status="sending",
            lease_until=bindparam("lease_until"),
            attempt_started=bindparam("now"),
            attempts=table.c.attempts + 1,
        )
        .returning(table.c.id)
    )
    claimed = (
        select(
            table,
            parent.c.status.label("parent_status"),
            parent.c.sent_conversation.label("parent_conversation"),
            parent.c.message_id.label("parent_message_id"),
        )
        .outerjoin(parent, parent.c.id == func.coalesce(table.c.edit_of, table.c.thread_of))
        .where(table.c.id.in_(bindparam("ids", expanding=True)))
        .order_by(table.c.id)
    )
    record = (
        update(table)
        .where(table.c.id == bindparam("job_id"), table.c.status == "sending")
        .values(
            {
                name: bindparam(name)
                for name in (
                    "status",
                    "attempts",
                    "not_before",
                    "in_doubt",
                    "last_error",
                    "sent_conversation",
                    "message_id",
                    "sent_at",
                )
            }
            | {"lease_until": None}
        )
    )
    return claim, claimed, record


_CLAIM, _CLAIMED, _RECORD = _statements()


def _backoff(attempts: int) -> float:
    return min(MAX_BACKOFF, 0.5 * 2 ** max(0, attempts - 1))
