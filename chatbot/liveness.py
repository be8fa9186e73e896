"""A registry of live workers: what a dead process had claimed is taken over at once.

Each background worker that claims rows (the delivery worker, the inbox worker) registers in
the `workers` table and beats there every `interval` seconds from a thread of its own, whatever
its sends are doing. A claimed row names its worker (`claimed_by`); another worker takes it over
as soon as that worker's last beat is older than `dead_after` (a process killed with SIGKILL,
a host that vanished), instead of waiting for the claim's lease to run out. The lease stays as a
backstop for a live worker stuck in one send.

This is how Sidekiq Pro's super_fetch and Oban Pro's producer records rescue orphaned jobs: a
heartbeat per process, its jobs pushed back once the heartbeat expires. Advisory locks
(PostgreSQL's, as Que uses) were not chosen: SQLite has none, and a lock is released when its
connection drops, which a live process sending a message can suffer too (a network blip, a
database failover), so a second process would post the same copy while the first still does.

Fencing, so that a takeover never makes two senders of one row: a worker sends only while its own
last successful beat is younger than `dead_after - interval` (`fresh`), and records an outcome
only for rows still claimed by it. A row taken over is "in doubt": its new worker looks for the
copy already posted before posting it. The comparison uses each host's clock, as the leases do:
hosts must keep their clocks in sync (NTP) to well under a second.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, update

from chatbot.clock import Clock
from chatbot.db import Database, rowcount
from chatbot.db.models import WorkerBeat

log = logging.getLogger(__name__)

INTERVAL = 1.0  # seconds between beats
DEAD_AFTER = 3.0  # a worker silent for this long is dead: its claims are taken over
FORGET_AFTER = timedelta(days=1)  # registry rows of workers gone this long are deleted


class Liveness:
    """One worker's entry in the registry, and the thread that keeps it beating."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        role: str,
        *,
        interval: float = INTERVAL,
        dead_after: float = DEAD_AFTER,
    ) -> None:
        self.db, self.clock, self.role = db, clock, role
        self.interval, self.dead_after = interval, dead_after
        host = socket.gethostname()[:24]
        self.id = f"{role[:12]}:{host}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.last_beat: datetime | None = None
        self._registered = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def alive_since(self, now: datetime) -> datetime:
        """Workers whose last beat is before this are dead."""
        return now - timedelta(seconds=self.dead_after)

    def beat(self) -> None:
        """Say this worker is alive (now, by this host's clock)."""
        with self._lock:
            now = self.clock.now()
            with self.db.transaction() as session:
                if self._registered:
                    result = session.execute(
                        update(WorkerBeat).where(WorkerBeat.id == self.id).values(heartbeat_at=now)
                    )
                    if rowcount(result):
                        self.last_beat = now
                        return
                else:  # the first beat: workers gone for a day leave the registry
                    session.execute(
                        delete(WorkerBeat).where(WorkerBeat.heartbeat_at < now - FORGET_AFTER)
                    )
                session.execute(
                    insert(WorkerBeat).values(
                        id=self.id, role=self.role, started_at=now, heartbeat_at=now
                    )
                )
            self._registered = True
            self.last_beat = now

    def ensure(self) -> None:
        """Beat now unless a beat is recent (a worker used without its thread: a test, a
        one-off run, claims only after a beat)."""
        last = self.last_beat
        if last is None or (self.clock.now() - last).total_seconds() >= self.interval:
            self.beat()

    def fresh(self) -> bool:
        """Whether this worker may still act on its claims: its last beat is recent enough that
        no other worker can have taken them over (one interval of margin before `dead_after`)."""
        last = self.last_beat
        if last is None:
            return False
        return (self.clock.now() - last).total_seconds() < self.dead_after - self.interval

    def start(self) -> None:
        self.ensure()
        self._thread = threading.Thread(target=self._run, name=f"{self.role}-beat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Leave the registry: whatever this worker still holds is free for others at once."""
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        try:
            with self.db.transaction() as session:
                session.execute(delete(WorkerBeat).where(WorkerBeat.id == self.id))
        except Exception:  # the database is going away too: the beat just stops
            log.warning("could not leave the worker registry", exc_info=True)
        self.last_beat = None
        self._registered = False

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception:  # a database hiccup: `fresh` turns false until a beat succeeds
                log.warning("%s: heartbeat failed", self.id, exc_info=True)
