"""Intake benchmark: signed `/techhelp` requests from 20 concurrent clients, TechHelp side by side
with a bare Bolt app (ack + one triage post), both against the same fake Slack on 127.0.0.1.

Reports time to acknowledge (p50, p99), throughput, and for TechHelp that every request was
stored before its ack and every triage card was delivered. Run: `make bench` (or
`.venv/bin/python bench/intake.py --requests 3000`). Set BENCH_DATABASE_URL to run TechHelp on
PostgreSQL instead of a fresh SQLite file.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine, create_engine, text

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = re.compile(r"\bTH-[0-9]+\b")  # a request's reference, as the requester is shown it
SECRET = "bench-secret"
TRIAGE = "CTRIAGE"
TEXTS = [
    "printer on floor 3 is jammed",
    "cannot log in, account locked",
    "vpn drops every ten minutes",
    "need excel installed please",
    "outlook calendar will not sync",
]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log.open("ab")
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=self.log, cwd=ROOT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def start_fake_slack(**env: str) -> subprocess.Popen[str]:
    """The fake Slack in its own process; it prints its URL first, then answers on stdin."""
    fake = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "fake_slack_server.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
    )
    assert fake.stdout and fake.stdin
    return fake


def fake_says(fake: subprocess.Popen[str], question: str) -> str:
    """Ask the fake Slack process a question on stdin (`fake_slack_server.py`); its answer line."""
    assert fake.stdin and fake.stdout
    fake.stdin.write(question + "\n")
    fake.stdin.flush()
    return fake.stdout.readline().strip()


def bench_env(slack_url: str, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a server under test: the machine's basics, the WEB_ and DELIVERY_
    tuning given to the benchmark, the bench's credentials and fake Slack, then `extra`."""
    return {
        **{
            k: v
            for k, v in os.environ.items()
            if k in ("PATH", "HOME", "LANG") or k.startswith(("WEB_", "DELIVERY_"))
        },
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack_url,
        "DATABASE_URL": database_url,
        **extra,
    }


def seed_people(engine: Engine, users: list[str]) -> None:
    """Active people in the directory, as `chatbot clock` would have synced them."""
    now = datetime.now(UTC).isoformat(sep=" ")
    with engine.begin() as conn:
        first = (conn.execute(text("select max(id) from people")).scalar() or 0) + 1
        conn.execute(
            text("insert into people (id, name, first_seen) values (:id, :u, :now)"),
            [{"id": first + i, "u": user, "now": now} for i, user in enumerate(users)],
        )
        conn.execute(
            text(
                "insert into accounts (person_id, platform, account_id, name, first_seen, active) "
                "values (:id, 'slack', :u, :u, :now, true)"
            ),
            [{"id": first + i, "u": user, "now": now} for i, user in enumerate(users)],
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_healthy(url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not become healthy")


def signed(body: str) -> dict[str, str]:
    ts = str(int(time.time()))
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body),
    }


def command_body(i: int) -> str:
    return urllib.parse.urlencode(
        {
            "command": "/techhelp",
            "text": f"{TEXTS[i % len(TEXTS)]} #{i}",
            "user_id": f"UBENCH{i % 500:04d}",
            "user_name": "bench",
            "team_id": "T0TEST",
            "channel_id": "CGENERAL",
            "trigger_id": f"bench-{uuid.uuid4()}",
            "response_url": "http://127.0.0.1:9/unused",
        }
    )


def load(
    url: str | list[str],
    bodies: list[str],
    clients: int,
    rate: float | None = None,
    seen: list[float] | None = None,
) -> tuple[list[float], float, int]:
    """Every body from `clients` threads, each with its own keep-alive connection: as fast
    as answers come back (closed loop), or at a fixed `rate` per second (open loop). Several
    `url`s: the connections go to them in turn (a round-robin balancer's). With `seen`, the
    time until the requester sees their request's reference (`TH-n`) is appended to it for
    every answer that shows one.

    Bodies are signed and every connection is open before the clock starts, so the load
    generator's own start-up (TLS contexts, first connects) is not counted against the server."""
    requests = [(body, signed(body)) for body in bodies]
    urls = [url] if isinstance(url, str) else url
    sessions = [httpx.Client(timeout=10, base_url=urls[i % len(urls)]) for i in range(clients)]
    for session in sessions:
        session.get("/healthz")
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    counter = iter(range(len(requests)))
    ready = threading.Barrier(clients + 1)
    begin = 0.0

    def worker(client: httpx.Client) -> None:
        nonlocal failures
        ready.wait()
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            if rate:
                delay = begin + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            body, headers = requests[i]
            if time.time() - int(headers["X-Slack-Request-Timestamp"]) > 60:
                headers = signed(body)  # a slow run: Slack refuses a signature over 5 minutes old
            started = time.perf_counter()
            response = client.post("/slack/events", content=body, headers=headers)
            elapsed = time.perf_counter() - started
            shown = seen is not None and REFERENCE.search(response.text) is not None
            with lock:
                latencies.append(elapsed)
                if response.status_code != 200:
                    failures += 1
                if shown:
                    seen.append(elapsed)  # type: ignore[union-attr]

    threads = [threading.Thread(target=worker, args=(session,)) for session in sessions]
    for thread in threads:
        thread.start()
    begin = time.perf_counter()
    ready.wait()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - begin
    for session in sessions:
        session.close()
    return latencies, wall, failures


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summarise(
    name: str, latencies: list[float], wall: float, failures: int, *, unit: str = "requests"
) -> dict[str, float]:
    """One load's figures: `unit` names the count (requests, clicks); `wall_s` is how long the
    load took from its first request to its last answer."""
    return {
        "name": name,
        unit: len(latencies),
        "failures": failures,
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
        "mean_ms": round(statistics.mean(latencies) * 1000, 2),
        "throughput_rps": round(len(latencies) / wall, 1),
        "wall_s": round(wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="open loop: requests per second (default: closed loop, as fast as answered)",
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="TechHelp as `serve --web-only` plus `chatbot clock`, which sends (the CPU of both "
        "is counted); use with PostgreSQL (BENCH_DATABASE_URL)",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="techhelp-bench-"))
    python = sys.executable
    fake = start_fake_slack()
    slack_url = fake.stdout.readline().strip()

    def triage_posts() -> int:
        return int(fake_says(fake, TRIAGE))

    database_url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{work / 'bench.db'}"
    base_env = bench_env(slack_url, database_url, TECHHELP_TRIAGE_CHANNEL=TRIAGE)
    results = []
    try:
        serve = [python, "-m", "chatbot.cli", "serve", *(["--web-only"] if args.split else [])]
        for name, argv in (
            ("bare Bolt baseline", [python, str(ROOT / "bench" / "baseline_app.py")]),
            ("TechHelp", serve),
        ):
            port = free_port()
            before = triage_posts()
            process = Process(argv, {**base_env, "PORT": str(port)}, work / f"{port}.log")
            helpers: list[Process] = []
            try:
                url = f"http://127.0.0.1:{port}"
                wait_healthy(url)
                if args.split and name == "TechHelp":
                    clock = [python, "-m", "chatbot.cli", "clock"]
                    helpers.append(Process(clock, base_env, work / "clock.log"))
                pids = [process.proc.pid, *(h.proc.pid for h in helpers)]
                load(url, [command_body(i) for i in range(args.warmup)], args.clients)
                # Start measuring once the warm-up's deliveries are out, as the baseline's are.
                while triage_posts() < before + args.warmup:
                    time.sleep(0.05)
                cpu_before = sum(cpu_seconds(pid) for pid in pids)
                seen: list[float] = []
                latencies, wall, failures = load(
                    url,
                    [command_body(i) for i in range(args.requests)],
                    args.clients,
                    args.rate,
                    seen,
                )
                row = summarise(name, latencies, wall, failures)
                # The requester's answer: when they saw `TH-n` (in the ack, or later), p99.
                row["reference_shown"] = len(seen)
                row["reference_seen_p99_ms"] = (
                    round(percentile(seen, 99) * 1000, 2) if seen else None
                )
                expected = before + args.requests + args.warmup
                load_ended = time.monotonic()
                while triage_posts() < expected and time.monotonic() < load_ended + 120:
                    time.sleep(0.05)
                row["triage_posts_delivered"] = triage_posts() - before
                row["last_post_after_load_s"] = time.monotonic() - load_ended
                # Server CPU per request, its deliveries included.
                row["cpu_ms_per_request"] = (
                    (sum(cpu_seconds(pid) for pid in pids) - cpu_before) / args.requests * 1000
                )
                if name == "TechHelp":
                    engine = create_engine(
                        database_url.replace("postgresql://", "postgresql+psycopg://")
                    )
                    with engine.connect() as conn:
                        row["requests_stored"] = conn.execute(
                            text("select count(*) from requests")
                        ).scalar()
                        row["deliveries_sent"] = conn.execute(
                            text("select count(*) from deliveries where status='sent'")
                        ).scalar()
                    engine.dispose()
                row["loadavg"] = Path("/proc/loadavg").read_text().split()[:3]
                results.append(row)
            finally:
                process.stop()
                for helper in helpers:
                    helper.stop()
    finally:
        fake.stdin.close()
        fake.terminate()
        fake.wait(10)

    base, ours = results
    print(
        f"\n{args.requests} signed /techhelp requests, {args.clients} concurrent clients, "
        f"{f'{args.rate:g}/s offered' if args.rate else 'closed loop'} "
        f"(after {args.warmup} warm-up), fake Slack on 127.0.0.1, "
        f"database {database_url.split(':')[0]}, "
        + ("serve --web-only + clock" if args.split else "one serve process")
        + f", load average at the end {' '.join(ours['loadavg'])}"
    )
    print(
        f"{'':20}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'req/s':>8}{'fail':>6}{'posts':>7}"
        f"{'drain s':>9}{'cpu ms/req':>11}"
    )
    for row in results:
        print(
            f"{row['name']:20}{row['p50_ms']:8.1f}{row['p99_ms']:8.1f}{row['max_ms']:8.1f}"
            f"{row['throughput_rps']:8.1f}{row['failures']:6d}{row['triage_posts_delivered']:7d}"
            f"{row['last_post_after_load_s']:9.2f}{row['cpu_ms_per_request']:11.2f}"
        )
    ratio = ours["p99_ms"] / base["p99_ms"]
    shown = ours["reference_shown"]
    print(
        f"requester saw TH-n in {shown} of {args.requests} answers"
        + (f", p99 {ours['reference_seen_p99_ms']:.1f} ms after asking" if shown else "")
    )
    print(
        f"p99 ratio TechHelp / baseline: {ratio:.2f} (target <= 1.5); "
        f"stored {ours.get('requests_stored')} of {args.requests + args.warmup}; "
        f"triage cards delivered {ours['triage_posts_delivered']}"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    name = f"intake-{args.rate:g}rps" if args.rate else "intake"
    name += "-split.json" if args.split else ".json"
    (out / name).write_text(json.dumps({"results": results, "p99_ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()


@contextmanager
def fresh_database(url: str | None, work: Path, name: str) -> Iterator[str]:
    """The database of one run: a new SQLite file in `work` when `url` is None, else a new
    database on that PostgreSQL server (dropped afterwards)."""
    if not url:
        yield f"sqlite:///{work / (name + '.db')}"
        return
    admin = create_engine(
        url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    database = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'create database "{database}"'))
    try:
        yield url.rsplit("/", 1)[0] + "/" + database
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{database}" with (force)'))
        admin.dispose()
