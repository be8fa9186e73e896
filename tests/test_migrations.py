"""The migrated schema is exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from chatbot.db import Database
from chatbot.db.models import Base


def test_upgrade_matches_models(database_url: str) -> None:
    db = Database(database_url)
    db.upgrade()
    db.upgrade()  # idempotent
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    db.dispose()
    assert diff == []


def test_existing_outbox_people_and_alert_copies_are_carried_over(database_url: str) -> None:
    """A deployment upgraded from before addresses keeps its data: each delivery gets the kind
    of its destination, the conversation and message it landed in, every person an account,
    and an alert's copies stay the alert's (so `/techalert resolve` still edits every one)."""
    from datetime import UTC, datetime

    from sqlalchemy import select, text

    from chatbot import alerts, directory
    from chatbot.db import upgrade
    from chatbot.db.models import Account, Alert, Delivery, Person

    db = Database(database_url)
    upgrade(db.engine, "0007")
    at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO people (id, platform, user_id, name, department, first_seen, active)"
                " VALUES (1, 'slack', 'UALICE', 'Alice', 'Finance', :at, :yes),"
                " (2, 'slack', 'UGONE', 'Gone', NULL, :at, :no)"
            ),
            {"at": at, "yes": True, "no": False},
        )
        conn.execute(
            text(
                "INSERT INTO alerts (id, severity, message, author, platform, state, audience,"
                " created_at) VALUES (7, 'outage', 'Email is down', 'UADMIN', 'slack', 'active',"
                " '{}', :at)"
            ),
            {"at": at},
        )
        for id_, key, channel, action, sent in (
            (1, "alert:7:copy:CALERTS", "CALERTS", "post", ("CALERTS", "1.0001")),
            (2, "alert:7:copy:UALICE", "UALICE", "post", ("DALICE", "1.0002")),
            (3, "alert:7:resolved:1", "CALERTS", "update", None),
            (4, "home:UALICE", "UALICE", "home", ("UALICE", "home")),
        ):
            conn.execute(
                text(
                    "INSERT INTO deliveries (id, key, platform, action, channel, message, status,"
                    " attempts, not_before, in_doubt, rebuild, sent_channel, sent_ts, created_at,"
                    " batch) VALUES (:id, :key, 'slack', :action, :channel, '{}', :status, 1,"
                    " :at, :no, :no, :sent_channel, :sent_ts, :at, :batch)"
                ),
                {
                    "id": id_,
                    "key": key,
                    "action": action,
                    "channel": channel,
                    "status": "sent" if sent else "pending",
                    "at": at,
                    "no": False,
                    "sent_channel": sent[0] if sent else None,
                    "sent_ts": sent[1] if sent else None,
                    "batch": "alert:7" if ":copy:" in key else None,
                },
            )
    db.upgrade()
    with db.sessions() as session:
        rows = {d.id: d for d in session.scalars(select(Delivery))}
        assert [
            (d.address_kind, d.address_id, d.sent_conversation, d.message_id) for d in rows.values()
        ] == [
            ("channel", "CALERTS", "CALERTS", "1.0001"),
            ("person", "UALICE", "DALICE", "1.0002"),
            ("channel", "CALERTS", None, None),
            ("person", "UALICE", "UALICE", "home"),
        ]
        accounts = session.scalars(select(Account).order_by(Account.id)).all()
        assert [(a.person_id, a.platform, a.account_id, a.active) for a in accounts] == [
            (1, "slack", "UALICE", True),
            (2, "slack", "UGONE", False),
        ]
        assert session.get(Person, 1).department == "Finance"
        assert [str(a) for a in directory.reachable(session=session)] == ["slack:person:UALICE"]
        copies = alerts.copies(session=session, alert=session.get(Alert, 7))
        assert [(c.delivery_id, str(c.address)) for c in copies] == [
            (1, "slack:channel:CALERTS"),
            (2, "slack:person:UALICE"),
        ]
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    db.dispose()
    assert diff == []
