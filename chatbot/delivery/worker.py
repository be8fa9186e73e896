"""Sending: the `DeliveryWorker` claims due rows with a lease, sends them through each platform's
`Sender` (one channel in order, channels in parallel, posts paced by a `Pacer`), and records
every outcome of a round in one transaction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, func, or_, select, update

from chatbot import logs, metrics
from chatbot.background import Worker
from chatbot.clock import Clock
from chatbot.db import Database
from chatbot.db.models import Delivery
from chatbot.delivery.outbox import address_of
from chatbot.delivery.sender import Failed, Job, Outcome, Retry, Sender, Sent
from chatbot.messages import Message

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
MAX_BACKOFF = 300.0
MAX_ATTEMPTS = 25
# Seconds between two warnings of the same trouble (a platform, a reason): the first failed
# attempt is logged at once, then at most one line a minute however many rows or retries.
WARN_EVERY = 60.0


class Pacer:
    """A token bucket shared by the sending threads: posts go out at a steady `rate` per second
    (bursts up to `burst`), below the platform's limit, instead of running into 429s.

    Each call gets the next slot of a timeline one interval apart; a sleeper that wakes late
    (a loaded machine) does not push every later slot back, so the rate holds, and a stall
    catches up no more than `burst` slots at once."""

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
        self.next_slot = float("-inf")
        self.lock = threading.Lock()

    def acquire(self) -> None:
        with self.lock:  # one waiter at a time keeps the order and the rate exact
            now = self.clock()
            slot = max(self.next_slot, now - (self.burst - 1) / self.rate)
            if slot > now:
                self.sleep(slot - now)
            self.next_slot = slot + 1 / self.rate


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
        # A sender may ask for more sending threads than the default (`Sender.threads`: Teams
        # needs more calls in flight than Slack to use its rate); the larger figure wins.
        threads = max([concurrency, *(getattr(s, "threads", 0) for s in senders.values())])
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="delivery")
        self._paused_until: dict[str, datetime] = {}
        # (platform, reason) -> when it was last logged, and failed attempts since
        self._warned_at: dict[tuple[str, str], float] = {}
        self._unwarned: Counter[tuple[str, str]] = Counter()

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
            with logs.about(job.key):
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
        metrics.count_outcomes(
            (job.platform, _outcome_label(outcome, row["status"]))
            for (job, outcome), row in zip(results, rows, strict=True)
        )
        self._report_trouble(results)
        with self.db.transaction() as session:
            session.connection().execute(_RECORD, rows)
            # A row stored again while this round sent it (a view rebuilt meanwhile) was not
            # recorded above, and waits on the claim's lease: it is due now, after this send.
            session.connection().execute(
                _REARMED, {"ids": [job.id for job, _ in results], "now": now}
            )
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

    def _report_trouble(self, results: list[tuple[Job, Outcome]]) -> None:
        """Log why deliveries wait, as soon as an attempt fails: one warning per platform and
        reason, then at most one a `WARN_EVERY` with the count of failed attempts since; and
        once a platform that had trouble takes a message again, that it is delivering again."""
        failed = Counter(
            (job.platform, outcome.reason)
            for job, outcome in results
            if isinstance(outcome, Retry) and outcome.attempted
        )
        now = time.monotonic()
        for trouble, count in failed.items():
            self._unwarned[trouble] += count
            last = self._warned_at.get(trouble)
            if last is None or now - last >= WARN_EVERY:
                platform, reason = trouble
                attempts = self._unwarned.pop(trouble)
                log.warning(
                    "%s deliveries are waiting: %s (%d failed attempt%s%s; retrying with "
                    "backoff, this warning repeats at most every %d s)",
                    platform,
                    reason,
                    attempts,
                    "" if attempts == 1 else "s",
                    "" if last is None else " since the last warning",
                    WARN_EVERY,
                )
                self._warned_at[trouble] = now
        delivered = {job.platform for job, outcome in results if isinstance(outcome, Sent)}
        for trouble in [t for t in self._warned_at if t[0] in delivered and t not in failed]:
            del self._warned_at[trouble]
            self._unwarned.pop(trouble, None)
            log.info("%s is delivering again (after: %s)", *trouble)

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


def _outcome_label(outcome: Outcome, status: str) -> str:
    """The `techhelp_deliveries_total` outcome of an attempt: sent, failed (for good),
    rate_limited (a 429, not counted against the row), retry, or waiting (not attempted)."""
    if status in ("sent", "failed"):
        return status
    if isinstance(outcome, Retry) and outcome.pause:
        return "rate_limited"
    if isinstance(outcome, Retry) and not outcome.attempted:
        return "waiting"
    return "retry"


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
_TABLE = Delivery.__table__
_REARMED = (
    update(_TABLE)
    .where(
        _TABLE.c.id.in_(bindparam("ids", expanding=True)),
        _TABLE.c.status == "pending",
        _TABLE.c.lease_until.is_not(None),
    )
    .values(not_before=bindparam("now", type_=_TABLE.c.not_before.type), lease_until=None)
)


def _backoff(attempts: int) -> float:
    return min(MAX_BACKOFF, 0.5 * 2 ** max(0, attempts - 1))
