"""Alembic environment: the engine is handed in by `chatbot.db.upgrade`, never read from a file."""

from alembic import context

from chatbot.db.models import Base

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # A batch migration copies a table and drops the old one: with foreign keys on, SQLite
        # refuses to drop a table others refer to (alerts, requests, surveys). As Alembic's
        # batch mode advises, they are off for the migration (a PRAGMA that only takes effect
        # outside a transaction, hence on the raw connection before it begins).
        connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        if sqlite:
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")
