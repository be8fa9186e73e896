"""Deferred events: stored before the ack, handled after it.

A survey sent to thousands is answered in a burst of thousands of clicks; each must be
acknowledged well inside Slack's 3 s and recorded exactly once, even if the process dies between
the ack and the work. A route declared `deferred` is not handled in the request. The platform
calls `Inbox.accept(event)`, which stores the event and returns only once it is committed, and
then acks. Requests that arrive while a commit is under way are stored together by the next one
(a group commit): under a burst, one transaction carries many clicks, where handling each in the
request would take the write lock once per click, several statements long.

The inbox worker, a thread of the long-running processes (`chatbot serve`, `socket`, `clock`),
claims stored events in order of arrival with a lease and hands each to `Bot.handle`:
the same unit of work as an event handled in the request, which deletes the stored row in its own
transaction. The response goes to the platform's `Replier` (Slack: the event's response_url).

Never twice: a retried delivery has the same key, stored once; a handled row is gone in the
same commit that recorded its effect. Nothing lost: a claim names its worker, which beats in the
registry of live workers (`chatbot.liveness`); rows claimed by a process that died are taken over
within seconds (the lease stays as a backstop); an event that keeps failing is retried with
backoff, then kept (with its last error) and the person is told it was not recorded.

The last click stands: an event whose route names its subject (`Routes.action(subject=…)`, a
survey run) is handled only if it is its person's latest on that subject, and never while an
older one is in the hands of a live worker; handling it removes the older ones, unanswered. So a
click held up by a crashed process cannot override, or be thanked for after, a newer one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, or_, select, update
from sqlalchemy.orm import Session

from chatbot.background import Worker
from chatbot.bot import Bot, Event
from chatbot.db.models import InboxEvent, WorkerBeat
from chatbot.db.upsert import insert_ignore_many
from chatbot.liveness import Liveness
from chatbot.messages import Message, Reply, Response

log = logging.getLogger(__name__)

# How a platform answers a handled event after its ack.
Replier = Callable[[Event, Response], None]

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 5


class Inbox(Worker):
    """The store (`accept`, from request threads) and the worker thread that drains it."""

    name = "inbox-worker"

    def __init__(
        self,
        bot: Bot,
        replies: dict[str, Replier],
        *,
        batch: int = 200,
        idle_poll: float = 1.0,
        lease: timedelta = LEASE,
        give_way: float = 0.01,
        liveness: Liveness | None = None,
    ) -> None:
        super().__init__(idle_poll=idle_poll)
        self.bot = bot
        self.replies = replies
        self.batch = batch
        self.lease = lease
        self.give_way = give_way
        self._last_accept = 0.0
        self._waiting: list[_Waiting] = []
        self._waiting_lock = threading.Lock()
        self._commit_lock = threading.Lock()
        self.liveness = liveness or Liveness(bot.db, bot.clock, "inbox")

    def start(self) -> None:
        self.liveness.start()
        super().start()

    def stop(self, timeout: float = 10) -> None:
        super().stop(timeout)
        self.liveness.stop()

    # --- storing, in the request -------------------------------------------------------------

    def accept(self, event: Event) -> None:
        """Store the event; returns once it is committed (raises if it could not be)."""
        waiting = _Waiting(
            {
                "key": event.key[:255],
                "platform": event.platform,
                "event": event.to_json(),
                "received_at": self.bot.clock.now(),
                "attempts": 0,
                "subject": self.bot.subject_of(event),
            }
        )
        with self._waiting_lock:
            self._waiting.append(waiting)
        with self._commit_lock:
            # The thread that gets here first stores every event waiting at that moment; the
            # others find theirs already stored.
            if not waiting.done:
                with self._waiting_lock:
                    group, self._waiting = self._waiting, []
                error: Exception | None = None
                try:
                    with self.bot.db.transaction() as session:
                        insert_ignore_many(session, InboxEvent, [w.row for w in group])
                except Exception as exc:  # every event of the group failed with it
                    error = exc
                for member in group:
                    member.done, member.error = True, error
        if waiting.error is not None:
            raise waiting.error
        self._last_accept = time.monotonic()
        self.wake()

    # --- handling, in the worker thread --------------------------------------------------------

    def run_once(self) -> int:
        """Claim stored events and handle them in order; returns how many were claimed."""
        self.liveness.ensure()
        now = self.bot.clock.now()
        with self.bot.db.transaction() as session:
            claimed = sorted(
                session.execute(
                    _CLAIM,
                    {
                        "now": now,
                        "until": now + self.lease,
                        "max_attempts": MAX_ATTEMPTS,
                        "claim_limit": self.batch,
                        "worker": self.liveness.id,
                        "alive_since": self.liveness.alive_since(now),
                    },
                ).all()
            )
        for done, (row_id, data, attempts, subject) in enumerate(claimed):
            # Stopping: the rest go back, for the next process. A late heartbeat: another
            # worker may take them over, so this one handles no more of them.
            if self._stop.is_set() or not self.liveness.fresh():
                self._release([row[0] for row in claimed[done:]])
                break
            if time.monotonic() - self._last_accept < self.give_way:
                # Requests are arriving: their acks have a deadline (Slack's 3 s), this work
                # has none. Pause so that they get the interpreter; at most 1/give_way events
                # a second are handled while a burst lasts, all of them once it is over.
                self._stop.wait(self.give_way)
            self._handle(row_id, Event.from_json(data), attempts, subject)
        return len(claimed)

    def _handle(self, row_id: int, event: Event, attempts: int, subject: str | None) -> None:
        try:
            response = self.bot.handle(event, within=partial(_consume, row_id, subject))
        except Exception as exc:
            log.exception("handling stored %s %s failed", *self.bot.route_of(event))
            self._failed(
                row_id,
                subject,
                exc,
                attempts,
                private=self.bot.route_of(event) in self.bot.private,
            )
            if attempts < MAX_ATTEMPTS:
                return
            response = Reply(Message.plain(self.bot.templates.render("common/apology.md.j2")))
        reply = self.replies.get(event.platform)
        if reply is not None and response is not None:
            reply(event, response)

    def _release(self, row_ids: list[int]) -> None:
        with self.bot.db.transaction() as session:
            session.execute(
                update(InboxEvent)
                .where(InboxEvent.id.in_(row_ids))
                .values(lease_until=None, claimed_by=None, attempts=InboxEvent.attempts - 1)
            )

    def _failed(
        self, row_id: int, subject: str | None, exc: Exception, attempts: int, *, private: bool
    ) -> None:
        """Try again after a backoff; after the last attempt the row stays, unclaimed, for the
        operator (`last_error`), and the person is told. A private route's row (who clicked
        what on an anonymous survey) is deleted instead: it must not outlive its handling."""
        retry = self.bot.clock.now() + timedelta(seconds=2**attempts)
        with self.bot.db.transaction() as session:
            if private and attempts >= MAX_ATTEMPTS:
                session.execute(_CONSUME, {"row_id": row_id, "subject": subject})
                return
            session.execute(
                update(InboxEvent)
                .where(InboxEvent.id == row_id)
                .values(
                    lease_until=None if attempts >= MAX_ATTEMPTS else retry,
                    claimed_by=None,
                    last_error=f"{type(exc).__name__}: {exc}"[:500],
                )
            )


class _Waiting:
    """An event waiting for its group commit."""

    __slots__ = ("row", "done", "error")

    def __init__(self, row: dict[str, object]) -> None:
        self.row = row
        self.done = False
        self.error: Exception | None = None


def _consume(row_id: int, subject: str | None, session: Session) -> None:
    # Core: no ORM bookkeeping. The older events of its subject go with it, unanswered.
    session.connection().execute(_CONSUME, {"row_id": row_id, "subject": subject})


def _claim_statement() -> Any:
    table = InboxEvent.__table__
    now = bindparam("now", type_=table.c.received_at.type)
    workers = WorkerBeat.__table__
    live = (
        select(workers.c.id)
        .where(workers.c.heartbeat_at >= bindparam("alive_since", type_=now.type))
        .scalar_subquery()
    )
    other = table.alias("other")
    same_subject = other.c.subject == table.c.subject
    candidates = (
        select(table.c.id)
        .where(
            or_(
                table.c.lease_until.is_(None),
                table.c.lease_until < now,
                # Claimed by a worker that stopped beating: its process is dead.
                and_(
                    table.c.claimed_by.is_not(None),
                    table.c.claimed_by != bindparam("worker"),
                    table.c.claimed_by.not_in(live),
                ),
            ),
            table.c.attempts < bindparam("max_attempts"),
            or_(
                table.c.subject.is_(None),
                and_(
                    # Only a person's latest event on its subject is handled ...
                    ~exists().where(same_subject, other.c.id > table.c.id),
                    # ... and not while an older one is in a live worker's hands.
                    ~exists().where(
                        same_subject,
                        other.c.id < table.c.id,
                        other.c.claimed_by.in_(live),
                    ),
                ),
            ),
        )
        .order_by(table.c.id)
        .limit(bindparam("claim_limit"))
        .with_for_update(skip_locked=True, of=table)
        .scalar_subquery()
    )
    return (
        update(table)
        .where(table.c.id.in_(candidates))
        .values(
            lease_until=bindparam("until", type_=table.c.lease_until.type),
            claimed_by=bindparam("worker"),
            attempts=table.c.attempts + 1,
        )
        .returning(table.c.id, table.c.event, table.c.attempts, table.c.subject)
    )


_CLAIM = _claim_statement()
_TABLE = InboxEvent.__table__
_CONSUME = delete(_TABLE).where(
    or_(
        _TABLE.c.id == bindparam("row_id"),
        and_(_TABLE.c.subject == bindparam("subject"), _TABLE.c.id < bindparam("row_id")),
    )
)
