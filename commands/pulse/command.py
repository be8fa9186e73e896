"""The `/pulse` command (admins): send a quick pulse, list, results, stop, close, open the form."""

from __future__ import annotations

from sqlalchemy import select

from chatbot import surveys
from chatbot.bot import Context, Event
from chatbot.db.models import Survey
from chatbot.messages import OpenForm, Refusal, Reply, Response
from chatbot.surveys import items as quest
from chatbot.text import literal
from commands.pulse.clock import sync_config_surveys
from commands.pulse.common import _reply, routes
from commands.pulse.form import survey_form
from commands.pulse.results import results_message
from commands.pulse.sending import _describe_schedule, close, send_run


@routes.command("pulse")
def pulse(event: Event, ctx: Context) -> Response:
    if not ctx.actor(event).is_admin(ctx.settings):
        raise Refusal(ctx.render("pulse/admins_only.md.j2"))
    words = event.text.split(maxsplit=1)
    verb = words[0].lower() if words else ""
    rest = words[1].strip() if len(words) > 1 else ""
    if not words:
        return OpenForm(survey_form(ctx))
    if verb == "send":
        if not rest:
            return _reply(ctx, "pulse/usage.md.j2")
        flag, _, target = rest.partition(" ")
        if flag in ("--name", "--template") and target.strip():
            return send_named(ctx, event, flag, target.strip())
        return quick_pulse(ctx, event, rest)
    if verb == "list" and not rest:
        listed = [
            (survey, surveys.latest_run(session=ctx.session, survey=survey))
            for survey in surveys.surveys(session=ctx.session)
        ]
        return _reply(ctx, "pulse/list.md.j2", surveys=listed, describe=_describe_schedule)
    if verb == "results" and rest.lower() == "satisfaction":
        minimum = ctx.settings.techhelp_min_group
        trend = surveys.satisfaction_trend(
            session=ctx.session, routing=ctx.settings.routing, until=ctx.now, at_least=minimum
        )
        return _reply(
            ctx,
            "pulse/satisfaction.md.j2",
            trend=trend,
            minimum=surveys.min_group_size(ctx.settings.routing, at_least=minimum),
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
        runs = surveys.runs_of(session=ctx.session, survey=survey)
        still_open = any(r.state == "open" for r in runs)
        return _reply(
            ctx, "pulse/stopped.md.j2", survey=survey, cancelled=cancelled, still_open=still_open
        )
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


def send_named(ctx: Context, event: Event, flag: str, name: str) -> Response:
    """`/pulse send --name NAME`: a run of the YAML's survey NAME, now (besides its schedule);
    `/pulse send --template NAME`: a built-in questionnaire, as it is, to its audience, now."""
    if flag == "--name":
        sync_config_surveys(ctx)
        survey = ctx.session.scalars(select(Survey).where(Survey.name == f"config:{name}")).first()
        if survey is None:
            known = ", ".join(s.name for s in ctx.settings.routing.surveys) or "none"
            raise Refusal(
                f"There is no survey {literal(name)} in the configuration "
                f"(its surveys: {literal(known)})."
            )
    else:
        config = quest.builtin(name)
        survey = surveys.create_survey(
            session=ctx.session,
            question=config.title,
            options=[],
            items=[item.stored() for item in config.items or []],
            audience=config.audience.model_dump(exclude_defaults=True),
            schedule=None,
            timezone=ctx.settings.routing.timezone,
            anonymous=config.anonymous,
            reminder_hours=config.reminder_hours,
            close_hours=config.close_hours,
            author=event.user,
            platform=event.platform,
            source="command",
            now=ctx.now,
        )
    run = surveys.add_run(session=ctx.session, survey=survey, at=ctx.now)
    if run is None:
        raise Refusal(f"{survey.ref} was just sent.")
    sent = send_run(ctx, run, refuse_if_nobody=True)
    return _reply(ctx, "pulse/sent.md.j2", survey=survey, run=run, sent=sent)
