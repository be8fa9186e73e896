"""The dashboard's figures at the core, on a history with known answers (tests/reporting_data.py),
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

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


def test_no_target_no_share_within_it(db: Database) -> None:
    """An urgency without a service target (the YAML may set only some) has no "within target"
    share: not 0 %, which would read as every request missing it."""
    from chatbot.config import ServiceTarget

    only_critical = ROUTING.model_copy(
        update={
            "service_targets": {
                "critical": ServiceTarget(first_response_minutes=15, resolution_hours=4)
            }
        }
    )
    with db.reading() as conn:
        first = {
            r["urgency"]: r
            for r in reports.response_times(
                conn=conn, filters=_default(), routing=only_critical, kind="first_response"
            )
        }
    assert first["normal"]["requests"] == 6 and first["normal"]["median_minutes"] == 90.0
    assert (first["normal"]["target_minutes"], first["normal"]["within_target_pct"]) == (None, None)
    assert first["high"]["within_target_pct"] is None


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
    today = NOW.date()
    with db.reading() as conn:
        rows = reports.ratings_by_week(conn=conn, filters=_default(), min_group=3, today=today)
        response = reports.rating_response(conn=conn, filters=_default(), min_group=3)
        everyone = reports.ratings_by_week(
            conn=conn, filters=_default(), min_group=3, today=today, by_department=False
        )
        small = reports.ratings_by_week(conn=conn, filters=_default(), min_group=2, today=today)
    by_department = {r["department"]: r for r in rows}
    # Parks has 2 ratings: hidden. Finance's 4 are hidden with them, since everyone's 6 ratings
    # averaging 3.67 minus Finance's 4 averaging 4.0 would be Parks' (complementary suppression).
    assert (by_department["Finance"]["ratings"], by_department["Finance"]["average"]) == (
        None,
        None,
    )
    assert (by_department["Parks"]["ratings"], by_department["Parks"]["average"]) == (None, None)
    assert {r["department"]: r["response_pct"] for r in response} == {
        "Finance": None,
        "Parks": None,
    }
    assert [(r["ratings"], r["average"]) for r in everyone] == [(6, 3.67)]
    assert {r["department"]: r["average"] for r in small} == {"Finance": 4.0, "Parks": 3.0}


def _hidden_is_recoverable(everyone: list[dict], departments: list[dict], minimum: int) -> bool:
    """Whether, in some week, everyone's ratings minus the shown departments' are a group of
    fewer than `minimum` (but some): the subtraction that would reveal it."""
    for week in {r["week"] for r in everyone}:
        total = [r["ratings"] for r in everyone if r["week"] == week][0]
        if total is None:
            continue
        shown = sum(r["ratings"] or 0 for r in departments if r["week"] == week)
        if 0 < total - shown < minimum:
            return True
    return False


def test_rating_figures_cannot_be_subtracted(db: Database) -> None:
    """Everyone's weekly rating (the public report) minus the departments shown on the
    dashboard, with or without its department filter, never leaves a group below the minimum."""
    today = NOW.date()
    finance = Filters(start=_default().start, end=_default().end, department="Finance")
    with db.reading() as conn:
        everyone = reports.ratings_by_week(
            conn=conn, filters=_default(), min_group=3, today=today, by_department=False
        )
        departments = reports.ratings_by_week(
            conn=conn, filters=_default(), min_group=3, today=today
        )
        alone = reports.ratings_by_week(conn=conn, filters=finance, min_group=3, today=today)
        response = reports.rating_response(conn=conn, filters=finance, min_group=3)
    assert everyone and departments
    assert not _hidden_is_recoverable(everyone, departments, 3)
    assert not _hidden_is_recoverable(everyone, alone, 3)
    # Finance alone shows no more than beside Parks.
    assert [(r["department"], r["ratings"], r["average"]) for r in alone] == [
        ("Finance", None, None)
    ]
    assert [(r["department"], r["rated"], r["response_pct"]) for r in response] == [
        ("Finance", None, None)
    ]


def test_ratings_published_for_whole_weeks_once_ended(db: Database) -> None:
    """A week's rating figures appear on the Monday after it (UTC) and are the same whatever
    day the range starts or ends on: no two pages differ by one day's ratings."""
    day = seed_day()  # Tuesday; the ratings were given on the Wednesday
    monday = day.date() - timedelta(days=1)
    week = Filters(start=monday, end=monday + timedelta(days=6))
    thursday = Filters(start=monday + timedelta(days=3), end=monday + timedelta(days=3))
    with db.reading() as conn:

        def everyone(filters: Filters, today: date) -> list[tuple]:
            rows = reports.ratings_by_week(
                conn=conn, filters=filters, min_group=3, today=today, by_department=False
            )
            return [(r["week"], r["ratings"], r["average"]) for r in rows]

        published = [(monday.isoformat(), 6, 3.67)]
        for today in (day.date() + timedelta(days=1), monday + timedelta(days=6)):
            assert everyone(week, today) == []  # the week has not ended
        assert everyone(week, monday + timedelta(days=7)) == published
        assert everyone(thursday, monday + timedelta(days=7)) == published
        assert everyone(_default(), NOW.date()) == published


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


def _pulse(rows: list[dict], survey: str) -> list[tuple]:
    return [
        (
            r["sent"],
            r["department"],
            r["recipients"],
            r["answers"],
            r["response_pct"],
            r["average"],
            r["top_option"],
        )
        for r in rows
        if r["survey"] == survey
    ]


def test_pulse_trends_per_survey_run_and_department(db: Database) -> None:
    day = seed_day()
    run1 = (day - timedelta(days=7)).date().isoformat()
    run2 = day.date().isoformat()
    with db.reading() as conn:
        rows = reports.pulse_trends(conn=conn, filters=_default(), routing=ROUTING, min_group=3)
    # The run 20 weeks back is outside the range; Parks and the one person without a
    # department answered fewer than 3 times: no answers, rate or average shown. Nor Finance's:
    # everyone minus Finance would be Parks' one or two answers (complementary suppression).
    assert _pulse(rows, "PS-1") == [
        (run1, "Everyone", 6, 4, 66.7, 3.75, None),
        (run1, "Finance", 4, None, None, None, None),
        (run1, "Parks", 2, None, None, None, None),
        (run2, "Everyone", 7, 6, 85.7, 3.5, None),
        (run2, "(none)", 1, None, None, None, None),
        (run2, "Finance", 4, None, None, None, None),
        (run2, "Parks", 2, None, None, None, None),
    ]
    # Custom options: no average, the top answer and the distribution instead.
    assert _pulse(rows, "PS-2") == [
        (run2, "Everyone", 6, 4, 66.7, None, "ThinkPad (75%)"),
        (run2, "Finance", 4, None, None, None, None),
        (run2, "Parks", 2, None, None, None, None),
    ]
    laptops = [r for r in rows if r["survey"] == "PS-2"]
    assert laptops[0]["distribution"] == "ThinkPad: 75% · MacBook: 25% · Either: 0%"
    assert laptops[0]["question"] == "Which laptop do you prefer?"
    assert laptops[2]["distribution"] is None and laptops[2]["percents"] == {}
    # No respondent and no comment ever leaves the report.
    assert "SECRET" not in repr(rows) and "UBOB" not in repr(rows)


def test_pulse_trends_department_filter_and_minimum(db: Database) -> None:
    finance = Filters(start=_default().start, end=_default().end, department="Finance")
    parks = Filters(start=_default().start, end=_default().end, department="Parks")
    lenient = Routing.model_validate(yaml.safe_load(CONFIG) | {"pulse": {"min_group_size": 2}})
    with db.reading() as conn:
        rows = reports.pulse_trends(conn=conn, filters=finance, routing=ROUTING, min_group=3)
        # The dashboard's minimum of 2 does not override the survey module's 3 ...
        strict = reports.pulse_trends(conn=conn, filters=parks, routing=ROUTING, min_group=2)
        # ... and with both at 2, Parks' two answers are shown.
        shown = reports.pulse_trends(conn=conn, filters=parks, routing=lenient, min_group=2)
        everyone = reports.pulse_trends(
            conn=conn, filters=_default(), routing=ROUTING, min_group=3, by_department=False
        )
        old = reports.pulse_trends(
            conn=conn,
            filters=Filters(start=NOW.date() - timedelta(weeks=30), end=NOW.date()),
            routing=ROUTING,
            min_group=3,
        )
    # Finance alone shows no more than beside everyone: hidden with Parks (see above).
    assert [(r["survey"], r["department"], r["answers"], r["average"]) for r in rows] == [
        ("PS-1", "Finance", None, None),
        ("PS-1", "Finance", None, None),
        ("PS-2", "Finance", None, None),
    ]
    assert [(r["recipients"], r["response_pct"]) for r in rows] == [
        (4, None),
        (4, None),
        (4, None),
    ]
    assert [(r["answers"], r["average"]) for r in strict] == [(None, None)] * 3
    assert [(r["answers"], r["average"]) for r in shown if r["survey"] == "PS-1"] == [
        (None, None),
        (2, 2.0),
    ]
    assert {r["department"] for r in everyone} == {"Everyone"} and len(everyone) == 3
    first = old[0]
    assert (first["department"], first["answers"], first["average"]) == ("Everyone", 3, 1.0)
