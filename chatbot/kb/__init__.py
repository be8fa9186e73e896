"""The knowledge base: self-service answers suggested at intake.

Articles come from the `TECHHELP_KB` folder (`sync`, run by `chatbot kb sync` and at start) or
are saved by staff from a resolved request (`save_draft`, then `publish`). A published article is
a document of the full-text index (`chatbot.search`, kind "kb", key its id); a withdrawn one
(its file removed) leaves the index but stays, with the history of what it answered.
`suggest` answers a text with at most three articles, or none when nothing answers it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from chatbot import search
from chatbot.db.models import KbArticle, KbLookup, KbSuggestion, Request, SearchDocument
from chatbot.kb.articles import scan
from chatbot.search import rank

log = logging.getLogger(__name__)

KIND = "kb"
MAX_SUGGESTIONS = 3
LEARNED_LIMIT = 20_000  # the most recent solved requests the scorer learns words from


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unchanged: int = 0


def _document(article: KbArticle) -> search.Document:
    return search.Document(
        KIND, str(article.id), article.title, article.body, tuple(article.keywords or ())
    )


def publish(
    *, session: Session, article: KbArticle, now: datetime, actor: str | None = None
) -> None:
    """Make an article suggestible (a draft saved from a request, or a file's article)."""
    article.state = "published"
    article.updated_at = now
    if actor:
        article.published_by = actor
    session.flush()
    search.put(session, document=_document(article), now=now)
    forget(session)


def withdraw(*, session: Session, article: KbArticle, now: datetime) -> None:
    """No longer suggested; kept, with what it was suggested for."""
    article.state = "withdrawn"
    article.updated_at = now
    search.remove(session, kind=KIND, key=str(article.id))
    forget(session)


def sync(*, session: Session, folder: Path | None, now: datetime) -> SyncReport:
    """Bring the folder's articles into the database: new and changed files are (re)published,
    an article whose file is gone is withdrawn. A file that cannot be read is skipped (a
    warning names it and the line) and its earlier version, if any, stays as it was."""
    report = SyncReport()
    found = scan(folder)
    report.skipped = found.skipped
    stored = {
        a.slug: a for a in session.scalars(select(KbArticle).where(KbArticle.source == "folder"))
    }
    for parsed in found.articles:
        article = stored.get(parsed.slug)
        if article is not None and article.digest == parsed.digest and article.state == "published":
            report.unchanged += 1
            continue
        if article is None:
            article = KbArticle(slug=parsed.slug, source="folder", created_at=now)
            session.add(article)
            report.added.append(parsed.slug)
        else:
            report.updated.append(parsed.slug)
        article.title = parsed.title
        article.body = parsed.body
        article.keywords = list(parsed.keywords)
        article.service = parsed.service
        article.digest = parsed.digest
        publish(session=session, article=article, now=now)
    for slug, article in stored.items():
        if slug not in found.present and article.state == "published":
            withdraw(session=session, article=article, now=now)
            report.withdrawn.append(slug)
    return report


# --- suggesting --------------------------------------------------------------------------------

# Per database: (what the model was built from, the model, when that was last checked).
_rankers: dict[str, tuple[tuple[Any, ...], rank.Ranker, float]] = {}
CHECK_EVERY = 1.0  # seconds: another process's new article is suggested within this


def forget(session: Session) -> None:
    """This process changed the articles or what they solved: rebuild the model next time."""
    _rankers.pop(str(session.get_bind().engine.url), None)


_rankers_lock = threading.Lock()


def ranker(session: Session) -> rank.Ranker:
    """The scorer's model of the published articles and the requests they solved, rebuilt when
    either changed (one small query tells), shared by the threads of this process."""
    url = str(session.get_bind().engine.url)
    cached = _rankers.get(url)
    now = time.monotonic()
    if cached and now - cached[2] < CHECK_EVERY:
        return cached[1]
    generation = (
        *session.execute(
            select(func.count(), func.max(SearchDocument.updated_at)).where(
                SearchDocument.kind == KIND
            )
        ).one(),
        session.scalar(select(func.count()).where(KbSuggestion.solved_at.is_not(None))),
    )
    if cached and cached[0] == generation:
        _rankers[url] = (generation, cached[1], now)
        return cached[1]
    with _rankers_lock:
        documents = [
            search.Document(KIND, row.key, row.title, row.body, tuple(row.keywords.split(" ; ")))
            for row in session.scalars(select(SearchDocument).where(SearchDocument.kind == KIND))
        ]
        learned: dict[str, list[str]] = {}
        for article_id, text in session.execute(
            select(KbSuggestion.article_id, Request.text)
            .join(Request, Request.id == KbSuggestion.request_id)
            .where(KbSuggestion.solved_at.is_not(None))
            .order_by(KbSuggestion.solved_at.desc())
            .limit(LEARNED_LIMIT)
        ):
            learned.setdefault(str(article_id), []).append(text[:2000])
        built = rank.Ranker(documents, learned)
        _rankers[url] = (generation, built, now)
        return built


@dataclass(frozen=True)
class Suggested:
    """An article that answers a text: what a suggestion shows and records."""

    id: int
    title: str


def suggest(*, session: Session, text: str, limit: int = MAX_SUGGESTIONS) -> list[Suggested]:
    """The published articles that answer `text`, best first; none when nothing does. Only
    published articles are in the index, and the titles come with the ranking: no article row
    is read on this path (it runs inside every /techhelp acknowledgement)."""
    model = ranker(session)
    if not model.docs:
        return []
    found = rank.answers(session, model, kind=KIND, text=text[:4000], limit=limit)
    return [Suggested(int(s.key), s.title) for s in found]


def record_lookup(
    *,
    session: Session,
    kind: str,
    platform: str,
    user: str,
    department: str | None,
    text: str,
    found: int,
    now: datetime,
    request_id: int | None = None,
) -> None:
    # Core: one INSERT inside every /techhelp acknowledgement, without an ORM flush.
    session.connection().execute(
        _INSERT_LOOKUP,
        {
            "kind": kind,
            "platform": platform,
            "user_id": user,
            "department": department,
            "text": text[:2000],
            "found": found,
            "request_id": request_id,
            "at": now,
        },
    )


_INSERT_LOOKUP = insert(KbLookup.__table__)


def record_suggestions(
    *, session: Session, request: Request, articles: Sequence[Suggested | KbArticle], now: datetime
) -> None:
    if not articles:
        return
    for position, article in enumerate(articles, start=1):
        session.add(
            KbSuggestion(
                request_id=request.id, article_id=article.id, position=position, created_at=now
            )
        )
    session.flush()


def suggestion(*, session: Session, request_id: int, article_id: int) -> KbSuggestion | None:
    return session.scalars(
        select(KbSuggestion).where(
            KbSuggestion.request_id == request_id, KbSuggestion.article_id == article_id
        )
    ).first()


def open_suggestions(*, session: Session, request_id: int) -> list[KbSuggestion]:
    return list(
        session.scalars(
            select(KbSuggestion)
            .where(KbSuggestion.request_id == request_id)
            .order_by(KbSuggestion.position)
        )
    )


def save_draft(*, session: Session, request: Request, actor: str, now: datetime) -> KbArticle:
    """A draft article from a resolved request: its words as the question, the resolution
    note as the answer. One per request (saving again gives the same draft)."""
    slug = f"request/{request.id}"
    existing = session.scalars(select(KbArticle).where(KbArticle.slug == slug)).first()
    if existing is not None:
        return existing
    question = " ".join(request.text.split())
    title = question if len(question) <= 120 else question[:119].rstrip() + "…"
    article = KbArticle(
        slug=slug,
        source="request",
        state="draft",
        title=title,
        body=(request.resolution or "").strip(),
        keywords=[],
        service=request.service,
        from_request_id=request.id,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(article)
    session.flush()
    return article


def most_used(*, session: Session, limit: int = 5) -> list[tuple[KbArticle, int]]:
    """The published articles that solved the most requests."""
    rows = session.execute(
        select(KbArticle, func.count(KbSuggestion.id))
        .join(KbSuggestion, KbSuggestion.article_id == KbArticle.id)
        .where(KbArticle.state == "published", KbSuggestion.solved_at.is_not(None))
        .group_by(KbArticle.id)
        .order_by(func.count(KbSuggestion.id).desc(), KbArticle.id)
        .limit(limit)
    ).all()
    return [(article, count) for article, count in rows]
