"""A worker thread: runs `run_once` until it finds nothing to do, then waits to be woken."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class Worker:
    """Subclasses implement `run_once` (returns how much it did); `wake()` after a commit that
    gave it work starts a round at once, else it looks again every `idle_poll` seconds (work
    stored by another process). `linger` waits a little after a wake, so that a burst of
    commits is collected into one round."""

    name = "worker"

    def __init__(self, *, idle_poll: float, linger: float = 0.0) -> None:
        self.idle_poll = idle_poll
        self.linger = linger
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Finish the round in hand, then return."""
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # keep the worker alive through a database hiccup
                log.exception("%s round failed", self.name)
                worked = 0
            if not worked:
                if self._wake.wait(self.idle_poll) and self.linger:
                    self._stop.wait(self.linger)
                self._wake.clear()
