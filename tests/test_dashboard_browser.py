"""The dashboard and the report in a real browser: headless Chromium (Debian's `chromium`) driven
by Playwright, on a seeded database. Figures against known answers, the sign-in, keyboard use,
filters, a CSV download, screenshots in test-artifacts/, and an axe-core audit (from the
axe-playwright-python package) with no serious or critical violation."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DASHBOARD_TOKEN, ROOT, Server, sqlite_only
from tests.reporting_data import PEOPLE, SECRET_TEXT, seeded_server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
TOKEN = DASHBOARD_TOKEN
BROWSER_ONLY = (
    "the pages in a browser (sign-in, keyboard, filters, download, accessibility); the figures "
    "and CSVs they show are checked on both databases in test_dashboard.py and test_reports.py"
)

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
)
axe_module = pytest.importorskip(
    "axe_playwright_python.sync_playwright", reason="axe-playwright-python is not installed"
)
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and not shutil.which("chromium"),
    reason="Chromium is not installed (Debian: apt-get install chromium; .ci/run does it)",
)


@pytest.fixture
def web(make_server: Any, database_url: str, tmp_path: Path) -> Server:
    return seeded_server(make_server, database_url, tmp_path, TOKEN)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for the module; each test has a browser context of its own (no cookies,
    storage or cache shared between tests)."""
    executable = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


def _shot(page: Any, request: pytest.FixtureRequest, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    database = request.node.callspec.params.get("database_url", "db")
    page.screenshot(path=str(ARTIFACTS / f"{name}-{database}.png"), full_page=True)


def _audit(page: Any) -> None:
    results = axe_module.Axe().run(page)
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert serious == [], "accessibility violations:\n" + "\n".join(serious)


def _cells(page: Any, table: str, column: int) -> list[str]:
    return [
        c.strip()
        for c in page.locator(f"#table-{table} tbody tr td:nth-child({column})").all_inner_texts()
    ]


@sqlite_only(BROWSER_ONLY)
def test_dashboard_in_a_browser(web: Server, page: Any, request: pytest.FixtureRequest) -> None:
    response = page.goto(web.url + "/dashboard")
    assert response.status == 401
    assert page.locator("table").count() == 0
    _audit(page)
    _shot(page, request, "dashboard-signin")

    # Sign in with the keyboard alone: the skip link comes first, then the form.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.locator("#token").focus()
    page.keyboard.type(TOKEN)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/dashboard")
    assert page.locator("h1").inner_text() == "Service dashboard"

    # Figures against the known answers of tests/reporting_data.py.
    assert _cells(page, "intake", 1) == ["Finance", "Parks"]
    assert _cells(page, "intake", 5) == ["83.3", "50"]
    assert _cells(page, "open-requests", 3) == ["2"]
    assert _cells(page, "overdue", 9) == ["first response", "first response"]
    first = dict(
        zip(_cells(page, "first-response", 1), _cells(page, "first-response", 3), strict=True)
    )
    assert (first["normal"], first["high"]) == ("90", "30")
    # Finance is hidden with Parks: the week's rating minus Finance's would be Parks' two.
    assert _cells(page, "ratings", 4) == ["—", "—"]
    assert _cells(page, "alerts", 8) == ["3"] and _cells(page, "alerts", 9) == ["2"]
    charts = page.locator("svg[role=img]")
    assert charts.count() == 6  # four, and a pulse trend per survey
    assert "Finance: " in (charts.nth(2).locator("desc").text_content() or "")
    assert "Everyone: " in (charts.nth(4).locator("desc").text_content() or "")
    departments = ["Everyone", "Finance", "Parks", "Everyone", "(none)", "Finance", "Parks"]
    assert _cells(page, "pulse-PS-1", 2) == departments
    assert _cells(page, "pulse-PS-1", 6) == ["3.8", "—", "—", "3.5", "—", "—", "—"]
    _audit(page)
    _shot(page, request, "dashboard")

    # The skip link moves the focus to the content.
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    # Filters: one department, by form.
    page.select_option("#department", "Parks")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply filters").click()
    assert "department=Parks" in page.url
    assert page.locator("#range-department").inner_text() == "Parks"
    assert _cells(page, "intake", 1) == ["Parks"]
    assert _cells(page, "volume-by-department", 2) == ["Parks"]
    assert _cells(page, "pulse-PS-1", 2) == ["Parks", "Parks"]
    assert _cells(page, "pulse-PS-1", 4) == ["—", "—"]  # two answers: fewer than 3
    _shot(page, request, "dashboard-parks")

    # A CSV link keeps the filters and downloads the table.
    link = page.get_by_role("link", name="Download “Single point of intake: share via /techhelp")
    with page.expect_download() as download:
        link.click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert rows[0][0] == "Department" and [r[0] for r in rows[1:]] == ["Parks"]
    assert rows[1][4] == "50.0"

    # A date range from before any request shows nothing.
    page.goto(web.url + "/dashboard?start=2001-01-01&end=2001-03-01")
    assert _cells(page, "intake", 1) == ["Nothing in this range."]


@sqlite_only(BROWSER_ONLY)
def test_public_report_in_a_browser(web: Server, page: Any, request: pytest.FixtureRequest) -> None:
    response = page.goto(web.url + "/report")
    assert response.status == 200
    assert page.locator("#headline-created").inner_text() == "10"
    assert page.locator("#headline-share").inner_text() == "70%"
    text = page.locator("body").inner_text()
    for word in (SECRET_TEXT, "Finance", "Parks", *PEOPLE, *PEOPLE.values()):
        assert word not in text
    _audit(page)
    _shot(page, request, "report")
