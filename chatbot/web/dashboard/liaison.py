"""The client liaison program on the dashboard (behind its token, like every page there: the
notes are IT's): a page per department with its liaison timeline beside its requests and
survey trends (`/dashboard/department?department=…`), and the planning view of the recorded
asks by theme and quarter (`/dashboard/planning`) with its CSV (`/dashboard/csv/liaison-asks.csv`).
"""

from __future__ import annotations

import csv
import io
import urllib.parse
from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from chatbot import liaison, reports, surveys
from chatbot.reports import Filters
from chatbot.web.dashboard.pages import PULSE_RUN_COLUMNS, TABLES, Table, _pulse_surveys
from chatbot.web.dashboard.responses import Responses, Start

ASKS = Table(
    "liaison-asks",
    "Asks recorded at liaison check-ins",
    (
        ("theme", "Theme"),
        ("quarter", "Quarter"),
        ("department", "Department"),
        ("date", "Met on"),
        ("ask", "Ask"),
    ),
)
TIMELINE_SHOWN = 50


def _csv_cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


class LiaisonPages(Responses):
    """The department page and the planning view."""

    def render_department(self, filters: Filters) -> tuple[str, str]:
        """(status, page) for the department chosen in `filters`."""
        routing = self.settings.routing
        names = [d.name for d in routing.departments]
        chosen = next((d for d in routing.departments if d.name == filters.department), None)
        template = self.env.get_template("dashboard/department.html.j2")
        if chosen is None:
            return "404 Not Found", template.render(
                department=None,
                names=names,
                wanted=filters.department,
                filters=filters,
                generated=self.clock.now().strftime("%Y-%m-%d %H:%M UTC"),
            )
        today = self.clock.now().date()
        minimum = surveys.min_group_size(routing, at_least=self.settings.techhelp_min_group)
        with self.db.reading() as conn:
            session = Session(bind=conn)
            meetings = liaison.timeline(session, chosen.name, limit=TIMELINE_SHOWN)
            timeline = [
                {
                    "meeting": m,
                    "asks": liaison.asks_of(session, m.id),
                }
                for m in meetings
            ]
            follow_ups = liaison.open_follow_ups(session, chosen.name)
            check_in = liaison.next_check_in(session, chosen, today)
            volume = reports.volume_by_week(conn=conn, filters=filters, by="category")
            open_now = reports.open_by_state_and_tier(conn=conn, filters=filters)
            ratings = reports.ratings_by_week(
                conn=conn, filters=filters, min_group=minimum, today=today
            )
            pulse = reports.pulse_trends(
                conn=conn, filters=filters, routing=routing, min_group=minimum
            )
        page = template.render(
            department=chosen,
            names=names,
            wanted=chosen.name,
            filters=filters,
            check_in=check_in,
            today=today,
            timeline=timeline,
            follow_ups=follow_ups,
            tables=TABLES,
            volume=volume,
            open_now=open_now,
            ratings=ratings,
            pulse=_pulse_surveys(pulse, PULSE_RUN_COLUMNS),
            pulse_min=minimum,
            csv_query=urllib.parse.urlencode(filters.query()),
            generated=self.clock.now().strftime("%Y-%m-%d %H:%M UTC"),
        )
        return "200 OK", page

    def _asks(self, department: str | None) -> list[dict[str, Any]]:
        with self.db.reading() as conn:
            return liaison.asks_by_theme_and_quarter(Session(bind=conn), department=department)

    def render_planning(self, filters: Filters) -> str:
        asks = self._asks(filters.department)
        grid: Counter[tuple[str, str]] = Counter((a["theme"], a["quarter"]) for a in asks)
        quarters = sorted({q for _, q in grid})
        themes = sorted({t for t, _ in grid})
        return self.env.get_template("dashboard/planning.html.j2").render(
            asks=asks,
            table=ASKS,
            themes=themes,
            quarters=quarters,
            grid=grid,
            filters=filters,
            names=[d.name for d in self.settings.routing.departments],
            csv_query=urllib.parse.urlencode(
                {"department": filters.department} if filters.department else {}
            ),
            generated=self.clock.now().strftime("%Y-%m-%d %H:%M UTC"),
        )

    def planning_csv(self, start_response: Start, filters: Filters) -> list[bytes]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([heading for _, heading in ASKS.columns])
        for row in self._asks(filters.department):
            writer.writerow([_csv_cell(row.get(key)) for key, _ in ASKS.columns])
        name = f"techhelp-liaison-asks-{date.today().isoformat()}.csv"
        return self._send(
            start_response,
            "200 OK",
            out.getvalue().encode("utf-8"),
            "text/csv; charset=utf-8",
            [("Content-Disposition", f'attachment; filename="{name}"')],
        )
