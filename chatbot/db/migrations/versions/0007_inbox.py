"""inbox: events stored before their ack and handled after it

A survey click is acknowledged once it is stored here (one commit for every click waiting at
that moment); the inbox worker records the answer and replies after the ack. A row is deleted in
the transaction that handles it, so the table holds only what is still to do.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 19:00:00
"""

import sqlalchemy as sa
from alembic import op

import chatbot.db.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("received_at", chatbot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", chatbot.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("key", name=op.f("uq_inbox_key")),
    )


def downgrade() -> None:
    op.drop_table("inbox")
