"""Access to the dashboard: `TECHHELP_DASHBOARD_TOKEN` as a Bearer header, or typed once into the
sign-in form, which starts a server-side session named by a signed, expiring, HttpOnly cookie;
wrong tokens are throttled per client and overall.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any

from sqlalchemy import delete, select

from chatbot.db.models import Secret
from chatbot.web.dashboard.responses import Responses, Start

log = logging.getLogger(__name__)

COOKIE = "techhelp_dashboard"
SESSION_SECONDS = 12 * 3600
SESSION_PREFIX = "dashboard-session:"
# Wrong tokens (sign-in form or Bearer header) allowed per window, per client and overall
# (per process); past either, token checks answer 429 until the window has room again.
GUESSES_PER_CLIENT = 20
GUESSES_OVERALL = 100
GUESS_WINDOW = 15 * 60
MAX_FORM = 4096


class Throttle:
    """Failed token checks in a sliding window, per client and overall. `wait` is the number of
    seconds before the client may try again (0: now)."""

    def __init__(
        self,
        *,
        per_client: int = GUESSES_PER_CLIENT,
        overall: int = GUESSES_OVERALL,
        window: float = GUESS_WINDOW,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_client, self.overall, self.window, self.now = per_client, overall, window, now
        self.clients: dict[str, deque[float]] = {}
        self.everyone: deque[float] = deque()
        self.lock = threading.Lock()

    def wait(self, client: str) -> int:
        with self.lock:
            now = self.now()
            self._expire(now)
            waits = [
                times[0] + self.window - now
                for times, limit in (
                    (self.clients.get(client, deque()), self.per_client),
                    (self.everyone, self.overall),
                )
                if len(times) >= limit
            ]
            return max(1, int(max(waits)) + 1) if waits else 0

    def failed(self, client: str) -> None:
        with self.lock:
            now = self.now()
            self.clients.setdefault(client, deque()).append(now)
            self.everyone.append(now)

    def _expire(self, now: float) -> None:
        horizon = now - self.window
        while self.everyone and self.everyone[0] <= horizon:
            self.everyone.popleft()
        for client in [c for c, times in self.clients.items() if times[-1] <= horizon]:
            del self.clients[client]
        for times in self.clients.values():
            while times[0] <= horizon:
                times.popleft()


class Access(Responses):
    """Who may see the dashboard: the sign-in form, its sessions and cookies, throttled guesses."""

    throttle: Throttle

    def _session(self, environ: dict[str, Any], token: str) -> str | None:
        """The id of the live session the cookie names, or None."""
        cookies = SimpleCookie()
        try:
            cookies.load(environ.get("HTTP_COOKIE", ""))
        except Exception:
            return None
        morsel = cookies.get(COOKIE)
        if morsel is None:
            return None
        session, _, rest = morsel.value.partition(".")
        expires, _, signature = rest.partition(".")
        if not session or not expires.isdigit() or int(expires) < time.time():
            return None
        if not hmac.compare_digest(signature, _sign(token, f"{session}.{expires}")):
            return None
        with self.db.reading() as conn:
            stored = conn.execute(
                select(Secret.value).where(Secret.name == _session_key(session))
            ).scalar()
        return session if stored is not None and int(stored) >= time.time() else None

    def _start_session(self) -> tuple[str, str]:
        session, now = secrets.token_urlsafe(24), self.clock.now()
        expires = str(int(time.time()) + SESSION_SECONDS)
        with self.db.transaction() as tx:
            # Sessions past their end go as new ones start.
            tx.execute(
                delete(Secret).where(
                    Secret.name.startswith(SESSION_PREFIX), Secret.value < str(int(time.time()))
                )
            )
            tx.add(Secret(name=_session_key(session), value=expires, created_at=now))
        return session, expires

    def _end_session(self, session: str) -> None:
        with self.db.transaction() as tx:
            tx.execute(delete(Secret).where(Secret.name == _session_key(session)))

    def _throttled(self, start_response: Start, wait: int) -> list[bytes]:
        return self._text(
            start_response,
            "429 Too Many Requests",
            "too many wrong tokens: try again later\n",
            [("Retry-After", str(wait))],
        )

    def _cookie(self, value: str, environ: dict[str, Any], *, max_age: int) -> str:
        # The scheme the client used: waitress sets it from X-Forwarded-Proto only for a
        # request from TECHHELP_TRUSTED_PROXY, and drops that header from anyone else.
        secure = environ.get("wsgi.url_scheme") == "https"
        parts = [
            f"{COOKIE}={value}",
            "Path=/dashboard",
            f"Max-Age={max_age}",
            "HttpOnly",
            "SameSite=Strict",
        ]
        return "; ".join(parts + (["Secure"] if secure else []))

    def sign_in(self, environ: dict[str, Any], start_response: Start, token: str) -> list[bytes]:
        try:
            length = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_FORM)
        except ValueError:
            length = 0
        form = urllib.parse.parse_qs(environ["wsgi.input"].read(length).decode(errors="replace"))
        given = (form.get("token") or [""])[0].strip()
        next_url = _local((form.get("next") or ["/dashboard"])[0])
        client = environ.get("REMOTE_ADDR", "")
        wait = self.throttle.wait(client)
        if wait:
            log.warning("dashboard sign-in throttled for %s", client)
            return self._throttled(start_response, wait)
        if not hmac.compare_digest(given.encode(), token.encode()):
            self.throttle.failed(client)
            log.warning("dashboard sign-in refused from %s", client)
            return self._sign_in_page(
                start_response, "401 Unauthorized", next_url=next_url, error=True
            )
        session, expires = self._start_session()
        value = f"{session}.{expires}.{_sign(token, f'{session}.{expires}')}"
        headers = [("Set-Cookie", self._cookie(value, environ, max_age=SESSION_SECONDS))]
        return self._redirect(start_response, next_url, headers)

    def _sign_in_page(
        self, start_response: Start, status: str, *, next_url: str, error: bool = False
    ) -> list[bytes]:
        page = self.env.get_template("dashboard/signin.html.j2").render(
            next_url=_local(next_url), error=error
        )
        challenge = [("WWW-Authenticate", 'Bearer realm="techhelp-dashboard"')]
        return self._html(start_response, status, page, challenge if "401" in status else [])


def _sign(token: str, session: str) -> str:
    return hmac.new(token.encode(), f"dashboard:{session}".encode(), hashlib.sha256).hexdigest()


def _session_key(session: str) -> str:
    """The stored name of a session: a hash, so the table alone opens nothing."""
    return SESSION_PREFIX + hashlib.sha256(session.encode()).hexdigest()


def _local(url: str) -> str:
    """Only a path of the dashboard itself (no open redirect)."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme or parsed.netloc or not parsed.path.startswith("/dashboard"):
        return "/dashboard"
    return url
