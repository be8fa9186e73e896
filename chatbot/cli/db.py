"""`chatbot db …`: the database schema."""

from __future__ import annotations

import click

from chatbot.cli.common import settings


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the latest schema."""
    from chatbot.db import Database

    database = Database(settings().database_url)
    database.upgrade()
    database.dispose()
    click.echo("database is at the latest schema")
