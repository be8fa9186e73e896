"""The dispatcher: verified activities (`server.py` checked the token) to the neutral core, and
its answers back to Teams.

- A message (personal chat, or a channel message @mentioning the bot) is an `Event` of kind
  "message": the core routes it by its one grammar and answers through the outbox.
- An `adaptiveCard/action` invoke is answered in the HTTP response, well within Teams' 5 s
  (`Invoke answers` in the Teams brief): a replaced card, a form opened as card inputs, a short
  message for form errors or a private text reply. A deferred action (a survey's one-click
  answer) is only stored in the inbox before the answer; the inbox worker handles it and the
  replier edits the card after.
  A public reply is also posted where the card is.
- `conversationUpdate` and `installationUpdate` record conversation references; a personal
  install is the core's event `app.installed`.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

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
from chatbot.platforms.teams import conversations, translate
from chatbot.platforms.teams.client import Connector, endpoint
from chatbot.platforms.teams.server import Answer
from chatbot.text import plain_text

log = logging.getLogger(__name__)

CARD = "application/vnd.microsoft.card.adaptive"
TEXT = "application/vnd.microsoft.activity.message"
# No ephemeral messages (a private reply becomes a 1:1 message), no modal opened by a command (a
# card whose button opens the form), no home view, and no way to find a message sent in doubt;
# but a private text reply to a card's button or form is the invoke's own answer (a message
# shown to the person who clicked), not a 1:1 message costing a conversation and a post.
CAPABILITIES = Capabilities(
    ephemeral_replies=False,
    modals=False,
    home_view=False,
    message_lookup=False,
    click_replies=True,
)


def card_answer(card: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": 200, "type": CARD, "value": card}


def text_answer(text: str) -> dict[str, Any]:
    return {"statusCode": 200, "type": TEXT, "value": text}


class Renderer:
    """The card renderer (`render.py`), with the display names of the people a message
    mentions read from the stored references and the directory."""

    def __init__(self, bot: Bot, module: Any | None = None) -> None:
        self.bot = bot
        self._module = module

    @property
    def module(self) -> Any:
        if self._module is None:
            self._module = importlib.import_module("chatbot.platforms.teams.render")
        return self._module

    def names(self, message: Message) -> Mapping[str, str]:
        from chatbot.platforms.teams.sender import _MENTIONED, _texts

        ids = {m for text in _texts(message) for m in _MENTIONED.findall(text)}
        if not ids:
            return {}
        with self.bot.db.sessions() as session:
            return conversations.names(session, ids)

    def card(self, message: Message) -> dict[str, Any]:
        return dict(self.module.card(message, names=self.names(message)))

    def activity(self, message: Message) -> dict[str, Any]:
        return dict(self.module.activity(message, names=self.names(message)))

    def form_card(self, form: Any) -> dict[str, Any]:
        return dict(self.module.form_card(form))


class Replies:
    """What is said after the invoke's answer: a deferred action's result (the card edited in
    place, or a message in its conversation) and public replies. On a pool of threads, so the
    answer never waits for them. Fire and forget, like Slack's `respond`: a failure is logged."""

    def __init__(self, connector: Connector, renderer: Renderer, *, threads: int = 8) -> None:
        self.api = connector
        self.renderer = renderer
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="teams-followup")

    def reply(self, event: Event, response: Response) -> None:
        """The inbox's replier: a handled deferred action's response."""
        if isinstance(response, ReplaceMessage | Reply):
            self.pool.submit(self._send, event.reply_to, response)

    def _send(self, reply_to: str | None, response: ReplaceMessage | Reply) -> None:
        try:
            where = json.loads(reply_to or "{}")
            conversation, service_url = where["conversation"], where["service_url"]
        except (ValueError, KeyError, TypeError):
            return
        activity = self.renderer.activity(response.message)
        try:
            if isinstance(response, ReplaceMessage) and where.get("activity"):
                path = f"v3/conversations/{conversation}/activities/{where['activity']}"
                self.api.call(
                    "PUT", endpoint(service_url, path), json=activity | {"id": where["activity"]}
                )
            else:
                path = f"v3/conversations/{conversation}/activities"
                self.api.call("POST", endpoint(service_url, path), json=activity)
        except Exception as exc:  # fire and forget, like Slack's `respond`: logged, not raised
            log.warning("teams follow-up failed: %s", exc)


class TeamsApp:
    """`dispatch(activity)` for `POST /api/messages`, built from the composed `Bot`."""

    def __init__(
        self,
        bot: Bot,
        inbox: Inbox,
        replies: Replies,
        renderer: Renderer,
    ) -> None:
        self.bot = bot
        self.inbox = inbox
        self.replies = replies
        self.renderer = renderer
        bot.declare(translate.PLATFORM, CAPABILITIES)
        self.apology = Reply(Message.plain(bot.templates.render("common/apology.md.j2")))
        self._known: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._known_lock = threading.Lock()

    # --- the endpoint's entry point ---------------------------------------------------------

    def dispatch(self, activity: dict[str, Any]) -> Answer:
        try:
            inbound = translate.parse(activity)
        except translate.BadActivity as exc:
            log.info("teams activity refused: %s", exc)
            return Answer(400, {"error": str(exc)})
        event = inbound.event
        fresh = self._unseen(inbound.references)
        # A click answered now checks and stores its references in its own transaction (one
        # commit, not a read and then the click's write); anything else stores them first.
        in_click = event is not None and inbound.invoke and not self.bot.defers(event)
        if fresh and not in_click:
            try:
                self._record(fresh)
            except Exception:
                log.exception("recording teams conversation references failed")
            fresh = []
        if event is None:
            return Answer(200, None)
        if inbound.unresolved:
            event = self._resolve_mentions(event, inbound.unresolved)
        if inbound.invoke:
            return Answer(200, self._invoke(event, fresh))
        if self.bot.handler_for(self.bot.routed(event)) is None and event.kind == "event":
            return Answer(200, None)  # an event nobody handles (yet): nothing to say
        self._handle(event)
        return Answer(200, None)

    # --- invokes ----------------------------------------------------------------------------

    def _invoke(
        self, event: Event, fresh: list[translate.Reference] | None = None
    ) -> dict[str, Any]:
        """`fresh` references (not seen by this process as they are) are checked and, where the
        database holds them otherwise, stored in the click's own transaction (a person's first
        click brings their Bot Framework id), then remembered."""
        if fresh:
            try:
                response = self.bot.handle(
                    event, within=lambda session: self._store_changed(session, fresh)
                )
            except Exception:
                log.exception("handling %s %s failed", *self.bot.route_of(event))
                response = self.apology
                try:  # rolled back with the failed handling: stored on their own
                    self._record(fresh)
                except Exception:
                    log.exception("recording teams conversation references failed")
            else:
                self._remember(fresh)
            try:
                return self._answer(event, response)
            except Exception:
                log.exception("answering %s %s failed", *self.bot.route_of(event))
                return text_answer(plain_text(self.apology.message.text))
        if self.bot.defers(event):
            try:
                self.inbox.accept(event)
            except Exception:
                log.exception("storing %s %s failed", *self.bot.route_of(event))
                return text_answer(plain_text(self.apology.message.text))
            return text_answer(plain_text(self.bot.templates.render("common/received.md.j2")))
        response = self._handle(event)
        try:
            return self._answer(event, response)
        except Exception:
            log.exception("answering %s %s failed", *self.bot.route_of(event))
            return text_answer(plain_text(self.apology.message.text))

    def _answer(self, event: Event, response: Response) -> dict[str, Any]:
        if isinstance(response, ReplaceMessage):
            return card_answer(self.renderer.card(response.message))
        if isinstance(response, OpenForm):
            return card_answer(self.renderer.form_card(response.form))
        if isinstance(response, FormErrors):
            return text_answer("\n".join(plain_text(e) for e in response.errors.values()))
        if isinstance(response, Reply):
            if response.visibility == "public":
                self.replies.pool.submit(self.replies._send, event.reply_to, response)
            return text_answer(plain_text(response.message.text))
        if isinstance(response, CloseForm) and response.notice:
            return card_answer(self.renderer.card(Message.plain(response.notice)))
        if isinstance(response, CloseForm) or event.kind == "form":
            done = self.bot.templates.render("common/done.md.j2")
            return card_answer(self.renderer.card(Message.plain(done)))
        # Nothing to show the clicker here (a refusal or a change reaches them as a message or
        # an edited card): the click was received.
        return text_answer(plain_text(self.bot.templates.render("common/received.md.j2")))

    # --- the core ---------------------------------------------------------------------------

    def _handle(self, event: Event) -> Response:
        try:
            return self.bot.handle(event)
        except Exception:
            log.exception("handling %s %s failed", *self.bot.route_of(event))
            return self.apology

    def _resolve_mentions(self, event: Event, unresolved: dict[str, str]) -> Event:
        with self.bot.db.sessions() as session:
            known = conversations.by_bot_framework_id(session, unresolved.values())
        found = {label: known[bf] for label, bf in unresolved.items() if bf in known}
        return replace(event, mentions={**event.mentions, **found}) if found else event

    def _unseen(self, references: tuple[translate.Reference, ...]) -> list[translate.Reference]:
        """The references this process has not seen as they are: a message refreshes its
        sender's, usually the same, which then costs no database work at all."""
        with self._known_lock:
            return [r for r in references if self._known.get((r.kind, r.ref)) != _signature(r)]

    def _store_changed(self, session: Session, fresh: list[translate.Reference]) -> None:
        """Store those of `fresh` the database does not hold as they are. Read first: after a
        restart, a burst of clicks from people already known (an alert's "I'm affected")
        would otherwise be a burst of writes."""
        stored = conversations.signatures(session, [(r.kind, r.ref) for r in fresh])
        changed = [r for r in fresh if not _holds(stored.get((r.kind, r.ref)), r)]
        if changed:
            conversations.record(session, changed, self.bot.clock.now())

    def _record(self, fresh: list[translate.Reference]) -> None:
        """Store the changed of `fresh` on their own, then remember them all. The read takes no
        write lock; only what changed is written."""
        with self.bot.db.sessions() as session:
            stored = conversations.signatures(session, [(r.kind, r.ref) for r in fresh])
        changed = [r for r in fresh if not _holds(stored.get((r.kind, r.ref)), r)]
        if changed:
            with self.bot.db.transaction() as session:
                conversations.record(session, changed, self.bot.clock.now())
        self._remember(fresh)

    def _remember(self, fresh: list[translate.Reference]) -> None:
        with self._known_lock:
            for ref in fresh:
                self._known[(ref.kind, ref.ref)] = _signature(ref)


def _signature(ref: translate.Reference) -> tuple[str, str, str | None, bool]:
    return (ref.conversation_id, ref.service_url, ref.user_id, ref.installed)


def _holds(stored: tuple[str, str, str | None, bool] | None, ref: translate.Reference) -> bool:
    """Whether the stored reference already says what `ref` says (a reference without the
    person's Bot Framework id keeps the stored one, so that id is not compared)."""
    if stored is None:
        return False
    conversation, service_url, user_id, installed = stored
    return (conversation, service_url, installed) == (
        ref.conversation_id,
        ref.service_url,
        ref.installed,
    ) and (ref.user_id is None or ref.user_id == user_id)


def build_app(bot: Bot, connector: Connector, inbox: Inbox, renderer: Renderer) -> TeamsApp:
    """The dispatcher, with its replier registered in `inbox` (shared with Slack's, if any)."""
    replies = Replies(connector, renderer)
    inbox.replies[translate.PLATFORM] = replies.reply
    return TeamsApp(bot, inbox, replies, renderer)
