"""identity: account ids as long as Teams' wherever a table names a person

Teams account ids (Entra object ids, Bot Framework `29:…` ids) and conversation ids are longer
than Slack's: every column that holds a platform's id of a person and was 64 characters becomes
255 (requests' requester, logger and assignee, request events' actor, ratings' rater,
interactions' user, "I'm affected" votes, alert and survey authors, survey recipients).

Revision ID: 0011
Revises: 0009
Create Date: 2026-11-29 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None

# (table, column, nullable) of every column widened from 64 to 255 characters.
WIDENED: tuple[tuple[str, str, bool], ...] = (
    ("requests", "requester", False),
    ("requests", "logged_by", True),
    ("requests", "assignee", True),
    ("request_events", "actor", False),
    ("ratings", "rater", False),
    ("interactions", "user_id", False),
    ("affected_votes", "user_id", False),
    ("alerts", "author", False),
    ("surveys", "author", False),
    ("survey_recipients", "user_id", False),
)


def _resize(length_from: int, length_to: int) -> None:
    tables: dict[str, list[tuple[str, bool]]] = {}
    for table, column, nullable in WIDENED:
        tables.setdefault(table, []).append((column, nullable))
    for table, columns in tables.items():
        with op.batch_alter_table(table) as batch_op:  # SQLite: the table is copied
            for column, nullable in columns:
                batch_op.alter_column(
                    column,
                    existing_type=sa.String(length_from),
                    type_=sa.String(length_to),
                    existing_nullable=nullable,
                )


def upgrade() -> None:
    _resize(64, 255)


def downgrade() -> None:
    _resize(255, 64)
