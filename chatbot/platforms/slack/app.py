"""The Bolt app: every Slack command, button and form goes to the neutral core; replies come
back as acks, modals and `respond()` calls. Built explicitly from the composed `Bot`."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from slack_bolt import Ack, App
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from chatbot.bot import Bot, Event
from chatbot.messages import CloseForm, FormErrors, Message, OpenForm, ReplaceMessage, Reply
from chatbot.platforms.slack import render, translate

log = logging.getLogger(__name__)
ANY = re.compile(r".+")
APOLOGY = (
    ":warning: Sorry, something went wrong on our side and this was not recorded. "
    "Please try again in a minute; if it keeps happening, call the service desk."
)


def static_authorize(token: str | None) -> Callable[..., AuthorizeResult]:
    """Single-workspace authorisation without a Slack call per process start or request.

    Bolt's default calls auth.test before the first listener runs; while Slack is down that
    would refuse requests we can store and answer ourselves."""

    def authorize(enterprise_id: str | None, team_id: str | None, **_: Any) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)

    return authorize


class Responder:
    """Posts to an interaction's `response_url` over one pooled keep-alive client. Bolt's
    `respond` opens a new connection (against real Slack, a new TLS handshake) for every call,
    once per survey click. Fire and forget, like `respond`: a failure is logged."""

    def __init__(self, *, timeout: float = 10, connections: int = 16) -> None:
        self.http = httpx.Client(
            timeout=timeout,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    def __call__(self, response_url: str | None, **payload: Any) -> None:
        if not response_url:  # a click in a modal or on App Home has nothing to reply to
            return
        try:
            answer = self.http.post(response_url, json=payload)
        except httpx.HTTPError as exc:
            log.warning("response_url post failed: %s", exc)
            return
        if answer.status_code >= 400:
            log.warning("response_url post refused: %s %s", answer.status_code, answer.text[:200])


def build_app(bot: Bot, client: WebClient, *, followup_threads: int = 16) -> App:
    """`client` carries no token: `authorize` supplies it for every request.

    Listeners run in the request's own thread (`process_before_response`): they store, then
    ack, and the ack is the HTTP response. Bolt's other mode hands each listener to a pool and
    polls every 10 ms for the ack, which costs more than our database work. What may be slow and
    need not hold the ack (opening a modal, `respond`) goes to `followups`."""
    settings = bot.settings
    app = App(
        client=client,
        authorize=static_authorize(settings.slack_bot_token),
        signing_secret=settings.slack_signing_secret,
        process_before_response=True,
        raise_error_for_unhandled_request=False,
    )
    followups = ThreadPoolExecutor(max_workers=followup_threads, thread_name_prefix="followup")
    respond = Responder(connections=followup_threads)

    def handle(event: Event) -> Any:
        try:
            return bot.handle(event)
        except Exception:
            log.exception("handling %s %s failed", event.kind, event.name)
            return Reply(Message.plain(APOLOGY))

    def open_form(client: WebClient, body: dict[str, Any], form: Any) -> None:
        try:
            client.views_open(trigger_id=body["trigger_id"], view=render.view(form))
        except Exception:
            log.exception("views.open failed")
            respond(
                body.get("response_url"),
                text=APOLOGY,
                response_type="ephemeral",
                replace_original=False,
            )

    def on_command(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        response = handle(translate.command(body))
        if isinstance(response, Reply):
            ack(response_type="ephemeral", **render.message(response.message))
        else:
            ack()
        if isinstance(response, OpenForm):
            followups.submit(open_form, client, body, response.form)

    def on_action(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        response = handle(translate.action(body))
        ack()
        url = body.get("response_url")
        if isinstance(response, OpenForm):
            followups.submit(open_form, client, body, response.form)
        elif isinstance(response, ReplaceMessage):
            followups.submit(
                respond, url, replace_original=True, **render.message(response.message)
            )
        elif isinstance(response, Reply):
            followups.submit(
                respond,
                url,
                response_type="ephemeral",
                replace_original=False,
                **render.message(response.message),
            )

    def on_form(ack: Ack, body: dict[str, Any]) -> None:
        response = handle(translate.form(body))
        if isinstance(response, FormErrors):
            ack(response_action="errors", errors=response.errors)
        elif isinstance(response, Reply):  # an unexpected failure: show it in the form
            ack(
                response_action="errors",
                errors={name: response.message.text[:150] for name in _field_names(body)},
            )
        else:
            assert response is None or isinstance(response, CloseForm)
            ack()

    for name in bot.commands:
        app.command(name)(on_command)
    app.action(ANY)(on_action)
    app.view(ANY)(on_form)

    @app.event("app_home_opened")
    def home_opened(body: dict[str, Any]) -> None:
        """The Home tab was opened: the core stores a publish of the person's home (sent by the
        outbox). The Messages tab opens this event too; it needs nothing."""
        if (body.get("event") or {}).get("tab", "home") == "home":
            handle(translate.home_opened(body))

    return app


def _field_names(body: dict[str, Any]) -> list[str]:
    values = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    return list(values)[:1] or ["text"]
