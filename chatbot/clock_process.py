"""`chatbot clock`: the one process for everything timed.

APScheduler runs one fixed job, a tick every minute; what is due is asked of the database, so web
processes never talk to the scheduler. Each tick:
- takes the clock lease (a row in `clock_state`): a second `clock` started by mistake waits
  instead of acting, and takes over if the first dies;
- runs every capability's clock jobs (`@routes.tick`: outreach, scheduled alerts, surveys, …),
  each in its own transaction, so one failing job neither blocks nor rolls back the others. A job
  keys what it stores by (schedule, run), so a run is stored once however often it is computed
  (`chatbot.schedules`);
- refreshes the cached directory of each platform (Slack's workspace, a Teams roster: one
  member list per platform, `directories`) when it is older than an hour.
The deliveries themselves go out through the outbox like everything else.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from chatbot import directory
from chatbot.bot import Bot
from chatbot.clock import LEASE, LEASE_NAME
from chatbot.db import rowcount
from chatbot.db.models import ClockState
from chatbot.db.upsert import insert_ignore
from chatbot.directory import Member

log = logging.getLogger(__name__)


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def take_lease(session: Session, *, holder: str, now: datetime) -> bool:
    """True when this process may act: it holds the lease, or the lease ran out."""
    insert_ignore(session, ClockState, name=LEASE_NAME, value=now + LEASE, holder=holder)
    taken = session.execute(
        update(ClockState)
        .where(
            ClockState.name == LEASE_NAME,
            or_(ClockState.holder == holder, ClockState.value < now),
        )
        .values(holder=holder, value=now + LEASE)
        .execution_options(synchronize_session=False)
    )
    return bool(rowcount(taken))


DIRECTORY = "directory"
DIRECTORY_EVERY = timedelta(hours=1)


def sync_directory(
    bot: Bot,
    members: Callable[[], Iterable[Member]],
    *,
    force: bool = False,
    platform: str | None = None,
) -> bool:
    """Refresh the cached directory of `platform` (the one TECHHELP_* names ids on, unless
    told) from its member list, when it is older than `DIRECTORY_EVERY`. Each platform keeps
    its own time of the last sync."""
    platform = platform or bot.settings.techhelp_platform
    name = DIRECTORY if platform == bot.settings.techhelp_platform else f"{DIRECTORY}:{platform}"
    now = bot.clock.now()
    with bot.db.sessions() as session:
        state = session.get(ClockState, name)
        if not force and state and state.value and now - state.value < DIRECTORY_EVERY:
            return False
    listed = list(members())  # outside the transaction: it pages through the platform's API
    with bot.db.transaction() as session:
        reachable, skipped = directory.sync(
            session=session,
            platform=platform,
            members=listed,
            routing=bot.settings.routing,
            now=now,
        )
        insert_ignore(session, ClockState, name=name, value=now)
        session.execute(update(ClockState).where(ClockState.name == name).values(value=now))
    log.info("directory of %s: %d people reachable, %d skipped", platform, reachable, skipped)
    return True


def tick(
    bot: Bot,
    *,
    holder: str,
    members: Callable[[], Iterable[Member]] | None = None,
    platform: str | None = None,
    directories: Mapping[str, Callable[[], Iterable[Member]]] | None = None,
) -> int:
    """One round of the clock; returns how many deliveries it stored. Each job addresses what
    it sends; `platform` is only the context's (default: `techhelp_platform`). `directories`:
    each platform's member list (`members` alone: the TECHHELP_* platform's)."""
    platform = platform or bot.settings.techhelp_platform
    now = bot.clock.now()
    with bot.db.transaction() as session:
        if not take_lease(session, holder=holder, now=now):
            log.info("another clock holds the lease; standing by")
            return 0
    stored = 0
    for job in bot.ticks:
        try:
            with bot.db.transaction() as session:
                stored += job(bot.context(session, platform=platform, now=now))
        except Exception:  # the others still run; this one is retried next tick
            log.exception("clock job %s failed", job.__qualname__)
    listed = dict(directories or {})
    if members is not None:
        listed.setdefault(bot.settings.techhelp_platform, members)
    for where, its_members in listed.items():
        try:
            sync_directory(bot, its_members, platform=where)
        except Exception:  # the platform is down: keep its cached directory, try next tick
            log.exception("directory sync of %s failed", where)
    if stored and bot.worker:
        bot.worker.wake()
    return stored


def run_forever(
    bot: Bot,
    members: Callable[[], Iterable[Member]] | None = None,
    directories: Mapping[str, Callable[[], Iterable[Member]]] | None = None,
) -> None:
    holder = holder_id()
    scheduler = BlockingScheduler(timezone=ZoneInfo(bot.settings.routing.timezone))
    scheduler.add_job(
        tick,
        "interval",
        seconds=60,
        kwargs={"bot": bot, "holder": holder, "members": members, "directories": directories},
        next_run_time=bot.clock.now(),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=30,
        id="tick",
    )
    log.info("clock %s started", holder)
    scheduler.start()
