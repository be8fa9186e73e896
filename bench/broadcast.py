"""Broadcast benchmark: an alert by direct message to N people against a fake Slack that
enforces a chat.postMessage rate of R per second, with a kill -9 of the server mid-run.

Reports the achieved delivery rate as a fraction of R (the rate limit is the physical bound),
the time to first delivery, and after the kill and restart: lost and duplicated copies (both
must be 0). Run: `.venv/bin/python bench/broadcast.py --people 5000 --rate 80`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import httpx
from sqlalchemy import create_engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from intake import (
    ROOT,
    Process,
    bench_env,
    fake_says,
    free_port,
    seed_people,
    signed,
    start_fake_slack,
    wait_healthy,
)  # noqa: E402

ADMIN = "UADMIN"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=80, help="Slack's enforced posts/second")
    parser.add_argument("--kill-at", type=float, default=0.4, help="fraction delivered at kill")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="techhelp-broadcast-"))
    python = sys.executable
    fake = start_fake_slack(FAKE_POST_RATE=str(args.rate))
    assert fake.stdin and fake.stdout

    def stats() -> tuple[int, int, float, float, int]:
        """The alert's copies so far (the admin's live-count message aside)."""
        posts, distinct, first, last, limited = fake_says(fake, f"* {ADMIN}").split()
        return int(posts), int(distinct), float(first), float(last), int(limited)

    def live_count() -> tuple[int, str]:
        """Edits of the admin's live-count message, and what it says now."""
        edits, _, text = fake_says(fake, f"edits {ADMIN}").partition(" ")
        return int(edits), text

    database_url = f"sqlite:///{work / 'broadcast.db'}"
    env = bench_env(
        fake.stdout.readline().strip(),
        database_url,
        TECHHELP_ADMINS=ADMIN,
        DELIVERY_RATE=str(args.rate * 0.95),  # keep just under Slack's limit
        DELIVERY_LEASE_SECONDS="5",
        PORT=str(free_port()),
    )
    subprocess.run(
        [python, "-m", "chatbot.cli", "db", "upgrade"],
        env=env,
        check=True,
        capture_output=True,
        cwd=work,
    )
    engine = create_engine(database_url)
    seed_people(engine, [f"UP{i:05d}" for i in range(args.people)])

    url = f"http://127.0.0.1:{env['PORT']}"
    server = Process([python, "-m", "chatbot.cli", "serve"], env, work / "serve.log")
    try:
        wait_healthy(url)
        payload = {
            "type": "view_submission",
            "user": {"id": ADMIN},
            "trigger_id": "bench",
            "team": {"id": "T0TEST"},
            "view": {
                "id": "VBENCH",
                "type": "modal",
                "callback_id": "techalert.send",
                "hash": "h",
                "private_metadata": "",
                "state": {
                    "values": {
                        "severity": {"severity": {"selected_option": {"value": "outage"}}},
                        "message": {"message": {"value": "Phones are down"}},
                        "audience": {"audience": {"selected_option": {"value": "everyone"}}},
                    }
                },
            },
        }
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        sent_at = time.time()
        ack = httpx.post(f"{url}/slack/events", content=body, headers=signed(body), timeout=30)
        ack_ms = (time.time() - sent_at) * 1000
        assert ack.status_code == 200, ack.text
        while stats()[0] < args.people * args.kill_at:
            time.sleep(0.05)
        posts, _, first, last, _ = stats()
        undisturbed_rate = (posts - 1) / (last - first) if last > first else 0.0
        server.proc.kill()  # kill -9 mid-broadcast
        server.proc.wait()
        killed_at = time.time()
        server = Process([python, "-m", "chatbot.cli", "serve"], env, work / "serve2.log")
        wait_healthy(url)
        restarted_in = time.time() - killed_at
        deadline = time.time() + args.people / args.rate * 3 + 60
        while stats()[1] < args.people and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(max(6.0, 2 / args.rate))  # leases run out: nothing more must arrive
        posts, distinct, first, last, limited = stats()
        count_edits, count_text = live_count()
    finally:
        server.stop()
        fake.stdin.close()
        fake.terminate()
        fake.wait(10)
    overall_rate = (posts - 1) / (last - first) if last > first else 0.0
    result = {
        "people": args.people,
        "rate_limit": args.rate,
        "ack_ms": round(ack_ms, 1),
        "time_to_first_delivery_s": round(first - sent_at, 3),
        "achieved_rate_before_kill": round(undisturbed_rate, 1),
        "fraction_of_limit_before_kill": round(undisturbed_rate / args.rate, 3),
        "achieved_rate_overall_incl_restart": round(overall_rate, 1),
        "restart_s": round(restarted_in, 2),
        "rate_limited_answers": limited,
        "delivered_distinct": distinct,
        "lost": args.people - distinct,
        "duplicated": posts - distinct,
        "live_count_edits": count_edits,
        "live_count_final": f"is delivered: *{distinct:,}* of {args.people:,}" in count_text,
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "broadcast.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
