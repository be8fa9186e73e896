"""Teams benchmark, two measures in one run against the fake Teams of the tests (its own process,
TLS, Teams' rate limits enforced: 50 Bot Connector calls per second per app and tenant):

(b) an alert by personal message to N people (default 5,000, the installed team's roster, synced
    by `chatbot clock --once`), sent by an admin's form submit (an `adaptiveCard/action` invoke),
    with a kill -9 of `chatbot serve` once 40% are delivered and a restart: the Bot Connector calls
    per second as a fraction of the limit (target >= 0.9), messages per second, the time to first
    delivery, and lost and duplicated copies (target 0 and 0);
(a) then one `Action.Execute` click per person, on the first button of the copy they received
    (a signed JWT, as Teams sends it), from 20 concurrent clients to TechHelp's `chatbot serve`
    and, in the same run, to a minimal Teams SDK app answering the same invoke
    (`teams_baseline_app.py`): acknowledgement p50/p99 side by side (target: p99 within 1.5x).

`--baseline-only` runs the baseline side of (a) alone, on invokes built here (for when TechHelp's
Teams side is not available). Run: `.venv/bin/python bench/teams.py --people 5000 --clients 20`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from intake import ROOT, Process, cpu_seconds, free_port, summarise, wait_healthy  # noqa: E402

sys.path.insert(0, str(ROOT))
from tests.fakes import teams_payloads as payloads  # noqa: E402
from tests.fakes.teams import invoke_response_problems  # noqa: E402

LIMIT = 50  # Bot Connector calls per second per app per tenant (Teams' documented limit)


class FakeTeamsProcess:
    """`fake_teams_server.py` in its own process: where it is, and answers to questions."""

    def __init__(self, people: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "fake_teams_server.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "FAKE_TEAMS_PEOPLE": str(people)},
        )
        assert self.proc.stdout
        self.info: dict[str, Any] = json.loads(self.proc.stdout.readline())
        self.endpoint = SimpleNamespace(
            service_url=self.info["service_url"],
            tenant_id=self.info["tenant_id"],
            client_id=self.info["client_id"],
        )

    def ask(self, question: str) -> Any:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(question + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stop(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.terminate()
        self.proc.wait(10)


def load(
    url: str,
    activities: list[dict[str, Any]],
    clients: int,
    token: str,
    within: float | None = None,
) -> tuple[list[float], float, int, list[Any]]:
    """POST every activity to `url`/api/messages from `clients` threads, each on its own
    keep-alive connection, as fast as answers come back. Bodies are serialised and connections
    open before the clock starts; no request starts after `within` seconds. Returns latencies,
    wall time, failures (not 200) and the first answers' JSON (to check their shape)."""
    bodies = [json.dumps(a).encode() for a in activities]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    sessions = [httpx.Client(timeout=30, headers=headers) for _ in range(clients)]
    for session in sessions:
        session.get(f"{url}/healthz")
    latencies: list[float] = []
    answers: list[Any] = []
    failures = 0
    lock = threading.Lock()
    counter = iter(range(len(bodies)))
    ready = threading.Barrier(clients + 1)
    begin = 0.0

    def worker(client: httpx.Client) -> None:
        nonlocal failures
        ready.wait()
        while True:
            with lock:
                i = next(counter, None)
            if i is None or (within and time.perf_counter() - begin > within):
                return
            started = time.perf_counter()
            try:
                response = client.post(f"{url}/api/messages", content=bodies[i])
                status = response.status_code
            except httpx.HTTPError:
                response, status = None, 0
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if status != 200:
                    failures += 1
                if response is not None and len(answers) < 50 and response.content:
                    try:
                        answers.append(response.json())
                    except ValueError:
                        answers.append(response.text[:200])

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
    return latencies, wall, failures, answers


def server_env(fake: FakeTeamsProcess, database_url: str, **extra: str) -> dict[str, str]:
    """A `chatbot serve` on Teams only: the machine's basics, WEB_/DELIVERY_ tuning given to the
    benchmark, the fake's TEAMS_* settings and CA, then `extra`."""
    return {
        **{
            k: v
            for k, v in os.environ.items()
            if k in ("PATH", "HOME", "LANG") or k.startswith(("WEB_", "DELIVERY_"))
        },
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        **fake.info["env"],
        **extra,
    }


def measure(
    name: str,
    url: str,
    pids: list[int],
    warm: list[dict[str, Any]],
    clicks: list[dict[str, Any]],
    clients: int,
    token: str,
    within: float | None,
) -> dict[str, Any]:
    """Warm up, then every click (none started after `within` seconds): times, throughput, the
    server's CPU per click, and whether the answers are invoke answers Teams accepts."""
    load(url, warm, clients, token, within)
    cpu_before = sum(map(cpu_seconds, pids))
    latencies, wall, failures, answers = load(url, clicks, clients, token, within)
    row: dict[str, Any] = summarise(name, latencies, wall, failures, unit="clicks")
    row["cpu_ms_per_click"] = round(
        (sum(map(cpu_seconds, pids)) - cpu_before) / len(latencies) * 1000, 2
    )
    row["cut_short"] = len(latencies) < len(clicks)
    problems = [p for answer in answers for p in invoke_response_problems(answer)]
    row["answer_problems"] = problems[:5]
    row["sample_answer"] = answers[0] if answers else None
    return row


def alert_submit(fake: FakeTeamsProcess, admin: dict[str, Any]) -> dict[str, Any]:
    """The admin submits the alert form (severity, message, audience everyone) as Teams sends a
    card form's Action.Execute: verb form.submit, the inputs merged into data."""
    return payloads.card_action(
        fake.endpoint,
        admin,
        "form.submit",
        {
            "_form": "techalert.send",
            "_context": "",
            "_multiple": [],
            "_datetime": [],
            "severity": "outage",
            "message": "Phones are down",
            "audience": "everyone",
        },
        reply_to_id="1",
    )


def broadcast(
    args: argparse.Namespace, fake: FakeTeamsProcess, env: dict[str, str], work: Path
) -> tuple[dict[str, Any], Process]:
    """(b): the alert to everyone with a kill -9 midway; returns its figures and the running
    (restarted) server."""
    python = sys.executable
    url = f"http://127.0.0.1:{env['PORT']}"
    token = fake.ask("token")
    admin = payloads.person("admin", tenant_id=fake.info["tenant_id"])
    admin_conversation = payloads.personal_conversation_id(fake.endpoint, admin)
    server = Process([python, "-m", "chatbot.cli", "serve"], env, work / "serve.log")
    wait_healthy(url)
    # The app is installed in the team (its roster is the directory) and by the admin.
    setup = [
        payloads.installation_update(fake.endpoint, admin, team_id=fake.info["team_id"]),
        payloads.installation_update(fake.endpoint, admin),
    ]
    for activity in setup:
        fake.ask(f"remember {json.dumps(activity)}")
        answer = httpx.post(
            f"{url}/api/messages",
            json=activity,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answer.status_code in (200, 201, 202), answer.text
    clock = subprocess.run(
        [python, "-m", "chatbot.cli", "clock", "--once"],
        env={**env, "PORT": "0"},
        capture_output=True,
        text=True,
        timeout=600,
        cwd=work,
    )
    assert clock.returncode == 0, clock.stderr[-2000:]
    time.sleep(2)  # let any welcome messages go out first
    sent_at = time.time()
    ack = httpx.post(
        f"{url}/api/messages",
        json=alert_submit(fake, admin),
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    ack_ms = (time.time() - sent_at) * 1000
    assert ack.status_code == 200, ack.text

    def stats() -> dict[str, Any]:
        return fake.ask(f"stats {sent_at} {admin_conversation}")

    while stats()["roster_reached"] < args.people * args.kill_at:
        time.sleep(0.1)
    before = stats()
    server.proc.kill()  # kill -9 mid-broadcast
    server.proc.wait()
    killed_at = time.time()
    server = Process([python, "-m", "chatbot.cli", "serve"], env, work / "serve2.log")
    wait_healthy(url)
    restarted_in = time.time() - killed_at
    deadline = time.time() + args.people / LIMIT * 4 + 120
    while stats()["roster_reached"] < args.people and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(10)  # leases run out: nothing more must arrive
    after = stats()

    def rate(s: dict[str, Any], count: str, first: str, last: str) -> float:
        return (s[count] - 1) / (s[last] - s[first]) if s[last] > s[first] else 0.0

    calls_rate = rate(before, "calls", "calls_first", "calls_last")
    return {
        "people": args.people,
        "limit_calls_per_s": LIMIT,
        "ack_ms": round(ack_ms, 1),
        "time_to_first_delivery_s": round(after["first"] - sent_at, 3),
        "calls_per_s_before_kill": round(calls_rate, 1),
        "fraction_of_limit_before_kill": round(calls_rate / LIMIT, 3),
        "messages_per_s_before_kill": round(rate(before, "posts", "first", "last"), 1),
        "calls_per_s_overall_incl_restart": round(
            rate(after, "calls", "calls_first", "calls_last"), 1
        ),
        "conversations_created": after["creates"],
        "restart_s": round(restarted_in, 2),
        "rate_limited_answers": after["limited"],
        "delivered_distinct": after["roster_reached"],
        "lost": args.people - after["roster_reached"],
        "duplicated": after["roster_posts"] - after["roster_reached"],
        "duplicated_in": list(after["twice"])[:5],
        "posts_outside_the_roster": after["outside_roster"],
        "refused_by_teams": after["rejected"],
    }, server


def clicks_on_copies(fake: FakeTeamsProcess, people: int) -> list[dict[str, Any]]:
    """One click per person: the first Action.Execute of the copy they received."""
    buttons = fake.ask("buttons")
    clicks = []
    for i in range(1, people + 1):
        who = payloads.person(i, tenant_id=fake.info["tenant_id"])
        conversation = payloads.personal_conversation_id(fake.endpoint, who)
        copy = buttons.get(conversation)
        if not copy:
            continue
        action = copy["actions"][0]
        clicks.append(
            payloads.card_action(
                fake.endpoint,
                who,
                action["verb"],
                action["data"],
                reply_to_id=copy["activity_id"],
                conversation_id=conversation,
            )
        )
    return clicks


def warm_up(clicks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first people's clicks as warm-up, each a new activity (a click of its own, not a
    redelivery of the measured one, which Teams would send with the same id)."""
    return [{**click, "id": payloads.next_id()} for click in clicks]


def synthetic_clicks(fake: FakeTeamsProcess, people: int) -> list[dict[str, Any]]:
    """Clicks built here (the baseline answers any verb): a survey answer per person."""
    return [
        payloads.card_action(
            fake.endpoint,
            payloads.person(i, tenant_id=fake.info["tenant_id"]),
            f"pulse.answer:{i % 5 + 1}",
            {"_value": f"bench-{i}"},
            reply_to_id=str(1_700_000_000_000 + i),
        )
        for i in range(1, people + 1)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--kill-at", type=float, default=0.4, help="fraction delivered at kill")
    parser.add_argument(
        "--within",
        type=float,
        default=300,
        help="seconds after which no new click starts (each side; the figures say if cut short)",
    )
    parser.add_argument(
        "--baseline-only",
        action="store_true",
        help="only the Teams SDK baseline of (a), on clicks built here",
    )
    args = parser.parse_args()
    # A SIGTERM (a time-out) unwinds through the `finally`s, so no server is left running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    work = Path(tempfile.mkdtemp(prefix="techhelp-teams-"))
    python = sys.executable
    fake = FakeTeamsProcess(args.people)
    token = fake.ask("token")
    results: dict[str, Any] = {"clicks": []}
    try:
        if args.baseline_only:
            clicks = synthetic_clicks(fake, args.people)
        else:
            database_url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{work / 'teams.db'}"
            admin = payloads.person("admin", tenant_id=fake.info["tenant_id"])
            env = server_env(
                fake,
                database_url,
                TEAMS_ADMINS=admin["aadObjectId"],
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
            results["broadcast"], server = broadcast(args, fake, env, work)
            try:
                clicks = clicks_on_copies(fake, args.people)
                results["clicks_found"] = len(clicks)
                if clicks:
                    results["click_verb"] = clicks[0]["value"]["action"]["verb"]
                if clicks:
                    url = f"http://127.0.0.1:{env['PORT']}"
                    results["clicks"].append(
                        measure(
                            "TechHelp",
                            url,
                            [server.proc.pid],
                            warm_up(clicks[: args.warmup]),
                            clicks,
                            args.clients,
                            token,
                            args.within,
                        )
                    )
            finally:
                server.stop()
            if not clicks:
                print("no Action.Execute button in the copies: (a) measures the baseline alone")
                clicks = synthetic_clicks(fake, args.people)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        baseline = Process(
            [python, str(ROOT / "bench" / "teams_baseline_app.py")],
            {**server_env(fake, "sqlite://"), "PORT": str(port)},
            work / "baseline.log",
        )
        try:
            wait_healthy(url, timeout=180)
            results["clicks"].append(
                measure(
                    "Teams SDK baseline",
                    url,
                    [baseline.proc.pid],
                    warm_up(clicks[: args.warmup]),
                    clicks,
                    args.clients,
                    token,
                    args.within,
                )
            )
        finally:
            baseline.stop()
    finally:
        fake.stop()

    rows = results["clicks"]
    if "broadcast" in results:
        b = results["broadcast"]
        print(
            f"\nalert to {b['people']:,} people by personal message, fake Teams enforcing "
            f"{LIMIT} calls/s: acknowledged in {b['ack_ms']} ms, first copy after "
            f"{b['time_to_first_delivery_s']} s"
        )
        print(
            f"before the kill: {b['calls_per_s_before_kill']} calls/s "
            f"({b['fraction_of_limit_before_kill']:.2f} of the limit, target >= 0.9), "
            f"{b['messages_per_s_before_kill']} messages/s, {b['conversations_created']} 1:1s "
            f"created; overall with the restart ({b['restart_s']} s): "
            f"{b['calls_per_s_overall_incl_restart']} calls/s; 429s: {b['rate_limited_answers']}"
        )
        print(
            f"delivered to {b['delivered_distinct']:,}: lost {b['lost']}, duplicated "
            f"{b['duplicated']} (target 0/0); refused by Teams: {b['refused_by_teams']}"
        )
    print(
        f"\n{rows[-1]['clicks']:,} Action.Execute clicks (signed JWT), "
        f"{args.clients} concurrent clients, closed loop (after {args.warmup} warm-up)"
    )
    print(f"{'':20}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>9}{'clicks/s':>10}{'fail':>6}{'cpu ms':>8}")
    for row in rows:
        print(
            f"{row['name']:20}{row['p50_ms']:8.1f}{row['p99_ms']:8.1f}{row['max_ms']:9.1f}"
            f"{row['throughput_rps']:10.1f}{row['failures']:6d}{row['cpu_ms_per_click']:8.2f}"
        )
        if row["cut_short"]:
            print(f"  cut short after {args.within:g} s: {row['clicks']} clicks measured")
        if row["answer_problems"]:
            print(f"  answers Teams would refuse: {row['answer_problems']}")
    if len(rows) == 2:
        results["p99_ratio"] = rows[0]["p99_ms"] / rows[1]["p99_ms"]
        print(
            f"p99 ratio TechHelp / Teams SDK baseline: {results['p99_ratio']:.2f} (target <= 1.5)"
        )
    else:
        print("TechHelp's side of the clicks did not run")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "teams.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
