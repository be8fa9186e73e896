"""The Bolt app: every Slack command, button and form goes to the neutral core; replies come
back as acks, modals and `respond()` calls. Built explicitly from the composed `Bot`."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import urllib3
from slack_bolt import Ack, App
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from chatbot.bot import Bot, Capabilities, Event
from chatbot.inbox import Inbox
from chatbot.messages import (
    CloseForm,
    FormErrors,
    Message,
    OpenForm,
    ReplaceMessage,
    Reply,
    Response,
)
from chatbot.platforms.slack import render, translate

log = logging.getLogger(__name__)
ANY = re.compile(r".+")
JSON_CONTENT = {"Content-Type": "application/json"}
# Ephemeral messages, modals by trigger_id, App Home, and history searched by the delivery key
# in a message's metadata.
CAPABILITIES = Capabilities(
    ephemeral_replies=True, modals=True, home_view=True, message_lookup=True, commands=True
)


def response_type(reply: Reply) -> str:
    return "ephemeral" if reply.visibility == "private" else "in_channel"


def static_authorize(token: str | None) -> Callable[..., AuthorizeResult]:
    """Single-workspace authorisation without a Slack call per process start or request.

    Bolt's default calls auth.test before the first listener runs; while Slack is down that
    would refuse requests we can store and answer ourselves."""

    def authorize(enterprise_id: str | None, team_id: str | None, **_: Any) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)

    return authorize


class Responder:
    """Posts to an interaction's `response_url` over pooled keep-alive connections. Bolt's
    `respond` opens a new connection (against real Slack, a new TLS handshake) for every call,
    once per survey click. urllib3, not httpx: a post costs half the CPU (0.5 against 0.9 ms),
    and under a burst of clicks these posts compete with the acks for the interpreter. Fire
    and forget, like `respond`: a failure is logged."""

    def __init__(self, *, timeout: float = 10, connections: int = 16) -> None:
        self.http = urllib3.PoolManager(maxsize=connections, timeout=timeout, retries=False)

    def __call__(self, response_url: str | None, **payload: Any) -> None:
        if not response_url:  # a click in a modal or on App Home has nothing to reply to
            return
        try:
            answer = self.http.request(
                "POST", response_url, body=json.dumps(payload).encode(), headers=JSON_CONTENT
            )
        except urllib3.exceptions.HTTPError as exc:
            log.warning("response_url post failed: %s", exc)
            return
        if answer.status >= 400:
            log.warning("response_url post refused: %s %s", answer.status, answer.data[:200])


class Replies:
    """Everything said after the ack: a form opened, a reply through the response_url. On a
    pool of threads, so neither holds the request (or the inbox worker) up."""

    def __init__(self, apology: str, *, threads: int = 16) -> None:
        self.apology = apology
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="followup")
        self.respond = Responder(connections=threads)

    def reply(self, event: Event, response: Response) -> None:
        """An action's response: replace the message clicked, or an ephemeral reply."""
        if isinstance(response, ReplaceMessage):
            how: dict[str, Any] = {"replace_original": True}
        elif isinstance(response, Reply):
            how = {"response_type": response_type(response), "replace_original": False}
        else:
            return
        self.pool.submit(self.respond, event.reply_to, **how, **render.message(response.message))

    def open_form(
        self, client: WebClient, body: dict[str, Any], form: Any, *, clicked: bool = False
    ) -> None:
        """Open the form's modal; `clicked`: opened by a message's button, whose response_url
        the modal keeps for a form that replaces that message when submitted."""
        self.pool.submit(self._open_form, client, body, form, clicked)

    def _open_form(self, client: WebClient, body: dict[str, Any], form: Any, clicked: bool) -> None:
        reply_to = body.get("response_url") if clicked else None
        try:
            client.views_open(
                trigger_id=body["trigger_id"], view=render.view(form, reply_to=reply_to)
            )
        except Exception:
            log.exception("views.open failed")
            self.respond(
                body.get("response_url"),
                text=self.apology,
                response_type="ephemeral",
                replace_original=False,
            )


def _token_given_by_client(record: logging.LogRecord) -> bool:
    """Bolt reads SLACK_BOT_TOKEN from the environment even when given a client, and warns on
    every start that the token "will be unused": the client is ours on purpose (its base URL,
    timeout and retries), and the token authorises each request (`static_authorize`)."""
    return "`token` will be unused" not in record.getMessage()


def build_app(bot: Bot, client: WebClient, replies: Replies, inbox: Inbox) -> App:
    """`client` carries no token: `authorize` supplies it for every request.

    Listeners run in the request's own thread (`process_before_response`): they store, then
    ack, and the ack is the HTTP response. Bolt's other mode hands each listener to a pool and
    polls every 10 ms for the ack, which costs more than our database work. What may be slow and
    need not hold the ack (opening a modal, `respond`) goes to `replies`. A deferred action
    (`Bot.defers`) is only stored in the `inbox` before the ack; its worker handles it."""
    settings = bot.settings
    bot.declare(translate.PLATFORM, CAPABILITIES)
    logging.getLogger("slack_bolt.App").addFilter(_token_given_by_client)
    app = App(
        client=client,
        authorize=static_authorize(settings.slack_bot_token),
        signing_secret=settings.slack_signing_secret,
        process_before_response=True,
        raise_error_for_unhandled_request=False,
    )
    apology = Reply(Message.plain(replies.apology))

    def handle(event: Event) -> Any:
        try:
            return bot.handle(event)
        except Exception:
            log.exception("handling %s %s failed", *bot.route_of(event))
            return apology

    def on_command(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        response = handle(translate.command(body))
        if isinstance(response, Reply):
            ack(response_type=response_type(response), **render.message(response.message))
        else:
            ack()
        if isinstance(response, OpenForm):
            replies.open_form(client, body, response.form)

    def on_action(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        event = translate.action(body)
        if bot.defers(event):
            try:
                inbox.accept(event)
                response = None
            except Exception:
                log.exception("storing %s %s failed", *bot.route_of(event))
                response = apology
        else:
            response = handle(event)
        ack()
        if isinstance(response, OpenForm):
            replies.open_form(client, body, response.form, clicked=True)
        elif response is not None:
            replies.reply(event, response)

    def on_form(ack: Ack, body: dict[str, Any]) -> None:
        event = translate.form(body)
        response = handle(event)
        if isinstance(response, FormErrors):
            ack(response_action="errors", errors=render.errors(response.errors))
        elif isinstance(response, Reply):  # an unexpected failure: show it in the form
            ack(
                response_action="errors",
                errors=render.errors({name: response.message.text for name in _field_names(body)}),
            )
        elif isinstance(response, CloseForm) and response.notice:
            # What the form did ("PS-1 is on its way to 40 people") takes the modal's place,
            # with Done to close it.
            title = ((body.get("view") or {}).get("title") or {}).get("text") or ""
            ack(response_action="update", view=render.done_view(title, response.notice))
        else:
            # A form's ReplaceMessage is for the message it was opened from: where the form
            # says so (`Form.replaces_message`), through the opening click's response_url, as
            # the modal closes; else the modal closes over its message, left as it was.
            assert response is None or isinstance(response, CloseForm | ReplaceMessage)
            ack()
            if isinstance(response, ReplaceMessage) and event.reply_to:
                replies.reply(event, response)

    # Bolt tries listeners in this order, each with its matchers: clicks, which come in
    # bursts (a survey's answers), are matched first.
    app.action(ANY)(on_action)
    for name in bot.commands:
        app.command(f"/{name}")(on_command)
    app.view(ANY)(on_form)

    @app.event("app_home_opened")
    def home_opened(body: dict[str, Any]) -> None:
        """The Home tab was opened: the core stores a publish of the person's home (sent by the
        outbox). The Messages tab opens this event too; it needs nothing."""
        if (body.get("event") or {}).get("tab", "home") == "home":
            handle(translate.home_opened(body))

    @app.event("message")
    def direct_message(body: dict[str, Any]) -> None:
        """A message in the bot's Messages tab: the core routes its text by its one grammar and
        answers through the outbox (an event has nothing to reply to)."""
        event = translate.direct_message(body)
        if event is not None:
            handle(event)

    return app


def _field_names(body: dict[str, Any]) -> list[str]:
    values = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    return list(values)[:1] or ["text"]
