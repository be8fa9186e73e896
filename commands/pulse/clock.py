"""The clock's job: the YAML's surveys kept as rows, recurring runs created when due, and due runs
sent, reminded and closed.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from sqlalchemy import select

from chatbot import schedules, surveys
from chatbot.addresses import LOCAL
from chatbot.bot import Context
from chatbot.db.models import Survey, SurveyRun
from commands.pulse.common import routes
from commands.pulse.sending import _schedule_name, close, remind, send_run

log = logging.getLogger(__name__)


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
        items = [item.stored() for item in config.items] if config.items is not None else None
        if survey is None:
            surveys.create_survey(
                session=ctx.session,
                name=name,
                question=config.title,
                options=list(config.options),
                items=items,
                audience=audience,
                schedule=config.schedule,
                timezone=ctx.settings.routing.timezone,
                anonymous=config.anonymous,
                reminder_hours=config.reminder_hours,
                close_hours=config.close_hours,
                author="config",
                # The operator's: it goes to every platform, and the YAML's `users` name ids
                # on the TECHHELP_* platform (`surveys.ids_platform`).
                platform=LOCAL,
                source="config",
                now=ctx.now,
            )
            continue
        wording = (config.title, options, config.anonymous, items)
        if wording != (
            survey.question,
            survey.options,
            survey.anonymous,
            survey.items,
        ) and _has_open_run(ctx, survey):
            # The answers of an open run are option numbers under its wording and privacy:
            # changing either mid-run would relabel or expose them. The change waits.
            log.info("%s: the new question, options or anonymity wait for its open run", name)
        else:
            survey.question, survey.options, survey.anonymous, survey.items = wording
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
