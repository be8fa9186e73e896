"""A run's results as a message for the IT channel (figures from `chatbot.surveys`, people's
comments quoted as literal text).
"""

from __future__ import annotations

import re
from typing import Any

from chatbot import surveys
from chatbot.bot import Context
from chatbot.db.models import SurveyRun
from chatbot.messages import Block, Message
from chatbot.text import Neutral, shorten

_PART = re.compile(r"^---$", re.MULTILINE)


def quoted(text: str, limit: int = 300) -> Neutral:
    """User text set apart from the bot's words: a literal (each renderer neutralises its
    platform's formatting inside it) on one line (" ↵ "), so it can neither format itself nor
    start a line of its own that reads like the bot's (a fake "*Average:* 4.90")."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return shorten(" ↵ ".join(lines), limit)


def results_message(ctx: Context, run: SurveyRun) -> Message:
    if run.survey.items is not None:
        return questionnaire_results_message(ctx, run)
    figures = surveys.figures(session=ctx.session, routing=ctx.settings.routing, run=run)
    values = _values(ctx, run, figures)
    # One section per part; a part left empty (nothing to say) is dropped.
    parts = [p.strip() for p in _PART.split(ctx.render("pulse/results.md.j2", **values))]
    summary = ctx.render("pulse/results_summary.md.j2", **values)
    header = ctx.render("pulse/results_header.md.j2", **values)
    return Message(
        text=summary,
        blocks=(Block("header", text=header), *(Block("section", text=p) for p in parts if p)),
    )


def _values(ctx: Context, run: SurveyRun, figures: object) -> dict[str, Any]:
    """What the results templates read, for a pulse's figures and a questionnaire's alike."""
    routing = ctx.settings.routing
    return {
        "f": figures,
        "quoted": quoted,
        "survey": run.survey,
        "minimum": routing.pulse.min_group_size,
        "min_comments": routing.pulse.min_comments,
        "closed": run.state == "closed",
        "closes_on": run.closes_at.strftime("%d %b %Y %H:%M UTC") if run.closes_at else "",
        "closed_on": (run.closed_at or ctx.now).strftime("%d %b %Y"),
        "sent_on": _day(run),
    }


def questionnaire_results_message(ctx: Context, run: SurveyRun) -> Message:
    """A questionnaire's results: the headline (on how many items the score rose), then one
    section per item (response rate, average and its change, distribution, per department),
    and the sections' averages. One block per item: 20 items stay within every platform's
    limits."""
    figures = surveys.questionnaire_figures(
        session=ctx.session, routing=ctx.settings.routing, run=run
    )
    before = figures.previous_run
    values = _values(ctx, run, figures) | {"before_on": _day(before) if before else ""}
    head = ctx.render("pulse/questionnaire_results.md.j2", **values)
    blocks = [Block("header", text=ctx.render("pulse/results_header.md.j2", **values))]
    blocks.append(Block("section", text=head))
    for result in figures.items:
        text = ctx.render("pulse/questionnaire_item_results.md.j2", r=result, **values)
        blocks.append(Block("section", text=text))
    if figures.sections and figures.final:
        text = ctx.render("pulse/questionnaire_sections.md.j2", **values)
        blocks.append(Block("section", text=text))
    summary = ctx.render("pulse/questionnaire_summary.md.j2", **values)
    return Message(text=summary, blocks=tuple(blocks))


def _day(run: SurveyRun) -> str:
    return (run.sent_at or run.scheduled_for).strftime("%d %b %Y")
