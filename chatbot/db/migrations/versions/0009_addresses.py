"""addresses and people: typed destinations in the outbox, accounts per platform, alert copies

The outbox speaks addresses: `deliveries.channel` becomes `address_kind` + `address_id` (and a
`thread_id` for thread addresses), `sent_channel`/`sent_ts` become `sent_conversation`/
`message_id`, all wide enough for Teams conversation ids. A person becomes one identity
(`people`) with an account per platform (`accounts`). An alert's copies are recorded in
`alert_copies` instead of being found by outbox keys. Existing rows are carried over: the kind
of an old delivery, never stored before, is read from its Slack id (a user id, U… or W…, or
an App Home, is a person), the only place that shape is ever looked at.

Revision ID: 0010
Revises: 0007
Create Date: 2026-11-29 16:00:00
"""

import sqlalchemy as sa
from alembic import op

import chatbot.db.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UTC = chatbot.db.models.UTCDateTime(timezone=True)
COPY = "alert:%:copy:%"


def upgrade() -> None:
    _deliveries()
    _people()
    _alert_copies()


def _deliveries() -> None:
    with op.batch_alter_table("deliveries", recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("address_kind", sa.String(16), nullable=False, server_default="channel")
        )
        batch_op.add_column(
            sa.Column("address_id", sa.String(512), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("thread_id", sa.String(512), nullable=True))
        batch_op.add_column(sa.Column("sent_conversation", sa.String(512), nullable=True))
        batch_op.add_column(sa.Column("message_id", sa.String(512), nullable=True))
    op.execute(
        "UPDATE deliveries SET address_id = channel, sent_conversation = sent_channel, "
        "message_id = sent_ts, address_kind = CASE WHEN action = 'home' "
        "OR channel LIKE 'U%' OR channel LIKE 'W%' THEN 'person' ELSE 'channel' END"
    )
    with op.batch_alter_table("deliveries", recreate="never") as batch_op:
        batch_op.drop_column("channel")
        batch_op.drop_column("sent_channel")
        batch_op.drop_column("sent_ts")
    if op.get_bind().dialect.name != "sqlite":  # SQLite keeps the defaults (it cannot drop them)
        op.alter_column("deliveries", "address_kind", server_default=None)
        op.alter_column("deliveries", "address_id", server_default=None)


def _people() -> None:
    bind = op.get_bind()
    people = sa.table(
        "people",
        sa.column("id", sa.Integer()),
        sa.column("platform", sa.String()),
        sa.column("user_id", sa.String()),
        sa.column("name", sa.String()),
        sa.column("first_seen", UTC),
        sa.column("active", sa.Boolean()),
        sa.column("synced_at", UTC),
    )
    old = bind.execute(sa.select(people).order_by(people.c.id)).all()
    with op.batch_alter_table("people", recreate="always") as batch_op:
        batch_op.drop_constraint("uq_people_platform", type_="unique")
        batch_op.drop_index("ix_people_active")
        batch_op.drop_column("platform")
        batch_op.drop_column("user_id")
        batch_op.drop_column("active")
        batch_op.drop_column("synced_at")
        batch_op.add_column(sa.Column("email", sa.String(320), nullable=True))
        batch_op.create_index("ix_people_email", ["email"], unique=True)
    accounts = op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.String(length=512), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("first_seen", UTC, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("synced_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_accounts_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("platform", "account_id", name=op.f("uq_accounts_platform")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounts_active"), ["active"], unique=False)
        batch_op.create_index(batch_op.f("ix_accounts_person_id"), ["person_id"], unique=False)
    if old:
        op.bulk_insert(
            accounts,
            [
                {
                    "person_id": row.id,
                    "platform": row.platform,
                    "account_id": row.user_id,
                    "name": row.name,
                    "first_seen": row.first_seen,
                    "active": bool(row.active),
                    "synced_at": row.synced_at,
                }
                for row in old
            ],
        )


def _alert_copies() -> None:
    copies = op.create_table(
        "alert_copies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("address_id", sa.String(length=512), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_alert_copies_alert_id_alerts")
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["deliveries.id"], name=op.f("fk_alert_copies_delivery_id_deliveries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_copies")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_alert_copies_delivery_id")),
    )
    with op.batch_alter_table("alert_copies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_copies_alert_id"), ["alert_id"], unique=False)
    rows = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT d.id, d.key, d.platform, d.address_kind, d.address_id FROM deliveries d "
                "WHERE d.action = 'post' AND d.key LIKE :copy ORDER BY d.id"
            ),
            {"copy": COPY},
        )
        .all()
    )
    alert_ids = {row[0] for row in op.get_bind().execute(sa.text("SELECT id FROM alerts")).all()}
    found = []
    for row in rows:
        number = row.key.split(":")[1]
        if number.isdigit() and int(number) in alert_ids:
            found.append(
                {
                    "alert_id": int(number),
                    "delivery_id": row.id,
                    "platform": row.platform,
                    "kind": row.address_kind,
                    "address_id": row.address_id,
                }
            )
    if found:
        op.bulk_insert(copies, found)


def downgrade() -> None:
    op.drop_table("alert_copies")
    bind = op.get_bind()
    table = sa.table(
        "accounts",
        sa.column("id", sa.Integer()),
        sa.column("person_id", sa.Integer()),
        sa.column("platform", sa.String()),
        sa.column("account_id", sa.String()),
        sa.column("active", sa.Boolean()),
        sa.column("synced_at", UTC),
    )
    accounts = bind.execute(sa.select(table).order_by(table.c.id)).all()
    op.drop_table("accounts")
    with op.batch_alter_table("people", recreate="always") as batch_op:
        batch_op.drop_index("ix_people_email")
        batch_op.drop_column("email")
        batch_op.add_column(
            sa.Column("platform", sa.String(16), nullable=False, server_default="slack")
        )
        batch_op.add_column(sa.Column("user_id", sa.String(64), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("synced_at", UTC, nullable=True))
    seen: set[int] = set()
    for row in accounts:  # one account per person goes back (the first)
        if row.person_id in seen:
            continue
        seen.add(row.person_id)
        bind.execute(
            sa.text(
                "UPDATE people SET platform = :platform, user_id = :account, active = :active, "
                "synced_at = :synced WHERE id = :id"
            ),
            {
                "platform": row.platform,
                "account": row.account_id,
                "active": row.active,
                "synced": row.synced_at,
                "id": row.person_id,
            },
        )
    with op.batch_alter_table("people", recreate="always") as batch_op:
        batch_op.create_unique_constraint("uq_people_platform", ["platform", "user_id"])
        batch_op.create_index("ix_people_active", ["active"], unique=False)
    with op.batch_alter_table("deliveries", recreate="never") as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("sent_channel", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("sent_ts", sa.String(32), nullable=True))
    op.execute(
        "UPDATE deliveries SET channel = address_id, sent_channel = sent_conversation, "
        "sent_ts = message_id"
    )
    with op.batch_alter_table("deliveries", recreate="never") as batch_op:
        batch_op.drop_column("address_kind")
        batch_op.drop_column("address_id")
        batch_op.drop_column("thread_id")
        batch_op.drop_column("sent_conversation")
        batch_op.drop_column("message_id")
