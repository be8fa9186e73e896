"""`chatbot socket`: the Bolt app over Slack's Socket Mode, kept connected for production.

Why not slack_sdk's own clients. The built-in one (`SocketModeHandler`'s default) handles
Slack's `disconnect` message on its one message thread: it opens the new connection, then
closes the old one there, and that close waits for the old connection's reader to give up its
lock (a 3 s read time-out): every ack in the meantime waits, so commands and clicks sent during
each refresh miss Slack's 3 s limit. After a drop it notices only at its next state check and
then retries the same URL; an ack whose connection died is lost. The `websocket_client` one
had the same stale-URL loop (python-slack-sdk #1379, #1462); the `websockets` and `aiohttp` ones
are asyncio clients for Bolt's `AsyncApp` (and the aiohttp one could end in a broken state
after a failed refresh, #1446), while this app is the synchronous `App` shared with the HTTP
server. So this module keeps the connections itself, on the `websockets` library's threading
client (one reader thread per connection, thread-safe sends, keepalive pings):

- each connection is opened with a new URL from `apps.connections.open` (Slack's URLs are for
  one connection) and is live once Slack's `hello` arrives;
- on `disconnect` (`refresh_requested`, `warning`, ...) a new connection is opened beside the
  old one, which keeps reading and acking until the new one is live, and is then closed in the
  background: no moment without a connection, nothing waits on the close;
- a connection that drops (closed, reset, keepalive ping unanswered) is replaced at once,
  retrying with backoff while Slack refuses; the same backoff retries the first connection at
  start, so a Slack outage at deploy time is waited out instead of exiting;
- an ack goes on the connection its envelope came on while that is open, else on whichever is
  live, waiting a moment for the new one: the envelope in flight during a drop is still acked;
- `health()` says whether a connection is live, for `/healthz` and `/metrics`.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from chatbot import metrics

log = logging.getLogger(__name__)

# Seconds between attempts to connect while Slack refuses (then the last, with jitter).
BACKOFF = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
HELLO_TIMEOUT = 10.0  # Slack's `hello` follows the handshake at once
ACK_PATIENCE = 10.0  # seconds an ack waits for a connection (Slack retries events after 3)


@dataclass(frozen=True)
class Health:
    """The socket's state for an operator."""

    connected: bool
    connections: int  # open WebSocket connections (two during a refresh)
    since: float | None  # time.time() the live connection opened, or the socket went down
    reconnects: int
    last_error: str | None

    def problem(self) -> str | None:
        """Why the socket is unhealthy, or None."""
        if self.connected:
            return None
        detail = f": {self.last_error}" if self.last_error else ""
        return f"Slack socket not connected{detail}"


class _Link:
    """One WebSocket connection to Slack, read by its own thread."""

    def __init__(self, runner: SocketModeRunner, number: int, ws: ClientConnection) -> None:
        self.runner = runner
        self.number = number
        self.ws = ws
        self.opened = time.time()
        self.hello = threading.Event()
        self.closed = threading.Event()
        self.leaving = False  # Slack asked to move off it
        self.thread = threading.Thread(target=self._read, name=f"slack-socket-{number}")
        self.thread.daemon = True

    def __repr__(self) -> str:
        return f"connection {self.number}"

    def _read(self) -> None:
        reason = "closed"
        try:
            for raw in self.ws:
                self.runner._received(self, raw)
        except ConnectionClosed as exc:
            reason = f"dropped ({exc})"
        except Exception as exc:
            reason = f"failed ({exc!r})"
            log.exception("Slack socket %s: reading failed", self.number)
        finally:
            self.closed.set()
            self.runner._lost(self, reason)

    def send(self, text: str) -> None:
        self.ws.send(text)

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            log.debug("closing Slack socket %s", self.number, exc_info=True)


class SocketModeRunner:
    """Keeps `app` connected to Slack over Socket Mode; `run()` blocks until `stop()`."""

    def __init__(
        self,
        app: App,
        *,
        app_token: str,
        client: WebClient,
        workers: int = 16,
        ping_interval: float = 3.0,
        ping_timeout: float = 3.0,
        backoff: tuple[float, ...] = BACKOFF,
    ) -> None:
        self.app = app
        self.app_token = app_token
        self.client = client
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.backoff = backoff
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-envelope")
        self._state = threading.Condition()
        self._links: list[_Link] = []
        self._live: _Link | None = None
        self._connecting = False
        self._stopping = threading.Event()
        self._numbers = itertools.count(1)
        self._since: float | None = None
        self._reconnects = 0
        self._last_error: str | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def run(self) -> None:
        """Connect (retrying with backoff while Slack refuses), then keep connected until
        `stop()`."""
        self._reconnect("start")
        self._stopping.wait()

    def stop(self, timeout: float = 10) -> None:
        """Finish the envelopes in hand (their acks go out on the open connections), then
        close every connection."""
        self._stopping.set()
        self.pool.shutdown(wait=True, cancel_futures=False)
        with self._state:
            links, self._live = list(self._links), None
        for link in links:
            link.close()
        for link in links:
            link.thread.join(timeout)

    def health(self) -> Health:
        with self._state:
            return Health(
                connected=self._live is not None,
                connections=sum(not link.closed.is_set() for link in self._links),
                since=self._since,
                reconnects=self._reconnects,
                last_error=self._last_error,
            )

    # --- connecting --------------------------------------------------------------------------

    def _reconnect(self, why: str) -> None:
        """Open a new connection in the background, unless one is being opened already."""
        with self._state:
            if self._connecting or self._stopping.is_set():
                return
            self._connecting = True
        threading.Thread(
            target=self._connect_until_live, args=(why,), name="slack-socket-connect", daemon=True
        ).start()

    def _connect_until_live(self, why: str) -> None:
        try:
            for attempt in itertools.count():
                if self._stopping.is_set():
                    return
                try:
                    link = self._open()
                except Exception as exc:
                    metrics.SOCKET_CONNECT_FAILURES.inc()
                    with self._state:
                        self._last_error = f"{type(exc).__name__}: {exc}"[:300]
                    delay = self.backoff[min(attempt + 1, len(self.backoff) - 1)]
                    delay *= random.uniform(0.8, 1.2)
                    log.warning(
                        "Slack socket: could not connect (%s: %s); trying again in %.1f s",
                        type(exc).__name__,
                        " ".join(str(exc).split()),
                        delay,
                    )
                    self._stopping.wait(delay)
                    continue
                self._went_live(link, why)
                return
        finally:
            with self._state:
                self._connecting = False
                stranded = self._live is None and not self._stopping.is_set()
            if stranded:  # the new connection dropped before this thread let go
                self._reconnect("dropped")

    def _open(self) -> _Link:
        response = self.client.apps_connections_open(app_token=self.app_token)
        url = str(response["url"])
        ws = connect(
            url,
            open_timeout=HELLO_TIMEOUT,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            close_timeout=1,
            max_size=2**23,
            compression=None,
        )
        link = _Link(self, next(self._numbers), ws)
        with self._state:
            self._links.append(link)
        link.thread.start()
        if not link.hello.wait(HELLO_TIMEOUT) or link.closed.is_set():
            link.close()
            raise ConnectionError("Slack sent no hello")
        return link

    def _went_live(self, link: _Link, why: str) -> None:
        with self._state:
            if link.closed.is_set():
                return
            first = self._since is None
            self._live = link
            self._since = link.opened
            self._last_error = None
            leaving = [old for old in self._links if old is not link and old.leaving]
            if not first:
                self._reconnects += 1
            self._state.notify_all()
        if not first:
            metrics.SOCKET_RECONNECTS.labels(why).inc()
        log.info("Slack socket %s connected (%s)", link.number, why)
        for old in leaving:  # in the background: nothing waits on a close
            threading.Thread(target=old.close, name="slack-socket-close", daemon=True).start()

    def _lost(self, link: _Link, reason: str) -> None:
        with self._state:
            if link in self._links:
                self._links.remove(link)
            was_live = self._live is link
            if was_live:
                others = [o for o in self._links if o.hello.is_set() and not o.leaving]
                self._live = others[-1] if others else None
                if self._live is None:
                    self._since = time.time()
                    self._last_error = f"connection {reason}"
            self._state.notify_all()
        if self._stopping.is_set():
            return
        if was_live or not self._links:
            log.warning("Slack socket %s %s; reconnecting", link.number, reason)
            self._reconnect("dropped")

    # --- messages ----------------------------------------------------------------------------

    def _received(self, link: _Link, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            log.warning("Slack socket %s: a message that is not JSON", link.number)
            return
        if not isinstance(message, dict):
            return
        kind = message.get("type")
        if kind == "hello":
            link.hello.set()
        elif kind == "disconnect":
            reason = str(message.get("reason") or "disconnect")
            log.info("Slack socket %s: Slack asks to reconnect (%s)", link.number, reason)
            link.leaving = True
            self._reconnect(reason)
        elif message.get("envelope_id"):
            if self._stopping.is_set():
                return  # not acked: Slack sends it again (events) or the user retries
            self.pool.submit(self._dispatch, link, message, time.monotonic())

    def _dispatch(self, link: _Link, envelope: dict[str, Any], received: float) -> None:
        envelope_id = str(envelope["envelope_id"])
        payload = envelope.get("payload") or {}
        headers: dict[str, str | Sequence[str]] = {}
        if envelope.get("retry_attempt") is not None:
            headers["x-slack-retry-num"] = str(envelope["retry_attempt"])
        if envelope.get("retry_reason") is not None:
            headers["x-slack-retry-reason"] = str(envelope["retry_reason"])
        try:
            response = self.app.dispatch(
                BoltRequest(mode="socket_mode", body=payload, headers=headers or None)
            )
        except Exception:
            log.exception("Slack socket: envelope %s failed", envelope_id)
            return
        if response.status != 200:  # as Bolt's own adapter: no ack, Slack retries an event
            log.info("Slack socket: no ack (Bolt answered %s)", response.status)
            return
        ack: dict[str, Any] = {"envelope_id": envelope_id}
        if response.body:
            content_type = (response.headers.get("content-type") or [""])[0]
            if content_type.startswith("application/json"):
                ack["payload"] = json.loads(response.body)
            else:
                ack["payload"] = {"text": response.body}
        self._ack(link, json.dumps(ack), received)

    def _ack(self, origin: _Link, text: str, received: float) -> None:
        """Send an ack on its envelope's connection while that is open, else on the live
        one, waiting up to `ACK_PATIENCE` for one to be live."""
        deadline = received + ACK_PATIENCE
        link: _Link | None = origin
        while True:
            if link is None or link.closed.is_set():
                link = self._wait_live(deadline)
            if link is None:
                metrics.SOCKET_ACKS.labels("lost").inc()
                log.warning("Slack socket: an ack found no connection within %.0f s", ACK_PATIENCE)
                return
            try:
                link.send(text)
            except ConnectionClosed:
                link = None  # dropped meanwhile: the next live connection takes it
                continue
            metrics.SOCKET_ACKS.labels("sent").inc()
            metrics.SOCKET_ACK_SECONDS.observe(time.monotonic() - received)
            return

    def _wait_live(self, deadline: float) -> _Link | None:
        with self._state:
            while True:
                live = self._live
                if live is not None and not live.closed.is_set():
                    return live
                left = deadline - time.monotonic()
                if left <= 0 or self._stopping.is_set() and not self._links:
                    return None
                self._state.wait(min(left, 0.5))


class SocketCollector(Collector):
    """The socket's state as gauges, read at scrape time."""

    def __init__(self, runner: SocketModeRunner) -> None:
        self.runner = runner

    def collect(self) -> Iterator[Metric]:
        health = self.runner.health()
        yield GaugeMetricFamily(
            "techhelp_socket_connected",
            "1 while a Socket Mode connection to Slack is live.",
            value=1 if health.connected else 0,
        )
        yield GaugeMetricFamily(
            "techhelp_socket_connections",
            "Open Socket Mode connections (two while Slack rotates one).",
            value=health.connections,
        )
