"""The dashboard's figures at the core, on a history with known answers (tests/reporting_data.py),
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml

from chatbot import reports
from chatbot.config import Routing
from chatbot.db import Database
from chatbot.reports import Filters
from tests.reporting_data import CONFIG, seed

NOW = datetime(2026, 3, 12, 15, 0, tzinfo=UTC)  # a Thursday
ROUTING = Routing.model_validate(yaml.safe_load(CONFIG))


@pytest.fixture
def db(database_url: str) -> Database:
    seed(database_url, NOW)
    database = Database(database_url)
    yield database
    database.dispose()


def _default() -> Filters:
    return Filters.default(today=NOW.date())


def test_open_and_volume(db: Database) -> None:
    day = seed_day()
    with db.reading() as conn:
        assert reports.open_by_state_and_tier(conn=conn, filters=_default()) == [
            {"state": "open", "tier": 1, "requests": 2}
        ]
        volume = reports.volume_by_week(conn=conn, filters=_default(), by="department")
        category = reports.volume_by_week(conn=conn, filters=_default(), by="category")
    week = (day.date() - timedelta(days=1)).isoformat()
    assert volume == [
        {"week": week, "department": "Finance", "requests": 6},
        {"week": week, "department": "Parks", "requests": 4},
    ]
    assert category == [
        {"week": week, "category": "Hardware", "requests": 6},
        {"week": week, "category": "Network", "requests": 4},
    ]


def seed_day() -> datetime:
    from tests.reporting_data import seeded_day

    return seeded_day(NOW)


def test_response_times_against_targets(db: Database) -> None:
    with db.reading() as conn:
        first = {
            r["urgency"]: r
            for r in reports.response_times(
                conn=conn, filters=_default(), routing=ROUTING, kind="first_response"
            )
        }
        resolution = {
            r["urgency"]: r
            for r in reports.response_times(
                conn=conn, filters=_default(), routing=ROUTING, kind="resolution"
            )
        }
    assert first["normal"] == {
        "urgency": "normal",
        "requests": 6,
        "median_minutes": 90.0,
        "p90_minutes": 180.0,
        "target_minutes": 240,
        "within_target_pct": 100.0,
    }
    assert (first["high"]["median_minutes"], first["high"]["p90_minutes"]) == (30.0, 90.0)
    assert first["high"]["within_target_pct"] == 50.0
    assert first["critical"]["requests"] == 0 and first["critical"]["median_minutes"] is None
    assert (resolution["normal"]["median_minutes"], resolution["normal"]["p90_minutes"]) == (
        360.0,
        1800.0,
    )
    assert resolution["normal"]["within_target_pct"] == 83.3
    assert (resolution["high"]["median_minutes"], resolution["high"]["p90_minutes"]) == (
        180.0,
        300.0,
    )


def test_overdue_lists_unanswered_requests_without_their_text(db: Database) -> None:
    with db.reading() as conn:
        rows = reports.overdue(conn=conn, filters=_default(), routing=ROUTING, now=NOW)
    assert [(r["department"], r["urgency"], r["missed"]) for r in rows] == [
        ("Parks", "high", "first response"),
        ("Parks", "high", "first response"),
    ]
    assert all(set(r) >= {"request", "age_hours"} and "text" not in r for r in rows)


def test_intake_share_per_department(db: Database) -> None:
    with db.reading() as conn:
        rows = reports.intake_share(conn=conn, filters=_default())
        totals = reports.totals(conn=conn, filters=_default())
    assert [(r["department"], r["requests"], r["via_techhelp"], r["share_pct"]) for r in rows] == [
        ("Finance", 6, 5, 83.3),
        ("Parks", 4, 2, 50.0),
    ]
    assert totals == {"created": 10, "resolved": 8, "via_techhelp": 7, "share_pct": 70.0}


def test_ratings_hide_groups_below_the_minimum(db: Database) -> None:
    with db.reading() as conn:
        rows = reports.ratings_by_week(conn=conn, filters=_default(), min_group=3)
        response = reports.rating_response(conn=conn, filters=_default(), min_group=3)
        everyone = reports.ratings_by_week(
            conn=conn, filters=_default(), min_group=3, by_department=False
        )
        small = reports.ratings_by_week(conn=conn, filters=_default(), min_group=2)
    by_department = {r["department"]: r for r in rows}
    assert (by_department["Finance"]["ratings"], by_department["Finance"]["average"]) == (4, 4.0)
    assert (by_department["Parks"]["ratings"], by_department["Parks"]["average"]) == (None, None)
    assert {r["department"]: r["response_pct"] for r in response} == {
        "Finance": 66.7,
        "Parks": None,
    }
    assert [(r["ratings"], r["average"]) for r in everyone] == [(6, 3.67)]
    assert {r["department"]: r["average"] for r in small}["Parks"] == 3.0


def test_filters_by_date_and_department(db: Database) -> None:
    wide = Filters(start=NOW.date() - timedelta(weeks=30), end=NOW.date())
    finance = Filters(start=wide.start, end=wide.end, department="Finance")
    with db.reading() as conn:
        assert reports.totals(conn=conn, filters=wide)["created"] == 11
        assert reports.totals(conn=conn, filters=finance)["created"] == 7
        assert reports.open_by_state_and_tier(conn=conn, filters=finance) == []


def test_alert_history(db: Database) -> None:
    with db.reading() as conn:
        rows = reports.alert_history(conn=conn, filters=_default(), now=NOW)
    assert len(rows) == 1
    alert = rows[0]
    assert (alert["severity"], alert["service"], alert["duration_minutes"]) == ("outage", "VPN", 90)
    assert (alert["copies"], alert["affected"]) == (3, 2)
