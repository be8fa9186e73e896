"""Broadcasts under fire, end to end: a 429 storm, a Slack outage, kill -9 mid-broadcast, two
clock processes at once; and the operators' CLI with its progress bar, tally and CSV report.
Every recipient must get exactly one copy."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from chatbot.db.models import Account, Person
from tests.conftest import ADMIN, ROOT, Server
from tests.test_intake import rows
from tests.test_techalert import copies_sent

CHANNELS = ("CALERTS1", "CALERTS2")


def seed_people(server: Server, count: int, departments: dict[str, str] | None = None) -> list[str]:
    """A directory as `chatbot clock` leaves it (its sync is tested in test_techalert)."""
    now = datetime.now(UTC)
    people = [f"UEMP{i:04d}" for i in range(count)]
    engine = create_engine(
        server.env["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://")
    )
    with engine.begin() as conn:
        first = (conn.execute(select(func.max(Person.id))).scalar() or 0) + 1
        conn.execute(
            Person.__table__.insert(),
            [
                {"id": first + i, "first_seen": now, "department": (departments or {}).get(u)}
                for i, u in enumerate(people)
            ],
        )
        conn.execute(
            Account.__table__.insert(),
            [
                {
                    "person_id": first + i,
                    "platform": "slack",
                    "account_id": u,
                    "first_seen": now,
                    "active": True,
                }
                for i, u in enumerate(people)
            ],
        )
    engine.dispose()
    return people


def broadcast(server: Server, message: str) -> None:
    answer = server.submit(
        "techalert.send",
        {"severity": "outage", "message": message, "audience": "everyone"},
        user=ADMIN,
        selects=("severity",),
        multis=("audience",),
    )
    assert answer.json()["response_action"] == "update", answer.text
    assert "is going out to" in json.dumps(answer.json()["view"]), answer.text


def assert_each_got_one(server: Server, people: list[str], timeout: float = 60) -> None:
    fake = server.fake
    fake.wait_for(lambda: len(copies_sent(fake)) >= len(people), timeout=timeout)
    time.sleep(0.5)  # anything extra would arrive now
    received = Counter(m["channel"] for m in copies_sent(fake))
    assert received == Counter(f"D{u}" for u in people)
    # A round records what it sent when the round ends: wait for the outbox to agree.
    unsent = "select count(*) from deliveries where batch = 'alert:1' and status <> 'sent'"
    fake.wait_for(lambda: rows(server, unsent)[0][0] == 0, timeout=10, interval=0.2)


@pytest.fixture
def server(make_server) -> Server:  # type: ignore[no-untyped-def]
    # As in production: posts paced below the workspace limit; a short lease so a killed
    # process's claims are taken over within the test.
    # A real process: kill -9 mid-broadcast, and 429 storms and outages as a deployment meets them.
    return make_server(
        process=True,
        TECHHELP_ALERT_CHANNELS=",".join(CHANNELS),
        DELIVERY_LEASE_SECONDS="3",
        DELIVERY_RATE="50",
    ).start()


def test_429_storm_every_recipient_exactly_once(server: Server) -> None:
    people = seed_people(server, 200)
    server.fake.fail_next("chat.postMessage", status=429, count=40, retry_after=1)
    broadcast(server, "Email is down")
    assert_each_got_one(server, people)
    refused = [c for c in server.fake.calls("chat.postMessage") if c.status == 429]
    assert len(refused) == 40


def test_slack_outage_delivered_after_it_ends(server: Server) -> None:
    people = seed_people(server, 100)
    fake = server.fake
    with fake.outage_window():
        broadcast(server, "Phones are down")  # stored and acknowledged while Slack is down
        time.sleep(1.5)
        assert copies_sent(fake) == []
        assert rows(server, "select count(*) from deliveries where batch = 'alert:1'")[0][0] == 100
    assert_each_got_one(server, people, timeout=90)


def test_kill_9_mid_broadcast_then_restart(server: Server) -> None:
    people = seed_people(server, 300)
    fake = server.fake
    fake.rate_limit("chat.postMessage", per_second=60, burst=5)
    broadcast(server, "Wi-Fi is down on every floor")
    fake.wait_for(lambda: len(copies_sent(fake)) >= 100, timeout=30)
    server.kill9()
    stopped_at = len(copies_sent(fake))
    assert stopped_at < 300
    server.restart()  # same database, same outbox
    assert_each_got_one(server, people, timeout=90)


def test_two_clock_processes_post_a_scheduled_notice_once(server: Server) -> None:
    fake = server.fake
    post_at = int(time.time()) + 2
    server.submit(
        "techalert.send",
        {"severity": "maintenance", "message": "Patching tonight", "post_at": str(post_at)},
        user=ADMIN,
        selects=("severity",),
    )
    assert [tuple(r) for r in rows(server, "select state from alerts")] == [("scheduled",)]
    time.sleep(max(0.0, post_at - time.time()) + 0.5)
    env = {**server.env, "PORT": "0"}
    clocks = [
        subprocess.Popen(
            [sys.executable, "-m", "chatbot.cli", "clock", "--once"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [c.communicate(timeout=60) for c in clocks]
    assert all(c.returncode == 0 for c in clocks), outputs
    fake.wait_for(lambda: all(fake.messages(c) for c in CHANNELS), timeout=20)
    time.sleep(1)
    assert Counter(m["channel"] for m in copies_sent(fake)) == Counter(CHANNELS)


def cli(server: Server, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chatbot.cli", "alert", *args],
        env={**server.env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_cli_send_follows_delivery_and_reports(server: Server, tmp_path: Path) -> None:
    fake = server.fake
    people = seed_people(server, 60)
    server.stop()  # the CLI delivers on its own, with no web process running
    fake.fail_next("chat.postMessage", status=200, error="user_not_found")
    sent = cli(
        server, "send", "--audience", "everyone", "--service", "Email", "Mail is down", cwd=tmp_path
    )
    assert sent.returncode == 0, sent.stderr
    assert "AL-1" in sent.stdout and "60 people by direct message" in sent.stdout
    assert "Delivering" in sent.stdout  # the progress bar
    assert "sent 59 · failed 1 · pending 0" in sent.stdout
    assert "failed: slack error user_not_found (1)" in sent.stdout
    assert len(copies_sent(fake)) == 59

    listed = cli(server, "list", cwd=tmp_path)
    assert "AL-1" in listed.stdout and "sent 59/60" in listed.stdout

    report = tmp_path / "report.csv"
    shown = cli(server, "show", "AL-1", "--csv", str(report), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "copies: 60" in shown.stdout and "delivery report: 60 rows" in shown.stdout
    with report.open(encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert sorted(r["recipient"] for r in table) == people
    failed = [r for r in table if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["error"] == "slack error user_not_found"
    assert all(r["message_ts"] and r["kind"] == "direct message" for r in table if r not in failed)

    resolved = cli(server, "resolve", "AL-1", "Mail flows again", cwd=tmp_path)
    assert resolved.returncode == 0 and "resolved after" in resolved.stdout
    fake.wait_for(lambda: len(fake.calls("chat.update")) >= 59, timeout=30)
    assert all("resolved" in json.dumps(c.body["blocks"]) for c in fake.calls("chat.update"))

    missing = cli(server, "show", "AL-9", cwd=tmp_path)
    assert missing.returncode == 1 and "There is no alert AL-9" in missing.stderr
    bad = cli(server, "send", "--severity", "outage", "--post-at", "soon", "x", cwd=tmp_path)
    assert bad.returncode == 2 and "YYYY-MM-DD HH:MM" in bad.stderr
    assert rows(server, "select count(*) from alerts")[0][0] == 1


def test_a_broadcast_does_not_hold_up_other_messages(server: Server) -> None:
    """A broadcast to thousands takes minutes at Slack's rate; a request's triage card, and the
    edits of an alert resolved mid-broadcast, must not wait for all of it (nor block it)."""
    from tests.test_intake import card_posts

    people = seed_people(server, 300)  # 6 s at DELIVERY_RATE=50
    fake = server.fake
    broadcast(server, "Email is down")
    fake.wait_for(lambda: copies_sent(fake), timeout=10)
    server.command("printer on floor 2 is jammed", user="UCAROL")
    fake.wait_for(lambda: card_posts(server), timeout=10)
    assert len(copies_sent(fake)) < 200  # the card went out while the broadcast was under way

    resolved = server.command("resolve AL-1 Mail flows again", command="/techalert", user=ADMIN)
    assert "resolved after" in resolved.json()["text"] + json.dumps(resolved.json()["blocks"])
    assert_each_got_one(server, people, timeout=60)

    def edited() -> set[str]:
        return {
            c.body["channel"]
            for c in fake.calls("chat.update")
            if "resolved" in json.dumps(c.body["blocks"])
        }

    # Wait for what is asserted: the admin's live-count edits are `chat.update` calls too, so a
    # count of calls can be reached before the last copy is edited.
    fake.wait_for(lambda: {f"D{u}" for u in people} <= edited(), timeout=60)
    assert {f"D{u}" for u in people} <= edited()
