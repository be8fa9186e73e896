"""`chatbot serve`: a WSGI app on waitress (a production server; Bolt's own is for development).

Routes: POST /slack/events (Bolt, signature checked), GET /healthz (200 when the database
answers), and the web pages of `chatbot.web.dashboard`: /dashboard (token or sign-in) and the
public /report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import text

from chatbot.db import Database
from chatbot.web.dashboard import Web

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _plain(start_response: Callable[..., Any], status: str, body: str) -> list[bytes]:
    data = body.encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))]
    )
    return [data]


def make_wsgi(slack: SlackRequestHandler, db: Database, web: Web | None = None) -> WSGIApp:
    def healthz(start_response: Callable[..., Any]) -> list[bytes]:
        try:
            with db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:
            log.warning("health check: database does not answer: %s", exc)
            return _plain(start_response, "503 Service Unavailable", "database unavailable\n")
        return _plain(start_response, "200 OK", "ok\n")

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == "/slack/events":
            if method != "POST":
                return _plain(start_response, "405 Method Not Allowed", "POST only\n")
            return slack(environ, start_response)
        if path == "/healthz" and method in ("GET", "HEAD"):
            return healthz(start_response)
        if web is not None and web.handles(path):
            return web(environ, start_response)
        return _plain(start_response, "404 Not Found", "not found\n")

    return app


def serve(app: WSGIApp, *, port: int, threads: int, host: str = "0.0.0.0") -> None:
    import waitress

    log.info("listening on http://%s:%d", host, port)
    waitress.serve(
        app,
        host=host,
        port=port,
        threads=threads,
        connection_limit=1000,
        channel_timeout=30,
        ident="techhelp",
    )
