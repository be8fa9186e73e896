"""Time, injectable: production uses the system clock; tests and the scheduler can drive it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

# `chatbot clock`'s lease (a row of `clock_state`): a tick a minute renews it to LEASE ahead, so
# a dead clock is replaced within it, and the time of the last tick is its value less LEASE.
LEASE_NAME = "lease"
LEASE = timedelta(seconds=150)


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock(Clock):
    """A clock that moves only when told to (tests, simulated time)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now
