"""A run's results: its counts per department and option, shown only for groups of at least the
minimum size, with complementary suppression (`suppression.py`); beside them the previous run's,
the survey's trend and request satisfaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chatbot.config import Routing
from chatbot.db.models import Survey, SurveyRecipient, SurveyRun
from chatbot.surveys.answers import _comments, item_tallies, tallies
from chatbot.surveys.items import Item, items_of
from chatbot.surveys.request_satisfaction import Satisfaction, satisfaction
from chatbot.surveys.runs import SENT
from chatbot.surveys.suppression import min_group_size, suppressed
from chatbot.surveys.trends import Line, Trend, trend


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
    # A questionnaire item's averages over its runs, oldest first, ending with this one's
    # (None: not shown in that run); empty without an earlier run.
    trend: list[float | None] = field(default_factory=list)

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


def _groups(
    run: SurveyRun,
    counted: Mapping[str, Counter[int]],
    *,
    scale: bool,
    minimum: int,
    final: bool,
) -> list[Group]:
    """Each department's figures (a pulse's, or one questionnaire item's) from its counts per
    option: recipients, answers, rate and average, hidden below the minimum group size and
    with complementary suppression (`suppressed`); while the run is open, every average is."""
    names = sorted(set(run.recipients_by_department) | set(counted))
    answered = {name: counted.get(name, Counter()).total() for name in names}
    hidden = suppressed(answered, minimum) if final else set(names)
    groups = []
    for name in names:
        given = counted.get(name, Counter())
        sent = int(run.recipients_by_department.get(name, 0))
        groups.append(
            Group(
                name=name or "No department",
                recipients=sent,
                responses=given.total(),
                rate=100 * given.total() / sent if sent else None,
                average=None if name in hidden else scale_average(scale, given),
                hidden=name in hidden,
                minimum=minimum if final else 0,
            )
        )
    return groups


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
    groups = _groups(run, by_department, scale=survey.scale, minimum=minimum, final=final)
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


def _previous_run(*, session: Session, run: SurveyRun, closed: bool = False) -> SurveyRun | None:
    """The run before this one: of the same survey, else of a survey with the same question
    (a questionnaire's: title); with `closed`, only a run whose figures were published."""
    query = (
        select(SurveyRun)
        .join(Survey)
        .where(
            SurveyRun.id != run.id,
            SurveyRun.state.in_(("closed",) if closed else SENT),
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


# --- questionnaires: the same figures per item and per section ----------------------------------


@dataclass
class ItemResult:
    item: Item
    responses: int
    rate: float | None
    average: float | None  # None: not a scale, too few answers, or the run is open
    distribution: list[Share]
    departments: list[Group]
    previous: float | None = None  # the previous run's average of the same item (its `id`)
    comments: list[tuple[str | None, str]] = field(default_factory=list)
    comments_hidden: int = 0
    # A scale item's average over the last runs (up to `HISTORY`) that held it (its `id`),
    # oldest first, ending with this run's; None where a run did not show it.
    trend: list[float | None] = field(default_factory=list)

    @property
    def trend_line(self) -> Line | None:
        """The trend as a line (spark and values), when there is an earlier run to draw."""
        return Line(self.item.id, self.trend) if len(self.trend) > 1 else None

    @property
    def change(self) -> float | None:
        if self.average is None or self.previous is None:
            return None
        return self.average - self.previous


@dataclass
class SectionResult:
    name: str
    items: list[ItemResult]

    def _mean(self, values: list[float | None]) -> float | None:
        shown = [v for v in values if v is not None]
        return sum(shown) / len(shown) if shown and len(shown) == len(values) else None

    @property
    def average(self) -> float | None:
        """The mean of its scale items' averages (None when one of them is not shown)."""
        return self._mean([r.average for r in self.items if r.item.scale])

    @property
    def previous(self) -> float | None:
        return self._mean([r.previous for r in self.items if r.item.scale])

    @property
    def change(self) -> float | None:
        now, then = self.average, self.previous
        return None if now is None or then is None else now - then


@dataclass
class QuestionnaireFigures:
    run: SurveyRun
    survey: Survey
    recipients: int
    respondents: int  # answered at least one item
    rate: float | None
    final: bool
    items: list[ItemResult]
    sections: list[SectionResult]
    held_back: int
    previous_run: SurveyRun | None = None
    earlier_runs: list[SurveyRun] = field(default_factory=list)  # newest first, for the trend

    @property
    def compared(self) -> list[ItemResult]:
        """Scale items with a shown average in this run and the previous one."""
        return [r for r in self.items if r.change is not None]

    @property
    def rose(self) -> int:
        """On how many items the score rose since the previous run: the headline."""
        return sum(1 for r in self.compared if r.change is not None and r.change > 0)


def item_result(
    *,
    item: Item,
    counted: Mapping[str, Counter[int]],
    run: SurveyRun,
    minimum: int,
    final: bool,
) -> ItemResult:
    """One item's figures from its counts per department: as a pulse's (`figures`), with the
    minimum group size and complementary suppression per item."""
    counts: Counter[int] = sum(counted.values(), Counter())
    responses = counts.total()
    groups = _groups(run, counted, scale=item.scale, minimum=minimum, final=final)
    show = final and responses >= minimum
    return ItemResult(
        item=item,
        responses=responses,
        rate=100 * responses / run.recipients if run.recipients else None,
        average=scale_average(item.scale, counts) if show else None,
        distribution=distribution(list(item.options), counts) if show else [],
        departments=groups,
    )


def questionnaire_figures(
    *,
    session: Session,
    routing: Routing,
    run: SurveyRun,
    with_previous: bool = True,
    minimum: int | None = None,
) -> QuestionnaireFigures:
    """A questionnaire run's results per item and per section. As with a pulse, while the run
    is open only how many answered is given; each item's change is from the previous run's item
    with the same `id`."""
    survey = run.survey
    items = items_of(run_items(run))
    minimum = min_group_size(routing, at_least=minimum or 0)  # a reader's stricter minimum
    min_comments = routing.pulse.min_comments
    final = run.state == "closed"
    counted = item_tallies(session=session, run_id=run.id)
    results = [
        item_result(
            item=item, counted=counted.get(item.index, {}), run=run, minimum=minimum, final=final
        )
        for item in items
    ]
    written = list(_comments(session, run.id).values()) if final else []
    for result in results:
        if result.item.kind == "comment":
            mine = [entry for entry in written if entry.get("item") == result.item.index]
            result.responses = len(mine)
            result.rate = 100 * len(mine) / run.recipients if run.recipients else None
            shown = mine if len(mine) >= min_comments else []
            result.comments = [
                (None if survey.anonymous else entry.get("user"), entry["text"]) for entry in shown
            ]
            result.comments_hidden = len(mine) - len(shown)
    respondents = session.scalar(
        select(func.count())
        .select_from(SurveyRecipient)
        .where(SurveyRecipient.run_id == run.id, SurveyRecipient.version > 0)
    )
    sections: list[SectionResult] = []
    for result in results:
        name = result.item.section or ""
        if not sections or sections[-1].name != name:
            sections.append(SectionResult(name, []))
        sections[-1].items.append(result)
    figures_ = QuestionnaireFigures(
        run=run,
        survey=survey,
        recipients=run.recipients,
        respondents=int(respondents or 0),
        rate=100 * (respondents or 0) / run.recipients if run.recipients else None,
        final=final,
        items=results,
        sections=[s for s in sections if s.name] if any(s.name for s in sections) else [],
        held_back=run.held_back,
    )
    if with_previous and final:
        earlier_runs = _earlier_questionnaire_runs(session=session, run=run)
        if earlier_runs:
            figures_.previous_run = earlier_runs[0]
            figures_.earlier_runs = earlier_runs
            _compare(
                results,
                [
                    questionnaire_figures(
                        session=session,
                        routing=routing,
                        run=before,
                        with_previous=False,
                        minimum=minimum,
                    )
                    for before in earlier_runs
                ],
            )
    return figures_


def run_items(run: SurveyRun) -> list[dict[str, Any]] | None:
    """A questionnaire run's items as it was sent (`SurveyRun.items`); for a run sent before
    runs kept them, its survey's."""
    return run.items if run.items is not None else run.survey.items


HISTORY = 5  # the runs an item's trend spans: the latest and up to four before it


def _earlier_questionnaire_runs(*, session: Session, run: SurveyRun) -> list[SurveyRun]:
    """The closed questionnaire runs before this one, newest first, each the previous of the
    one after it (`_previous_run`): up to `HISTORY` - 1."""
    found: list[SurveyRun] = []
    cursor = run
    while len(found) < HISTORY - 1:
        before = _previous_run(session=session, run=cursor, closed=True)
        if before is None or run_items(before) is None:
            break
        found.append(before)
        cursor = before
    return found


def _compare(results: list[ItemResult], earlier: list[QuestionnaireFigures]) -> None:
    """Each item's change from the previous run and its trend over the earlier ones (newest
    first), matched by the item's `id`, overall and per department."""
    by_id = [{r.item.id: r for r in f.items} for f in earlier]
    for result in results:
        thens = [runs.get(result.item.id) for runs in by_id]
        thens = [t if t is not None and t.item.kind == result.item.kind else None for t in thens]
        if thens[0] is not None:
            result.previous = thens[0].average
            departments = {g.name: g.average for g in thens[0].departments}
            for group in result.departments:
                old = departments.get(group.name)
                if group.average is not None and old is not None:
                    group.change = group.average - old
        if not result.item.scale or all(t is None for t in thens):
            continue
        # Oldest first, up to the last run that did not hold the item.
        held = thens[: thens.index(None)] if None in thens else thens
        result.trend = [t.average for t in reversed(held) if t is not None] + [result.average]
        per_run = [{g.name: g.average for g in t.departments} for t in reversed(held) if t]
        for group in result.departments:
            group.trend = [averages.get(group.name) for averages in per_run] + [group.average]
