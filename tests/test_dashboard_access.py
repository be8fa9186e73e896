"""Who gets into the dashboard, through `chatbot serve` (a real process for the weak token): a
strong token or no start, sign-in throttled per client and overall, a sign-out that ends the
session, and `Secure` cookies behind a trusted HTTPS proxy (and only a trusted one)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx

from tests.conftest import DASHBOARD_TOKEN, Server, free_port, http_get, http_post, sqlite_only

PROXY = {"TECHHELP_TRUSTED_PROXY": "127.0.0.1"}


def _sign_in(server: Server, token: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return http_post(
        server.url + "/dashboard/signin",
        data={"token": token, "next": "/dashboard"},
        headers=headers or {},
        timeout=10,
        follow_redirects=False,
    )


def _as(client: str, **more: str) -> dict[str, str]:
    """A request that the trusted proxy forwarded from `client`."""
    return {"X-Forwarded-For": client, **more}


@sqlite_only("serve stops on its settings, before it opens the database")
def test_a_weak_token_stops_serve_naming_the_variable(make_server: Any) -> None:
    started = {}
    for weak in ("ab", "dash-token-5b8e1c", "a" * 40, "abab" * 10):  # at once: each is a process
        server = make_server(TECHHELP_DASHBOARD_TOKEN=weak)
        env = {**server.env, "PORT": str(free_port())}
        started[weak] = subprocess.Popen(
            [sys.executable, "-m", "chatbot.cli", "serve"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    for weak, process in started.items():
        try:
            _, stderr = process.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise AssertionError(f"serve started with the weak token {weak!r}") from None
        assert process.returncode != 0, weak
        assert "TECHHELP_DASHBOARD_TOKEN" in stderr, stderr
        assert weak not in stderr  # the message does not echo the secret


@sqlite_only("the throttle counts guesses in memory; a sign-in stores a plain row")
def test_sign_in_is_throttled_per_client_and_overall(make_server: Any) -> None:
    server = make_server(TECHHELP_DASHBOARD_TOKEN=DASHBOARD_TOKEN, **PROXY).start()
    statuses = [_sign_in(server, f"guess-{i}", _as("10.0.0.1")).status_code for i in range(30)]
    assert statuses[0] == 401
    assert 429 in statuses and statuses[-1] == 429
    refused = _sign_in(server, DASHBOARD_TOKEN, _as("10.0.0.1"))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "set-cookie" not in refused.headers
    # Guessing by the Bearer header counts too.
    bearer = http_get(
        server.url + "/dashboard",
        headers=_as("10.0.0.1", Authorization="Bearer guess"),
        timeout=10,
    )
    assert bearer.status_code == 429
    # Another client still gets in.
    assert _sign_in(server, DASHBOARD_TOKEN, _as("10.0.0.2")).status_code == 303
    # Guesses spread over many clients meet the overall limit.
    for i in range(300):
        last = _sign_in(server, "guess", _as(f"10.1.{i // 250}.{i % 250}"))
        if last.status_code == 429:
            break
    assert last.status_code == 429, "no overall limit after 300 guesses from 300 clients"
    assert _sign_in(server, DASHBOARD_TOKEN, _as("10.9.9.9")).status_code == 429


def test_sign_out_ends_the_session(make_server: Any) -> None:
    server = make_server(TECHHELP_DASHBOARD_TOKEN=DASHBOARD_TOKEN).start()
    signed = _sign_in(server, DASHBOARD_TOKEN)
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"].split(";", 1)[0]
    assert http_get(server.url + "/dashboard", headers={"Cookie": cookie}).status_code == 200
    # A second session, from another browser, is not ended by the first one's sign-out.
    other = _sign_in(server, DASHBOARD_TOKEN).headers["set-cookie"].split(";", 1)[0]
    out = http_post(server.url + "/dashboard/signout", headers={"Cookie": cookie})
    assert out.status_code == 303
    # The old cookie, replayed (a copy kept by someone else), no longer opens anything.
    assert http_get(server.url + "/dashboard", headers={"Cookie": cookie}).status_code == 401
    csv = http_get(server.url + "/dashboard/csv/overdue.csv", headers={"Cookie": cookie})
    assert csv.status_code == 401
    assert http_get(server.url + "/dashboard", headers={"Cookie": other}).status_code == 200


def test_secure_cookie_behind_a_trusted_https_proxy_only(make_server: Any) -> None:
    https = {"X-Forwarded-Proto": "https"}
    trusted = make_server(TECHHELP_DASHBOARD_TOKEN=DASHBOARD_TOKEN, **PROXY).start()
    cookie = _sign_in(trusted, DASHBOARD_TOKEN, https).headers["set-cookie"]
    assert "Secure" in cookie.split("; ")
    plain = _sign_in(trusted, DASHBOARD_TOKEN).headers["set-cookie"]
    assert "Secure" not in plain.split("; ")
    trusted.stop()
    # Without a trusted proxy the header is anyone's to send: it is ignored.
    untrusted = make_server(TECHHELP_DASHBOARD_TOKEN=DASHBOARD_TOKEN).start()
    cookie = _sign_in(untrusted, DASHBOARD_TOKEN, https).headers["set-cookie"]
    assert "Secure" not in cookie.split("; ")
