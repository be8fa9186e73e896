"""The migrated schema is exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from chatbot.db import Database
from chatbot.db.models import Base
from chatbot.search import DATABASE_OWN, POSTGRES_INDEX, SQLITE_INDEX_TABLES

# Every test here migrates an empty database itself.
pytestmark = pytest.mark.empty_database


def _context(conn: Connection) -> MigrationContext:
    """The full-text index is the database's own (SQLite: a virtual table and its shadow
    tables; PostgreSQL: an expression index), which no model describes: checked to exist."""
    return MigrationContext.configure(
        conn, opts={"include_name": lambda name, kind, _: name not in DATABASE_OWN}
    )


def test_upgrade_matches_models(database_url: str) -> None:
    db = Database(database_url)
    db.upgrade()
    db.upgrade()  # idempotent
    with db.engine.connect() as conn:
        diff = compare_metadata(_context(conn), Base.metadata)
        tables = set(inspect(conn).get_table_names())
        indexes = {i["name"] for i in inspect(conn).get_indexes("search_documents")}
    db.dispose()
    assert diff == []
    if database_url.startswith("sqlite"):
        assert tables >= SQLITE_INDEX_TABLES
    else:
        assert POSTGRES_INDEX in indexes


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
        diff = compare_metadata(_context(conn), Base.metadata)
    db.dispose()
    assert diff == []


def test_0008_turns_answers_into_counts_and_keeps_who_answered(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Old answer rows become counts, recipients (answered: found by the old keyed hash) and
    a comment row without a name; the old table and its hashes are gone."""
    import hashlib
    import hmac

    from sqlalchemy import inspect, text

    from chatbot.db import upgrade

    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s3")
    db = Database(database_url)
    upgrade(db.engine, "0007")
    key = hmac.new(b"s3", b"techhelp-pulse", hashlib.sha256).digest()
    hashed = hmac.new(key, b"respondent:1:U1", hashlib.sha256).hexdigest()
    at = "2026-01-01 00:00:00+00:00"
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "insert into surveys (id, question, options, scale, audience, timezone, "
                "anonymous, close_hours, author, platform, source, active, created_at) values "
                "(1, 'Q', :o, true, '{}', 'UTC', true, 72, 'A', 'slack', 'command', true, :at)"
            ),
            {"o": '["1","2","3","4","5"]', "at": at},
        )
        conn.execute(
            text(
                "insert into survey_runs (id, survey_id, scheduled_for, state, sent_at, "
                "recipients, recipients_by_department, held_back) values "
                "(1, 1, :at, 'open', :at, 3, :d, 0)"
            ),
            {"at": at, "d": '{"Fin": 2, "": 1}'},
        )
        for user, department in [("U1", "Fin"), ("U2", "Fin"), ("U3", None)]:
            conn.execute(
                text(
                    "insert into people (platform, user_id, department, first_seen, active) "
                    "values ('slack', :u, :d, :at, true)"
                ),
                {"u": user, "d": department, "at": at},
            )
            conn.execute(
                text(
                    "insert into deliveries (key, platform, action, channel, message, status, "
                    "attempts, in_doubt, rebuild, created_at, not_before) values "
                    "(:k, 'slack', 'post', :u, '{}', 'sent', 1, false, false, :at, :at)"
                ),
                {"k": f"survey-run:1:to:{user}", "u": user, "at": at},
            )
        conn.execute(
            text(
                "insert into survey_answers (run_id, respondent_key, user_id, department, option, "
                "comment, answered_at) values (1, :k, null, 'Fin', 3, 'nice', :at)"
            ),
            {"k": hashed, "at": at},
        )
    db.upgrade()
    with db.engine.connect() as conn:
        recipients = conn.execute(
            text("select user_id, department, version, option from survey_recipients")
        ).all()
        counted = conn.execute(
            text("select department, option, count from survey_tallies where count > 0")
        ).all()
        comments = conn.execute(text("select comments from survey_comments")).scalar_one()
        tables = inspect(conn).get_table_names()
    db.dispose()
    assert sorted(tuple(r) for r in recipients) == [
        ("U1", "Fin", 1, None),
        ("U2", "Fin", 0, None),
        ("U3", "", 0, None),
    ]
    assert [tuple(r) for r in counted] == [("Fin", 3, 1)]
    assert "nice" in str(comments) and "U1" not in str(comments)
    assert "survey_answers" not in tables
