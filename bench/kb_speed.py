"""What suggesting articles adds to the `/techhelp` acknowledgement, with 5,000 articles.

    .venv/bin/python bench/kb_speed.py [--articles 5000] [--requests 2000] [--database-url URL]

Two bots side by side in one process, each on its own database: one whose knowledge base holds
`--articles` published articles (synced from a folder of Markdown files, as `chatbot kb sync`
does: the 34 of `bench/kb/articles` and generated ones), one with none (suggestions off). The
same messages (`bench/kb/messages.tsv`, answerable and not) go to both, alternately, so both see
the same load; each is timed around `Bot.handle`: the whole unit of work a `/techhelp` ack
waits for (logging the interaction, the request, its card and receipt in the outbox, and with
the knowledge base the search, the re-ranking and the suggestions stored), on one thread. The
HTTP layers in front are the same for both and are left out. Reports p50, p99 and the p99
difference (target: at most 5 ms), in wall-clock time and in the CPU time of the handling thread
(`time.thread_time`, which a loaded machine inflates far less than the wall clock).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chatbot.app import build_bot  # noqa: E402
from chatbot.bot import Bot, Event  # noqa: E402
from chatbot.config import Settings  # noqa: E402

HERE = Path(__file__).parent
SUBJECTS = [
    "printer",
    "laptop",
    "monitor",
    "vpn",
    "wifi",
    "outlook",
    "mailbox",
    "calendar",
    "teams",
    "headset",
    "webcam",
    "dock",
    "badge",
    "phone",
    "voicemail",
    "onedrive",
    "sharepoint",
    "excel",
    "word",
    "powerpoint",
    "adobe",
    "pdf",
    "scanner",
    "keyboard",
    "mouse",
    "password",
    "account",
    "license",
    "software",
    "update",
    "browser",
    "chrome",
    "edge",
    "citrix",
    "sap",
    "payroll",
    "timesheet",
    "intranet",
    "database",
    "report",
    "dashboard",
    "server",
    "backup",
    "drive",
    "folder",
    "permission",
    "group",
    "mfa",
    "token",
]
VERBS = [
    "reset",
    "install",
    "configure",
    "connect",
    "restore",
    "share",
    "request",
    "remove",
    "unlock",
    "sync",
    "map",
    "print",
    "scan",
    "export",
    "import",
    "upgrade",
    "move",
    "rename",
    "archive",
    "enable",
    "disable",
    "troubleshoot",
    "register",
]


def _write_articles(folder: Path, count: int) -> None:
    """The evaluation's real articles, then generated ones with realistic titles and bodies
    over a few thousand words (so the index's posting lists are not trivially short)."""
    rng = random.Random(7)
    real = sorted((HERE / "kb" / "articles").glob("*.md"))
    for path in real:
        (folder / path.name).write_bytes(path.read_bytes())
    words = [
        f"{a}{b}" for a in ("al", "be", "co", "da", "ex", "fi", "go", "hy") for b in range(250)
    ]
    for i in range(count - len(real)):
        subject, other = rng.sample(SUBJECTS, 2)
        verb = rng.choice(VERBS)
        title = f"{verb.capitalize()} {subject} for {rng.choice(words)} ({i})"
        keywords = ", ".join([subject, f"{verb} {subject}", rng.choice(words)])
        steps = "\n".join(
            f"{n}. {rng.choice(VERBS).capitalize()} the {rng.choice(SUBJECTS)} "
            f"{' '.join(rng.choices(words, k=8))} then {other}."
            for n in range(1, 7)
        )
        (folder / f"generated-{i:05}.md").write_text(
            f"---\ntitle: {title}\nkeywords: [{keywords}]\n---\n\n{steps}\n"
        )


def _bot(url: str, kb: Path | None) -> Bot:
    settings = Settings.from_values(
        {"database_url": url, "techhelp_triage_channel": "CTRIAGE", "techhelp_kb": kb}
    )
    bot = build_bot(settings)
    bot.db.upgrade()
    if kb is not None:
        from chatbot import kb as knowledge_base

        with bot.db.transaction() as session:
            report = knowledge_base.sync(session=session, folder=kb, now=bot.clock.now())
        print(f"synced {len(report.added)} articles")
    return bot


def _ask(bot: Bot, text: str, user: str) -> tuple[float, float]:
    event = Event(
        platform="slack",
        kind="command",
        name="techhelp",
        user=user,
        key=str(uuid.uuid4()),
        text=text,
    )
    start, cpu = time.perf_counter(), time.thread_time()
    bot.handle(event)
    return (time.perf_counter() - start) * 1000, (time.thread_time() - cpu) * 1000


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(p * len(ordered))) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument(
        "--database-url",
        default=None,
        help="two PostgreSQL databases: URL with {} for the name suffix (on / off)",
    )
    args = parser.parse_args(argv)
    messages = [
        line.split("\t", 1)[1]
        for line in (HERE / "kb" / "messages.tsv").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "kb"
        folder.mkdir()
        _write_articles(folder, args.articles)
        if args.database_url:
            on_url, off_url = args.database_url.format("on"), args.database_url.format("off")
        else:
            on_url, off_url = f"sqlite:///{tmp}/on.db", f"sqlite:///{tmp}/off.db"
        on, off = _bot(on_url, folder), _bot(off_url, None)
        for i, text in enumerate(messages[:50]):  # warm up both (caches, the scorer's model)
            _ask(on, text, f"UWARM{i}")
            _ask(off, text, f"UWARM{i}")
        times: dict[str, list[float]] = {"on": [], "off": []}
        cpu: dict[str, list[float]] = {"on": [], "off": []}
        for i in range(args.requests):
            text = messages[i % len(messages)]
            first, second = (on, off) if i % 2 else (off, on)
            for bot in (first, second):
                name = "on" if bot is on else "off"
                wall, used = _ask(bot, text, f"U{i % 300}")
                times[name].append(wall)
                cpu[name].append(used)
        print(
            f"{args.requests} /techhelp requests each, {args.articles} articles, "
            f"database {on.db.engine.dialect.name}"
        )
        for name, label in (("off", "suggestions off (no articles)"), ("on", "suggestions on")):
            values, used = times[name], cpu[name]
            print(
                f"{label:<32} p50 {statistics.median(values):6.2f} ms   "
                f"p99 {_pct(values, 0.99):6.2f} ms   "
                f"(CPU of the handling thread: p50 {statistics.median(used):5.2f} ms, "
                f"p99 {_pct(used, 0.99):5.2f} ms)"
            )
        added = _pct(times["on"], 0.99) - _pct(times["off"], 0.99)
        added_cpu = _pct(cpu["on"], 0.99) - _pct(cpu["off"], 0.99)
        print(
            f"suggesting adds {added:.2f} ms at p99 (target <= 5 ms); "
            f"{added_cpu:.2f} ms of the thread's CPU at p99"
        )
        on.db.dispose()
        off.db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
