"""The console as a newcomer meets it (issue 16): with nothing configured it is a demo workspace
where alerts to everyone and pulse checks reach people; what was delivered before a restart can
still be pressed; forms check each answer as it is typed and keep the others; a long paste
arrives whole at a terminal. Each test drives the real `chatbot shell` (or `chatbot demo`) in a
process of its own, as a person types."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
DM = re.compile(r"--- \[DM to @(\w+)\] ---\n(.*?)(?=\n--- |\ntechhelp> |\Z)", re.DOTALL)
SLACK = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "s3cret"}


def _env(tmp_path: Path, database: bool = True, **extra: str) -> dict[str, str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path), **extra}
    if database:
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'console.db'}"
    return env


def chatbot(
    tmp_path: Path,
    *args: str,
    typed: str = "",
    ok: bool = True,
    timeout: float = 300,
    **env: str,
) -> subprocess.CompletedProcess[str]:
    database = env.pop("database", "yes") == "yes"
    result = subprocess.run(
        [sys.executable, "-m", "chatbot.cli", *args],
        input=typed,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=timeout,
        env=_env(tmp_path, database, **env),
    )
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def shell(tmp_path: Path, typed: str, **env: str) -> str:
    return chatbot(tmp_path, "shell", typed=typed, **env).stdout


def query(tmp_path: Path, sql: str, name: str = "console.db") -> list[tuple[object, ...]]:
    engine = create_engine(f"sqlite:///{tmp_path / name}")
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def test_demo_workspace_alerts_and_pulse_reach_people(tmp_path: Path) -> None:
    out = shell(
        tmp_path,
        "/techalert outage VPN is down for everyone working off-site\n"
        "/techalert\n"
        "degraded\nEmail\nMail is slow to arrive\neveryone\n\n\n"
        "/techalert\n"
        "info\n\nPayroll system closes early on Friday\ndepartment:Finance\n\n\n"
        "/pulse send How is your week going?\n"
        "/as UANA\n4\n/as UBEN\n5\n/as UKIM\n3\n"
        "/as UCONSOLE\n/pulse results PS-1\n",
    )
    assert "Demo workspace" in out and "Finance, Parks and Library" in out
    assert "TECHHELP_ALERT_CHANNELS is not set" not in out
    assert "--- [#alerts] ---\n🔴 *Outage: VPN*\nVPN is down for everyone working off-site" in out
    # Everyone by direct message: each of the 17 people once, Finance's notice to its 5.
    assert out.count("Mail is slow to arrive") >= 17
    assert "--- [DM to @UOMAR] ---\n🟠 *Degraded service: Email*" in out
    finance = {"UANA", "UBEN", "UCHLOE", "UDEV", "UEMMA"}
    payroll = [
        person for person, message in DM.findall(out) if "Payroll system closes early" in message
    ]
    assert set(payroll) == finance
    assert "*PS-1* is on its way to 17 people" in out
    assert out.count("You answered") == 3
    assert "*Responses:* 3 of 17 (18%)" in out  # the open run's answers so far
    rows = query(tmp_path, "select count(*) from accounts where platform = 'console'")
    assert rows == [(17,)]


def test_demo_is_never_used_where_a_platform_is_configured(tmp_path: Path) -> None:
    # Slack configured: the console has no demo people, and says nobody is in the audience.
    configured = shell(tmp_path, "/pulse send Anyone?\n", **SLACK)
    assert "Demo workspace" not in configured
    assert "on its way" not in configured
    assert query(tmp_path, "select count(*) from accounts") == [(0,)]
    refused = chatbot(tmp_path, "demo", ok=False, **SLACK)
    assert refused.returncode != 0 and "nothing configured" in refused.stderr
    # A demo database: a Slack process will not start on it.
    assert "Demo workspace" in shell(tmp_path, "/techhelp printer jammed\n")
    clock = chatbot(tmp_path, "clock", "--once", ok=False, **SLACK)
    assert clock.returncode != 0
    assert "holds the console's demo workspace" in clock.stderr
    assert query(tmp_path, "select count(*) from deliveries where platform = 'slack'") == [(0,)]


def test_demo_keeps_to_its_own_file_with_the_default_database(tmp_path: Path) -> None:
    chatbot(tmp_path, "db", "upgrade", database="no")
    shell(tmp_path, "/techalert info Welcome\n", database="no")
    assert (tmp_path / "techhelp-demo.db").exists()
    assert query(tmp_path, "select count(*) from accounts", "techhelp.db") == [(0,)]
    assert query(tmp_path, "select count(*) from alerts", "techhelp-demo.db") == [(1,)]


def test_buttons_survive_a_restart(tmp_path: Path) -> None:
    shell(tmp_path, "/techhelp printer jammed\n/techhelp monitor flickers\n/pulse send Lunch ok?\n")
    out = shell(
        tmp_path,
        "Claim TH-1\n/show TH-2\n/as UANA\n/show\n4\n/as UCONSOLE\nResolve TH-2\nSwapped it\n",
    )
    assert "no button" not in out
    assert "@UCONSOLE is now working on *TH-1*" in out
    assert "== TH-2 · Hardware · normal ==" in out  # shown again
    assert "--- [DM to @UANA] ---\n📊 *Lunch ok?*" in out
    assert "You answered *4* to _Lunch ok?_" in out
    assert "Resolution note: Swapped it" in out
    states = query(tmp_path, "select state from requests order by id")
    assert states == [("claimed",), ("resolved",)]


def test_a_button_is_pressed_only_where_it_was_shown_to_you(tmp_path: Path) -> None:
    out = shell(tmp_path, "/pulse send Lunch ok?\n/as UANA\n4\n/as UBEN\n/show\n5\n")
    assert out.count("You answered") == 2  # each on their own message, not someone else's
    assert "This pulse check was not sent to you" not in out


def test_forms_check_each_answer_and_keep_the_others(tmp_path: Path) -> None:
    out = shell(
        tmp_path,
        "/techhelp\n"
        "Hardwear\nhardware\n"  # not a category: asked again, then by name (any case)
        "urgentish\n3\n"  # not an urgency: asked again, then by number (high)
        "\n"  # a required field left empty: asked again
        "The VPN drops every ten minutes\n"
        "VPM\nVPN\n",
    )
    assert "(Category: 'Hardwear' is not one of the choices: Hardware, " in out
    assert "1 Hardware" in out and "4 critical" in out  # the choices are offered, numbered
    assert "(Urgency: 'urgentish' is not one of the choices" in out
    assert "(What do you need? is required)" in out
    assert "(Affected service: 'VPM' is not one of the choices" in out
    assert "📥 We have your request *TH-1*" in out
    assert query(tmp_path, "select category, urgency, service, text from requests") == [
        ("Hardware", "high", "VPN", "The VPN drops every ten minutes")
    ]
    # The handler refuses one field: only that one is asked again, the other answers kept.
    out = shell(
        tmp_path,
        "/pulse\nHow was the move?\n\n\neveryone\n\nnow\n\nyes\n48\n24\n12\n",
    )
    assert out.count("Question: ") == 1
    assert "Reminder after (hours; empty for none) (optional) <24>: 48" in out
    assert "Reminder after (hours; empty for none) (optional) <48>: 12" in out  # asked again
    assert "The reminder must come before the survey closes." in out
    assert "the other answers are kept" in out
    assert "--- [DM to @UOMAR] ---\n📊 *How was the move?*" in out
    assert query(tmp_path, "select question, reminder_hours, close_hours from surveys") == [
        ("How was the move?", 12.0, 24.0)
    ]
    left = shell(tmp_path, "/techhelp\n/cancel\n/techhelp status\n")
    assert "(form left: nothing was sent)" in left
    assert query(tmp_path, "select count(*) from requests") == [(1,)]


def test_a_long_paste_arrives_whole_at_a_terminal(tmp_path: Path) -> None:
    """At a terminal a line is read by readline, not by the terminal's line discipline, which
    keeps at most 4,095 characters of a line."""
    words = " ".join(f"w{i:04d}" for i in range(1200))  # 7,199 characters
    pid, fd = pty.fork()
    if pid == 0:  # the child: the console, at a terminal
        os.chdir(tmp_path)
        os.execve(sys.executable, [sys.executable, "-m", "chatbot.cli", "shell"], _env(tmp_path))
    seen = b""

    def read_until(marker: bytes, timeout: float = 120) -> None:
        nonlocal seen
        end = time.monotonic() + timeout
        while marker not in seen and time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(fd, 65536)
                except OSError:
                    break
        assert marker in seen, seen[-2000:]

    try:
        read_until(b"techhelp> ")
        line = f"/techhelp {words} END\r".encode()
        for start in range(0, len(line), 1024):  # as a terminal delivers a paste
            os.write(fd, line[start : start + 1024])
        read_until(b"is logged")
        os.write(fd, b"/quit\r")
        read_until(b"", timeout=1)
    finally:
        os.waitpid(pid, 0)
    assert query(tmp_path, "select text from requests") == [(f"{words} END",)]


def test_demo_history_fills_the_dashboard_and_the_trends(tmp_path: Path) -> None:
    # Two weeks: two runs of the weekly pulse check are closed whatever today's weekday (a trend
    # needs two), and the alerts are moved into a history that ends too soon for them.
    made = chatbot(tmp_path, "demo", "--weeks", "2", timeout=900).stdout
    assert "Added 2 weeks of history" in made
    requests = query(tmp_path, "select count(*) from requests")[0][0]
    rated = query(tmp_path, "select count(*) from ratings")[0][0]
    assert isinstance(requests, int) and requests >= 8 and isinstance(rated, int) and rated >= 4
    runs = query(tmp_path, "select count(*) from survey_runs where closed_at is not null")
    assert runs[0][0] >= 1
    said = re.search(r"(\d+) alerts?", made)
    assert said and int(said.group(1)) >= 1, made
    resolved = query(tmp_path, "select count(*) from alerts where resolved_at is not null")
    assert resolved == [(int(said.group(1)),)]
    again = chatbot(tmp_path, "demo", ok=False)
    assert again.returncode != 0 and "added to this database already" in again.stderr
    out = shell(tmp_path, "/pulse results\n/techhelp status\n")
    assert "*Trend* (last" in out
    assert "*Average:*" in out


def test_the_readme_walk_through(tmp_path: Path) -> None:
    """The README's console walk-through, typed line by line into a console started as
    `make run` starts it (no credentials, the default database): every output line the README
    shows is in what the console printed, and no button typed was missing."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- walk-through -->", 1)[1].split("<!-- /walk-through -->", 1)[0]
    lines = block.strip().removeprefix("```text").removesuffix("```").strip().splitlines()
    typed: list[str] = []
    in_form = False
    for line in lines:
        if line.startswith("techhelp> "):
            typed.append(line.removeprefix("techhelp> "))
            in_form = False
        elif line.startswith("--- form: "):
            in_form = True
        elif in_form and ": " in line:  # a field's prompt and the answer typed to it
            typed.append(line.split(": ", 1)[1])
        else:
            in_form = False
    port = _free_port()
    chatbot(tmp_path, "db", "upgrade", database="no")
    # Six weeks of history made as people make it: minutes on a loaded machine.
    run = chatbot(
        tmp_path, typed="\n".join(typed) + "\n", database="no", timeout=1200, PORT=str(port)
    )
    out = run.stdout
    assert "(no button" not in out
    assert "(form left" not in out and "form not sent" not in out
    for line in lines:
        if line.startswith("techhelp> "):
            assert line in out, line
        else:
            assert line.replace(":3000/", f":{port}/").strip() in out, line
    affected = query(
        tmp_path, "select count(*) from affected_votes where alert_id = 1", "techhelp-demo.db"
    )
    assert affected == [(2,)]  # "I'm affected", and Follow on the known issue


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
