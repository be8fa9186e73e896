"""Self-service: how many requests the knowledge base answered, which articles help, and what
people asked that no article answered (the content gaps to write next)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, case, exists, func, select

from chatbot.db.models import KbArticle, KbLookup, KbSuggestion, Request
from chatbot.reports.common import Filters, _department, _in_range, _week

GAP_LIMIT = 100


def _solved() -> Any:
    return exists().where(
        KbSuggestion.request_id == Request.id, KbSuggestion.solved_at.is_not(None)
    )


def self_service_by_week(*, conn: Connection, filters: Filters) -> list[dict[str, Any]]:
    """Per department and week: requests, those closed with a suggested article, the rate."""
    week = _week(conn, Request.created_at).label("week")
    department = _department(Request.department).label("department")
    rows = conn.execute(
        select(
            department,
            week,
            func.count().label("requests"),
            func.sum(case((_solved(), 1), else_=0)).label("self_served"),
        )
        .where(*_in_range(filters))
        .group_by(department, week)
        .order_by(department, week)
    )
    return [
        dict(row._mapping) | {"rate_pct": round(100 * int(row.self_served) / int(row.requests), 1)}
        for row in rows
    ]


def self_service_rate(*, conn: Connection, filters: Filters) -> dict[str, Any]:
    """Everyone's figure over the range (the public report's)."""
    row = conn.execute(
        select(
            func.count().label("requests"),
            func.coalesce(func.sum(case((_solved(), 1), else_=0)), 0).label("self_served"),
        ).where(*_in_range(filters))
    ).one()
    requests, served = int(row.requests), int(row.self_served)
    return {
        "requests": requests,
        "self_served": served,
        "rate_pct": round(100 * served / requests, 1) if requests else None,
    }


def article_helpfulness(*, conn: Connection, filters: Filters) -> list[dict[str, Any]]:
    """Per article suggested in the range: how often, how often opened, how often it solved
    the request; most helpful first."""
    rows = conn.execute(
        select(
            KbArticle.id,
            KbArticle.title,
            KbArticle.state,
            func.count().label("suggested"),
            func.count(KbSuggestion.shown_at).label("shown"),
            func.count(KbSuggestion.solved_at).label("solved"),
        )
        .join(KbSuggestion, KbSuggestion.article_id == KbArticle.id)
        .join(Request, Request.id == KbSuggestion.request_id)
        .where(*_in_range(filters))
        .group_by(KbArticle.id, KbArticle.title, KbArticle.state)
    ).all()
    out = [
        {
            "article": f"KB-{row.id}",
            "title": row.title,
            "state": row.state,
            "suggested": int(row.suggested),
            "shown": int(row.shown),
            "solved": int(row.solved),
            "helpful_pct": round(100 * int(row.solved) / int(row.suggested), 1),
        }
        for row in rows
    ]
    return sorted(out, key=lambda r: (-r["solved"], -r["helpful_pct"], r["article"]))


def content_gaps(*, conn: Connection, filters: Filters) -> list[dict[str, Any]]:
    """Searches and requests that found no article, newest first (at most GAP_LIMIT)."""
    where = [
        KbLookup.found == 0,
        KbLookup.at >= filters.since,
        KbLookup.at < filters.until,
    ]
    if filters.department:
        where.append(KbLookup.department == filters.department)
    rows = conn.execute(
        select(KbLookup.at, KbLookup.kind, _department(KbLookup.department), KbLookup.text)
        .where(and_(*where))
        .order_by(KbLookup.at.desc(), KbLookup.id.desc())
        .limit(GAP_LIMIT)
    )
    return [
        {
            "at": at.strftime("%Y-%m-%d %H:%M"),
            "kind": kind,
            "department": department,
            "text": text[:300],
        }
        for at, kind, department, text in rows
    ]
