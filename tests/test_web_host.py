"""The web host in-process: platform endpoints mounted side by side (Slack's, and a second one as
Teams' will be), the health check, and the body cap for every route."""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from chatbot.db import Database
from chatbot.web.host import MAX_BODY, Endpoint, Host, plain, read_body


def _call(app: Any, method: str, path: str, body: bytes = b"", **environ: str) -> tuple[str, bytes]:
    status: list[str] = []
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        **environ,
    }
    out = b"".join(app(env, lambda s, h, *_: status.append(s)))
    return status[0], out


def _echo(name: str) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return plain(start_response, "200 OK", f"{name}:{len(read_body(environ))}")

    return app


def test_endpoints_mount_beside_the_health_check(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'h.db'}")
    host = Host(
        db,
        endpoints=[
            Endpoint("/slack/events", _echo("slack")),
            Endpoint("/api/messages", _echo("teams")),
        ],
    )
    assert _call(host, "POST", "/slack/events", b"abc") == ("200 OK", b"slack:3")
    assert _call(host, "POST", "/api/messages", b"hello") == ("200 OK", b"teams:5")
    assert _call(host, "GET", "/api/messages")[0].startswith("405")
    assert _call(host, "GET", "/healthz") == ("200 OK", b"ok\n")
    assert _call(host, "GET", "/dashboard")[0].startswith("404")  # no web pages given
    # Over the cap: refused before the endpoint runs (it would read it).
    status, _ = _call(host, "POST", "/api/messages", CONTENT_LENGTH=str(MAX_BODY + 1))
    assert status.startswith("413")
    assert _call(host, "POST", "/slack/events", CONTENT_LENGTH="lots")[0].startswith("400")
    db.dispose()
