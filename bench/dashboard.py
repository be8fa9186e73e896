"""Dashboard benchmark: the main dashboard page and the weekly digest on 10,000 and on
1,000,000 requests (with their events and ratings), in the same run, on SQLite and PostgreSQL.

Target: 100x the data costs at most 3x the time, and memory stays flat. Two shapes of "100x":
- `history` (default): the same weekly volume over a 100x longer history (what a growing
  archive does to the default 12-week views);
- `span`: the same two years with 100x the weekly volume (a 100x larger organisation: every
  figure of the window then covers 100x the rows, so this one grows with the data).
Each size also has twice as many pulse survey answers (20,000 and 2,000,000): a weekly 1–5
anonymous survey and a named one with three options every four weeks, over the same span, about
60 % of each run's recipients answering. Seeding uses executemany on SQLite and COPY on
PostgreSQL.

Run: `.venv/bin/python bench/dashboard.py` (SQLite), with
`BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres` for PostgreSQL as well: a
database `bench_dashboard` is created on that server and dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatbot.bot import Bot  # noqa: E402
from chatbot.clock import FixedClock  # noqa: E402
from chatbot.config import Department, Routing, Settings  # noqa: E402
from chatbot.db import Database, rollups  # noqa: E402
from chatbot.reports import Filters  # noqa: E402
from chatbot.text import Templates  # noqa: E402
from chatbot.web.dashboard import Web  # noqa: E402
from commands import ROUTES, digest  # noqa: E402

log = logging.getLogger("bench.dashboard")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DEPARTMENTS = ["Finance", "Parks", "Police", "Fire", "Library", "Health", "Transit", "Water"]
CATEGORIES = [
    ("Hardware", 1),
    ("Accounts & Access", 1),
    ("Network", 2),
    ("Email & Calendar", 1),
    ("Software", 1),
    ("New system or project", 3),
    ("General", 1),
]
URGENCY = ["low"] * 2 + ["normal"] * 6 + ["high"] * 2 + ["critical"]
INTAKE = ["techhelp"] * 7 + ["form"] + ["phone", "email", "walk-in"]
REQUEST_COLUMNS = (
    "id, platform, requester, logged_by, intake_channel, text, category, urgency, queue, tier, "
    "service, department, state, assignee, resolution, created_at, first_response_at, "
    "resolved_at, updated_at, by_message"
)


def rows(count: int, span: timedelta, seed: int = 42) -> Iterator[tuple[Any, ...]]:
    """(request, events, rating) tuples with deterministic randomness."""
    rng = random.Random(seed)
    step = span / count
    start = NOW - span
    for n in range(1, count + 1):
        created = start + step * n
        urgency = rng.choice(URGENCY)
        intake = rng.choice(INTAKE)
        category, tier = rng.choice(CATEGORIES)
        department = rng.choice(DEPARTMENTS)
        age = NOW - created
        first = created + timedelta(minutes=rng.expovariate(1 / 90))
        resolved = created + timedelta(hours=rng.expovariate(1 / 20))
        if age < timedelta(days=3) and rng.random() < 0.5:
            state = rng.choice(("open", "claimed"))
            resolved = None
            if state == "open" and rng.random() < 0.5:
                first = None
        else:
            state = "resolved"
        first = None if first and first > NOW else first
        if resolved and resolved > NOW:
            state, resolved = "claimed", None
        requester = f"U{rng.randrange(5000):05d}"
        request = (
            n,
            "slack",
            requester,
            "USTAFF" if intake in ("phone", "email", "walk-in") else None,
            intake,
            f"request number {n}",
            category,
            urgency,
            "Service Desk",
            tier,
            None,
            department,
            state,
            "USTAFF" if state != "open" else None,
            "done" if resolved else None,
            created,
            first,
            resolved,
            resolved or first or created,
            False,
        )
        events = [(n, requester, "created", created)]
        if resolved:
            events.append((n, "USTAFF", "resolved", resolved))
        rating = None
        if resolved and rng.random() < 0.4:
            rating = (
                n,
                requester,
                rng.choice((5, 5, 4, 4, 4, 3, 2, 1)),
                resolved + timedelta(hours=1),
            )
        yield request, events, rating


SURVEYS = (
    # id, question, options, scale, anonymous, every (weeks)
    (1, "How well does IT support you?", ["1", "2", "3", "4", "5"], True, True, 1),
    (2, "Did the new laptops help?", ["Yes", "No", "Not sure"], False, False, 4),
)
SURVEY_COLUMNS = (
    "id, question, options, scale, audience, timezone, anonymous, close_hours, author, "
    "platform, source, active, created_at"
)
RUN_COLUMNS = (
    "id, survey_id, scheduled_for, state, sent_at, closes_at, closed_at, recipients, "
    "recipients_by_department, held_back"
)
ANSWER_COLUMNS = "run_id, department, option, count"
SURVEY_TABLES = ("surveys", "survey_runs")


def survey_rows(answers: int, span: timedelta, seed: int = 7) -> tuple[list, list, Iterator]:
    """(surveys, runs, answers): the runs of both surveys over `span`, and `answers` answers
    spread evenly over them (a generator: 2,000,000 rows are never held in memory)."""
    start = NOW - span
    weeks = max(1, int(span / timedelta(weeks=1)))
    surveys, runs = [], []
    for survey_id, question, options, scale, anonymous, every in SURVEYS:
        surveys.append(
            (
                survey_id,
                question,
                json.dumps(options),
                scale,
                json.dumps({"everyone": True}),
                "UTC",
                anonymous,
                72.0,
                "UADMIN",
                "slack",
                "config",
                True,
                start,
            )
        )
        for week in range(0, weeks, every):
            sent = start + timedelta(weeks=week, hours=9)
            runs.append([len(runs) + 1, survey_id, sent, anonymous, scale, len(options)])
    per_run = answers // len(runs)
    rng = random.Random(seed)
    run_rows = []
    for run_id, survey_id, sent, _anonymous, _scale, _options in runs:
        closes = sent + timedelta(hours=72)
        asked = {d: round(per_run / 0.6 / len(DEPARTMENTS)) for d in DEPARTMENTS}
        state, closed = ("open", None) if closes > NOW else ("closed", closes)
        row = (run_id, survey_id, sent, state, sent, closes, closed, sum(asked.values()))
        run_rows.append((*row, json.dumps(asked), 0))

    def generate() -> Iterator[tuple[Any, ...]]:
        """The answers as stored: counts per run, department and option (`survey_tallies`)."""
        for run_id, _survey_id, _sent, _anonymous, scale, options in runs:
            counted: Counter[tuple[str, int]] = Counter()
            for _ in range(per_run):
                option = rng.choice((4, 4, 3, 3, 3, 2, 1, 0)) if scale else rng.randrange(options)
                counted[(rng.choice(DEPARTMENTS), option)] += 1
            for department in ("", *DEPARTMENTS):
                for option in range(options):
                    yield (run_id, department, option, counted[(department, option)])

    return surveys, run_rows, generate()


def _sqlite_time(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S.%f")


def seed(db: Database, count: int, span: timedelta) -> float:
    """Insert `count` requests with their events and ratings, and 2 x `count` survey answers
    with their surveys and runs; returns the seconds it took."""
    started = time.perf_counter()
    batch = 20_000
    # A bulk load: the rollups' triggers are dropped while it runs and the rollups filled from
    # the rows after it (what they would hold row by row, in a fraction of the time).
    with db.engine.begin() as conn:
        rollups.drop_triggers(conn)
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if db.is_postgres:
            _seed_postgres(cursor, count, span)
        else:
            cursor.execute("PRAGMA synchronous=OFF")
            requests, events, ratings = [], [], []
            event_id = rating_id = 0

            def flush() -> None:
                cursor.executemany(
                    f"INSERT INTO requests ({REQUEST_COLUMNS}) VALUES ({','.join('?' * 20)})",
                    requests,
                )
                cursor.executemany(
                    "INSERT INTO request_events (id, request_id, actor, kind, detail, at) "
                    "VALUES (?, ?, ?, ?, '{}', ?)",
                    events,
                )
                cursor.executemany(
                    "INSERT INTO ratings (id, request_id, rater, score, rated_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    ratings,
                )
                requests.clear(), events.clear(), ratings.clear()

            cursor.execute("BEGIN")
            for request, request_events, rating in rows(count, span):
                requests.append(
                    request[:15]
                    + tuple(_sqlite_time(v) for v in request[15:19])  # type: ignore[arg-type]
                    + request[19:]
                )
                for event in request_events:
                    event_id += 1
                    events.append((event_id, *event[:3], _sqlite_time(event[3])))
                if rating:
                    rating_id += 1
                    ratings.append((rating_id, *rating[:3], _sqlite_time(rating[3])))
                if len(requests) >= batch:
                    flush()
            flush()
            _seed_surveys_sqlite(cursor, count, span)
            cursor.execute("COMMIT")
        raw.commit()
    finally:
        raw.close()
    with db.engine.begin() as conn:
        rollups.rebuild(conn)
        rollups.create_triggers(conn)
        conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


def _seed_surveys_sqlite(cursor: Any, count: int, span: timedelta) -> None:
    def local(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(_sqlite_time(v) if isinstance(v, datetime) else v for v in row)

    surveys, runs, answers = survey_rows(2 * count, span)
    marks = ",".join("?" * len(SURVEY_COLUMNS.split(",")))
    cursor.executemany(
        f"INSERT INTO surveys ({SURVEY_COLUMNS}) VALUES ({marks})", [local(r) for r in surveys]
    )
    marks = ",".join("?" * len(RUN_COLUMNS.split(",")))
    cursor.executemany(
        f"INSERT INTO survey_runs ({RUN_COLUMNS}) VALUES ({marks})", [local(r) for r in runs]
    )
    batch: list[tuple[Any, ...]] = []
    statement = f"INSERT INTO survey_tallies ({ANSWER_COLUMNS}) VALUES (?, ?, ?, ?)"
    for answer in answers:
        batch.append(local(answer))
        if len(batch) >= 20_000:
            cursor.executemany(statement, batch)
            batch.clear()
    cursor.executemany(statement, batch)


def _seed_postgres(cursor: Any, count: int, span: timedelta) -> None:
    events_rows: list[tuple[Any, ...]] = []
    rating_rows: list[tuple[Any, ...]] = []
    with cursor.copy(f"COPY requests ({REQUEST_COLUMNS}) FROM STDIN") as requests:
        for request, request_events, rating in rows(count, span):
            requests.write_row(request)
            events_rows.extend(request_events)
            if rating:
                rating_rows.append(rating)
    with cursor.copy("COPY request_events (request_id, actor, kind, at, detail) FROM STDIN") as ev:
        for event in events_rows:
            ev.write_row((*event, "{}"))
    with cursor.copy("COPY ratings (request_id, rater, score, rated_at) FROM STDIN") as rt:
        for rating in rating_rows:
            rt.write_row(rating)
    surveys, runs, answers = survey_rows(2 * count, span)
    for table, columns, rows_ in (
        ("surveys", SURVEY_COLUMNS, surveys),
        ("survey_runs", RUN_COLUMNS, runs),
        ("survey_tallies", ANSWER_COLUMNS, answers),
    ):
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows_:
                copy.write_row(row)
    for table in ("requests", "request_events", "ratings", *SURVEY_TABLES):
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 1) FROM {table}))"
        )
    cursor.execute("ANALYZE")


def measure(work: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median seconds of `repeat` runs after a warm-up, and the peak Python memory (MiB) of one
    more run under tracemalloc (which slows it, so it is not timed)."""
    work()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    work()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return statistics.median(times), peak


def run_one(url: str, count: int, span: timedelta, repeat: int) -> dict[str, Any]:
    db = Database(url)
    db.upgrade()
    seconds = seed(db, count, span)
    routing = Routing(
        departments=[Department(name=d) for d in DEPARTMENTS], timezone="UTC", digest=None
    )
    settings = Settings(database_url=url, techhelp_it_channel="CIT", routing=routing)
    clock = FixedClock(NOW)
    web = Web(settings=settings, db=db, clock=clock)
    bot = Bot(settings=settings, db=db, templates=Templates(), clock=clock, routes=ROUTES)
    filters = Filters.default(today=NOW.date())

    def page() -> None:
        html = web.render_dashboard(filters)
        assert "Service dashboard" in html and "PS-2: Did the new laptops help?" in html

    def weekly() -> None:
        with db.sessions() as session, session.begin():
            message = digest.build(bot.context(session, platform="slack", now=NOW), NOW)
            assert message.file is not None

    page_s, page_mib = measure(page, repeat)
    digest_s, digest_mib = measure(weekly, repeat)
    db.dispose()
    return {
        "requests": count,
        "survey_answers": 2 * count,
        "seed_s": round(seconds, 1),
        "page_s": round(page_s, 4),
        "page_peak_mib": round(page_mib, 2),
        "digest_s": round(digest_s, 4),
        "digest_peak_mib": round(digest_mib, 2),
    }


def databases(base_pg: str | None, work: Path, name: str) -> Iterator[tuple[str, str]]:
    yield "sqlite", f"sqlite:///{work / (name + '.db')}"
    if base_pg:
        import psycopg

        database = f"bench_dashboard_{name}"
        with psycopg.connect(base_pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{database}"')
        parts = urllib.parse.urlsplit(base_pg)
        try:
            yield "postgresql", urllib.parse.urlunsplit(parts._replace(path=f"/{database}"))
        finally:
            with psycopg.connect(base_pg, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--shape", choices=("history", "span", "both"), default="history")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("chatbot").setLevel(logging.WARNING)
    base_pg = os.environ.get("BENCH_DATABASE_URL")
    work = Path(tempfile.mkdtemp(prefix="techhelp-dashboard-bench-"))
    shapes = ("history", "span") if args.shape == "both" else (args.shape,)
    per_week = args.small / 104  # the small set covers two years in both shapes
    results = []
    for shape in shapes:
        for size in (args.small, args.large):
            weeks = size / per_week if shape == "history" else 104
            span = timedelta(weeks=weeks)
            for engine, url in databases(base_pg, work, f"{shape}_{size}"):
                result = {"shape": shape, "database": engine} | run_one(
                    url, size, span, args.repeat
                )
                log.info(json.dumps(result))
                results.append(result)
                if engine == "sqlite":
                    Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    print_table(results, args.small, args.large)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "dashboard.json").write_text(json.dumps(results, indent=2))


def print_table(results: list[dict[str, Any]], small: int, large: int) -> None:
    lines = [
        f"{'shape':8} {'database':10} {'requests':>9} {'seed s':>7} {'page s':>8} "
        f"{'digest s':>9} {'page MiB':>9} {'digest MiB':>10}"
    ]
    for r in results:
        lines.append(
            f"{r['shape']:8} {r['database']:10} {r['requests']:>9,} {r['seed_s']:>7} "
            f"{r['page_s']:>8} {r['digest_s']:>9} {r['page_peak_mib']:>9} "
            f"{r['digest_peak_mib']:>10}"
        )
    keyed = {(r["shape"], r["database"], r["requests"]): r for r in results}
    for (shape, engine, size), r in keyed.items():
        if size != large or (shape, engine, small) not in keyed:
            continue
        base = keyed[(shape, engine, small)]
        lines.append(
            f"{shape}/{engine}: {large // small}x the data: page x"
            f"{r['page_s'] / base['page_s']:.2f}, digest x{r['digest_s'] / base['digest_s']:.2f} "
            f"(target <= 3)"
        )
    log.info("\n".join(lines))


if __name__ == "__main__":
    main()
