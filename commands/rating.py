"""The satisfaction rating after resolution: one click (1–5), an optional comment, one per
request. Sent after TECHHELP_RATING_DELAY; withdrawn if the request is reopened meanwhile."""

from __future__ import annotations

from sqlalchemy import select

from chatbot import delivery, requests, surveys
from chatbot.addresses import Address
from chatbot.bot import Context, Event, Routes
from chatbot.db.models import Rating, Request, RequestEvent
from chatbot.db.upsert import insert_ignore
from chatbot.messages import (
    Block,
    Button,
    CloseForm,
    Field,
    Form,
    Message,
    OpenForm,
    Outgoing,
    Refusal,
    ReplaceMessage,
    Response,
)
from chatbot.requests import RequestError

routes = Routes()

RATE = "rating.rate"
COMMENT = "rating.comment"
COMMENT_FORM = "rating.comment_form"
SCORES = range(1, 6)


def _key(request: Request) -> str:
    return f"request:{request.id}:rating"


def _buttons(request: Request, *, with_comment: bool) -> Block:
    buttons = [Button(str(score), f"{RATE}:{score}", str(request.id)) for score in SCORES]
    if with_comment:
        buttons.append(Button("Add a comment", COMMENT, str(request.id)))
    return Block("actions", buttons=tuple(buttons))


def schedule(ctx: Context, request: Request) -> None:
    """Queue the prompt; never a second one once it has been sent."""
    delay = ctx.settings.techhelp_rating_delay
    if delivery.reschedule(ctx.session, key=_key(request), now=ctx.now, delay_seconds=delay):
        return
    text = ctx.render("rating/prompt.md.j2", request=request)
    ctx.send(
        Outgoing(
            key=_key(request),
            to=Address.person(request.platform, request.requester),
            message=Message(
                text=text,
                blocks=(Block("section", text=text), _buttons(request, with_comment=False)),
            ),
            delay_seconds=delay,
        )
    )


def withdraw(ctx: Context, request: Request) -> None:
    delivery.cancel(ctx.session, key=_key(request), reason="request reopened before the prompt")


def _rateable(ctx: Context, user: str, value: str, *, field: str | None = None) -> Request:
    """The request a rating button or form refers to, if `user` asked it and it is resolved:
    a forged click on an open request rates nothing."""
    try:
        request = requests.get(session=ctx.session, request_id=int(value))
    except (ValueError, RequestError):
        raise Refusal("That rating button is not valid.", field=field) from None
    if user != request.requester:
        raise Refusal(ctx.render("rating/not_yours.md.j2", ref=request.ref), field=field)
    if request.state != "resolved":
        raise Refusal(ctx.render("rating/not_resolved.md.j2", ref=request.ref), field=field)
    return request


def _thanks(ctx: Context, request: Request, rating: Rating) -> Message:
    text = ctx.render(
        "rating/thanks.md.j2", request=request, score=rating.score, comment=rating.comment
    )
    return Message(
        text=text,
        blocks=(Block("section", text=text), _buttons(request, with_comment=not rating.comment)),
    )


@routes.action(RATE)
def on_rate(event: Event, ctx: Context) -> Response:
    score = event.name.rsplit(":", 1)[-1]
    if score not in {str(s) for s in SCORES}:
        raise Refusal("That rating button is not valid.")
    request = _rateable(ctx, event.user, event.value)
    given = ctx.session.scalars(select(Rating).where(Rating.request_id == request.id)).first()
    if given is not None and surveys.aware(given.rated_at) < surveys.published_until(ctx.now):
        # Its week's figures are published: a change would move it out of them, and the
        # published figure would then change by this one rating.
        raise Refusal(ctx.render("rating/published.md.j2", ref=request.ref))
    insert_ignore(
        ctx.session,
        Rating,
        request_id=request.id,
        rater=event.user,
        score=int(score),
        rated_at=ctx.now,
    )
    rating = ctx.session.scalars(select(Rating).where(Rating.request_id == request.id)).one()
    rating.score, rating.rated_at = int(score), ctx.now
    ctx.session.add(
        RequestEvent(
            request_id=request.id,
            actor=event.user,
            kind="rated",
            detail={"score": int(score)},
            at=ctx.now,
        )
    )
    return ReplaceMessage(_thanks(ctx, request, rating))


@routes.action(COMMENT)
def on_comment(event: Event, ctx: Context) -> Response:
    request = _rateable(ctx, event.user, event.value)
    return OpenForm(
        Form(
            form_id=COMMENT_FORM,
            title=f"Comment on {request.ref}",
            submit="Send",
            context=str(request.id),
            fields=(
                Field(
                    "comment", "Anything you'd like to tell us?", multiline=True, max_length=3000
                ),
            ),
        )
    )


@routes.form(COMMENT_FORM)
def on_comment_form(event: Event, ctx: Context) -> Response:
    comment = event.values.get("comment", "").strip()
    if not comment:
        raise Refusal("Please write a comment, or close this form.", field="comment")
    request = _rateable(ctx, event.user, event.context, field="comment")
    rating = ctx.session.scalars(select(Rating).where(Rating.request_id == request.id)).first()
    if rating is None:
        raise Refusal("Please choose a score (1–5) first.", field="comment")
    rating.comment = comment
    ctx.session.add(
        RequestEvent(
            request_id=request.id, actor=event.user, kind="commented", detail={}, at=ctx.now
        )
    )
    return CloseForm(notice=ctx.render("rating/commented.md.j2", request=request))
