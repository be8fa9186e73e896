"""Outreach: reminders of the single point of intake, posted by `chatbot clock` on the schedules
of the configuration (`outreach:`), words from `templates/`."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from chatbot import schedules
from chatbot.addresses import Address
from chatbot.bot import Context, Routes
from chatbot.messages import Block, Message, Outgoing

log = logging.getLogger(__name__)
routes = Routes()


@routes.tick
def post_due(ctx: Context) -> int:
    """Each outreach run that fell due: one post per channel, keyed by (schedule, run, channel)."""
    routing = ctx.settings.routing
    zone = ZoneInfo(routing.timezone)
    stored = 0
    for outreach in routing.outreach:
        name = f"outreach:{outreach.name}"
        runs = schedules.runs_due(
            ctx.session, name=name, schedule=outreach.schedule, zone=zone, now=ctx.now
        )
        if not runs:
            continue
        parts = ctx.templates.blocks(outreach.template)
        message = Message(text=parts[0], blocks=tuple(Block("section", text=p) for p in parts))
        platform = outreach.platform or ctx.settings.techhelp_platform
        for run in runs:
            for channel in outreach.channels:
                ctx.send(
                    Outgoing(
                        key=f"{name}:{run.isoformat()}:{channel}",
                        to=Address.channel(platform, channel),
                        message=message,
                    )
                )
            log.info("outreach %s for %s: %d channels", outreach.name, run, len(outreach.channels))
            stored += len(outreach.channels)
    return stored
