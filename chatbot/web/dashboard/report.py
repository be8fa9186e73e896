"""The public service report (`/report`): organisation-wide figures of the last 12 weeks; no
names, user ids, request text, nor any group smaller than the minimum.
"""

from __future__ import annotations

from typing import Any

from chatbot import reports
from chatbot.reports import Filters
from chatbot.web.charts import Series, bar_chart, line_chart
from chatbot.web.dashboard.pages import (
    PUBLIC_PULSE_COLUMNS,
    PUBLIC_QUESTIONNAIRE_COLUMNS,
    Pages,
    Table,
    _pulse_surveys,
    _weeks,
)
from chatbot.web.dashboard.responses import Start


class Report(Pages):
    """The public service report (`/report`): organisation-wide aggregates only."""

    def report(self, environ: dict[str, Any], start_response: Start) -> list[bytes]:
        """The public page: organisation-wide figures of the last 12 weeks, no personal data."""
        filters = Filters.default(today=self.clock.now().date())
        routing = self.settings.routing
        with self.db.reading() as conn:
            totals = reports.totals(conn=conn, filters=filters)
            self_service = reports.self_service_rate(conn=conn, filters=filters)
            weekly = reports.weekly_volume(conn=conn, filters=filters)
            first = reports.response_times(
                conn=conn, filters=filters, routing=routing, kind="first_response"
            )
            resolution = reports.response_times(
                conn=conn, filters=filters, routing=routing, kind="resolution"
            )
            ratings = reports.ratings_by_week(
                conn=conn,
                filters=filters,
                min_group=self._pulse_min(),
                today=self.clock.now().date(),
                by_department=False,
            )
            pulse = reports.pulse_trends(
                conn=conn,
                filters=filters,
                routing=routing,
                min_group=self.settings.techhelp_min_group,
                by_department=False,
            )
            annual = reports.questionnaire_items(
                conn=conn,
                routing=routing,
                min_group=self.settings.techhelp_min_group,
                by_department=False,
            )
        weeks = _weeks(filters)
        by_week = {r["week"]: r for r in weekly}
        rating_by_week = {r["week"]: r for r in ratings}
        averages = [rating_by_week[w]["average"] if w in rating_by_week else None for w in weeks]
        charts = {
            "volume": bar_chart(
                "Requests per week",
                weeks,
                [by_week[w]["requests"] if w in by_week else 0 for w in weeks],
                unit="requests",
            ),
            "intake": line_chart(
                "Share of requests via /techhelp per week",
                weeks,
                [
                    Series(
                        "via /techhelp",
                        [by_week[w]["share_pct"] if w in by_week else None for w in weeks],
                    )
                ],
                unit="%",
            ),
            "ratings": line_chart(
                "Average request rating per week",
                weeks,
                [Series("average rating", averages)],
                unit="1–5",
            ),
        }
        page = self.env.get_template("dashboard/report.html.j2").render(
            filters=filters,
            totals=totals,
            self_service=self_service,
            weeks=weeks,
            by_week=by_week,
            rating_by_week=rating_by_week,
            first=first,
            resolution=resolution,
            charts=charts,
            pulse=_pulse_surveys(pulse, PUBLIC_PULSE_COLUMNS),
            pulse_min=self._pulse_min(),
            annual=annual,
            annual_table=Table(
                "questionnaire", "Annual surveys per item", PUBLIC_QUESTIONNAIRE_COLUMNS
            ),
            min_group=self.settings.techhelp_min_group,
            generated=self.clock.now().strftime("%Y-%m-%d %H:%M UTC"),
        )
        return self._html(start_response, "200 OK", page, cache=False)
