"""Pulse checks: surveys, their runs, answers and results. Keyword-only, the caller's transaction.

A survey is sent as runs keyed (survey, scheduled time), so a run is stored once however often
the clock computes it. Button values are signed (HMAC over run id and option) with a key derived
from SLACK_SIGNING_SECRET, or generated and stored in `secrets` on first use when none is set.
Anonymous answers keep no user id: the respondent is an HMAC of run and user, which is enough to
let a person change their answer and to find non-responders for the reminder, but not to read who
answered what from the database.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from chatbot.config import Routing, Settings
from chatbot.db import rowcount
from chatbot.db.models import (
    Delivery,
    Person,
    Rating,
    Request,
    Secret,
    Survey,
    SurveyAnswer,
    SurveyRun,
)
from chatbot.db.upsert import insert_ignore
from chatbot.messages import Refusal

SCALE: tuple[str, ...] = ("1", "2", "3", "4", "5")
MAX_QUESTION = 500
MAX_OPTION = 75
MAX_COMMENT = 3000
SECRET_NAME = "pulse-hmac"
CONTACT_WINDOW = timedelta(days=7)
SATISFACTION_WINDOW = timedelta(days=30)
NO_DEPARTMENT = ""
SENT = ("open", "closed")  # run states after sending (before: scheduled; never: cancelled)


# --- signing ----------------------------------------------------------------------------------


def signing_key(*, session: Session, settings: Settings, now: datetime) -> bytes:
    """The HMAC key: derived from the Slack signing secret when set, else stored on first use."""
    if settings.slack_signing_secret:
        return key_from_signing_secret(settings.slack_signing_secret)
    stored = session.get(Secret, SECRET_NAME)
    if stored is None:
        insert_ignore(
            session, Secret, name=SECRET_NAME, value=secrets.token_hex(32), created_at=now
        )
        stored = session.get(Secret, SECRET_NAME)
        assert stored is not None
    return bytes.fromhex(stored.value)


def key_from_signing_secret(signing_secret: str) -> bytes:
    return hmac.new(signing_secret.encode(), b"techhelp-pulse", hashlib.sha256).digest()


def _mac(key: bytes, message: str, length: int = 24) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()[:length]


def button_value(key: bytes, run_id: int, choice: str) -> str:
    """`<run>.<choice>.<signature>`; choice is an option index or "c" (comment)."""
    return f"{run_id}.{choice}.{_mac(key, f'pulse:{run_id}:{choice}')}"


def read_button(key: bytes, value: str) -> tuple[int, str]:
    """(run id, choice) from a signed value; a forged or altered value is refused."""
    parts = value.split(".")
    if len(parts) == 3 and parts[0].isdigit():
        run_id, choice, signature = int(parts[0]), parts[1], parts[2]
        expected = _mac(key, f"pulse:{run_id}:{choice}")
        if hmac.compare_digest(signature, expected):
            return run_id, choice
    raise Refusal("That survey button is not valid (it may come from an old message).")


def respondent_key(key: bytes, run_id: int, user: str) -> str:
    return _mac(key, f"respondent:{run_id}:{user}", 64)


# --- defining and scheduling ------------------------------------------------------------------


def parse_options(text: str) -> list[str]:
    """Custom options from "Yes, No, Not sure" (commas or new lines); empty for the 1–5 scale."""
    separator = "\n" if "\n" in text else ","
    options = [part.strip() for part in text.split(separator) if part.strip()]
    if options and not 2 <= len(options) <= 10:
        raise Refusal("Give 2 to 10 options, or none for the 1–5 scale.", field="options")
    if any(len(option) > MAX_OPTION for option in options):
        raise Refusal(f"Each option can be at most {MAX_OPTION} characters.", field="options")
    if len(set(options)) != len(options):
        raise Refusal("The options must differ from each other.", field="options")
    return options


def create_survey(
    *,
    session: Session,
    question: str,
    options: list[str],
    audience: dict[str, Any],
    schedule: str | None,
    timezone: str,
    anonymous: bool,
    reminder_hours: float | None,
    close_hours: float,
    author: str,
    platform: str,
    source: str,
    now: datetime,
    name: str | None = None,
) -> Survey:
    question = question.strip()
    if not question:
        raise Refusal("The survey needs a question.", field="question")
    if len(question) > MAX_QUESTION:
        raise Refusal(
            f"That question is {len(question):,} characters; a survey question can hold "
            f"{MAX_QUESTION}. Nothing was sent.",
            field="question",
        )
    if reminder_hours is not None and reminder_hours >= close_hours:
        raise Refusal("The reminder must come before the survey closes.", field="reminder")
    survey = Survey(
        name=name,
        question=question,
        options=options or list(SCALE),
        scale=not options,
        audience=audience,
        schedule=schedule,
        timezone=timezone,
        anonymous=anonymous,
        reminder_hours=reminder_hours,
        close_hours=close_hours,
        author=author,
        platform=platform,
        source=source,
        active=True,
        created_at=now,
    )
    session.add(survey)
    session.flush()
    return survey


def add_run(*, session: Session, survey: Survey, at: datetime) -> SurveyRun | None:
    """The run of `survey` scheduled for `at`; None when it exists already (a double tick)."""
    run_id = insert_ignore(
        session,
        SurveyRun,
        survey_id=survey.id,
        scheduled_for=at.astimezone(UTC),
        state="scheduled",
        recipients=0,
        recipients_by_department={},
        held_back=0,
    )
    return session.get(SurveyRun, run_id) if run_id is not None else None


def stop_survey(*, session: Session, survey: Survey) -> int:
    """No more runs: the schedule ends and runs not yet sent are cancelled; returns how many."""
    survey.active = False
    cancelled = session.execute(
        update(SurveyRun)
        .where(SurveyRun.survey_id == survey.id, SurveyRun.state == "scheduled")
        .values(state="cancelled")
        .execution_options(synchronize_session=False)
    )
    return rowcount(cancelled) or 0


def get_survey(*, session: Session, ref: str) -> Survey:
    digits = ref.strip().upper().removeprefix("PS-")
    survey = session.get(Survey, int(digits)) if digits.isdigit() else None
    if survey is None:
        raise Refusal(f"There is no survey {ref}.")
    return survey


def surveys(*, session: Session, limit: int = 20) -> list[Survey]:
    return list(session.scalars(select(Survey).order_by(Survey.id.desc()).limit(limit)))


def runs_of(*, session: Session, survey: Survey) -> list[SurveyRun]:
    return list(
        session.scalars(
            select(SurveyRun)
            .where(SurveyRun.survey_id == survey.id)
            .order_by(SurveyRun.scheduled_for.desc(), SurveyRun.id.desc())
        )
    )


def latest_run(*, session: Session, survey: Survey | None = None) -> SurveyRun | None:
    """The latest run that was sent (of one survey, or of any)."""
    query = select(SurveyRun).where(SurveyRun.state.in_(SENT))
    if survey is not None:
        query = query.where(SurveyRun.survey_id == survey.id)
    return session.scalars(query.order_by(SurveyRun.sent_at.desc(), SurveyRun.id.desc())).first()


# --- sending ----------------------------------------------------------------------------------


def audience_people(
    *, session: Session, settings: Settings, audience: dict[str, Any], platform: str
) -> list[tuple[str, str]]:
    """(user id, department) of everyone the audience reaches, from the synced directory."""
    query = select(Person.user_id, Person.department).where(
        Person.platform == platform, Person.active.is_(True)
    )
    if audience.get("everyone"):
        found = session.execute(query.order_by(Person.user_id)).all()
        return [(user, department or NO_DEPARTMENT) for user, department in found]
    chosen: dict[str, str] = {}
    if audience.get("departments"):
        rows = session.execute(query.where(Person.department.in_(audience["departments"])))
        chosen |= {user: department or NO_DEPARTMENT for user, department in rows}
    named = list(audience.get("users") or [])
    if audience.get("staff"):
        named += [*settings.routing.staff, *settings.techhelp_admins]
    for user in named:
        department = settings.routing.department_of(user)
        chosen.setdefault(user, department.name if department else NO_DEPARTMENT)
    return sorted(chosen.items())


def contacts_this_week(*, session: Session, now: datetime) -> Counter[str]:
    """Unsolicited direct messages (survey runs and reminders) per person in the last 7 days."""
    rows = session.execute(
        select(Delivery.channel, func.count())
        .where(
            Delivery.key.startswith("survey-run:"),
            Delivery.created_at > now - CONTACT_WINDOW,
            Delivery.status != "cancelled",
        )
        .group_by(Delivery.channel)
    )
    return Counter({channel: count for channel, count in rows})


def within_budget(
    *, session: Session, routing: Routing, people: list[tuple[str, str]], now: datetime
) -> tuple[list[tuple[str, str]], int]:
    """Those who may still be contacted this week, and how many were held back."""
    budget = routing.pulse.weekly_contact_budget
    contacted = contacts_this_week(session=session, now=now)
    allowed = [(user, dept) for user, dept in people if contacted[user] < budget]
    return allowed, len(people) - len(allowed)


def open_run(
    *,
    session: Session,
    run: SurveyRun,
    people: list[tuple[str, str]],
    held_back: int,
    now: datetime,
) -> None:
    """Mark the run sent to `people` (its deliveries are stored by the caller)."""
    survey = run.survey
    run.state = "open"
    run.sent_at = now
    run.recipients = len(people)
    run.recipients_by_department = dict(Counter(dept for _, dept in people))
    run.held_back = held_back
    run.closes_at = now + timedelta(hours=survey.close_hours)
    if survey.reminder_hours is not None:
        run.remind_at = now + timedelta(hours=survey.reminder_hours)


def copy_key(run_id: int, user: str) -> str:
    return f"survey-run:{run_id}:to:{user}"


def reminder_key(run_id: int, user: str) -> str:
    return f"survey-run:{run_id}:remind:{user}"


def recipients(*, session: Session, run: SurveyRun) -> list[str]:
    """Who the run was sent to: its deliveries, keyed by person."""
    prefix = f"survey-run:{run.id}:to:"
    return [
        key.removeprefix(prefix)
        for key in session.scalars(select(Delivery.key).where(Delivery.key.startswith(prefix)))
    ]


def non_responders(*, session: Session, run: SurveyRun, key: bytes) -> list[str]:
    answered = set(
        session.scalars(select(SurveyAnswer.respondent_key).where(SurveyAnswer.run_id == run.id))
    )
    return sorted(
        user
        for user in recipients(session=session, run=run)
        if respondent_key(key, run.id, user) not in answered
    )


@dataclass(frozen=True)
class Awaiting:
    """An open run a person received and has not answered yet."""

    run_id: int
    question: str
    options: list[str]
    scale: bool
    anonymous: bool
    closes_at: datetime | None


def awaiting(*, session: Session, key: bytes, user: str, now: datetime) -> list[Awaiting]:
    """Open runs sent to `user` and not answered by them, closing soonest first. Three indexed
    look-ups whatever the audience's size: the open runs, this person's copies of them (keyed by
    person), and their answers (by respondent key, so anonymous answers are found too)."""
    runs = session.execute(
        select(
            SurveyRun.id,
            Survey.question,
            Survey.options,
            Survey.scale,
            Survey.anonymous,
            SurveyRun.closes_at,
        )
        .join(Survey, Survey.id == SurveyRun.survey_id)
        .where(SurveyRun.state == "open", SurveyRun.closes_at > now)
        .order_by(SurveyRun.closes_at, SurveyRun.id)
    ).all()
    if not runs:
        return []
    received = set(
        session.scalars(
            select(Delivery.key).where(
                Delivery.key.in_([copy_key(run.id, user) for run in runs]),
                Delivery.status != "cancelled",
            )
        )
    )
    mine = [run for run in runs if copy_key(run.id, user) in received]
    if not mine:
        return []
    answered = set(
        session.scalars(
            select(SurveyAnswer.run_id).where(
                SurveyAnswer.run_id.in_([run.id for run in mine]),
                SurveyAnswer.respondent_key.in_(
                    [respondent_key(key, run.id, user) for run in mine]
                ),
            )
        )
    )
    return [Awaiting(*run) for run in mine if run.id not in answered]


def due(*, session: Session, now: datetime) -> dict[str, list[SurveyRun]]:
    """What the clock has to do: runs to send, reminders to send, runs to close."""
    send = select(SurveyRun).where(SurveyRun.state == "scheduled", SurveyRun.scheduled_for <= now)
    remind = select(SurveyRun).where(
        SurveyRun.state == "open",
        SurveyRun.remind_at <= now,
        SurveyRun.reminded_at.is_(None),
        SurveyRun.closes_at > now,
    )
    close = select(SurveyRun).where(SurveyRun.state == "open", SurveyRun.closes_at <= now)
    return {
        name: list(session.scalars(query.order_by(SurveyRun.id)))
        for name, query in (("send", send), ("remind", remind), ("close", close))
    }


# --- answering (the hot path: a burst of clicks; cached Core statements, few round trips) -----


@dataclass(frozen=True)
class RunView:
    id: int
    state: str
    closes_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True)
class SurveyView:
    id: int
    question: str
    options: list[str]
    scale: bool
    anonymous: bool


@dataclass(frozen=True)
class Answered:
    run: RunView
    survey: SurveyView
    option: int
    comment: str | None


@cache
def _run_statement() -> Any:
    return (
        select(
            SurveyRun.id,
            SurveyRun.state,
            SurveyRun.closes_at,
            SurveyRun.closed_at,
            Survey.id,
            Survey.question,
            Survey.options,
            Survey.scale,
            Survey.anonymous,
        )
        .join(Survey, Survey.id == SurveyRun.survey_id)
        .where(SurveyRun.id == bindparam("run_id"))
    )


def run_for_answer(*, session: Session, run_id: int) -> tuple[RunView, SurveyView]:
    found = session.connection().execute(_run_statement(), {"run_id": run_id}).first()
    if found is None:
        raise Refusal("That survey button is not valid (it may come from an old message).")
    return RunView(*found[:4]), SurveyView(*found[4:])


@cache
def _upsert_statement(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(SurveyAnswer.__table__)
    return statement.on_conflict_do_update(
        index_elements=["run_id", "respondent_key"],
        set_={"option": statement.excluded.option, "answered_at": statement.excluded.answered_at},
    ).returning(SurveyAnswer.__table__.c.comment)


def answered_at(anonymous: bool, now: datetime) -> datetime:
    """Anonymous answers keep only the day: a time to the second could be matched to a log."""
    if anonymous:
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    return now


def record_answer(
    *,
    session: Session,
    key: bytes,
    run: RunView,
    survey: SurveyView,
    user: str,
    department: str | None,
    option: int,
    now: datetime,
) -> Answered:
    """One answer per person per run: a second click changes it (one upsert, comment returned)."""
    if not 0 <= option < len(survey.options):
        raise Refusal("That survey button is not valid (it may come from an old message).")
    values = {
        "run_id": run.id,
        "respondent_key": respondent_key(key, run.id, user),
        "user_id": None if survey.anonymous else user,
        "department": department,
        "option": option,
        "comment": None,
        "answered_at": answered_at(survey.anonymous, now),
    }
    connection = session.connection()
    comment = connection.execute(_upsert_statement(connection.dialect.name), values).scalar()
    return Answered(run=run, survey=survey, option=option, comment=comment)


def record_comment(
    *, session: Session, key: bytes, run: RunView, survey: SurveyView, user: str, comment: str
) -> Answered:
    answer = session.scalars(
        select(SurveyAnswer).where(
            SurveyAnswer.run_id == run.id,
            SurveyAnswer.respondent_key == respondent_key(key, run.id, user),
        )
    ).first()
    if answer is None:
        raise Refusal("Please choose an answer first, then add your comment.", field="comment")
    if len(comment) > MAX_COMMENT:
        raise Refusal(f"A comment can hold {MAX_COMMENT:,} characters.", field="comment")
    answer.comment = comment
    return Answered(run=run, survey=survey, option=answer.option, comment=comment)


def close_run(*, session: Session, run: SurveyRun, now: datetime) -> bool:
    """Close an open run; False when it was not open (closed already, or not sent yet)."""
    closed = session.execute(
        update(SurveyRun)
        .where(SurveyRun.id == run.id, SurveyRun.state == "open")
        .values(state="closed", closed_at=now)
        .execution_options(synchronize_session=False)
    )
    if rowcount(closed):
        session.refresh(run)
    return bool(rowcount(closed))


# --- results ----------------------------------------------------------------------------------


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
    hidden: bool  # fewer answers than the minimum group size
    change: float | None = None  # of the average, from the previous run


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


@dataclass
class Satisfaction:
    """Request satisfaction (the rating after resolution) for a period, overall or per
    department: the same kind of data as a 1–5 pulse."""

    name: str
    responses: int
    average: float | None
    previous: float | None

    @property
    def change(self) -> float | None:
        if self.average is None or self.previous is None:
            return None
        return self.average - self.previous


def bar(percent: float, width: int = 10) -> str:
    filled = round(percent / 100 * width)
    return "█" * filled + "░" * (width - filled)


def min_group_size(routing: Routing, *, at_least: int = 0) -> int:
    """The fewest answers a group (a department, or everyone) needs before its score or
    distribution is shown: `pulse.min_group_size`, or a reader's stricter minimum (the
    dashboard's `TECHHELP_MIN_GROUP`)."""
    return max(routing.pulse.min_group_size, at_least)


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
    survey = run.survey
    minimum, min_comments = min_group_size(routing), routing.pulse.min_comments
    answers = list(session.scalars(select(SurveyAnswer).where(SurveyAnswer.run_id == run.id)))
    counts = Counter(a.option for a in answers)
    responses = len(answers)
    average = scale_average(survey.scale, counts)
    by_department: dict[str, list[SurveyAnswer]] = {}
    for answer in answers:
        by_department.setdefault(answer.department or NO_DEPARTMENT, []).append(answer)
    names = sorted(set(run.recipients_by_department) | set(by_department))
    groups = []
    for name in names:
        given = by_department.get(name, [])
        sent = int(run.recipients_by_department.get(name, 0))
        hidden = len(given) < minimum
        groups.append(
            Group(
                name=name or "No department",
                recipients=sent,
                responses=len(given),
                rate=100 * len(given) / sent if sent else None,
                average=None
                if hidden
                else scale_average(survey.scale, Counter(a.option for a in given)),
                hidden=hidden,
            )
        )
    written = [(a.user_id, a.comment) for a in answers if a.comment]
    shown = written if len(written) >= min_comments else []
    result = Figures(
        run=run,
        survey=survey,
        recipients=run.recipients,
        responses=responses,
        rate=100 * responses / run.recipients if run.recipients else None,
        average=average if responses >= minimum else None,
        average_hidden=survey.scale and 0 < responses < minimum,
        distribution=distribution(survey.options, counts) if responses >= minimum else [],
        departments=groups,
        comments=[(None if survey.anonymous else user, text) for user, text in shown if text],
        comments_hidden=len(written) - len(shown),
        held_back=run.held_back,
    )
    if with_previous:
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
                session=session, until=run.closed_at or run.sent_at or run.scheduled_for
            )
            result.trend = trend(session=session, routing=routing, run=run)
    return result


SPARKS = "▁▂▃▄▅▆▇█"


@dataclass
class Line:
    """One group's averages over a series of periods (None: too few answers to show)."""

    name: str
    points: list[float | None]

    @property
    def spark(self) -> str:
        return "".join(
            "·" if p is None else SPARKS[round((min(max(p, 1), 5) - 1) / 4 * (len(SPARKS) - 1))]
            for p in self.points
        )

    @property
    def values(self) -> str:
        return " → ".join("–" if p is None else f"{p:.2f}" for p in self.points)


@dataclass
class Trend:
    labels: list[str]  # one per period, oldest first
    lines: list[Line]  # overall first, then per department


def _lines(
    periods: list[Any], scores: list[tuple[Any, str, int]], minimum: int, overall: str
) -> list[Line]:
    """Averages per period, overall and per department, hiding groups below `minimum`."""

    def average(values: list[int]) -> float | None:
        return sum(values) / len(values) if len(values) >= minimum else None

    departments = sorted({d for _, d, _ in scores if d})
    lines = [Line(overall, [average([v for p, _, v in scores if p == q]) for q in periods])]
    for department in departments:
        points = [average([v for p, d, v in scores if p == q and d == department]) for q in periods]
        if any(point is not None for point in points):
            lines.append(Line(department, points))
    return lines


def trend(*, session: Session, routing: Routing, run: SurveyRun, runs: int = 6) -> Trend | None:
    """The survey's last `runs` sent runs up to this one: the trend line per department."""
    series = list(
        session.scalars(
            select(SurveyRun)
            .where(
                SurveyRun.survey_id == run.survey_id,
                SurveyRun.state.in_(SENT),
                SurveyRun.scheduled_for <= run.scheduled_for,
            )
            .order_by(SurveyRun.scheduled_for.desc())
            .limit(runs)
        )
    )[::-1]
    if len(series) < 2:
        return None
    rows = session.execute(
        select(SurveyAnswer.run_id, SurveyAnswer.department, SurveyAnswer.option).where(
            SurveyAnswer.run_id.in_([r.id for r in series])
        )
    ).all()
    scores = [(run_id, department or "", option + 1) for run_id, department, option in rows]
    return Trend(
        labels=[(r.sent_at or r.scheduled_for).strftime("%d %b") for r in series],
        lines=_lines([r.id for r in series], scores, min_group_size(routing), "All respondents"),
    )


def satisfaction_trend(
    *, session: Session, routing: Routing, until: datetime, periods: int = 6
) -> Trend:
    """Request satisfaction (the rating after resolution) per 30 days, oldest first: overall and
    per department of the requester — the built-in series beside the pulse checks."""
    start = until - periods * SATISFACTION_WINDOW
    rows = session.execute(
        select(Rating.rated_at, Request.department, Rating.score)
        .join(Request, Request.id == Rating.request_id)
        .where(Rating.rated_at > start, Rating.rated_at <= until)
    ).all()

    def period(at: datetime) -> int:
        return min(periods - 1, int((at - start) / SATISFACTION_WINDOW))

    scores = [(period(at), department or "", score) for at, department, score in rows]
    labels = [(start + (i + 1) * SATISFACTION_WINDOW).strftime("to %d %b") for i in range(periods)]
    return Trend(
        labels=labels,
        lines=_lines(list(range(periods)), scores, min_group_size(routing), "All requests"),
    )


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


def satisfaction(
    *, session: Session, until: datetime, window: timedelta = SATISFACTION_WINDOW
) -> list[Satisfaction]:
    """Request satisfaction over `window` up to `until`, and the window before it: overall first,
    then per department of the requester."""
    since, before = until - window, until - 2 * window
    rows = session.execute(
        select(Rating.score, Rating.rated_at, Request.department)
        .join(Request, Request.id == Rating.request_id)
        .where(Rating.rated_at > before, Rating.rated_at <= until)
    ).all()

    def series(name: str, scores: list[tuple[int, datetime]]) -> Satisfaction:
        now = [s for s, at in scores if at > since]
        then = [s for s, at in scores if at <= since]
        return Satisfaction(
            name=name,
            responses=len(now),
            average=sum(now) / len(now) if now else None,
            previous=sum(then) / len(then) if then else None,
        )

    if not rows:
        return []
    result = [series("All requests", [(s, at) for s, at, _ in rows])]
    for department in sorted({d for _, _, d in rows if d}):
        result.append(series(department, [(s, at) for s, at, d in rows if d == department]))
    return result
