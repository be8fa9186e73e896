"""The triage channel: a card per request with Claim, Escalate, Ask, Resolve and Reopen, edited in
place as the request changes; and the requester's direct message at every step."""

from __future__ import annotations

import logging

from chatbot import delivery, identity, requests, signals
from chatbot.addresses import Address
from chatbot.bot import Context, Event, Routes
from chatbot.db.models import Request
from chatbot.messages import (
    Block,
    Button,
    CloseForm,
    Fact,
    Field,
    Form,
    Message,
    OpenForm,
    Outgoing,
    Refusal,
    Response,
)
from chatbot.requests import Change, RequestError
from chatbot.text import Neutral, literal, mention, shorten
from commands import rating

log = logging.getLogger(__name__)
routes = Routes()

CLAIM = "triage.claim"
ESCALATE = "triage.escalate"
ASK = "triage.ask"
RESOLVE = "triage.resolve"
REOPEN = "triage.reopen"
RESOLVE_FORM = "triage.resolve_form"
ASK_FORM = "triage.ask_form"
REQUESTER_REOPEN = "requester.reopen"
REQUESTER_ANSWER = "requester.answer"
ANSWER_FORM = "requester.answer_form"
SAVE_ARTICLE = "kb.save"  # handled by `commands.kb`

TIER_NAMES = {1: "I", 2: "II", 3: "III"}
URGENCY_ICONS = {"low": "⚪", "normal": "🔵", "high": "🟠", "critical": "🔴"}
LAST_CHANGE = {
    "created": "new",
    "claimed": "claimed by {actor}",
    "escalated": "escalated to Tier {tier} by {actor}",
    "asked": "waiting for the requester's input (asked by {actor})",
    "answered": "the requester answered",
    "resolved": "resolved by {actor}",
    "reopened": "reopened by {actor}",
    "rated": "rated {score}/5 by the requester",
    "self_served": "solved by the requester with a suggested article",
}


def _when(ctx: Context) -> str:
    return ctx.now.strftime("%d %b %H:%M UTC")


def card(ctx: Context, request: Request, last: str) -> Message:
    """The triage card, from the request's current state."""
    fields = [
        Fact("Requester", mention(request.requester)),
        Fact("State", literal(request.state)),
        Fact("Category", literal(request.category)),
        Fact("Urgency", f"{URGENCY_ICONS[request.urgency]} {literal(request.urgency)}"),
        Fact("Queue", f"{literal(request.queue)} · Tier {TIER_NAMES[request.tier]}"),
        Fact("Assignee", mention(request.assignee) if request.assignee else "—"),
    ]
    if request.department:
        fields.append(Fact("Department", literal(request.department)))
    if request.service:
        fields.append(Fact("Service", literal(request.service)))
    buttons = _buttons(request)
    blocks = [
        Block("header", text=f"{request.ref} · {literal(request.category)} · {request.urgency}"),
        Block(
            "section", text=ctx.render("triage/card.md.j2", request=request), fields=tuple(fields)
        ),
    ]
    if request.state == "resolved" and request.resolution:
        blocks.append(Block("section", text=f"**Resolution:** {shorten(request.resolution, 2500)}"))
    blocks.append(
        Block("context", text=ctx.render("triage/card_context.md.j2", request=request, last=last))
    )
    if buttons:
        blocks.append(Block("actions", buttons=tuple(buttons)))
    return Message(text=f"{request.ref} ({request.urgency}) {request.state}", blocks=tuple(blocks))


def _buttons(request: Request) -> list[Button]:
    value = str(request.id)
    if request.state == "resolved":
        return [Button("Reopen", REOPEN, value), Button("Save as article", SAVE_ARTICLE, value)]
    buttons = [Button("Claim", CLAIM, value, style="primary")] if request.state == "open" else []
    if request.tier < 3:
        buttons.append(Button(f"Escalate to Tier {TIER_NAMES[request.tier + 1]}", ESCALATE, value))
    buttons.append(Button("Ask requester", ASK, value))
    buttons.append(Button("Resolve", RESOLVE, value, style="primary"))
    return buttons


def card_key(request: Request) -> str:
    return f"request:{request.id}:card"


def announce(ctx: Context, request: Request, *, card_delay: float = 0) -> None:
    """A new request: its card in the triage channel (after `card_delay` seconds: while the
    requester reads suggested articles), a receipt to the requester."""
    channel = ctx.settings.triage_channel(request.platform)
    if channel:
        message = card(ctx, request, last=f"new at {_when(ctx)}")
        manager = _manager(ctx, request)
        if manager:
            note = ctx.render("triage/manager_note.md.j2", request=request, manager=manager)
            message = Message(
                text=message.text, blocks=(*message.blocks, Block("section", text=note))
            )
        card_id = ctx.send(
            Outgoing(key=card_key(request), to=channel, message=message, delay_seconds=card_delay)
        )
        requests.set_card(session=ctx.session, request=request, delivery_id=card_id)
    else:
        log.warning("TECHHELP_TRIAGE_CHANNEL is not set: %s has no triage card", request.ref)
    tell_requester(
        ctx,
        request,
        "received",
        actor=request.logged_by or request.requester,
        held_minutes=held_minutes(card_delay) if channel else None,
    )


def held_minutes(card_delay: float) -> int | None:
    """The minutes a card waits for the desk, as the requester is told; None: it goes now."""
    return max(1, round(card_delay / 60)) if card_delay > 0 else None


def _manager(ctx: Context, request: Request) -> str | None:
    if request.urgency not in ("high", "critical"):
        return None
    requester = ctx.identity(request.platform, request.requester)
    department = requester.department(ctx.settings)
    if not department or not department.manager:
        return None
    return identity.account_on(
        session=ctx.session, entry=department.manager, platform=request.platform
    )


def tell_requester(
    ctx: Context,
    request: Request,
    kind: str,
    *,
    actor: str,
    event_id: int | None = None,
    **values: object,
) -> None:
    text = ctx.render(f"requester/{kind}.md.j2", request=request, actor=actor, **values)
    blocks: list[Block] = [Block("section", text=text)]
    if kind == "resolved":
        blocks.append(
            Block("actions", buttons=(Button("Reopen", REQUESTER_REOPEN, str(request.id)),))
        )
    if kind == "asked":
        blocks.append(
            Block(
                "actions",
                buttons=(
                    Button("Answer", REQUESTER_ANSWER, f"{request.id}:{event_id}", style="primary"),
                ),
            )
        )
    ctx.send(
        Outgoing(
            key=f"request:{request.id}:dm:{kind}:{event_id or 0}",
            to=Address.person(request.platform, request.requester),
            message=Message(text=text, blocks=tuple(blocks)),
        )
    )
    signals.request_changed.send(
        ctx, signals.RequestChanged(request_id=request.id, requester=request.requester, change=kind)
    )


def publish(ctx: Context, change: Change, **values: object) -> None:
    """A change: edit the card in place, tell the requester, look after the rating prompt."""
    request, event = change.request, change.event
    # Only bot-made parts go into this line (a mention, a tier, a score), so it is trusted.
    last = Neutral(
        LAST_CHANGE[event.kind].format(
            actor=mention(event.actor),
            tier=TIER_NAMES[request.tier],
            score=event.detail.get("score"),
        )
    )
    if request.card_delivery_id:
        ctx.send(
            Outgoing(
                key=f"request:{request.id}:card:edit:{event.id}",
                to=delivery.destination(ctx.session, request.card_delivery_id),
                message=card(ctx, request, last=Neutral(f"{last} at {_when(ctx)}")),
                edit_of=request.card_delivery_id,
            )
        )
    if event.kind in ("claimed", "escalated", "asked", "resolved", "reopened"):
        tell_requester(
            ctx,
            request,
            event.kind,
            actor=event.actor,
            event_id=event.id,
            tier=TIER_NAMES[request.tier],
            **values,
        )
    if event.kind == "resolved":
        rating.schedule(ctx, request)
    elif event.kind == "reopened":
        rating.withdraw(ctx, request)


def _request(ctx: Context, value: str, *, field: str | None = None) -> Request:
    """The request a button or form refers to; a forged or stale reference is refused."""
    try:
        request_id = int(value.split(":", 1)[0])
    except ValueError:
        raise RequestError("That button's request reference is not valid.", field=field) from None
    try:
        return requests.get(session=ctx.session, request_id=request_id)
    except RequestError as exc:
        raise RequestError(str(exc), field=field) from None


def _card_request(ctx: Context, event: Event, value: str, *, field: str | None = None) -> Request:
    """The request a card's button or form refers to, if `event.user` is on the service desk:
    staff and admins for every card, a queue's members for their queue's. Anyone else is told
    so and nothing changes, whatever request id the button or the form carries."""
    settings, actor = ctx.settings, ctx.actor(event)
    refusal = ctx.render("triage/service_desk_only.md.j2")
    if not actor.is_service_desk(settings):
        raise Refusal(refusal, field=field)  # before any lookup: ids are not probed
    request = _request(ctx, value, field=field)
    if not actor.is_service_desk(settings, request.queue):
        raise Refusal(refusal, field=field)
    return request


def _text(event: Event, missing: str) -> str:
    """The form's one text field, which must not be empty."""
    text = event.values.get("text", "").strip()
    if not text:
        raise Refusal(missing, field="text")
    return text


@routes.action(CLAIM)
def on_claim(event: Event, ctx: Context) -> Response:
    request = _card_request(ctx, event, event.value)
    publish(
        ctx, requests.claim(session=ctx.session, request=request, actor=event.user, now=ctx.now)
    )
    return None


@routes.action(ESCALATE)
def on_escalate(event: Event, ctx: Context) -> Response:
    request = _card_request(ctx, event, event.value)
    change = requests.escalate(session=ctx.session, request=request, actor=event.user, now=ctx.now)
    publish(ctx, change)
    return None


@routes.action(REOPEN)
@routes.action(REQUESTER_REOPEN)
def on_reopen(event: Event, ctx: Context) -> Response:
    if event.name == REOPEN:
        request = _card_request(ctx, event, event.value)
    else:
        request = _request(ctx, event.value)
        if event.user != request.requester:
            raise RequestError(f"Only the person who asked can reopen {request.ref} from here.")
    publish(
        ctx, requests.reopen(session=ctx.session, request=request, actor=event.user, now=ctx.now)
    )
    return None


def _text_form(
    form_id: str, request: Request, *, title: str, submit: str, label: str, intro: str = ""
) -> Form:
    """A form of one text field about one request (resolution note, question, answer)."""
    return Form(
        form_id=form_id,
        title=f"{title} {request.ref}",
        submit=submit,
        intro=intro,
        context=str(request.id),
        fields=(Field("text", label, multiline=True, max_length=3000),),
    )


@routes.action(RESOLVE)
def on_resolve(event: Event, ctx: Context) -> Response:
    request = _card_request(ctx, event, event.value)
    if request.state == "resolved":
        raise RequestError(f"{request.ref} is already resolved.")
    return OpenForm(
        _text_form(
            RESOLVE_FORM,
            request,
            title="Resolve",
            submit="Resolve",
            label="Resolution note",
            intro=ctx.render("triage/resolve_intro.md.j2"),
        )
    )


@routes.form(RESOLVE_FORM)
def on_resolve_form(event: Event, ctx: Context) -> Response:
    request = _card_request(ctx, event, event.context, field="text")
    note = _text(event, "Please say what was done: the requester reads this note.")
    change = requests.resolve(
        session=ctx.session, request=request, actor=event.user, note=note, now=ctx.now
    )
    publish(ctx, change)
    return CloseForm()


@routes.action(ASK)
def on_ask(event: Event, ctx: Context) -> Response:
    request = _card_request(ctx, event, event.value)
    return OpenForm(
        _text_form(
            ASK_FORM,
            request,
            title="Ask about",
            submit="Send",
            label="Your question",
            intro=ctx.render("triage/ask_intro.md.j2", request=request),
        )
    )


@routes.form(ASK_FORM)
def on_ask_form(event: Event, ctx: Context) -> Response:
    request = _card_request(ctx, event, event.context, field="text")
    question = _text(event, "Please write the question for the requester.")
    change = requests.ask(
        session=ctx.session, request=request, actor=event.user, question=question, now=ctx.now
    )
    publish(ctx, change, question=question)
    _thread_note(ctx, request, "triage/question_posted.md.j2", change, text=question)
    return CloseForm()


def _thread_note(
    ctx: Context, request: Request, template: str, change: Change, **values: object
) -> None:
    if not request.card_delivery_id:
        return
    text = ctx.render(template, actor=change.event.actor, **values)
    ctx.send(
        Outgoing(
            key=f"request:{request.id}:thread:{change.event.id}",
            to=delivery.destination(ctx.session, request.card_delivery_id),
            message=Message.plain(text),
            thread_of=request.card_delivery_id,
        )
    )


@routes.action(REQUESTER_ANSWER)
def on_answer(event: Event, ctx: Context) -> Response:
    request = _request(ctx, event.value)
    if event.user != request.requester:
        raise RequestError(f"Only the person who asked can answer for {request.ref}.")
    return OpenForm(
        _text_form(ANSWER_FORM, request, title="Answer on", submit="Send", label="Your answer")
    )


@routes.form(ANSWER_FORM)
def on_answer_form(event: Event, ctx: Context) -> Response:
    text = _text(event, "Please write your answer.")
    request = _request(ctx, event.context, field="text")
    change = requests.answer(
        session=ctx.session, request=request, actor=event.user, text=text, now=ctx.now
    )
    publish(ctx, change)
    _thread_note(ctx, request, "triage/answer_posted.md.j2", change, text=text)
    return CloseForm(notice=ctx.render("requester/answered.md.j2", request=request))
