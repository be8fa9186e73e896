"""Every capability's handlers, registered in one place: adding one is a module and a line."""

from chatbot.bot import Routes
from commands import (
    digest,
    home,
    kb,
    liaison,
    outreach,
    pulse,
    rating,
    service_targets,
    techalert,
    techhelp,
    triage,
)

ROUTES: list[Routes] = [
    techhelp.routes,
    triage.routes,
    rating.routes,
    techalert.routes,
    outreach.routes,
    pulse.routes,
    service_targets.routes,
    home.routes,
    digest.routes,
    liaison.routes,
    kb.routes,
]
