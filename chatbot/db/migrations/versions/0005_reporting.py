"""reporting: indexes for the dashboard, the report, the digest and App Home

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 14:30:00
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_requests_department_created", ["department", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_requests_requester_updated", ["requester", "updated_at"], unique=False
        )
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ratings_rated_at"), ["rated_at"], unique=False)
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_created_at"))
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ratings_rated_at"))
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index("ix_requests_requester_updated")
        batch_op.drop_index("ix_requests_department_created")
