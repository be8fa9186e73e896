"""Microsoft Teams: conversation references for proactive messages, and the journal of sends

`teams_conversations` keeps what Teams gives a bot once (a person's 1:1 conversation and Bot
Framework id, a channel's or team's conversation, and the serviceUrl to reach it), recorded from
installationUpdate, conversationUpdate and messages. `teams_sends` records where each Teams post
landed the moment the Bot Connector answers, so a send whose outcome the outbox had not recorded
yet (a crash) is not posted twice.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 19:00:00
"""

import sqlalchemy as sa
from alembic import op

import chatbot.db.models

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UTC = chatbot.db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "teams_conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(512), nullable=False),
        sa.Column("conversation_id", sa.String(512), nullable=False),
        sa.Column("service_url", sa.String(512), nullable=False),
        sa.Column("tenant_id", sa.String(128), nullable=True),
        sa.Column("user_id", sa.String(512), nullable=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("installed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams_conversations")),
        sa.UniqueConstraint("kind", "ref", name=op.f("uq_teams_conversations_kind")),
    )
    op.create_table(
        "teams_sends",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("conversation_id", sa.String(512), nullable=False),
        sa.Column("activity_id", sa.String(512), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_teams_sends")),
    )


def downgrade() -> None:
    op.drop_table("teams_sends")
    op.drop_table("teams_conversations")
