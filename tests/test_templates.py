"""Every message template read as a person reads it: rendered through the real `Templates`
with realistic values, in each case that changes what it says (singular and plural, optional
parts present and absent), and checked for the mistakes a template makes without anyone
noticing: two lines run together because `trim_blocks` ate the newline after a block tag
(an alert's personal 'resolved' message read "off-siteThe VPN gateway…"), a blank line too
many, a tag left unrendered, "1 alerts", a space before a full stop.

The generic checks compare each rendering with the same template rendered without
`trim_blocks`, so "a line break in the template is a line break in the message" is checked
for every template, not for the few someone thought of; a static check reads every line of
every template for the same fault, in every branch, values or not. Targeted tests then check
the messages people see most, line by line, on Slack, Teams and the console.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace as ns
from typing import Any

import pytest

from chatbot.liaison.briefing import Briefing, Trend
from chatbot.liaison.schedule import CheckIn
from chatbot.messages import Message
from chatbot.platforms.console import render as console
from chatbot.platforms.slack import render as slack
from chatbot.platforms.teams import render as teams
from chatbot.text import Neutral, Templates, plain_text, shorten

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
T = Templates()
# The same templates, the same environment, but every newline in them kept: the reference
# for where the message's lines break.
UNTRIMMED = T.env.overlay(trim_blocks=False)

NOW = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)


# --- realistic values --------------------------------------------------------------------------


def request(**over: Any) -> ns:
    values: dict[str, Any] = {
        "id": 12,
        "ref": "TH-12",
        "text": "The printer on floor 3 jams on every second page",
        "state": "open",
        "urgency": "normal",
        "category": "hardware",
        "queue": "Service desk",
        "tier": 1,
        "assignee": None,
        "requester": "UALICE",
        "logged_by": None,
        "intake_channel": "slack",
        "resolution": "Replaced the fuser unit; it prints cleanly again",
        "department": "Finance",
    }
    return ns(**(values | over))


def alert(**over: Any) -> ns:
    values: dict[str, Any] = {
        "id": 3,
        "ref": "AL-3",
        "severity": "outage",
        "service": "VPN",
        "message": "VPN is down for everyone working off-site",
        "resolution": "The VPN gateway is back after a restart",
        "state": "open",
    }
    return ns(**(values | over))


def survey(**over: Any) -> ns:
    values: dict[str, Any] = {
        "id": 4,
        "ref": "PS-4",
        "name": "config:weekly-pulse",
        "question": "How easy was it to get help from IT this week?",
        "anonymous": True,
        "scale": True,
        "questionnaire": False,
        "options": ["1", "2", "3", "4", "5"],
        "closes": "Fri 04 Dec 17:00 UTC",
        "schedule": None,
        "timezone": "Europe/London",
        "active": True,
    }
    return ns(**(values | over))


def run(**over: Any) -> ns:
    values: dict[str, Any] = {
        "recipients": 40,
        "held_back": 0,
        "state": "open",
        "closes_at": datetime(2026, 12, 4, 17, 0, tzinfo=UTC),
        "closed_at": datetime(2026, 12, 4, 17, 0, tzinfo=UTC),
    }
    return ns(**(values | over))


def article(**over: Any) -> ns:
    values = {"id": 7, "ref": "KB-7", "title": "Connect to the VPN from home"}
    return ns(**(values | over))


def quoted(text: str, limit: int = 300) -> Neutral:
    """As `commands/pulse/results.py` quotes a comment."""
    return shorten(" ↵ ".join(line.strip() for line in text.splitlines() if line.strip()), limit)


def share(label: str, percent: float, count: int) -> ns:
    return ns(label=label, percent=percent, count=count, bar="█" * round(percent / 10))


def department(name: str, **over: Any) -> ns:
    values: dict[str, Any] = {
        "name": name,
        "responses": 8,
        "recipients": 10,
        "rate": 80.0,
        "complementary": False,
        "hidden": False,
        "average": 3.75,
        "change": 0.25,
    }
    return ns(**(values | over))


def figures(**over: Any) -> ns:
    """A closed pulse run's figures (`chatbot.surveys.figures`), everything present."""
    values: dict[str, Any] = {
        "responses": 30,
        "recipients": 40,
        "rate": 75.0,
        "rate_change": 5.0,
        "final": True,
        "average": 3.9,
        "average_change": 0.2,
        "previous": ns(average=3.7),
        "average_hidden": False,
        "held_back": 0,
        "distribution": [share("1", 5, 2), share("2", 10, 3), share("5", 45, 13)],
        "departments": [department("Finance"), department("Parks", hidden=True)],
        "trend": ns(
            labels=["09 Nov", "16 Nov", "23 Nov"],
            shown=[ns(name="Everyone", spark="▃▅▇", values="3.5 → 3.7 → 3.9")],
        ),
        "satisfaction": [
            ns(name="Finance", hidden=False, responses=9, average=4.2, change=0.1),
            ns(name="Parks", hidden=True, responses=2, average=None, change=None),
        ],
        "comments": [("UBOB", "Quick answers, thank you"), (None, "The form is long\nbut fine")],
        "comments_hidden": 0,
    }
    return ns(**(values | over))


def item_result(kind: str = "scale", **over: Any) -> ns:
    values: dict[str, Any] = {
        "item": ns(
            section="Service", index=0, question="How well do we understand you?", kind=kind
        ),
        "comments": [],
        "comments_hidden": 0,
        "responses": 12,
        "rate": 60.0,
        "average": 3.5,
        "change": 0.25,
        "previous": 3.25,
        "distribution": [share("Poor", 25, 3), share("Good", 75, 9)],
        "departments": [department("Finance"), department("Parks", complementary=True)],
        "trend": [],
        "trend_line": None,
    }
    return ns(**(values | over))


def questionnaire_figures(**over: Any) -> ns:
    values: dict[str, Any] = {
        "items": [item_result(), item_result()],
        "respondents": 12,
        "recipients": 20,
        "rate": 60.0,
        "final": True,
        "previous_run": ns(),
        "rose": 1,
        "compared": [1, 2],
        "held_back": 0,
        "sections": [ns(name="Service", average=3.5, change=0.25, items=[1, 2])],
    }
    return ns(**(values | over))


def results_values(**over: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "f": figures(),
        "quoted": quoted,
        "survey": survey(),
        "minimum": 5,
        "min_comments": 3,
        "closed": True,
        "closes_on": "04 Dec 2026 17:00 UTC",
        "closed_on": "04 Dec 2026",
        "sent_on": "30 Nov 2026",
        "before_on": "02 Nov 2026",
    }
    return values | over


def tally(**over: Any) -> ns:
    values: dict[str, Any] = {
        "done": True,
        "sent": 40,
        "total": 40,
        "failed": 0,
        "cancelled": 0,
        "pending": 0,
        "reasons": [],
    }
    return ns(**(values | over))


def briefing(**over: Any) -> Briefing:
    meeting = ns(
        met_on=date(2026, 11, 2),
        attendees="Dana (head of Finance), Lee",
        discussed="Month-end close needs the reporting server stable.",
    )
    values: dict[str, Any] = {
        "department": "Finance",
        "liaison": "ULEE",
        "cadence": "monthly",
        "check_in": CheckIn("Finance", date(2026, 11, 2), date(2026, 12, 2)),
        "today": date(2026, 11, 30),
        "open_count": 3,
        "open_requests": [
            {
                "ref": "TH-9",
                "state": "open",
                "urgency": "high",
                "category": "software",
                "age": "4 d",
                "text": "Reports time out after ten minutes",
            }
        ],
        "recent_count": 5,
        "resolved_recent": 4,
        "recent_requests": [
            {"ref": "TH-8", "state": "resolved", "category": "access", "age": "9 d"}
        ],
        "satisfaction": Trend("Request satisfaction", 4.2, 4.0),
        "pulse": [Trend("How easy was it to get help from IT?", 3.9, None)],
        "alerts": [
            {
                "ref": "AL-3",
                "severity": "outage",
                "service": "VPN",
                "state": "resolved",
                "date": "2026-11-20",
                "message": "VPN is down for everyone working off-site",
            }
        ],
        "last_meeting": meeting,
        "last_asks": [ns(theme="reporting", text="A faster month-end report")],
        "follow_ups": [
            ns(text="Size the reporting server", owner="Lee", due_on=date(2026, 12, 10))
        ],
        "since": date(2026, 11, 2),
    }
    return Briefing(**(values | over))


def figure(trend: Trend) -> str:
    """As `commands/liaison.py` says a briefing's figure."""
    if trend.now is None:
        return "not published (too few answers, or none yet)"
    if trend.change is None:
        return f"{trend.now:.2f}"
    return f"{trend.now:.2f} ({trend.change:+.2f} since the last meeting)"


def describe(row: dict[str, Any]) -> str:
    return "next check-in 2026-12-02, last met 2026-11-02"


def liaison_row(**over: Any) -> dict[str, Any]:
    return {"department": "Finance", "cadence": "monthly", "liaison": "Lee"} | over


def late(days: int, last: str | None = "2026-10-01") -> ns:
    return ns(
        department="Parks", liaison="Lee", cadence="monthly", due="2026-11-01", last=last, days=days
    )


def hit(kind: str) -> ns:
    return ns(
        kind=kind,
        department="Finance",
        met_on=date(2026, 11, 2),
        theme="reporting",
        text="A faster month-end report",
    )


def target_row(**over: Any) -> dict[str, Any]:
    first = {"requests": 4, "median_minutes": 12, "within_target_pct": 75, "target_minutes": 30}
    resolution = {"requests": 3, "median_minutes": 240, "within_target_pct": 100}
    return {"urgency": "high", "first": first, "resolution": resolution} | over


def digest(**over: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "start": "2026-11-23",
        "end": "2026-11-29",
        "totals": {"created": 14, "resolved": 11, "share_pct": 80},
        "overdue": 2,
        "overdue_more": False,
        "alerts": 1,
        "rating": {"average": 4.3, "ratings": 9},
        "targets": [target_row()],
    }
    return values | over


# A survey's question, a questionnaire's title or item at the most they can hold (500).
LONGEST_QUESTION = ("How well does IT support the work of your team this month " * 9)[:499] + "?"


# Each template with its cases: (template, case, values). A case is a way the message can
# read; every template under templates/ has at least one (a test says which are missing).
CASES: list[tuple[str, str, dict[str, Any]]] = [
    # common
    ("common/apology.md.j2", "", {}),
    ("common/done.md.j2", "", {}),
    ("common/error.md.j2", "", {"message": Neutral("That rating button is not valid.")}),
    ("common/open_form.md.j2", "", {"title": "Ask IT"}),
    ("common/received.md.j2", "", {}),
    ("common/unknown_action.md.j2", "", {}),
    (
        "common/unknown_command.md.j2",
        "",
        {"command": "helpdesk", "commands": ["techhelp", "techalert", "pulse", "liaison"]},
    ),
    # the digest
    ("digest/digest.md.j2", "everything", digest()),
    (
        "digest/digest.md.j2",
        "one rating, no share, no targets",
        digest(
            totals={"created": 0, "resolved": 0, "share_pct": None},
            rating={"average": 5.0, "ratings": 1},
            targets=[],
            overdue=50,
            overdue_more=True,
        ),
    ),
    ("digest/digest.md.j2", "no rating", digest(rating=None, alerts=0)),
    # App Home
    ("home/alert.md.j2", "", {"alert": alert(), "since": "Mon 30 Nov 09:00"}),
    ("home/alert.md.j2", "no service", {"alert": alert(service=None), "since": "09:00"}),
    ("home/answer.md.j2", "one", {"article": article(), "solved": 1}),
    ("home/answer.md.j2", "several", {"article": article(), "solved": 12}),
    (
        "home/department_request.md.j2",
        "",
        {"request": request(assignee="UBOB"), "age": "3 d"},
    ),
    ("home/department_request.md.j2", "unassigned", {"request": request(), "age": "5 h"}),
    (
        "home/department_summary.md.j2",
        "requests and incidents",
        {
            "view": ns(
                department="Finance",
                open_count=12,
                requests=[request()] * 10,
                incidents=[alert(), alert(ref="AL-4", service=None, severity="degraded")],
            )
        },
    ),
    (
        "home/department_summary.md.j2",
        "nothing",
        {"view": ns(department="Finance", open_count=0, requests=[], incidents=[])},
    ),
    ("home/intro.md.j2", "", {}),
    ("home/more.md.j2", "", {"shown": 10, "total": 14}),
    ("home/more_surveys.md.j2", "", {"shown": 5, "total": 7}),
    ("home/no_alerts.md.j2", "", {}),
    ("home/none_open.md.j2", "", {}),
    (
        "home/request.md.j2",
        "assigned",
        {"request": request(assignee="UBOB"), "updated": "Mon 30 Nov 09:12", "preview": 200},
    ),
    ("home/request.md.j2", "new", {"request": request(), "updated": "09:12", "preview": 200}),
    ("home/survey.md.j2", "scale, anonymous", {"survey": survey()}),
    ("home/survey.md.j2", "options, named", {"survey": survey(scale=False, anonymous=False)}),
    ("home/survey.md.j2", "questionnaire", {"survey": survey(questionnaire=True)}),
    ("home/updated.md.j2", "", {"now": "Mon 30 Nov 09:30"}),
    # the knowledge base
    ("kb/admin_only.md.j2", "", {}),
    ("kb/article.md.j2", "", {"article": article(), "steps": "1. Open the VPN app\n2. Sign in"}),
    ("kb/draft.md.j2", "", {"article": article(ref="KB-8"), "request": request()}),
    ("kb/draft_saved.md.j2", "", {"article": article(ref="KB-8")}),
    ("kb/published.md.j2", "", {"article": article()}),
    ("kb/search.md.j2", "found", {"words": "vpn from home", "found": [article()]}),
    ("kb/search.md.j2", "nothing", {"words": "vpn from home", "found": []}),
    ("kb/search_usage.md.j2", "", {}),
    ("kb/sent_on.md.j2", "", {"request": request()}),
    ("kb/solved.md.j2", "", {"request": request(), "article": article()}),
    ("kb/staff_only.md.j2", "", {}),
    ("kb/suggestions.md.j2", "", {"request": request(), "grace_minutes": 5}),
    ("kb/suggestions.md.j2", "no grace period", {"request": request(), "grace_minutes": None}),
    ("kb/title.md.j2", "", {"article": article()}),
    # the liaison program
    ("liaison/briefing.md.j2", "everything", {"b": briefing(), "figure": figure}),
    (
        "liaison/briefing.md.j2",
        "a first briefing, overdue by a day",
        {
            "b": briefing(
                check_in=CheckIn("Finance", None, date(2026, 11, 29)),
                cadence=None,
                open_count=0,
                open_requests=[],
                recent_count=0,
                resolved_recent=0,
                recent_requests=[],
                satisfaction=Trend("Request satisfaction", None, None),
                pulse=[],
                alerts=[],
                last_meeting=None,
                last_asks=[],
                follow_ups=[],
            ),
            "figure": figure,
        },
    ),
    (
        "liaison/briefing.md.j2",
        "overdue by days, more open than shown",
        {
            "b": briefing(
                check_in=CheckIn("Finance", date(2026, 10, 1), date(2026, 11, 1)),
                open_count=25,
            ),
            "figure": figure,
        },
    ),
    (
        "liaison/follow_up_done.md.j2",
        "",
        {"f": ns(text="Size the reporting server", department="Finance"), "by": "ULEE"},
    ),
    (
        "liaison/follow_up_due.md.j2",
        "",
        {"f": ns(text="Size the server", department="Finance", due_on=date(2026, 12, 10))},
    ),
    ("liaison/form_intro.md.j2", "", {"department": "Finance"}),
    ("liaison/it_only.md.j2", "", {}),
    (
        "liaison/list.md.j2",
        "mine and others",
        {
            "mine": [liaison_row(), liaison_row(department="Parks")],
            "others": [liaison_row(department="Library")],
            "describe": describe,
        },
    ),
    (
        "liaison/list.md.j2",
        "mine only",
        {"mine": [liaison_row()], "others": [], "describe": describe},
    ),
    (
        "liaison/list.md.j2",
        "others only",
        {"mine": [], "others": [liaison_row()], "describe": describe},
    ),
    ("liaison/not_your_follow_up.md.j2", "", {}),
    ("liaison/overdue.md.j2", "one, a day late", {"late": [late(1)]}),
    ("liaison/overdue.md.j2", "several", {"late": [late(29), late(3, last=None)]}),
    (
        "liaison/recorded.md.j2",
        "one of each",
        {
            "department": "Finance",
            "met_on": "2026-11-30",
            "asks": 1,
            "follow_ups": 1,
            "next": "2026-12-30",
        },
    ),
    (
        "liaison/recorded.md.j2",
        "none and several",
        {
            "department": "Finance",
            "met_on": "2026-11-30",
            "asks": 0,
            "follow_ups": 3,
            "next": "none",
        },
    ),
    (
        "liaison/search.md.j2",
        "notes and asks, more",
        {"words": "reporting", "hits": [hit("ask"), hit("notes")], "more": True},
    ),
    ("liaison/search.md.j2", "one", {"words": "reporting", "hits": [hit("notes")], "more": False}),
    ("liaison/search.md.j2", "nothing", {"words": "reporting", "hits": [], "more": False}),
    (
        "liaison/unknown_department.md.j2",
        "names",
        {"department": "Finanse", "names": ["Finance", "Parks"]},
    ),
    ("liaison/unknown_department.md.j2", "no program", {"department": "Finance", "names": []}),
    ("liaison/usage.md.j2", "", {}),
    # pulse checks
    ("pulse/admins_only.md.j2", "", {}),
    ("pulse/closed.md.j2", "", {"survey": survey(), "run": run()}),
    ("pulse/closed.md.j2", "no date", {"survey": survey(), "run": run(closed_at=None)}),
    (
        "pulse/closed.md.j2",
        "the longest question",
        {"survey": survey(question=LONGEST_QUESTION), "run": run()},
    ),
    (
        "pulse/comment_intro.md.j2",
        "the longest question",
        {"survey": survey(question=LONGEST_QUESTION), "min_comments": 3},
    ),
    (
        "pulse/thanks.md.j2",
        "the longest question",
        {"survey": survey(question=LONGEST_QUESTION), "choice": "4", "comment": None, "closes": ""},
    ),
    (
        "pulse/questionnaire_closed.md.j2",
        "the longest title",
        {"title": LONGEST_QUESTION, "run": run()},
    ),
    (
        "pulse/questionnaire_comment_intro.md.j2",
        "the longest question",
        {"item": ns(question=LONGEST_QUESTION), "anonymous": True, "min_comments": 3},
    ),
    (
        "pulse/closed_by_admin.md.j2",
        "closed",
        {"survey": survey(), "closed": 1, "channel": "CIT"},
    ),
    (
        "pulse/closed_by_admin.md.j2",
        "no IT channel",
        {"survey": survey(), "closed": 1, "channel": None},
    ),
    ("pulse/closed_by_admin.md.j2", "none open", {"survey": survey(), "closed": 0, "channel": "C"}),
    ("pulse/comment_intro.md.j2", "anonymous", {"survey": survey(), "min_comments": 3}),
    (
        "pulse/comment_intro.md.j2",
        "named",
        {"survey": survey(anonymous=False), "min_comments": 3},
    ),
    ("pulse/commented.md.j2", "anonymous", {"survey": survey()}),
    ("pulse/commented.md.j2", "named", {"survey": survey(anonymous=False)}),
    ("pulse/form_intro.md.j2", "", {"timezone": "Europe/London"}),
    ("pulse/from_config.md.j2", "", {"survey": survey()}),
    (
        "pulse/list.md.j2",
        "several",
        {
            "surveys": [
                (survey(), run(state="closed")),
                (survey(ref="PS-5", active=False, anonymous=False), None),
            ],
            "describe": lambda s: "every Monday 09:00",
        },
    ),
    ("pulse/list.md.j2", "none", {"surveys": [], "describe": lambda s: ""}),
    ("pulse/no_results.md.j2", "a survey", {"ref": "PS-9"}),
    ("pulse/no_results.md.j2", "none", {"ref": ""}),
    ("pulse/nobody.md.j2", "", {}),
    ("pulse/privacy.md.j2", "anonymous", {"survey": survey(), "minimum": 5}),
    ("pulse/privacy.md.j2", "named", {"survey": survey(anonymous=False), "minimum": 5}),
    ("pulse/prompt.md.j2", "first", {"survey": survey(), "reminder": False}),
    ("pulse/prompt.md.j2", "reminder, options", {"survey": survey(scale=False), "reminder": True}),
    (
        "pulse/questionnaire_closed.md.j2",
        "",
        {"title": "Working with IT, 2026", "run": run()},
    ),
    (
        "pulse/questionnaire_comment_intro.md.j2",
        "anonymous",
        {"item": ns(question="Anything else?"), "anonymous": True, "min_comments": 3},
    ),
    (
        "pulse/questionnaire_comment_intro.md.j2",
        "named",
        {"item": ns(question="Anything else?"), "anonymous": False, "min_comments": 3},
    ),
    ("pulse/questionnaire_cut.md.j2", "", {"given": 10000, "limit": 3000}),
    (
        "pulse/questionnaire_form_intro.md.j2",
        "none answered",
        {
            "title": "Staff engagement 2026",
            "total": 8,
            "remaining": 8,
            "closes": "04 Dec",
            "anonymous": True,
            "min_comments": 3,
        },
    ),
    (
        "pulse/questionnaire_form_intro.md.j2",
        "one remains",
        {
            "title": "Staff engagement 2026",
            "total": 8,
            "remaining": 1,
            "closes": "04 Dec",
            "anonymous": False,
            "min_comments": 3,
        },
    ),
    (
        "pulse/questionnaire_form_intro.md.j2",
        "some remain, no closing date",
        {
            "title": "Staff engagement 2026",
            "total": 8,
            "remaining": 3,
            "closes": None,
            "anonymous": True,
            "min_comments": 3,
        },
    ),
    (
        "pulse/questionnaire_form_intro.md.j2",
        "all answered",
        {
            "title": "Staff engagement 2026",
            "total": 8,
            "remaining": 0,
            "closes": "04 Dec",
            "anonymous": True,
            "min_comments": 3,
        },
    ),
    (
        "pulse/questionnaire_form_intro.md.j2",
        "one question",
        {
            "title": "Staff engagement 2026",
            "total": 1,
            "remaining": 1,
            "closes": None,
            "anonymous": False,
            "min_comments": 3,
        },
    ),
    (
        "pulse/questionnaire_form_intro.md.j2",
        "the one question answered",
        {
            "title": "Staff engagement 2026",
            "total": 1,
            "remaining": 0,
            "closes": "04 Dec",
            "anonymous": True,
            "min_comments": 3,
        },
    ),
    (
        "pulse/questionnaire_item.md.j2",
        "heading, scale, unanswered",
        {
            "heading": "Service",
            "number": 1,
            "item": ns(question="How well do we understand you?", kind="scale"),
            "chosen": None,
            "comment": None,
        },
    ),
    (
        "pulse/questionnaire_item.md.j2",
        "answered",
        {
            "heading": None,
            "number": 2,
            "item": ns(question="How quickly do we answer?", kind="options"),
            "chosen": "Within a day",
            "comment": None,
        },
    ),
    (
        "pulse/questionnaire_item.md.j2",
        "a comment",
        {
            "heading": None,
            "number": 3,
            "item": ns(question="Anything else?", kind="comment"),
            "chosen": None,
            "comment": "More training please\nand shorter forms",
        },
    ),
    (
        "pulse/questionnaire_item_results.md.j2",
        "closed, scale",
        results_values(f=questionnaire_figures(), r=item_result()),
    ),
    (
        "pulse/questionnaire_item_results.md.j2",
        "closed, a trend over three runs",
        results_values(
            f=questionnaire_figures(),
            r=item_result(
                trend=[3.25, 3.5, 3.75], trend_line=ns(spark="▅▆█", values="3.25 → 3.50 → 3.75")
            ),
        ),
    ),
    (
        "pulse/questionnaire_item_results.md.j2",
        "open, scale",
        results_values(
            f=questionnaire_figures(final=False),
            r=item_result(item=ns(section=None, index=1, question="Speed?", kind="scale")),
        ),
    ),
    (
        "pulse/questionnaire_item_results.md.j2",
        "closed, few answers",
        results_values(
            f=questionnaire_figures(),
            r=item_result(average=None, distribution=[], responses=2, change=None),
        ),
    ),
    (
        "pulse/questionnaire_item_results.md.j2",
        "one comment",
        results_values(
            f=questionnaire_figures(), r=item_result("comment", comments=[("UBOB", "Thanks")])
        ),
    ),
    (
        "pulse/questionnaire_item_results.md.j2",
        "many comments",
        results_values(
            f=questionnaire_figures(),
            r=item_result("comment", comments=[(None, f"Comment {n}") for n in range(12)]),
        ),
    ),
    (
        "pulse/questionnaire_item_results.md.j2",
        "one comment hidden",
        results_values(f=questionnaire_figures(), r=item_result("comment", comments_hidden=1)),
    ),
    (
        "pulse/questionnaire_item_results.md.j2",
        "no comments",
        results_values(f=questionnaire_figures(), r=item_result("comment")),
    ),
    (
        "pulse/questionnaire_item_results.md.j2",
        "comments, still open",
        results_values(f=questionnaire_figures(final=False), r=item_result("comment")),
    ),
    (
        "pulse/questionnaire_prompt.md.j2",
        "first",
        {
            "reminder": False,
            "total": 8,
            "remaining": 8,
            "answered": False,
            "comments": 1,
            "closes": "04 Dec",
            "page": 0,
            "pages": 2,
        },
    ),
    (
        "pulse/questionnaire_prompt.md.j2",
        "reminder, some answered",
        {
            "reminder": True,
            "total": 8,
            "remaining": 3,
            "answered": True,
            "comments": 2,
            "closes": "",
            "page": 1,
            "pages": 2,
        },
    ),
    (
        "pulse/questionnaire_prompt.md.j2",
        "one question",
        {
            "reminder": False,
            "total": 1,
            "remaining": 1,
            "answered": False,
            "comments": 0,
            "closes": "04 Dec",
            "page": 0,
            "pages": 1,
        },
    ),
    (
        "pulse/questionnaire_prompt.md.j2",
        "the one question answered",
        {
            "reminder": False,
            "total": 1,
            "remaining": 0,
            "answered": True,
            "comments": 0,
            "closes": "04 Dec",
            "page": 0,
            "pages": 1,
        },
    ),
    (
        "pulse/questionnaire_prompt.md.j2",
        "all answered",
        {
            "reminder": False,
            "total": 8,
            "remaining": 0,
            "answered": True,
            "comments": 0,
            "closes": "04 Dec",
            "page": 0,
            "pages": 1,
        },
    ),
    ("pulse/questionnaire_results.md.j2", "closed", results_values(f=questionnaire_figures())),
    (
        "pulse/questionnaire_results.md.j2",
        "one item",
        results_values(f=questionnaire_figures(items=[item_result()], compared=[1])),
    ),
    (
        "pulse/questionnaire_summary.md.j2",
        "one item",
        results_values(f=questionnaire_figures(items=[item_result()], compared=[1])),
    ),
    (
        "pulse/questionnaire_results.md.j2",
        "open, one held back",
        results_values(
            f=questionnaire_figures(final=False, previous_run=None, held_back=1, rate=None),
            closed=False,
        ),
    ),
    ("pulse/questionnaire_sections.md.j2", "", results_values(f=questionnaire_figures())),
    ("pulse/questionnaire_summary.md.j2", "", results_values(f=questionnaire_figures())),
    ("pulse/results.md.j2", "closed, everything", results_values()),
    (
        "pulse/results.md.j2",
        "open",
        results_values(
            f=figures(final=False, rate_change=None, trend=None, satisfaction=[], comments=[]),
            closed=False,
        ),
    ),
    (
        "pulse/results.md.j2",
        "closed, too few answers",
        results_values(
            f=figures(
                responses=3,
                average=None,
                average_hidden=True,
                distribution=[],
                departments=[department("Parks", complementary=True)],
                trend=ns(labels=["16 Nov", "23 Nov"], shown=[]),
                comments=[],
                comments_hidden=2,
                held_back=1,
                rate_change=None,
            )
        ),
    ),
    ("pulse/results_header.md.j2", "closed", results_values()),
    ("pulse/results_header.md.j2", "open", results_values(closed=False)),
    ("pulse/results_summary.md.j2", "", results_values()),
    (
        "pulse/satisfaction.md.j2",
        "",
        {
            "trend": ns(
                labels=["16 Nov", "23 Nov"],
                shown=[ns(name="Everyone", spark="▅▇", values="4.1 → 4.3")],
            ),
            "minimum": 5,
        },
    ),
    (
        "pulse/satisfaction.md.j2",
        "nothing",
        {"trend": ns(labels=["23 Nov"], shown=[]), "minimum": 5},
    ),
    (
        "pulse/scheduled.md.j2",
        "recurring",
        {"survey": survey(schedule="0 9 * * MON"), "when": "every Monday at 09:00"},
    ),
    ("pulse/scheduled.md.j2", "once", {"survey": survey(), "when": "on 01 Dec at 09:00"}),
    ("pulse/sent.md.j2", "many", {"survey": survey(), "run": run(), "sent": 40}),
    (
        "pulse/sent.md.j2",
        "one, held back",
        {"survey": survey(), "run": run(recipients=1, held_back=2), "sent": 1},
    ),
    (
        "pulse/stopped.md.j2",
        "one cancelled, open",
        {"survey": survey(), "cancelled": 1, "still_open": True},
    ),
    ("pulse/stopped.md.j2", "several", {"survey": survey(), "cancelled": 3, "still_open": False}),
    ("pulse/stopped.md.j2", "nothing", {"survey": survey(), "cancelled": 0, "still_open": False}),
    (
        "pulse/thanks.md.j2",
        "no comment",
        {"survey": survey(), "choice": "4", "comment": None, "closes": "04 Dec 17:00 UTC"},
    ),
    (
        "pulse/thanks.md.j2",
        "a comment",
        {
            "survey": survey(),
            "choice": "4",
            "comment": "Quick answers\nand a fix that lasted",
            "closes": "04 Dec 17:00 UTC",
        },
    ),
    (
        "pulse/thanks.md.j2",
        "no closing",
        {"survey": survey(), "choice": "4", "comment": None, "closes": ""},
    ),
    ("pulse/usage.md.j2", "", {}),
    # ratings
    ("rating/commented.md.j2", "", {"request": request()}),
    ("rating/not_resolved.md.j2", "", {"ref": "TH-12"}),
    ("rating/not_yours.md.j2", "", {"ref": "TH-12"}),
    ("rating/prompt.md.j2", "", {"request": request()}),
    ("rating/published.md.j2", "", {"ref": "TH-12"}),
    ("rating/thanks.md.j2", "no comment", {"request": request(), "score": 4, "comment": None}),
    (
        "rating/thanks.md.j2",
        "a comment",
        {"request": request(), "score": 4, "comment": "Very quick\nThank you"},
    ),
    # the requester's messages
    ("requester/answered.md.j2", "", {"request": request()}),
    (
        "requester/asked.md.j2",
        "",
        {"request": request(), "actor": "UBOB", "question": "Which floor is the printer on?"},
    ),
    ("requester/claimed.md.j2", "", {"request": request(), "actor": "UBOB"}),
    ("requester/escalated.md.j2", "", {"request": request(), "actor": "UBOB", "tier": "II"}),
    (
        "requester/received.md.j2",
        "own",
        {"request": request(), "actor": "UALICE", "held_minutes": None},
    ),
    (
        "requester/received.md.j2",
        "held while articles are suggested",
        {"request": request(), "actor": "UALICE", "held_minutes": 2},
    ),
    (
        "requester/received.md.j2",
        "logged for them",
        {
            "request": request(logged_by="UBOB", intake_channel="phone"),
            "actor": "UBOB",
            "held_minutes": None,
        },
    ),
    ("requester/reopened.md.j2", "", {"request": request(), "actor": "UALICE"}),
    (
        "requester/resolved.md.j2",
        "",
        {"request": request(state="resolved"), "actor": "UBOB"},
    ),
    # service targets
    (
        "service_targets/overdue.md.j2",
        "first response, a manager",
        {"request": request(), "target": "first-response", "limit": "30 min", "manager": "UDANA"},
    ),
    (
        "service_targets/overdue.md.j2",
        "resolution, assigned",
        {
            "request": request(state="in progress", assignee="UBOB"),
            "target": "resolution",
            "limit": "8 h",
            "manager": None,
        },
    ),
    # alerts
    ("techalert/admins_only.md.j2", "", {}),
    (
        "techalert/affected.md.j2",
        "counted, the first",
        {"alert": alert(), "count": 1, "counted": True},
    ),
    ("techalert/affected.md.j2", "already", {"alert": alert(), "count": 7, "counted": False}),
    ("techalert/cancelled.md.j2", "", {"alert": alert()}),
    (
        "techalert/card.md.j2",
        "open",
        {"alert": alert(), "icon": Neutral("🔴"), "severity_label": "Outage"},
    ),
    (
        "techalert/card.md.j2",
        "resolved, no service",
        {
            "alert": alert(state="resolved", service=None),
            "icon": Neutral("✅"),
            "severity_label": "Outage",
        },
    ),
    (
        "techalert/card_context.md.j2",
        "open, one affected",
        {
            "alert": alert(),
            "posted": "09:00",
            "window": "",
            "resolved": "",
            "duration": "",
            "affected": 1,
        },
    ),
    (
        "techalert/card_context.md.j2",
        "resolved, window",
        {
            "alert": alert(state="resolved", severity="maintenance"),
            "posted": "Mon 09:00",
            "window": "Tue 22:00",
            "resolved": "Wed 01:00",
            "duration": "1 d 16 h",
            "affected": 12,
        },
    ),
    ("techalert/following.md.j2", "", {"alert": alert()}),
    (
        "techalert/list.md.j2",
        "open and scheduled",
        {
            "alerts": [
                (alert(), 12, 1),
                (alert(id=4, ref="AL-4", state="scheduled", service=None), 0, 0),
                (alert(id=5, ref="AL-5", severity="degraded"), 0, 3),
            ],
            "when": {3: "09:00", 4: "Tue 22:00", 5: "10:15"},
        },
    ),
    ("techalert/list.md.j2", "none", {"alerts": [], "when": {}}),
    ("techalert/not_in_audience.md.j2", "", {"alert": alert()}),
    (
        "techalert/progress.md.j2",
        "delivered",
        {"alert": alert(), "tally": tally(sent=38, failed=2, reasons=[("channel_not_found", 2)])},
    ),
    (
        "techalert/progress.md.j2",
        "one copy, withdrawn",
        {"alert": alert(), "tally": tally(sent=0, total=1, cancelled=1)},
    ),
    (
        "techalert/progress.md.j2",
        "going out",
        {
            "alert": alert(),
            "tally": tally(done=False, sent=1200, total=4000, failed=3, pending=2797),
        },
    ),
    (
        "techalert/resolved.md.j2",
        "one copy",
        {"alert": alert(), "duration": "1 h 5 min", "copies": 1},
    ),
    ("techalert/resolved.md.j2", "copies", {"alert": alert(), "duration": "12 min", "copies": 40}),
    (
        "techalert/resolved_note.md.j2",
        "",
        {"alert": alert(state="resolved"), "duration": "1 h 5 min"},
    ),
    (
        "techalert/resolved_note.md.j2",
        "no resolution",
        {"alert": alert(state="resolved", resolution=None), "duration": "less than a minute"},
    ),
    (
        "techalert/resolved_personal.md.j2",
        "with its resolution",
        {"alert": alert(state="resolved"), "duration": "1 h 5 min"},
    ),
    (
        "techalert/resolved_personal.md.j2",
        "no resolution",
        {"alert": alert(state="resolved", resolution=None), "duration": "12 min"},
    ),
    (
        "techalert/scheduled.md.j2",
        "a window, the command",
        {
            "alert": alert(severity="maintenance"),
            "post_at": "Mon 09:00",
            "window": "Tue 22:00",
            "cli": False,
        },
    ),
    (
        "techalert/scheduled.md.j2",
        "the CLI",
        {"alert": alert(severity="info"), "post_at": "Mon 09:00", "window": "", "cli": True},
    ),
    (
        "techalert/sent.md.j2",
        "channels and people, live",
        {"alert": alert(), "channels": 2, "people": 1200, "live": True, "cli": False},
    ),
    (
        "techalert/sent.md.j2",
        "one channel",
        {"alert": alert(), "channels": 1, "people": 0, "live": False, "cli": False},
    ),
    (
        "techalert/sent.md.j2",
        "one person, the CLI",
        {"alert": alert(), "channels": 0, "people": 1, "live": False, "cli": True},
    ),
    ("techalert/update.md.j2", "", {"alert": alert(), "text": "A fix is being tested"}),
    ("techalert/updated.md.j2", "one", {"alert": alert(), "copies": 1}),
    ("techalert/updated.md.j2", "several", {"alert": alert(), "copies": 40}),
    ("techalert/usage.md.j2", "", {}),
    ("techalert/window_starts.md.j2", "a service", {"alert": alert(severity="maintenance")}),
    ("techalert/window_starts.md.j2", "no service", {"alert": alert(service=None)}),
    # intake
    ("techhelp/did_you_mean.md.j2", "", {"typed": "stats", "meant": "status"}),
    ("techhelp/for_usage.md.j2", "", {}),
    ("techhelp/form_intro.md.j2", "", {}),
    ("techhelp/help.md.j2", "", {}),
    ("techhelp/known_issue.md.j2", "", {"alert": alert()}),
    (
        "techhelp/received_reply.md.j2",
        "own",
        {
            "request": request(),
            "tier": "I",
            "logged_for": False,
            "long_text": False,
            "text_length": 48,
            "held_minutes": None,
        },
    ),
    (
        "techhelp/received_reply.md.j2",
        "held while articles are suggested",
        {
            "request": request(),
            "tier": "I",
            "logged_for": False,
            "long_text": False,
            "text_length": 48,
            "held_minutes": 2,
        },
    ),
    (
        "techhelp/received_reply.md.j2",
        "logged for someone, long",
        {
            "request": request(logged_by="UBOB", intake_channel="phone"),
            "tier": "I",
            "logged_for": True,
            "long_text": True,
            "text_length": 7200,
            "held_minutes": None,
        },
    ),
    ("techhelp/staff_only.md.j2", "", {}),
    (
        "techhelp/status.md.j2",
        "several",
        {"requests": [request(), request(ref="TH-14", assignee="UBOB", state="in progress")]},
    ),
    ("techhelp/status.md.j2", "one", {"requests": [request()]}),
    ("techhelp/status.md.j2", "none", {"requests": []}),
    ("techhelp/too_long.md.j2", "", {"length": 45000, "limit": 40000}),
    # triage
    ("triage/answer_posted.md.j2", "", {"actor": "UALICE", "text": "Floor 3, by the lifts"}),
    ("triage/ask_intro.md.j2", "", {"request": request()}),
    ("triage/card.md.j2", "", {"request": request()}),
    ("triage/card_context.md.j2", "", {"request": request(), "last": "new"}),
    (
        "triage/card_context.md.j2",
        "logged by someone",
        {"request": request(logged_by="UBOB", intake_channel="phone"), "last": "claimed by @UBOB"},
    ),
    ("triage/manager_note.md.j2", "", {"request": request(urgency="critical"), "manager": "UDANA"}),
    ("triage/question_posted.md.j2", "", {"actor": "UBOB", "text": "Which floor?"}),
    ("triage/resolve_intro.md.j2", "", {}),
    ("triage/service_desk_only.md.j2", "", {}),
]


# --- the checks ---------------------------------------------------------------------------------

_PLURAL_AFTER_ONE = re.compile(r"(?<![\d.,])\b1 ([a-z-]+s)\b")
_SINGULAR_AFTER_MANY = re.compile(
    r"(?<![\d.,:])\b(0|[2-9]|[1-9]\d+) "
    r"(person|copy|item|request|alert|ask|follow-up|day|comment|question|rating|run|answer)\b"
)
_EMOJI = re.compile(r"[\u2139\u23e9-\u23fa\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff]")


def lines_run_together(name: str, values: dict[str, Any]) -> list[str]:
    """Where the message lost a line break its template has: what `trim_blocks` took away
    after a block tag that ended a line of words (nothing between the two words left)."""
    shown = T.render(name, **values)
    reference = UNTRIMMED.get_template(name).render(**values).strip()
    found: list[str] = []
    i = j = 0
    while i < len(shown) and j < len(reference):
        gap_i, gap_j = i, j
        while i < len(shown) and shown[i].isspace():
            i += 1
        while j < len(reference) and reference[j].isspace():
            j += 1
        if "\n" in reference[gap_j:j] and "\n" not in shown[gap_i:i]:
            found.append(repr(plain_text(shown[max(0, i - 30) : i + 30])))
        if i < len(shown) and j < len(reference):
            assert shown[i] == reference[j], (name, shown[i:], reference[j:])
        i += 1
        j += 1
    return found


def problems(plain: str) -> list[str]:
    """What reads wrong in a message's plain words, whatever the template."""
    found = []
    for tag in ("{{", "}}", "{%", "%}", "{#"):
        if tag in plain:
            found.append(f"an unrendered {tag!r}")
    if "\n\n\n" in plain:
        found.append("two blank lines in a row")
    fenced = False
    for line in plain.split("\n"):
        if line.strip() == "```":
            fenced = not fenced
            continue
        if fenced:
            continue
        for pattern, what in (
            (r"\S  +\S", "two spaces"),
            (r"\s[.,;:!?](?!\w)", "a space before punctuation"),
            (r"[a-z][A-Z]", "two words run together"),
            (r"[.!?:;,)][A-Z]", "two sentences run together"),
            (r"\(\s*\)", "empty brackets"),
            (r"[?!][_*”\"]?\.", "a full stop after a question mark"),
            (r"[^\s(“\"*_>•`]" + _EMOJI.pattern, "an emoji run into a word"),
        ):
            if match := re.search(pattern, line):
                found.append(f"{what}: {line[max(0, match.start() - 20) : match.end() + 20]!r}")
        match = _PLURAL_AFTER_ONE.search(line)
        if match and match.group(1) not in {"is", "was", "has", "does", "yes"}:
            found.append(f"a plural after 1: {match.group(0)!r}")
        if match := _SINGULAR_AFTER_MANY.search(line):
            found.append(f"a singular after a number: {match.group(0)!r}")
    return found


_SLACK_ITALIC = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_SLACK_EMOJI = re.compile(r":[a-z_]+:")


def unbalanced_on_slack(neutral: str) -> list[str]:
    """Lines of the Slack rendering whose bold or italics open and never close (mrkdwn does
    not carry them over a line break, so the marks show). Values' own marks are look-alikes
    there, so every mark left is the bot's."""
    found = []
    fenced = False
    for line in slack.mrkdwn(neutral).split("\n"):
        if line.strip() == "```":
            fenced = not fenced
        line = _SLACK_EMOJI.sub("", re.sub(r"`[^`]*`", "", line))
        # "__" or "**": a span opened inside one of its own kind (a cut note in italics).
        marks = line.count("*") % 2 or len(_SLACK_ITALIC.findall(line)) % 2
        if not fenced and (marks or "__" in line or "**" in line):
            found.append(line)
    return found


def ids(cases: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    return [f"{name.removesuffix('.md.j2')}[{case}]" if case else name for name, case, _ in cases]


def test_every_template_has_its_cases() -> None:
    """A new template comes with its cases here, or this says which are missing."""
    names = {str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.md.j2")}
    assert names - {name for name, _, _ in CASES} == set()
    assert {name for name, _, _ in CASES} <= names


@pytest.mark.parametrize(("name", "case", "values"), CASES, ids=ids(CASES))
def test_a_template_reads_cleanly(name: str, case: str, values: dict[str, Any]) -> None:
    assert lines_run_together(name, values) == []
    shown = T.render(name, **values)
    assert problems(console.text(shown).replace("*", "")) == []
    assert unbalanced_on_slack(shown) == []


_TAG = re.compile(r"\{%.*?%\}")


def test_no_line_of_a_template_loses_its_newline() -> None:
    """`trim_blocks` removes the newline after a block tag. On a line holding only tags that
    is what is wanted; on a line of words ending in a tag it joins that line to the next (or
    drops the blank line the template shows), in every branch. Such a line ends in `+%}`
    (keep the newline) or `-%}` (say that it goes), or moves its tag to the next line."""
    found = []
    for path in sorted(TEMPLATES.rglob("*.md.j2")):
        lines = path.read_text().split("\n")
        for number, line in enumerate(lines, start=1):
            words = _TAG.sub("", line).strip()
            ends_in_tag = line.rstrip().endswith("%}") and not line.rstrip().endswith(
                ("+%}", "-%}")
            )
            follows = any(_TAG.sub("", later).strip() for later in lines[number:])
            if ends_in_tag and words and follows:
                found.append(f"{path.relative_to(TEMPLATES)}:{number}: {line.strip()[-60:]}")
    assert found == []


# --- the messages people see most, line by line -----------------------------------------------


def lines(name: str, **values: Any) -> list[str]:
    return plain_text(T.render(name, **values)).split("\n")


def test_the_request_receipt() -> None:
    values = {
        "request": request(text="Printer jams\nOn floor 3"),
        "actor": "UALICE",
        "held_minutes": None,
    }
    assert lines("requester/received.md.j2", **values) == [
        "📥 We have your request TH-12:",
        "Printer jams",
        "On floor 3",
        "The service desk sees it now; I'll tell you here when someone picks it up.",
    ]
    shown = T.render("requester/received.md.j2", **values)
    # Every line of what they typed is in the quote, on Slack as on Teams.
    assert "\n>Printer jams\n>On floor 3\nThe service desk" in slack.mrkdwn(shown)
    quoted_on_teams = [part for kind, part in teams.segments(shown) if kind == "quote"]
    assert [plain_text(part) for part in quoted_on_teams] == ["Printer jams\nOn floor 3"]
    values = {
        "request": request(logged_by="UBOB", intake_channel="phone"),
        "actor": "UBOB",
        "held_minutes": None,
    }
    assert lines("requester/received.md.j2", **values)[0] == (
        "📥 We have your request TH-12 (logged for you by @UBOB, via phone):"
    )
    reply = T.blocks(
        "techhelp/received_reply.md.j2",
        request=request(),
        tier="I",
        logged_for=False,
        long_text=True,
        text_length=7200,
        held_minutes=None,
    )
    assert [plain_text(part).split("\n") for part in reply] == [
        [
            "✅ TH-12 is logged. Thank you!",
            "Guessed category: hardware · urgency: normal · queue: Service desk (Tier I)",
        ],
        [
            "What happens next: the service desk sees it now. You get a direct message when"
            " someone picks it up, if we need more information, and when it is resolved."
            " /techhelp status shows your open requests at any time.",
            "",
            "Your description is long (7,200 characters): all of it is stored with TH-12;"
            " messages show the first part.",
        ],
    ]


def test_the_triage_card() -> None:
    assert lines("triage/card.md.j2", request=request()) == [
        "The printer on floor 3 jams on every second page"
    ]
    values = {"request": request(logged_by="UBOB", intake_channel="phone"), "last": "new"}
    assert lines("triage/card_context.md.j2", **values) == [
        "TH-12 · via phone (logged by @UBOB) · new"
    ]


def test_an_alert_and_its_resolution() -> None:
    card = {"alert": alert(), "icon": Neutral("🔴"), "severity_label": "Outage"}
    assert lines("techalert/card.md.j2", **card) == [
        "🔴 Outage: VPN",
        "VPN is down for everyone working off-site",
    ]
    card["alert"] = alert(state="resolved")
    card["icon"] = Neutral("✅")
    assert lines("techalert/card.md.j2", **card)[0] == "✅ Resolved · Outage: VPN"
    resolved = alert(state="resolved")
    assert lines("techalert/resolved_personal.md.j2", alert=resolved, duration="1 h 5 min") == [
        "✅ AL-3 is resolved after 1 h 5 min: VPN is down for everyone working off-site",
        "The VPN gateway is back after a restart",
        "You were told because you said you were affected. Still a problem for you?"
        " /techhelp and describe it.",
    ]
    resolved.resolution = None
    assert lines("techalert/resolved_personal.md.j2", alert=resolved, duration="12 min") == [
        "✅ AL-3 is resolved after 12 min: VPN is down for everyone working off-site",
        "You were told because you said you were affected. Still a problem for you?"
        " /techhelp and describe it.",
    ]
    assert lines("techalert/resolved.md.j2", alert=resolved, duration="12 min", copies=1) == [
        "✅ AL-3 is resolved after 12 min; 1 copy is being edited to say so."
    ]


def test_the_pulse_prompt_and_thanks() -> None:
    assert lines("pulse/prompt.md.j2", survey=survey(), reminder=True) == [
        "👋 A reminder: we'd still like your answer.",
        "📊 How easy was it to get help from IT this week?",
        "One click: 1 = very poor, 5 = excellent.",
    ]
    values = {"survey": survey(), "choice": "4", "closes": "04 Dec 17:00 UTC"}
    comment = "Quick answers\nand a fix that lasted"
    assert lines("pulse/thanks.md.j2", comment=comment, **values) == [
        "🙏 Thank you! You answered 4 to How easy was it to get help from IT this week?",
        "Click another option to change your answer (until 04 Dec 17:00 UTC).",
        "Your comment:",
        "Quick answers",
        "and a fix that lasted",
    ]
    # Quoted whole on Slack: no italics left open across its lines.
    shown = slack.mrkdwn(T.render("pulse/thanks.md.j2", comment=comment, **values))
    assert shown.endswith("Your comment:\n>Quick answers\n>and a fix that lasted")
    assert lines("pulse/thanks.md.j2", comment=None, **values)[1:] == [
        "Click another option to change your answer (until 04 Dec 17:00 UTC), or add a comment."
    ]


def test_the_rating_prompt_and_thanks() -> None:
    assert lines("rating/prompt.md.j2", request=request()) == [
        "How did we do with TH-12? One click tells us (1 = poor, 5 = excellent)."
    ]
    thanks = lines("rating/thanks.md.j2", request=request(), score=4, comment="Very quick")
    assert len(thanks) == 3 and thanks[1:] == ["Your comment:", "Very quick"]
    assert thanks[0].endswith("when the week's figures are published.")


def test_a_questionnaire_page() -> None:
    values = {
        "reminder": True,
        "total": 8,
        "remaining": 3,
        "answered": True,
        "comments": 1,
        "closes": "04 Dec",
        "page": 1,
        "pages": 2,
    }
    assert lines("pulse/questionnaire_prompt.md.j2", **values) == [
        "👋 A reminder: we'd still like your answers.",
        "3 of 8 questions remain. Your answers so far are kept: come back any time until 04 Dec.",
        "Page 2 of 2.",
    ]
    item = ns(question="How quickly do we answer?", kind="scale")
    values = {"heading": "Service", "number": 2, "item": item, "comment": None}
    assert lines("pulse/questionnaire_item.md.j2", chosen="4", **values) == [
        "Service",
        "2. How quickly do we answer? (1 = very poor, 5 = excellent)",
        "",
        "✅ Your answer: 4",
    ]


def test_the_liaison_briefing() -> None:
    parts = [
        plain_text(part).split("\n")
        for part in T.blocks("liaison/briefing.md.j2", b=briefing(), figure=figure)
    ]
    assert [part[0] for part in parts] == [
        "Briefing: Finance · next check-in 2026-12-02",
        "Open requests: 3 (the 1 oldest)",
        "Satisfaction and pulse (change since the last meeting)",
        "Last meeting's notes (2026-11-02, with Dana (head of Finance), Lee)",
    ]
    assert parts[0] == [
        "Briefing: Finance · next check-in 2026-12-02",
        "",
        "Last meeting: 2026-11-02 · cadence: monthly",
    ]
    assert "Last 30 days: 5 new, 4 of them resolved" in parts[1]
    assert "• TH-8 · resolved · access · 9 d old" in parts[1]
    assert parts[3][-2:] == [
        "Open follow-ups (1):",
        "• Size the reporting server · Lee · due 2026-12-10",
    ]
    first = briefing(
        check_in=CheckIn("Finance", None, date(2026, 11, 29)),
        recent_count=0,
        resolved_recent=0,
        recent_requests=[],
    )
    shown = plain_text(T.render("liaison/briefing.md.j2", b=first, figure=figure))
    assert "(overdue by 1 day)" in shown and "Last 30 days: 0 new\n" in shown


def test_the_self_service_suggestions() -> None:
    assert lines("kb/suggestions.md.j2", request=request(), grace_minutes=5) == [
        "💡 These articles may answer it. If one does, press This solved it and TH-12 is closed"
        " for you. If not, it reaches the service desk in 5 min, or at once with I still need help."
    ]


def test_the_digest_keeps_its_three_parts() -> None:
    parts = T.blocks("digest/digest.md.j2", **digest())
    assert len(parts) == 3 and not any("---" in part for part in parts)
    assert plain_text(parts[1]).split("\n") == [
        "Requests: 14 received, 11 resolved · 80% through /techhelp",
        "",
        "Overdue now: 2 · Alerts: 1 · Average rating: 4.3 of 5 (9 ratings)",
    ]
    one = digest(rating={"average": 5.0, "ratings": 1})
    assert "(1 rating)" in plain_text(T.render("digest/digest.md.j2", **one))


def test_an_overdue_request_quotes_it_on_its_own_line() -> None:
    values = {"request": request(), "target": "first-response", "limit": "30 min"}
    shown = T.render("service_targets/overdue.md.j2", manager="UDANA", **values)
    assert slack.mrkdwn(shown).endswith(
        "<@UDANA>, for your attention.\n> The printer on floor 3 jams on every second page"
    )


def test_the_resolved_message_keeps_its_last_sentence_within_slacks_limit() -> None:
    """The longest alert and resolution a person can type, with a few ampersands (each five
    characters once Slack escapes it): the message is cut in its values, never in what it
    tells the person to do."""
    long = "The R&D VPN drops every few minutes. " * 400
    resolved = alert(state="resolved", message=long, resolution=long)
    text = T.render("techalert/resolved_personal.md.j2", alert=resolved, duration="1 d 23 h 59 min")
    section = slack.message(Message.plain(text))["blocks"][0]["text"]["text"]
    assert section.endswith("Still a problem for you? `/techhelp` and describe it.")
    assert section.count("characters in all") == 2  # both values cut, each with its note


POISON = "<!channel> <@U1> *bold* _it_ `code` <https://evil.example|click>\n> quote"


def poisoned(value: Any) -> Any:
    """`value` with every string in it (but the bot's own neutral markup) typed by someone
    trying to ping the channel, format, link or quote."""
    if isinstance(value, Neutral) or callable(value):
        return value
    if isinstance(value, str):
        return POISON
    if isinstance(value, ns):
        return ns(**{k: poisoned(v) for k, v in vars(value).items()})
    if isinstance(value, dict):
        return {k: poisoned(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(poisoned(v) for v in value)
    return value


@pytest.mark.parametrize(("name", "case", "values"), CASES, ids=ids(CASES))
def test_what_people_typed_stays_text(name: str, case: str, values: dict[str, Any]) -> None:
    """Every value a template shows is a literal: typed markup pings nobody, links nowhere
    and formats nothing, on Slack and on Teams."""
    shown = T.render(name, **{k: poisoned(v) for k, v in values.items()})
    on_slack = slack.mrkdwn(shown)
    assert "<!channel>" not in on_slack and "<https://evil" not in on_slack
    assert (
        "<@U1>" not in on_slack and "\n> quote" not in on_slack and "\n>&gt; quote" not in on_slack
    )
    assert "*bold*" not in on_slack and "`code`" not in on_slack and "_it_" not in on_slack
    on_teams = teams.text(shown)
    assert "<at>" not in on_teams and "](https://evil" not in on_teams
    assert "*bold*" not in on_teams and "_it_" not in on_teams
