"""identity: account ids as long as Teams' wherever a table names a person

Teams account ids (Entra object ids, Bot Framework `29:…` ids) and conversation ids are longer
than Slack's: every column that holds a platform's id of a person and was 64 characters becomes
255 (requests' requester, logger and assignee, request events' actor, ratings' rater,
interactions' user, "I'm affected" votes, alert and survey authors, survey recipients).

A survey reaches people on every platform: each recipient row says the platform of its account
(`survey_recipients.platform`; rows from before, the survey's platform, where all its copies went).

People are named in the configuration by e-mail as well as by id: each account keeps the e-mail its
platform's directory gives it (`accounts.email`, indexed).

The intake KPI counts each platform as its own channel, and a message to the bot on a platform
that also has the command (Slack's Messages tab) as that platform's "DM": `requests.by_message`.

Revision ID: 0011
Revises: 0009
Create Date: 2026-11-29 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
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
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(320), nullable=True))
        batch_op.create_index("ix_accounts_email", ["email"], unique=False)
    with op.batch_alter_table("requests") as batch_op:
        batch_op.add_column(
            sa.Column("by_message", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("requests", "by_message", server_default=None)
    with op.batch_alter_table("survey_recipients") as batch_op:
        batch_op.add_column(
            sa.Column("platform", sa.String(16), nullable=False, server_default="slack")
        )
    op.execute(
        "UPDATE survey_recipients SET platform = (SELECT s.platform FROM survey_runs r "
        "JOIN surveys s ON s.id = r.survey_id WHERE r.id = survey_recipients.run_id)"
    )
    if op.get_bind().dialect.name != "sqlite":  # SQLite keeps the default (it cannot drop it)
        op.alter_column("survey_recipients", "platform", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch_op:
        batch_op.drop_column("by_message")
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.drop_index("ix_accounts_email")
        batch_op.drop_column("email")
    with op.batch_alter_table("survey_recipients") as batch_op:
        batch_op.drop_column("platform")
    _resize(255, 64)
