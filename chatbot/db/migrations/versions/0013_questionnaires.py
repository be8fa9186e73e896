"""questionnaires: surveys with several items, answers counted per item

A survey may hold a list of items (`surveys.items`, JSON; null for a one-question pulse). Each
answer count says which item it counts (`survey_tallies.item`, part of the key; 0 for the
one-question pulses, so every existing count keeps its meaning).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _tallies(key: list[str]) -> None:
    """`survey_tallies` made again with `key` as its primary key, its counts kept: the count
    stays the last column (the table's layout is the same on SQLite and PostgreSQL)."""
    with_item = "item" in key
    op.create_table(
        "survey_tallies",
        sa.Column("run_id", sa.Integer(), nullable=False),
        *([sa.Column("item", sa.Integer(), nullable=False)] if with_item else []),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("option", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["survey_runs.id"], name=op.f("fk_survey_tallies_run_id_survey_runs")
        ),
        sa.PrimaryKeyConstraint(*key, name=op.f("pk_survey_tallies")),
    )


def upgrade() -> None:
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("items", sa.JSON(), nullable=True))
    op.rename_table("survey_tallies", "survey_tallies_0011")
    op.execute("CREATE TABLE survey_counts_0011 AS SELECT * FROM survey_tallies_0011")
    op.drop_table("survey_tallies_0011")
    _tallies(["run_id", "item", "department", "option"])
    op.execute(
        "INSERT INTO survey_tallies (run_id, item, department, option, count)"
        " SELECT run_id, 0, department, option, count FROM survey_counts_0011"
    )
    op.drop_table("survey_counts_0011")


def downgrade() -> None:
    op.execute(
        "CREATE TABLE survey_counts_0014 AS SELECT run_id, department, option, count"
        " FROM survey_tallies WHERE item = 0"
    )
    op.drop_table("survey_tallies")
    _tallies(["run_id", "department", "option"])
    op.execute(
        "INSERT INTO survey_tallies (run_id, department, option, count)"
        " SELECT run_id, department, option, count FROM survey_counts_0014"
    )
    op.drop_table("survey_counts_0014")
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.drop_column("items")
