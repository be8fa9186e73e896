"""A fake Slack Socket Mode service: a real WebSocket server on 127.0.0.1, modelled on the mock
server of slack_sdk's own Socket Mode tests (hello on connect, envelopes out, acks back by
`envelope_id`, `disconnect` messages), with what those tests leave out and production meets:

- `apps.connections.open` (answered by `FakeSlack` when `fake_slack.socket_mode` is set) issues a
  one-time URL, as Slack does: a client that reconnects to a URL it used before is refused, so a
  reconnect must ask for a new one;
- `refresh(reason)` sends Slack's `disconnect` message (`refresh_requested`, `warning`) on every
  open connection and closes it cleanly `close_after` seconds later, as Slack does when it
  rotates its servers;
- `drop()` cuts every open connection without a closing handshake (a server dying, a load
  balancer resetting): the client learns it only from the socket;
- `blackhole()` silences every open connection without closing it (a network partition: the
  clients reach Slack through a relay in the fake, which from then on passes nothing either
  way): only the client's own keepalive can notice;
- every ack is recorded with the time it arrived and the connection it came on, so a test
  measures the time from an envelope leaving to its ack, through reconnects.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

HELLO = {
    "type": "hello",
    "num_connections": 1,
    "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
    "connection_info": {"app_id": "A0TEST"},
}


@dataclass
class Link:
    """One client connection as the server sees it."""

    number: int
    connection: ServerConnection
    opened: float = field(default_factory=time.monotonic)
    closed: float | None = None

    @property
    def open(self) -> bool:
        return self.closed is None


@dataclass
class Ack:
    envelope_id: str
    link: int  # the connection it came on
    at: float  # time.monotonic()
    payload: dict[str, Any] | None


@dataclass
class Sent:
    envelope_id: str
    link: int
    at: float


class FakeSocketMode:
    """Start with `start()`, stop with `stop()`; give `url()` to the fake Web API. Every public
    method is safe from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._tickets: dict[str, bool] = {}  # ticket -> used
        self.links: list[Link] = []
        self.acks: dict[str, list[Ack]] = {}
        self.sent: dict[str, Sent] = {}
        self.refused: list[str] = []  # tickets refused (reused or unknown)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._relay = _Relay(self)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeSocketMode:
        self._server = serve(
            self._serve,
            "127.0.0.1",
            0,
            process_request=self._check_ticket,
            ping_interval=None,  # the client keeps the connection alive, as with Slack
            compression=None,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-socket-mode", daemon=True
        )
        self._thread.start()
        self._relay.start()
        return self

    def stop(self) -> None:
        self._relay.stop()
        self.drop()
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(5)

    @property
    def port(self) -> int:
        assert self._server is not None, "FakeSocketMode is not started"
        return int(self._server.socket.getsockname()[1])

    def issue_url(self) -> str:
        """A new one-time WebSocket URL (what `apps.connections.open` answers)."""
        ticket = uuid.uuid4().hex
        with self._lock:
            self._tickets[ticket] = False
        return f"ws://127.0.0.1:{self._relay.port}/link/?ticket={ticket}"

    # --- what Slack does ---------------------------------------------------------------------

    def send(
        self, kind: str, payload: dict[str, Any], *, accepts_response_payload: bool = False
    ) -> str:
        """An envelope on the newest open connection; returns its `envelope_id`."""
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if kind == "events_api":
            envelope |= {"retry_attempt": 0, "retry_reason": ""}
        link = self.newest()
        assert link is not None, "no open Socket Mode connection"
        with self._lock:
            self.sent[envelope_id] = Sent(envelope_id, link.number, time.monotonic())
        link.connection.send(json.dumps(envelope))
        return envelope_id

    def command(self, text: str, *, user: str = "UALICE", command: str = "/techhelp") -> str:
        """A slash command envelope, as Slack sends one over Socket Mode."""
        payload = {
            "token": "legacy",
            "team_id": "T0TEST",
            "team_domain": "test",
            "channel_id": "CGENERAL",
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0TEST",
            "is_enterprise_install": "false",
            "response_url": "https://hooks.slack.invalid/commands/T0TEST/1/x",
            "trigger_id": f"trig-{uuid.uuid4()}",
        }
        return self.send("slash_commands", payload, accepts_response_payload=True)

    def refresh(self, reason: str = "refresh_requested", *, close_after: float = 5.0) -> None:
        """Slack's `disconnect` message on every open connection; each is closed cleanly
        `close_after` seconds later (unless the client closed it first)."""
        message = json.dumps(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
        )
        for link in self.open_links():
            with suppress(ConnectionClosed):
                link.connection.send(message)
            timer = threading.Timer(close_after, self._close, args=(link,))
            timer.daemon = True
            timer.start()

    def drop(self) -> None:
        """Cut every open connection at once, without a closing handshake."""
        for link in self.open_links():
            with suppress(OSError):
                link.connection.socket.shutdown(socket.SHUT_RDWR)

    def blackhole(self) -> None:
        """From now on the open connections pass nothing either way, and stay open."""
        self._relay.silence()

    # --- what a test reads -------------------------------------------------------------------

    def open_links(self) -> list[Link]:
        with self._lock:
            return [link for link in self.links if link.open]

    def newest(self) -> Link | None:
        links = self.open_links()
        return links[-1] if links else None

    def wait_links(self, count: int, timeout: float = 30) -> Link:
        """Wait until `count` connections have been opened in all; returns the last."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.links) >= count, timeout):
                raise AssertionError(f"{len(self.links)} connections opened, expected {count}")
            return self.links[count - 1]

    def wait_ack(self, envelope_id: str, timeout: float = 10) -> Ack:
        with self._lock:
            if not self._lock.wait_for(lambda: envelope_id in self.acks, timeout):
                raise AssertionError(f"no ack for envelope {envelope_id} within {timeout} s")
            return self.acks[envelope_id][0]

    def ack_seconds(self, envelope_id: str, timeout: float = 10) -> float:
        """Seconds from the envelope leaving to its ack arriving."""
        ack = self.wait_ack(envelope_id, timeout)
        return ack.at - self.sent[envelope_id].at

    # --- the server --------------------------------------------------------------------------

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query)
        ticket = (query.get("ticket") or [""])[0]
        with self._lock:
            if self._tickets.get(ticket) is not False:
                self.refused.append(ticket)
                return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid or used ticket\n")
            self._tickets[ticket] = True
        return None

    def _serve(self, connection: ServerConnection) -> None:
        with self._lock:
            link = Link(len(self.links) + 1, connection)
            self.links.append(link)
            self._lock.notify_all()
        try:
            connection.send(json.dumps(HELLO))
            for raw in connection:
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(message, dict) and "envelope_id" in message:
                    ack = Ack(
                        str(message["envelope_id"]),
                        link.number,
                        time.monotonic(),
                        message.get("payload"),
                    )
                    with self._lock:
                        self.acks.setdefault(ack.envelope_id, []).append(ack)
                        self._lock.notify_all()
        except (ConnectionClosed, OSError):
            pass
        finally:
            with self._lock:
                link.closed = time.monotonic()
                self._lock.notify_all()

    def _close(self, link: Link) -> None:
        if link.open:
            with suppress(Exception):
                link.connection.close()


class _Relay:
    """A TCP relay in front of the server: the clients connect through it, so a test can
    silence their connections (`silence`) as a partition would, without a close or a reset."""

    def __init__(self, fake: FakeSocketMode) -> None:
        self.fake = fake
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._pairs: list[tuple[socket.socket, socket.socket, threading.Event]] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def start(self) -> None:
        threading.Thread(target=self._accept, name="fake-socket-relay", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()
        with suppress(OSError):
            self._listener.close()
        with self._lock:
            pairs = list(self._pairs)
        for client, upstream, _ in pairs:
            for sock in (client, upstream):
                with suppress(OSError):
                    sock.close()

    def silence(self) -> None:
        with self._lock:
            for _, _, silent in self._pairs:
                silent.set()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.fake.port))
            silent = threading.Event()
            with self._lock:
                self._pairs.append((client, upstream, silent))
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pump, args=(source, target, silent), daemon=True
                ).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket, silent: threading.Event) -> None:
        try:
            while data := source.recv(65536):
                if not silent.is_set():
                    target.sendall(data)
        except OSError:
            pass
        finally:
            if not silent.is_set():  # a silenced connection passes on no close either
                with suppress(OSError):
                    target.shutdown(socket.SHUT_RDWR)
