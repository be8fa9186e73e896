"""pulse reporting: indexes for the dashboard's pulse trends; homes built when sent

deliveries.rebuild marks an App Home out of date (built by its owner when it is sent), so that a
survey click refreshes the person's home with one UPDATE.

The dashboard finds the runs sent in its date range (survey_runs.sent_at) and counts their
answers per department and option from an index alone (run_id, department, option), which also
serves every look-up by run, so the plain run_id index goes: one index fewer to write per click.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("rebuild", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("survey_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_survey_runs_sent_at"), ["sent_at"], unique=False)
    with op.batch_alter_table("survey_answers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_survey_answers_run_department_option",
            ["run_id", "department", "option"],
            unique=False,
        )
        batch_op.drop_index(batch_op.f("ix_survey_answers_run_id"))


def downgrade() -> None:
    with op.batch_alter_table("survey_answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_survey_answers_run_id"), ["run_id"], unique=False)
        batch_op.drop_index("ix_survey_answers_run_department_option")
    with op.batch_alter_table("survey_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_runs_sent_at"))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("rebuild")
