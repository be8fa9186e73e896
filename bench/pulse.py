"""Pulse benchmark: a survey to N people (default 10,000) with `/pulse send`, then one signed
click per person from 50 concurrent clients against `chatbot serve`, side by side in the same run
with a bare Bolt app that only acknowledges the click (`baseline_app.py`), both against the fake
Slack of the tests in its own process.

Reports the time to acknowledge the send and to deliver every copy, click acknowledgement times
(p50, p99), throughput, and that every click was recorded exactly once (one answer per person,
holding the option of that person's last click). TechHelp acknowledges a click once it is
stored and records it after the ack, so for it the time until every click is recorded and
thanked is reported too. Run:
`.venv/bin/python bench/pulse.py --people 10000 --clients 50`.

`--processes N` runs N `chatbot serve` processes on one database (set BENCH_DATABASE_URL to a
PostgreSQL server: a database is created for the run and dropped after it); the clients'
connections go to them in turn, as behind a round-robin balancer.
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
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import Engine, create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from intake import (  # noqa: E402
    ROOT,
    SECRET,
    Process,
    bench_env,
    cpu_seconds,
    fake_says,
    free_port,
    fresh_database,
    load,
    seed_people,
    signed,
    start_fake_slack,
    summarise,
    wait_healthy,
)

sys.path.insert(0, str(ROOT))
from chatbot import surveys  # noqa: E402
from tests.fakes.payloads import block_actions  # noqa: E402

ADMIN = "UADMIN"


def person(i: int) -> str:
    return f"UP{i:05d}"


def click_body(run_id: int, user: str, option: int, key: bytes, response_url: str) -> str:
    value = surveys.button_value(key, run_id, str(option), user)
    return block_actions(user, f"pulse.answer:{option}", value, response_url=response_url)


def measure(
    name: str,
    url: str | list[str],
    pids: list[int],
    warm: list[str],
    bodies: list[str],
    *,
    clients: int,
    rate: float | None,
    settle: Callable[[int], bool] | None = None,
    keep: list[float] | None = None,
) -> dict[str, float]:
    """Warm up, then every click: times, throughput, and the server's CPU per click. For
    TechHelp, which records and replies after the ack (`settle`: whether every click is recorded
    and replied to, given how many were sent): the time until then, and the CPU that took.
    `keep` gathers every click's time (to summarise several loads as one)."""
    if warm:
        load(url, warm, clients)
    if settle is not None:
        settle(0)  # the warm-up's clicks counted as the baseline
    cpu_before = sum(map(cpu_seconds, pids))
    started = time.perf_counter()
    latencies, wall, failures = load(url, bodies, clients, rate)
    if keep is not None:
        keep.extend(latencies)
    row = summarise(name, latencies, wall, failures, unit="clicks")
    if settle is not None:
        while time.perf_counter() - started < 600 and not settle(len(bodies)):
            time.sleep(0.05)
        row["all_recorded_and_replied_s"] = round(time.perf_counter() - started, 2)
    cpu = sum(map(cpu_seconds, pids)) - cpu_before
    row["cpu_ms_per_click"] = round(cpu / len(bodies) * 1000, 2)
    return row


@contextmanager
def server(command: list[str], env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    """A server process (`chatbot serve`, the baseline) on a free port, once healthy: its URL
    and pid; stopped after."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = Process(command, {**env, "PORT": str(port)}, log)
    try:
        wait_healthy(url, timeout=180)
        yield url, process.proc.pid
    finally:
        process.stop()


def settled(engine: Engine, ask: Callable[[str], int]) -> Callable[[int], bool]:
    """A check that the inbox is empty and `n` more replies reached response_urls than when it
    was first called (with 0)."""
    replies = 0

    def check(n: int) -> bool:
        nonlocal replies
        if n == 0:
            replies = ask("responses")
            return True
        with engine.connect() as conn:
            stored = conn.execute(text("select count(*) from inbox")).scalar_one()
        return not stored and ask("responses") >= replies + n

    return check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="open loop: clicks per second (default: closed loop, as fast as answered)",
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="TechHelp as `chatbot serve --web-only` plus `chatbot clock`, which records the "
        "stored clicks and sends (default: one `chatbot serve` doing both)",
    )
    parser.add_argument("--processes", type=int, default=1, help="chatbot serve processes")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL")
    if args.processes > 1 and not (url or "").startswith("postgresql"):
        parser.error("--processes above 1 needs BENCH_DATABASE_URL=postgresql://…")
    work = Path(tempfile.mkdtemp(prefix="techhelp-pulse-"))
    with fresh_database(url, work, "pulse") as database_url:
        run(args, work, database_url)


def run(args: argparse.Namespace, work: Path, database_url: str) -> None:
    python = sys.executable
    fake = start_fake_slack()
    assert fake.stdin and fake.stdout
    slack_url = fake.stdout.readline().strip()
    response_url = slack_url.removesuffix("api/") + "response/bench"

    def ask(question: str) -> int:
        return int(fake_says(fake, question).split()[0])

    def posts() -> int:
        return ask("*")

    env = bench_env(
        slack_url, database_url, TECHHELP_TRIAGE_CHANNEL="CTRIAGE", TECHHELP_ADMINS=ADMIN
    )
    subprocess.run(
        [python, "-m", "chatbot.cli", "db", "upgrade"], env=env, check=True, capture_output=True
    )
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    seed_people(engine, [person(i) for i in range(args.people)])

    how = {"clients": args.clients, "rate": args.rate}
    key = surveys.key_from_secret(SECRET)
    results: list[dict[str, float]] = []
    send: dict[str, float] = {}
    try:
        # TechHelp first: the survey must exist before its clicks mean anything.
        ports = [free_port() for _ in range(args.processes)]
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        url = urls[0]
        serve = [python, "-m", "chatbot.cli", "serve", *(["--web-only"] if args.split else [])]
        processes = [
            Process(serve, {**env, "PORT": str(port)}, work / f"serve{i}.log")
            for i, port in enumerate(ports)
        ]
        try:
            for each in urls:
                wait_healthy(each, timeout=180)
            command = urllib.parse.urlencode(
                {
                    "command": "/pulse",
                    "text": "send How well does IT support you?",
                    "user_id": ADMIN,
                    "team_id": "T0TEST",
                    "channel_id": "CGENERAL",
                    "trigger_id": "bench-send",
                    "response_url": response_url,
                }
            )
            started = time.perf_counter()
            ack = httpx.post(
                f"{url}/slack/events", content=command, headers=signed(command), timeout=60
            )
            send["send_ack_ms"] = round((time.perf_counter() - started) * 1000, 1)
            assert ack.status_code == 200 and "PS-1" in ack.text, ack.text
            if args.split:  # started after the send: its directory sync knows nobody here
                clock = [python, "-m", "chatbot.cli", "clock"]
                processes.append(Process(clock, env, work / "clock.log"))
            while posts() < args.people and time.perf_counter() - started < 600:
                time.sleep(0.1)
            send["all_copies_delivered_s"] = round(time.perf_counter() - started, 2)
            send["copies_delivered"] = posts()
            with engine.connect() as conn:
                run_id = conn.execute(text("select id from survey_runs")).scalar_one()
            # The warm-up clicks are the first people's answers; their measured click (from the
            # same fresh message) is then refused as already answered, and acknowledged alike.
            warm = [
                click_body(run_id, person(i), i % 5, key, response_url)
                for i in range(min(args.warmup, args.people))
            ]
            bodies = [
                click_body(run_id, person(i), i % 5, key, response_url) for i in range(args.people)
            ]
            pids = [process.proc.pid for process in processes]
            results.append(
                measure("TechHelp", urls, pids, warm, bodies, settle=settled(engine, ask), **how)
            )
        finally:
            for process in processes:
                process.stop()

        baseline = [python, str(ROOT / "bench" / "baseline_app.py")]
        with server(baseline, env, work / "baseline.log") as (url, pid):
            results.append(measure("bare Bolt baseline", url, [pid], warm, bodies, **how))
    finally:
        fake.stdin.close()
        fake.terminate()
        fake.wait(10)

    # Exactly once: every person answered once, and the counts per option are those of their
    # clicks (anonymous answers are counts: there is no row per person to compare).
    expected = Counter(i % 5 for i in range(args.people))
    with engine.connect() as conn:
        counted = dict(
            conn.execute(
                text(
                    "select option, sum(count) from survey_tallies where run_id = :r "
                    "group by option"
                ),
                {"r": run_id},
            ).all()
        )
        answered = conn.execute(
            text("select count(*) from survey_recipients where run_id = :r and version > 0"),
            {"r": run_id},
        ).scalar_one()
    engine.dispose()
    check = {
        "answers_stored": sum(int(n) for n in counted.values()),
        "people": args.people,
        "answered": answered,
        "wrong_counts": sum(abs(int(counted.get(o, 0)) - n) for o, n in expected.items()),
    }
    ours, base = results
    ratio = ours["p99_ms"] / base["p99_ms"]
    print(
        f"\nsurvey to {args.people:,} people: send acknowledged in {send['send_ack_ms']} ms, "
        f"{send['copies_delivered']:,} copies delivered in {send['all_copies_delivered_s']} s"
    )
    print(
        f"{args.people:,} signed clicks, {args.clients} concurrent clients "
        f"{f'{args.rate:g}/s offered' if args.rate else 'closed loop'} "
        f"(after {args.warmup} warm-up), database {database_url.split(':')[0]}, "
        + ("serve --web-only + clock" if args.split else f"{args.processes} serve process(es)")
    )
    print(f"{'':20}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>9}{'clicks/s':>10}{'fail':>6}{'cpu ms':>8}")
    for row in results:
        print(
            f"{row['name']:20}{row['p50_ms']:8.1f}{row['p99_ms']:8.1f}{row['max_ms']:9.1f}"
            f"{row['throughput_rps']:10.1f}{row['failures']:6d}{row['cpu_ms_per_click']:8.2f}"
        )
    print(f"p99 ratio TechHelp / baseline: {ratio:.2f} (target <= 1.5)")
    print(
        "TechHelp records and replies after the ack: every click recorded and replied to "
        f"{ours['all_recorded_and_replied_s']} s after the first (the acks took {ours['wall_s']} s)"
    )
    print(f"recorded exactly once: {json.dumps(check)}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    name = f"pulse-{args.rate:g}cps" if args.rate else "pulse"
    if args.processes > 1:
        name += f"-{args.processes}p"
    (out / f"{name}.json").write_text(
        json.dumps(
            {
                "processes": args.processes,
                "send": send,
                "clicks": results,
                "p99_ratio": ratio,
                "check": check,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
