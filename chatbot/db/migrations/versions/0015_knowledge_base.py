"""knowledge base: a full-text index, articles, suggestions and lookups

`search_documents` holds what capabilities want found (`chatbot.search`), indexed by the
database itself: on SQLite an FTS5 external-content table `search_fts` (Porter stemming,
diacritics folded) kept in step by triggers; on PostgreSQL an expression GIN index over weighted
English `tsvector`s (the expression is `chatbot.search.PG_VECTOR`, the one every query uses).
`kb_articles` are the self-service answers, `kb_suggestions` what was suggested with a request
and whether it solved it, `kb_lookups` every search and what it found (the content gaps).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 21:45:00
"""

import sqlalchemy as sa
from alembic import op

import chatbot.db.models

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UTC = chatbot.db.models.UTCDateTime(timezone=True)

# Frozen here (not imported) so that a later change of the query cannot change this migration.
PG_VECTOR = (
    "(setweight(to_tsvector('english'::regconfig, title), 'A') || "
    "setweight(to_tsvector('english'::regconfig, keywords), 'A') || "
    "setweight(to_tsvector('english'::regconfig, body), 'D'))"
)
SQLITE_FTS = (
    "CREATE VIRTUAL TABLE search_fts USING fts5(kind, title, keywords, body, "
    "content='search_documents', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER search_documents_ai AFTER INSERT ON search_documents BEGIN "
    "INSERT INTO search_fts(rowid, kind, title, keywords, body) "
    "VALUES (new.id, new.kind, new.title, new.keywords, new.body); END",
    "CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, kind, title, keywords, body) "
    "VALUES ('delete', old.id, old.kind, old.title, old.keywords, old.body); END",
    "CREATE TRIGGER search_documents_au AFTER UPDATE ON search_documents BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, kind, title, keywords, body) "
    "VALUES ('delete', old.id, old.kind, old.title, old.keywords, old.body); "
    "INSERT INTO search_fts(rowid, kind, title, keywords, body) "
    "VALUES (new.id, new.kind, new.title, new.keywords, new.body); END",
)


def upgrade() -> None:
    op.create_table(
        "search_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("keywords", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_documents")),
        sa.UniqueConstraint("kind", "key", name=op.f("uq_search_documents_kind")),
    )
    op.create_index("ix_search_documents_kind_updated", "search_documents", ["kind", "updated_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE INDEX ix_search_documents_fts ON search_documents USING gin ({PG_VECTOR})"
        )
    else:
        for statement in SQLITE_FTS:
            op.execute(statement)
    op.create_table(
        "kb_articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(255), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("service", sa.String(100), nullable=True),
        sa.Column("digest", sa.String(64), nullable=True),
        sa.Column("from_request_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(255), nullable=True),
        sa.Column("published_by", sa.String(255), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["from_request_id"],
            ["requests.id"],
            name=op.f("fk_kb_articles_from_request_id_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_articles")),
        sa.UniqueConstraint("slug", name=op.f("uq_kb_articles_slug")),
    )
    op.create_index(op.f("ix_kb_articles_state"), "kb_articles", ["state"])
    op.create_table(
        "kb_suggestions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("shown_at", UTC, nullable=True),
        sa.Column("solved_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_kb_suggestions_request_id_requests")
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["kb_articles.id"],
            name=op.f("fk_kb_suggestions_article_id_kb_articles"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_suggestions")),
        sa.UniqueConstraint("request_id", "article_id", name=op.f("uq_kb_suggestions_request_id")),
    )
    op.create_index(op.f("ix_kb_suggestions_request_id"), "kb_suggestions", ["request_id"])
    op.create_index(op.f("ix_kb_suggestions_article_id"), "kb_suggestions", ["article_id"])
    op.create_index(op.f("ix_kb_suggestions_created_at"), "kb_suggestions", ["created_at"])
    op.create_index(op.f("ix_kb_suggestions_solved_at"), "kb_suggestions", ["solved_at"])
    op.create_table(
        "kb_lookups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("department", sa.String(100), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("found", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_kb_lookups_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_lookups")),
    )
    op.create_index(op.f("ix_kb_lookups_at"), "kb_lookups", ["at"])


def downgrade() -> None:
    op.drop_table("kb_lookups")
    op.drop_table("kb_suggestions")
    op.drop_table("kb_articles")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_search_documents_fts")
    else:
        for name in ("search_documents_ai", "search_documents_ad", "search_documents_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_table("search_documents")
