"""Sending: the `DeliveryWorker` claims what it will send soon (a paced worker: about a
second of its rate), sends it through each platform's `Sender` (one channel in order, channels
in parallel, posts paced by a `Pacer`), and records outcomes as they come (a commit per small
group, within about a tenth of a second while sends go on, and at the end of the round).

A claim names its worker, which beats in the registry of live workers (`chatbot.liveness`): if
the process dies, another worker (a restarted process, or another one running beside it) takes
its claims over within seconds, in doubt, instead of waiting for the claim's lease to run out.
"""

from __future__ import annotations

import logging
import math
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
from chatbot.db.models import Delivery, WorkerBeat
from chatbot.delivery.outbox import address_of
from chatbot.delivery.sender import Failed, Job, Outcome, Retry, Sender, Sent
from chatbot.liveness import Liveness
from chatbot.messages import Message

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
CLAIM_AHEAD = 1.0  # a paced worker claims about this many seconds of its rate
RECORD_BATCH = 50  # outcomes committed together at most ...
RECORD_WITHIN = 0.1  # ... or once the oldest has waited this long (seconds)
PROGRESS_INTERVAL = 1.0  # seconds between live-count reports while a round sends
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
        pacer: Any = None,
        on_progress: Callable[[dict[str, str]], None] | None = None,
        build: Callable[[Job], Message] | None = None,
        liveness: Liveness | None = None,
    ) -> None:
        """`pacer`: anything with `acquire()` and `rate` (a `SharedPacer`, one budget for every
        process); else `posts_per_second` paces this process alone."""
        self.db = db
        self.on_progress = on_progress
        self.build = build  # builds a `rebuild` job's message (without one: the stored one)
        self.senders = senders
        self.clock = clock
        super().__init__(idle_poll=idle_poll, linger=linger)
        self.batch = batch
        self.lease = lease
        self.pacer = pacer or (Pacer(posts_per_second) if posts_per_second else None)
        self.liveness = liveness or Liveness(db, clock, "delivery")
        # A sender may ask for more sending threads than the default (`Sender.threads`: Teams
        # needs more calls in flight than Slack to use its rate); the larger figure wins.
        threads = max([concurrency, *(getattr(s, "threads", 0) for s in senders.values())])
        self.threads = threads
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="delivery")
        self._paused_until: dict[str, datetime] = {}
        # (platform, reason) -> when it was last logged, and failed attempts since
        self._warned_at: dict[tuple[str, str], float] = {}
        self._unwarned: Counter[tuple[str, str]] = Counter()
        self._trouble_lock = threading.Lock()  # senders' threads record outcomes at once
        self._waiting: list[_Recorded] = []
        self._waiting_lock = threading.Lock()
        self._commit_lock = threading.Lock()
        self._moved: set[tuple[str, str]] = set()  # (batch, platform) not yet reported
        self._progressed = 0.0

    def start(self) -> None:
        self.liveness.start()
        super().start()

    def stop(self, timeout: float = 10) -> None:
        super().stop(timeout)
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.liveness.stop()

    @property
    def claim_limit(self) -> int:
        """Only what will be sent soon: a paced worker claims about `CLAIM_AHEAD` seconds of its
        rate (at least a row per sending thread), so little waits under a claim."""
        if self.pacer is None:
            return self.batch
        ahead = math.ceil(self.pacer.rate * CLAIM_AHEAD)
        return max(1, min(self.batch, max(self.threads, ahead)))

    # one round
    def run_once(self) -> int:
        """Claim due deliveries and send them; returns how many were claimed."""
        jobs = self._claim()
        if not jobs:
            return 0
        by_channel: dict[tuple[str, str], list[Job]] = {}
        for job in jobs:
            by_channel.setdefault((job.to.platform, job.to.id), []).append(job)
        # One channel's messages go in order; channels go in parallel. Each outcome is recorded
        # as it is known (a crash loses at most the sends in flight, which are then in doubt).
        try:
            for _ in self.pool.map(self._send_in_order, by_channel.values()):
                pass
        finally:
            self._flush()
            self._report_progress()
        return len(jobs)

    def _claim(self) -> list[Job]:
        self.liveness.ensure()
        now = self.clock.now()
        with self.db.transaction() as session:
            ids = sorted(
                session.execute(
                    _CLAIM,
                    {
                        "now": now,
                        "lease_until": now + self.lease,
                        "platforms": list(self.senders),
                        "claim_limit": self.claim_limit,
                        "worker": self.liveness.id,
                        "alive_since": self.liveness.alive_since(now),
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
        """Send one channel's jobs in order, recording each outcome as it is known; returns
        each job with its outcome."""
        results: list[tuple[Job, Outcome]] = []
        held: list[tuple[Job, Outcome]] = []
        waiting: Retry | None = None
        for job in jobs:
            if waiting is not None:  # keep the channel's order: later messages wait too
                held.append((job, waiting))
                continue
            with logs.about(job.key):
                outcome = self._attempt(job)
            self._record([(job, outcome)])
            results.append((job, outcome))
            if isinstance(outcome, Retry):
                if outcome.pause and outcome.after:
                    until = self.clock.now() + timedelta(seconds=outcome.after)
                    self._paused_until[job.action] = until
                waiting = Retry(
                    "waiting for an earlier message", after=outcome.after or 1, attempted=False
                )
        if held:
            self._record(held)
        return results + held

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
            if not self.liveness.fresh():
                # This worker's beat is late (a stalled database, a starved process): another
                # may already have taken its claims over. Send nothing; what is still ours is
                # due again at once.
                return Retry("this worker's heartbeat is late", after=0, attempted=False)
            if job.rebuild and self.build:
                job = replace(job, message=self.build(job))
            return sender.send(job)
        except Exception as exc:  # a sender bug must not kill the worker or lose the row
            log.exception("delivery %s failed unexpectedly", job.key)
            return Retry(f"unexpected error: {exc!r}", in_doubt=job.action in ("post", "upload"))

    def _record(self, results: list[tuple[Job, Outcome]]) -> None:
        """Record outcomes as they come: they are committed together by the outcome that finds
        `RECORD_BATCH` waiting or the oldest older than `RECORD_WITHIN` seconds, and at the end
        of the round. A crash leaves only those few sent but unrecorded (in doubt: checked
        before posting again), at a commit per group rather than per send."""
        stamp = self.clock.now()
        mine = _Recorded([(job, self._after(job, outcome, stamp)) for job, outcome in results])
        metrics.count_outcomes(
            (job.platform, _outcome_label(outcome, row["status"]))
            for (job, outcome), (_, row) in zip(results, mine.rows, strict=True)
        )
        self._report_trouble(results)
        with self._waiting_lock:
            self._waiting.append(mine)
            due = (
                len(self._waiting) >= RECORD_BATCH
                or time.monotonic() - self._waiting[0].at >= RECORD_WITHIN
            )
        if due:
            self._flush()

    def _flush(self) -> None:
        with self._commit_lock:
            with self._waiting_lock:
                group, self._waiting = self._waiting, []
            if group:
                # A failed commit leaves its rows claimed: the lease gives them back.
                self._commit([entry for member in group for entry in member.rows])

    def _commit(self, entries: list[tuple[Job, dict[str, Any]]]) -> None:
        rows = [row | {"worker": self.liveness.id} for _, row in entries]
        with self.db.transaction() as session:
            session.connection().execute(_RECORD, rows)
            # A row stored again while it was being sent (a view rebuilt meanwhile) was not
            # recorded above, and waits on the claim's lease: it is due now, after this send.
            session.connection().execute(
                _REARMED, {"ids": [job.id for job, _ in entries], "now": self.clock.now()}
            )
        # Batches whose copies changed for good: their live counts are refreshed, at most
        # once a `PROGRESS_INTERVAL` while sends go on, and when the round ends.
        with self._waiting_lock:
            self._moved.update(
                (job.batch, job.platform)
                for job, row in entries
                if job.batch and row["status"] != "pending"
            )
        if time.monotonic() - self._progressed >= PROGRESS_INTERVAL:
            self._report_progress()

    def _report_progress(self) -> None:
        with self._waiting_lock:
            moved, self._moved = dict(self._moved), set()
            self._progressed = time.monotonic()
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
        delivered = {job.platform for job, outcome in results if isinstance(outcome, Sent)}
        if failed or self._warned_at:
            with self._trouble_lock:
                self._log_trouble(failed, delivered)

    def _log_trouble(self, failed: Counter[tuple[str, str]], delivered: set[str]) -> None:
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
    workers = WorkerBeat.__table__
    live = select(workers.c.id).where(workers.c.heartbeat_at >= bindparam("alive_since"))
    due = or_(
        (table.c.status == "pending") & (table.c.not_before <= bindparam("now")),
        (table.c.status == "sending") & (table.c.lease_until < bindparam("now")),
        # Claimed by a worker that stopped beating: its process is dead, take over at once.
        (table.c.status == "sending")
        & table.c.claimed_by.is_not(None)
        & (table.c.claimed_by != bindparam("worker"))
        & table.c.claimed_by.not_in(live.scalar_subquery()),
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
            # Taken over from a dead worker (or a lease that ran out): maybe delivered.
            in_doubt=case((table.c.status == "sending", True), else_=table.c.in_doubt),
            status="sending",
            claimed_by=bindparam("worker"),
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
        # Only a row still ours: one taken over meanwhile is its new worker's to record.
        .where(
            table.c.id == bindparam("job_id"),
            table.c.status == "sending",
            table.c.claimed_by == bindparam("worker"),
        )
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
            | {"lease_until": None, "claimed_by": None}
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
    .values(
        not_before=bindparam("now", type_=_TABLE.c.not_before.type),
        lease_until=None,
        claimed_by=None,
    )
)


def _backoff(attempts: int) -> float:
    return min(MAX_BACKOFF, 0.5 * 2 ** max(0, attempts - 1))


class _Recorded:
    """Outcomes waiting for their commit, and since when."""

    __slots__ = ("rows", "at")

    def __init__(self, rows: list[tuple[Job, dict[str, Any]]]) -> None:
        self.rows = rows
        self.at = time.monotonic()
