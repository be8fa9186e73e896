"""A run's results: its counts per department and option, shown only for groups of at least the
minimum size, with complementary suppression (`suppression.py`); beside them the previous run's,
the survey's trend and request satisfaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from chatbot.config import Routing
from chatbot.db.models import Survey, SurveyRun
from chatbot.surveys.answers import _comments, tallies
from chatbot.surveys.request_satisfaction import Satisfaction, satisfaction
from chatbot.surveys.runs import SENT
from chatbot.surveys.suppression import min_group_size, suppressed
from chatbot.surveys.trends import Trend, trend


@dataclass
class Share:
    label: str
    count: int
    percent: float
    bar: str


@dataclass
class Group:
    name: str
    recipients: int
    responses: int
    rate: float | None
    average: float | None  # None: not a scale, or too few answers to show
    hidden: bool  # not shown: fewer answers than the minimum, or hidden with such a group
    change: float | None = None  # of the average, from the previous run

    @property
    def complementary(self) -> bool:
        """Hidden although it has enough answers: so that no smaller group can be worked out."""
        return self.hidden and self.responses >= self.minimum

    minimum: int = 0


@dataclass
class Figures:
    run: SurveyRun
    survey: Survey
    recipients: int
    responses: int
    rate: float | None
    average: float | None
    average_hidden: bool
    distribution: list[Share]
    departments: list[Group]
    comments: list[tuple[str | None, str]]  # (user id when not anonymous, text)
    comments_hidden: int  # comments withheld: fewer than the minimum in the group
    held_back: int
    final: bool = True  # False while the run is open: only how many answered is shown
    previous: Figures | None = None
    satisfaction: list[Satisfaction] = field(default_factory=list)
    trend: Trend | None = None

    @property
    def rate_change(self) -> float | None:
        if self.previous is None or self.rate is None or self.previous.rate is None:
            return None
        return self.rate - self.previous.rate

    @property
    def average_change(self) -> float | None:
        if self.previous is None or self.average is None or self.previous.average is None:
            return None
        return self.average - self.previous.average


def bar(percent: float, width: int = 10) -> str:
    filled = round(percent / 100 * width)
    return "█" * filled + "░" * (width - filled)


def scale_average(scale: bool, counts: Mapping[int, int]) -> float | None:
    """The average score from answers counted per option index (option i scores i + 1); None
    for custom options (no order to average) or no answers."""
    total = sum(counts.values())
    if not scale or not total:
        return None
    return sum((option + 1) * n for option, n in counts.items()) / total


def distribution(options: list[str], counts: Mapping[int, int]) -> list[Share]:
    """Every option with its count and share of the answers, in the survey's order."""
    total = sum(counts.values())
    shares = []
    for index, label in enumerate(options):
        percent = 100 * counts.get(index, 0) / total if total else 0.0
        shares.append(Share(label, counts.get(index, 0), percent, bar(percent)))
    return shares


def figures(
    *, session: Session, routing: Routing, run: SurveyRun, with_previous: bool = True
) -> Figures:
    """The run's results. While it is open only how many answered is given: the figures are
    published once, when it closes, so that comparing them before and after someone's click
    cannot tell what they chose."""
    survey = run.survey
    minimum, min_comments = min_group_size(routing), routing.pulse.min_comments
    final = run.state == "closed"
    by_department = tallies(session=session, run_ids=[run.id])[run.id]
    counts: Counter[int] = sum(by_department.values(), Counter())
    responses = counts.total()
    names = sorted(set(run.recipients_by_department) | set(by_department))
    answered = {name: by_department.get(name, Counter()).total() for name in names}
    hidden = suppressed(answered, minimum) if final else set(names)
    groups = []
    for name in names:
        given = by_department.get(name, Counter())
        sent = int(run.recipients_by_department.get(name, 0))
        groups.append(
            Group(
                name=name or "No department",
                recipients=sent,
                responses=given.total(),
                rate=100 * given.total() / sent if sent else None,
                average=None if name in hidden else scale_average(survey.scale, given),
                hidden=name in hidden,
                minimum=minimum if final else 0,
            )
        )
    written = list(_comments(session, run.id).values()) if final else []
    shown = written if len(written) >= min_comments else []
    show = final and responses >= minimum
    result = Figures(
        run=run,
        survey=survey,
        recipients=run.recipients,
        responses=responses,
        rate=100 * responses / run.recipients if run.recipients else None,
        average=scale_average(survey.scale, counts) if show else None,
        average_hidden=final and survey.scale and 0 < responses < minimum,
        distribution=distribution(survey.options, counts) if show else [],
        departments=groups,
        comments=[
            (None if survey.anonymous else entry.get("user"), entry["text"]) for entry in shown
        ],
        comments_hidden=len(written) - len(shown),
        held_back=run.held_back,
        final=final,
    )
    if with_previous and final:
        before = _previous_run(session=session, run=run)
        if before is not None:
            result.previous = figures(
                session=session, routing=routing, run=before, with_previous=False
            )
            earlier = {g.name: g.average for g in result.previous.departments}
            for group in result.departments:
                then = earlier.get(group.name)
                if group.average is not None and then is not None:
                    group.change = group.average - then
        if survey.scale:
            result.satisfaction = satisfaction(
                session=session,
                until=run.closed_at or run.sent_at or run.scheduled_for,
                minimum=minimum,
            )
            result.trend = trend(session=session, routing=routing, run=run)
    return result


def _previous_run(*, session: Session, run: SurveyRun) -> SurveyRun | None:
    """The run before this one: of the same survey, else of a survey with the same question."""
    query = (
        select(SurveyRun)
        .join(Survey)
        .where(
            SurveyRun.id != run.id,
            SurveyRun.state.in_(SENT),
            SurveyRun.scheduled_for < run.scheduled_for,
        )
        .order_by(SurveyRun.scheduled_for.desc(), SurveyRun.id.desc())
    )
    same = session.scalars(query.where(SurveyRun.survey_id == run.survey_id)).first()
    if same is not None:
        return same
    return session.scalars(
        query.where(Survey.question == run.survey.question, Survey.scale == run.survey.scale)
    ).first()
