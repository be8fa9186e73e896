"""Failures are visible: with Slack unreachable (nothing listening where its API should be, so
every call is refused), the operator learns why delivery is waiting, at once, wherever they
look: the server's log (one warning, not one per row or per retry), `chatbot alert send`'s
progress, `chatbot alert show`, and the dashboard."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.conftest import ADMIN, DASHBOARD_TOKEN, ROOT, Server, free_port, http_get, sqlite_only
from tests.test_intake import reply_text

CHANNELS = ("CALERTS1", "CALERTS2")
REFUSED = "Connection refused"


def unreachable_slack(make_server: Any) -> Server:
    return make_server(
        SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/",  # nothing listens there
        TECHHELP_ALERT_CHANNELS=",".join(CHANNELS),
        TECHHELP_DASHBOARD_TOKEN=DASHBOARD_TOKEN,
    ).start()


def cli(server: Server, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chatbot.cli", *args],
        env={**server.env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def warnings_about(log: Path, text: str) -> list[str]:
    return [
        line
        for line in log.read_text(encoding="utf-8").splitlines()
        if " WARNING " in line and text in line
    ]


def wait_for(condition: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@sqlite_only("what is shown of a delivery's trouble does not depend on the database")
def test_slack_unreachable_is_said_in_the_log_the_cli_and_the_dashboard(
    make_server: Any, tmp_path: Path
) -> None:
    server = unreachable_slack(make_server)
    log = tmp_path / "server.log"
    answer = reply_text(server.command("outage Email is down", command="/techalert", user=ADMIN))
    assert "AL-1" in answer

    # The log says it at once: the first refused attempt, not the 25th.
    started = time.monotonic()
    wait_for(lambda: warnings_about(log, REFUSED), timeout=10)
    assert time.monotonic() - started < 5
    (warning,) = warnings_about(log, REFUSED)
    assert warning.split(" WARNING ")[1].count("slack deliveries are waiting") == 1
    # One line for the platform and reason, not one per copy: each send is recorded as it
    # completes, so the first says 1 attempt and the other copy's count waits for the next line.
    assert "(1 failed attempt;" in warning
    # Retries go on (0.5 s, 1 s, 2 s, 4 s…) but the log is not flooded: one line a minute.
    time.sleep(6)
    assert len(warnings_about(log, REFUSED)) == 1

    shown = cli(server, "alert", "show", "AL-1", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "pending 2" in shown.stdout
    assert f"waiting: network: [Errno 111] {REFUSED} (2)" in shown.stdout

    page = http_get(
        server.url + "/dashboard",
        headers={"Authorization": f"Bearer {DASHBOARD_TOKEN}"},
        timeout=10,
    )
    assert page.status_code == 200
    assert "2 messages to Slack are waiting" in page.text and REFUSED in page.text


@sqlite_only("what is shown of a delivery's trouble does not depend on the database")
def test_alert_send_says_why_its_progress_is_stuck(make_server: Any, tmp_path: Path) -> None:
    server = unreachable_slack(make_server)
    server.stop()  # the CLI delivers on its own
    process = subprocess.Popen(
        [sys.executable, "-m", "chatbot.cli", "alert", "send", "Email is down"],
        env={**server.env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    assert process.stdout is not None
    lines: list[str] = []
    stdout = process.stdout

    def read() -> None:
        for line in stdout:
            lines.append(line)

    reader = threading.Thread(target=read)
    reader.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(REFUSED in line for line in lines):
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGINT)  # the operator gives up following
    process.wait(timeout=30)
    reader.join(timeout=10)
    assert process.stderr is not None
    err = process.stderr.read()
    printed = "".join(lines)
    assert f"waiting: network: [Errno 111] {REFUSED}" in printed, printed + err
    assert "sent 0 · failed 0 · pending 2" in printed
    assert process.returncode != 0  # nothing was sent


def test_the_log_names_the_recovery(make_server: Any, tmp_path: Path) -> None:
    """After a warning, the first message that goes through again is logged too, so the log
    does not leave an operator believing Slack is still down."""
    server = make_server(TECHHELP_ALERT_CHANNELS="CALERTS1").start()
    server.fake.fail_next("chat.postMessage", status=500, error="internal_error")
    server.command("outage Email is down", command="/techalert", user=ADMIN)
    log = tmp_path / "server.log"
    wait_for(lambda: warnings_about(log, "internal_error"))
    wait_for(lambda: "delivering again" in log.read_text(encoding="utf-8"))
