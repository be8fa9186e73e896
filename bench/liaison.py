"""The liaison briefing for a department with 50,000 requests and 5 years of surveys, against one
with 500 (a new department: 10 weeks of history), in the same run. Target: the large one renders
within 3x of the small one.

Each database (SQLite files in a temporary folder, or two databases next to
`BENCH_DATABASE_URL` on PostgreSQL) is seeded with executemany: requests of the department
(a tenth of the last 8 weeks' still open, the resolved ones 60% rated), another department's,
a weekly 1-5 pulse survey with its tallies per department, monthly check-ins with asks and
follow-ups, and a few alerts.
Then the briefing (`/liaison brief`: the figures and the rendered message) is timed `--repeat`
times on each and the medians compared.

    .venv/bin/python bench/liaison.py [--large 50000] [--small 500] [--repeat 15]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text

from chatbot.app import build_bot
from chatbot.clock import FixedClock
from chatbot.config import Settings
from chatbot.db.models import (
    Alert,
    LiaisonAsk,
    LiaisonFollowUp,
    LiaisonMeeting,
    Rating,
    Request,
    Survey,
    SurveyRun,
    SurveyTally,
)
from commands import liaison as liaison_command

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
DEPARTMENT = "Finance"
ROUTING = {
    "staff": ["ULIA"],
    "departments": [
        {"name": DEPARTMENT, "liaison": "ULIA", "cadence": "monthly", "manager": "UMGR"},
        {"name": "Parks", "liaison": "ULIA", "cadence": "quarterly"},
    ],
}
CATEGORIES = ("Hardware", "Software", "Network", "Accounts & Access", "Email & Calendar")


def seed(url: str, *, requests: int, span: timedelta, other: int) -> float:
    """Seed one database; returns the seconds it took."""
    started = time.perf_counter()
    bot = build_bot(Settings.from_values({"database_url": url, "routing": ROUTING}))
    bot.db.upgrade()
    rng = random.Random(42)
    engine = bot.db.engine
    with engine.begin() as conn:
        for department, count in ((DEPARTMENT, requests), ("Parks", other)):
            batch: list[dict[str, Any]] = []
            ratings: list[dict[str, Any]] = []
            for n in range(count):
                created = NOW - span * (n / max(count, 1)) - timedelta(minutes=rng.randint(1, 600))
                # Open requests are recent ones, as in a working service desk: a tenth of
                # the last 8 weeks' (older ones were resolved long ago).
                is_open = NOW - created < timedelta(weeks=8) and rng.random() < 0.1
                batch.append(
                    {
                        "platform": "slack",
                        "requester": f"U{department[:3].upper()}{n % 300}",
                        "intake_channel": "techhelp",
                        "by_message": False,
                        "text": f"request {n} about the {rng.choice(CATEGORIES).lower()}",
                        "category": rng.choice(CATEGORIES),
                        "urgency": "normal",
                        "queue": "Service Desk",
                        "tier": 1,
                        "department": department,
                        "state": "open" if is_open else "resolved",
                        "created_at": created,
                        "first_response_at": created + timedelta(minutes=30),
                        "resolved_at": None if is_open else created + timedelta(hours=5),
                        "updated_at": created,
                    }
                )
            for start in range(0, len(batch), 5000):
                conn.execute(insert(Request), batch[start : start + 5000])
            ids = conn.execute(
                text(
                    "select id, created_at from requests"
                    " where department = :d and state = 'resolved'"
                ),
                {"d": department},
            ).all()
            for request_id, created in ids:
                if rng.random() >= 0.6:
                    continue
                if isinstance(created, str):  # SQLite gives the stored text back
                    created = datetime.fromisoformat(created)
                if created.tzinfo is None:
                    created = created.replace(tzinfo=UTC)
                ratings.append(
                    {
                        "request_id": request_id,
                        "rater": "URATER",
                        "score": rng.randint(1, 5),
                        "rated_at": created + timedelta(hours=6),  # when it was resolved
                    }
                )
            for start in range(0, len(ratings), 5000):
                conn.execute(insert(Rating), ratings[start : start + 5000])
        survey_id = conn.execute(
            insert(Survey).returning(Survey.id),
            {
                "name": "config:engagement",
                "question": "How well do your tools support your work?",
                "options": ["1", "2", "3", "4", "5"],
                "scale": True,
                "audience": {"everyone": True},
                "schedule": "0 9 * * mon",
                "timezone": "UTC",
                "anonymous": True,
                "reminder_hours": 24,
                "close_hours": 72,
                "author": "UADMIN",
                "platform": "slack",
                "source": "config",
                "active": True,
                "created_at": NOW - span,
            },
        ).scalar_one()
        tallies: list[dict[str, Any]] = []
        weeks = max(int(span / timedelta(weeks=1)), 1)
        for week in range(weeks):
            sent = NOW - timedelta(weeks=weeks - week)
            run_id = conn.execute(
                insert(SurveyRun).returning(SurveyRun.id),
                {
                    "survey_id": survey_id,
                    "scheduled_for": sent,
                    "state": "closed",
                    "sent_at": sent,
                    "closes_at": sent + timedelta(hours=72),
                    "closed_at": sent + timedelta(hours=72),
                    "recipients": 300,
                    "recipients_by_department": {DEPARTMENT: 200, "Parks": 100},
                    "held_back": 0,
                },
            ).scalar_one()
            for department in (DEPARTMENT, "Parks", ""):
                for option in range(1, 6):
                    tallies.append(
                        {
                            "run_id": run_id,
                            "department": department,
                            "option": option,
                            "count": rng.randint(0, 30),
                        }
                    )
        conn.execute(insert(SurveyTally), tallies)
        meetings = max(int(span / timedelta(days=30)), 1)
        for m in range(meetings):
            met = (NOW - timedelta(days=30 * (meetings - m))).date()
            meeting_id = conn.execute(
                insert(LiaisonMeeting).returning(LiaisonMeeting.id),
                {
                    "department": DEPARTMENT,
                    "met_on": met,
                    "attendees": "Dana, Lee",
                    "discussed": f"Check-in {m}: payroll, budget season, the HR portal. " * 5,
                    "platform": "slack",
                    "recorded_by": "ULIA",
                    "recorded_at": NOW,
                },
            ).scalar_one()
            conn.execute(
                insert(LiaisonAsk),
                [
                    {
                        "meeting_id": meeting_id,
                        "department": DEPARTMENT,
                        "met_on": met,
                        "theme": theme,
                        "text": f"{theme} ask {m}",
                    }
                    for theme in ("Self-service", "Reporting")
                ],
            )
            conn.execute(
                insert(LiaisonFollowUp),
                {
                    "meeting_id": meeting_id,
                    "department": DEPARTMENT,
                    "text": f"follow-up {m}",
                    "owner": "ULIA",
                    "platform": "slack",
                    "due_on": met + timedelta(days=14),
                    "done_at": None if m >= meetings - 2 else NOW,
                },
            )
        for a in range(min(weeks, 200)):
            conn.execute(
                insert(Alert),
                {
                    "severity": "degraded",
                    "service": "Email",
                    "message": f"alert {a}",
                    "author": "UADMIN",
                    "platform": "slack",
                    "state": "resolved",
                    "audience": {"channels": True},
                    "created_at": NOW - timedelta(weeks=a),
                },
            )
    bot.db.dispose()
    return time.perf_counter() - started


def time_briefing(url: str, repeat: int) -> dict[str, Any]:
    settings = Settings.from_values({"database_url": url, "routing": ROUTING})
    bot = build_bot(settings, clock=FixedClock(NOW))
    department = settings.routing.departments[0]
    timings = []
    size = 0
    for _ in range(repeat + 2):
        started = time.perf_counter()
        with bot.db.transaction() as session:
            ctx = bot.context(session, platform="slack", now=NOW)
            message = liaison_command.briefing_message(ctx, department)
        timings.append(time.perf_counter() - started)
        size = sum(len(b.text) for b in message.blocks)
    with bot.db.sessions() as session:
        requests = session.scalar(
            text("select count(*) from requests where department = :d"), {"d": DEPARTMENT}
        )
    bot.db.dispose()
    measured = timings[2:]  # the first two warm the caches and the statement cache
    return {
        "requests": int(requests or 0),
        "median_s": statistics.median(measured),
        "min_s": min(measured),
        "max_s": max(measured),
        "characters": size,
    }


@contextmanager
def database(base: str | None, work: Path, name: str) -> Iterator[str]:
    if not base:
        yield f"sqlite:///{work / name}.db"
        return
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    database_name = f"bench_liaison_{name}_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f"create database {database_name}"))
    try:
        yield base.rsplit("/", 1)[0] + f"/{database_name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"drop database if exists {database_name} with (force)"))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=50_000)
    parser.add_argument("--small", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    base = os.environ.get("BENCH_DATABASE_URL")
    results: dict[str, Any] = {"loadavg_before": Path("/proc/loadavg").read_text().split()[:3]}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        with database(base, work, "small") as small, database(base, work, "large") as large:
            results["seed_small_s"] = seed(
                small, requests=args.small, span=timedelta(weeks=10), other=args.small
            )
            results["seed_large_s"] = seed(
                large, requests=args.large, span=timedelta(weeks=260), other=args.large // 10
            )
            results["small"] = time_briefing(small, args.repeat)
            results["large"] = time_briefing(large, args.repeat)
    results["ratio"] = results["large"]["median_s"] / results["small"]["median_s"]
    results["target_met"] = results["ratio"] <= 3
    results["database"] = "postgresql" if base else "sqlite"
    results["loadavg_after"] = Path("/proc/loadavg").read_text().split()[:3]
    out = Path(__file__).resolve().parent / "results" / "liaison.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    for name in ("small", "large"):
        r = results[name]
        print(
            f"{name:5}: {r['requests']:>6} requests · briefing median {r['median_s'] * 1000:.1f} ms"
            f" (min {r['min_s'] * 1000:.1f}, max {r['max_s'] * 1000:.1f}) · {r['characters']} chars"
        )
    print(
        f"ratio large/small: {results['ratio']:.2f} (target <= 3: "
        f"{'met' if results['target_met'] else 'NOT met'}) · {results['database']} · "
        f"load {' '.join(results['loadavg_before'])} -> {' '.join(results['loadavg_after'])}"
    )


if __name__ == "__main__":
    main()
