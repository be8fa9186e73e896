"""Questionnaire benchmark: a 15-item questionnaire from the YAML open to N people (default
5,000), then every person answering every item, one signed click each, from 50 concurrent
clients in a closed loop, against `chatbot serve` and, in the same run, the bare Bolt app
acknowledging the same clicks (`baseline_app.py`); then the results of that run (N x 15
answers) rendered beside the results of a run of 50 people (750 answers).

The runs are opened as `/pulse send --name` opens them (the core's `add_run` and `open_run`: a
recipient row per person, every count at zero, Core inserts in one transaction), without
delivering N copies: the clicks are built here, and what is measured is answering (the
delivery of a send is `broadcast.py`'s and `pulse.py`'s). The clicks go item by item
(everyone's first item, then everyone's second, ...), and before the next item TechHelp has
recorded every click of the last (its inbox empty): a person's next click comes from the
message their last click gave them, so it is never sent before that click is recorded. Each
click carries the buttons that message holds (the person's sheet: their answers so far, signed
with the key; the ballot token is the bench's own). The small run's clicks ride in the same
waves (its first item's as the warm-up). The same clicks go to the baseline. Reported: ack
p50/p99 over every click, the p99 ratio (target <= 1.5), every answer recorded exactly once
(the counts per item and option equal the clicks), and the time to render each run's results
(median of repeated renders) and their ratio (target <= 3). The machinery (processes, fake
Slack, load, measure) is bench/pulse.py's and bench/intake.py's. Run:
`.venv/bin/python bench/questionnaire.py --people 5000 --clients 50`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text, update

sys.path.insert(0, str(Path(__file__).resolve().parent))
from intake import (  # noqa: E402
    ROOT,
    SECRET,
    bench_env,
    fake_says,
    percentile,
    seed_people,
    start_fake_slack,
)
from pulse import ADMIN, measure, person, server, settled  # noqa: E402

sys.path.insert(0, str(ROOT))
from chatbot import surveys  # noqa: E402
from chatbot.db.models import SurveyRun  # noqa: E402
from chatbot.surveys import items as quest  # noqa: E402
from tests.fakes.payloads import block_actions  # noqa: E402

SMALL = 50  # the people of the small run: 50 x 15 = 750 answers


def config(items: int, small: list[str]) -> str:
    questions = "\n".join(
        f"      - {{id: q{n}, section: Part {n // 5 + 1}, question: 'Statement number {n + 1}'}}"
        for n in range(items)
    )
    people = ", ".join(small)
    return (
        "pulse: {weekly_contact_budget: 5, min_group_size: 3}\n"
        "surveys:\n"
        f"  - name: annual\n    question: Annual survey\n    audience: {{everyone: true}}\n"
        f"    items:\n{questions}\n"
        f"  - name: small\n    question: Small survey\n    audience: {{users: [{people}]}}\n"
        f"    items:\n{questions}\n"
        # The results rendered: runs whose counts are written here, not clicked.
        f"  - name: large\n    question: Large results\n    audience: {{everyone: true}}\n"
        f"    items:\n{questions}\n"
        f"  - name: tiny\n    question: Tiny results\n    audience: {{users: [{people}]}}\n"
        f"    items:\n{questions}\n"
    )


def answer_of(i: int, item: int) -> int:
    return (i * 7 + item * 3) % 5


def click(run_id: int, items: int, i: int, item: int, key: bytes, response_url: str) -> str:
    """Person i's click on `item`, from the message their previous click gave them."""
    user = person(i)
    token = hashlib.sha256(user.encode()).hexdigest()[:32] if item else None
    chosen = tuple(answer_of(i, n) if n < item else None for n in range(items))
    sheet = quest.Sheet(item, chosen, token)
    option = answer_of(i, item)
    value = quest.sheet_value(key, run_id, f"{item}-{option}", user, sheet)
    return block_actions(user, f"pulse.item:{item}-{option}", value, response_url=response_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=5_000)
    parser.add_argument("--items", type=int, default=15)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--renders", type=int, default=20)
    parser.add_argument(
        "--render-people",
        type=int,
        default=5_000,
        help="the people of the large run whose results are rendered (their answers written, "
        "not clicked: 5,000 x 15 = 75,000)",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="techhelp-questionnaire-"))
    python = sys.executable
    fake = start_fake_slack()
    assert fake.stdin and fake.stdout
    slack_url = fake.stdout.readline().strip()
    response_url = slack_url.removesuffix("api/") + "response/bench"

    def ask(question: str) -> int:
        return int(fake_says(fake, question).split()[0])

    small = [person(i) for i in range(SMALL)]
    yaml_path = work / "techhelp.yml"
    yaml_path.write_text(config(args.items, small))
    database_url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{work / 'q.db'}"
    env = bench_env(
        slack_url,
        database_url,
        TECHHELP_TRIAGE_CHANNEL="CTRIAGE",
        TECHHELP_ADMINS=ADMIN,
        TECHHELP_CONFIG=str(yaml_path),
    )
    subprocess.run(
        [python, "-m", "chatbot.cli", "db", "upgrade"], env=env, check=True, capture_output=True
    )
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    everyone = max(args.people, args.render_people)
    seed_people(engine, [person(i) for i in range(everyone)])
    started = time.perf_counter()
    runs = open_runs(
        env,
        {
            "annual": [person(i) for i in range(args.people)],
            "small": small,
            "large": [person(i) for i in range(args.render_people)],
            "tiny": small,
        },
    )
    opened_s = round(time.perf_counter() - started, 2)
    answered(engine, runs["large"], args.render_people, args.items)
    answered(engine, runs["tiny"], SMALL, args.items)
    key = surveys.key_from_secret(SECRET)
    how = {"clients": args.clients, "rate": None}
    waves: dict[str, list[dict[str, float]]] = {"TechHelp": [], "bare Bolt baseline": []}
    times: dict[str, list[float]] = {name: [] for name in waves}

    def bodies_of(name: str, people: int, item: int) -> list[str]:
        return [click(runs[name], args.items, i, item, key, response_url) for i in range(people)]

    def wave(item: int) -> tuple[list[str], list[str]]:
        """(warm-up, measured clicks) of one item: everyone's click on it, both runs'; the
        small run's first item warms the server up (first wave only)."""
        if item == 0:
            return bodies_of("small", SMALL, 0), bodies_of("annual", args.people, 0)
        return [], bodies_of("annual", args.people, item) + bodies_of("small", SMALL, item)

    def waves_against(name: str, url: str, pids: list[int], recorded: bool) -> None:
        for item in range(args.items):
            warm, bodies = wave(item)
            settle = settled(engine, ask) if recorded else None
            row = measure(name, url, pids, warm, bodies, settle=settle, keep=times[name], **how)
            waves[name].append(row)
            print(f"{name} item {item + 1}: {json.dumps(row)}", flush=True)

    try:
        with server([python, "-m", "chatbot.cli", "serve"], env, work / "serve.log") as (url, pid):
            waves_against("TechHelp", url, [pid], recorded=True)
            with engine.begin() as conn:  # closed, as at their closing time: results final
                table = SurveyRun.__table__
                conn.execute(update(table).values(state="closed", closed_at=datetime.now(UTC)))
        with server(
            [python, str(ROOT / "bench" / "baseline_app.py")], env, work / "baseline.log"
        ) as (url, pid):
            waves_against("bare Bolt baseline", url, [pid], recorded=False)
    finally:
        fake.stdin.close()
        fake.terminate()
        fake.wait(10)

    # Exactly once: the counts per item and option are those of the clicks.
    check = {}
    for name, people in (("annual", args.people), ("small", SMALL)):
        expected = Counter(
            (item, answer_of(i, item)) for i in range(people) for item in range(args.items)
        )
        with engine.connect() as conn:
            counted = {
                (int(item), int(option)): int(n)
                for item, option, n in conn.execute(
                    text(
                        "select item, option, sum(count) from survey_tallies where run_id = :r"
                        " group by item, option"
                    ),
                    {"r": runs[name]},
                )
            }
        check[name] = {
            "answers_stored": sum(counted.values()),
            "clicks": people * args.items,
            "wrong_counts": sum(abs(counted.get(k, 0) - n) for k, n in expected.items()),
        }
    engine.dispose()

    render = render_times(env, {"annual": runs["large"], "small": runs["tiny"]}, args.renders)
    rows = {name: combine(name, found, times[name]) for name, found in waves.items()}
    ours, base = rows["TechHelp"], rows["bare Bolt baseline"]
    ratio = ours["p99_ms"] / base["p99_ms"]
    load_avg = Path("/proc/loadavg").read_text().split()[:3]
    print(
        f"\n{args.items}-item questionnaire open to {args.people:,} people (and {SMALL} for the"
        f" small run), runs opened in {opened_s} s; results rendered of {args.render_people:,}"
        f" and {SMALL} people's answers, written"
    )
    print(
        f"{args.people * args.items:,} signed clicks ({args.people:,} people x {args.items} "
        f"items), {args.clients} clients, closed loop, database {database_url.split(':')[0]}, "
        f"load average {' '.join(load_avg)}"
    )
    print(f"{'':20}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>9}{'clicks/s':>10}{'fail':>6}")
    for row in (ours, base):
        print(
            f"{row['name']:20}{row['p50_ms']:8.1f}{row['p99_ms']:8.1f}{row['max_ms']:9.1f}"
            f"{row['throughput_rps']:10.1f}{row['failures']:6d}"
        )
    print(f"p99 ratio TechHelp / baseline: {ratio:.2f} (target <= 1.5)")
    print(f"recorded exactly once: {json.dumps(check)}")
    print(
        f"results rendered: {render['annual_ms']:.1f} ms for {args.render_people * args.items:,}"
        f" answers, {render['small_ms']:.1f} ms for {SMALL * args.items:,}: ratio "
        f"{render['ratio']:.2f} (target <= 3)"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "questionnaire.json").write_text(
        json.dumps(
            {
                "opened_s": opened_s,
                "clicks": [ours, base],
                "p99_ratio": ratio,
                "check": check,
                "render": render,
                "load": load_avg,
            },
            indent=2,
        )
    )


def answered(engine: Engine, run_id: int, people: int, items: int) -> None:
    """Every one of `people` answered every item of the run (`answer_of`), written as the
    counts and recipient rows their clicks would leave: results of any size in a second."""
    counts = Counter((item, answer_of(i, item)) for i in range(people) for item in range(items))
    with engine.begin() as conn:
        conn.execute(
            text(
                "update survey_tallies set count = :n where run_id = :r and item = :i"
                " and option = :o and department = ''"
            ),
            [{"n": n, "r": run_id, "i": i, "o": o} for (i, o), n in counts.items()],
        )
        conn.execute(
            text("update survey_recipients set version = :v where run_id = :r"),
            {"v": items, "r": run_id},
        )


def open_runs(env: dict[str, str], people: dict[str, list[str]]) -> dict[str, int]:
    """Each YAML questionnaire's run open to its people, as `/pulse send --name` opens it (the
    core's `add_run` and `open_run`), in this process, in one transaction: run ids by name."""
    os.environ.update(env)
    from chatbot.addresses import Address
    from chatbot.cli.common import local_bot, settings
    from chatbot.surveys.runs import NO_DEPARTMENT
    from commands.pulse.clock import sync_config_surveys

    bot = local_bot(settings())
    runs: dict[str, int] = {}
    try:
        with bot.db.transaction() as session:
            ctx = bot.context(session, platform="slack", now=bot.clock.now())
            found = {s.name: s for s in sync_config_surveys(ctx)}
            for name, users in people.items():
                run = surveys.add_run(session=session, survey=found[f"config:{name}"], at=ctx.now)
                assert run is not None
                surveys.open_run(
                    session=session,
                    run=run,
                    people=[(Address.person("slack", u), NO_DEPARTMENT) for u in users],
                    held_back=0,
                    now=ctx.now,
                )
                runs[name] = run.id
    finally:
        bot.db.dispose()
    return runs


def combine(name: str, waves: list[dict[str, float]], latencies: list[float]) -> dict[str, Any]:
    """The waves (one per item) as one: percentiles over every click's time."""
    clicks = sum(int(w["clicks"]) for w in waves)
    return {
        "name": name,
        "clicks": clicks,
        "failures": sum(int(w["failures"]) for w in waves),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
        "throughput_rps": round(clicks / sum(w["wall_s"] for w in waves), 1),
        "all_recorded_s": round(sum(w.get("all_recorded_and_replied_s", 0) for w in waves), 1),
    }


def render_times(env: dict[str, str], runs: dict[str, int], repeat: int) -> dict[str, float]:
    """The median time to build each closed run's results message (the figures per item, section
    and department, the previous run's, the template), in this process, on the bench's database."""
    os.environ.update(env)
    from chatbot.cli.common import local_bot, settings
    from commands.pulse.results import results_message

    bot = local_bot(settings())
    found: dict[str, float] = {}
    try:
        for name, run_id in runs.items():
            times = []
            for _ in range(repeat):
                with bot.db.transaction() as session:
                    ctx = bot.context(session, platform="slack", now=bot.clock.now())
                    run = session.get(SurveyRun, run_id)
                    assert run is not None and run.state == "closed"
                    started = time.perf_counter()
                    message = results_message(ctx, run)
                    times.append(time.perf_counter() - started)
                    assert "Statement number 1" in json.dumps(message.to_json())
            found[f"{name}_ms"] = statistics.median(times) * 1000
    finally:
        bot.db.dispose()
    found["ratio"] = found["annual_ms"] / found["small_ms"]
    return found


if __name__ == "__main__":
    main()
