"""Deliveries → Slack Web API. Classifies every failure so the outbox knows what to do next.

The outbox's traffic goes through one urllib3 pool of keep-alive connections: slack_sdk's
WebClient opens a new connection (a new TLS handshake, against real Slack) for every call, which
dominates the cost of a broadcast, and httpx costs about twice urllib3's CPU per call, which
every request pays twice (its triage card and its receipt). The client never retries by itself
(a blind retry of chat.postMessage after a time-out can post twice); retrying is the outbox's
job.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from json import dumps, loads
from typing import Any
from urllib.parse import urlencode

import httpx
import urllib3

from chatbot import metrics
from chatbot.delivery import Failed, Job, Outcome, Retry, Sent
from chatbot.directory import Member
from chatbot.platforms.slack import render

log = logging.getLogger(__name__)

JSON = "application/json; charset=utf-8"
FORM = "application/x-www-form-urlencoded"
METADATA_EVENT = "techhelp_delivery"
SHARES = ("post", "upload")  # actions that, repeated blindly, would show twice
RATE_LIMITED = {"ratelimited", "rate_limited"}
# Worth trying again later: the platform or our credentials, not the message, is the problem.
TRANSIENT = {
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "team_access_not_granted",
}


class SlackCallError(Exception):
    def __init__(self, method: str, status: int, error: str, retry_after: float | None) -> None:
        super().__init__(f"{method}: {status} {error}")
        self.status, self.error, self.retry_after = status, error, retry_after


class SlackAPI:
    """The few Web API methods the outbox needs, over one pool of keep-alive connections."""

    def __init__(self, token: str | None, base_url: str, *, timeout: float = 15) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.pool = urllib3.PoolManager(
            maxsize=32, timeout=urllib3.Timeout(connect=timeout, read=timeout), retries=False
        )

    def call(
        self, method: str, *, json: dict[str, Any] | None = None, form: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Write methods take JSON; read methods take form fields (as Slack requires). Raises
        `SlackCallError` for Slack's refusals, urllib3's errors for the network's."""
        if json is not None:
            body, kind = dumps(json).encode(), JSON
        else:
            body, kind = urlencode(form or {}).encode(), FORM
        response = self.pool.request(
            "POST",
            self.base_url + method,
            body=body,
            headers={**self.headers, "Content-Type": kind},
        )
        try:
            answer = loads(response.data)
        except ValueError:
            answer = {"ok": False, "error": f"http_{response.status}"}
        if response.status != 200 or not isinstance(answer, dict) or not answer.get("ok"):
            if response.status == 429:
                metrics.RATE_LIMITED.labels("slack").inc()
            retry_after = response.headers.get("Retry-After")
            error = answer.get("error", "") if isinstance(answer, dict) else ""
            raise SlackCallError(
                method, response.status, str(error), float(retry_after) if retry_after else None
            )
        return answer

    def members(self) -> Iterator[Member]:
        """The workspace directory, page by page (`users.list`, Tier 2: a 429 is waited out)."""
        cursor = ""
        while True:
            try:
                body = self.call("users.list", form={"limit": 200, "cursor": cursor})
            except SlackCallError as exc:
                if exc.status != 429:
                    raise
                time.sleep(exc.retry_after or 1)
                continue
            for user in body.get("members", []):
                profile = user.get("profile") or {}
                yield Member(
                    user_id=user["id"],
                    name=profile.get("real_name") or user.get("name"),
                    # With the `users:read.email` scope: how people named by e-mail in the
                    # configuration, and a person's accounts on other platforms, are found.
                    email=profile.get("email") or None,
                    reachable=not (
                        user.get("deleted")
                        or user.get("is_bot")
                        or user["id"] == "USLACKBOT"
                        or user.get("is_restricted")
                        or user.get("is_ultra_restricted")
                    ),
                )
            cursor = (body.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                return

    def close(self) -> None:
        self.pool.clear()


class SlackSender:
    def __init__(self, api: SlackAPI) -> None:
        self.api = api
        # The upload URL is another host: the bytes go without our token.
        self.uploads = httpx.Client(timeout=api.timeout)

    def send(self, job: Job) -> Outcome:
        payload = render.message(job.message)
        try:
            if job.action == "home":
                self.api.call(
                    "views.publish", json={"user_id": job.to.id, "view": render.home(job.message)}
                )
                return Sent(message_id="home", conversation=job.to.id)
            if job.action == "upload":
                return self._upload(job, payload)
            if job.action == "update":
                body = self.api.call(
                    "chat.update",
                    json={"channel": job.conversation, "ts": job.edit_message_id, **payload},
                )
            else:
                post: dict[str, Any] = {
                    "channel": _channel(job),
                    "metadata": {"event_type": METADATA_EVENT, "event_payload": {"key": job.key}},
                    "unfurl_links": False,
                    "unfurl_media": False,
                    **payload,
                }
                if job.thread_id:
                    post["thread_ts"] = job.thread_id
                body = self.api.call("chat.postMessage", json=post)
        except SlackCallError as exc:
            return _classify(exc, job)
        except (httpx.ConnectError, urllib3.exceptions.ConnectTimeoutError) as exc:
            # Never reached Slack (a refused or slow connect): said as the system said it
            # ("[Errno 111] Connection refused"), not as urllib3 wraps it.
            cause = exc.__cause__
            return Retry(f"network: {cause if isinstance(cause, OSError) else exc}")
        except (httpx.TransportError, urllib3.exceptions.HTTPError) as exc:
            # May have reached Slack (a time-out, a dropped connection): checked before again.
            return Retry(f"network: {exc!r}", in_doubt=job.action in SHARES)
        return Sent(message_id=body["ts"], conversation=body["channel"])

    def _upload(self, job: Job, payload: dict[str, Any]) -> Outcome:
        """Slack's file upload flow: files.getUploadURLExternal, the bytes POSTed to the upload
        URL, then files.completeUploadExternal shares the file in the channel with the message.
        A failure at any step retries the whole flow (an unshared upload stays private); only
        the last step shares, so only it can leave the delivery in doubt."""
        file = job.message.file
        if file is None:
            return Failed("an upload without a file")
        data = base64.b64decode(file.content_b64)
        ticket = self.api.call(
            "files.getUploadURLExternal",
            form={"filename": file.name, "length": len(data), "alt_txt": file.alt_text[:1000]},
        )
        uploaded = self.uploads.post(
            ticket["upload_url"],
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        if uploaded.status_code != 200:
            raise SlackCallError("upload", uploaded.status_code, "upload_failed", None)
        self.api.call(
            "files.completeUploadExternal",
            json={
                "files": [{"id": ticket["file_id"], "title": file.title}],
                "channel_id": _channel(job),
                "blocks": payload["blocks"],
            },
        )
        return Sent(message_id=ticket["file_id"], conversation=_channel(job))

    def find_sent(self, job: Job) -> Sent | None:
        """After an attempt in doubt, look for our copy by the key carried in its metadata (a
        file share: by its file name, unique per delivery). Raises when it cannot tell, so the
        row stays in doubt rather than being posted blind."""
        channel = _channel(job)
        wanted = job.message.file.name if job.action == "upload" and job.message.file else None
        if job.conversation is None and job.to.kind == "person":
            channel = self.api.call("conversations.open", form={"users": channel})["channel"]["id"]
        method = "conversations.replies" if job.thread_id else "conversations.history"
        query: dict[str, Any] = {
            "channel": channel,
            "oldest": f"{(job.created_at - timedelta(seconds=5)).timestamp():.6f}",
            "include_all_metadata": "true",
            "limit": 200,
        }
        if job.thread_id:
            query["ts"] = job.thread_id
        for _page in range(50):
            body = self._read(method, query, channel)
            for message in body.get("messages", []):
                metadata = (message.get("metadata") or {}).get("event_payload") or {}
                if metadata.get("key") == job.key:
                    return Sent(message_id=message["ts"], conversation=channel)
                names = [f.get("name") for f in message.get("files") or []]
                if wanted and wanted in names:
                    return Sent(message_id=message["ts"], conversation=channel)
            query["cursor"] = (body.get("response_metadata") or {}).get("next_cursor")
            if not query["cursor"]:
                return None
        raise LookupError(f"{job.key}: history too long to check")

    def _read(self, method: str, query: dict[str, Any], channel: str) -> dict[str, Any]:
        """A read of a channel's messages. A public channel posted to without being a member
        (chat:write.public) cannot be read: the bot joins it (channels:join) and reads again.
        A private channel it is not in needs an invitation: that error is raised, logged."""
        try:
            return self.api.call(method, form=query)
        except SlackCallError as exc:
            if exc.error != "not_in_channel":
                raise
        try:
            self.api.call("conversations.join", form={"channel": channel})
        except SlackCallError as exc:
            log.error(
                "cannot check channel %s for a copy in doubt: not a member, and joining "
                "failed (%s); invite the bot with /invite @techhelp",
                channel,
                exc.error,
            )
            raise
        log.info("joined channel %s to check a copy in doubt", channel)
        return self.api.call(method, form=query)


def _channel(job: Job) -> str:
    """The Slack channel to post in: where the message it replies under landed, else the
    address (a user id posts to the person's direct-message channel with the bot)."""
    return job.conversation or job.to.id


def _classify(exc: SlackCallError, job: Job) -> Outcome:
    if exc.status == 429 or exc.error in RATE_LIMITED:
        # Refused, not delivered: however long a 429 storm lasts, it never uses up the row's
        # attempts (nothing is given up for rate limiting).
        return Retry(
            f"rate limited ({job.action})",
            after=max(exc.retry_after or 1, 1),
            pause=True,
            attempted=False,
        )
    if exc.status >= 500:
        return Retry(f"slack {exc.status} {exc.error}".strip(), in_doubt=job.action in SHARES)
    if exc.error in TRANSIENT:
        return Retry(f"slack error {exc.error}", after=30)
    return Failed(f"slack error {exc.error or exc.status}")
