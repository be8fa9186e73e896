"""One posting rate for every process on the database: a timeline of slots kept in a row.

A platform's limit is its workspace's (Slack: about one chat.postMessage a second per channel,
"several hundred a minute" in all; Teams: a tenant's calls a second), not a process's. Each
process reserves the next few slots of a shared timeline (`rate_budgets.next_slot`, seconds since
the epoch) in one UPDATE, then hands them out to its sending threads one interval apart, as the
in-process `Pacer` does. However many processes send, their posts together keep the rate: a
reserved slot is never reused, and one that went by unused (its process was busy, or died) is
dropped rather than sent late in a burst. The slots are wall-clock times: hosts keep their clocks
in sync (NTP), as the leases need anyway.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, case, update

from chatbot.db import Database
from chatbot.db.models import RateBudget
from chatbot.db.upsert import insert_ignore

BLOCK_SECONDS = 0.2  # a process reserves about this much of the timeline at a time


class SharedPacer:
    """`acquire()` waits for this process's next slot of the budget `name` (`rate` a second,
    bursts up to `burst`)."""

    def __init__(
        self,
        db: Database,
        name: str,
        rate: float,
        *,
        burst: int = 1,
        block_seconds: float = BLOCK_SECONDS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.db, self.name = db, name
        self.rate, self.burst = rate, burst
        self.interval = 1 / rate
        self.block = max(1, math.floor(rate * block_seconds))
        self.clock, self.sleep = clock, sleep
        self.slots: deque[float] = deque()
        self.lock = threading.Lock()

    def acquire(self) -> None:
        with self.lock:  # one waiter at a time keeps the order of the slots
            while True:
                if not self.slots:
                    self._reserve()
                slot = self.slots.popleft()
                now = self.clock()
                if slot >= now - self.burst * self.interval:
                    break
                # A slot that went by unused is dropped: sending on it now would be a burst.
            if slot > now:
                self.sleep(slot - now)

    def _reserve(self) -> None:
        """Take the next `block` slots of the shared timeline (one UPDATE; the row is made on
        first use)."""
        floor = self.clock() - (self.burst - 1) * self.interval
        span = self.block * self.interval
        with self.db.transaction() as session:
            end = session.execute(
                _TAKE, {"budget": self.name, "floor": floor, "span": span}
            ).scalar()
            if end is None:
                insert_ignore(session, RateBudget, name=self.name, next_slot=floor)
                end = session.execute(
                    _TAKE, {"budget": self.name, "floor": floor, "span": span}
                ).scalar_one()
        start = end - span
        self.slots.extend(start + i * self.interval for i in range(self.block))


def _take_statement() -> Any:
    table = RateBudget.__table__
    floor = bindparam("floor", type_=table.c.next_slot.type)
    return (
        update(table)
        .where(table.c.name == bindparam("budget"))
        .values(
            next_slot=case((table.c.next_slot > floor, table.c.next_slot), else_=floor)
            + bindparam("span", type_=table.c.next_slot.type)
        )
        .returning(table.c.next_slot)
    )


_TAKE = _take_statement()
