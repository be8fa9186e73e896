"""A fake Slack Web API: a real HTTP server on 127.0.0.1 that answers like Slack.

slack_sdk sends through urllib, so httpx mocks cannot intercept it; the bot reaches this server
through `SLACK_API_URL` exactly as it reaches Slack. It records every call with its parsed body,
validates every `blocks` and `view` with slack_sdk's models and Slack's limits, keeps state for the
methods the bot uses (messages, history with metadata, views, a paginated directory), and can be
scripted to answer 429 with Retry-After, 5xx, an outage, a stall, or a rate limit.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

T = TypeVar("T")
JSON_FIELDS = ("blocks", "view", "metadata", "attachments")
LIMITS = {"section": 3000, "header": 150, "button": 75, "value": 2000, "fields": 10}


@dataclass
class Call:
    method: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float = field(default_factory=time.time)
    status: int | None = None  # set when the fake answered with an HTTP error
    response: dict[str, Any] | None = None


@dataclass
class _Script:
    status: int
    count: int
    retry_after: float
    error: str


class _Bucket:
    def __init__(self, per_second: float, burst: int) -> None:
        self.rate, self.capacity = per_second, burst
        self.tokens, self.updated = float(burst), time.monotonic()

    def take(self) -> float:
        """0 when allowed, else seconds until the next token."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


def _dm(channel: str) -> str:
    return "D" + channel if channel[:1] in ("U", "W") else channel


def _truthy(value: Any) -> bool:
    return value in (True, "true", "1", 1, "True")


def block_problems(blocks: Any, max_blocks: int) -> list[str]:
    """What Slack would reject in a list of blocks (slack_sdk's validation plus limits)."""
    if not isinstance(blocks, list):
        return [f"blocks is not a list: {blocks!r:.80}"]
    problems = []
    if len(blocks) > max_blocks:
        problems.append(f"{len(blocks)} blocks (max {max_blocks})")
    try:
        for parsed in Block.parse_all(blocks):
            parsed.validate_json()
    except Exception as exc:
        problems.append(f"invalid block: {exc}")
    for raw in blocks:
        kind = raw.get("type")
        if kind == "section":
            text = (raw.get("text") or {}).get("text", "")
            if len(text) > LIMITS["section"]:
                problems.append(f"section text of {len(text)} characters")
            if len(raw.get("fields") or []) > LIMITS["fields"]:
                problems.append("more than 10 fields")
        if kind == "header" and len(raw["text"]["text"]) > LIMITS["header"]:
            problems.append("header text over 150")
        for element in raw.get("elements") or []:
            if element.get("type") == "button":
                if len(element["text"]["text"]) > LIMITS["button"]:
                    problems.append("button text over 75")
                if len(element.get("value", "")) > LIMITS["value"]:
                    problems.append("button value over 2000")
    return problems


class FakeSlack:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._history: dict[str, list[dict[str, Any]]] = {}
        self._posted: list[dict[str, Any]] = []
        self._ts = itertools.count(1)
        self._view_ids = itertools.count(1)
        self.errors: list[str] = []
        self.views: list[dict[str, Any]] = []
        self._homes: dict[str, dict[str, Any]] = {}
        self.users: list[dict[str, Any]] = []
        self._scripts: dict[str, list[_Script]] = {}
        self._stalls: dict[str, float] = {}
        self._stall_after_store: set[str] = set()
        self._released = threading.Event()
        self._buckets: dict[str, _Bucket] = {}
        self._outage = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Slack
            disable_nagle_algorithm = True
            wbufsize = 64 * 1024  # headers and body leave in one write

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                fake._serve(self)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that hangs up (a killed bot, a time-out) is expected here

        server = Server(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.request_queue_size = 1024
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._thread:
            self._thread.join(5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def response_url(self, key: str) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/response/{key}"

    # --- scripting ---------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int = 429,
        count: int = 1,
        retry_after: float = 1,
        error: str | None = None,
    ) -> None:
        default = "ratelimited" if status == 429 else "internal_error"
        with self._lock:
            self._scripts.setdefault(method, []).append(
                _Script(status, count, retry_after, error or default)
            )

    def outage(self) -> None:
        self._outage = True

    def restore(self) -> None:
        self._outage = False

    @contextmanager
    def outage_window(self) -> Iterator[None]:
        self.outage()
        try:
            yield
        finally:
            self.restore()

    def stall(self, method: str, seconds: float) -> None:
        self._stalls[method] = seconds

    def stall_after_store(self, method: str) -> None:
        """The call is processed (the message is posted) but its answer never comes back
        until `release()`: Slack got it, the sender never learns the ts."""
        self._released.clear()
        self._stall_after_store.add(method)

    def release(self) -> None:
        self._stall_after_store.clear()
        self._released.set()

    def rate_limit(self, method: str, per_second: float, burst: int = 1) -> None:
        self._buckets[method] = _Bucket(per_second, burst)

    def set_users(self, users: list[dict[str, Any]]) -> None:
        self.users = list(users)

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._history.clear()
            self._posted.clear()
            self.errors.clear()
            self.views.clear()
            self._scripts.clear()
        self._stalls.clear()
        self._buckets.clear()
        self.release()
        self._outage = False

    # --- queries -----------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages posted successfully, in post order."""
        with self._lock:
            return [m for m in self._posted if channel is None or m["channel"] == _dm(channel)]

    def home(self, user_id: str) -> dict[str, Any] | None:
        return self._homes.get(user_id)

    def wait_for(
        self, predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.02
    ) -> T:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                recent = [f"{c.method}:{c.status or 'ok'}" for c in self.calls()[-15:]]
                raise AssertionError(f"condition not met in {timeout}s; recent calls: {recent}")
            time.sleep(interval)

    # --- serving -----------------------------------------------------------------------------

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length).decode()
        headers = {k.lower(): v for k, v in request.headers.items()}
        body = self._parse(raw, headers.get("content-type", ""))
        if request.path.startswith("/response/"):
            self._record(Call("response_url", headers, body))
            self._check_blocks("response_url", body)
            return _send(request, 200, b"ok", "text/plain")
        method = request.path.removeprefix("/api/")
        call = Call(method, headers, body)
        self._record(call)
        status, extra, answer = self._scripted(method)
        if status:
            call.status = status
            return _send(request, status, json.dumps(answer).encode(), extra_headers=extra)
        if method in self._stalls:
            time.sleep(self._stalls[method])
        answer = self._answer(method, body, headers)
        call.response = answer
        if method in self._stall_after_store:
            self._released.wait(60)
            request.close_connection = True
            return  # the connection is dropped without an answer
        _send(request, 200, json.dumps(answer).encode())

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def _scripted(self, method: str) -> tuple[int, dict[str, str], dict[str, Any]]:
        if self._outage:
            return 503, {}, {"ok": False, "error": "service_unavailable"}
        with self._lock:
            scripts = self._scripts.get(method) or []
            if scripts:
                script = scripts[0]
                script.count -= 1
                if script.count <= 0:
                    scripts.pop(0)
                headers = (
                    {"Retry-After": str(int(script.retry_after))} if script.status == 429 else {}
                )
                return script.status, headers, {"ok": False, "error": script.error}
            bucket = self._buckets.get(method)
            if bucket:
                wait = bucket.take()
                if wait:
                    return (
                        429,
                        {"Retry-After": str(max(1, math.ceil(wait)))},
                        {"ok": False, "error": "ratelimited"},
                    )
        return 0, {}, {}

    @staticmethod
    def _parse(raw: str, content_type: str) -> dict[str, Any]:
        if "json" in content_type:
            body = json.loads(raw or "{}")
        else:
            body = {k: v[0] for k, v in urllib.parse.parse_qs(raw, keep_blank_values=True).items()}
        for name in JSON_FIELDS:
            if isinstance(body.get(name), str) and body[name]:
                with suppress(json.JSONDecodeError):
                    body[name] = json.loads(body[name])
        return body

    def _problem(self, method: str, problem: str) -> None:
        with self._lock:
            self.errors.append(f"{method}: {problem}")

    def _check_blocks(self, method: str, body: dict[str, Any]) -> bool:
        ok = True
        if "blocks" in body:
            for problem in block_problems(body["blocks"], 50):
                self._problem(method, problem)
                ok = False
        if len(str(body.get("text", ""))) > 40000:
            self._problem(method, "text over 40000")
            ok = False
        return ok

    def _check_view(self, method: str, view: Any) -> bool:
        try:
            View(**view).validate_json()
        except Exception as exc:
            self._problem(method, f"invalid view: {exc}")
            return False
        limit = 100
        problems = block_problems(view.get("blocks", []), limit)
        for problem in problems:
            self._problem(method, problem)
        return not problems

    def _next_ts(self) -> str:
        return f"{time.time():.0f}.{next(self._ts):06d}"

    def _answer(self, method: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        token = headers.get("authorization", "").removeprefix("Bearer ") or body.get("token")
        if method != "api.test" and not token:
            return {"ok": False, "error": "not_authed"}
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            self._problem(method, "unknown method")
            return {"ok": False, "error": "unknown_method"}
        return handler(body)

    # --- methods -----------------------------------------------------------------------------

    def _m_auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://test.slack.com/",
            "team": "Test",
            "user": "techhelp",
            "team_id": "T0TEST",
            "user_id": "UBOT",
            "bot_id": "B0BOT",
        }

    def _m_chat_postMessage(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        if not body.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not self._check_blocks("chat.postMessage", body):
            return {"ok": False, "error": "invalid_blocks"}
        channel = _dm(body["channel"])
        message = {
            "type": "message",
            "user": "UBOT",
            "bot_id": "B0BOT",
            "channel": channel,
            "text": body.get("text", ""),
            "blocks": body.get("blocks"),
            "thread_ts": body.get("thread_ts"),
            "metadata": body.get("metadata"),
        }
        with self._lock:
            message["ts"] = self._next_ts()
            self._history.setdefault(channel, []).append(message)
            self._posted.append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def _m_chat_update(self, body: dict[str, Any]) -> dict[str, Any]:
        if not self._check_blocks("chat.update", body):
            return {"ok": False, "error": "invalid_blocks"}
        channel = _dm(body.get("channel", ""))
        with self._lock:
            for message in self._history.get(channel, []):
                if message["ts"] == body.get("ts"):
                    message.update(text=body.get("text", ""), blocks=body.get("blocks"))
                    return {"ok": True, "channel": channel, "ts": message["ts"]}
        return {"ok": False, "error": "message_not_found"}

    def _m_chat_postEphemeral(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        if not self._check_blocks("chat.postEphemeral", body):
            return {"ok": False, "error": "invalid_blocks"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_chat_getPermalink(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return {"ok": True, "permalink": "https://test.slack.com/archives/C/p1"}

    def _history_page(self, messages: list[dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
        oldest = float(body.get("oldest") or 0)
        with_metadata = _truthy(body.get("include_all_metadata"))
        found = [m for m in reversed(messages) if float(m["ts"]) >= oldest]
        limit, start = int(body.get("limit") or 100), int(body.get("cursor") or 0)
        page = found[start : start + limit]
        out = [{k: v for k, v in m.items() if with_metadata or k != "metadata"} for m in page]
        more = start + limit < len(found)
        return {
            "ok": True,
            "messages": out,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _m_conversations_history(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            messages = [
                m
                for m in self._history.get(_dm(body.get("channel", "")), [])
                if not m.get("thread_ts")
            ]
        return self._history_page(messages, body)

    def _m_conversations_replies(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            messages = [
                m
                for m in self._history.get(_dm(body.get("channel", "")), [])
                if m.get("thread_ts") == body.get("ts") or m["ts"] == body.get("ts")
            ]
        return self._history_page(messages, body)

    def _m_conversations_open(self, body: dict[str, Any]) -> dict[str, Any]:
        users = str(body.get("users", ""))
        return {"ok": True, "channel": {"id": _dm(users.split(",")[0])}}

    def _view(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        view = body.get("view")
        if not isinstance(view, dict) or not self._check_view(method, view):
            return {"ok": False, "error": "invalid_arguments"}
        stored = {"id": f"V{next(self._view_ids):06d}", **view}
        with self._lock:
            self.views.append(stored)
        if method == "views.publish":
            self._homes[body.get("user_id", "")] = stored
        return {"ok": True, "view": stored}

    def _m_views_open(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        return self._view("views.open", body)

    def _m_views_push(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._view("views.push", body)

    def _m_views_update(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._view("views.update", body)

    def _m_views_publish(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._view("views.publish", body)

    def _m_users_list(self, body: dict[str, Any]) -> dict[str, Any]:
        limit, start = int(body.get("limit") or 200), int(body.get("cursor") or 0)
        page = self.users[start : start + limit]
        more = start + limit < len(self.users)
        return {
            "ok": True,
            "members": page,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _m_users_info(self, body: dict[str, Any]) -> dict[str, Any]:
        for user in self.users:
            if user.get("id") == body.get("user"):
                return {"ok": True, "user": user}
        return {"ok": False, "error": "user_not_found"}


def _send(
    request: BaseHTTPRequestHandler,
    status: int,
    data: bytes,
    content_type: str = "application/json; charset=utf-8",
    extra_headers: dict[str, str] | None = None,
) -> None:
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(data)))
    for name, value in (extra_headers or {}).items():
        request.send_header(name, value)
    request.end_headers()
    request.wfile.write(data)
