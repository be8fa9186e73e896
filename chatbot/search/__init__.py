"""Full-text search in the bot's own database, behind one small interface.

A *document* has a kind (what owns it: "kb" for knowledge-base articles; later e.g. liaison
notes), a key unique within its kind, a title, a body and keywords. `put` stores or replaces one,
`remove` drops it, `search` returns the best matches of one kind for a list of words.

The index is the database's own: SQLite's FTS5 (an external-content table kept in step with
`search_documents` by triggers, ranked by `bm25()` with the title and keywords weighted above the
body) or PostgreSQL's full-text search (an expression GIN index over weighted `tsvector`s,
queried with `websearch_to_tsquery`, ranked by `ts_rank`). Both stem English words themselves.
What a capability does with the candidates (re-ranking, a confidence cut-off) is its own affair:
see `chatbot.kb.scorer`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from chatbot.db.models import SearchDocument

# SQLite's FTS5 index and the tables it keeps its data in: the database's own, not the models'.
SQLITE_INDEX_TABLES = frozenset(
    {"search_fts", "search_fts_data", "search_fts_idx", "search_fts_docsize", "search_fts_config"}
)
# PostgreSQL's: an expression index, which models cannot describe either.
POSTGRES_INDEX = "ix_search_documents_fts"
DATABASE_OWN = SQLITE_INDEX_TABLES | {POSTGRES_INDEX}
# Title and keywords weigh three times the body, on both databases.
TITLE_WEIGHT = 3.0
KEYWORDS_WEIGHT = 3.0
BODY_WEIGHT = 1.0
# The words of one query given to the index: a message longer than this is cut (its first words).
MAX_TERMS = 64
_WORD = re.compile(r"[^\W_]+", re.UNICODE)

# The PostgreSQL document: the same expression in the migration's index and in every query, so
# the index is used. Weights A (title, keywords) and D (body); `ts_rank`'s weights below.
PG_VECTOR = (
    "(setweight(to_tsvector('english'::regconfig, title), 'A') || "
    "setweight(to_tsvector('english'::regconfig, keywords), 'A') || "
    "setweight(to_tsvector('english'::regconfig, body), 'D'))"
)
# {D, C, B, A} weights of `ts_rank`: body 1/3 of the title's, as on SQLite.
PG_RANK_WEIGHTS = "'{0.33, 0.5, 0.5, 1.0}'"


@dataclass(frozen=True)
class Document:
    kind: str
    key: str
    title: str
    body: str
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    """A match: higher `score` is better (the database's own measure, comparable within one
    search only)."""

    kind: str
    key: str
    title: str
    score: float


def words(text_: str) -> list[str]:
    """The words of a text as the index sees them (letters and digits), lower-cased."""
    return [w.lower() for w in _WORD.findall(text_)]


def put(session: Session, *, document: Document, now: datetime) -> None:
    """Store a document, or replace the one of the same kind and key."""
    values = {
        "title": document.title,
        "body": document.body,
        "keywords": " ; ".join(document.keywords),
        "updated_at": now,
    }
    row = session.scalars(
        select(SearchDocument).where(
            SearchDocument.kind == document.kind, SearchDocument.key == document.key
        )
    ).first()
    if row is None:
        session.add(SearchDocument(kind=document.kind, key=document.key, **values))
    else:
        for name, value in values.items():
            setattr(row, name, value)
    session.flush()


def remove(session: Session, *, kind: str, key: str) -> bool:
    """Drop a document from the index; whether there was one."""
    result = session.execute(
        delete(SearchDocument).where(SearchDocument.kind == kind, SearchDocument.key == key)
    )
    return bool(getattr(result, "rowcount", 0))


def keys(session: Session, *, kind: str) -> set[str]:
    return set(session.scalars(select(SearchDocument.key).where(SearchDocument.kind == kind)))


def search(
    session: Session, *, kind: str, terms: Sequence[str] | str, limit: int = 20
) -> list[Hit]:
    """The documents of `kind` matching any of the words (`terms`: words, or a text to take
    them from), best first. Words are matched after the database's English stemming; a
    document matching more of them, and in its title or keywords, ranks higher."""
    chosen = _query_words(words(terms) if isinstance(terms, str) else terms)
    if not chosen:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return _search_postgres(session, kind, chosen, limit)
    return _search_sqlite(session, kind, chosen, limit)


def _query_words(terms: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for term in terms:
        for word in words(term):
            seen.setdefault(word)
    return list(seen)[:MAX_TERMS]


def _search_sqlite(session: Session, kind: str, chosen: list[str], limit: int) -> list[Hit]:
    # Each word quoted: FTS5 reads it as a string, never as an operator or column filter. The
    # kind is a column of the index, so the index itself keeps to it (no join per match).
    words_ = " OR ".join(f'"{w}"' for w in chosen)
    match = f'kind : "{_quoted(kind)}" AND ({words_})'
    rows = session.execute(
        text(
            "SELECT d.key, d.title, f.rank FROM ("
            " SELECT rowid, bm25(search_fts, 0.0, :tw, :kw, :bw) AS rank FROM search_fts"
            " WHERE search_fts MATCH :match ORDER BY rank LIMIT :limit"
            ") AS f JOIN search_documents AS d ON d.id = f.rowid ORDER BY f.rank"
        ),
        {
            "tw": TITLE_WEIGHT,
            "kw": KEYWORDS_WEIGHT,
            "bw": BODY_WEIGHT,
            "match": match,
            "limit": limit,
        },
    ).all()
    return [Hit(kind, key, title, -float(rank)) for key, title, rank in rows]


def _quoted(value: str) -> str:
    return value.replace('"', '""')


def _search_postgres(session: Session, kind: str, chosen: list[str], limit: int) -> list[Hit]:
    # `websearch_to_tsquery` never raises on user text; " or " joins the words into any-of.
    rows = session.execute(
        text(
            f"SELECT d.key, d.title, ts_rank({PG_RANK_WEIGHTS}, {PG_VECTOR}, q, 1) AS rank "
            "FROM search_documents AS d, websearch_to_tsquery('english', :query) AS q "
            f"WHERE d.kind = :kind AND {PG_VECTOR} @@ q ORDER BY rank DESC, d.id LIMIT :limit"
        ),
        {"query": " or ".join(chosen), "kind": kind, "limit": limit},
    ).all()
    return [Hit(kind, key, title, float(rank)) for key, title, rank in rows]
