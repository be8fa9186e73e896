"""The dashboard's charts as a reader sees them (issue 16): whole-number ticks for counts, a 1–5
rating axis from 1 to 5, legends clear of the axis labels, equal points told apart, ties said to
be ties, an unknown department refused, and a sentence instead of empty axes when there is too
little to draw."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from chatbot.reports.pulse import _pulse_row
from chatbot.web.charts import Series, bar_chart, line_chart
from tests.conftest import DASHBOARD_TOKEN, Server, http_get, sqlite_only
from tests.reporting_data import seeded_server

WEEKS = [f"2026-0{m}-0{d}" for m in (1, 2, 3) for d in (5, 6, 7)]


def ticks(svg: str) -> list[str]:
    return re.findall(r'class="y-tick"[^>]*>([^<]*)<', svg)


def markers(svg: str) -> list[tuple[float, float]]:
    """The centre of each point's marker (circle, square or triangle)."""
    found = []
    for group in re.findall(r'<g class="point">(.*?)</g>', svg):
        if m := re.search(r'cx="([\d.]+)" cy="([\d.]+)"', group):
            found.append((float(m[1]), float(m[2])))
        elif m := re.search(r'<rect x="([\d.]+)" y="([\d.]+)"', group):
            found.append((float(m[1]) + 3.5, float(m[2]) + 3.5))
        elif m := re.search(r'points="([\d.]+),([\d.]+)', group):
            found.append((float(m[1]), float(m[2]) + 4.5))
    return found


def test_counts_have_whole_number_ticks() -> None:
    for largest in (1, 3, 7, 10, 37, 150, 2_345):
        svg = bar_chart(
            "Open", ["open · tier 1", "claimed · tier 1"], [largest, 0], unit="requests"
        )
        shown = ticks(svg)
        assert shown and all(re.fullmatch(r"[\d,]+", t) for t in shown), (largest, shown)
        values = [int(t.replace(",", "")) for t in shown]
        assert values[0] == 0 and values[-1] >= largest and len(values) <= 6
    # The old axis of 10 had ticks at 2.5 and 7.5.
    assert ticks(bar_chart("Open", ["a"], [10], unit="requests")) == ["0", "2", "4", "6", "8", "10"]


def test_a_rating_axis_runs_from_1_to_5() -> None:
    svg = line_chart("Ratings", WEEKS[:3], [Series("Finance", [4.2, 4.5, None])], unit="1–5")
    assert ticks(svg) == ["1", "2", "3", "4", "5"]
    # 4.5 sits an eighth of the way down from 5 to 1, not near the top of a 0–5 axis.
    ys = dict(re.findall(r'class="y-tick" x="[\d.]+" y="([\d.]+)"[^>]*>(\d)<', svg))
    level = {label: float(y) - 4 for y, label in ys.items()}  # a tick's text sits 4 px low
    (_, y42), (_, y45) = markers(svg)
    assert abs((y45 - level["5"]) / (level["1"] - level["5"]) - 0.125) < 0.01
    assert abs((y42 - level["5"]) / (level["1"] - level["5"]) - 0.2) < 0.01


def test_equal_points_are_set_side_by_side() -> None:
    svg = line_chart(
        "Ratings",
        WEEKS[:3],
        [Series("Finance", [4.0, 3.0, 5.0]), Series("Parks", [4.0, 2.0, 5.0])],
        unit="1–5",
    )
    finance, parks = markers(svg)[:3], markers(svg)[3:]
    assert finance[0][1] == parks[0][1] and finance[0][0] != parks[0][0]  # same value, apart
    assert finance[1][0] == parks[1][0]  # different values: no need
    assert "Parks, 2026-01-05: 4 (the same as 1 other)" in svg


def test_too_little_data_is_said_not_drawn() -> None:
    one = line_chart("Ratings", WEEKS[:4], [Series("Finance", [None, 4.0, None, None])], unit="1–5")
    assert "Too little data for a trend: figures for 1 of 4 points; a line needs two." in one
    assert not ticks(one) and "<polyline" not in one
    assert "Finance: 2026-01-06 4" in one  # the figures are still read out
    none = bar_chart("Open requests", [], [], unit="requests")
    assert "Nothing to draw: no requests in this range." in none and not ticks(none)
    empty = line_chart("Volume", WEEKS[:4], [], unit="requests")
    assert "Nothing to draw" in empty


def test_a_tie_is_reported_as_a_tie() -> None:
    run = SimpleNamespace(
        survey_id=2,
        question="Which laptop?",
        scale=False,
        id=5,
        sent_at=datetime(2026, 1, 6, tzinfo=UTC),
        options=["ThinkPad", "MacBook", "Either"],
    )
    row = _pulse_row(run, "Everyone", 6, Counter({0: 2, 1: 2, 2: 1}), shown=True)
    assert row["top_option"] == "ThinkPad, MacBook (tie, 40% each)"
    row = _pulse_row(run, "Everyone", 6, Counter({0: 3, 1: 2}), shown=True)
    assert row["top_option"] == "ThinkPad (60%)"


@pytest.fixture
def web(make_server: Any, tmp_path: Path) -> Server:
    return seeded_server(make_server, f"sqlite:///{tmp_path / 'web.db'}", tmp_path, DASHBOARD_TOKEN)


def _get(server: Server, path: str) -> httpx.Response:
    return http_get(
        server.url + path, timeout=10, headers={"Authorization": f"Bearer {DASHBOARD_TOKEN}"}
    )


def test_an_unknown_department_is_refused(web: Server) -> None:
    response = _get(web, "/dashboard?department=Finanse")
    assert response.status_code == 400
    assert 'no department named "Finanse"' in response.text
    assert "The departments: Finance, Parks." in response.text
    csv = _get(web, "/dashboard/csv/intake.csv?department=Finanse")
    assert csv.status_code == 400
    page = _get(web, "/dashboard?department=Parks")
    assert page.status_code == 200
    assert "Finanse" not in _get(web, "/dashboard").text


CHROMIUM = Path("/usr/bin/chromium")


@sqlite_only("the layout of a chart in a browser does not depend on the database")
@pytest.mark.skipif(
    not CHROMIUM.exists() and not shutil.which("chromium"), reason="Chromium is not installed"
)
def test_legends_and_axis_labels_do_not_overlap_in_a_browser(database_url: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    names = [
        "Accounts & Access",
        "Email & Calendar",
        "Hardware",
        "Network",
        "New system or project",
        "Software",
        "General",
    ]
    weeks = [f"2026-{m:02d}-{d:02d}" for m in (1, 2, 3) for d in (5, 12, 19, 26)]
    long = line_chart(
        "Requests per week by category",
        weeks,
        [
            Series(n, [float((i * 3 + k) % 9) for k in range(len(weeks))])
            for i, n in enumerate(names)
        ],
        unit="requests",
    )
    bars = bar_chart(
        "Open requests by state and tier",
        ["waiting_on_requester · tier 2", "claimed · tier 1", "open · tier 3"],
        [4, 2, 7],
        unit="requests",
    )
    executable = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 900, "height": 900})
            page.set_content(
                f"<div style='width:720px'>{long}</div><div style='width:720px'>{bars}</div>"
            )
            boxes = page.evaluate(
                """() => [...document.querySelectorAll('svg')].map(svg => {
                    const box = e => { const r = e.getBoundingClientRect();
                        return [r.left, r.top, r.right, r.bottom]; };
                    return {
                        labels: [...svg.querySelectorAll('.x-label')].map(box),
                        legend: [...svg.querySelectorAll('.legend')].map(box),
                        svg: box(svg),
                    };
                })"""
            )
        finally:
            browser.close()

    def meet(a: list[float], b: list[float]) -> bool:
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    for chart in boxes:
        for label in chart["labels"]:
            assert label[3] <= chart["svg"][3] + 0.5, "a label runs off the chart"
            for key in chart["legend"]:
                assert not meet(label, key), (label, key)
        for i, key in enumerate(chart["legend"]):
            assert key[2] <= chart["svg"][2] + 0.5, "a legend entry runs off the chart"
            for other in chart["legend"][i + 1 :]:
                assert not meet(key, other), (key, other)
    assert len(boxes[0]["legend"]) == len(names)
