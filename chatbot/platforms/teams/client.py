"""The bot's side of the Bot Connector: its client-credentials token (MSAL) and the REST calls
(httpx, pooled keep-alive connections), paced below Teams' limits.

The token: MSAL's `ConfidentialClientApplication` for the authority `{login endpoint}/{tenant}`
and the cloud's bot scope (`TEAMS_CLOUD`; `TEAMS_LOGIN_ENDPOINT` overrides the endpoint, and then
MSAL does no instance discovery against Microsoft's own hosts). MSAL caches the token and
renews it before it expires. Calls never retry by themselves: a blind retry of a post after a
time-out can post twice; retrying is the outbox's job.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx

from chatbot import metrics
from chatbot.config import Settings
from chatbot.delivery import Pacer, SharedPacer

log = logging.getLogger(__name__)

# Teams: 50 requests per second per app per tenant; kept a little under, so that the bot's and
# Teams' clocks never disagree into a 429.
TENANT_RATE = 48.0
# Teams' per-conversation limits for a bot's sends ("about 7 in 1 s, 8 in 2 s, 60 in 30 s");
# kept a little under each, for the same reason.
CONVERSATION_WINDOWS = ((1.0, 6), (2.0, 7), (30.0, 57))


class TeamsCallError(Exception):
    def __init__(
        self, what: str, status: int, detail: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(f"{what}: {status} {detail}".strip())
        self.status, self.detail, self.retry_after = status, detail, retry_after


class BotToken:
    """The bot's access token for the Bot Connector, from MSAL (cached, renewed by MSAL)."""

    def __init__(self, settings: Settings) -> None:
        import msal

        cloud = settings.teams_cloud_environment()
        self.scope = cloud.bot_scope
        self.app = msal.ConfidentialClientApplication(
            settings.teams_client_id,
            client_credential=settings.teams_client_secret,
            authority=f"{cloud.login_endpoint}/{settings.teams_tenant_id}",
            # An overridden endpoint is not one of Microsoft's known hosts: no discovery call.
            instance_discovery=not settings.teams_login_endpoint,
        )
        self.lock = threading.Lock()

    def __call__(self) -> str:
        with self.lock:  # one fetch when many sending threads find the token expired at once
            result = self.app.acquire_token_for_client(scopes=[self.scope])
        token = result.get("access_token") if isinstance(result, dict) else None
        if not token:
            error = (result or {}).get("error", "no token") if isinstance(result, dict) else ""
            raise TeamsCallError("token", 401, str(error))
        return str(token)


class ConversationLimits:
    """Teams' per-conversation limits: how long to wait before the next send to one."""

    def __init__(self, windows: tuple[tuple[float, int], ...] = CONVERSATION_WINDOWS) -> None:
        self.windows = windows
        self.longest = max(seconds for seconds, _ in windows)
        self.sent: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def wait(self, conversation: str, now: float) -> float:
        """Seconds until a send to `conversation` keeps every window; 0 records the send."""
        with self.lock:
            times = self.sent.setdefault(conversation, deque())
            while times and now - times[0] > self.longest:
                times.popleft()
            wait = 0.0
            for seconds, most in self.windows:
                recent = [t for t in times if now - t < seconds]
                if len(recent) >= most:
                    wait = max(wait, recent[-most] + seconds - now)
            if wait <= 0:
                times.append(now)
            if not times:
                del self.sent[conversation]
            return max(wait, 0.0)


class Connector:
    """Bot Connector REST calls with the bot's token, every call paced to the tenant's rate
    (a token bucket shared by the sending threads) and held back while Teams asked to wait."""

    def __init__(
        self,
        token: Callable[[], str],
        *,
        timeout: float = 15,
        rate: float = TENANT_RATE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        pacer: Pacer | SharedPacer | None = None,
    ) -> None:
        """`pacer`: the tenant's budget shared with other processes (`SharedPacer`); without,
        this process paces itself to `rate`."""
        self.token = token
        self.client = httpx.Client(
            timeout=timeout,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
            transport=transport,
        )
        self.pacer = pacer or Pacer(rate, clock=clock, sleep=sleep)
        self.clock, self.sleep = clock, sleep
        self.blocked_until = 0.0  # a tenant-wide 429's Retry-After
        self.lock = threading.Lock()

    def blocked_for(self) -> float:
        with self.lock:
            return max(0.0, self.blocked_until - self.clock())

    def block(self, seconds: float) -> None:
        with self.lock:
            self.blocked_until = max(self.blocked_until, self.clock() + seconds)

    def call(self, method: str, url: str, *, json: dict[str, Any] | None = None) -> dict[str, Any]:
        """One call; the answer's JSON, or `TeamsCallError` (status, Retry-After)."""
        self.pacer.acquire()
        response = self.client.request(
            method, url, json=json, headers={"Authorization": f"Bearer {self.token()}"}
        )
        if response.status_code >= 400:
            if response.status_code == 429:
                metrics.RATE_LIMITED.labels("teams").inc()
            retry_after = _seconds(response.headers.get("Retry-After"))
            detail = _detail(response)
            raise TeamsCallError(
                f"{method} {_path(url)}", response.status_code, detail, retry_after
            )
        if not response.content:
            return {}
        try:
            body = response.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def close(self) -> None:
        self.client.close()


def endpoint(service_url: str, path: str) -> str:
    """`{serviceUrl}/v3/…`, whether or not the stored service URL ends with a slash."""
    return service_url.rstrip("/") + "/" + path.lstrip("/")


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _detail(response: httpx.Response) -> str:
    try:
        error = response.json().get("error") or {}
        return str(error.get("code") or error.get("message") or "")[:200]
    except (ValueError, AttributeError):
        return ""


def _path(url: str) -> str:
    """A URL for a log line without its host (ids only, no tokens)."""
    return "/" + url.split("/v3/", 1)[-1] if "/v3/" in url else url
