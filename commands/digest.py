"""The weekly digest: the week's figures and a chart of the main trend, posted by `chatbot clock`
to the IT channel (`TECHHELP_IT_CHANNEL`) on the `digest` schedule of the configuration.

The chart is a PNG (Slack shows no SVG) shared with Slack's file upload flow. The whole post is
one outbox row (action "upload", the image inside it), so it survives a restart or a 429 like any
message; it is keyed by the ISO week of the run, so a week's digest is stored once.
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from chatbot import reports, schedules, surveys
from chatbot.bot import Context, Routes
from chatbot.messages import Block, File, Message, Outgoing
from chatbot.reports import Filters
from chatbot.web import png

log = logging.getLogger(__name__)
routes = Routes()

SCHEDULE = "digest"
TREND_WEEKS = 12


def week_id(run: datetime) -> str:
    year, week, _ = run.isocalendar()
    return f"{year}-W{week:02d}"


def build(ctx: Context, run: datetime) -> Message:
    """The digest of the seven days before the run's date."""
    end = run.date() - timedelta(days=1)
    week = Filters(start=end - timedelta(days=6), end=end)
    trend = Filters(start=end - timedelta(weeks=TREND_WEEKS) + timedelta(days=1), end=end)
    routing = ctx.settings.routing
    conn = ctx.session.connection()
    totals = reports.totals(conn=conn, filters=week)
    first = reports.response_times(conn=conn, filters=week, routing=routing, kind="first_response")
    resolution = reports.response_times(conn=conn, filters=week, routing=routing, kind="resolution")
    overdue = reports.overdue(conn=conn, filters=week, routing=routing, now=ctx.now)
    alerts = reports.alert_history(conn=conn, filters=week, now=ctx.now)
    # The rating of the last whole week published (`reports.published_weeks`): the figure of
    # the report and the dashboard, never a sum of partial weeks that they do not publish.
    ratings = reports.ratings_by_week(
        conn=conn,
        filters=week,
        min_group=surveys.min_group_size(routing, at_least=ctx.settings.techhelp_min_group),
        today=ctx.now.date(),
        by_department=False,
    )
    rating = None
    if ratings and ratings[-1]["ratings"]:
        rating = {"average": ratings[-1]["average"], "ratings": ratings[-1]["ratings"]}
    weekly = {r["week"]: r for r in reports.weekly_volume(conn=conn, filters=trend)}
    weeks = []
    monday = trend.start - timedelta(days=trend.start.weekday())
    while monday <= trend.end:
        weeks.append(monday.isoformat())
        monday += timedelta(weeks=1)
    requests = [weekly[w]["requests"] if w in weekly else 0 for w in weeks]
    share = [weekly[w]["share_pct"] if w in weekly else None for w in weeks]
    targets = [
        {"urgency": f["urgency"], "first": f, "resolution": r}
        for f, r in zip(first, resolution, strict=True)
    ]
    parts = ctx.templates.blocks(
        "digest/digest.md.j2",
        start=week.start.isoformat(),
        end=week.end.isoformat(),
        totals=totals,
        overdue=len(overdue),
        overdue_more=len(overdue) >= reports.OVERDUE_LIMIT,
        alerts=len(alerts),
        rating=rating,
        targets=targets,
    )
    title = f"Requests per week and share via /techhelp, {weeks[0]} to {weeks[-1]}"
    alt = (
        title
        + ": "
        + "; ".join(
            f"{w} {n} requests" + (f", {s}% via /techhelp" if s is not None else "")
            for w, n, s in zip(weeks, requests, share, strict=True)
        )
    )
    image = png.weekly_trend(weeks, requests, share, title="Requests per week · % via /techhelp")
    file = File(
        name=f"techhelp-digest-{week_id(run)}.png",
        title=f"TechHelp weekly digest {week_id(run)}",
        alt_text=alt[:1000],
        content_b64=base64.b64encode(image).decode(),
    )
    return Message(
        text=f"Weekly service digest {week.start} to {week.end}",
        blocks=tuple(Block("section", text=p) for p in parts),
        file=file,
    )


@routes.tick
def post_digest(ctx: Context) -> int:
    """The digest run that fell due (the latest, if several did), keyed by its week."""
    schedule = ctx.settings.routing.digest
    if not schedule:
        return 0
    zone = ZoneInfo(ctx.settings.routing.timezone)
    runs = schedules.runs_due(ctx.session, name=SCHEDULE, schedule=schedule, zone=zone, now=ctx.now)
    if not runs:
        return 0
    channels = ctx.settings.it_channels()
    if not channels:
        log.warning("no TECHHELP_IT_CHANNEL (nor triage channel): the weekly digest is skipped")
        return 0
    run = runs[-1]
    message = build(ctx, run)
    for channel in channels:
        # The TECHHELP_* platform's keeps the key it always had: a digest stored before an
        # upgrade is not posted twice.
        where = "" if channel.platform == ctx.settings.techhelp_platform else f":{channel.platform}"
        ctx.send(
            Outgoing(
                key=f"digest:{week_id(run)}{where}", to=channel, message=message, action="upload"
            )
        )
        log.info("weekly digest %s stored for %s", week_id(run), channel)
    return len(channels)
