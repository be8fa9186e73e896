"""Self-service answers: articles suggested with a request's confirmation ("Show", "This solved
it", "I still need help"), `/techhelp search`, and staff saving a resolved request as an article.

While a request's suggestions are open its triage card waits in the outbox for
`TECHHELP_KB_GRACE` seconds (a delivery due later: a restart loses nothing); "This solved it"
withdraws it and closes the request as self-served, "I still need help" makes it due now, and
otherwise it is posted when the grace period ends.
"""

from __future__ import annotations

from chatbot import delivery, kb, requests, signals
from chatbot.bot import Context, Event, Routes
from chatbot.db.models import KbArticle, Request
from chatbot.messages import (
    Block,
    Button,
    Message,
    Outgoing,
    Refusal,
    ReplaceMessage,
    Reply,
    Response,
)
from chatbot.text import shorten
from commands import triage

routes = Routes()

SHOW = "kb.show"
SOLVED = "kb.solved"
STILL = "kb.still"
SAVE = triage.SAVE_ARTICLE
PUBLISH = "kb.publish"
SHOWN_BODY = 2800  # an article's steps in one section, cut with a note beyond


def suggest_for(ctx: Context, event: Event, text: str) -> list[kb.Suggested]:
    return kb.suggest(session=ctx.session, text=text)


def record(ctx: Context, event: Event, request: Request, articles: list[kb.Suggested]) -> None:
    """What intake found for a request: its suggestions, and the lookup (a content gap when
    nothing answered it)."""
    kb.record_suggestions(session=ctx.session, request=request, articles=articles, now=ctx.now)
    kb.record_lookup(
        session=ctx.session,
        kind="request",
        platform=event.platform,
        user=request.requester,
        department=request.department,
        text=request.text,
        found=len(articles),
        now=ctx.now,
        request_id=request.id,
    )


def suggestion_blocks(ctx: Context, request: Request, articles: list[kb.Suggested]) -> list[Block]:
    """The suggestions under a confirmation: each title with "Show" and "This solved it",
    then "I still need help"."""
    intro = ctx.render(
        "kb/suggestions.md.j2",
        request=request,
        grace_minutes=triage.held_minutes(ctx.settings.techhelp_kb_grace),
    )
    blocks = [Block("divider"), Block("section", text=intro)]
    for article in articles:
        value = f"{request.id}:{article.id}"
        blocks.append(Block("section", text=ctx.render("kb/title.md.j2", article=article)))
        blocks.append(
            Block(
                "actions",
                buttons=(
                    Button("Show", SHOW, value),
                    Button("This solved it", SOLVED, value, style="primary"),
                ),
            )
        )
    blocks.append(Block("actions", buttons=(Button("I still need help", STILL, str(request.id)),)))
    return blocks


def _ids(value: str) -> tuple[int, int]:
    try:
        request_id, article_id = (int(part) for part in value.split(":", 1))
    except ValueError:
        raise Refusal("That button carries no article.") from None
    return request_id, article_id


def _article(ctx: Context, article_id: int) -> KbArticle:
    article = ctx.session.get(KbArticle, article_id)
    if article is None:
        raise Refusal("That article is no longer there.")
    return article


@routes.action(SHOW)
def show(event: Event, ctx: Context) -> Response:
    """The article's steps, to the person who asked alone."""
    request_id, article_id = _ids(event.value)
    article = _article(ctx, article_id)
    suggestion = kb.suggestion(session=ctx.session, request_id=request_id, article_id=article_id)
    if suggestion is not None and suggestion.shown_at is None:
        suggestion.shown_at = ctx.now
    body = ctx.render("kb/article.md.j2", article=article, steps=shorten(article.body, SHOWN_BODY))
    return Reply(Message.plain(body))


@routes.action(SOLVED)
def solved(event: Event, ctx: Context) -> Response:
    request_id, article_id = _ids(event.value)
    request = requests.get(session=ctx.session, request_id=request_id)
    article = _article(ctx, article_id)
    suggestion = kb.suggestion(session=ctx.session, request_id=request_id, article_id=article_id)
    if suggestion is None:
        raise Refusal("That article was not suggested for this request.")
    change = requests.self_serve(
        session=ctx.session, request=request, actor=event.user, article=article.title, now=ctx.now
    )
    suggestion.solved_at = ctx.now
    kb.forget(ctx.session)  # what it solved teaches the scorer
    held = delivery.cancel(
        ctx.session, key=triage.card_key(request), reason="self-served within the grace period"
    )
    if held:
        request.card_delivery_id = None  # never posted: nothing to edit later
    else:
        triage.publish(ctx, change)  # the card is out: it shows the request closed
    signals.request_changed.send(
        ctx,
        signals.RequestChanged(
            request_id=request.id, requester=request.requester, change="self_served"
        ),
    )
    return ReplaceMessage(
        Message.plain(ctx.render("kb/solved.md.j2", request=request, article=article))
    )


@routes.action(STILL)
def still_need_help(event: Event, ctx: Context) -> Response:
    try:
        request = requests.get(session=ctx.session, request_id=int(event.value))
    except ValueError:
        raise Refusal("That button carries no request.") from None
    if event.user != request.requester:
        raise Refusal(f"Only the person who asked can send {request.ref} on.")
    delivery.hurry(ctx.session, key=triage.card_key(request), now=ctx.now)
    ctx.queued = True  # the card is due now: wake the delivery worker
    return ReplaceMessage(Message.plain(ctx.render("kb/sent_on.md.j2", request=request)))


def search_reply(ctx: Context, event: Event, words: str) -> Response:
    """`/techhelp search <words>`: articles, without opening a request."""
    if not words.strip():
        return Reply(Message.plain(ctx.render("kb/search_usage.md.j2")))
    found = kb.suggest(session=ctx.session, text=words, limit=5)
    kb.record_lookup(
        session=ctx.session,
        kind="search",
        platform=event.platform,
        user=event.user,
        department=(d.name if (d := ctx.actor(event).department(ctx.settings)) else None),
        text=words,
        found=len(found),
        now=ctx.now,
    )
    text = ctx.render("kb/search.md.j2", words=words, found=found)
    blocks = [Block("section", text=text)]
    for article in found:
        blocks.append(Block("section", text=ctx.render("kb/title.md.j2", article=article)))
        blocks.append(Block("actions", buttons=(Button("Show", SHOW, f"0:{article.id}"),)))
    return Reply(Message(text=text, blocks=tuple(blocks)))


@routes.action(SAVE)
def save_as_article(event: Event, ctx: Context) -> Response:
    """Staff: a resolved request becomes a draft article (its words the question, the
    resolution note the answer), for an admin to publish."""
    request = requests.get(session=ctx.session, request_id=int(event.value or 0))
    if not ctx.actor(event).is_service_desk(ctx.settings, request.queue):
        raise Refusal(ctx.render("kb/staff_only.md.j2"))
    if request.state != "resolved" or not request.resolution:
        raise Refusal(f"{request.ref} has no resolution note to save yet.")
    article = kb.save_draft(session=ctx.session, request=request, actor=event.user, now=ctx.now)
    # The draft waits for an admin where the service desk works: the triage channel.
    channel = ctx.settings.triage_channel(request.platform)
    if channel:
        text = ctx.render("kb/draft.md.j2", article=article, request=request)
        buttons = (Button("Publish", PUBLISH, str(article.id), style="primary"),)
        ctx.send(
            Outgoing(
                key=f"kb:draft:{article.id}",
                to=channel,
                message=Message(
                    text=text,
                    blocks=(Block("section", text=text), Block("actions", buttons=buttons)),
                ),
            )
        )
    return Reply(Message.plain(ctx.render("kb/draft_saved.md.j2", article=article)))


@routes.action(PUBLISH)
def publish_draft(event: Event, ctx: Context) -> Response:
    if not ctx.actor(event).is_admin(ctx.settings):
        raise Refusal(ctx.render("kb/admin_only.md.j2"))
    article = _article(ctx, int(event.value or 0))
    if article.state == "published":
        raise Refusal(f"{article.ref} is already published.")
    kb.publish(session=ctx.session, article=article, now=ctx.now, actor=event.user)
    return ReplaceMessage(Message.plain(ctx.render("kb/published.md.j2", article=article)))
