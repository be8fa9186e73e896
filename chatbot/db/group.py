"""Group commit: units of work from concurrent threads share one transaction and one commit.

Under a burst of requests (a `/techhelp` from hundreds of people at once) most of what a short
unit of work costs is its transaction: BEGIN, the commit (SQLite's WAL write, PostgreSQL's
round trip and flush) and, on SQLite, queuing for the one writer. As a database's log does with
its commits, `GroupCommit.run` lets the first waiting thread run every unit waiting at that
moment, each in a SAVEPOINT of one transaction, and commit them together; each caller returns
(or raises) only once its unit is committed, so an acknowledgement still follows the commit of
what it acknowledges. A unit that raises rolls back its savepoint alone and raises in its own
thread; if the commit itself fails, nothing of the group was stored and each unit is run again
in a transaction of its own, so one bad moment fails no more units than it would have alone.
A unit runs in its caller's context (`contextvars`: the log line's request reference).

Only where transactions are serialized anyway: on SQLite a process's writers take turns on one
lock (`Database.transaction`), so a group costs nobody a wait they would not have had. On
PostgreSQL transactions run side by side, and a group would hold every event behind its slowest
unit (a pulse check sent to thousands), so there each unit runs alone, at once."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from chatbot.db import Database

T = TypeVar("T")
MAX_GROUP = 32


class GroupCommit:
    def __init__(self, db: Database, *, max_group: int = MAX_GROUP) -> None:
        self.db = db
        self.max_group = max_group
        self.grouping = not db.is_postgres
        self._waiting: list[_Unit[Any]] = []
        self._changed = threading.Condition()
        self._leading = False  # a thread is running a group

    def run(self, work: Callable[[Session], T]) -> T:
        """Run `work(session)` in a transaction, perhaps shared; returns once it is committed."""
        if not self.grouping:
            with self.db.transaction() as session:
                return work(session)
        unit = _Unit(work, contextvars.copy_context())
        with self._changed:
            self._waiting.append(unit)
            while True:
                while self._leading and not unit.done:
                    self._changed.wait()
                if unit.done:
                    break
                # No group is running: this thread runs every unit waiting now (its own first
                # among them, unless more than a group's worth were waiting before it).
                self._leading = True
                group = self._waiting[: self.max_group]
                del self._waiting[: self.max_group]
                self._changed.release()
                try:
                    self._commit(group)
                finally:
                    self._changed.acquire()
                    self._leading = False
                    self._changed.notify_all()
        if unit.error is not None:
            raise unit.error
        return unit.result  # type: ignore[return-value]

    def _commit(self, group: list[_Unit[Any]]) -> None:
        try:
            if len(group) == 1:  # alone: no savepoint, exactly a transaction of its own
                self._alone(group[0])
                return
            try:
                with self.db.writing() as connection:
                    for unit in group:
                        # A session of its own on the shared connection, its transaction a
                        # SAVEPOINT: what it reads and writes is as if it ran alone, after the
                        # units before it.
                        try:
                            with (
                                self.db.sessions(
                                    bind=connection, join_transaction_mode="create_savepoint"
                                ) as session,
                                session.begin(),
                            ):
                                unit.result = unit.context.run(unit.work, session)
                        except Exception as exc:
                            unit.error = exc
            except Exception:
                # The commit failed: nothing of the group is stored. Each unit that had not
                # failed on its own is run again, alone.
                for unit in group:
                    if unit.error is None:
                        self._alone(unit)
        finally:
            for unit in group:
                unit.done = True

    def _alone(self, unit: _Unit[Any]) -> None:
        unit.error = None
        try:
            with self.db.transaction() as session:
                unit.result = unit.context.run(unit.work, session)
        except BaseException as exc:
            unit.error = exc


class _Unit(Generic[T]):
    __slots__ = ("work", "context", "result", "error", "done")

    def __init__(self, work: Callable[[Session], T], context: contextvars.Context) -> None:
        self.work = work
        self.context = context
        self.result: T | None = None
        self.error: BaseException | None = None
        self.done = False
