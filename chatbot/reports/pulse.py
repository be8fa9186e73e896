"""Pulse checks' trend lines per department, with small groups suppressed."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import (
    Connection,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session

from chatbot import surveys
from chatbot.config import Routing
from chatbot.db.models import (
    Survey,
    SurveyRun,
    SurveyTally,
)
from chatbot.reports.common import (
    NO_DEPARTMENT,
    Filters,
    _department,
    _utc,
)
from chatbot.surveys.trends import Line

EVERYONE = "Everyone"  # the row of all respondents, beside the departments


def pulse_trends(
    *,
    conn: Connection,
    filters: Filters,
    routing: Routing,
    min_group: int,
    by_department: bool = True,
) -> list[dict[str, Any]]:
    """Pulse survey results as trend lines: per survey, each closed run sent in the range
    (oldest first), everyone's row and then one per department of the respondents (or only the
    chosen department's). Each row: recipients, answers, response rate, and the average (1–5
    scale) or the distribution and top option (custom options).

    Only closed runs: the figures are published once, when a run closes, and never change with
    each click (comparing them before and after one would tell that person's answer). The
    counts come from `survey_tallies` (per run, department and option). A group with fewer
    answers than the minimum (the larger of `min_group` and `pulse.min_group_size`, the rule of
    /pulse results) shows no answers, rate, average nor distribution; nor does any department
    hidden with it so that everyone's row minus the shown departments cannot reveal it
    (`surveys.suppressed`), whether or not the page shows everyone's row or one department. No
    comments and no respondents here."""
    minimum = surveys.min_group_size(routing, at_least=min_group)
    sent = [
        SurveyRun.state == "closed",
        SurveyRun.sent_at >= filters.since,
        SurveyRun.sent_at < filters.until,
    ]
    runs = conn.execute(
        select(
            SurveyRun.id,
            SurveyRun.sent_at,
            SurveyRun.recipients,
            SurveyRun.recipients_by_department,
            Survey.id.label("survey_id"),
            Survey.question,
            Survey.options,
            Survey.scale,
            Survey.items,
        )
        .join(Survey, Survey.id == SurveyRun.survey_id)
        .where(*sent)
        .order_by(Survey.id, SurveyRun.sent_at, SurveyRun.id)
    ).all()
    runs = [run for run in runs if not run.items]  # questionnaires: `questionnaire_items`
    if not runs:
        return []
    department = _department(func.nullif(SurveyTally.department, literal(""))).label("department")
    counted = conn.execute(
        select(SurveyTally.run_id, department, SurveyTally.option, SurveyTally.count)
        .join(SurveyRun, SurveyRun.id == SurveyTally.run_id)
        .where(*sent, SurveyTally.item == 0, SurveyTally.count > 0)
    )
    counts: dict[int, dict[str, Counter[int]]] = {}
    for run_id, name, option, count in counted:
        counts.setdefault(run_id, {}).setdefault(name, Counter())[option] += int(count)
    result = []
    for run in runs:
        groups = counts.get(run.id, {})
        asked = {
            (name or NO_DEPARTMENT): int(n)
            for name, n in (run.recipients_by_department or {}).items()
        }
        names = sorted(set(asked) | set(groups))
        hidden = surveys.suppressed(
            {name: groups.get(name, Counter()).total() for name in names}, minimum
        )
        rows: list[tuple[str, int, Counter[int], bool]] = []
        if filters.department:
            name = filters.department
            chosen = groups.get(name, Counter())
            shown = name not in hidden and chosen.total() >= minimum
            rows.append((name, asked.get(name, 0), chosen, shown))
        else:
            everyone = sum(groups.values(), Counter())
            rows.append((EVERYONE, int(run.recipients), everyone, everyone.total() >= minimum))
            if by_department:
                for name in names:
                    rows.append(
                        (name, asked.get(name, 0), groups.get(name, Counter()), name not in hidden)
                    )
        for name, recipients, chosen, shown in rows:
            result.append(_pulse_row(run, name, recipients, chosen, shown=shown))
    return result


def _pulse_row(
    run: Any, department: str, recipients: int, counts: Counter[int], *, shown: bool
) -> dict[str, Any]:
    answers = counts.total()
    shares = surveys.distribution(list(run.options), counts)
    average = surveys.scale_average(run.scale, counts)
    most = max((share.count for share in shares), default=0)
    # Options with the same count are a tie, and said to be one: none is picked over the other.
    tops = [share for share in shares if share.count == most] if answers else []
    return {
        "survey": f"PS-{run.survey_id}",
        "question": run.question,
        "scale": bool(run.scale),
        "run": run.id,
        "sent": _utc(run.sent_at).strftime("%Y-%m-%d"),
        "department": department,
        "recipients": recipients,
        "answers": answers if shown else None,
        "response_pct": round(100 * answers / recipients, 1) if shown and recipients else None,
        "average": round(average, 2) if shown and average is not None else None,
        "top_option": _top(tops) if shown and tops and not run.scale else None,
        "distribution": " · ".join(f"{s.label}: {s.percent:.0f}%" for s in shares)
        if shown
        else None,
        "percents": {s.label: round(s.percent, 1) for s in shares} if shown else {},
    }


def questionnaire_items(
    *, conn: Connection, routing: Routing, min_group: int, by_department: bool = True
) -> list[dict[str, Any]]:
    """Each questionnaire's latest closed run, one row per item (everyone's, then per
    department): answers, response rate, the trend over the last closed runs that held the
    item (up to `surveys.results.HISTORY`), average, the previous closed run's average of the
    same item (its `id`) and the change, the distribution; each row names the run's headline
    (on how many items the score rose). Groups are shown as the questionnaire's results show
    them: the minimum (the larger of `min_group` and `pulse.min_group_size`) and complementary
    suppression per item. Published figures only: a run still open is not shown."""
    minimum = surveys.min_group_size(routing, at_least=min_group)
    rows: list[dict[str, Any]] = []
    with Session(bind=conn) as session:
        latest: dict[int, SurveyRun] = {}
        closed = session.scalars(
            select(SurveyRun)
            .join(Survey, Survey.id == SurveyRun.survey_id)
            .where(SurveyRun.state == "closed")
            .order_by(SurveyRun.scheduled_for, SurveyRun.id)
        )
        for run in closed:
            if run.survey.items:
                latest[run.survey_id] = run
        for run in latest.values():
            f = surveys.questionnaire_figures(
                session=session, routing=routing, run=run, minimum=minimum
            )
            headline = f"rose on {f.rose} of {len(f.compared)} items" if f.previous_run else ""
            for result in f.items:
                if result.item.kind == "comment":
                    continue
                top = max(result.distribution, key=lambda s: s.count, default=None)
                base = {
                    "survey": run.survey.ref,
                    "title": run.survey.question,
                    "sent": _utc(run.sent_at or run.scheduled_for).strftime("%Y-%m-%d"),
                    "previous_sent": _utc(
                        f.previous_run.sent_at or f.previous_run.scheduled_for
                    ).strftime("%Y-%m-%d")
                    if f.previous_run
                    else None,
                    "headline": headline,
                    "number": result.item.index + 1,
                    "item": result.item.id,
                    "section": result.item.section or "",
                    "question": result.item.question,
                }
                shown = result.responses >= minimum
                rows.append(
                    base
                    | {
                        "department": EVERYONE,
                        "answers": result.responses if shown else None,
                        "response_pct": round(result.rate, 1)
                        if shown and result.rate is not None
                        else None,
                        "trend": _trend(result.trend),
                        "average": _round(result.average),
                        "previous": _round(result.previous),
                        "change": _round(result.change),
                        "top_option": f"{top.label} ({top.percent:.0f}%)"
                        if top and not result.item.scale and shown
                        else None,
                        "distribution": " · ".join(
                            f"{s.label}: {s.percent:.0f}%" for s in result.distribution
                        )
                        or None,
                    }
                )
                if not by_department:
                    continue
                for group in result.departments:
                    if group.hidden:
                        continue
                    rows.append(
                        base
                        | {
                            "department": group.name,
                            "answers": group.responses,
                            "response_pct": round(group.rate, 1)
                            if group.rate is not None
                            else None,
                            "trend": _trend(group.trend),
                            "average": _round(group.average),
                            "previous": None,
                            "change": _round(group.change),
                            "top_option": None,
                            "distribution": None,
                        }
                    )
    return rows


def _trend(points: list[float | None]) -> str | None:
    """An item's averages over its runs, oldest first: "▃▁▇ 3.25 → 2.50 → 4.75" (– where a run
    did not show it); None without an earlier run."""
    if len(points) < 2:
        return None
    line = Line("", points)
    return f"{line.spark} {line.values}"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _top(tops: list[Any]) -> str:
    """The most chosen answer, or the tie: `A, B (tie, 40% each)`."""
    if len(tops) == 1:
        return f"{tops[0].label} ({tops[0].percent:.0f}%)"
    return f"{', '.join(t.label for t in tops)} (tie, {tops[0].percent:.0f}% each)"
