"""`chatbot socket` in production: a real process against a fake Socket Mode service
(tests/fakes/socket_mode.py) and the fake Web API that issues its URLs.

What an operator notices: every command acked within Slack's 3 s while Slack rotates the
connection (`refresh_requested`, `warning`), a new connection within a second of a drop with the
ack of the envelope in flight still delivered, a start that waits for Slack instead of exiting,
and a health check and metrics that say whether the socket is up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port, http_get, server_env, sqlite_only
from tests.fakes.slack_api import FakeSlack
from tests.fakes.socket_mode import FakeSocketMode

SLACK_LIMIT = 3.0  # seconds Slack waits for an ack
TRANSPORT = "the socket's transport and acks, the same on either database"


class SocketProcess:
    """A real `chatbot socket` process; its health endpoint on `port`."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.port = free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SocketProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chatbot.cli", "socket"],
            env={**self.env, "PORT": str(self.port)},
            stdout=log,
            stderr=log,
            cwd=self.log_path.parent,
        )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            return None

    def health(self) -> httpx.Response | None:
        try:
            return http_get(f"{self.url}/healthz", timeout=2)
        except httpx.HTTPError:
            return None


@pytest.fixture
def socket_mode(fake_slack: FakeSlack) -> Iterator[FakeSocketMode]:
    fake = FakeSocketMode().start()
    fake_slack.socket_mode = fake
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def socket_bot(
    database_url: str, fake_slack: FakeSlack, socket_mode: FakeSocketMode, tmp_path: Path
) -> Iterator[Any]:
    made: list[SocketProcess] = []

    def make(**extra: str) -> SocketProcess:
        env = server_env(database_url, fake_slack, SLACK_APP_TOKEN="xapp-1-test", **extra)
        process = SocketProcess(env, tmp_path / "socket.log")
        made.append(process)
        return process.start()

    yield make
    for process in made:
        process.stop()


def connected(fake: FakeSocketMode, process: SocketProcess, count: int = 1) -> None:
    try:
        fake.wait_links(count, timeout=60)
    except AssertionError:
        raise AssertionError(f"chatbot socket did not connect:\n{process.log()}") from None


def acked_with_reference(fake: FakeSocketMode, envelope_id: str) -> float:
    """Seconds until the command's ack; the ack carries the bot's answer (`TH-n`)."""
    seconds = fake.ack_seconds(envelope_id, timeout=15)
    payload = fake.acks[envelope_id][0].payload or {}
    assert "TH-" in str(payload.get("text", "")) + str(payload.get("blocks", "")), payload
    return seconds


@sqlite_only(TRANSPORT)
@pytest.mark.parametrize("reason", ["refresh_requested", "warning"])
def test_commands_are_acked_within_slacks_limit_while_slack_rotates_the_connection(
    socket_bot: Any, socket_mode: FakeSocketMode, reason: str
) -> None:
    bot = socket_bot()
    connected(socket_mode, bot)
    acked_with_reference(socket_mode, socket_mode.command("printer jammed"))  # warm

    socket_mode.refresh(reason, close_after=5)
    sent: list[str] = []
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        sent.append(socket_mode.command(f"request {len(sent)} during the {reason}"))
        time.sleep(0.1)
    seconds = [acked_with_reference(socket_mode, envelope) for envelope in sent]

    worst = max(seconds)
    print(f"{reason}: {len(sent)} commands, slowest ack {worst:.3f} s")
    assert worst < SLACK_LIMIT, f"an ack took {worst:.2f} s through a {reason}"
    # The new connection was open before the old one closed: no moment without a socket.
    first, second = socket_mode.links[0], socket_mode.wait_links(2)
    assert first.closed is not None and second.opened < first.closed
    assert socket_mode.refused == [], "a reconnect reused a one-time URL"
    assert bot.alive()


@sqlite_only(TRANSPORT)
def test_a_dropped_connection_is_replaced_within_a_second_and_the_ack_in_flight_arrives(
    socket_bot: Any, socket_mode: FakeSocketMode
) -> None:
    bot = socket_bot()
    connected(socket_mode, bot)
    acked_with_reference(socket_mode, socket_mode.command("warm up"))

    in_flight = socket_mode.command("sent just before the drop")
    dropped = time.monotonic()
    socket_mode.drop()
    second = socket_mode.wait_links(2, timeout=15)

    reconnect = second.opened - dropped
    print(f"reconnected {reconnect:.3f} s after the drop")
    assert reconnect < 1.0, f"reconnected only {reconnect:.2f} s after the drop"
    assert acked_with_reference(socket_mode, in_flight) < SLACK_LIMIT
    assert acked_with_reference(socket_mode, socket_mode.command("after the drop")) < SLACK_LIMIT
    assert socket_mode.refused == []
    assert bot.alive()


@sqlite_only(TRANSPORT)
def test_a_silent_partition_is_noticed_by_the_keepalive_and_replaced(
    socket_bot: Any, socket_mode: FakeSocketMode
) -> None:
    bot = socket_bot()
    connected(socket_mode, bot)
    acked_with_reference(socket_mode, socket_mode.command("warm up"))

    silenced = time.monotonic()
    socket_mode.blackhole()  # nothing passes, and nothing closes
    second = socket_mode.wait_links(2, timeout=30)

    noticed = second.opened - silenced
    print(f"reconnected {noticed:.3f} s after a silent partition")
    # A ping 3 s into the silence at most, 3 s for its answer, 1 s to give up the close.
    assert noticed < 9, f"a silent partition went unnoticed for {noticed:.1f} s"
    assert acked_with_reference(socket_mode, socket_mode.command("after it")) < SLACK_LIMIT
    assert bot.alive()


@sqlite_only(TRANSPORT)
def test_a_failing_connections_open_at_start_is_retried_and_health_says_so(
    socket_bot: Any, socket_mode: FakeSocketMode, fake_slack: FakeSlack
) -> None:
    fake_slack.fail_next("apps.connections.open", status=500, count=3)
    bot = socket_bot()
    unhealthy: list[int] = []
    while not socket_mode.links and bot.alive():
        response = bot.health()
        if response is not None and response.status_code == 503:
            unhealthy.append(response.status_code)
        time.sleep(0.05)
    assert bot.alive(), f"chatbot socket exited when Slack failed at start:\n{bot.log()}"
    connected(socket_mode, bot)
    assert len(fake_slack.calls("apps.connections.open")) == 4
    assert unhealthy, "the health check did not report the socket down while it was"
    acked_with_reference(socket_mode, socket_mode.command("after a slow start"))

    healthy = bot.health()
    assert healthy is not None and healthy.status_code == 200, healthy
    metrics = http_get(f"{bot.url}/metrics", timeout=5).text
    assert "techhelp_socket_connected 1.0" in metrics
    assert 'techhelp_socket_acks_total{result="sent"}' in metrics


@sqlite_only(TRANSPORT)
def test_health_turns_503_while_slack_refuses_new_connections(
    socket_bot: Any, socket_mode: FakeSocketMode, fake_slack: FakeSlack
) -> None:
    bot = socket_bot()
    connected(socket_mode, bot)
    deadline = time.monotonic() + 30
    while (response := bot.health()) is None or response.status_code != 200:
        assert time.monotonic() < deadline, bot.log()
        time.sleep(0.05)

    fake_slack.outage()  # apps.connections.open answers 503 from now on
    socket_mode.drop()
    deadline = time.monotonic() + 10
    while (response := bot.health()) is None or response.status_code != 503:
        assert time.monotonic() < deadline, "health stayed 200 without a socket"
        time.sleep(0.05)
    assert "not connected" in response.text
    metrics = http_get(f"{bot.url}/metrics", timeout=5).text
    assert "techhelp_socket_connected 0.0" in metrics

    fake_slack.restore()
    connected(socket_mode, bot, 2)
    acked_with_reference(socket_mode, socket_mode.command("after the outage"))
    assert bot.stop() == 0, bot.log()
