"""anonymity: answers as counts, recipients without answers, comments without order

`survey_answers` kept a row per answer, with ids and a keyed hash of the person: sorted by id it
paired with the interaction log, and whoever held the signing secret could recompute the hash.
It is replaced by `survey_tallies` (counts per run, department and option), `survey_recipients`
(who was sent a run, and whether they answered: never what) and `survey_comments` (one row per
run, its comments keyed by a random ballot token). The old rows are converted, then dropped.

Runs open during the upgrade: who had answered an anonymous run is found by recomputing the old
keyed hash for each recipient with the key (`SLACK_SIGNING_SECRET`, else the stored one); their
old thank-you buttons are no longer valid, so changing such an answer is not possible.
Downgrading recreates an empty `survey_answers`: the counts cannot be turned back into rows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 16:00:00
"""

import hashlib
import hmac
import json
import os
import secrets
from collections import Counter
from typing import Any

import sqlalchemy as sa
from alembic import op

import chatbot.db.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "survey_recipients",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("option", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["survey_runs.id"], name=op.f("fk_survey_recipients_run_id_survey_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", "user_id", name=op.f("pk_survey_recipients")),
    )
    op.create_table(
        "survey_tallies",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("option", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["survey_runs.id"], name=op.f("fk_survey_tallies_run_id_survey_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", "department", "option", name=op.f("pk_survey_tallies")),
    )
    op.create_table(
        "survey_comments",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("comments", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["survey_runs.id"], name=op.f("fk_survey_comments_run_id_survey_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_survey_comments")),
    )
    _convert(op.get_bind())
    with op.batch_alter_table("survey_answers", schema=None) as batch_op:
        batch_op.drop_index("ix_survey_answers_run_department_option")
    op.drop_table("survey_answers")


def _old_key(conn: sa.Connection) -> bytes | None:
    secret = os.environ.get("SLACK_SIGNING_SECRET")
    if secret:
        return hmac.new(secret.encode(), b"techhelp-pulse", hashlib.sha256).digest()
    stored = conn.execute(
        sa.text("SELECT value FROM secrets WHERE name = 'pulse-hmac'")
    ).scalar_one_or_none()
    return bytes.fromhex(stored) if stored else None


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _convert(conn: sa.Connection) -> None:
    runs = conn.execute(
        sa.text(
            "SELECT r.id, r.recipients_by_department, s.options, s.anonymous "
            "FROM survey_runs r JOIN surveys s ON s.id = r.survey_id "
            "WHERE r.state IN ('open', 'closed')"
        )
    ).all()
    key = _old_key(conn)
    for run_id, by_department, options, anonymous in runs:
        answers = conn.execute(
            sa.text(
                "SELECT respondent_key, user_id, department, option, comment "
                "FROM survey_answers WHERE run_id = :r"
            ),
            {"r": run_id},
        ).all()
        counts = Counter((department or "", option) for _, _, department, option, _ in answers)
        departments = set(_json(by_department) or {}) | {d for d, _ in counts} | {""}
        tallies = [
            {"r": run_id, "d": d, "o": o, "n": counts[(d, o)]}
            for d in sorted(departments)
            for o in range(len(_json(options)))
        ]
        conn.execute(
            sa.text("INSERT INTO survey_tallies VALUES (:r, :d, :o, :n)"),
            tallies,
        )
        comments = {
            secrets.token_hex(16): {"text": comment, "user": None if anonymous else user}
            for _, user, _, _, comment in answers
            if comment
        }
        if comments:
            conn.execute(
                sa.text("INSERT INTO survey_comments VALUES (:r, :c)"),
                {"r": run_id, "c": json.dumps(dict(sorted(comments.items())))},
            )
        prefix = f"survey-run:{run_id}:to:"
        users = conn.execute(
            sa.text(
                "SELECT d.channel, p.department FROM deliveries d "
                "LEFT JOIN people p ON p.user_id = d.channel AND p.platform = d.platform "
                "WHERE d.key LIKE :k"
            ),
            {"k": prefix + "%"},
        ).all()
        named = {user: option for _, user, _, option, _ in answers if user}
        keys = {respondent for respondent, *_ in answers}
        recipients = []
        for user, department in users:
            if anonymous:
                hashed = (
                    hmac.new(
                        key, f"respondent:{run_id}:{user}".encode(), hashlib.sha256
                    ).hexdigest()
                    if key
                    else None
                )
                version, option = (1 if hashed in keys else 0), None
            else:
                version, option = (1 if user in named else 0), named.get(user)
            recipients.append(
                {"r": run_id, "u": user, "d": department or "", "v": version, "o": option}
            )
        if recipients:
            conn.execute(
                sa.text("INSERT INTO survey_recipients VALUES (:r, :u, :d, :v, :o)"),
                recipients,
            )


def downgrade() -> None:
    op.create_table(
        "survey_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("respondent_key", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("department", sa.String(length=100), nullable=True),
        sa.Column("option", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("answered_at", chatbot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["survey_runs.id"], name=op.f("fk_survey_answers_run_id_survey_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_answers")),
        sa.UniqueConstraint("run_id", "respondent_key", name=op.f("uq_survey_answers_run_id")),
    )
    with op.batch_alter_table("survey_answers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_survey_answers_run_department_option",
            ["run_id", "department", "option"],
            unique=False,
        )
    op.drop_table("survey_comments")
    op.drop_table("survey_tallies")
    op.drop_table("survey_recipients")
