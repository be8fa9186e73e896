"""liaison: the client liaison program's check-ins, asks, follow-ups and briefings

`liaison_meetings` holds each recorded check-in with a department (IT's notes), `liaison_asks`
what the department plans or asks for, each with a theme, `liaison_follow_ups` the follow-ups
with their owner, due date, reminder and completion, and `liaison_briefings` one row per
(department, check-in due date) whose briefing was stored, so the clock sends it once.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 22:00:00
"""

import sqlalchemy as sa
from alembic import op

import chatbot.db.models

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UTC = chatbot.db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "liaison_meetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(100), nullable=False),
        sa.Column("met_on", sa.Date(), nullable=False),
        sa.Column("attendees", sa.Text(), nullable=False),
        sa.Column("discussed", sa.Text(), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("recorded_by", sa.String(255), nullable=False),
        sa.Column("recorded_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_liaison_meetings")),
    )
    op.create_index(
        "ix_liaison_meetings_department_met", "liaison_meetings", ["department", "met_on"]
    )
    op.create_table(
        "liaison_asks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(100), nullable=False),
        sa.Column("met_on", sa.Date(), nullable=False),
        sa.Column("theme", sa.String(100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["liaison_meetings.id"],
            name=op.f("fk_liaison_asks_meeting_id_liaison_meetings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_liaison_asks")),
    )
    op.create_index(op.f("ix_liaison_asks_meeting_id"), "liaison_asks", ["meeting_id"])
    op.create_index(op.f("ix_liaison_asks_department"), "liaison_asks", ["department"])
    op.create_index(op.f("ix_liaison_asks_met_on"), "liaison_asks", ["met_on"])
    op.create_table(
        "liaison_follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(512), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("reminded_at", UTC, nullable=True),
        sa.Column("done_at", UTC, nullable=True),
        sa.Column("done_by", sa.String(255), nullable=True),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["liaison_meetings.id"],
            name=op.f("fk_liaison_follow_ups_meeting_id_liaison_meetings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_liaison_follow_ups")),
    )
    op.create_index(op.f("ix_liaison_follow_ups_meeting_id"), "liaison_follow_ups", ["meeting_id"])
    op.create_index(op.f("ix_liaison_follow_ups_department"), "liaison_follow_ups", ["department"])
    op.create_index("ix_liaison_follow_ups_open_due", "liaison_follow_ups", ["done_at", "due_on"])
    op.create_table(
        "liaison_briefings",
        sa.Column("department", sa.String(100), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("sent_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("department", "due_on", name=op.f("pk_liaison_briefings")),
    )


def downgrade() -> None:
    op.drop_table("liaison_briefings")
    op.drop_index("ix_liaison_follow_ups_open_due", table_name="liaison_follow_ups")
    op.drop_index(op.f("ix_liaison_follow_ups_department"), table_name="liaison_follow_ups")
    op.drop_index(op.f("ix_liaison_follow_ups_meeting_id"), table_name="liaison_follow_ups")
    op.drop_table("liaison_follow_ups")
    op.drop_index(op.f("ix_liaison_asks_met_on"), table_name="liaison_asks")
    op.drop_index(op.f("ix_liaison_asks_department"), table_name="liaison_asks")
    op.drop_index(op.f("ix_liaison_asks_meeting_id"), table_name="liaison_asks")
    op.drop_table("liaison_asks")
    op.drop_index("ix_liaison_meetings_department_met", table_name="liaison_meetings")
    op.drop_table("liaison_meetings")
