"""The web host of `chatbot serve`: one WSGI app on waitress (a production server) for every
platform. It serves `GET /healthz` (200 while the database answers), the dashboard and the public
report (`chatbot.web.dashboard`), and mounts each platform's endpoint beside them: Slack's
`POST /slack/events` today, Teams' `POST /api/messages` the same way later.

Limits hold for every route: a body over `MAX_BODY` is refused with 413 before anything reads
it (by waitress from `Content-Length`, or as a chunked body passes the cap; the host checks
again for any other server), and no body is ever logged."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from chatbot.db import Database
from chatbot.metrics import REQUEST_SECONDS, route_label

log = logging.getLogger(__name__)

# Slack's payloads are a few KB (a modal's state, a block_actions with its message); a few
# hundred KB leaves room for any of them.
MAX_BODY = 512 * 1024

Start = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], Start], Iterable[bytes]]


class BodyTooLarge(Exception):
    """The request's body is over the cap."""


def read_body(environ: dict[str, Any], limit: int = MAX_BODY) -> bytes:
    """The request body, refused (`BodyTooLarge`) once it passes `limit`: never more than
    `limit + 1` bytes are read. A missing or invalid Content-Length reads nothing."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise BodyTooLarge
    if length <= 0:
        return b""
    data = environ["wsgi.input"].read(length)
    if len(data) > limit:
        raise BodyTooLarge
    return data


def plain(start_response: Start, status: str, body: str) -> list[bytes]:
    """A short text answer."""
    data = body.encode()
    start_response(
        status,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [data]


@dataclass(frozen=True)
class Endpoint:
    """A platform's endpoint mounted on the host: `path`, the `methods` it takes, its app."""

    path: str
    app: WSGIApp
    methods: Sequence[str] = ("POST",)


class Host:
    """Routes a request to the health check, the metrics, a mounted platform endpoint, or the
    web pages. `checks` add to the health check: each returns a problem, or None when well
    (the Slack socket of `chatbot socket`)."""

    def __init__(
        self,
        db: Database,
        *,
        web: Any = None,
        endpoints: Sequence[Endpoint] = (),
        max_body: int = MAX_BODY,
        metrics: WSGIApp | None = None,
        checks: Sequence[Callable[[], str | None]] = (),
    ) -> None:
        self.db = db
        self.web = web  # chatbot.web.dashboard.Web, or None
        self.endpoints = {endpoint.path: endpoint for endpoint in endpoints}
        self.max_body = max_body
        self.metrics = metrics  # chatbot.metrics.Metrics: GET /metrics
        self.checks = list(checks)

    def __call__(self, environ: dict[str, Any], start_response: Start) -> Iterable[bytes]:
        started = time.perf_counter()
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        try:
            return self._route(path, method, environ, start_response)
        finally:
            # The time to the app's answer (every route returns its body whole).
            REQUEST_SECONDS.labels(route_label(path), method[:8]).observe(
                time.perf_counter() - started
            )

    def _route(
        self, path: str, method: str, environ: dict[str, Any], start_response: Start
    ) -> Iterable[bytes]:
        try:
            if int(environ.get("CONTENT_LENGTH") or 0) > self.max_body:
                return plain(start_response, "413 Content Too Large", "body too large\n")
        except ValueError:
            return plain(start_response, "400 Bad Request", "bad Content-Length\n")
        endpoint = self.endpoints.get(path)
        if endpoint is not None:
            if method not in endpoint.methods:
                allowed = ", ".join(endpoint.methods)
                return plain(start_response, "405 Method Not Allowed", f"{allowed} only\n")
            return endpoint.app(environ, start_response)
        if path == "/healthz" and method in ("GET", "HEAD"):
            return self.healthz(start_response)
        if path == "/metrics" and method in ("GET", "HEAD") and self.metrics is not None:
            return self.metrics(environ, start_response)
        if self.web is not None and self.web.handles(path):
            return self.web(environ, start_response)
        return plain(start_response, "404 Not Found", "not found\n")

    def healthz(self, start_response: Start) -> list[bytes]:
        try:
            with self.db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:
            log.warning("health check: database does not answer: %s", exc)
            return plain(start_response, "503 Service Unavailable", "database unavailable\n")
        for check in self.checks:
            problem = check()
            if problem:
                return plain(start_response, "503 Service Unavailable", problem + "\n")
        return plain(start_response, "200 OK", "ok\n")


def serve(
    app: WSGIApp,
    *,
    port: int,
    threads: int,
    host: str = "0.0.0.0",
    trusted_proxy: str | None = None,
    max_body: int = MAX_BODY,
) -> None:
    """Run `app` on waitress. With `trusted_proxy` (an address, or `*`), a request from it has
    its scheme from `X-Forwarded-Proto` and its client from `X-Forwarded-For`; from anyone else
    those headers are dropped before the app sees them."""
    import waitress

    proxy: dict[str, Any] = {}
    if trusted_proxy:
        proxy = {
            "trusted_proxy": trusted_proxy,
            "trusted_proxy_count": 1,
            "trusted_proxy_headers": {"x-forwarded-proto", "x-forwarded-for"},
        }
    log.info("listening on http://%s:%d", host, port)
    waitress.serve(
        app,
        host=host,
        port=port,
        threads=threads,
        connection_limit=1000,
        channel_timeout=30,
        max_request_body_size=max_body,
        clear_untrusted_proxy_headers=True,
        ident="techhelp",
        **proxy,
    )


def serve_in_background(app: WSGIApp, *, port: int, threads: int, host: str = "0.0.0.0") -> Any:
    """Run `app` on waitress in a daemon thread (a process whose main work is elsewhere:
    `chatbot socket`'s health check and metrics). Returns the server: `close()` stops it."""
    import threading

    import waitress.server

    server = waitress.server.create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        channel_timeout=30,
        max_request_body_size=MAX_BODY,
        ident="techhelp",
    )
    log.info("health and metrics on http://%s:%d", host, port)
    threading.Thread(target=server.run, name="health-server", daemon=True).start()
    return server
