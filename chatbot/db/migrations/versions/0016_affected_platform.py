"""affected platform: each "I'm affected" vote says the platform of the person's account

Everyone who followed an alert or said they were affected is told personally when it is
resolved, on their platform: `affected_votes.platform`. Votes from before are given the platform
the interaction log records for that person's click (else left empty: the alert's platform).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("affected_votes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("platform", sa.String(length=16), nullable=True))
    op.execute(
        "UPDATE affected_votes SET platform = (SELECT MIN(interactions.platform) "
        "FROM interactions WHERE interactions.user_id = affected_votes.user_id "
        "AND interactions.name IN ('techalert.affected', 'techalert.follow'))"
    )


def downgrade() -> None:
    with op.batch_alter_table("affected_votes", schema=None) as batch_op:
        batch_op.drop_column("platform")
