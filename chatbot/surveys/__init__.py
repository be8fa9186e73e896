"""Pulse checks: surveys, their runs, answers and results. Keyword-only, the caller's transaction.

A survey is sent as runs keyed (survey, scheduled time), so a run is stored once however often
the clock computes it. Button values are signed (HMAC over run, option, the holder's ballot and
the person it was sent to) with a key derived from SLACK_SIGNING_SECRET, or generated and stored
in `secrets` on first use when none is set: a click counts only from the person the button was
made for, and only if they are one of the run's recipients.

Anonymity (see the README's threat model): an answer is stored as counts per run, department
and option (`survey_tallies`), and a click rewrites every option of the person's department, so
nothing in the database says which option one click added. Who answered is kept per recipient
(`survey_recipients.version`, for the reminder and App Home), never with what. Changing an answer
needs the previous option: it travels in the person's own thank-you buttons (signed), with a
random ballot token that keys their comment, so the database holds no link from a person to an
answer or a comment that anyone, with or without the key, could recompute.
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

from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.orm import Session

from chatbot import directory
from chatbot.config import Routing, Settings
from chatbot.db import rowcount
from chatbot.db.models import (
    Delivery,
    Rating,
    Request,
    Secret,
    Survey,
    SurveyCommentBox,
    SurveyRecipient,
    SurveyRun,
    SurveyTally,
)
from chatbot.db.upsert import insert_ignore
from chatbot.messages import Refusal
from chatbot.text import literal

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
    """The key that signs survey buttons and keys anonymous respondents: TechHelp's own, never
    a platform's. Derived from `TECHHELP_SECRET_KEY` when set; else the one stored in `secrets`.
    On first use that stored key is the one the Slack signing secret used to give, when there is
    one, so buttons already sent and respondents' keys stay valid across the upgrade; from then
    on it no longer depends on it (rotating the Slack secret changes nothing). Else random."""
    if settings.techhelp_secret_key:
        return key_from_secret(settings.techhelp_secret_key)
    stored = session.get(Secret, SECRET_NAME)
    if stored is None:
        legacy = settings.slack_signing_secret
        value = key_from_secret(legacy).hex() if legacy else secrets.token_hex(32)
        insert_ignore(session, Secret, name=SECRET_NAME, value=value, created_at=now)
        stored = session.get(Secret, SECRET_NAME)
        assert stored is not None
    return bytes.fromhex(stored.value)


def key_from_secret(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"techhelp-pulse", hashlib.sha256).digest()


def _mac(key: bytes, message: str, length: int = 32) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()[:length]


INVALID = "That survey button is not valid (it may come from an old message)."


@dataclass(frozen=True)
class Ballot:
    """What a person's buttons carry besides the run and option, signed with them: how many
    answers they had given when the message was made (0: none), the option they chose last, and
    their random ballot token (which keys their comment). It lives only in their own message."""

    version: int = 0
    previous: int | None = None
    token: str | None = None

    def state(self) -> str:
        previous = "-" if self.previous is None else str(self.previous)
        return f"{self.version}.{previous}.{self.token or '-'}"


FRESH = Ballot()


def button_value(key: bytes, run_id: int, choice: str, user: str, ballot: Ballot = FRESH) -> str:
    """`<run>.<choice>.<version>.<previous>.<token>.<signature>`; choice is an option index or
    "c" (comment). The signature covers the person the button was made for."""
    state = ballot.state()
    return f"{run_id}.{choice}.{state}.{_mac(key, f'pulse:{run_id}:{choice}:{state}:{user}')}"


def run_of_value(value: str) -> int | None:
    """The run a value names, unverified (to say why a refused value is refused)."""
    head = value.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def read_button(key: bytes, value: str, user: str) -> tuple[int, str, Ballot]:
    """(run id, choice, ballot) from a value signed for `user`; a forged or altered value, or one
    made for someone else, is refused."""
    parts = value.split(".")
    if len(parts) == 6 and parts[0].isdigit() and parts[2].isdigit():
        run_id, choice, version, previous, token, signature = parts
        state = f"{version}.{previous}.{token}"
        expected = _mac(key, f"pulse:{run_id}:{choice}:{state}:{user}")
        if hmac.compare_digest(signature, expected) and (previous == "-" or previous.isdigit()):
            ballot = Ballot(
                int(version),
                None if previous == "-" else int(previous),
                None if token == "-" else token,
            )
            return int(run_id), choice, ballot
    raise Refusal(INVALID)


def new_token() -> str:
    return secrets.token_hex(16)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


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
        raise Refusal(f"There is no survey {literal(ref)}.")
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
    if audience.get("everyone"):
        found = directory.accounts(session=session, platform=platform)
        return [(user, department or NO_DEPARTMENT) for user, department in found]
    chosen: dict[str, str] = {}
    if audience.get("departments"):
        rows = directory.accounts(
            session=session, platform=platform, departments=audience["departments"]
        )
        chosen |= {user: department or NO_DEPARTMENT for user, department in rows}
    named = list(audience.get("users") or [])
    if audience.get("staff"):
        admins = settings.platform_ids().get(platform)
        named += [*settings.routing.staff, *(admins.admins if admins else [])]
    for user in named:
        department = settings.routing.department_of(user)
        chosen.setdefault(user, department.name if department else NO_DEPARTMENT)
    return sorted(chosen.items())


def contacts_this_week(*, session: Session, now: datetime) -> Counter[str]:
    """Unsolicited direct messages (survey runs and reminders) per person in the last 7 days."""
    rows = session.execute(
        select(Delivery.address_id, func.count())
        .where(
            Delivery.key.startswith("survey-run:"),
            Delivery.created_at > now - CONTACT_WINDOW,
            Delivery.status != "cancelled",
        )
        .group_by(Delivery.address_id)
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
    """Mark the run sent to `people` (its deliveries are stored by the caller): one recipient row
    each, and every count of the run at zero, so that no row is created by an answer."""
    survey = run.survey
    run.state = "open"
    run.sent_at = now
    run.recipients = len(people)
    run.recipients_by_department = dict(Counter(dept for _, dept in people))
    run.held_back = held_back
    run.closes_at = now + timedelta(hours=survey.close_hours)
    if survey.reminder_hours is not None:
        run.remind_at = now + timedelta(hours=survey.reminder_hours)
    connection = session.connection()
    if people:
        connection.execute(
            insert(SurveyRecipient.__table__),
            [
                {"run_id": run.id, "user_id": user, "department": dept, "version": 0}
                for user, dept in people
            ],
        )
    departments = sorted(set(run.recipients_by_department) | {NO_DEPARTMENT})
    connection.execute(
        insert(SurveyTally.__table__),
        [
            {"run_id": run.id, "department": dept, "option": option, "count": 0}
            for dept in departments
            for option in range(len(survey.options))
        ],
    )


def copy_key(run_id: int, user: str) -> str:
    return f"survey-run:{run_id}:to:{user}"


def reminder_key(run_id: int, user: str) -> str:
    return f"survey-run:{run_id}:remind:{user}"


def recipients(*, session: Session, run: SurveyRun) -> list[str]:
    """Who the run was sent to."""
    return sorted(
        session.scalars(select(SurveyRecipient.user_id).where(SurveyRecipient.run_id == run.id))
    )


def non_responders(*, session: Session, run: SurveyRun) -> list[str]:
    return sorted(
        session.scalars(
            select(SurveyRecipient.user_id).where(
                SurveyRecipient.run_id == run.id, SurveyRecipient.version == 0
            )
        )
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


def awaiting(*, session: Session, user: str, now: datetime) -> list[Awaiting]:
    """Open runs sent to `user` and not answered by them, closing soonest first: one indexed
    query (the person's recipient rows of the open runs) whatever the audience's size."""
    rows = session.execute(
        select(
            SurveyRun.id,
            Survey.question,
            Survey.options,
            Survey.scale,
            Survey.anonymous,
            SurveyRun.closes_at,
        )
        .join(Survey, Survey.id == SurveyRun.survey_id)
        .join(
            SurveyRecipient,
            (SurveyRecipient.run_id == SurveyRun.id) & (SurveyRecipient.user_id == user),
        )
        .where(SurveyRun.state == "open", SurveyRun.closes_at > now, SurveyRecipient.version == 0)
        .order_by(SurveyRun.closes_at, SurveyRun.id)
    ).all()
    return [Awaiting(*row) for row in rows]


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
    ballot: Ballot  # what the thank-you's buttons carry


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
        raise Refusal(INVALID)
    return RunView(*found[:4]), SurveyView(*found[4:])


NOT_SENT = "This pulse check was not sent to you, so your answer cannot be counted."
ALREADY = (
    "You have already answered this pulse check. To change your answer, use the buttons under "
    "your latest thank-you message."
)


def recipient_version(*, session: Session, run_id: int, user: str) -> int | None:
    """How many answers `user` gave to the run; None when it was not sent to them."""
    return session.connection().execute(_version_statement(), {"r": run_id, "u": user}).scalar()


@cache
def _version_statement() -> Any:
    table = SurveyRecipient.__table__
    return select(table.c.version).where(
        table.c.run_id == bindparam("r"), table.c.user_id == bindparam("u")
    )


@cache
def _advance_statement() -> Any:
    """The person's next answer, only from their latest message (the version it carries)."""
    table = SurveyRecipient.__table__
    return (
        update(table)
        .where(
            table.c.run_id == bindparam("r"),
            table.c.user_id == bindparam("u"),
            table.c.version == bindparam("v"),
        )
        .values(version=table.c.version + 1, option=bindparam("named_option"))
        .returning(table.c.department)
    )


@cache
def _count_statement() -> Any:
    """Every option of the department is rewritten, the chosen one +1 and the previous one -1:
    which row a click changed is not in the database's row versions (PostgreSQL's xmin)."""
    table = SurveyTally.__table__
    return (
        update(table)
        .where(table.c.run_id == bindparam("r"), table.c.department == bindparam("d"))
        .values(
            count=table.c.count
            + case((table.c.option == bindparam("new"), 1), else_=0)
            - case((table.c.option == bindparam("old"), 1), else_=0)
        )
    )


def record_answer(
    *,
    session: Session,
    run: RunView,
    survey: SurveyView,
    user: str,
    option: int,
    ballot: Ballot,
) -> Answered:
    """One answer per recipient per run: the first from any fresh button, a change only from the
    buttons of their latest thank-you (which carry the previous option and their version)."""
    if not 0 <= option < len(survey.options):
        raise Refusal(INVALID)
    if ballot.version and (ballot.previous is None or ballot.token is None):
        raise Refusal(INVALID)
    connection = session.connection()
    department = connection.execute(
        _advance_statement(),
        {
            "r": run.id,
            "u": user,
            "v": ballot.version,
            "named_option": None if survey.anonymous else option,
        },
    ).scalar()
    if department is None:
        version = recipient_version(session=session, run_id=run.id, user=user)
        raise Refusal(NOT_SENT if version is None else ALREADY)
    connection.execute(
        _count_statement(),
        {
            "r": run.id,
            "d": department,
            "new": option,
            "old": -1 if ballot.previous is None else ballot.previous,
        },
    )
    token = ballot.token or new_token()
    comment = _comments(session, run.id).get(token_hash(token)) if ballot.token else None
    return Answered(
        run=run,
        survey=survey,
        option=option,
        comment=comment["text"] if comment else None,
        ballot=Ballot(ballot.version + 1, option, token),
    )


def _comments(session: Session, run_id: int) -> dict[str, Any]:
    box = session.connection().execute(
        select(SurveyCommentBox.comments).where(SurveyCommentBox.run_id == run_id)
    )
    return box.scalar() or {}


def record_comment(
    *, session: Session, run: RunView, survey: SurveyView, user: str, ballot: Ballot, comment: str
) -> None:
    """The person's comment (a second one replaces theirs), keyed by their ballot token in the
    run's one comment row; on named surveys with their user id."""
    if ballot.token is None or not ballot.version:
        raise Refusal("Please choose an answer first, then add your comment.", field="comment")
    if len(comment) > MAX_COMMENT:
        raise Refusal(f"A comment can hold {MAX_COMMENT:,} characters.", field="comment")
    box = session.scalars(
        select(SurveyCommentBox).where(SurveyCommentBox.run_id == run.id).with_for_update()
    ).first()
    if box is None:
        insert_ignore(session, SurveyCommentBox, run_id=run.id, comments={})
        box = session.scalars(
            select(SurveyCommentBox).where(SurveyCommentBox.run_id == run.id).with_for_update()
        ).one()
    entries = dict(box.comments)
    entries[token_hash(ballot.token)] = {
        "text": comment,
        "user": None if survey.anonymous else user,
    }
    box.comments = dict(sorted(entries.items()))  # no order of arrival


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


def suppressed(counts: Mapping[str, int], minimum: int) -> set[str]:
    """The groups (a partition of the respondents) whose figures are not shown beside the total
    of all of them: those with fewer than `minimum` answers, and then, as statistical agencies
    do, the smallest of the others until the hidden groups together hold none or at least
    `minimum` answers, so that the total minus the shown groups never reveals a small group.
    When the total itself is under the minimum, nothing is shown."""
    total = sum(counts.values())
    if total < minimum:
        return set(counts)
    hidden = {name for name, n in counts.items() if n < minimum}
    others = sorted((n, name) for name, n in counts.items() if name not in hidden)
    while others and 0 < sum(counts[name] for name in hidden) < minimum:
        hidden.add(others.pop(0)[1])
    return hidden


def tallies(*, session: Session, run_ids: list[int]) -> dict[int, dict[str, Counter[int]]]:
    """Answers counted per run, department ("" for none) and option."""
    found: dict[int, dict[str, Counter[int]]] = {run_id: {} for run_id in run_ids}
    rows = session.execute(
        select(
            SurveyTally.run_id, SurveyTally.department, SurveyTally.option, SurveyTally.count
        ).where(SurveyTally.run_id.in_(run_ids), SurveyTally.count > 0)
    )
    for run_id, department, option, count in rows:
        found[run_id].setdefault(department, Counter())[option] += count
    return found


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
    periods: list[Any],
    scores: list[tuple[Any, str, int, int]],
    minimum: int,
    overall: str,
    *,
    complementary: bool = False,
) -> list[Line]:
    """Averages per period, overall and per department, from (period, department, score, how
    many), hiding groups below `minimum`; with `complementary`, also the groups that would let
    the overall figure minus the shown ones reveal a hidden group (`suppressed`)."""

    def average(values: list[tuple[int, int]]) -> float | None:
        n = sum(count for _, count in values)
        return sum(v * count for v, count in values) / n if n else None

    departments = sorted({d for _, d, _, _ in scores if d})
    points: dict[str, list[float | None]] = {overall: []}
    for department in departments:
        points[department] = []
    for q in periods:
        here = [(d, v, n) for p, d, v, n in scores if p == q]
        sizes: Counter[str] = Counter()
        for d, _, n in here:
            sizes[d] += n
        hidden = (
            suppressed(sizes, minimum)
            if complementary
            else {d for d, n in sizes.items() if n < minimum}
        )
        total = sizes.total()
        points[overall].append(average([(v, n) for _, v, n in here]) if total >= minimum else None)
        for department in departments:
            shown = sizes[department] and department not in hidden
            points[department].append(
                average([(v, n) for d, v, n in here if d == department]) if shown else None
            )
    return [
        Line(name, line)
        for name, line in points.items()
        if name == overall or any(point is not None for point in line)
    ]


def trend(*, session: Session, routing: Routing, run: SurveyRun, runs: int = 6) -> Trend | None:
    """The survey's last `runs` closed runs up to this one: the trend line per department."""
    series = list(
        session.scalars(
            select(SurveyRun)
            .where(
                SurveyRun.survey_id == run.survey_id,
                SurveyRun.state == "closed",
                SurveyRun.scheduled_for <= run.scheduled_for,
            )
            .order_by(SurveyRun.scheduled_for.desc())
            .limit(runs)
        )
    )[::-1]
    if len(series) < 2:
        return None
    counted = tallies(session=session, run_ids=[r.id for r in series])
    scores = [
        (run_id, department, option + 1, n)
        for run_id, groups in counted.items()
        for department, options in groups.items()
        for option, n in options.items()
    ]
    return Trend(
        labels=[(r.sent_at or r.scheduled_for).strftime("%d %b") for r in series],
        lines=_lines(
            [r.id for r in series],
            scores,
            min_group_size(routing),
            "All respondents",
            complementary=True,
        ),
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

    scores = [(period(at), department or "", score, 1) for at, department, score in rows]
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
