"""Deliveries → Slack Web API. Classifies every failure so the outbox knows what to do next."""

from __future__ import annotations

import http.client
import logging
import socket
import urllib.error
from datetime import timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from chatbot.delivery import Failed, Job, Outcome, Retry, Sent
from chatbot.platforms.slack import render

log = logging.getLogger(__name__)

METADATA_EVENT = "techhelp_delivery"
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
NETWORK_ERRORS = (
    urllib.error.URLError,
    TimeoutError,
    socket.timeout,
    ConnectionError,
    http.client.HTTPException,
)


def make_client(token: str | None, base_url: str, *, timeout: int = 15) -> WebClient:
    """A client that never retries by itself: a blind retry of chat.postMessage after a
    time-out can post twice, so retrying is the outbox's job."""
    return WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[])


class SlackSender:
    def __init__(self, client: WebClient) -> None:
        self.client = client

    def send(self, job: Job) -> Outcome:
        payload = render.message(job.message)
        try:
            if job.action == "update":
                response = self.client.chat_update(
                    channel=job.edit_channel, ts=job.edit_ts, **payload
                )
            else:
                response = self.client.chat_postMessage(
                    channel=job.channel,
                    thread_ts=job.thread_ts,
                    metadata={"event_type": METADATA_EVENT, "event_payload": {"key": job.key}},
                    unfurl_links=False,
                    unfurl_media=False,
                    **payload,
                )
        except SlackApiError as exc:
            return _classify(exc, job)
        except NETWORK_ERRORS as exc:
            return Retry(f"network: {exc}", in_doubt=job.action == "post")
        return Sent(channel=response["channel"], ts=response["ts"])

    def find_sent(self, job: Job) -> Sent | None:
        """After an attempt in doubt, look for our copy by the key carried in its metadata."""
        try:
            channel = job.channel
            if channel[:1] in ("U", "W"):
                channel = self.client.conversations_open(users=channel)["channel"]["id"]
            oldest = (job.created_at - timedelta(seconds=5)).timestamp()
            cursor = None
            for _page in range(20):
                if job.thread_ts:
                    response = self.client.conversations_replies(
                        channel=channel,
                        ts=job.thread_ts,
                        oldest=f"{oldest:.6f}",
                        include_all_metadata=True,
                        limit=200,
                        cursor=cursor,
                    )
                else:
                    response = self.client.conversations_history(
                        channel=channel,
                        oldest=f"{oldest:.6f}",
                        include_all_metadata=True,
                        limit=200,
                        cursor=cursor,
                    )
                for message in response.get("messages", []):
                    payload = (message.get("metadata") or {}).get("event_payload") or {}
                    if payload.get("key") == job.key:
                        return Sent(channel=channel, ts=message["ts"])
                cursor = (response.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return None
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            # Cannot tell: do not post blind. Raising keeps the row in doubt for the next try.
            raise LookupError(f"could not check for an earlier copy: {exc}") from exc
        return None


def _classify(exc: SlackApiError, job: Job) -> Outcome:
    status = exc.response.status_code
    error = str(exc.response.get("error", "")) if exc.response.data else ""
    if status == 429 or error in RATE_LIMITED:
        after = float(
            exc.response.headers.get("Retry-After", exc.response.headers.get("retry-after", 1))
        )
        return Retry(f"rate limited ({job.action})", after=max(after, 1), pause=True)
    if status >= 500:
        return Retry(f"slack {status} {error}".strip(), in_doubt=job.action == "post")
    if error in TRANSIENT:
        return Retry(f"slack error {error}", after=30)
    return Failed(f"slack error {error or status}")
