"""How the dashboard's routes answer: the security headers every response carries, and the
base its parts share (settings, database, clock, templates).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import Environment

from chatbot.clock import Clock
from chatbot.config import Settings
from chatbot.db import Database

Start = Callable[..., Any]

SECURITY_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
]


class Responses:
    """What the dashboard's parts share: the process's settings, database, clock and HTML
    templates (set by `Web.__init__`), and the responses they answer with."""

    settings: Settings
    db: Database
    clock: Clock
    env: Environment

    def _send(
        self,
        start_response: Start,
        status: str,
        data: bytes,
        content_type: str,
        extra: list[tuple[str, str]] | None = None,
        *,
        cache: bool = False,
    ) -> list[bytes]:
        headers = [
            ("Content-Type", content_type),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "public, max-age=3600" if cache else "no-store"),
            *SECURITY_HEADERS,
            *(extra or []),
        ]
        start_response(status, headers)
        return [data]

    def _html(
        self,
        start_response: Start,
        status: str,
        page: str,
        extra: list[tuple[str, str]] | None = None,
        *,
        cache: bool = False,
    ) -> list[bytes]:
        return self._send(
            start_response, status, page.encode(), "text/html; charset=utf-8", extra, cache=cache
        )

    def _text(
        self,
        start_response: Start,
        status: str,
        body: str,
        extra: list[tuple[str, str]] | None = None,
    ) -> list[bytes]:
        return self._send(start_response, status, body.encode(), "text/plain; charset=utf-8", extra)

    def _redirect(
        self, start_response: Start, location: str, extra: list[tuple[str, str]]
    ) -> list[bytes]:
        return self._send(
            start_response, "303 See Other", b"", "text/plain", [("Location", location), *extra]
        )
