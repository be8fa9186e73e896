"""The dashboard's rollups (`chatbot.db.rollups`) equal a full recomputation from the rows after
mixed writes (requests created, claimed, escalated, resolved, reopened and moved; ratings given,
changed and withdrawn), on SQLite and PostgreSQL; concurrent writers on PostgreSQL lose no
count; and the dashboard's figures read from them are those of the rows."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from sqlalchemy import delete, select, text, update

from chatbot import reports, requests
from chatbot.config import Routing, Settings
from chatbot.db import Database, rollups
from chatbot.db.models import Rating, Request
from chatbot.reports import Filters
from chatbot.routing import Triage
from tests.reporting_data import CONFIG, seed

NOW = datetime(2026, 3, 12, 15, 0, tzinfo=UTC)
ROUTING = Routing.model_validate(yaml.safe_load(CONFIG))
DEPARTMENTS = ("Finance", "Parks", None)
CATEGORIES = ("Hardware", "Network", "Software")
URGENCIES = ("low", "normal", "high", "critical")


def _assert_equal(db: Database) -> None:
    with db.engine.connect() as conn:
        assert rollups.stored(conn) == rollups.recompute(conn)


def _new_request(session: object, rng: random.Random, now: datetime) -> Request:
    created = now - timedelta(days=rng.randrange(60), minutes=rng.randrange(1440))
    row = Request(
        platform=rng.choice(("slack", "teams")),
        requester=f"U{rng.randrange(20)}",
        intake_channel=rng.choice(("techhelp", "form", "phone")),
        by_message=rng.random() < 0.2,
        text="printer",
        category=rng.choice(CATEGORIES),
        urgency=rng.choice(URGENCIES),
        queue="Service Desk",
        tier=1,
        department=rng.choice(DEPARTMENTS),
        state="open",
        created_at=created,
        updated_at=created,
    )
    session.add(row)  # type: ignore[attr-defined]
    return row


def test_rollups_equal_a_recomputation_after_mixed_writes(database_url: str) -> None:
    seed(database_url, NOW)
    db = Database(database_url)
    _assert_equal(db)  # the migration filled them from rows stored before it
    settings = Settings(database_url=database_url, routing=ROUTING)
    rng = random.Random(16)
    for round_ in range(6):
        with db.transaction() as session:
            made = [_new_request(session, rng, NOW) for _ in range(15)]
            session.flush()
            ids = list(session.scalars(select(Request.id)))
            for request_id in rng.sample(ids, 12):
                request = session.get(Request, request_id)
                assert request is not None
                later = request.created_at + timedelta(minutes=rng.randrange(1, 20_000))
                action = rng.choice(("claim", "escalate", "resolve", "reopen", "move", "rate"))
                try:
                    if action == "claim":
                        requests.claim(session=session, request=request, actor="UIT", now=later)
                    elif action == "escalate":
                        requests.escalate(session=session, request=request, actor="UIT", now=later)
                    elif action == "resolve":
                        requests.resolve(
                            session=session, request=request, actor="UIT", note="done", now=later
                        )
                    elif action == "reopen":
                        requests.reopen(session=session, request=request, actor="UIT", now=later)
                    elif action == "move":
                        request.department = rng.choice(DEPARTMENTS)
                        request.category = rng.choice(CATEGORIES)
                    else:
                        rating = session.scalar(
                            select(Rating).where(Rating.request_id == request.id)
                        )
                        if rating is None:
                            session.add(
                                Rating(
                                    request_id=request.id,
                                    rater=request.requester,
                                    score=rng.randint(1, 5),
                                    rated_at=later,
                                )
                            )
                        elif rng.random() < 0.5:
                            rating.score = rng.randint(1, 5)  # a second click changes it
                            rating.rated_at = later
                        else:
                            session.delete(rating)
                    session.flush()
                except requests.RequestError:
                    pass
            if round_ == 3:  # a request and its rating removed, a bulk update by SQL
                victim = made[0]
                session.execute(delete(Rating).where(Rating.request_id == victim.id))
                session.execute(delete(Request).where(Request.id == victim.id))
                session.execute(
                    update(Request)
                    .where(Request.urgency == "low")
                    .values(first_response_at=NOW + timedelta(minutes=7))
                )
        _assert_equal(db)
    # A transaction that fails rolls its rollups back with it.
    with pytest.raises(RuntimeError), db.transaction() as session:
        _new_request(session, rng, NOW)
        session.flush()
        raise RuntimeError("crash before commit")
    _assert_equal(db)
    # A request created by the application's own path is counted too.
    with db.transaction() as session:
        requests.create_request(
            session=session,
            settings=settings,
            platform="slack",
            requester="UALICE",
            text="vpn",
            triage=Triage(category="Network", urgency="high", queue="Service Desk", tier=2),
            intake_channel="techhelp",
            now=NOW,
        )
    _assert_equal(db)
    db.dispose()


def _step(minutes: float | None) -> float | None:
    """A duration's step (`rollups.STEPS`), rounded up, in minutes."""
    if minutes is None:
        return None
    seconds = round(minutes * 60)
    for limit, step in rollups.STEPS:
        if seconds <= limit:
            return float(-(-seconds // step) * step // 60)
    return float(-(-seconds // rollups.LAST_STEP) * rollups.LAST_STEP // 60)


def _figures(conn: object, filters: Filters) -> dict[str, object]:
    return {
        "open": reports.open_by_state_and_tier(conn=conn, filters=filters),
        "by category": reports.volume_by_week(conn=conn, filters=filters, by="category"),
        "by department": reports.volume_by_week(conn=conn, filters=filters, by="department"),
        "totals": reports.totals(conn=conn, filters=filters),
        "weekly": reports.weekly_volume(conn=conn, filters=filters),
        "intake": reports.intake_share(conn=conn, filters=filters),
        "channels": reports.intake_channels(conn=conn, filters=filters),
        "rating response": reports.rating_response(conn=conn, filters=filters, min_group=1),
        "ratings": reports.ratings_by_week(
            conn=conn, filters=filters, min_group=1, today=NOW.date()
        ),
        "departments": reports.departments(conn=conn, routing=ROUTING, filters=filters),
    }


def test_figures_from_rollups_are_those_of_the_rows(database_url: str) -> None:
    """Every count figure of the dashboard, read from the rollups, equals the same figure
    computed from the rows, for ranges that start and end mid-week and for a department."""
    seed(database_url, NOW)
    db = Database(database_url)
    rng = random.Random(3)
    with db.transaction() as session:
        for _ in range(120):
            row = _new_request(session, rng, NOW)
            if rng.random() < 0.6:
                row.state = "resolved"
                # Never exactly on a target: there the rows' own float arithmetic may err.
                row.resolved_at = row.created_at + timedelta(hours=rng.randrange(1, 90), minutes=17)
                row.first_response_at = row.created_at + timedelta(
                    minutes=rng.randrange(1, 600), seconds=13
                )
        session.flush()
        for request in session.scalars(select(Request).where(Request.resolved_at.is_not(None))):
            if rng.random() < 0.5 and request.id > 20:
                session.add(
                    Rating(
                        request_id=request.id,
                        rater=request.requester,
                        score=rng.randint(1, 5),
                        rated_at=request.resolved_at + timedelta(hours=2),
                    )
                )
    ranges = [
        Filters.default(today=NOW.date()),
        Filters(start=NOW.date() - timedelta(days=40), end=NOW.date() - timedelta(days=9)),
        Filters(start=NOW.date() - timedelta(days=50), end=NOW.date(), department="Finance"),
    ]
    with db.reading() as conn:
        for filters in ranges:
            with reports.from_rows():
                expected = _figures(conn, filters)
            assert _figures(conn, filters) == expected
            for kind in rollups.KINDS:
                with reports.from_rows():
                    rows = reports.response_times(
                        conn=conn, filters=filters, routing=ROUTING, kind=kind
                    )
                # Durations are counted in steps: the rows' percentiles, rounded up to theirs.
                stepped = [
                    r | {k: _step(r[k]) for k in ("median_minutes", "p90_minutes")} for r in rows
                ]
                assert (
                    reports.response_times(conn=conn, filters=filters, routing=ROUTING, kind=kind)
                    == stepped
                )
    db.dispose()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_concurrent_writers_lose_no_count(database_url: str) -> None:
    """Four processes' worth of writers creating and resolving requests in the same department,
    category and day at once: every one counted (the rollup rows they share are added to under
    the database's row locks, not read and written back)."""
    db = Database(database_url)
    created = NOW - timedelta(days=1)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(25):
                with db.transaction() as session:
                    row = Request(
                        platform="slack",
                        requester=f"U{n}",
                        intake_channel="techhelp",
                        text=f"{n}/{i}",
                        category="Hardware",
                        urgency="normal",
                        queue="Service Desk",
                        tier=1,
                        department="Finance",
                        state="open",
                        created_at=created,
                        updated_at=created,
                    )
                    session.add(row)
                    session.flush()
                    if i % 2:
                        row.state = "resolved"
                        row.resolved_at = created + timedelta(hours=1)
                        row.first_response_at = created + timedelta(minutes=30)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.engine.connect() as conn:
        assert rollups.stored(conn) == rollups.recompute(conn)
        total = conn.execute(
            text("SELECT sum(requests), sum(resolved) FROM rollup_request_intake")
        ).one()
    assert tuple(total) == (100, 48)
    db.dispose()


def test_an_upgrade_restores_triggers_a_table_rebuild_dropped(database_url: str) -> None:
    """A later migration that rebuilds `requests` (SQLite's batch mode copies the table and
    drops the old one, its triggers with it) must not leave the rollups silently stale: the next
    upgrade finds the trigger missing, creates it again and refills the rollups from the rows."""
    seed(database_url, NOW)
    db = Database(database_url)
    with db.engine.begin() as conn:
        on = " ON requests" if db.is_postgres else ""
        conn.execute(text(f"DROP TRIGGER rollup_requests_insert{on}"))
    rng = random.Random(5)
    with db.transaction() as session:
        for _ in range(5):
            _new_request(session, rng, NOW)
    with db.engine.connect() as conn:
        assert rollups.stored(conn) != rollups.recompute(conn)  # stale while it is missing
    db.upgrade()
    _assert_equal(db)
    with db.transaction() as session:
        _new_request(session, rng, NOW)
    _assert_equal(db)
    db.dispose()
