"""Broadcast benchmark: an alert by direct message to N people against a fake Slack that
enforces a chat.postMessage rate of R per second, with a kill -9 of the server mid-run.

Reports the achieved delivery rate as a fraction of R (the rate limit is the physical bound),
the time to first delivery, and after the kill and restart: lost and duplicated copies (both
must be 0). Run: `.venv/bin/python bench/broadcast.py --people 5000 --rate 80`.

`--processes N` runs N `chatbot serve` processes on one database (set BENCH_DATABASE_URL to a
PostgreSQL server: a database is created for the run and dropped after it); they share the
outbox and one posting budget (DELIVERY_RATE is the workspace's), and the first is the one
killed and restarted.
"""

from __future__ import annotations

import argparse
import json
import os
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
    fresh_database,
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
    parser.add_argument("--processes", type=int, default=1, help="chatbot serve processes")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL")
    if args.processes > 1 and not (url or "").startswith("postgresql"):
        parser.error("--processes above 1 needs BENCH_DATABASE_URL=postgresql://…")
    work = Path(tempfile.mkdtemp(prefix="techhelp-broadcast-"))
    with fresh_database(url, work, "broadcast") as database_url:
        run(args, work, database_url)


def run(args: argparse.Namespace, work: Path, database_url: str) -> None:

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

    env = bench_env(
        fake.stdout.readline().strip(),
        database_url,
        TECHHELP_ADMINS=ADMIN,
        DELIVERY_RATE=str(args.rate * 0.95),  # keep just under Slack's limit
    )
    subprocess.run(
        [python, "-m", "chatbot.cli", "db", "upgrade"],
        env=env,
        check=True,
        capture_output=True,
        cwd=work,
    )
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    seed_people(engine, [f"UP{i:05d}" for i in range(args.people)])
    engine.dispose()

    ports = [free_port() for _ in range(args.processes)]
    urls = [f"http://127.0.0.1:{port}" for port in ports]

    def serve(i: int, log: str) -> Process:
        return Process(
            [python, "-m", "chatbot.cli", "serve"], {**env, "PORT": str(ports[i])}, work / log
        )

    servers = [serve(i, f"serve{i}.log") for i in range(args.processes)]
    url = urls[0]
    try:
        for each in urls:
            wait_healthy(each, timeout=180)
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
        servers[0].proc.kill()  # kill -9 mid-broadcast
        servers[0].proc.wait()
        killed_at = time.time()
        servers[0] = serve(0, "serve0-restarted.log")
        wait_healthy(url, timeout=180)
        restarted_in = time.time() - killed_at
        # Delivery resumes: the next copy after the restart (with one process, none is sent
        # while it is down), and the dead process's claims are taken over, not waited out.
        at_restart = stats()[0]
        while stats()[0] == at_restart and time.time() - killed_at < 120:
            time.sleep(0.02)
        resumed_in = time.time() - killed_at - restarted_in
        deadline = time.time() + args.people / args.rate * 3 + 60
        while stats()[1] < args.people and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(max(6.0, 2 / args.rate))  # a copy posted twice would arrive now
        posts, distinct, first, last, limited = stats()
        count_edits, count_text = live_count()
    finally:
        for server in servers:
            server.stop()
        fake.stdin.close()
        fake.terminate()
        fake.wait(10)
    overall_rate = (posts - 1) / (last - first) if last > first else 0.0
    result = {
        "processes": args.processes,
        "database": database_url.split(":")[0],
        "people": args.people,
        "rate_limit": args.rate,
        "ack_ms": round(ack_ms, 1),
        "time_to_first_delivery_s": round(first - sent_at, 3),
        "achieved_rate_before_kill": round(undisturbed_rate, 1),
        "fraction_of_limit_before_kill": round(undisturbed_rate / args.rate, 3),
        "achieved_rate_overall_incl_restart": round(overall_rate, 1),
        "restart_s": round(restarted_in, 2),
        "resumed_after_restart_s": round(resumed_in, 2),
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
    (out / f"broadcast-{args.processes}p.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
