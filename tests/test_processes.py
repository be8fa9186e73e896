"""Several processes on one PostgreSQL: three `chatbot serve` and one `chatbot clock`, with a
client that sends each request to the next server in turn. Every request is stored and carded
once, every broadcast copy is sent once, and the workspace's posting rate holds for all of them
together (they pace from one budget in the database, not each at DELIVERY_RATE)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter

import pytest

from tests.conftest import ROOT, TRIAGE, Server
from tests.test_alert_faults import broadcast, seed_people
from tests.test_intake import ref_of, rows

RATE = 10.0  # the workspace's posting rate, DELIVERY_RATE for all processes together
REQUESTS = 30
PEOPLE = 150


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # several processes
def test_three_servers_and_a_clock_share_one_outbox_and_one_rate(make_server) -> None:  # type: ignore[no-untyped-def]
    servers: list[Server] = [
        make_server(
            process=True, TECHHELP_ALERT_CHANNELS="CALERTS1", DELIVERY_RATE=f"{RATE:g}"
        ).start()
        for _ in range(3)
    ]
    fake = servers[0].fake
    # Slack's limit, a little above the pace: several processes each at DELIVERY_RATE exceed it.
    fake.rate_limit("chat.postMessage", per_second=RATE * 1.1, burst=3)
    clock = subprocess.Popen(
        [sys.executable, "-m", "chatbot.cli", "clock"],
        env={**servers[0].env, "PORT": "0"},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    unsent = (
        "select key, action, status, attempts, claimed_by, in_doubt, last_error from deliveries"
        " where status <> 'sent'"
    )
    try:
        people = seed_people(servers[0], PEOPLE)
        # Round robin: request i goes to server i mod 3.
        refs = [
            ref_of(servers[i % 3].command(f"printer {i} is jammed", user=f"UREQ{i:02d}"))
            for i in range(REQUESTS)
        ]
        broadcast(servers[1], "Email is down")
        expected = REQUESTS * 2 + PEOPLE + 1  # a card and a receipt each; the copies
        fake.wait_for(lambda: len(fake.messages()) >= expected, timeout=expected / RATE * 2 + 30)
        # Then every delivery is recorded as sent (App Home views and card edits follow the
        # messages at the same pace): none is left to a process about to stop.
        fake.wait_for(lambda: rows(servers[0], unsent) == [], timeout=60, interval=0.5)
        time.sleep(1.5)  # a message sent twice would arrive now
    finally:
        clock.terminate()
        clock.wait(20)

    assert sorted(refs) == list(range(1, REQUESTS + 1))  # each stored once, numbered once
    assert rows(servers[0], "select count(*) from requests")[0][0] == REQUESTS
    cards = [m for m in fake.messages(TRIAGE) if not m.get("thread_ts")]
    named = [set(re.findall(r"TH-(\d+)\b", json.dumps(m["blocks"]))) for m in cards]
    assert all(len(refs_named) == 1 for refs_named in named)
    assert sorted(int(ref) for refs_named in named for ref in refs_named) == sorted(refs)
    receipts = Counter(m["channel"] for m in fake.messages() if m["channel"].startswith("DUREQ"))
    assert receipts == Counter(f"DUREQ{i:02d}" for i in range(REQUESTS))
    copies = Counter(m["channel"] for m in fake.messages() if m["channel"].startswith("DUEMP"))
    assert copies == Counter(f"D{u}" for u in people)  # every copy once
    # The rate held in aggregate: Slack never had to refuse a post, and the posts' pace is the
    # workspace's, not three times it.
    refused = [c for c in fake.calls("chat.postMessage") if c.status == 429]
    assert refused == []
    stamps = sorted(float(m["ts"]) for m in fake.messages())
    pace = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    assert pace <= RATE * 1.1, pace
    assert rows(servers[0], unsent) == []
    print(
        f"{len(stamps)} posts at {pace:.1f}/s from 3 servers and a clock (DELIVERY_RATE {RATE:g})"
    )
