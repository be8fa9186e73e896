"""Insert-or-ignore on a unique key, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from chatbot.db.models import Base


def insert_ignore(session: Session, model: type[Base], **values: Any) -> Any:
    """Insert a row unless one with the same unique key exists; its primary key, or None."""
    connection = session.connection()  # Core on the session's connection: no ORM overhead
    return connection.execute(_statement(connection.dialect.name, model), values).scalar()


def insert_ignore_many(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """`insert_ignore` for many rows in one executemany (a broadcast's thousands of copies)."""
    if rows:
        connection = session.connection()
        connection.execute(_statement(connection.dialect.name, model, returning=False), rows)


@cache
def _statement(dialect: str, model: type[Base], *, returning: bool = True) -> Any:
    """Built once per model: constructing statements per call costs more than running them."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = model.__table__  # Core, not the ORM's bulk path: several times cheaper per row
    # RETURNING, not rowcount: psycopg reports no rowcount for INSERT … ON CONFLICT DO NOTHING.
    statement = insert(table).on_conflict_do_nothing()
    if not returning:
        return statement
    return statement.returning(next(iter(table.primary_key.columns)))
