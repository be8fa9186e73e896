"""The migrated schema is exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
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
