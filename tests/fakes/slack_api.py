"""A fake Slack Web API: a real HTTP server on 127.0.0.1 that answers like Slack.

Why a server: slack_sdk sends through urllib (and our sender through httpx), so an httpx mock
cannot intercept everything; the bot reaches this server through `SLACK_API_URL` exactly as it
reaches Slack, over real sockets, with real keep-alive, time-outs and dropped connections.

It records every call with its parsed body, validates every `blocks` and `view` with slack_sdk's
models plus the Slack limits slack_sdk does not check, keeps state for the methods the bot uses
(messages, history with metadata, views, a paginated directory), and can be scripted to answer
429 with Retry-After, 5xx, an outage, a stall, a lost answer, or a token-bucket rate limit.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

T = TypeVar("T")
Body = dict[str, Any]
JSON_FIELDS = ("blocks", "view", "metadata", "attachments")
MAX_MESSAGE_BLOCKS, MAX_VIEW_BLOCKS, MAX_TEXT = 50, 100, 40_000
LIMITS = {"section": 3000, "header": 150, "button": 75, "value": 2000, "fields": 10}
STALL_AFTER_STORE_MAX = 60.0  # seconds a lost answer holds its connection at most


@dataclass
class Call:
    """One request the fake received. `status` is set only when the fake answered with an HTTP
    error (429, 5xx, outage); `response` is the JSON answer it produced, if any."""

    method: str
    headers: dict[str, str]
    body: Body
    time: float = field(default_factory=time.time)
    status: int | None = None
    response: Body | None = None


@dataclass
class _Script:
    status: int
    count: int
    retry_after: float
    error: str


class _Bucket:
    """A token bucket: `burst` calls at once, then `per_second` on average."""

    def __init__(self, per_second: float, burst: int) -> None:
        self.rate, self.capacity = per_second, max(1, burst)
        self.tokens, self.updated = float(self.capacity), time.monotonic()

    def take(self) -> float:
        """0 when the call may pass, else the seconds until the next token."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


def dm_id(channel: str) -> str:
    """The stable DM channel the fake gives a user: U123 -> DU123; other ids unchanged."""
    return "D" + channel if channel[:1] in ("U", "W") else channel


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def _cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: Any) -> int:
    """The offset in an opaque cursor from `_cursor`; ValueError for anything else."""
    if not cursor:
        return 0
    prefix, _, number = base64.b64decode(str(cursor), validate=True).decode().partition(":")
    if prefix != "offset":
        raise ValueError(cursor)
    return int(number)


def _text(obj: Any) -> str:
    return str(obj.get("text", "")) if isinstance(obj, dict) else str(obj or "")


def block_problems(blocks: Any, max_blocks: int) -> list[str]:
    """What Slack would reject in a list of blocks: slack_sdk's validation plus Slack's limits."""
    if not isinstance(blocks, list):
        return [f"blocks is not a list: {blocks!r:.80}"]
    problems = [f"{len(blocks)} blocks (max {max_blocks})"] if len(blocks) > max_blocks else []
    for i, raw in enumerate(blocks):
        where = f"block {i}"
        if not isinstance(raw, dict):
            problems.append(f"{where} is not an object: {raw!r:.80}")
            continue
        kind = raw.get("type")
        try:
            parsed = Block.parse(raw)
            if parsed is None:
                problems.append(f"{where}: unknown block type {kind!r}")
                continue
            parsed.validate_json()
        except Exception as exc:  # slack_sdk raises several kinds
            problems.append(f"{where} ({kind}): {exc}")
            continue  # one problem per block is enough; the limits below may repeat it
        limit = LIMITS.get(str(kind))
        if kind in ("section", "header") and limit and len(_text(raw.get("text"))) > limit:
            problems.append(f"{where}: {kind} text over {limit} characters")
        if len(raw.get("fields") or []) > LIMITS["fields"]:
            problems.append(f"{where}: more than {LIMITS['fields']} fields")
        elements = list(raw.get("elements") or [])
        if isinstance(raw.get("accessory"), dict):
            elements.append(raw["accessory"])
        for element in elements:
            if isinstance(element, dict) and element.get("type") == "button":
                if len(_text(element.get("text"))) > LIMITS["button"]:
                    problems.append(f"{where}: button text over {LIMITS['button']} characters")
                if len(str(element.get("value", ""))) > LIMITS["value"]:
                    problems.append(f"{where}: button value over {LIMITS['value']} characters")
    return problems


class FakeSlack:
    """The fake server. Use as `with FakeSlack() as fake:` or `start()` / `stop()`; point a
    client at `fake.url`. Everything public is safe to call from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._history: dict[str, list[Body]] = {}  # channel -> messages, oldest first
        self._posted: list[Body] = []
        self._last_ts = 0  # microseconds
        self._view_ids = itertools.count(1)
        self.errors: list[str] = []  # what the bot sent that Slack would reject
        self.views: list[Body] = []  # every view opened, pushed, updated or published
        self._homes: dict[str, Body] = {}
        self._files: dict[str, Body] = {}  # file id -> upload ticket, bytes, share
        self._file_ids = itertools.count(1)
        self.users: list[Body] = []
        self._scripts: dict[str, list[_Script]] = {}
        self._stalls: dict[str, float] = {}
        self._stall_after_store: set[str] = set()
        self._released = threading.Event()
        self._buckets: dict[str, _Bucket] = {}
        self._outage = False
        # Channels the bot is not a member of (every other channel: it was invited). A public
        # one ("C…") takes its posts all the same (chat:write.public) but not its reads; a
        # private one ("G…") takes neither, and only an invitation lets the bot in.
        self._not_member: set[str] = set()
        self._connections: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # `apps.connections.open` answers with a new URL of this Socket Mode fake, when set.
        self.socket_mode: Any = None  # tests.fakes.socket_mode.FakeSocketMode

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Slack; every answer has Content-Length
            disable_nagle_algorithm = True
            wbufsize = 64 * 1024  # headers and body leave in one write

            def setup(self) -> None:
                super().setup()
                with fake._lock:
                    fake._connections.add(self.connection)

            def finish(self) -> None:
                with fake._lock:
                    fake._connections.discard(self.connection)
                with suppress(OSError):
                    super().finish()

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                fake._serve(self)

            do_GET = do_POST

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False  # stop() must not wait for a stalled handler
            request_queue_size = 1024

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that hangs up (a killed bot, a time-out) is expected here

        self._released.clear()
        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # how long stop() waits for the loop to notice
            name="fake-slack",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections, so nothing answers any more."""
        self._released.set()
        if self._server:
            self._server.shutdown()
            with self._lock:
                connections = list(self._connections)
            for connection in connections:
                with suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._server.server_close()
        if self._thread:
            self._thread.join(5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def _base(self) -> str:
        assert self._server is not None, "FakeSlack is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """The Web API base URL (SLACK_API_URL / WebClient base_url), ending with a slash."""
        return f"{self._base}/api/"

    def response_url(self, key: str) -> str:
        """A response_url for interaction payloads; posts to it are recorded as "response_url"."""
        return f"{self._base}/response/{key}"

    # --- scripting ---------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int = 429,
        count: int = 1,
        retry_after: float = 1,
        error: str | None = None,
    ) -> None:
        """The next `count` calls of `method` answer HTTP `status` with {ok: false, error}."""
        default = "ratelimited" if status == 429 else "internal_error"
        with self._lock:
            script = _Script(status, count, retry_after, error or default)
            self._scripts.setdefault(method, []).append(script)

    def outage(self) -> None:
        """Every request answers 503 until `restore()`."""
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
        """Answer `method` only after sleeping `seconds` (a slow Slack); 0 ends the stall."""
        with self._lock:
            if seconds > 0:
                self._stalls[method] = seconds
            else:
                self._stalls.pop(method, None)

    def stall_after_store(self, method: str) -> None:
        """Calls of `method` are processed (the message IS posted) but their answers never come
        back: the connection is held until `release()` or `stop()` (60 s at most), then dropped
        without an answer. Slack got it; the sender never learns the ts."""
        with self._lock:
            self._released.clear()
            self._stall_after_store.add(method)

    def release(self) -> None:
        """End every `stall_after_store`; held connections are dropped."""
        with self._lock:
            self._stall_after_store.clear()
            self._released.set()

    def without_bot(self, *channels: str) -> None:
        """The bot is not a member of these channels (until it joins a public one)."""
        with self._lock:
            self._not_member.update(channels)

    def is_member(self, channel: str) -> bool:
        with self._lock:
            return channel not in self._not_member

    def rate_limit(self, method: str, per_second: float, burst: int = 1) -> None:
        """Enforce a token bucket on `method`; when empty answer 429 with Retry-After."""
        with self._lock:
            self._buckets[method] = _Bucket(per_second, burst)

    def set_users(self, users: list[Body]) -> None:
        """The directory for users.list / users.info (each dict needs an "id")."""
        with self._lock:
            self.users = list(users)

    def reset(self) -> None:
        """Forget calls, messages, views, errors and every script (users are kept)."""
        with self._lock:
            for store in (self._calls, self._posted, self.errors, self.views):
                store.clear()
            for mapping in (self._history, self._homes, self._scripts, self._stalls, self._files):
                mapping.clear()
            self._not_member.clear()
            self._buckets.clear()
            self._stall_after_store.clear()
            self._released.set()
            self._outage = False

    # --- queries -----------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """Every call received (failed ones too), oldest first, optionally of one method."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def messages(self, channel: str | None = None) -> list[Body]:
        """Messages posted successfully, in post order; `channel` may be a U id or its D id."""
        with self._lock:
            return [m for m in self._posted if channel is None or m["channel"] == dm_id(channel)]

    def home(self, user_id: str) -> Body | None:
        """The App Home last published for `user_id`."""
        with self._lock:
            return self._homes.get(user_id)

    def files(self, channel: str | None = None) -> list[Body]:
        """Files shared by files.completeUploadExternal: id, name, title, alt_txt, channel, ts,
        the uploaded `content` (bytes) and the share's blocks."""
        with self._lock:
            return [
                dict(f)
                for f in self._files.values()
                if f.get("channel") and (channel is None or f["channel"] == dm_id(channel))
            ]

    def wait_for(
        self, predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.02
    ) -> T:
        """Poll `predicate` until it returns something truthy and return that."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                recent = [f"{c.method}:{c.status or 'ok'}" for c in self.calls()[-15:]]
                raise AssertionError(
                    f"condition not met in {timeout}s; recent calls: {recent}; "
                    f"errors: {self.errors}"
                )
            time.sleep(interval)

    # --- serving -----------------------------------------------------------------------------

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in request.headers.items()}
        path, _, query = request.path.partition("?")
        if path.startswith("/upload/"):
            return self._upload(request, path.removeprefix("/upload/"), raw, headers)
        if path.startswith("/response/"):
            method = "response_url"
        elif path.startswith("/api/") and len(path) > 5:
            method = path.removeprefix("/api/")
        else:
            self._problem(path, "unknown path")
            return _send(request, 404, b"not found", "text/plain")
        # Parsed before it is recorded: a test polling the calls from another thread never sees
        # a call without its body.
        call = Call(method, headers, {})
        try:
            call.body = self._parse(raw, headers.get("content-type", ""), query)
        except ValueError as exc:
            self._record(call)
            self._problem(method, f"unreadable body: {exc}")
            call.response = {"ok": False, "error": "invalid_json"}
            return _send(request, 200, json.dumps(call.response).encode())
        self._record(call)
        status, extra, answer = self._scripted(method)
        if status:
            call.status, call.response = status, answer
            return _send(request, status, json.dumps(answer).encode(), extra_headers=extra)
        with self._lock:
            stall, lose_answer = self._stalls.get(method), method in self._stall_after_store
        if stall:
            time.sleep(stall)
        if method == "response_url":
            ok = self._check_message(method, call.body)
            call.response = {"ok": ok}
            return _send(
                request, 200 if ok else 400, b"ok" if ok else b"invalid_blocks", "text/plain"
            )
        try:
            call.response = self._answer(method, call.body, headers)
        except Exception as exc:  # a bug in the fake or a malformed call: make it loud
            self._problem(method, f"fake failed to answer: {exc!r}")
            call.status, call.response = 500, {"ok": False, "error": "internal_error"}
            return _send(request, 500, json.dumps(call.response).encode())
        if lose_answer:
            self._released.wait(STALL_AFTER_STORE_MAX)
            request.close_connection = True
            return  # the connection is dropped without an answer
        _send(request, 200, json.dumps(call.response).encode())

    def upload_url(self, file_id: str) -> str:
        return f"{self._base}/upload/{file_id}"

    def _upload(
        self, request: BaseHTTPRequestHandler, file_id: str, raw: bytes, headers: dict[str, str]
    ) -> None:
        """The upload URL of files.getUploadURLExternal: the file's bytes, as Slack takes them
        (raw; no token needed). Recorded as the call "upload"."""
        call = Call("upload", headers, {"file_id": file_id, "length": len(raw)})
        self._record(call)
        status, extra, answer = self._scripted("upload")
        if status:
            call.status, call.response = status, answer
            return _send(request, status, json.dumps(answer).encode(), extra_headers=extra)
        with self._lock:
            ticket = self._files.get(file_id)
            problem = None
            if ticket is None:
                problem = "upload to an unknown upload URL"
            elif len(raw) != ticket["length"]:
                problem = f"uploaded {len(raw)} bytes, declared {ticket['length']}"
            elif ticket.get("channel"):
                problem = "upload to a file already shared"
            else:
                ticket["content"] = raw
        if problem:
            self._problem("upload", problem)
            call.status = 400
            return _send(request, 400, problem.encode(), "text/plain")
        call.response = {"ok": True}
        _send(request, 200, f"OK - {len(raw)}".encode(), "text/plain")

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def _scripted(self, method: str) -> tuple[int, dict[str, str], Body]:
        """An HTTP failure to answer instead of serving the call: (0, {}, {}) when none."""
        if self._outage:
            return 503, {}, {"ok": False, "error": "service_unavailable"}
        with self._lock:
            scripts = self._scripts.get(method) or []
            if scripts:
                script = scripts[0]
                script.count -= 1
                if script.count <= 0:
                    scripts.pop(0)
                extra = {"Retry-After": str(math.ceil(script.retry_after))}
                return (
                    script.status,
                    extra if script.status == 429 else {},
                    {"ok": False, "error": script.error},
                )
            bucket = self._buckets.get(method)
            wait = bucket.take() if bucket else 0.0
        if wait:
            retry_after = str(max(1, math.ceil(wait)))
            return 429, {"Retry-After": retry_after}, {"ok": False, "error": "ratelimited"}
        return 0, {}, {}

    @staticmethod
    def _parse(raw: bytes, content_type: str, query: str) -> Body:
        body: Body = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
        if "json" in content_type:
            parsed = json.loads(raw or b"{}")
            if not isinstance(parsed, dict):
                raise ValueError("a JSON body must be an object")
            body.update(parsed)
        elif "multipart/form-data" in content_type:
            message = BytesParser(policy=HTTP).parsebytes(
                f"Content-Type: {content_type}\r\n\r\n".encode() + raw
            )
            for part in message.iter_parts():
                body[part.get_param("name", header="content-disposition")] = part.get_content()
        else:
            pairs = urllib.parse.parse_qs(raw.decode(), keep_blank_values=True)
            body.update({k: v[0] for k, v in pairs.items()})
        for name in JSON_FIELDS:
            if isinstance(body.get(name), str) and body[name]:
                with suppress(json.JSONDecodeError):
                    body[name] = json.loads(body[name])
        return body

    def _problem(self, method: str, problem: str) -> None:
        with self._lock:
            self.errors.append(f"{method}: {problem}")

    def _check_message(self, method: str, body: Body) -> bool:
        problems = []
        if "blocks" in body:
            problems += block_problems(body["blocks"], MAX_MESSAGE_BLOCKS)
        if len(str(body.get("text") or "")) > MAX_TEXT:
            problems.append(f"text over {MAX_TEXT} characters")
        for problem in problems:
            self._problem(method, problem)
        return not problems

    def _check_view(self, method: str, view: Any) -> bool:
        if not isinstance(view, dict):
            self._problem(method, f"view is not an object: {view!r:.80}")
            return False
        problems = block_problems(view.get("blocks", []), MAX_VIEW_BLOCKS)
        try:
            View(**view).validate_json()
        except Exception as exc:
            problems.append(f"invalid view: {exc}")
        for problem in problems:
            self._problem(method, problem)
        return not problems

    def _next_ts(self) -> str:
        """A ts near the wall clock, strictly increasing across all channels (hold the lock)."""
        self._last_ts = max(int(time.time() * 1_000_000), self._last_ts + 1)
        return f"{self._last_ts // 1_000_000}.{self._last_ts % 1_000_000:06d}"

    def _answer(self, method: str, body: Body, headers: dict[str, str]) -> Body:
        token = headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not (token or body.get("token")):
            return {"ok": False, "error": "not_authed"}
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            self._problem(method, "unknown method")
            return {"ok": False, "error": "unknown_method"}
        return handler(body)

    # --- methods -----------------------------------------------------------------------------

    def _m_apps_connections_open(self, body: Body) -> Body:
        # Slack's Socket Mode handshake: a one-time WebSocket URL for the app-level token.
        if self.socket_mode is None:
            return {"ok": False, "error": "not_allowed_token_type"}
        return {"ok": True, "url": self.socket_mode.issue_url()}

    def _m_auth_test(self, body: Body) -> Body:
        return {
            "ok": True,
            "url": "https://test.slack.com/",
            "team": "Test",
            "user": "techhelp",
            "team_id": "T0TEST",
            "user_id": "UBOT",
            "bot_id": "B0BOT",
        }

    def _m_chat_postMessage(self, body: Body) -> Body:  # noqa: N802
        if not body.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not any(body.get(k) for k in ("text", "blocks", "attachments")):
            self._problem("chat.postMessage", "no text, blocks or attachments")
            return {"ok": False, "error": "no_text"}
        if not self._check_message("chat.postMessage", body):
            too_long = len(str(body.get("text") or "")) > MAX_TEXT
            return {"ok": False, "error": "msg_too_long" if too_long else "invalid_blocks"}
        metadata = body.get("metadata")
        if metadata is not None and not (isinstance(metadata, dict) and metadata.get("event_type")):
            self._problem("chat.postMessage", f"invalid metadata: {metadata!r:.80}")
            return {"ok": False, "error": "invalid_metadata_format"}
        channel = dm_id(str(body["channel"]))
        with self._lock:
            if channel in self._not_member and not channel.startswith("C"):
                return {"ok": False, "error": "not_in_channel"}
        message: Body = {
            "type": "message",
            "user": "UBOT",
            "bot_id": "B0BOT",
            "channel": channel,
            "text": body.get("text", ""),
            "blocks": body.get("blocks"),
            "thread_ts": body.get("thread_ts"),
            "metadata": metadata,
        }
        with self._lock:
            message["ts"] = self._next_ts()
            self._history.setdefault(channel, []).append(message)
            self._posted.append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": dict(message)}

    def _m_chat_update(self, body: Body) -> Body:
        if not self._check_message("chat.update", body):
            return {"ok": False, "error": "invalid_blocks"}
        channel = dm_id(str(body.get("channel", "")))
        with self._lock:
            for message in self._history.get(channel, []):
                if message["ts"] == body.get("ts"):
                    message["text"] = body.get("text", "")
                    message["blocks"] = body.get("blocks")
                    if "metadata" in body:
                        message["metadata"] = body["metadata"]
                    out = dict(message)
                    return {"ok": True, "channel": channel, "ts": message["ts"], "message": out}
        return {"ok": False, "error": "message_not_found"}

    def _m_chat_delete(self, body: Body) -> Body:
        channel = dm_id(str(body.get("channel", "")))
        with self._lock:
            history = self._history.get(channel, [])
            found = [m for m in history if m["ts"] == body.get("ts")]
            if not found:
                return {"ok": False, "error": "message_not_found"}
            history.remove(found[0])
            self._posted[:] = [m for m in self._posted if m is not found[0]]
        return {"ok": True, "channel": channel, "ts": found[0]["ts"]}

    def _m_chat_postEphemeral(self, body: Body) -> Body:  # noqa: N802
        if not body.get("channel") or not body.get("user"):
            return {
                "ok": False,
                "error": "channel_not_found" if body.get("user") else "user_not_found",
            }
        if not self._check_message("chat.postEphemeral", body):
            return {"ok": False, "error": "invalid_blocks"}
        with self._lock:
            return {"ok": True, "message_ts": self._next_ts()}

    def _m_chat_getPermalink(self, body: Body) -> Body:  # noqa: N802
        channel, ts = body.get("channel", "C"), str(body.get("message_ts", "123"))
        link = f"https://example.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _page(self, items: list[Body], body: Body, key: str, default_limit: int) -> Body:
        try:
            start = _offset(body.get("cursor"))
        except ValueError:
            return {"ok": False, "error": "invalid_cursor"}
        limit = int(body.get("limit") or default_limit)
        more = start + limit < len(items)
        return {
            "ok": True,
            key: items[start : start + limit],
            "has_more": more,
            "response_metadata": {"next_cursor": _cursor(start + limit) if more else ""},
        }

    def _messages_page(self, found: list[Body], body: Body) -> Body:
        """Slack's window: oldest < ts < latest, or <= both ways when `inclusive`."""
        oldest, latest = float(body.get("oldest") or 0), float(body.get("latest") or "inf")
        inclusive = _truthy(body.get("inclusive"))
        with_metadata = _truthy(body.get("include_all_metadata"))
        shown = [
            {k: v for k, v in m.items() if v is not None and (with_metadata or k != "metadata")}
            for m in found
            if oldest < float(m["ts"]) < latest
            or (inclusive and float(m["ts"]) in (oldest, latest))
        ]
        return self._page(shown, body, "messages", 100)

    def _m_conversations_history(self, body: Body) -> Body:
        """Top-level messages of a channel, newest first (thread replies are left out)."""
        with self._lock:
            if dm_id(str(body.get("channel", ""))) in self._not_member:
                return {"ok": False, "error": "not_in_channel"}
            history = self._history.get(dm_id(str(body.get("channel", ""))), [])
            found = [m for m in reversed(history) if m.get("thread_ts") in (None, m["ts"])]
        return self._messages_page(found, body)

    def _m_conversations_replies(self, body: Body) -> Body:
        """A thread, parent first, then replies oldest first."""
        ts = body.get("ts")
        with self._lock:
            if dm_id(str(body.get("channel", ""))) in self._not_member:
                return {"ok": False, "error": "not_in_channel"}
            history = self._history.get(dm_id(str(body.get("channel", ""))), [])
            found = [m for m in history if ts in (m["ts"], m.get("thread_ts"))]
        if not found:
            return {"ok": False, "error": "thread_not_found"}
        return self._messages_page(found, body)

    def _m_conversations_join(self, body: Body) -> Body:
        """The bot joins a public channel (channels:join); a private one needs an invitation."""
        channel = str(body.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not channel.startswith("C"):
            return {"ok": False, "error": "method_not_supported_for_channel_type"}
        with self._lock:
            joined = channel in self._not_member
            self._not_member.discard(channel)
        answer: Body = {"ok": True, "channel": {"id": channel, "is_member": True}}
        return answer if joined else {**answer, "warning": "already_in_channel"}

    def _m_conversations_open(self, body: Body) -> Body:
        target = str(body.get("users") or body.get("channel") or "")
        if not target:
            return {"ok": False, "error": "users_list_not_supplied"}
        return {"ok": True, "channel": {"id": dm_id(target.split(",")[0].strip())}}

    def _view(self, method: str, body: Body, need: str | None = None) -> Body:
        if need and not body.get(need):
            return {
                "ok": False,
                "error": {"trigger_id": "invalid_trigger_id"}.get(need, "invalid_arguments"),
            }
        view = body.get("view")
        if not self._check_view(method, view):
            return {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            view_id = body.get("view_id") or f"V{next(self._view_ids):06d}"
            stored = {**view, "id": view_id}
            self.views.append(stored)
            if method == "views.publish":
                self._homes[str(body["user_id"])] = stored
        return {"ok": True, "view": stored}

    def _m_views_open(self, body: Body) -> Body:
        return self._view("views.open", body, "trigger_id")

    def _m_views_push(self, body: Body) -> Body:
        return self._view("views.push", body, "trigger_id")

    def _m_views_update(self, body: Body) -> Body:
        return self._view("views.update", body)

    def _m_views_publish(self, body: Body) -> Body:
        return self._view("views.publish", body, "user_id")

    def _m_files_getUploadURLExternal(self, body: Body) -> Body:  # noqa: N802
        filename, length = str(body.get("filename") or ""), str(body.get("length") or "")
        if not filename or not length.isdigit() or int(length) <= 0:
            self._problem("files.getUploadURLExternal", f"bad filename/length: {body!r:.120}")
            return {"ok": False, "error": "invalid_arguments"}
        if len(str(body.get("alt_txt") or "")) > 1000:
            self._problem("files.getUploadURLExternal", "alt_txt over 1000 characters")
            return {"ok": False, "error": "alt_txt_too_large"}
        with self._lock:
            file_id = f"F{next(self._file_ids):08d}"
            self._files[file_id] = {
                "id": file_id,
                "name": filename,
                "length": int(length),
                "alt_txt": body.get("alt_txt"),
            }
        return {"ok": True, "upload_url": self.upload_url(file_id), "file_id": file_id}

    def _m_files_completeUploadExternal(self, body: Body) -> Body:  # noqa: N802
        files = body.get("files")
        if isinstance(files, str):
            with suppress(json.JSONDecodeError):
                files = json.loads(files)
        if not isinstance(files, list) or not files:
            self._problem("files.completeUploadExternal", f"files is not a list: {files!r:.80}")
            return {"ok": False, "error": "invalid_arguments"}
        channel = str(body.get("channel_id") or "")
        if not channel:
            self._problem("files.completeUploadExternal", "no channel_id: the file stays private")
            return {"ok": False, "error": "invalid_arguments"}
        if "blocks" in body and not self._check_message("files.completeUploadExternal", body):
            return {"ok": False, "error": "invalid_blocks"}
        channel = dm_id(channel)
        with self._lock:
            tickets = []
            for item in files:
                ticket = self._files.get(str((item or {}).get("id")))
                if ticket is None or "content" not in ticket or ticket.get("channel"):
                    self._problem(
                        "files.completeUploadExternal", f"file not uploaded or shared: {item!r:.80}"
                    )
                    return {"ok": False, "error": "file_not_found"}
                tickets.append((ticket, item))
            ts = self._next_ts()
            shared = []
            for ticket, item in tickets:
                ticket |= {"channel": channel, "ts": ts, "title": item.get("title")}
                ticket["blocks"] = body.get("blocks")
                shared.append(
                    {"id": ticket["id"], "name": ticket["name"], "title": item.get("title")}
                )
            message: Body = {
                "type": "message",
                "user": "UBOT",
                "channel": channel,
                "text": "",
                "blocks": body.get("blocks"),
                "files": shared,
                "ts": ts,
            }
            self._history.setdefault(channel, []).append(message)
        return {"ok": True, "files": shared}

    def _m_users_list(self, body: Body) -> Body:
        with self._lock:
            users = list(self.users)
        answer = self._page(users, body, "members", 200)
        answer.pop("has_more", None)
        return answer

    def _m_users_info(self, body: Body) -> Body:
        with self._lock:
            found = [u for u in self.users if u.get("id") == body.get("user")]
        return {"ok": True, "user": found[0]} if found else {"ok": False, "error": "user_not_found"}


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
