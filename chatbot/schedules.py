"""Recurring schedules, as the clock sees them: which runs of a crontab fell due since the last
tick, with the progress stored in `clock_state` in the caller's transaction.

A run is identified by its scheduled time, so a capability keys what it stores by (schedule, run)
and a run is stored once however often it is computed. A restart therefore neither skips nor
repeats a run; runs missed for longer than `CATCH_UP` (the clock was down) are skipped with a
warning rather than sent late in a burst.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.orm import Session

from chatbot.db.models import ClockState

log = logging.getLogger(__name__)

CATCH_UP = timedelta(hours=1)
WHEN_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
MAX_RUNS = 1000


def parse_when(value: str, zone: ZoneInfo) -> datetime | None:
    """A form's date and time: Unix seconds (Slack's datetimepicker) or `YYYY-MM-DD HH:MM` in
    `zone` (typed on a console or the CLI); None when empty. ValueError when it is neither."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return datetime.fromtimestamp(int(value), tz=UTC)
    for pattern in WHEN_FORMATS:
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=zone).astimezone(UTC)
        except ValueError:
            continue
    raise ValueError(f"'{value[:40]}' is not a date and time: write it as YYYY-MM-DD HH:MM")


def fire_times(schedule: str, zone: ZoneInfo, after: datetime, until: datetime) -> list[datetime]:
    """The crontab's fire times in (after, until], in `zone`."""
    trigger = CronTrigger.from_crontab(schedule, timezone=zone)
    runs: list[datetime] = []
    run = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    while run is not None and run <= until and len(runs) < MAX_RUNS:
        runs.append(run)
        run = trigger.get_next_fire_time(run, run + timedelta(microseconds=1))
    return runs


def runs_due(
    session: Session, *, name: str, schedule: str, zone: ZoneInfo, now: datetime
) -> list[datetime]:
    """The runs of schedule `name` to do now, and the progress recorded as done up to `now`.
    Store what the runs send in the same transaction, keyed by run, and nothing is lost or
    repeated. A new schedule starts from now (it does not fire for the past)."""
    state = session.get(ClockState, name)
    if state is None or state.value is None:
        session.merge(ClockState(name=name, value=now))
        return []
    runs = []
    for run in fire_times(schedule, zone, state.value, now):
        if now - run > CATCH_UP:
            log.warning("skipping the %s run of %s: the clock was down", run, name)
        else:
            runs.append(run)
    state.value = now
    return runs
