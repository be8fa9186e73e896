"""`/techhelp`: employees ask IT for anything; the service desk logs phone, email and walk-ins."""

from __future__ import annotations

import re
from datetime import timedelta

from chatbot import alerts, grammar, requests, signals
from chatbot.addresses import Address
from chatbot.bot import Context, Event, Routes
from chatbot.config import URGENCIES
from chatbot.db.models import Alert
from chatbot.messages import (
    Block,
    Button,
    CloseForm,
    Field,
    Form,
    FormErrors,
    Message,
    OpenForm,
    Option,
    Outgoing,
    Refusal,
    ReplaceMessage,
    Reply,
    Response,
)
from chatbot.routing import for_category, guess
from commands import kb, triage
from commands.techalert import FOLLOW

routes = Routes()

FORM = "techhelp.request"
SEPARATE = "techhelp.separate"
SEPARATE_MAX = 1900  # the text must fit in a button's value (2,000)
LONG_TEXT = 2800  # longer descriptions are stored whole but shown cut
# The on-behalf syntax, parsed here and nowhere else: `for <mention> via <how> <text>`. The
# person is whoever the platform says the mention names (`Event.mentions`), never a guess from
# the shape of the typed word.
_VIA = r"\s+via\s+(?P<via>phone|email|e-mail|walk-in|walkin)\s+(?P<text>.+)$"


def _for(text: str, mentions: dict[str, str]) -> re.Match[str] | None:
    """`for <person> via <channel> <text>`, the person as a mention reads (`@Ann Lee`: a
    display name may hold spaces, so the mentions the platform gave are tried first)."""
    said = sorted(mentions, key=len, reverse=True)
    who = "|".join([*(re.escape(m) for m in said), r"\S+"])
    return re.match(rf"^for\s+(?P<who>{who}){_VIA}", text, re.IGNORECASE | re.DOTALL)


def text_reply(ctx: Context, template: str, **values: object) -> Reply:
    return Reply(Message.plain(ctx.render(template, **values)))


@routes.command("techhelp")
def techhelp(event: Event, ctx: Context) -> Response:
    text = event.text.strip()
    word = text.split(maxsplit=1)[0].lower() if text else ""
    if not text:
        return OpenForm(request_form(ctx))
    if text.lower() == "help":
        return Reply(help_message(ctx))
    if text.lower() == "status":
        mine = requests.open_requests(session=ctx.session, requester=event.user)
        return text_reply(ctx, "techhelp/status.md.j2", requests=mine)
    if text.lower() == "home":
        # The home card is App Home's to build: it answers, as a message to the person.
        signals.home_asked.send(ctx, signals.HomeAsked(event.platform, event.user, event.key))
        return None
    if word == "for":
        return log_for_someone(event, ctx, text)
    if word == "search":
        return kb.search_reply(ctx, event, text[len(word) :].strip())
    meant = grammar.near_subcommand(text)
    if meant:  # "stats" alone: a typo of `status`, not a request
        return text_reply(ctx, "techhelp/did_you_mean.md.j2", typed=text, meant=meant)
    routing = ctx.settings.routing
    known = alerts.matching(
        session=ctx.session,
        text=text,
        service_keywords=routing.service_keywords,
        user=event.user,
        routing=routing,
        email=ctx.actor(event).email,
    )
    if known and len(text) <= SEPARATE_MAX:
        return known_issue(ctx, known, text)
    # A message where the platform also has the command is its second way in (Slack's DM).
    by_message = event.kind == "message" and ctx.capabilities.commands
    return create(
        ctx, event, requester=event.user, text=text, intake="techhelp", by_message=by_message
    )


def known_issue(ctx: Context, alert: Alert, text: str) -> Reply:
    """Offer to follow the active alert instead of opening a duplicate; the text rides in the
    "separate request" button, so nothing is stored unless they ask for it."""
    body = ctx.render("techhelp/known_issue.md.j2", alert=alert)
    buttons = (
        Button(f"Follow {alert.ref}", FOLLOW, str(alert.id), style="primary"),
        Button("Open a separate request", SEPARATE, text),
    )
    return Reply(
        Message(text=body, blocks=(Block("section", text=body), Block("actions", buttons=buttons)))
    )


@routes.action(SEPARATE)
def open_separate(event: Event, ctx: Context) -> Response:
    text = event.value.strip()
    if not text:
        raise Refusal("That button carries no request text.")
    recent = requests.recent_duplicate(
        session=ctx.session, requester=event.user, text=text, since=ctx.now - timedelta(minutes=5)
    )
    if recent:
        raise Refusal(f"That request is already logged as {recent.ref}.")
    reply = create(ctx, event, requester=event.user, text=text, intake="techhelp")
    assert isinstance(reply, Reply)
    return ReplaceMessage(reply.message)


def help_message(ctx: Context) -> Message:
    parts = ctx.templates.blocks("techhelp/help.md.j2")
    return Message(text=parts[0], blocks=tuple(Block("section", text=part) for part in parts))


def log_for_someone(event: Event, ctx: Context, text: str) -> Response:
    if not ctx.actor(event).is_staff(ctx.settings):
        return text_reply(ctx, "techhelp/staff_only.md.j2")
    match = _for(text, event.mentions)
    requester = event.mentions.get(match["who"]) if match else None
    if not match or not requester:
        return text_reply(ctx, "techhelp/for_usage.md.j2")
    via = match["via"].lower().replace("e-mail", "email").replace("walkin", "walk-in")
    return create(
        ctx,
        event,
        requester=requester,
        text=match["text"].strip(),
        intake=via,
        logged_by=event.user,
    )


def create(
    ctx: Context,
    event: Event,
    *,
    requester: str,
    text: str,
    intake: str,
    logged_by: str | None = None,
    category: str | None = None,
    urgency: str | None = None,
    service: str | None = None,
    by_message: bool = False,
) -> Response:
    if len(text) > requests.MAX_TEXT:
        return text_reply(ctx, "techhelp/too_long.md.j2", length=len(text), limit=requests.MAX_TEXT)
    routing = ctx.settings.routing
    decided = for_category(category, urgency, routing) if category else guess(text, routing)
    # Suggested only to people asking for themselves (staff logging a call answer it).
    articles = kb.suggest_for(ctx, event, text) if logged_by is None else []
    request = requests.create_request(
        session=ctx.session,
        settings=ctx.settings,
        platform=event.platform,
        requester=requester,
        text=text,
        triage=decided,
        intake_channel=intake,
        now=ctx.now,
        logged_by=logged_by,
        service=service,
        by_message=by_message,
    )
    card_delay = ctx.settings.techhelp_kb_grace if articles else 0
    triage.announce(ctx, request, card_delay=card_delay)
    kb.record(ctx, event, request, articles)
    parts = ctx.templates.blocks(
        "techhelp/received_reply.md.j2",
        request=request,
        tier=triage.TIER_NAMES[request.tier],
        logged_for=logged_by is not None,
        long_text=len(text) > LONG_TEXT,
        text_length=len(text),
        held_minutes=triage.held_minutes(card_delay)
        if ctx.settings.triage_channel(request.platform)
        else None,
    )
    blocks = [Block("section", text=p) for p in parts]
    if articles:
        blocks += kb.suggestion_blocks(ctx, request, articles)
    return Reply(Message(text=parts[0], blocks=tuple(blocks)))


def request_form(ctx: Context) -> Form:
    routing = ctx.settings.routing
    categories = [c.name for c in routing.categories] + [routing.default_category]
    return Form(
        form_id=FORM,
        title="Ask IT",
        submit="Send",
        intro=ctx.render("techhelp/form_intro.md.j2"),
        fields=(
            Field("category", "Category", options=tuple(Option(c, c) for c in categories)),
            Field(
                "urgency",
                "Urgency",
                options=tuple(Option(u, u.capitalize()) for u in URGENCIES),
                initial="normal",
            ),
            Field(
                "description",
                "What do you need?",
                multiline=True,
                max_length=3000,
                placeholder="e.g. The printer on floor 3 says 'paper jam' but there is none",
            ),
            Field(
                "service",
                "Affected service",
                options=tuple(Option(s, s) for s in routing.services),
                optional=True,
            ),
        ),
    )


@routes.form(FORM)
def submit_form(event: Event, ctx: Context) -> Response:
    description = event.values.get("description", "").strip()
    if not description:
        return FormErrors({"description": "Please describe what you need."})
    if len(description) > requests.MAX_TEXT:
        return FormErrors(
            {"description": f"Please keep it under {requests.MAX_TEXT:,} characters."}
        )
    urgency = event.values.get("urgency")
    if urgency and urgency not in URGENCIES:
        return FormErrors({"urgency": "Choose one of the listed urgencies."})
    reply = create(
        ctx,
        event,
        requester=event.user,
        text=description,
        intake="form",
        category=event.values.get("category") or None,
        urgency=urgency,
        service=event.values.get("service") or None,
    )
    if isinstance(reply, Reply) and any(b.buttons for b in reply.message.blocks):
        # A closed form shows nothing: its suggestions come as a message to the person.
        ctx.send(
            Outgoing(
                key=f"reply:{event.key}",
                to=Address.person(event.platform, event.user),
                message=reply.message,
            )
        )
    return CloseForm()
