"""The self-service figures: the rate per week and department, article helpfulness and the
content gaps on the dashboard; the rate on the public report. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from chatbot import kb, requests
from chatbot.clock import FixedClock
from chatbot.config import Routing, Settings
from chatbot.db import Database
from chatbot.db.models import KbArticle
from chatbot.reports import (
    Filters,
    article_helpfulness,
    content_gaps,
    self_service_by_week,
    self_service_rate,
)
from chatbot.routing import guess
from chatbot.web.dashboard import Web
from tests.conftest import DASHBOARD_TOKEN

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday
CONFIG = "departments:\n  - {name: Finance, members: [UFIN1, UFIN2]}\n"


def _seed(db: Database, settings: Settings) -> None:
    """Finance: 2 requests last week, one self-served; no department: 2 this week, one
    self-served. Article "Reset" solved both; "VPN" was suggested, opened, never solved."""
    with db.transaction() as session:
        reset = KbArticle(
            slug="reset",
            source="folder",
            state="published",
            title="Reset",
            body="Steps",
            keywords=[],
            created_at=NOW,
            updated_at=NOW,
        )
        vpn = KbArticle(
            slug="vpn",
            source="folder",
            state="published",
            title="VPN",
            body="Steps",
            keywords=[],
            created_at=NOW,
            updated_at=NOW,
        )
        session.add_all([reset, vpn])
        session.flush()
        for user, days_ago, solved in (
            ("UFIN1", 7, True),
            ("UFIN2", 7, False),
            ("UOTHER", 0, True),
            ("UOTHER", 0, False),
        ):
            at = NOW - timedelta(days=days_ago)
            request = requests.create_request(
                session=session,
                settings=settings,
                platform="slack",
                requester=user,
                text="forgot my password",
                triage=guess("x", settings.routing),
                intake_channel="techhelp",
                now=at,
            )
            kb.record_suggestions(session=session, request=request, articles=[reset, vpn], now=at)
            kb.record_lookup(
                session=session,
                kind="request",
                platform="slack",
                user=user,
                department=request.department,
                text=request.text,
                found=2,
                now=at,
                request_id=request.id,
            )
            suggestions = kb.open_suggestions(session=session, request_id=request.id)
            suggestions[1].shown_at = at
            if solved:
                suggestions[0].shown_at = at
                suggestions[0].solved_at = at
        kb.record_lookup(
            session=session,
            kind="search",
            platform="teams",
            user="UFIN1",
            department="Finance",
            text="printer <b>toner</b>",
            found=0,
            now=NOW,
        )
        kb.record_lookup(
            session=session,
            kind="request",
            platform="slack",
            user="UOTHER",
            department=None,
            text="coffee machine",
            found=0,
            now=NOW - timedelta(hours=1),
        )


def _settings(database_url: str, **more: Any) -> Settings:
    routing = Routing.model_validate(yaml.safe_load(CONFIG))
    return Settings(database_url=database_url, routing=routing, **more)


def test_self_service_figures(database_url: str) -> None:
    settings = _settings(database_url)
    db = Database(database_url)
    _seed(db, settings)
    everything = Filters(start=NOW.date() - timedelta(days=30), end=NOW.date())
    finance = Filters(start=everything.start, end=everything.end, department="Finance")
    with db.reading() as conn:
        weekly = self_service_by_week(conn=conn, filters=everything)
        assert [
            (r["department"], r["requests"], r["self_served"], r["rate_pct"]) for r in weekly
        ] == [
            ("(none)", 2, 1, 50.0),
            ("Finance", 2, 1, 50.0),
        ]
        assert weekly[0]["week"] != weekly[1]["week"]
        assert self_service_rate(conn=conn, filters=everything) == {
            "requests": 4,
            "self_served": 2,
            "rate_pct": 50.0,
        }
        assert [
            (r["title"], r["suggested"], r["shown"], r["solved"], r["helpful_pct"])
            for r in article_helpfulness(conn=conn, filters=everything)
        ] == [("Reset", 4, 2, 2, 50.0), ("VPN", 4, 4, 0, 0.0)]
        assert [
            (g["kind"], g["department"], g["text"])
            for g in content_gaps(conn=conn, filters=everything)
        ] == [
            ("search", "Finance", "printer <b>toner</b>"),
            ("request", "(none)", "coffee machine"),
        ]
        assert [g["text"] for g in content_gaps(conn=conn, filters=finance)] == [
            "printer <b>toner</b>"
        ]
    db.dispose()


def _page(app: Web, path: str) -> str:
    statuses: list[str] = []
    environ = {
        "PATH_INFO": path.split("?")[0],
        "QUERY_STRING": path.partition("?")[2],
        "REQUEST_METHOD": "GET",
        "HTTP_AUTHORIZATION": f"Bearer {DASHBOARD_TOKEN}",
        "REMOTE_ADDR": "127.0.0.1",
    }
    body = b"".join(app(environ, lambda s, h: statuses.append(s)))
    assert statuses == ["200 OK"], statuses
    return body.decode()


def test_dashboard_and_public_report_show_self_service(database_url: str) -> None:
    settings = _settings(database_url, techhelp_dashboard_token=DASHBOARD_TOKEN)
    db = Database(database_url)
    _seed(db, settings)
    app = Web(settings=settings, db=db, clock=FixedClock(NOW))
    dashboard = _page(app, "/dashboard")
    assert "Self-service: requests closed with a suggested article" in dashboard
    assert "Article helpfulness" in dashboard and "Reset" in dashboard
    # A content gap's words are shown as text, escaped.
    assert "printer &lt;b&gt;toner&lt;/b&gt;" in dashboard and "<b>toner" not in dashboard
    report = _page(app, "/report")
    assert (
        'id="headline-self-service">50.0%' in report or 'id="headline-self-service">50%' in report
    )
    assert "coffee machine" not in report and "Reset" not in report  # no detail in public
    db.dispose()
