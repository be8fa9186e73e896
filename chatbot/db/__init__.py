"""Engine, sessions and migrations. SQLite (WAL, foreign keys, busy timeout) or PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, CursorResult, Engine, Result, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE run through `Session.execute` matched. The session types its
    result as a plain `Result`, though for these statements it is the DBAPI cursor's
    (SQLAlchemy's advice is this cast)."""
    return cast(CursorResult[Any], result).rowcount


def make_engine(url: str, *, pool_size: int = 64, writer: bool = True) -> Engine:
    """`writer=False` (SQLite only) makes an engine for long reads: a deferred BEGIN, so a
    dashboard query never holds the write lock the bot needs (WAL lets both run at once)."""
    if url.startswith("sqlite"):
        # A pool as large as the request threads: connections beyond it would be opened and
        # closed per use, each paying the PRAGMAs below.
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=pool_size,
            max_overflow=pool_size,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, issue BEGIN so that IMMEDIATE locking works.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # A handled survey click is deleted from the inbox: overwrite it, so the file's free
            # pages keep no trace of who clicked what.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # Writers queue on the busy timeout instead of failing on lock upgrade.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    elif url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgres://")
    return create_engine(url, pool_size=10, max_overflow=pool_size, pool_pre_ping=True)


class Database:
    """An engine and its session factory; `transaction()` is the unit of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time, and its busy handler waits by sleeping in growing
        # steps: under load that turns a 1 ms wait into 100 ms. Threads of this process queue
        # on a lock instead; other processes still meet the busy timeout.
        self._writer = threading.Lock() if self.engine.dialect.name == "sqlite" else nullcontext()
        self._read_engine: Engine | None = None
        self._read_lock = threading.Lock()

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._writer, self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A connection in a write transaction (as `transaction()`'s, without a session):
        committed at the end, rolled back on an exception (`chatbot.db.group`)."""
        with self._writer, self.engine.begin() as connection:
            yield connection

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only connection for reports: it takes no write lock and never waits on one."""
        engine = self.engine
        if self.engine.dialect.name == "sqlite":
            with self._read_lock:
                if self._read_engine is None:
                    self._read_engine = make_engine(self.url, pool_size=8, writer=False)
            engine = self._read_engine
        with engine.connect() as connection, connection.begin():
            yield connection

    def upgrade(self) -> None:
        upgrade(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
        if self._read_engine is not None:
            self._read_engine.dispose()


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or migrate the database to the latest schema (`chatbot db upgrade`), and see that
    the rollups' triggers are there (`rollups.ensure`)."""
    command.upgrade(alembic_config(engine), revision)
    if revision == "head":
        from chatbot.db import rollups

        with engine.begin() as conn:
            rollups.ensure(conn)
