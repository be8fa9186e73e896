"""`chatbot clock`: schedules fire at the right local time, once, across restarts and even with
two clock processes at once. Time is driven, not slept."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from chatbot.bot import Bot
from chatbot.clock import FixedClock
from chatbot.clock_process import tick
from chatbot.config import Outreach, Routing, Settings
from chatbot.db.models import Delivery

ROOT = Path(__file__).resolve().parent.parent
# Mondays 09:00 in New York (14:00 UTC in January).
WEEKLY = Outreach(name="weekly", channels=["CGENERAL", "CSTAFF"], schedule="0 9 * * mon")


def make_bot(database_url: str, clock: FixedClock) -> Bot:
    from chatbot.db import Database
    from chatbot.text import Templates
    from commands import ROUTES

    routing = Routing(timezone="America/New_York", outreach=[WEEKLY])
    settings = Settings(database_url=database_url, routing=routing)
    db = Database(database_url)
    db.upgrade()
    return Bot(settings=settings, db=db, templates=Templates(), clock=clock, routes=ROUTES)


def outreach_rows(bot: Bot) -> list[tuple[str, str]]:
    with bot.db.sessions() as session:
        rows = session.execute(
            select(Delivery.key, Delivery.address_id).where(Delivery.key.startswith("outreach:"))
        )
        return sorted(tuple(r) for r in rows)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


def test_fires_at_local_time_once_per_run(database_url: str) -> None:
    clock = FixedClock(at(5, 13, 0))  # Monday 08:00 in New York
    bot = make_bot(database_url, clock)
    assert tick(bot, holder="a") == 0  # a new schedule starts from now
    clock._now = at(5, 13, 59)
    assert tick(bot, holder="a") == 0  # 08:59 local: not yet
    clock._now = at(
        5,
        14,
        0,
    )
    assert tick(bot, holder="a") == 2  # 09:00 local: both channels
    assert tick(bot, holder="a") == 0  # the same minute again: nothing twice
    rows = outreach_rows(bot)
    assert [c for _, c in rows] == ["CGENERAL", "CSTAFF"]
    assert all("2026-01-05T09:00:00-05:00" in key for key, _ in rows)
    clock._now = at(
        12,
        14,
        0,
    )  # the next Monday
    assert tick(bot, holder="a") == 2
    bot.db.dispose()


def test_restart_neither_skips_nor_repeats(database_url: str) -> None:
    clock = FixedClock(at(5, 13, 50))
    first = make_bot(database_url, clock)
    tick(first, holder="old")
    clock._now = at(5, 13, 58)
    tick(first, holder="old")  # its last tick: the lease now runs to 14:00:30
    first.db.dispose()
    # The old process dies before 09:00 local; its replacement waits out the lease, then sends
    # the 09:00 run once.
    clock._now = at(5, 14, 0)
    restarted = make_bot(database_url, clock)
    assert tick(restarted, holder="new") == 0  # the old lease is still running
    clock._now = at(5, 14, 1)
    assert tick(restarted, holder="new") == 2
    assert tick(restarted, holder="new") == 0
    assert len(outreach_rows(restarted)) == 2
    restarted.db.dispose()


def test_two_clocks_at_once_send_once(database_url: str) -> None:
    clock = FixedClock(at(5, 13, 59))
    one, two = make_bot(database_url, clock), make_bot(database_url, clock)
    tick(one, holder="one")
    tick(two, holder="two")
    clock._now = at(5, 14, 0)
    for _ in range(3):
        tick(two, holder="two")
        tick(one, holder="one")
    assert len(outreach_rows(one)) == 2
    one.db.dispose()
    two.db.dispose()


def test_invalid_schedule_names_the_field(tmp_path: Path) -> None:
    from chatbot.config import ConfigError, load_routing

    path = tmp_path / "c.yml"
    path.write_text("outreach:\n  - {name: w, channels: [C1], schedule: 'every monday'}\n")
    with pytest.raises(ConfigError, match=r"outreach\.0\.schedule"):
        load_routing(path)


def test_clock_once_from_the_command_line(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text("outreach:\n  - {name: w, channels: [C1], schedule: '* * * * *'}\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "TECHHELP_CONFIG": str(config),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "chatbot.cli", "clock", "--once"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "stored 0 deliveries" in result.stdout  # a new schedule starts from now
