"""questionnaire runs keep their items: `survey_runs.items`, the items as the run was sent

A YAML questionnaire's items may change between yearly runs (reworded, reordered, added,
dropped); its counts are per item index, so a closed run's results, and the change and trend of
each item (matched by its `id`), read them under the items the run was sent with. Null for a
pulse, and for runs sent before (read under their survey's items, as before).

Revision ID: 0018_questionnaire
Revises: 0017
Create Date: 2026-11-30 01:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_questionnaire"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("survey_runs") as batch:
        batch.add_column(sa.Column("items", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("survey_runs") as batch:
        batch.drop_column("items")
