"""The liaison program on the dashboard, through `chatbot serve`: a department's page with its
liaison timeline beside its requests and survey figures, the planning view of asks by theme and
quarter with its CSV, and the notes nowhere without the token (nor on the public report)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatbot import liaison
from chatbot.db import Database
from tests.conftest import DASHBOARD_TOKEN, Server, http_get
from tests.reporting_data import CONFIG, seed

NOTES = "Payroll close is painful; budget season starts in March."
PROGRAM = CONFIG.replace(
    "  - {name: Finance, members:",
    "  - {name: Finance, liaison: USTAFF, cadence: monthly, members:",
)


@pytest.fixture
def web(make_server: Any, database_url: str, tmp_path: Path) -> Server:
    now = datetime.now(UTC)
    seed(database_url, now)
    db = Database(database_url)
    meetings = [
        ("Finance", date(2026, 1, 12), NOTES, [("Self-service", "HR portal for leave")]),
        ("Finance", date(2026, 4, 2), "Quarter review.", [("Reporting", "=HYPERLINK(1)")]),
        ("Parks", date(2026, 2, 3), "Rangers' tablets.", [("Self-service", "Offline maps")]),
    ]
    with db.transaction() as session:
        for department, met_on, discussed, asks in meetings:
            liaison.record_meeting(
                session=session,
                department=department,
                met_on=met_on,
                attendees="Dana",
                discussed=discussed,
                asks=[liaison.Ask(theme, text) for theme, text in asks],
                follow_ups=[liaison.FollowUp("Send the quote", "USTAFF", date(2030, 1, 1))],
                by="USTAFF",
                platform="slack",
                now=now,
            )
    db.dispose()
    config = tmp_path / "techhelp.yml"
    config.write_text(PROGRAM)
    return make_server(
        TECHHELP_CONFIG=str(config), TECHHELP_DASHBOARD_TOKEN=DASHBOARD_TOKEN
    ).start()


def get(server: Server, path: str, token: str | None = DASHBOARD_TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return http_get(server.url + path, timeout=10, follow_redirects=False, headers=headers)


def test_a_department_page_shows_its_timeline_beside_its_requests(web: Server) -> None:
    page = get(web, "/dashboard/department?department=Finance")
    assert page.status_code == 200
    text = page.text
    assert "Liaison timeline" in text and "Payroll close is painful" in text
    assert "Self-service:</strong> HR portal for leave" in text
    assert text.index("2026-04-02") < text.index("2026-01-12")  # newest first
    assert "Rangers" not in text  # Parks' notes are on Parks' page
    assert 'id="next-check-in">2026-05-02<' in text  # monthly, from the last meeting
    assert "Open requests by state and tier" in text and "Request ratings per week" in text
    assert "Send the quote" in text  # the open follow-up
    missing = get(web, "/dashboard/department?department=Marketing")
    assert missing.status_code == 404 and "There is no department named" in missing.text
    assert "department=Finance" in missing.text


def test_the_planning_view_counts_asks_by_theme_and_quarter_and_exports_them(web: Server) -> None:
    page = get(web, "/dashboard/planning")
    assert page.status_code == 200
    assert "Asks per theme and quarter" in page.text
    assert '<th scope="row">Self-service</th><td>2</td><td></td></tr>' in page.text
    assert '<th scope="row">Reporting</th><td></td><td>1</td></tr>' in page.text
    exported = get(web, "/dashboard/csv/liaison-asks.csv")
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == ["Theme", "Quarter", "Department", "Met on", "Ask"]
    assert sorted(rows[1:]) == [
        ["Reporting", "2026-Q2", "Finance", "2026-04-02", "'=HYPERLINK(1)"],  # not a formula
        ["Self-service", "2026-Q1", "Finance", "2026-01-12", "HR portal for leave"],
        ["Self-service", "2026-Q1", "Parks", "2026-02-03", "Offline maps"],
    ]
    parks = get(web, "/dashboard/csv/liaison-asks.csv?department=Parks")
    assert [r[2] for r in csv.reader(io.StringIO(parks.text))][1:] == ["Parks"]


def test_notes_are_nowhere_without_the_token(web: Server) -> None:
    paths = (
        "/dashboard/department?department=Finance",
        "/dashboard/planning",
        "/dashboard/csv/liaison-asks.csv",
    )
    for path in paths:
        for token in (None, "wrong-token"):
            answer = get(web, path, token=token)
            assert answer.status_code == 401, path
            for secret in ("Payroll close", "HR portal", "Offline maps", "Dana"):
                assert secret not in answer.text
    report = http_get(web.url + "/report", timeout=10)
    assert report.status_code == 200
    assert "Payroll close" not in report.text and "HR portal" not in report.text
