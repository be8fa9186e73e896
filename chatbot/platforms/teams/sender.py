"""Deliveries → the Bot Connector. Classifies every failure so the outbox knows what to do next.

- A person: their stored 1:1 conversation, or one created (`POST /v3/conversations`) and stored.
- A channel: a new message in it; a thread address (or a reply under a sent message): the
  channel's reply-in-thread form, `{channel};messageid={root}`.
- An edit: `PUT …/activities/{id}`. An upload: the chart travels in the card (`render.activity`).
- "home": Teams has no home view (`Capabilities.home_view` is False); such a job fails.

Limits: every call is paced to 50 per second for the tenant (one bucket shared by the sending
threads); sends to one conversation keep Teams' per-conversation windows; a 429 holds every
Teams call back for its Retry-After (never counted against the row); 412, 502 and 504 back off
with jitter.

Never twice, as far as Teams allows. The Bot Connector takes no idempotency key and a bot cannot
read a conversation back, so nothing can be looked up after the fact. What the bot can do is
record a post the moment Teams answers: each post's activity id is committed to `teams_sends`
(its own small transaction) before the outbox's round records it, and `find_sent` reads it there,
so a crash after that commit never posts again. What remains is at least once in two windows:
the process dying while a post is in flight (from sending the request until that commit: one
Bot Connector round trip and a small INSERT, so at most one message per sending thread), and a
time-out after the request reached Teams (the answer lost: Teams may have posted it). Both are
retried and may show once more; a message is never dropped for being in doubt. Rows claimed but
not yet attempted when the process died have no journal row and are simply sent.
"""

from __future__ import annotations

import importlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Connection

from chatbot.addresses import Address
from chatbot.config import Settings
from chatbot.db import Database
from chatbot.delivery import Failed, Job, Outcome, Retry, Sent
from chatbot.messages import Message
from chatbot.platforms.teams import conversations
from chatbot.platforms.teams.client import (
    Connector,
    ConversationLimits,
    TeamsCallError,
    endpoint,
)
from chatbot.text import END_MENTION, MENTION

log = logging.getLogger(__name__)

# A journaled post outlives every retry of its delivery (25 attempts, 5 minutes apart at most).
JOURNAL_KEPT = timedelta(days=7)
PRUNE_EVERY = 1000  # posts between two clean-ups of the journal
SHARES = ("post", "upload")  # actions that, repeated blindly, would show twice
BACKOFF = {412, 502, 504}  # Teams: retry these with exponential backoff and jitter
RenderActivity = Callable[..., dict[str, Any]]
RENDERED_KEPT = 64  # messages whose rendered activity is kept (a broadcast's copies share one)
TENANT_URL_FOR = 60.0  # seconds the tenant's service URL (for a new person's 1:1) is reused
_MENTIONED = re.compile(f"{MENTION}([^{END_MENTION}]*){END_MENTION}")


def _render_activity() -> RenderActivity:
    # render.py is the card renderer's module (the Teams brief's contract).
    render = importlib.import_module("chatbot.platforms.teams.render")
    return render.activity


class NoConversation(Exception):
    """Nothing stored to reach this address, and no way to create it."""


class TeamsSender:
    # Sending threads the delivery worker runs at least (`Sender`): a new person costs two
    # calls (create the 1:1, then post) plus two small commits, so four threads keep only about
    # 40 of Teams' 50 calls a second busy; eight keep the tenant's bucket (48/s) the limit.
    threads = 8

    def __init__(
        self,
        connector: Connector,
        db: Database,
        settings: Settings,
        *,
        render_activity: RenderActivity | None = None,
        limits: ConversationLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api = connector
        self.db = db
        self.client_id = settings.teams_client_id or ""
        self.tenant_id = settings.teams_tenant_id or ""
        self.default_service_url = settings.teams_default_service_url
        self.render = render_activity
        self.limits = limits or ConversationLimits()
        self.clock, self.sleep = clock, sleep
        self._service_urls: dict[str, str] = {}
        self._tenant_url: tuple[str | None, float] = (None, 0.0)
        self._rendered: dict[Message, dict[str, Any]] = {}
        self._journaled = 0
        self._lock = threading.Lock()

    # --- the Sender interface ---------------------------------------------------------------

    def send(self, job: Job) -> Outcome:
        if job.action == "home":
            return Failed("Teams has no home view")
        blocked = self.api.blocked_for()
        if blocked > 0:
            return Retry("waiting out a Teams rate limit", after=blocked, attempted=False)
        try:
            if job.action == "update":
                return self._edit(job)
            return self._post(job)
        except TeamsCallError as exc:
            return self._classify(exc, job)
        except NoConversation as exc:
            return Failed(str(exc))
        except httpx.ConnectError as exc:  # never reached Teams
            return Retry(f"network: {exc}")
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
                return Retry(f"network: {exc!r}")
            return Retry(f"network: {exc!r}", in_doubt=job.action in SHARES)
        except httpx.TransportError as exc:  # may have reached Teams
            return Retry(f"network: {exc!r}", in_doubt=job.action in SHARES)

    def find_sent(self, job: Job) -> Sent | None:
        """A post already answered by Teams, from the journal (Teams itself offers no lookup)."""
        with self.db.sessions() as session:
            found = conversations.journaled(session, job.key)
            if found is None:
                return None
            return Sent(message_id=found.activity_id, conversation=found.conversation_id)

    # --- sending ----------------------------------------------------------------------------

    def _post(self, job: Job) -> Outcome:
        conversation, service_url = self._where(job)
        target = conversation
        if job.thread_id and job.to.kind != "person":
            target = f"{conversation};messageid={job.thread_id}"
        waited = self._keep_conversation_limits(conversation)
        if waited is not None:
            return waited
        answer = self.api.call(
            "POST",
            endpoint(service_url, f"v3/conversations/{target}/activities"),
            json=self._activity(job.message),
        )
        # Teams has been seen to accept a post with 202 and no body: it was posted, so it is
        # sent (never posted again), just without an id to edit or reply under later.
        activity_id = str(answer.get("id") or "")
        now = _utcnow()
        with self.db.transaction() as session:  # at once: the window for a duplicate
            conversations.journal(
                session, key=job.key, conversation=conversation, activity=activity_id, now=now
            )
            with self._lock:
                self._journaled += 1
                prune = self._journaled % PRUNE_EVERY == 0
            if prune:
                conversations.forget_sends(session, before=now - JOURNAL_KEPT)
        return Sent(message_id=activity_id, conversation=conversation)

    def _edit(self, job: Job) -> Outcome:
        if not job.conversation or not job.edit_message_id:
            return Failed("nothing to edit: the message was never sent")
        service_url = self._service_url(job.conversation)
        waited = self._keep_conversation_limits(job.conversation)
        if waited is not None:
            return waited
        activity = self._activity(job.message) | {"id": job.edit_message_id}
        self.api.call(
            "PUT",
            endpoint(
                service_url,
                f"v3/conversations/{job.conversation}/activities/{job.edit_message_id}",
            ),
            json=activity,
        )
        return Sent(message_id=job.edit_message_id, conversation=job.conversation)

    def _activity(self, message: Message) -> dict[str, Any]:
        render = self.render or _render_activity()
        ids = {m for text in _texts(message) for m in _MENTIONED.findall(text)}
        if ids:  # names are read as they are now: not kept
            with self.db.sessions() as session:
                names: Mapping[str, str] = conversations.names(session, ids)
            return render(message, names=names)
        if message.file is not None:
            return render(message, names={})
        # A broadcast sends one message to thousands: it is rendered once (the activity is only
        # read after: posted as it is, or copied with the id of the message it edits).
        with self._lock:
            rendered = self._rendered.get(message)
        if rendered is None:
            rendered = render(message, names={})
            with self._lock:
                if len(self._rendered) >= RENDERED_KEPT:
                    self._rendered.clear()
                self._rendered[message] = rendered
        return rendered

    def _keep_conversation_limits(self, conversation: str) -> Retry | None:
        """Wait (briefly) for the conversation's windows; a longer wait goes back to the outbox."""
        for _ in range(3):
            wait = self.limits.wait(conversation, self.clock())
            if wait <= 0:
                return None
            if wait > 2:
                return Retry("conversation rate limit", after=wait, attempted=False)
            self.sleep(wait)
        return Retry("conversation rate limit", after=1, attempted=False)

    # --- where ------------------------------------------------------------------------------

    def _where(self, job: Job) -> tuple[str, str]:
        """(conversation id, service URL) of the job's destination."""
        if job.conversation:  # a reply under a message already sent: where it landed
            return job.conversation, self._service_url(job.conversation)
        to = job.to
        if to.kind == "person":
            return self._personal(to)
        return to.id, self._service_url(to.id)

    def _personal(self, to: Address) -> tuple[str, str]:
        # A read on its own connection: it takes no write lock (SQLite), so the sending threads
        # never queue behind the clicks' commits to learn where a person is.
        with self.db.reading() as connection:
            ref = conversations.person_reference(connection, to.id)
            if ref is not None and ref.installed:
                return ref.conversation_id, ref.service_url
            user = ref.user_id if ref is not None and ref.user_id else to.id
            service_url = (
                ref.service_url if ref is not None else self._tenant_service_url(connection)
            ) or self.default_service_url
        answer = self.api.call(
            "POST",
            endpoint(service_url, "v3/conversations"),
            json={
                "isGroup": False,
                "bot": {"id": f"28:{self.client_id}"},
                "members": [{"id": user}],
                "tenantId": self.tenant_id,
                "channelData": {"tenant": {"id": self.tenant_id}},
            },
        )
        conversation = str(answer.get("id") or "")
        if not conversation:
            raise TeamsCallError("create conversation", 502, "answer without id")
        service_url = str(answer.get("serviceUrl") or service_url)
        from chatbot.platforms.teams.translate import Reference

        with self.db.transaction() as session:
            conversations.record(
                session,
                [
                    Reference(
                        kind="person",
                        ref=to.id,
                        conversation_id=conversation,
                        service_url=service_url,
                        tenant_id=self.tenant_id,
                        user_id=user if user != to.id else None,
                    )
                ],
                _utcnow(),
            )
        return conversation, service_url

    def _tenant_service_url(self, connection: Connection) -> str | None:
        """`conversations.any_service_url`, read again at most every `TENANT_URL_FOR` seconds:
        a broadcast to thousands of new people asks for it once per person."""
        now = self.clock()
        with self._lock:
            known, at = self._tenant_url
        if known is not None and now - at < TENANT_URL_FOR:
            return known
        found = conversations.any_service_url(connection)
        with self._lock:
            self._tenant_url = (found, now)
        return found

    def _service_url(self, conversation: str) -> str:
        with self._lock:
            known = self._service_urls.get(conversation)
        if known:
            return known
        with self.db.sessions() as session:
            found = conversations.service_url_of(session, conversation)
            found = found or conversations.any_service_url(session)
        url = found or self.default_service_url
        if found:
            with self._lock:
                self._service_urls[conversation] = url
        return url

    # --- outcomes ---------------------------------------------------------------------------

    def _classify(self, exc: TeamsCallError, job: Job) -> Outcome:
        if exc.status == 429:
            # Refused, not delivered: every Teams call waits it out, and it never uses up the
            # row's attempts (nothing is given up for rate limiting).
            after = max(exc.retry_after or 1.0, 0.5)
            self.api.block(after)
            return Retry(f"rate limited ({job.action})", after=after, attempted=False)
        if exc.status in BACKOFF:
            # 502 and 504 may have been posted anyway (the gateway gave up waiting).
            doubt = exc.status != 412 and job.action in SHARES
            return Retry(
                f"teams {exc.status} {exc.detail}".strip(),
                after=_jittered(job.attempts),
                in_doubt=doubt,
            )
        if exc.status >= 500:
            return Retry(
                f"teams {exc.status} {exc.detail}".strip(),
                after=_jittered(job.attempts),
                in_doubt=job.action in SHARES,
            )
        if exc.status in (401, 403):  # our credentials, or the app not installed yet
            return Retry(f"teams {exc.status} {exc.detail}".strip(), after=30)
        if exc.status == 404 and job.to.kind == "person" and not job.conversation:
            self._forget(job.to.id)  # the 1:1 conversation is gone: create it again next time
            return Retry(f"teams 404 {exc.detail}".strip(), after=_jittered(job.attempts))
        return Failed(f"teams {exc.status} {exc.detail}".strip())

    def _forget(self, person: str) -> None:
        with self.db.transaction() as session:
            ref = conversations.find(session, "person", person)
            if ref is not None:
                ref.installed = False


def _jittered(attempts: int) -> float:
    """Exponential backoff with jitter: between half and all of 2^attempts seconds (max 5 min)."""
    cap = min(300.0, 2.0 ** max(attempts, 0))
    return cap / 2 + random.uniform(0, cap / 2)


def _texts(message: Message) -> list[str]:
    texts = [message.text]
    for block in message.blocks:
        texts.append(block.text)
        texts.extend(fact.value for fact in block.fields)
    return texts


def _utcnow() -> datetime:
    return datetime.now(UTC)
