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

The package, by what each part does: `views.py` (the routes, `Web`), `access.py` (token,
sign-in, sessions, throttle), `pages.py` (the dashboard page: tables, filters, figures, charts),
`downloads.py` (CSV), `report.py` (the public report), `responses.py` (headers and responses).
"""

from chatbot.web.dashboard.views import Web

__all__ = ["Web"]
