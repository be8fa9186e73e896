"""weekly rollups: the dashboard's figures kept up to date as data arrives

A dashboard page over 100x the requests in the same weeks scanned 100x the rows. The figures it
shows (volume per week, intake, totals, ratings, open requests, response and resolution times)
are now kept in rollup tables by triggers on `requests` and `ratings`, in each writer's own
transaction (`chatbot.db.rollups`), and filled here from the rows already stored.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 22:00:00
"""

import sqlalchemy as sa
from alembic import op

from chatbot.db import rollups

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _day() -> sa.Column:
    return sa.Column("day", sa.String(10), nullable=False)


def _department() -> sa.Column:
    return sa.Column("department", sa.String(100), nullable=False)


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "rollup_request_categories",
        _day(),
        _department(),
        sa.Column("category", sa.String(100), nullable=False),
        _count("requests"),
        sa.PrimaryKeyConstraint(
            "day", "department", "category", name="pk_rollup_request_categories"
        ),
    )
    op.create_table(
        "rollup_request_intake",
        _day(),
        _department(),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("intake_channel", sa.String(16), nullable=False),
        sa.Column("by_message", sa.Boolean(), nullable=False),
        _count("requests"),
        _count("resolved"),
        _count("rated"),
        sa.PrimaryKeyConstraint(
            "day",
            "department",
            "platform",
            "intake_channel",
            "by_message",
            name="pk_rollup_request_intake",
        ),
    )
    op.create_table(
        "rollup_request_states",
        _department(),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        _count("requests"),
        sa.PrimaryKeyConstraint("department", "state", "tier", name="pk_rollup_request_states"),
    )
    op.create_table(
        "rollup_ratings",
        _day(),
        _department(),
        _count("ratings"),
        _count("score"),
        sa.PrimaryKeyConstraint("day", "department", name="pk_rollup_ratings"),
    )
    op.create_table(
        "rollup_durations",
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        _department(),
        sa.Column("start", sa.String(10), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        _count("requests"),
        sa.PrimaryKeyConstraint(
            "period",
            "scope",
            "department",
            "start",
            "urgency",
            "kind",
            "minutes",
            name="pk_rollup_durations",
        ),
    )
    conn = op.get_bind()
    rollups.create_triggers(conn)
    rollups.rebuild(conn)


def downgrade() -> None:
    rollups.drop_triggers(op.get_bind())
    for table in reversed(rollups.ROLLUP_TABLES):
        op.drop_table(table)
