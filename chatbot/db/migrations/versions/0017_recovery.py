"""recovery: a registry of live workers, claims that name their worker, a shared rate budget

A killed process's claims are taken over as soon as its heartbeat stops (`workers`, and
`claimed_by` on deliveries and the inbox) instead of when their lease runs out. A stored event
says what it is about for its person (`inbox.subject`: a newer click on the same survey makes an
older one unnecessary). Processes pace their posts from one budget (`rate_budgets`).

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29 22:00:00
"""

import sqlalchemy as sa
from alembic import op

import chatbot.db.models

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("started_at", chatbot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", chatbot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
    )
    op.create_table(
        "rate_budgets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("next_slot", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rate_budgets")),
    )
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("subject", sa.String(length=255), nullable=True))
        batch.create_index(batch.f("ix_inbox_subject"), ["subject"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.drop_index(batch.f("ix_inbox_subject"))
        batch.drop_column("subject")
        batch.drop_column("claimed_by")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("claimed_by")
    op.drop_table("rate_budgets")
    op.drop_table("workers")
