"""The figures of the dashboard, the public report and the weekly digest.

Every figure is an aggregate computed by the database (GROUP BY, window functions), never by
loading rows into Python to count them, so a page costs a few queries whatever the size of the
history. Functions are keyword-only and take a read-only connection (`Database.reading()`).

Conventions: a request belongs to the week (Monday, UTC) and the date range of its creation;
percentiles are nearest-rank (the smallest value with at least p of the values at or below it).
Rating figures are published per whole week that has ended (`published_weeks`), and per week a
group smaller than `min_group` is hidden (None), with the departments hidden beside it so that
everyone's figure minus the shown ones cannot reveal it (`surveys.suppressed`): a small
department's ratings cannot be traced to a person, by one page or by several.
"""

from __future__ import annotations

from chatbot.reports.alerts import alert_history
from chatbot.reports.common import (
    ALERT_LIMIT,
    DEFAULT_WEEKS,
    LOGGED_BY_STAFF,
    NO_DEPARTMENT,
    OVERDUE_LIMIT,
    SELF_SERVICE,
    UNRESOLVED,
    Filters,
    departments,
    from_rows,
)
from chatbot.reports.intake import intake_channel, intake_channels, intake_share
from chatbot.reports.pulse import EVERYONE, pulse_trends, questionnaire_items
from chatbot.reports.ratings import published_weeks, rating_response, ratings_by_week
from chatbot.reports.requests import (
    open_by_state_and_tier,
    overdue,
    response_times,
    totals,
    volume_by_week,
    weekly_volume,
)
from chatbot.reports.self_service import (
    article_helpfulness,
    content_gaps,
    self_service_by_week,
    self_service_rate,
)

__all__ = [
    "ALERT_LIMIT",
    "DEFAULT_WEEKS",
    "EVERYONE",
    "Filters",
    "LOGGED_BY_STAFF",
    "NO_DEPARTMENT",
    "OVERDUE_LIMIT",
    "SELF_SERVICE",
    "UNRESOLVED",
    "alert_history",
    "article_helpfulness",
    "content_gaps",
    "self_service_by_week",
    "self_service_rate",
    "departments",
    "from_rows",
    "intake_channel",
    "intake_channels",
    "intake_share",
    "open_by_state_and_tier",
    "overdue",
    "published_weeks",
    "pulse_trends",
    "questionnaire_items",
    "rating_response",
    "ratings_by_week",
    "response_times",
    "totals",
    "volume_by_week",
    "weekly_volume",
]
