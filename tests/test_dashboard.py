"""The dashboard and the public report through `chatbot serve` (composed in the test process):
access control, figures, CSV exports, and what the public page must never show."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from chatbot.clock import FixedClock
from chatbot.config import Routing, Settings
from chatbot.db import Database
from chatbot.db.models import Rating, Request
from chatbot.web.dashboard import Web
from tests.conftest import DASHBOARD_TOKEN, TLS, Server, http_get, http_post, sqlite_only
from tests.reporting_data import (
    CONFIG,
    LAPTOP_QUESTION,
    PEOPLE,
    PULSE_QUESTION,
    SECRET_TEXT,
    seed,
    seeded_day,
    seeded_server,
)

TOKEN = DASHBOARD_TOKEN
TABLES = (
    "open-requests",
    "volume-by-category",
    "volume-by-department",
    "first-response",
    "resolution",
    "overdue",
    "intake",
    "intake-channels",
    "self-service",
    "articles",
    "content-gaps",
    "ratings",
    "rating-response",
    "pulse",
    "questionnaire",
    "alerts",
)


@pytest.fixture
def web(make_server: Any, database_url: str, tmp_path: Path) -> Server:
    return seeded_server(make_server, database_url, tmp_path, TOKEN)


def _get(server: Server, path: str, **kwargs: Any) -> httpx.Response:
    return http_get(server.url + path, timeout=10, follow_redirects=False, **kwargs)


def _bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@sqlite_only("refused before any figure is read")
def test_nothing_readable_without_the_token(web: Server) -> None:
    paths = ["/dashboard", "/dashboard?department=Finance"]
    paths += [f"/dashboard/csv/{name}.csv" for name in TABLES]
    for path in paths:
        for headers in ({}, _bearer("wrong"), {"Cookie": "techhelp_dashboard=9999999999.abc"}):
            response = _get(web, path, headers=headers)
            assert response.status_code == 401, (path, headers)
            for figure in ("<table", "<svg", "TH-", "Parks", "outage"):
                assert figure not in response.text, (path, figure)
            assert "Bearer" in response.headers["WWW-Authenticate"]
    page = _get(web, "/dashboard")
    assert 'name="token"' in page.text  # the sign-in form, not the figures


def test_sign_in_sets_a_cookie_that_opens_the_dashboard(web: Server) -> None:
    wrong = http_post(
        web.url + "/dashboard/signin", data={"token": "nope", "next": "/dashboard"}, timeout=10
    )
    assert wrong.status_code == 401 and "not right" in wrong.text
    assert "set-cookie" not in wrong.headers
    signed = http_post(
        web.url + "/dashboard/signin",
        data={"token": TOKEN, "next": "/dashboard?department=Parks"},
        timeout=10,
    )
    assert signed.status_code == 303
    assert signed.headers["Location"] == "/dashboard?department=Parks"
    cookie = signed.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    with httpx.Client(base_url=web.url, cookies=signed.cookies, timeout=10, verify=TLS) as client:
        page = client.get("/dashboard")
        assert page.status_code == 200 and "Service dashboard" in page.text
        assert client.get("/dashboard/csv/overdue.csv").status_code == 200
    # An outside address is never a redirect target.
    away = http_post(
        web.url + "/dashboard/signin",
        data={"token": TOKEN, "next": "https://evil.example/dashboard"},
        timeout=10,
    )
    assert away.headers["Location"] == "/dashboard"


def test_dashboard_figures_with_the_bearer_token(web: Server) -> None:
    page = _get(web, "/dashboard", headers=_bearer())
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    text = page.text
    # Intake share per department and the satisfaction rule (Parks has only 2 ratings).
    intake = _table(text, "intake")
    assert [row[0] for row in intake] == ["Finance", "Parks"]
    assert [row[4] for row in intake] == ["83.3", "50"]
    ratings = {row[1]: row for row in _table(text, "ratings")}
    # Finance's 4 ratings are hidden with Parks' 2: the report's rating of the week (6 ratings)
    # minus Finance's would be Parks' (complementary suppression).
    assert ratings["Finance"][2:] == ["—", "—"]
    assert ratings["Parks"][2:] == ["—", "—"]
    assert _table(text, "open-requests") == [["open", "1", "2"]]
    assert len(_table(text, "overdue")) == 2
    alerts = _table(text, "alerts")
    assert alerts[0][1] == "outage" and alerts[0][6:] == ["90", "3", "2"]
    assert "<svg" in text and 'role="img"' in text and "<desc" in text


def test_filters_and_csv(web: Server) -> None:
    parks = _get(web, "/dashboard?department=Parks", headers=_bearer())
    assert [row[0] for row in _table(parks.text, "intake")] == ["Parks"]
    links = re.findall(r'href="(/dashboard/csv/[^"]+)"', parks.text)
    assert len(links) == len(TABLES)
    assert all("department=Parks" in link for link in links)
    exported = _get(web, links[0].replace("&amp;", "&"), headers=_bearer())
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in exported.headers["Content-Disposition"]
    intake = _get(web, "/dashboard/csv/intake.csv?department=Parks", headers=_bearer())
    rows = list(csv.reader(io.StringIO(intake.text)))
    assert rows[0] == ["Department", "Week of", "Requests", "Via /techhelp", "Share (%)"]
    assert [r[0] for r in rows[1:]] == ["Parks"] and rows[1][2:] == ["4", "2", "50.0"]
    bad = _get(web, "/dashboard?start=yesterday", headers=_bearer())
    assert bad.status_code == 200 and "Dates must look like" in bad.text
    assert _get(web, "/dashboard/csv/nope.csv", headers=_bearer()).status_code == 404


def test_pulse_trends_on_the_dashboard_and_as_csv(web: Server) -> None:
    day = seeded_day(datetime.now(UTC))
    run1, run2 = (day - timedelta(days=7)).date().isoformat(), day.date().isoformat()
    page = _get(web, "/dashboard", headers=_bearer()).text
    assert f"PS-1: {PULSE_QUESTION}" in page and f"PS-2: {LAPTOP_QUESTION}" in page
    # Sent, department, recipients, answers, rate, average; small groups hidden, and Finance
    # with them (everyone minus Finance would be Parks' answers).
    assert [row[:6] for row in _table(page, "pulse-PS-1")] == [
        [run1, "Everyone", "6", "4", "66.7", "3.8"],
        [run1, "Finance", "4", "—", "—", "—"],
        [run1, "Parks", "2", "—", "—", "—"],
        [run2, "Everyone", "7", "6", "85.7", "3.5"],
        [run2, "(none)", "1", "—", "—", "—"],
        [run2, "Finance", "4", "—", "—", "—"],
        [run2, "Parks", "2", "—", "—", "—"],
    ]
    # Custom options: the top answer and the distribution instead of an average.
    laptops = _table(page, "pulse-PS-2")
    assert laptops[0][5:] == ["ThinkPad (75%)", "ThinkPad: 75% · MacBook: 25% · Either: 0%"]
    assert laptops[2][3:] == ["—"] * 4
    # A trend chart per survey, its figures in words for a screen reader.
    descriptions = re.findall(r"<desc[^>]*>(.*?)</desc>", page, re.DOTALL)
    trend = next(d for d in descriptions if d.startswith("PS-1: average answer"))
    assert f"Everyone: {run1} 3.8, {run2} 3.5" in trend and "Parks: no data" in trend
    shares = next(d for d in descriptions if d.startswith("PS-2: share of each answer"))
    assert f"ThinkPad: {run2} 75" in shares and f"MacBook: {run2} 25" in shares
    assert SECRET_TEXT not in page  # survey comments are not on the dashboard

    # The CSV, with the department filter, only with the token.
    path = "/dashboard/csv/pulse.csv?department=Finance"
    assert _get(web, path).status_code == 401
    exported = _get(web, path, headers=_bearer())
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0][:8] == [
        "Survey",
        "Question",
        "Sent",
        "Department",
        "Recipients",
        "Answers",
        "Response rate (%)",
        "Average (1–5)",
    ]
    assert [(r[0], r[2], r[3], r[5], r[7]) for r in rows[1:]] == [
        ("PS-1", run1, "Finance", "", ""),
        ("PS-1", run2, "Finance", "", ""),
        ("PS-2", run2, "Finance", "", ""),
    ]
    assert SECRET_TEXT not in exported.text


def test_public_report_has_no_personal_data(web: Server) -> None:
    page = _get(web, "/report")
    assert page.status_code == 200
    text = page.text
    assert re.search(r'id="headline-created">10<', text)
    assert re.search(r'id="headline-share">70%<', text)
    forbidden = [SECRET_TEXT, "SECRET", "Finance", "Parks", "TH-", "AL-", *PEOPLE, *PEOPLE.values()]
    for word in forbidden:
        assert word not in text, word
    assert re.search(r"\bU[A-Z0-9]{4,}\b", text) is None  # no user ids
    # The organisation-wide pulse trend: one row per run, no department, no comment.
    day = seeded_day(datetime.now(UTC))
    run1, run2 = (day - timedelta(days=7)).date().isoformat(), day.date().isoformat()
    assert f"PS-1: {PULSE_QUESTION}" in text
    # Sent, recipients, answers, rate, average.
    assert [row[:5] for row in _table(text, "pulse-PS-1")] == [
        [run1, "6", "4", "66.7", "3.8"],
        [run2, "7", "6", "85.7", "3.5"],
    ]
    assert _table(text, "pulse-PS-2")[0][:5] == [run2, "6", "4", "66.7", "ThinkPad (75%)"]
    assert "(none)" not in text


def test_report_rating_minus_dashboard_departments_reveals_no_one(web: Server) -> None:
    """The public report's rating of a week, minus the departments the dashboard shows for that
    week, never leaves a group below the minimum: here Parks' 2 ratings (of 6) would be left if
    the dashboard showed Finance's 4."""
    week = (seeded_day(datetime.now(UTC)).date() - timedelta(days=1)).isoformat()
    report = {row[0]: row for row in _table(_get(web, "/report").text, "weekly")}
    assert report[week][3] == "3.7"  # everyone: 6 ratings
    for department in ("", "?department=Finance", "?department=Parks"):
        page = _get(web, "/dashboard" + department, headers=_bearer()).text
        shown = [row for row in _table(page, "ratings") if row[0] == week]
        assert shown and all(row[2:] == ["—", "—"] for row in shown), (department, shown)
        exported = _get(web, f"/dashboard/csv/ratings.csv{department}", headers=_bearer())
        assert [r[2:] for r in csv.reader(io.StringIO(exported.text))][1:] == [["", ""]] * len(
            shown
        )


def test_report_rating_changes_only_when_the_week_ends(database_url: str) -> None:
    """A rating made now does not change /report until the week is over (Monday 00:00 UTC):
    the page before and after one rating is the same, so watching it tells nothing."""
    now = datetime(2026, 3, 12, 15, 0, tzinfo=UTC)  # a Thursday
    seed(database_url, now)
    clock = FixedClock(now)
    routing = Routing.model_validate(yaml.safe_load(CONFIG))
    db = Database(database_url)
    app = Web(settings=Settings(database_url=database_url, routing=routing), db=db, clock=clock)
    this_week = (now.date() - timedelta(days=3)).isoformat()

    def report() -> str:
        statuses: list[str] = []
        body = b"".join(
            app({"PATH_INFO": "/report", "REQUEST_METHOD": "GET"}, lambda s, h: statuses.append(s))
        )
        assert statuses == ["200 OK"]
        return re.sub(r"chart-(title|desc)-\d+", "chart", body.decode())  # ids count renders

    def rating_cells(page: str) -> dict[str, str]:
        return {row[0]: row[3] for row in _table(page, "weekly")}

    with db.transaction() as session:  # three requests resolved this week, not rated yet
        requests = [
            Request(
                platform="slack",
                requester=f"URATE{i}",
                intake_channel="techhelp",
                text="x",
                category="Hardware",
                urgency="normal",
                queue="Service Desk",
                tier=1,
                department="Finance",
                state="resolved",
                created_at=now - timedelta(hours=2),
                resolved_at=now - timedelta(hours=1),
                updated_at=now,
            )
            for i in range(3)
        ]
        session.add_all(requests)
        session.flush()
        ids = [request.id for request in requests]
    before = report()
    assert rating_cells(before)[this_week] == "—"
    with db.transaction() as session:
        for i, (request_id, score) in enumerate(zip(ids, (1, 2, 1), strict=True)):
            session.add(Rating(request_id=request_id, rater=f"URATE{i}", score=score, rated_at=now))
    assert report() == before  # the same page, figure for figure
    clock._now = datetime(2026, 3, 15, 23, 59, tzinfo=UTC)  # Sunday night
    sunday, earlier = rating_cells(report()), rating_cells(before)
    assert sunday[this_week] == "—"
    assert {w: sunday[w] for w in earlier if w in sunday} == {
        w: earlier[w] for w in sunday if w in earlier
    }
    clock._now = datetime(2026, 3, 16, 0, 0, tzinfo=UTC)  # Monday: the week is published
    assert rating_cells(report())[this_week] == "1.3"
    db.dispose()


@sqlite_only("refused before any figure is read (the report's figures: on both, above)")
def test_closed_without_a_token(make_server: Any, database_url: str) -> None:
    seed(database_url, datetime.now(UTC))
    server = make_server().start()
    for path in ("/dashboard", "/dashboard/csv/overdue.csv", "/dashboard/signin"):
        response = _get(server, path, headers=_bearer("anything"))
        assert response.status_code == 403, path
        assert "closed" in response.text
    signin = http_post(server.url + "/dashboard/signin", data={"token": ""}, timeout=10)
    assert signin.status_code == 403 and "set-cookie" not in signin.headers
    assert _get(server, "/report").status_code == 200


def _table(html: str, name: str) -> list[list[str]]:
    """The body cells of the table `table-<name>` as text."""
    match = re.search(rf'<table id="table-{name}">(.*?)</table>', html, re.DOTALL)
    assert match, f"no table {name}"
    body = match.group(1).split("<tbody>", 1)[1]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)
    cell = re.compile(r"<td[^>]*>(.*?)</td>", re.DOTALL)
    cells = [[re.sub(r"<[^>]+>", "", c).strip() for c in cell.findall(row)] for row in rows]
    return [row for row in cells if not (len(row) == 1 and row[0].endswith("."))]
