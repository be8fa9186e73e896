"""The service dashboard (`/dashboard`, behind a token) and the public service report (`/report`).

HTML from Jinja2 templates in `templates/dashboard/` (autoescape on: a separate environment from
the Slack mrkdwn one), charts drawn here as SVG with the same figures in tables, every table
downloadable as CSV with the page's filters. No script on the pages.

Access: `TECHHELP_DASHBOARD_TOKEN` as `Authorization: Bearer <token>`, or typed once into the
sign-in form, which starts a session: stored server-side (table `secrets`, by the hash of its id)
and named by a signed, expiring, HttpOnly cookie (SameSite=Strict; Secure when the request came
over HTTPS, as told by a trusted proxy). Signing out deletes the session, so a copy of the cookie
opens nothing. Wrong tokens are throttled per client and overall (429 with Retry-After). With no
token configured the dashboard is closed. `/report` is public and shows only organisation-wide
aggregates: no names, user ids, request text, nor any group smaller than the minimum.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import logging
import secrets
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import delete, select

from chatbot import reports, surveys
from chatbot.clock import Clock
from chatbot.config import Settings
from chatbot.db import Database
from chatbot.db.models import Secret
from chatbot.reports import Filters
from chatbot.text import templates_dir
from chatbot.web.charts import Series, bar_chart, line_chart

log = logging.getLogger(__name__)

COOKIE = "techhelp_dashboard"
SESSION_SECONDS = 12 * 3600
SESSION_PREFIX = "dashboard-session:"
# Wrong tokens (sign-in form or Bearer header) allowed per window, per client and overall
# (per process); past either, token checks answer 429 until the window has room again.
GUESSES_PER_CLIENT = 20
GUESSES_OVERALL = 100
GUESS_WINDOW = 15 * 60
MAX_FORM = 4096
MAX_RANGE = timedelta(days=3 * 366)
Start = Callable[..., Any]

SECURITY_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
]


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


def _csv_cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula is quoted (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


class Throttle:
    """Failed token checks in a sliding window, per client and overall. `wait` is the number of
    seconds before the client may try again (0: now)."""

    def __init__(
        self,
        *,
        per_client: int = GUESSES_PER_CLIENT,
        overall: int = GUESSES_OVERALL,
        window: float = GUESS_WINDOW,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_client, self.overall, self.window, self.now = per_client, overall, window, now
        self.clients: dict[str, deque[float]] = {}
        self.everyone: deque[float] = deque()
        self.lock = threading.Lock()

    def wait(self, client: str) -> int:
        with self.lock:
            now = self.now()
            self._expire(now)
            waits = [
                times[0] + self.window - now
                for times, limit in (
                    (self.clients.get(client, deque()), self.per_client),
                    (self.everyone, self.overall),
                )
                if len(times) >= limit
            ]
            return max(1, int(max(waits)) + 1) if waits else 0

    def failed(self, client: str) -> None:
        with self.lock:
            now = self.now()
            self.clients.setdefault(client, deque()).append(now)
            self.everyone.append(now)

    def _expire(self, now: float) -> None:
        horizon = now - self.window
        while self.everyone and self.everyone[0] <= horizon:
            self.everyone.popleft()
        for client in [c for c, times in self.clients.items() if times[-1] <= horizon]:
            del self.clients[client]
        for times in self.clients.values():
            while times[0] <= horizon:
                times.popleft()


class Web:
    """The dashboard and report routes, mounted on the web host (`chatbot.web.host`)."""

    def __init__(self, *, settings: Settings, db: Database, clock: Clock) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.throttle = Throttle()
        self.env = html_environment()
        self.css = (templates_dir() / "dashboard" / "style.css").read_bytes()

    # --- routing ---------------------------------------------------------------------------

    def handles(self, path: str) -> bool:
        return path in ("/report", "/static/techhelp.css") or (
            path == "/dashboard" or path.startswith("/dashboard/")
        )

    def __call__(self, environ: dict[str, Any], start_response: Start) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        try:
            if path == "/static/techhelp.css":
                return self._send(start_response, "200 OK", self.css, "text/css", cache=True)
            if path == "/report":
                if method not in ("GET", "HEAD"):
                    return self._text(start_response, "405 Method Not Allowed", "GET only\n")
                return self.report(environ, start_response)
            return self.dashboard(environ, start_response, path, method)
        except Exception:
            log.exception("%s %s failed", method, path)
            return self._text(start_response, "500 Internal Server Error", "server error\n")

    def dashboard(
        self, environ: dict[str, Any], start_response: Start, path: str, method: str
    ) -> Iterable[bytes]:
        token = self.settings.techhelp_dashboard_token
        if not token:
            page = self.env.get_template("dashboard/closed.html.j2").render()
            return self._html(start_response, "403 Forbidden", page)
        if path == "/dashboard/signin":
            if method == "POST":
                return self.sign_in(environ, start_response, token)
            return self._sign_in_page(start_response, "200 OK", next_url="/dashboard")
        if path == "/dashboard/signout" and method == "POST":
            session = self._session(environ, token)
            if session is not None:
                self._end_session(session)
            headers = [("Set-Cookie", self._cookie("", environ, max_age=0))]
            return self._redirect(start_response, "/dashboard/signin", headers)
        if method not in ("GET", "HEAD"):
            return self._text(start_response, "405 Method Not Allowed", "GET only\n")
        client = environ.get("REMOTE_ADDR", "")
        header = environ.get("HTTP_AUTHORIZATION", "")
        if header[:7].lower() == "bearer ":
            wait = self.throttle.wait(client)
            if wait:
                return self._throttled(start_response, wait)
            authorised = hmac.compare_digest(header[7:].strip().encode(), token.encode())
            if not authorised:
                self.throttle.failed(client)
        else:
            authorised = self._session(environ, token) is not None
        if not authorised:
            if path.startswith("/dashboard/csv/"):
                return self._text(
                    start_response,
                    "401 Unauthorized",
                    "sign in, or send Authorization: Bearer <token>\n",
                    [("WWW-Authenticate", 'Bearer realm="techhelp-dashboard"')],
                )
            here = path + ("?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else "")
            return self._sign_in_page(start_response, "401 Unauthorized", next_url=here)
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        filters, problem = self.filters(query)
        if path == "/dashboard":
            return self._html(start_response, "200 OK", self.render_dashboard(filters, problem))
        if path.startswith("/dashboard/csv/"):
            name = path.removeprefix("/dashboard/csv/").removesuffix(".csv")
            if name not in TABLES:
                return self._text(start_response, "404 Not Found", "no such table\n")
            return self.csv(start_response, name, filters)
        return self._text(start_response, "404 Not Found", "not found\n")

    # --- access ----------------------------------------------------------------------------

    def _session(self, environ: dict[str, Any], token: str) -> str | None:
        """The id of the live session the cookie names, or None."""
        cookies = SimpleCookie()
        try:
            cookies.load(environ.get("HTTP_COOKIE", ""))
        except Exception:
            return None
        morsel = cookies.get(COOKIE)
        if morsel is None:
            return None
        session, _, rest = morsel.value.partition(".")
        expires, _, signature = rest.partition(".")
        if not session or not expires.isdigit() or int(expires) < time.time():
            return None
        if not hmac.compare_digest(signature, _sign(token, f"{session}.{expires}")):
            return None
        with self.db.reading() as conn:
            stored = conn.execute(
                select(Secret.value).where(Secret.name == _session_key(session))
            ).scalar()
        return session if stored is not None and int(stored) >= time.time() else None

    def _start_session(self) -> tuple[str, str]:
        session, now = secrets.token_urlsafe(24), self.clock.now()
        expires = str(int(time.time()) + SESSION_SECONDS)
        with self.db.transaction() as tx:
            # Sessions past their end go as new ones start.
            tx.execute(
                delete(Secret).where(
                    Secret.name.startswith(SESSION_PREFIX), Secret.value < str(int(time.time()))
                )
            )
            tx.add(Secret(name=_session_key(session), value=expires, created_at=now))
        return session, expires

    def _end_session(self, session: str) -> None:
        with self.db.transaction() as tx:
            tx.execute(delete(Secret).where(Secret.name == _session_key(session)))

    def _throttled(self, start_response: Start, wait: int) -> list[bytes]:
        return self._text(
            start_response,
            "429 Too Many Requests",
            "too many wrong tokens: try again later\n",
            [("Retry-After", str(wait))],
        )

    def _cookie(self, value: str, environ: dict[str, Any], *, max_age: int) -> str:
        # The scheme the client used: waitress sets it from X-Forwarded-Proto only for a
        # request from TECHHELP_TRUSTED_PROXY, and drops that header from anyone else.
        secure = environ.get("wsgi.url_scheme") == "https"
        parts = [
            f"{COOKIE}={value}",
            "Path=/dashboard",
            f"Max-Age={max_age}",
            "HttpOnly",
            "SameSite=Strict",
        ]
        return "; ".join(parts + (["Secure"] if secure else []))

    def sign_in(self, environ: dict[str, Any], start_response: Start, token: str) -> list[bytes]:
        try:
            length = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_FORM)
        except ValueError:
            length = 0
        form = urllib.parse.parse_qs(environ["wsgi.input"].read(length).decode(errors="replace"))
        given = (form.get("token") or [""])[0].strip()
        next_url = _local((form.get("next") or ["/dashboard"])[0])
        client = environ.get("REMOTE_ADDR", "")
        wait = self.throttle.wait(client)
        if wait:
            log.warning("dashboard sign-in throttled for %s", client)
            return self._throttled(start_response, wait)
        if not hmac.compare_digest(given.encode(), token.encode()):
            self.throttle.failed(client)
            log.warning("dashboard sign-in refused from %s", client)
            return self._sign_in_page(
                start_response, "401 Unauthorized", next_url=next_url, error=True
            )
        session, expires = self._start_session()
        value = f"{session}.{expires}.{_sign(token, f'{session}.{expires}')}"
        headers = [("Set-Cookie", self._cookie(value, environ, max_age=SESSION_SECONDS))]
        return self._redirect(start_response, next_url, headers)

    def _sign_in_page(
        self, start_response: Start, status: str, *, next_url: str, error: bool = False
    ) -> list[bytes]:
        page = self.env.get_template("dashboard/signin.html.j2").render(
            next_url=_local(next_url), error=error
        )
        challenge = [("WWW-Authenticate", 'Bearer realm="techhelp-dashboard"')]
        return self._html(start_response, status, page, challenge if "401" in status else [])

    # --- pages -----------------------------------------------------------------------------

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
                "ratings": reports.ratings_by_week(conn=conn, filters=filters, min_group=min_group),
                "rating-response": reports.rating_response(
                    conn=conn, filters=filters, min_group=min_group
                ),
                "pulse": reports.pulse_trends(
                    conn=conn, filters=filters, routing=routing, min_group=min_group
                ),
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
        return self.env.get_template("dashboard/index.html.j2").render(
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

    def csv(self, start_response: Start, name: str, filters: Filters) -> list[bytes]:
        table = TABLES[name]
        rows = self.figures(filters)[name]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([heading for _, heading in table.columns])
        for row in rows:
            writer.writerow([_csv_cell(row.get(key)) for key, _ in table.columns])
        filename = f"techhelp-{name}-{filters.start}-{filters.end}.csv"
        return self._send(
            start_response,
            "200 OK",
            out.getvalue().encode("utf-8"),
            "text/csv; charset=utf-8",
            [("Content-Disposition", f'attachment; filename="{filename}"')],
        )

    def report(self, environ: dict[str, Any], start_response: Start) -> list[bytes]:
        """The public page: organisation-wide figures of the last 12 weeks, no personal data."""
        filters = Filters.default(today=self.clock.now().date())
        routing = self.settings.routing
        with self.db.reading() as conn:
            totals = reports.totals(conn=conn, filters=filters)
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
                min_group=self.settings.techhelp_min_group,
                by_department=False,
            )
            pulse = reports.pulse_trends(
                conn=conn,
                filters=filters,
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
            weeks=weeks,
            by_week=by_week,
            rating_by_week=rating_by_week,
            first=first,
            resolution=resolution,
            charts=charts,
            pulse=_pulse_surveys(pulse, PUBLIC_PULSE_COLUMNS),
            pulse_min=self._pulse_min(),
            min_group=self.settings.techhelp_min_group,
            generated=self.clock.now().strftime("%Y-%m-%d %H:%M UTC"),
        )
        return self._html(start_response, "200 OK", page, cache=False)

    # --- responses -------------------------------------------------------------------------

    def _send(
        self,
        start_response: Start,
        status: str,
        data: bytes,
        content_type: str,
        extra: list[tuple[str, str]] | None = None,
        *,
        cache: bool = False,
    ) -> list[bytes]:
        headers = [
            ("Content-Type", content_type),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "public, max-age=3600" if cache else "no-store"),
            *SECURITY_HEADERS,
            *(extra or []),
        ]
        start_response(status, headers)
        return [data]

    def _html(
        self,
        start_response: Start,
        status: str,
        page: str,
        extra: list[tuple[str, str]] | None = None,
        *,
        cache: bool = False,
    ) -> list[bytes]:
        return self._send(
            start_response, status, page.encode(), "text/html; charset=utf-8", extra, cache=cache
        )

    def _text(
        self,
        start_response: Start,
        status: str,
        body: str,
        extra: list[tuple[str, str]] | None = None,
    ) -> list[bytes]:
        return self._send(start_response, status, body.encode(), "text/plain; charset=utf-8", extra)

    def _redirect(
        self, start_response: Start, location: str, extra: list[tuple[str, str]]
    ) -> list[bytes]:
        return self._send(
            start_response, "303 See Other", b"", "text/plain", [("Location", location), *extra]
        )


def _sign(token: str, session: str) -> str:
    return hmac.new(token.encode(), f"dashboard:{session}".encode(), hashlib.sha256).hexdigest()


def _session_key(session: str) -> str:
    """The stored name of a session: a hash, so the table alone opens nothing."""
    return SESSION_PREFIX + hashlib.sha256(session.encode()).hexdigest()


def _local(url: str) -> str:
    """Only a path of the dashboard itself (no open redirect)."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme or parsed.netloc or not parsed.path.startswith("/dashboard"):
        return "/dashboard"
    return url


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
