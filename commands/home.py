"""App Home: where each employee sees their own requests, the active alerts and the surveys
awaiting them, with a button to ask IT. Built as a neutral message; the platform renders it as
its home view (Slack: `views.publish`, within 100 blocks).

Delivered through the outbox (action "home", one row per person, keyed `home:<user>`): opening
the tab publishes it; a change to one of their requests, or their answer to a survey, marks it
to be built again and published (`refresh`: one UPDATE; the worker builds it when it sends it, so
a burst of changes costs one build and one publish). A survey being sent or closed does not
refresh the homes of its audience: Slack sends `app_home_opened` each time the tab is opened,
which builds the home afresh, so the person sees the survey (or no longer sees it) whenever they
look, while a send to 10,000 people does not queue 10,000 home builds and `views.publish` calls
beside (and, per person, ahead of) the survey's own messages.

Where a platform has no home view (`Capabilities.home_view` False, e.g. Teams), the same content
is a card sent as a message: when the person installs the bot (the adapter's `app.installed`
event) and whenever they ask (`home`, `/techhelp home`: the `home_asked` signal). A card is a
message like any other, never rebuilt: a claim or an answer later does not post a new one (only a
home view, stored under `home:<user>`, is refreshed).

Triage, pulse and techhelp do not import this module: it reacts to their signals
(`request_changed`, `survey_clicked`, `home_asked`, see `chatbot.signals`) in their transaction.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from chatbot import alerts as alerts_
from chatbot import delivery, kb, signals, surveys
from chatbot.addresses import Address
from chatbot.bot import Context, Event, Routes
from chatbot.db.models import Alert, Request
from chatbot.liaison import managers
from chatbot.messages import Block, Button, Message, OpenForm, Outgoing, Response
from commands import kb as kb_commands
from commands.pulse import answer_buttons
from commands.techhelp import request_form

routes = Routes()

OPENED = "home.opened"
INSTALLED = "app.installed"  # a person installed the bot (an adapter's event)
NEW_REQUEST = "home.new_request"
MAX_OPEN = 25  # each request is one block: with the rest, well inside 100
MAX_RESOLVED = 10
MAX_ALERTS = 10
MAX_SURVEYS = 5  # two blocks each: the home stays within 100 blocks
# A department manager's view of their department (`managers`): requests per department.
MAX_MANAGED = 8
MAX_ANSWERS = 5  # the most used self-service answers, two blocks each
RECENT = timedelta(days=30)
TEXT_PREVIEW = 300


def key(user: str) -> str:
    return f"home:{user}"


def surveys_awaiting(ctx: Context, user: str) -> list[dict[str, Any]]:
    """Open pulse surveys this person received and has not answered, closing soonest first:
    the question, the closing time, whether it is anonymous, and the same signed one-click
    buttons as the direct message."""
    key = surveys.signing_key(session=ctx.session, settings=ctx.settings, now=ctx.now)
    return [
        {
            "question": run.question,
            "closes": run.closes_at.strftime("%Y-%m-%d %H:%M UTC") if run.closes_at else "",
            "anonymous": run.anonymous,
            "scale": run.scale,
            # A questionnaire is answered from its own message (one page of items at a time).
            "questionnaire": run.items is not None,
            "buttons": None
            if run.items is not None
            else answer_buttons(
                key, run.run_id, run.options, user, chosen=None, with_comment=False
            ),
        }
        for run in surveys.awaiting(session=ctx.session, user=user, now=ctx.now)
    ]


@routes.builder("home")
def build_for(ctx: Context, to: Address) -> Message:
    """The home of the person at `to`, built by the delivery worker when it is sent."""
    return build(ctx, to.id)


def build(ctx: Context, user: str) -> Message:
    """The person's home: only their own requests, newest change first. Also built by the
    delivery worker when a refreshed home is sent."""
    session = ctx.session
    mine = Request.requester == user
    open_count = session.scalar(
        select(func.count()).select_from(Request).where(mine, Request.state != "resolved")
    )
    open_requests = session.scalars(
        select(Request)
        .where(mine, Request.state != "resolved")
        .order_by(Request.updated_at.desc(), Request.id.desc())
        .limit(MAX_OPEN)
    ).all()
    resolved = session.scalars(
        select(Request)
        .where(mine, Request.state == "resolved", Request.updated_at >= ctx.now - RECENT)
        .order_by(Request.updated_at.desc(), Request.id.desc())
        .limit(MAX_RESOLVED)
    ).all()
    # Only the alerts in this person's audience: a department's alert is not everyone's news.
    routing, email = ctx.settings.routing, ctx.identity(ctx.platform, user).email
    alerts = [
        alert
        for alert in session.scalars(
            select(Alert).where(Alert.state == "active").order_by(Alert.created_at.desc())
        )
        if alerts_.in_audience(alert, user=user, routing=routing, email=email)
    ][:MAX_ALERTS]
    waiting = surveys_awaiting(ctx, user)

    def when(moment: Any) -> str:
        return moment.strftime("%Y-%m-%d %H:%M UTC")

    intro = ctx.render("home/intro.md.j2")
    blocks: list[Block] = [
        Block("header", text="TechHelp"),
        Block("section", text=intro),
        Block("actions", buttons=(Button("Ask IT", NEW_REQUEST, "", style="primary"),)),
        Block("header", text="Your open requests"),
    ]

    def line(request: Request) -> Block:
        text = ctx.render(
            "home/request.md.j2",
            request=request,
            updated=when(request.updated_at),
            preview=TEXT_PREVIEW,
        )
        return Block("section", text=text)

    blocks.extend(line(request) for request in open_requests)
    if not open_requests:
        blocks.append(Block("section", text=ctx.render("home/none_open.md.j2")))
    elif open_count and open_count > len(open_requests):
        more = ctx.render("home/more.md.j2", shown=len(open_requests), total=open_count)
        blocks.append(Block("context", text=more))
    if resolved:
        blocks.append(Block("header", text="Resolved in the last 30 days"))
        blocks.extend(line(request) for request in resolved)
    blocks.extend(managed_blocks(ctx, user))
    blocks.append(Block("header", text="Active alerts"))
    if alerts:
        for alert in alerts:
            text = ctx.render("home/alert.md.j2", alert=alert, since=when(alert.created_at))
            blocks.append(Block("section", text=text))
    else:
        blocks.append(Block("section", text=ctx.render("home/no_alerts.md.j2")))
    answers = kb.most_used(session=session, limit=MAX_ANSWERS)
    if answers:
        blocks.append(Block("header", text="Answers others found useful"))
        for article, solved in answers:
            text = ctx.render("home/answer.md.j2", article=article, solved=solved)
            blocks.append(Block("section", text=text))
            blocks.append(
                Block("actions", buttons=(Button("Show", kb_commands.SHOW, f"0:{article.id}"),))
            )
    if waiting:
        blocks.append(Block("header", text="Surveys awaiting your answer"))
        for survey in waiting[:MAX_SURVEYS]:
            blocks.append(Block("section", text=ctx.render("home/survey.md.j2", survey=survey)))
            if survey["buttons"] is not None:
                blocks.append(survey["buttons"])
        if len(waiting) > MAX_SURVEYS:
            more = ctx.render("home/more_surveys.md.j2", shown=MAX_SURVEYS, total=len(waiting))
            blocks.append(Block("context", text=more))
    blocks.append(Block("context", text=ctx.render("home/updated.md.j2", now=when(ctx.now))))
    return Message(text="TechHelp: your requests and IT alerts", blocks=tuple(blocks))


def managed_blocks(ctx: Context, user: str) -> list[Block]:
    """For a department's manager (`manager` in the YAML): its open requests and incidents."""
    blocks: list[Block] = []
    person = ctx.identity(ctx.platform, user)
    for department in managers.managed(ctx.settings, person)[:2]:  # within 100 blocks
        view = managers.view(ctx.session, department.name, limit=MAX_MANAGED)
        blocks.append(Block("header", text=f"{department.name}: open requests"))
        summary = ctx.render("home/department_summary.md.j2", view=view)
        blocks.append(Block("section", text=summary))
        for request in view.requests:
            age = ctx.now - request.created_at
            text = ctx.render(
                "home/department_request.md.j2",
                request=request,
                age=f"{age.days} d" if age.days else f"{age.seconds // 3600} h",
            )
            blocks.append(Block("section", text=text))
    return blocks


def send_card(ctx: Context, platform: str, user: str, *, key: str) -> None:
    """The person's home as a message to them, under delivery key `key`."""
    ctx.send(Outgoing(key=key, to=Address.person(platform, user), message=build(ctx, user)))


def publish(ctx: Context, user: str) -> None:
    """Publish the person's home with its latest content (stored; the outbox sends it)."""
    ctx.send(
        Outgoing(
            key=key(user),
            to=Address.person(ctx.platform, user),
            message=build(ctx, user),
            action="home",
        )
    )


def refresh(ctx: Context, user: str) -> None:
    """Their data changed: publish again, if they have a home (opened the tab once); someone
    who never opened it gets theirs when they do. One UPDATE: the delivery worker builds the home
    when it sends it (`build`), so a survey click or a request change does not pay for building
    it, and a burst of changes builds it once."""
    if delivery.rebuild_later(ctx.session, key=key(user), now=ctx.now):
        ctx.queued = True


@routes.connect(signals.request_changed)
def on_request_changed(ctx: Context, change: signals.RequestChanged) -> None:
    refresh(ctx, change.requester)


@routes.connect(signals.survey_clicked)
def on_survey_clicked(ctx: Context, click: signals.SurveyClicked) -> None:
    """Answered, or clicked after the run closed: either way the survey leaves their list (one
    UPDATE, and only for someone who has a Home)."""
    refresh(ctx, click.user)


@routes.connect(signals.home_asked)
def on_home_asked(ctx: Context, asked: signals.HomeAsked) -> None:
    send_card(ctx, asked.platform, asked.user, key=f"home-card:{asked.key}")


@routes.event(INSTALLED)
def on_installed(event: Event, ctx: Context) -> Response:
    """A person installed the bot: their home card, to start with."""
    send_card(ctx, event.platform, event.user, key=f"home-card:{event.key}")
    return None


@routes.event(OPENED)
def on_opened(event: Event, ctx: Context) -> Response:
    if not ctx.capabilities.home_view:  # no view to publish: the card, as a message
        send_card(ctx, event.platform, event.user, key=f"home-card:{event.key}")
        return None
    publish(ctx, event.user)
    return None


@routes.action(NEW_REQUEST)
def on_new_request(event: Event, ctx: Context) -> Response:
    return OpenForm(request_form(ctx))
