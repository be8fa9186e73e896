"""The weekly digest: stored once per week by the clock at local time, with the week's figures
and a PNG chart, delivered by the outbox through Slack's file upload flow (a 429 is waited out,
a new worker after a restart finishes it) to the fake Slack, which checks every step."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from chatbot.bot import Bot
from chatbot.clock import FixedClock
from chatbot.clock_process import tick
from chatbot.config import Routing, Settings
from chatbot.db import Database
from chatbot.db.models import Delivery
from chatbot.delivery import DeliveryWorker
from chatbot.platforms.slack.sender import SlackAPI, SlackSender
from chatbot.text import Templates
from commands import ROUTES
from tests.conftest import BOT_TOKEN
from tests.fakes.slack_api import FakeSlack
from tests.rendered import slack_texts
from tests.reporting_data import seed

IT = "CITDESK"
# Monday 12 January 2026, 08:00 in New York = 13:00 UTC.
RUN = datetime(2026, 1, 12, 13, 0, tzinfo=UTC)


def make_bot(database_url: str, clock: FixedClock) -> Bot:
    routing = Routing(timezone="America/New_York", digest="0 8 * * mon")
    settings = Settings(database_url=database_url, techhelp_it_channel=IT, routing=routing)
    db = Database(database_url)
    db.upgrade()
    return Bot(settings=settings, db=db, templates=Templates(), clock=clock, routes=ROUTES)


def digests(bot: Bot) -> list[Delivery]:
    with bot.db.sessions() as session:
        return list(session.scalars(select(Delivery).where(Delivery.key.startswith("digest:"))))


def test_digest_is_stored_once_per_week_at_local_time(database_url: str) -> None:
    seed(database_url, RUN + timedelta(days=7))  # the seeded week is the digest's week
    clock = FixedClock(RUN - timedelta(hours=1))
    bot = make_bot(database_url, clock)
    assert tick(bot, holder="a") == 0  # a new schedule starts from now
    clock._now = RUN - timedelta(minutes=1)
    assert tick(bot, holder="a") == 0  # 07:59 in New York
    clock._now = RUN
    assert tick(bot, holder="a") == 1
    assert tick(bot, holder="a") == 0  # the same minute again
    clock._now = RUN + timedelta(hours=5)
    assert tick(bot, holder="a") == 0
    rows = digests(bot)
    assert [(r.key, r.address_id, r.action) for r in rows] == [("digest:2026-W03", IT, "upload")]
    message = rows[0].message
    text = slack_texts(message)
    assert "2026-01-05 to 2026-01-11" in text
    assert "10 received, 8 resolved" in text and "70.0%" in text
    assert "Overdue now:* 2" in text and "Alerts:* 1" in text
    assert "Average rating:* 3.67 of 5 (6 ratings)" in text
    assert "*normal*: first response median 90.0 min (100.0% within 240 min)" in text
    png = base64.b64decode(message["file"]["content_b64"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    assert "2026-01-05 10 requests, 70.0% via /techhelp" in message["file"]["alt_text"]
    clock._now = RUN + timedelta(weeks=1)
    assert tick(bot, holder="a") == 1
    assert [r.key for r in digests(bot)] == ["digest:2026-W03", "digest:2026-W04"]
    bot.db.dispose()


def test_digest_upload_flow_survives_429_and_restart(
    database_url: str, fake_slack: FakeSlack
) -> None:
    seed(database_url, RUN + timedelta(days=7))
    clock = FixedClock(RUN - timedelta(hours=1))
    bot = make_bot(database_url, clock)
    tick(bot, holder="a")
    clock._now = RUN
    assert tick(bot, holder="a") == 1

    def worker() -> DeliveryWorker:
        sender = SlackSender(SlackAPI(BOT_TOKEN, fake_slack.url))
        return DeliveryWorker(bot.db, {"slack": sender}, clock=clock)

    fake_slack.fail_next("files.completeUploadExternal", status=429, retry_after=2)
    first = worker()
    assert first.run_once() == 1
    assert fake_slack.files() == []
    assert digests(bot)[0].status == "pending"
    first.pool.shutdown()

    # A restart: a new worker, once the Retry-After has passed, finishes the upload.
    clock._now = RUN + timedelta(seconds=3)
    second = worker()
    assert second.run_once() == 1
    second.pool.shutdown()
    assert digests(bot)[0].status == "sent"
    assert second.run_once() == 0  # nothing twice
    shared = fake_slack.files(IT)
    assert len(shared) == 1
    file = shared[0]
    assert file["name"] == "techhelp-digest-2026-W03.png"
    assert file["content"].startswith(b"\x89PNG")
    assert "requests" in file["alt_txt"]
    assert any("10 received" in b["text"]["text"] for b in file["blocks"])
    methods = [c.method for c in fake_slack.calls()]
    assert methods == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    bot.db.dispose()
