"""`GET /metrics`: what operators watch, in Prometheus's text format (prometheus-client).

Two kinds of figure, chosen so that several processes on one database report correct numbers:
- **State, read from the database at scrape time** (`DatabaseCollector`): outbox depth by
  platform and status, the age of the oldest undelivered row, rows in doubt, inbox depth and
  age, and the clock's lag (seconds since `chatbot clock` last ticked, from its lease). Any
  process answers the same, whichever one the scrape reaches.
- **Events, counted by the process that saw them**: deliveries by outcome, 429s, HTTP request
  latency, Socket Mode acks and reconnects. Each process counts its own; Prometheus sums them
  across processes (`sum(rate(...))`). Several processes behind one address on one host share
  a directory for them: set `PROMETHEUS_MULTIPROC_DIR` (prometheus-client's multiprocess mode;
  empty it at each start), and every process's counts are merged at each scrape.

`/metrics` shows counts and ages only, never a message or a person. With
`TECHHELP_METRICS_TOKEN` set it asks for `Authorization: Bearer <token>`."""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from chatbot.clock import LEASE, LEASE_NAME
from chatbot.db import Database
from chatbot.db.models import ClockState, Delivery, InboxEvent

log = logging.getLogger(__name__)

UNDELIVERED = ("pending", "sending")

DELIVERIES = Counter(
    "techhelp_deliveries",
    "Delivery attempts by outcome: sent, failed (for good), retry (will be tried again), "
    "rate_limited (refused with 429, not counted against the row).",
    ["platform", "outcome"],
)
RATE_LIMITED = Counter(
    "techhelp_platform_429",
    "Answers of 429 Too Many Requests from a platform's API.",
    ["platform"],
)
REQUEST_SECONDS = Histogram(
    "techhelp_http_request_duration_seconds",
    "Time to answer an HTTP request, by route.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10),
)
SOCKET_ACKS = Counter(
    "techhelp_socket_acks",
    "Socket Mode acks: sent, or lost (no connection took it in time).",
    ["result"],
)
SOCKET_ACK_SECONDS = Histogram(
    "techhelp_socket_ack_seconds",
    "Time from a Socket Mode envelope's arrival to its ack leaving (Slack allows 3 s).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5),
)
SOCKET_RECONNECTS = Counter(
    "techhelp_socket_reconnects",
    "New Socket Mode connections after the first, by why: refresh_requested, warning, dropped, ...",
    ["reason"],
)
SOCKET_CONNECT_FAILURES = Counter(
    "techhelp_socket_connect_failures",
    "Failed attempts to open a Socket Mode connection (apps.connections.open or the socket).",
)

ROUTES = ("/slack/events", "/api/messages", "/healthz", "/metrics", "/dashboard", "/report")


def route_label(path: str) -> str:
    """A bounded label for a path: the route it belongs to, or `other`."""
    for route in ROUTES:
        if path == route or path.startswith(route + "/"):
            return route
    return "other"


def count_outcomes(outcomes: Iterable[tuple[str, str]]) -> None:
    """Count delivery attempts: (platform, outcome) pairs."""
    for platform, outcome in outcomes:
        DELIVERIES.labels(platform, outcome).inc()


def _seconds(now: datetime, then: datetime | None) -> float:
    return max(0.0, (now - then).total_seconds()) if then is not None else 0.0


class DatabaseCollector(Collector):
    """Gauges read from the database at each scrape: the same from every process."""

    def __init__(self, db: Database, now: Callable[[], datetime]) -> None:
        self.db = db
        self.now = now

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "techhelp_database_up", "1 when the database answered this scrape's queries."
        )
        try:
            metrics = list(self._read())
        except Exception as exc:
            log.warning("metrics: database does not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics

    def _read(self) -> Iterator[Metric]:
        now = self.now()
        with self.db.sessions() as session:
            depth = session.execute(
                select(Delivery.platform, Delivery.status, func.count())
                .where(Delivery.status.in_(UNDELIVERED))
                .group_by(Delivery.platform, Delivery.status)
            ).all()
            oldest, in_doubt = session.execute(
                select(func.min(Delivery.created_at), func.count().filter(Delivery.in_doubt)).where(
                    Delivery.status.in_(UNDELIVERED)
                )
            ).one()
            inbox_depth, inbox_oldest = session.execute(
                select(func.count(), func.min(InboxEvent.received_at))
            ).one()
            lease = session.get(ClockState, LEASE_NAME)

        outbox = GaugeMetricFamily(
            "techhelp_outbox_depth",
            "Deliveries not yet delivered, by platform and status (pending, sending).",
            labels=["platform", "status"],
        )
        for platform, status, count in depth:
            outbox.add_metric([platform, status], count)
        yield outbox
        yield GaugeMetricFamily(
            "techhelp_outbox_oldest_age_seconds",
            "Age of the oldest undelivered delivery (0 when the outbox is empty).",
            value=_seconds(now, oldest),
        )
        yield GaugeMetricFamily(
            "techhelp_outbox_in_doubt",
            "Undelivered deliveries whose last attempt may have landed (checked before a resend).",
            value=in_doubt or 0,
        )
        yield GaugeMetricFamily(
            "techhelp_inbox_depth", "Stored clicks not yet handled.", value=inbox_depth
        )
        yield GaugeMetricFamily(
            "techhelp_inbox_oldest_age_seconds",
            "Age of the oldest stored click not yet handled (0 when none).",
            value=_seconds(now, inbox_oldest),
        )
        if lease is not None and lease.value is not None:
            # The lease runs LEASE past the tick that renewed it.
            yield GaugeMetricFamily(
                "techhelp_clock_lag_seconds",
                "Seconds since `chatbot clock` last ticked (a tick a minute: alert past ~120).",
                value=_seconds(now, lease.value - LEASE),
            )


class Metrics:
    """The WSGI app of `GET /metrics`: this process's (or, in multiprocess mode, every
    process's) counters, the database's gauges, and any `extra` collectors (the socket's)."""

    def __init__(
        self,
        db: Database,
        now: Callable[[], datetime],
        *,
        extra: Sequence[Collector] = (),
        token: str | None = None,
    ) -> None:
        self.database = DatabaseCollector(db, now)
        self.extra = list(extra)
        self.token = token

    def render(self) -> bytes:
        from prometheus_client import REGISTRY

        state = CollectorRegistry(auto_describe=False)
        state.register(self.database)
        for collector in self.extra:
            state.register(collector)
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            events = CollectorRegistry()
            multiprocess.MultiProcessCollector(events)
        else:
            events = REGISTRY
        return generate_latest(events) + generate_latest(state)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if self.token:
            given = environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                body = b"metrics need the bearer token\n"
                start_response(
                    "401 Unauthorized",
                    [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
                )
                return [body]
        body = self.render()
        start_response(
            "200 OK",
            [
                ("Content-Type", CONTENT_TYPE_LATEST),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]
