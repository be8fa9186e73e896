"""`GET /metrics` and JSON logs, through real `chatbot serve` processes: what an operator's
Prometheus and log pipeline see."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import http_get
from tests.fakes.slack_api import FakeSlack

TOKEN = "metrics-token-0123456789"


def scrape(server: Any, token: str | None = TOKEN) -> dict[tuple[str, tuple[Any, ...]], float]:
    """Every sample of /metrics by (name, sorted labels)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = http_get(f"{server.url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_for(check: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_outbox_inbox_and_clock_gauges_are_read_from_the_database_by_every_process(
    make_server: Any, database_url: str, tmp_path: Path
) -> None:
    # Two web-only processes (nothing is sent): the outbox fills, and both report it alike.
    first = make_server("--web-only", process=True, TECHHELP_METRICS_TOKEN=TOKEN).start()
    second = make_server("--web-only", process=True, TECHHELP_METRICS_TOKEN=TOKEN)
    second.log_path = tmp_path / "second.log"
    second.start()
    before = scrape(first)
    assert value(before, "techhelp_database_up") == 1
    assert value(before, "techhelp_outbox_oldest_age_seconds") == 0

    assert "TH-1" in first.command("printer on floor 3 is jammed").text
    assert "TH-2" in second.command("vpn is down for me").text
    time.sleep(1.1)
    seen = [scrape(server) for server in (first, second)]
    for samples in seen:
        pending = value(samples, "techhelp_outbox_depth", platform="slack", status="pending")
        assert pending >= 4  # each request: its triage card and the requester's message
        assert value(samples, "techhelp_outbox_oldest_age_seconds") >= 1
    assert value(seen[0], "techhelp_outbox_depth", platform="slack", status="pending") == value(
        seen[1], "techhelp_outbox_depth", platform="slack", status="pending"
    )
    # This process's own requests, by route.
    assert (
        value(
            seen[0],
            "techhelp_http_request_duration_seconds_count",
            route="/slack/events",
            method="POST",
        )
        == 1
    )

    # A click stored by another process and not yet handled; the clock's last tick.
    from chatbot.db import Database
    from chatbot.db.models import InboxEvent

    db = Database(database_url)
    with db.transaction() as session:
        session.add(
            InboxEvent(
                key="action:stored-elsewhere",
                platform="slack",
                event={},
                received_at=datetime.now(UTC) - timedelta(seconds=30),
                lease_until=datetime.now(UTC) + timedelta(hours=1),
            )
        )
    db.dispose()
    assert "techhelp_clock_lag_seconds" not in {name for name, _ in seen[0]}
    first.clock_once()
    samples = scrape(second)
    assert value(samples, "techhelp_inbox_depth") == 1
    assert value(samples, "techhelp_inbox_oldest_age_seconds") >= 30
    assert 0 <= value(samples, "techhelp_clock_lag_seconds") < 30


def test_deliveries_by_outcome_and_429s_are_counted(
    make_server: Any, fake_slack: FakeSlack
) -> None:
    server = make_server(process=True, TECHHELP_METRICS_TOKEN=TOKEN).start()
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=1)
    assert "TH-1" in server.command("printer jammed").text
    wait_for(lambda: len(fake_slack.messages()) >= 2)

    def counted() -> dict[Any, float] | None:
        samples = scrape(server)
        done = value(samples, "techhelp_deliveries_total", platform="slack", outcome="sent")
        return samples if done >= 2 else None

    samples = wait_for(counted)
    assert value(samples, "techhelp_platform_429_total", platform="slack") == 1
    limited = value(samples, "techhelp_deliveries_total", platform="slack", outcome="rate_limited")
    assert limited == 1
    assert value(samples, "techhelp_outbox_depth", platform="slack", status="pending") == 0


def test_metrics_ask_for_the_token_when_one_is_set(make_server: Any) -> None:
    server = make_server(process=True, TECHHELP_METRICS_TOKEN=TOKEN).start()
    assert http_get(f"{server.url}/metrics", timeout=10).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert http_get(f"{server.url}/metrics", headers=wrong, timeout=10).status_code == 401
    assert value(scrape(server), "techhelp_database_up") == 1


def test_several_processes_share_their_counts_in_multiprocess_mode(
    make_server: Any, tmp_path: Path
) -> None:
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(shared)}
    first = make_server("--web-only", process=True, **env).start()
    second = make_server("--web-only", process=True, **env)
    second.log_path = tmp_path / "second.log"
    second.start()
    first.command("printer jammed")
    second.command("vpn down")
    second.command("monitor flickers")
    samples = scrape(first, token=None)
    count = "techhelp_http_request_duration_seconds_count"
    assert value(samples, count, route="/slack/events", method="POST") == 3


def test_json_logs_carry_the_request_reference(make_server: Any, fake_slack: FakeSlack) -> None:
    server = make_server(process=True, LOG_FORMAT="json")
    fake_slack.fail_next("chat.postMessage", status=404, count=2, error="channel_not_found")
    server.start()
    assert "TH-1" in server.command("printer jammed").text
    assert server.log_path is not None

    def failures() -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in server.log_path.read_text().splitlines() if line]
        return [line for line in lines if "channel_not_found" in line["message"]]

    failed = wait_for(lambda: len(failures()) >= 2 and failures())
    for line in failed:
        assert line["ref"] == "TH-1", line
        assert line["level"] == "WARNING" and line["logger"] and line["time"]
    server.stop()
    # Every line is JSON, the start-up and shutdown lines too, with no reference.
    lines = [json.loads(line) for line in server.log_path.read_text().splitlines() if line]
    assert any("stopping" in line["message"] and "ref" not in line for line in lines)
