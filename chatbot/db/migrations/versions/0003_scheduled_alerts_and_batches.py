"""scheduled alerts and delivery batches

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 14:20:00
"""

import sqlalchemy as sa
from alembic import op

import chatbot.db.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC = chatbot.db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("post_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("starts_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("window_noted_at", UTC, nullable=True))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("batch", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_deliveries_batch"), ["batch"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_batch"))
        batch_op.drop_column("batch")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("window_noted_at")
        batch_op.drop_column("starts_at")
        batch_op.drop_column("post_at")
