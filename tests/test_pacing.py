"""The posting budget shared through the database: processes pacing from it together keep its
rate, where each pacing itself would multiply it."""

from __future__ import annotations

import threading
import time

from chatbot.db import Database
from chatbot.delivery import Pacer, SharedPacer

RATE = 20.0
SECONDS = 2.0


def _posts(pacers: list, seconds: float) -> list[float]:  # type: ignore[type-arg]
    """Two sending threads per pacer (a process each) take slots for `seconds`: when each
    post may go."""
    stamps: list[float] = []
    lock = threading.Lock()
    deadline = time.time() + seconds

    def send(pacer) -> None:  # type: ignore[no-untyped-def]
        while True:
            pacer.acquire()
            now = time.time()
            if now > deadline:
                return
            with lock:
                stamps.append(now)

    threads = [threading.Thread(target=send, args=(p,)) for p in pacers for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(stamps)


def _most_in_a_second(stamps: list[float]) -> int:
    return max(sum(1 for t in stamps[i:] if t < start + 1.0) for i, start in enumerate(stamps))


def test_three_processes_share_one_rate(database_url: str) -> None:
    dbs = [Database(database_url) for _ in range(3)]  # three processes' engines
    dbs[0].upgrade()
    try:
        stamps = _posts([SharedPacer(db, "post", RATE) for db in dbs], SECONDS)
    finally:
        for db in dbs:
            db.dispose()
    # Together they keep the one rate (a slot's timing slack aside), and use most of it.
    assert _most_in_a_second(stamps) <= RATE + 2
    assert len(stamps) >= RATE * SECONDS * 0.8


def test_processes_pacing_themselves_would_exceed_it() -> None:
    """What the shared budget replaces: three processes each at the rate post three times it."""
    stamps = _posts([Pacer(RATE) for _ in range(3)], 1.0)
    assert _most_in_a_second(stamps) >= RATE * 2.5
