"""`/pulse`: admins define one-click surveys; people answer from a direct message; the clock sends
scheduled runs, one reminder to non-responders, and posts the results to the IT channel at
closing time."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from chatbot import schedules, signals, surveys
from chatbot.addresses import Address
from chatbot.bot import Context, Event, Routes
from chatbot.config import RECURRENCES
from chatbot.db.models import ClockState, Survey, SurveyRun
from chatbot.messages import (
    Block,
    Button,
    CloseForm,
    Field,
    Form,
    Message,
    OpenForm,
    Option,
    Outgoing,
    Refusal,
    ReplaceMessage,
    Reply,
    Response,
    chosen,
)
from chatbot.text import Neutral, shorten

log = logging.getLogger(__name__)
routes = Routes()

ANSWER = "pulse.answer"
COMMENT = "pulse.comment"
COMMENT_FORM = "pulse.comment_form"
FORM = "pulse.define"
EVERYONE = "everyone"
STAFF = "staff"
DEPARTMENT = "department:"
ONCE_NOW, ONCE_AT, CRON = "now", "at", "cron"
_PART = re.compile(r"^---$", re.MULTILINE)


def _reply(ctx: Context, template: str, **values: object) -> Reply:
    return Reply(Message.plain(ctx.render(template, **values)))


def _key(ctx: Context) -> bytes:
    return surveys.signing_key(session=ctx.session, settings=ctx.settings, now=ctx.now)


# --- /pulse -------------------------------------------------------------------------------------


@routes.command("pulse")
def pulse(event: Event, ctx: Context) -> Response:
    if not ctx.settings.is_admin(event.platform, event.user):
        raise Refusal(ctx.render("pulse/admins_only.md.j2"))
    words = event.text.split(maxsplit=1)
    verb = words[0].lower() if words else ""
    rest = words[1].strip() if len(words) > 1 else ""
    if not words:
        return OpenForm(survey_form(ctx))
    if verb == "send":
        if not rest:
            return _reply(ctx, "pulse/usage.md.j2")
        return quick_pulse(ctx, event, rest)
    if verb == "list" and not rest:
        listed = [
            (survey, surveys.latest_run(session=ctx.session, survey=survey))
            for survey in surveys.surveys(session=ctx.session)
        ]
        return _reply(ctx, "pulse/list.md.j2", surveys=listed, describe=_describe_schedule)
    if verb == "results" and rest.lower() == "satisfaction":
        trend = surveys.satisfaction_trend(
            session=ctx.session, routing=ctx.settings.routing, until=ctx.now
        )
        return _reply(
            ctx,
            "pulse/satisfaction.md.j2",
            trend=trend,
            minimum=ctx.settings.routing.pulse.min_group_size,
        )
    if verb == "results":
        if rest:
            run = surveys.latest_run(
                session=ctx.session, survey=surveys.get_survey(session=ctx.session, ref=rest)
            )
        else:
            run = surveys.latest_run(session=ctx.session)
        if run is None:
            return _reply(ctx, "pulse/no_results.md.j2", ref=rest)
        return Reply(results_message(ctx, run))
    if verb == "stop" and rest:
        survey = surveys.get_survey(session=ctx.session, ref=rest)
        if survey.source == "config":
            return _reply(ctx, "pulse/from_config.md.j2", survey=survey)
        cancelled = surveys.stop_survey(session=ctx.session, survey=survey)
        return _reply(ctx, "pulse/stopped.md.j2", survey=survey, cancelled=cancelled)
    if verb == "close" and rest:
        survey = surveys.get_survey(session=ctx.session, ref=rest)
        open_runs = [
            r for r in surveys.runs_of(session=ctx.session, survey=survey) if r.state == "open"
        ]
        for run in open_runs:
            close(ctx, run)
        return _reply(
            ctx,
            "pulse/closed_by_admin.md.j2",
            survey=survey,
            closed=len(open_runs),
            channel=ctx.settings.it_channel,
        )
    return _reply(ctx, "pulse/usage.md.j2")


def quick_pulse(ctx: Context, event: Event, question: str) -> Response:
    """`/pulse send <question>`: a one-off 1–5 pulse to everyone, now."""
    defaults = ctx.settings.routing.pulse
    survey = surveys.create_survey(
        session=ctx.session,
        question=question,
        options=[],
        audience={"everyone": True},
        schedule=None,
        timezone=ctx.settings.routing.timezone,
        anonymous=True,
        reminder_hours=defaults.reminder_hours,
        close_hours=defaults.close_hours,
        author=event.user,
        platform=event.platform,
        source="command",
        now=ctx.now,
    )
    run = surveys.add_run(session=ctx.session, survey=survey, at=ctx.now)
    assert run is not None
    sent = send_run(ctx, run, refuse_if_nobody=True)
    return _reply(ctx, "pulse/sent.md.j2", survey=survey, run=run, sent=sent)


# --- the form -----------------------------------------------------------------------------------


def survey_form(ctx: Context) -> Form:
    routing = ctx.settings.routing
    return Form(
        form_id=FORM,
        title="New pulse check",
        submit="Schedule",
        intro=ctx.render("pulse/form_intro.md.j2", timezone=routing.timezone),
        fields=(
            Field("question", "Question", max_length=surveys.MAX_QUESTION),
            Field(
                "options",
                "Options (2–10, one per line; empty for the 1–5 scale)",
                multiline=True,
                optional=True,
                max_length=900,
            ),
            Field(
                "audience",
                "Who gets it (one or more)",
                options=(
                    Option(EVERYONE, "Everyone"),
                    Option(STAFF, "IT staff"),
                    *(Option(f"{DEPARTMENT}{d.name}", d.name) for d in routing.departments),
                ),
                initial=EVERYONE,
                multiple=True,
            ),
            Field(
                "users",
                "…or these people (user IDs, comma-separated)",
                optional=True,
                max_length=2000,
            ),
            Field(
                "schedule",
                "When",
                options=(
                    Option(ONCE_NOW, "Now"),
                    Option(ONCE_AT, "Once, at the time below"),
                    Option("weekly", "Weekly (Mondays)"),
                    Option("monthly", "Monthly (the 1st)"),
                    Option("quarterly", "Quarterly"),
                    Option(CRON, "A cron expression (below)"),
                ),
                initial=ONCE_NOW,
            ),
            Field(
                "at",
                "Time: YYYY-MM-DD HH:MM once, HH:MM for recurring, or a cron expression",
                optional=True,
                max_length=100,
            ),
            Field(
                "anonymous",
                "Anonymous",
                options=(Option("yes", "Yes: no names are stored"), Option("no", "No")),
                initial="yes",
            ),
            Field(
                "reminder",
                "Reminder after (hours; empty for none)",
                optional=True,
                initial=_number(routing.pulse.reminder_hours),
                max_length=10,
            ),
            Field(
                "closing",
                "Close after (hours)",
                initial=_number(routing.pulse.close_hours),
                max_length=10,
            ),
        ),
    )


def _number(value: float | None) -> str | None:
    if value is None:
        return None
    return f"{value:g}"


def _hours(text: str, field: str, *, optional: bool) -> float | None:
    text = text.strip()
    if not text and optional:
        return None
    try:
        hours = float(text)
    except ValueError:
        raise Refusal("Give a number of hours, e.g. 24.", field=field) from None
    if not 0 < hours <= 24 * 90:
        raise Refusal("Give a number of hours between 0 and 2160 (90 days).", field=field)
    return hours


def _schedule(choice: str, at: str, zone: ZoneInfo, now: datetime) -> tuple[str | None, datetime]:
    """(crontab or None, the first run's time) from the form's "When" and "Time"."""
    at = at.strip()
    if choice == ONCE_NOW:
        return None, now
    if choice == ONCE_AT:
        try:
            moment = datetime.strptime(at, "%Y-%m-%d %H:%M").replace(tzinfo=zone)
        except ValueError:
            raise Refusal("Give the time as YYYY-MM-DD HH:MM.", field="at") from None
        if moment <= now:
            raise Refusal("That time has passed.", field="at")
        return None, moment
    if choice in RECURRENCES:
        crontab = RECURRENCES[choice]
        if at:
            try:
                clock = datetime.strptime(at, "%H:%M")
            except ValueError:
                raise Refusal("Give the time of day as HH:MM.", field="at") from None
            crontab = f"{clock.minute} {clock.hour} " + crontab.split(" ", 2)[2]
        return crontab, now
    if choice == CRON:
        try:
            schedules.fire_times(at, zone, now, now)
        except ValueError:
            raise Refusal(
                "That is not a cron expression (minute hour day month weekday).", field="at"
            ) from None
        return at, now
    raise Refusal("Choose when to send it.", field="schedule")


def _audience(choice: str, users: str) -> dict[str, Any]:
    """Named people win; else everyone, or IT staff and/or departments (a multi-select)."""
    named = [u.strip() for u in users.replace("\n", ",").split(",") if u.strip()]
    if named:
        return {"users": named}
    picked = set(chosen(choice))
    departments = sorted(p[len(DEPARTMENT) :] for p in picked if p.startswith(DEPARTMENT))
    if EVERYONE in picked or not (departments or STAFF in picked):
        return {"everyone": True}
    audience: dict[str, Any] = {"departments": departments} if departments else {}
    return audience | ({"staff": True} if STAFF in picked else {})


@routes.form(FORM)
def submit_form(event: Event, ctx: Context) -> Response:
    if not ctx.settings.is_admin(event.platform, event.user):
        raise Refusal(ctx.render("pulse/admins_only.md.j2"), field="question")
    values = event.values
    zone = ZoneInfo(ctx.settings.routing.timezone)
    crontab, first = _schedule(
        values.get("schedule", ONCE_NOW), values.get("at", ""), zone, ctx.now
    )
    close_hours = _hours(values.get("closing", ""), "closing", optional=False)
    assert close_hours is not None
    survey = surveys.create_survey(
        session=ctx.session,
        question=values.get("question", ""),
        options=surveys.parse_options(values.get("options", "")),
        audience=_audience(values.get("audience", EVERYONE), values.get("users", "")),
        schedule=crontab,
        timezone=ctx.settings.routing.timezone,
        anonymous=values.get("anonymous", "yes") != "no",
        reminder_hours=_hours(values.get("reminder", ""), "reminder", optional=True),
        close_hours=close_hours,
        author=event.user,
        platform=event.platform,
        source="form",
        now=ctx.now,
    )
    if crontab:
        # The schedule counts from now: its first run is the next fire time.
        ctx.session.merge(ClockState(name=_schedule_name(survey), value=ctx.now))
    else:
        run = surveys.add_run(session=ctx.session, survey=survey, at=first)
        assert run is not None
        if first <= ctx.now:
            send_run(ctx, run, refuse_if_nobody=True, field="audience")
    return CloseForm()


# --- sending ------------------------------------------------------------------------------------


def _schedule_name(survey: Survey) -> str:
    return f"survey:{survey.id}"


def _describe_schedule(survey: Survey) -> str:
    if not survey.schedule:
        return "once"
    minute, hour, days = survey.schedule.split(" ", 2)
    for name, crontab in RECURRENCES.items():
        if days == crontab.split(" ", 2)[2] and minute.isdigit() and hour.isdigit():
            return f"{name} at {int(hour):02}:{int(minute):02} ({survey.timezone})"
    return f"cron {survey.schedule} ({survey.timezone})"


def prompt(
    ctx: Context, run: SurveyRun, survey: Survey, *, reminder: bool
) -> Callable[[str], Message]:
    """The survey's direct message, for one person: the words are rendered once, the buttons
    are signed for each person."""
    key = _key(ctx)
    text = ctx.render("pulse/prompt.md.j2", survey=survey, reminder=reminder)
    privacy = ctx.render(
        "pulse/privacy.md.j2",
        survey=survey,
        minimum=ctx.settings.routing.pulse.min_group_size,
    )

    def message(user: str) -> Message:
        return Message(
            text=text,
            blocks=(
                Block("section", text=text),
                answer_buttons(key, run.id, survey.options, user, chosen=None, with_comment=False),
                Block("context", text=privacy),
            ),
        )

    return message


def answer_buttons(
    key: bytes,
    run_id: int,
    options: list[str],
    user: str,
    *,
    chosen: int | None,
    with_comment: bool,
    ballot: surveys.Ballot = surveys.FRESH,
) -> Block:
    """One button per option, signed for `user` (the direct message's, and App Home's)."""
    buttons = [
        Button(
            label,
            f"{ANSWER}:{index}",
            surveys.button_value(key, run_id, str(index), user, ballot),
            style="primary" if index == chosen else None,
        )
        for index, label in enumerate(options)
    ]
    if with_comment:
        buttons.append(
            Button("Add a comment", COMMENT, surveys.button_value(key, run_id, "c", user, ballot))
        )
    return Block("actions", buttons=tuple(buttons))


def send_run(
    ctx: Context, run: SurveyRun, *, refuse_if_nobody: bool = False, field: str | None = None
) -> int:
    """Send a run to its audience (within the contact budget); returns how many copies."""
    survey = run.survey
    people = surveys.audience_people(
        session=ctx.session,
        settings=ctx.settings,
        audience=survey.audience,
        platform=survey.platform,
    )
    if not people and refuse_if_nobody:
        raise Refusal(ctx.render("pulse/nobody.md.j2"), field=field)
    allowed, held_back = surveys.within_budget(
        session=ctx.session, routing=ctx.settings.routing, people=people, now=ctx.now
    )
    surveys.open_run(session=ctx.session, run=run, people=allowed, held_back=held_back, now=ctx.now)
    message = prompt(ctx, run, survey, reminder=False)
    ctx.send_many(
        [
            Outgoing(
                key=surveys.copy_key(run.id, user),
                to=Address.person(survey.platform, user),
                message=message(user),
            )
            for user, _ in allowed
        ]
    )
    log.info(
        "survey %s run %s: %d sent, %d held back by the contact budget",
        survey.ref,
        run.id,
        len(allowed),
        held_back,
    )
    return len(allowed)


def remind(ctx: Context, run: SurveyRun) -> int:
    """One reminder, to those who have not answered (and still have contact budget)."""
    waiting = surveys.non_responders(session=ctx.session, run=run)
    allowed, held_back = surveys.within_budget(
        session=ctx.session,
        routing=ctx.settings.routing,
        people=[(user, "") for user in waiting],
        now=ctx.now,
    )
    run.reminded_at = ctx.now
    run.held_back += held_back
    message = prompt(ctx, run, run.survey, reminder=True)
    ctx.send_many(
        [
            Outgoing(
                key=surveys.reminder_key(run.id, user),
                to=Address.person(run.survey.platform, user),
                message=message(user),
            )
            for user, _ in allowed
        ]
    )
    return len(allowed)


def close(ctx: Context, run: SurveyRun) -> int:
    """Close the run and post its results to the IT channel (once: the delivery is keyed)."""
    if not surveys.close_run(session=ctx.session, run=run, now=ctx.now):
        return 0
    channel = ctx.settings.it_channel_for(run.survey.platform)
    if not channel:
        log.warning("survey run %s closed, but TECHHELP_IT_CHANNEL is not set", run.id)
        return 0
    message = results_message(ctx, run)
    ctx.send(Outgoing(key=f"survey-results:{run.id}", to=channel, message=message))
    return 1


def quoted(text: str, limit: int = 300) -> Neutral:
    """User text set apart from the bot's words: a literal (each renderer neutralises its
    platform's formatting inside it) on one line (" ↵ "), so it can neither format itself nor
    start a line of its own that reads like the bot's (a fake "*Average:* 4.90")."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return shorten(" ↵ ".join(lines), limit)


def results_message(ctx: Context, run: SurveyRun) -> Message:
    routing = ctx.settings.routing
    figures = surveys.figures(session=ctx.session, routing=routing, run=run)
    values: dict[str, Any] = {
        "f": figures,
        "quoted": quoted,
        "survey": run.survey,
        "minimum": routing.pulse.min_group_size,
        "min_comments": routing.pulse.min_comments,
        "closed": run.state == "closed",
        "closes_on": run.closes_at.strftime("%d %b %Y %H:%M UTC") if run.closes_at else "",
        "closed_on": (run.closed_at or ctx.now).strftime("%d %b %Y"),
        "sent_on": (run.sent_at or run.scheduled_for).strftime("%d %b %Y"),
    }
    # One section per part; a part left empty (nothing to say) is dropped.
    parts = [p.strip() for p in _PART.split(ctx.render("pulse/results.md.j2", **values))]
    summary = ctx.render("pulse/results_summary.md.j2", **values)
    header = ctx.render("pulse/results_header.md.j2", **values)
    return Message(
        text=summary,
        blocks=(Block("header", text=header), *(Block("section", text=p) for p in parts if p)),
    )


# --- answering ----------------------------------------------------------------------------------


def _answerable(
    ctx: Context, event: Event, value: str
) -> tuple[bytes, surveys.RunView, surveys.SurveyView, str, surveys.Ballot]:
    """The run and choice of a button made for this person; a value made for someone else, or
    a run not sent to them, is refused, saying which."""
    key = _key(ctx)
    try:
        run_id, choice, ballot = surveys.read_button(key, value, event.user)
    except Refusal:
        named = surveys.run_of_value(value)
        if (
            named is not None
            and ctx.session.get(SurveyRun, named) is not None
            and surveys.recipient_version(session=ctx.session, run_id=named, user=event.user)
            is None
        ):
            raise Refusal(surveys.NOT_SENT) from None
        raise
    run, survey = surveys.run_for_answer(session=ctx.session, run_id=run_id)
    return key, run, survey, choice, ballot


def _closed(ctx: Context, survey: surveys.SurveyView, run: surveys.RunView) -> Reply:
    return _reply(ctx, "pulse/closed.md.j2", survey=survey, run=run)


def _thanks(ctx: Context, key: bytes, user: str, answered: surveys.Answered) -> Message:
    survey, run = answered.survey, answered.run
    text = ctx.render(
        "pulse/thanks.md.j2",
        survey=survey,
        choice=survey.options[answered.option],
        comment=answered.comment,
        closes=run.closes_at.strftime("%d %b %H:%M UTC") if run.closes_at else "",
    )
    return Message(
        text=text,
        blocks=(
            Block("section", text=text),
            answer_buttons(
                key,
                run.id,
                survey.options,
                user,
                chosen=answered.option,
                with_comment=not answered.comment,
                ballot=answered.ballot,
            ),
            Block(
                "context",
                text=ctx.render(
                    "pulse/privacy.md.j2",
                    survey=survey,
                    minimum=ctx.settings.routing.pulse.min_group_size,
                ),
            ),
        ),
    )


@routes.action(ANSWER, private=True, deferred=True)
def on_answer(event: Event, ctx: Context) -> Response:
    key, run, survey, choice, ballot = _answerable(ctx, event, event.value)
    if event.name != f"{ANSWER}:{choice}" or not choice.isdigit():
        raise Refusal(surveys.INVALID)
    if run.state != "open":
        # Clicked on their App Home, say: whatever showed the buttons drops the closed survey.
        signals.survey_clicked.send(ctx, signals.SurveyClicked(run.id, event.user, answered=False))
        return _closed(ctx, survey, run)
    answered = surveys.record_answer(
        session=ctx.session,
        run=run,
        survey=survey,
        user=event.user,
        option=int(choice),
        ballot=ballot,
    )
    # Their App Home lists the surveys awaiting an answer: no longer this one (only the first
    # answer changes that list; a change of mind does not).
    if ballot.version == 0:
        signals.survey_clicked.send(ctx, signals.SurveyClicked(run.id, event.user, answered=True))
    return ReplaceMessage(_thanks(ctx, key, event.user, answered))


@routes.action(COMMENT, private=True)
def on_comment(event: Event, ctx: Context) -> Response:
    _, run, survey, choice, _ballot = _answerable(ctx, event, event.value)
    if choice != "c":
        raise Refusal(surveys.INVALID)
    if run.state != "open":
        return _closed(ctx, survey, run)
    return OpenForm(
        Form(
            form_id=COMMENT_FORM,
            title="Add a comment",
            submit="Send",
            context=event.value,
            intro=ctx.render(
                "pulse/comment_intro.md.j2",
                survey=survey,
                min_comments=ctx.settings.routing.pulse.min_comments,
            ),
            fields=(
                Field(
                    "comment",
                    "Your comment",
                    multiline=True,
                    max_length=surveys.MAX_COMMENT,
                ),
            ),
        )
    )


@routes.form(COMMENT_FORM, private=True)
def on_comment_form(event: Event, ctx: Context) -> Response:
    comment = event.values.get("comment", "").strip()
    if not comment:
        raise Refusal("Please write a comment, or close this form.", field="comment")
    named = surveys.run_of_value(event.context)
    if named is not None and (
        surveys.recipient_version(session=ctx.session, run_id=named, user=event.user) == 0
    ):
        raise Refusal("Please choose an answer first, then add your comment.", field="comment")
    try:
        _, run, survey, choice, ballot = _answerable(ctx, event, event.context)
    except Refusal as refusal:
        raise Refusal(str(refusal), field="comment") from None
    if choice != "c":
        raise Refusal("This form is not valid.", field="comment")
    if run.state != "open":
        raise Refusal(ctx.render("pulse/closed.md.j2", survey=survey, run=run), field="comment")
    surveys.record_comment(
        session=ctx.session,
        run=run,
        survey=survey,
        user=event.user,
        ballot=ballot,
        comment=comment,
    )
    return CloseForm()


# --- the clock ----------------------------------------------------------------------------------


def sync_config_surveys(ctx: Context) -> list[Survey]:
    """The YAML's surveys as rows (found by name), updated when the configuration changes."""
    configured = ctx.settings.routing.surveys
    names = [f"config:{s.name}" for s in configured]
    existing = {
        s.name: s for s in ctx.session.scalars(select(Survey).where(Survey.source == "config"))
    }
    for stored in existing.values():
        stored.active = stored.name in names
    for config, name in zip(configured, names, strict=True):
        survey = existing.get(name)
        options = list(config.options) or list(surveys.SCALE)
        audience = config.audience.model_dump(exclude_defaults=True)
        if survey is None:
            surveys.create_survey(
                session=ctx.session,
                name=name,
                question=config.question,
                options=list(config.options),
                audience=audience,
                schedule=config.schedule,
                timezone=ctx.settings.routing.timezone,
                anonymous=config.anonymous,
                reminder_hours=config.reminder_hours,
                close_hours=config.close_hours,
                author="config",
                # The YAML's audience (staff, users, departments) names ids on this platform.
                platform=ctx.settings.techhelp_platform,
                source="config",
                now=ctx.now,
            )
            continue
        wording = (config.question, options, config.anonymous)
        if wording != (survey.question, survey.options, survey.anonymous) and _has_open_run(
            ctx, survey
        ):
            # The answers of an open run are option numbers under its wording and privacy:
            # changing either mid-run would relabel or expose them. The change waits.
            log.info("%s: the new question, options or anonymity wait for its open run", name)
        else:
            survey.question, survey.options, survey.anonymous = wording
            survey.scale = not config.options
        survey.audience, survey.schedule = audience, config.schedule
        survey.timezone = ctx.settings.routing.timezone
        survey.reminder_hours, survey.close_hours = config.reminder_hours, config.close_hours
    ctx.session.flush()
    return list(ctx.session.scalars(select(Survey).where(Survey.source == "config")))


def _has_open_run(ctx: Context, survey: Survey) -> bool:
    return (
        ctx.session.scalar(
            select(SurveyRun.id).where(SurveyRun.survey_id == survey.id, SurveyRun.state == "open")
        )
        is not None
    )


@routes.tick
def surveys_due(ctx: Context) -> int:
    """Recurring runs that fell due, scheduled runs to send, reminders, closings."""
    sync_config_surveys(ctx)
    stored = 0
    recurring = ctx.session.scalars(
        select(Survey).where(Survey.active.is_(True), Survey.schedule.is_not(None))
    )
    for survey in list(recurring):
        assert survey.schedule is not None
        for at in schedules.runs_due(
            ctx.session,
            name=_schedule_name(survey),
            schedule=survey.schedule,
            zone=ZoneInfo(survey.timezone),
            now=ctx.now,
        ):
            surveys.add_run(session=ctx.session, survey=survey, at=at)
    due = surveys.due(session=ctx.session, now=ctx.now)
    for run in due["send"]:
        stored += send_run(ctx, run)
    for run in due["remind"]:
        stored += remind(ctx, run)
    for run in due["close"]:
        stored += close(ctx, run)
    return stored
