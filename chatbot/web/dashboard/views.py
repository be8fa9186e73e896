"""The routes: which path goes to the dashboard, its sign-in, its CSV, the public report or the
stylesheet, and the access check in front of the dashboard's.
"""

from __future__ import annotations

import hmac
import logging
import urllib.parse
from collections.abc import Iterable
from typing import Any

from chatbot.clock import Clock
from chatbot.config import Settings
from chatbot.db import Database
from chatbot.text import templates_dir
from chatbot.web.dashboard.access import Access, Throttle
from chatbot.web.dashboard.downloads import Downloads
from chatbot.web.dashboard.liaison import LiaisonPages
from chatbot.web.dashboard.pages import TABLES, html_environment
from chatbot.web.dashboard.report import Report
from chatbot.web.dashboard.responses import Start

log = logging.getLogger(__name__)


class Web(Access, Downloads, LiaisonPages, Report):
    """The dashboard and report routes, mounted on the web host (`chatbot.web.host`)."""

    def __init__(self, *, settings: Settings, db: Database, clock: Clock) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.throttle = Throttle()
        self.env = html_environment()
        self.css = (templates_dir() / "dashboard" / "style.css").read_bytes()

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
        if path == "/dashboard/department":  # names its own unknown department (404, a page)
            status, page = self.render_department(filters)
            return self._html(start_response, status, page)
        unknown = self.unknown_department(filters)
        if unknown:
            return self._text(start_response, "400 Bad Request", unknown)
        if path == "/dashboard":
            return self._html(start_response, "200 OK", self.render_dashboard(filters, problem))
        if path == "/dashboard/planning":
            return self._html(start_response, "200 OK", self.render_planning(filters))
        if path == "/dashboard/csv/liaison-asks.csv":
            return self.planning_csv(start_response, filters)
        if path.startswith("/dashboard/csv/"):
            name = path.removeprefix("/dashboard/csv/").removesuffix(".csv")
            if name not in TABLES:
                return self._text(start_response, "404 Not Found", "no such table\n")
            return self.csv(start_response, name, filters)
        return self._text(start_response, "404 Not Found", "not found\n")
