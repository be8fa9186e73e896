"""The dashboard's page: its tables (`TABLES`, each also a CSV), filters, figures from
`chatbot.reports`, SVG charts, and the pulse surveys' trends; the HTML template environment.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from chatbot import delivery, reports, surveys
from chatbot.reports import Filters
from chatbot.text import templates_dir
from chatbot.web.charts import Series, bar_chart, line_chart
from chatbot.web.dashboard.responses import Responses

MAX_RANGE = timedelta(days=3 * 366)
PLATFORM_NAMES = {"slack": "Slack", "teams": "Microsoft Teams"}


@dataclass(frozen=True)
class Table:
    name: str  # also the CSV file name
    title: str
    columns: tuple[tuple[str, str], ...]  # (key, heading)


# Time to first response and to resolution are tabled alike.
TIMING_COLUMNS = (
    ("urgency", "Urgency"),
    ("requests", "Requests"),
    ("median_minutes", "Median (min)"),
    ("p90_minutes", "90th percentile (min)"),
    ("target_minutes", "Target (min)"),
    ("within_target_pct", "Within target (%)"),
)

PULSE_RUN_COLUMNS = (
    ("sent", "Sent"),
    ("department", "Department"),
    ("recipients", "Recipients"),
    ("answers", "Answers"),
    ("response_pct", "Response rate (%)"),
    ("average", "Average (1–5)"),
    ("top_option", "Top answer"),
    ("distribution", "Distribution"),
)
# The public report: everyone's row per run, no department.
PUBLIC_PULSE_COLUMNS = tuple(c for c in PULSE_RUN_COLUMNS if c[0] != "department")
# Questionnaires: the latest closed run of each, per item, beside the run before.
QUESTIONNAIRE_COLUMNS = (
    ("survey", "Survey"),
    ("title", "Questionnaire"),
    ("sent", "Sent"),
    ("previous_sent", "Previous run"),
    ("headline", "Score"),
    ("number", "Item"),
    ("item", "Item id"),
    ("section", "Section"),
    ("question", "Question"),
    ("department", "Department"),
    ("answers", "Answers"),
    ("response_pct", "Response rate (%)"),
    ("trend", "Trend over the runs"),
    ("average", "Average (1–5)"),
    ("previous", "Previous average"),
    ("change", "Change"),
    ("top_option", "Top answer"),
    ("distribution", "Distribution"),
)
PUBLIC_QUESTIONNAIRE_COLUMNS = tuple(
    c for c in QUESTIONNAIRE_COLUMNS if c[0] not in ("department", "item", "survey")
)

TABLES = {
    t.name: t
    for t in (
        Table(
            "open-requests",
            "Open requests by state and tier",
            (("state", "State"), ("tier", "Tier"), ("requests", "Requests")),
        ),
        Table(
            "volume-by-category",
            "Requests per week by category",
            (("week", "Week of"), ("category", "Category"), ("requests", "Requests")),
        ),
        Table(
            "volume-by-department",
            "Requests per week by department",
            (("week", "Week of"), ("department", "Department"), ("requests", "Requests")),
        ),
        Table("first-response", "Time to first response by urgency", TIMING_COLUMNS),
        Table("resolution", "Time to resolution by urgency", TIMING_COLUMNS),
        Table(
            "overdue",
            "Overdue requests (oldest first)",
            (
                ("request", "Request"),
                ("urgency", "Urgency"),
                ("category", "Category"),
                ("department", "Department"),
                ("state", "State"),
                ("tier", "Tier"),
                ("created", "Created (UTC)"),
                ("age_hours", "Age (hours)"),
                ("missed", "Target missed"),
            ),
        ),
        Table(
            "intake",
            "Single point of intake: share via /techhelp, per department and week",
            (
                ("department", "Department"),
                ("week", "Week of"),
                ("requests", "Requests"),
                ("via_techhelp", "Via /techhelp"),
                ("share_pct", "Share (%)"),
            ),
        ),
        Table(
            "intake-channels",
            "Requests by intake channel (each platform its own)",
            (("channel", "Channel"), ("requests", "Requests"), ("share_pct", "Share (%)")),
        ),
        Table(
            "self-service",
            "Self-service: requests closed with a suggested article, per department and week",
            (
                ("department", "Department"),
                ("week", "Week of"),
                ("requests", "Requests"),
                ("self_served", "Self-served"),
                ("rate_pct", "Rate (%)"),
            ),
        ),
        Table(
            "articles",
            "Article helpfulness (most requests solved first)",
            (
                ("article", "Article"),
                ("title", "Title"),
                ("state", "State"),
                ("suggested", "Suggested"),
                ("shown", "Opened"),
                ("solved", "Solved it"),
                ("helpful_pct", "Helpful (%)"),
            ),
        ),
        Table(
            "content-gaps",
            "Searches and requests no article answered (newest first)",
            (
                ("at", "When (UTC)"),
                ("kind", "Kind"),
                ("department", "Department"),
                ("text", "Words"),
            ),
        ),
        Table(
            "ratings",
            "Request ratings per week and department (1–5)",
            (
                ("week", "Week of"),
                ("department", "Department"),
                ("ratings", "Ratings"),
                ("average", "Average"),
            ),
        ),
        Table(
            "rating-response",
            "Rating response rate per department",
            (
                ("department", "Department"),
                ("resolved", "Resolved"),
                ("rated", "Rated"),
                ("response_pct", "Response rate (%)"),
            ),
        ),
        Table(
            "pulse",
            "Pulse survey results per run and department",
            (
                ("survey", "Survey"),
                ("question", "Question"),
                *PULSE_RUN_COLUMNS,
            ),
        ),
        Table(
            "questionnaire",
            "Annual surveys: the latest run of each questionnaire per item, beside the run before",
            QUESTIONNAIRE_COLUMNS,
        ),
        Table(
            "alerts",
            "Alert history (newest first)",
            (
                ("alert", "Alert"),
                ("severity", "Severity"),
                ("service", "Service"),
                ("state", "State"),
                ("created", "Created (UTC)"),
                ("resolved", "Resolved (UTC)"),
                ("duration_minutes", "Duration (min)"),
                ("copies", "Copies delivered"),
                ("affected", "People affected"),
            ),
        ),
    )
}


def html_environment(directory: Path | None = None) -> Environment:
    """HTML templates: autoescape on, unlike the Slack text environment."""
    env = Environment(
        loader=FileSystemLoader(directory or templates_dir()),
        autoescape=select_autoescape(["html", "html.j2"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["number"] = _number
    return env


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


class Pages(Responses):
    """The dashboard's page: its filters, its figures, its charts and tables."""

    def filters(self, query: dict[str, list[str]]) -> tuple[Filters, str | None]:
        today = self.clock.now().date()
        default = Filters.default(today=today)
        problem = None
        try:
            start = date.fromisoformat(query["start"][0]) if query.get("start") else default.start
            end = date.fromisoformat(query["end"][0]) if query.get("end") else default.end
        except ValueError:
            start, end, problem = default.start, default.end, "Dates must look like 2026-01-31."
        if end < start:
            start, end = end, start
        if end - start > MAX_RANGE:
            start, problem = end - MAX_RANGE, "The range is limited to three years."
        department = (query.get("department") or [""])[0].strip()[:100] or None
        return Filters(start=start, end=end, department=department), problem

    def unknown_department(self, filters: Filters) -> str | None:
        """Why the filters' department cannot be shown (no such department: a typo, or one
        with nothing in the range), or None."""
        if not filters.department:
            return None
        with self.db.reading() as conn:
            known = reports.departments(conn=conn, routing=self.settings.routing, filters=filters)
        if filters.department in known:
            return None
        listed = ", ".join(known) if known else "none in this range"
        return (
            f'There is no department named "{filters.department}" with requests or members '
            f"between {filters.start} and {filters.end}. The departments: {listed}.\n"
        )

    def figures(self, filters: Filters) -> dict[str, list[dict[str, Any]]]:
        settings, routing = self.settings, self.settings.routing
        min_group = settings.techhelp_min_group
        now = self.clock.now()
        with self.db.reading() as conn:
            return {
                "open-requests": reports.open_by_state_and_tier(conn=conn, filters=filters),
                "volume-by-category": reports.volume_by_week(
                    conn=conn, filters=filters, by="category"
                ),
                "volume-by-department": reports.volume_by_week(
                    conn=conn, filters=filters, by="department"
                ),
                "first-response": reports.response_times(
                    conn=conn, filters=filters, routing=routing, kind="first_response"
                ),
                "resolution": reports.response_times(
                    conn=conn, filters=filters, routing=routing, kind="resolution"
                ),
                "overdue": reports.overdue(conn=conn, filters=filters, routing=routing, now=now),
                "intake": reports.intake_share(conn=conn, filters=filters),
                "intake-channels": reports.intake_channels(conn=conn, filters=filters),
                "self-service": reports.self_service_by_week(conn=conn, filters=filters),
                "articles": reports.article_helpfulness(conn=conn, filters=filters),
                "content-gaps": reports.content_gaps(conn=conn, filters=filters),
                "ratings": reports.ratings_by_week(
                    conn=conn, filters=filters, min_group=self._pulse_min(), today=now.date()
                ),
                "rating-response": reports.rating_response(
                    conn=conn, filters=filters, min_group=self._pulse_min()
                ),
                "pulse": reports.pulse_trends(
                    conn=conn, filters=filters, routing=routing, min_group=min_group
                ),
                "questionnaire": [
                    row
                    for row in reports.questionnaire_items(
                        conn=conn, routing=routing, min_group=min_group
                    )
                    if not filters.department or row["department"] == filters.department
                ],
                "alerts": reports.alert_history(conn=conn, filters=filters, now=now),
                "_departments": [
                    {"name": d}
                    for d in reports.departments(conn=conn, routing=routing, filters=filters)
                ],
            }

    def render_dashboard(self, filters: Filters, problem: str | None = None) -> str:
        data = self.figures(filters)
        weeks = _weeks(filters)
        charts = {
            "open-requests": bar_chart(
                "Open requests by state and tier",
                [f"{r['state']} · tier {r['tier']}" for r in data["open-requests"]],
                [r["requests"] for r in data["open-requests"]],
                unit="requests",
            ),
            "volume": line_chart(
                "Requests per week by category",
                weeks,
                _series(data["volume-by-category"], "category", "requests", weeks, missing=0),
                unit="requests",
            ),
            "intake": line_chart(
                "Share of requests via /techhelp per week, by department",
                weeks,
                _series(data["intake"], "department", "share_pct", weeks),
                unit="%",
            ),
            "ratings": line_chart(
                "Average request rating per week, by department",
                weeks,
                _series(data["ratings"], "department", "average", weeks),
                unit="1–5",
            ),
        }
        query = filters.query()
        with self.db.reading() as conn:
            waiting = delivery.waiting(conn)
        return self.env.get_template("dashboard/index.html.j2").render(
            waiting=[
                {
                    "platform": PLATFORM_NAMES.get(w.platform, w.platform),
                    "reason": w.reason,
                    "messages": w.messages,
                    "since": w.since.strftime("%Y-%m-%d %H:%M UTC"),
                }
                for w in waiting
            ],
            pulse=_pulse_surveys(data["pulse"], PULSE_RUN_COLUMNS),
            pulse_min=self._pulse_min(),
            filters=filters,
            problem=problem,
            departments=[d["name"] for d in data["_departments"]],
            tables=TABLES,
            data=data,
            charts=charts,
            csv_query=urllib.parse.urlencode(query),
            min_group=self.settings.techhelp_min_group,
            generated=self.clock.now().strftime("%Y-%m-%d %H:%M UTC"),
        )

    def _pulse_min(self) -> int:
        return surveys.min_group_size(
            self.settings.routing, at_least=self.settings.techhelp_min_group
        )


def _weeks(filters: Filters) -> list[str]:
    """Every Monday of the range's weeks, so a week without requests still shows (as zero)."""
    monday = filters.start - timedelta(days=filters.start.weekday())
    weeks = []
    while monday <= filters.end:
        weeks.append(monday.isoformat())
        monday += timedelta(weeks=1)
    return weeks


def _series(
    rows: list[dict[str, Any]], by: str, value: str, weeks: list[str], missing: Any = None
) -> list[Series]:
    """One series per value of `by`; a week without a row is `missing` (a gap, or zero)."""
    grouped: dict[str, dict[str, Any]] = {}
    for row in rows:
        grouped.setdefault(str(row[by]), {})[row["week"]] = row[value]
    return [
        Series(name, [values.get(week, missing) for week in weeks])
        for name, values in sorted(grouped.items())
    ]


@dataclass(frozen=True)
class PulseSurvey:
    """One survey's runs on a page: its trend chart and its table."""

    ref: str
    question: str
    table: Table
    rows: list[dict[str, Any]]
    chart: Any


def _pulse_surveys(
    rows: list[dict[str, Any]], columns: tuple[tuple[str, str], ...]
) -> list[PulseSurvey]:
    """Per survey (rows of `reports.pulse_trends`, in its order): a trend chart over its runs
    (the average per department on the 1–5 scale; the share of each answer otherwise) and its
    table (the average, or the top answer, whichever applies)."""
    by_survey: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_survey.setdefault(row["survey"], []).append(row)
    result = []
    for ref, items in by_survey.items():
        runs = list(dict.fromkeys((r["run"], r["sent"]) for r in items))
        labels = [sent for _, sent in runs]
        position = {run: i for i, (run, _) in enumerate(runs)}
        scale = items[0]["scale"]
        values: dict[str, list[float | None]] = {}
        if scale:
            for row in items:
                line = values.setdefault(row["department"], [None] * len(runs))
                line[position[row["run"]]] = row["average"]
            title, unit = f"{ref}: average answer per run, by department", "1–5"
        else:
            first = items[0]["department"]  # everyone, or the chosen department
            for row in items:
                if row["department"] != first:
                    continue
                for label, percent in row["percents"].items():
                    values.setdefault(label, [None] * len(runs))[position[row["run"]]] = percent
            title, unit = f"{ref}: share of each answer per run", "%"
        chart = line_chart(
            title, labels, [Series(name, points) for name, points in values.items()], unit=unit
        )
        unused = "top_option" if scale else "average"
        shown = tuple(column for column in columns if column[0] != unused)
        table = Table("pulse", f"{ref} results per run", shown)
        result.append(PulseSurvey(ref, items[0]["question"], table, items, chart))
    return result
