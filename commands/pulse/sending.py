"""Sending a run: the direct message with buttons signed for each person, within the contact
budget; the one reminder; closing a run and posting its results.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from chatbot import surveys
from chatbot.addresses import Address
from chatbot.bot import Context
from chatbot.config import RECURRENCES
from chatbot.db.models import Survey, SurveyRun
from chatbot.messages import Block, Button, Message, Outgoing, Refusal
from commands.pulse import questionnaire
from commands.pulse.common import ANSWER, COMMENT, _key
from commands.pulse.results import results_message

log = logging.getLogger(__name__)


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
    are signed for each person. A questionnaire's is its first page of items."""
    if survey.items is not None:
        return questionnaire.prompt(ctx, run, survey, reminder=reminder)
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
            Outgoing(key=surveys.copy_key(run.id, to.id), to=to, message=message(to.id))
            for to, _ in allowed
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
        people=[(to, "") for to in waiting],
        now=ctx.now,
    )
    run.reminded_at = ctx.now
    run.held_back += held_back
    message = prompt(ctx, run, run.survey, reminder=True)
    ctx.send_many(
        [
            Outgoing(key=surveys.reminder_key(run.id, to.id), to=to, message=message(to.id))
            for to, _ in allowed
        ]
    )
    return len(allowed)


def close(ctx: Context, run: SurveyRun) -> int:
    """Close the run and post its results to each platform's IT channel (once: the deliveries
    are keyed)."""
    if not surveys.close_run(session=ctx.session, run=run, now=ctx.now):
        return 0
    channels = ctx.settings.it_channels()
    if not channels:
        log.warning("survey run %s closed, but TECHHELP_IT_CHANNEL is not set", run.id)
        return 0
    message = results_message(ctx, run)
    for channel in channels:
        ctx.send(Outgoing(key=results_key(ctx, run, channel), to=channel, message=message))
    return len(channels)


def results_key(ctx: Context, run: SurveyRun, channel: Address) -> str:
    """The key of the results for `channel`: the TECHHELP_* platform's keeps the key it always
    had, so results stored before an upgrade are not posted twice."""
    if channel.platform == ctx.settings.techhelp_platform:
        return f"survey-results:{run.id}"
    return f"survey-results:{run.id}:{channel.platform}"
