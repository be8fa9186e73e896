"""The survey form: its fields, and a submitted form read into a survey (question, options,
schedule, closing, audience).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chatbot import schedules, surveys
from chatbot.bot import Context, Event
from chatbot.config import RECURRENCES
from chatbot.db.models import ClockState
from chatbot.messages import CloseForm, Field, Form, Option, Refusal, Response, chosen
from chatbot.surveys import items as quest
from commands.pulse.common import (
    CRON,
    DEPARTMENT,
    EVERYONE,
    FORM,
    MANAGERS,
    ONCE_AT,
    ONCE_NOW,
    STAFF,
    routes,
)
from commands.pulse.sending import _schedule_name, send_run


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
                "items",
                "…or a questionnaire: up to 20 items, one per line (the question above is its "
                "title): `question`, `question | option; option`, `question | comment`, "
                "`# Section`",
                multiline=True,
                optional=True,
                max_length=3000,
            ),
            Field(
                "audience",
                "Who gets it (one or more)",
                options=(
                    Option(EVERYONE, "Everyone"),
                    Option(STAFF, "IT staff"),
                    Option(MANAGERS, "Department managers"),
                    *(Option(f"{DEPARTMENT}{d.name}", d.name) for d in routing.departments),
                ),
                initial=EVERYONE,
                multiple=True,
            ),
            Field("users", "…or these people", kind="people", optional=True),
            Field(
                "schedule",
                "When",
                options=(
                    Option(ONCE_NOW, "Now"),
                    Option(ONCE_AT, "Once, at the time below"),
                    Option("weekly", "Weekly (Mondays)"),
                    Option("monthly", "Monthly (the 1st)"),
                    Option("quarterly", "Quarterly"),
                    Option("yearly", "Yearly (15 January)"),
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
    if EVERYONE in picked or not (departments or STAFF in picked or MANAGERS in picked):
        return {"everyone": True}
    audience: dict[str, Any] = {"departments": departments} if departments else {}
    audience |= {"managers": True} if MANAGERS in picked else {}
    return audience | ({"staff": True} if STAFF in picked else {})


@routes.form(FORM)
def submit_form(event: Event, ctx: Context) -> Response:
    if not ctx.actor(event).is_admin(ctx.settings):
        raise Refusal(ctx.render("pulse/admins_only.md.j2"), field="question")
    values = event.values
    zone = ZoneInfo(ctx.settings.routing.timezone)
    crontab, first = _schedule(
        values.get("schedule", ONCE_NOW), values.get("at", ""), zone, ctx.now
    )
    close_hours = _hours(values.get("closing", ""), "closing", optional=False)
    assert close_hours is not None
    items = quest.parse_items(values.get("items", ""))
    if items and values.get("options", "").strip():
        raise Refusal("A questionnaire's options belong to its items.", field="options")
    survey = surveys.create_survey(
        session=ctx.session,
        question=values.get("question", ""),
        options=[] if items else surveys.parse_options(values.get("options", "")),
        items=items or None,
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
        notice = ctx.render("pulse/scheduled.md.j2", survey=survey, when=crontab)
    else:
        run = surveys.add_run(session=ctx.session, survey=survey, at=first)
        assert run is not None
        if first <= ctx.now:
            sent = send_run(ctx, run, refuse_if_nobody=True, field="audience")
            notice = ctx.render("pulse/sent.md.j2", survey=survey, run=run, sent=sent)
        else:
            when = first.astimezone(zone).strftime("%a %d %b %H:%M %Z")
            notice = ctx.render("pulse/scheduled.md.j2", survey=survey, when=when)
    return CloseForm(notice=notice)
