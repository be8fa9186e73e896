"""`chatbot clock`: the one process for everything timed.

APScheduler runs one fixed job, a tick every minute; what is due is asked of the database, so web
processes never talk to the scheduler. Each tick:
- takes the clock lease (a row in `clock_state`): a second `clock` started by mistake waits
  instead of acting, and takes over if the first dies;
- for every schedule, enqueues each run that fell due since the last tick, keyed by (schedule,
  run time, channel), so a run is stored once however often it is computed; then records how far
  it got, in the same transaction. A restart therefore neither skips nor repeats a run; runs
  missed for longer than `CATCH_UP` (the clock was down) are skipped with a warning rather than
  sent late in a burst.
The deliveries themselves go out through the outbox like everything else.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from chatbot import delivery, directory
from chatbot.bot import Bot
from chatbot.config import Outreach
from chatbot.db.models import ClockState
from chatbot.db.upsert import insert_ignore
from chatbot.directory import Member
from chatbot.messages import Block, Message, Outgoing

log = logging.getLogger(__name__)

LEASE_NAME = "lease"
LEASE = timedelta(seconds=150)  # a tick a minute renews it; a dead clock is replaced within it
CATCH_UP = timedelta(hours=1)


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
    return bool(taken.rowcount)


def _due(outreach: Outreach, zone: ZoneInfo, after: datetime, now: datetime) -> list[datetime]:
    trigger = CronTrigger.from_crontab(outreach.schedule, timezone=zone)
    runs: list[datetime] = []
    run = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    while run is not None and run <= now and len(runs) < 1000:
        runs.append(run)
        run = trigger.get_next_fire_time(run, run + timedelta(microseconds=1))
    return runs


DIRECTORY = "directory"
DIRECTORY_EVERY = timedelta(hours=1)


def sync_directory(
    bot: Bot, members: Callable[[], Iterable[Member]], *, force: bool = False
) -> bool:
    """Refresh the cached directory when it is older than `DIRECTORY_EVERY`."""
    now = bot.clock.now()
    with bot.db.sessions() as session:
        state = session.get(ClockState, DIRECTORY)
        if not force and state and state.value and now - state.value < DIRECTORY_EVERY:
            return False
    listed = list(members())  # outside the transaction: it pages through the platform's API
    with bot.db.transaction() as session:
        reachable, skipped = directory.sync(
            session=session, platform="slack", members=listed, routing=bot.settings.routing, now=now
        )
        insert_ignore(session, ClockState, name=DIRECTORY, value=now)
        session.execute(update(ClockState).where(ClockState.name == DIRECTORY).values(value=now))
    log.info("directory: %d people reachable, %d skipped", reachable, skipped)
    return True


def tick(bot: Bot, *, holder: str, members: Callable[[], Iterable[Member]] | None = None) -> int:
    """One round of the clock; returns how many deliveries it stored."""
    now = bot.clock.now()
    routing = bot.settings.routing
    zone = ZoneInfo(routing.timezone)
    stored = 0
    with bot.db.transaction() as session:
        if not take_lease(session, holder=holder, now=now):
            log.info("another clock holds the lease; standing by")
            return 0
        for outreach in routing.outreach:
            name = f"outreach:{outreach.name}"
            state = session.get(ClockState, name)
            if state is None or state.value is None:  # a new schedule starts from now
                session.add(ClockState(name=name, value=now))
                continue
            for run in _due(outreach, zone, state.value, now):
                if now - run > CATCH_UP:
                    log.warning("skipping %s run of %s: the clock was down", name, run)
                    continue
                stored += _post_outreach(bot, session, outreach, run, now)
            state.value = now
    if members is not None:
        try:
            sync_directory(bot, members)
        except Exception:  # the platform is down: keep the cached directory, try next tick
            log.exception("directory sync failed")
    if stored and bot.worker:
        bot.worker.wake()
    return stored


def _post_outreach(
    bot: Bot, session: Session, outreach: Outreach, run: datetime, now: datetime
) -> int:
    parts = bot.templates.blocks(outreach.template)
    message = Message(text=parts[0], blocks=tuple(Block("section", text=p) for p in parts))
    for channel in outreach.channels:
        delivery.enqueue(
            session,
            platform="slack",
            now=now,
            outgoing=Outgoing(
                key=f"outreach:{outreach.name}:{run.isoformat()}:{channel}",
                channel=channel,
                message=message,
            ),
        )
    log.info("outreach %s for %s: %d channels", outreach.name, run, len(outreach.channels))
    return len(outreach.channels)


def run_forever(bot: Bot, members: Callable[[], Iterable[Member]] | None = None) -> None:
    holder = holder_id()
    scheduler = BlockingScheduler(timezone=ZoneInfo(bot.settings.routing.timezone))
    scheduler.add_job(
        tick,
        "interval",
        seconds=60,
        kwargs={"bot": bot, "holder": holder, "members": members},
        next_run_time=bot.clock.now(),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=30,
        id="tick",
    )
    log.info("clock %s started", holder)
    scheduler.start()
