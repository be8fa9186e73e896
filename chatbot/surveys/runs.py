"""Surveys and their runs: defining a survey, runs keyed (survey, scheduled time) so a run is
stored once however often the clock computes it, the audience and recipients of a run, what is
due (to send, remind, close), and what awaits a person's answer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from chatbot import directory, identity
from chatbot.addresses import LOCAL, Address
from chatbot.config import Settings, is_email
from chatbot.db import rowcount
from chatbot.db.models import Survey, SurveyRecipient, SurveyRun, SurveyTally
from chatbot.db.upsert import insert_ignore
from chatbot.messages import Refusal
from chatbot.text import literal

SCALE: tuple[str, ...] = ("1", "2", "3", "4", "5")
MAX_QUESTION = 500
MAX_OPTION = 75


NO_DEPARTMENT = ""
SENT = ("open", "closed")  # run states after sending (before: scheduled; never: cancelled)


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
    items: list[dict[str, Any]] | None = None,
) -> Survey:
    """A survey: one question (`options` empty: the 1–5 scale), or with `items` a questionnaire
    whose `question` is its title (items checked by `items.check_items`)."""
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
        items=items,
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


def ids_platform(settings: Settings, platform: str) -> str:
    """The platform whose ids a survey's `users` name: its author's, or for a survey from the
    configuration or the command line (`LOCAL`), the one TECHHELP_* and the YAML name ids on."""
    return settings.techhelp_platform if platform == LOCAL else platform


def _named(session: Session, entries: list[str], platform: str) -> list[Address]:
    """People listed by id (on `platform`) or by e-mail (their accounts with it, anywhere)."""
    found: list[Address] = []
    for entry in entries:
        if is_email(entry):
            found += identity.accounts_with_email(session=session, email=entry)
        else:
            found.append(Address.person(platform, entry))
    return found


def audience_people(
    *, session: Session, settings: Settings, audience: dict[str, Any], platform: str
) -> list[tuple[Address, str]]:
    """(address, department) of everyone the audience reaches, on every platform, each person
    once: "everyone" and departments from the synced directory (one account per person); the
    people named (`users`, on `platform`'s ids; `staff` and the admins, on theirs) as given."""
    if audience.get("everyone"):
        found = directory.audience(session=session)
        return sorted((address, department or NO_DEPARTMENT) for address, department in found)
    chosen: dict[Address, str] = {}
    if audience.get("departments"):
        rows = directory.audience(session=session, departments=audience["departments"])
        chosen |= {address: department or NO_DEPARTMENT for address, department in rows}
    named = _named(session, audience.get("users") or [], ids_platform(settings, platform))
    if audience.get("managers"):
        # The departments' managers (of the chosen departments, when some are named), each
        # counted in the department they manage.
        wanted = set(audience.get("departments") or [])
        for managed in settings.routing.departments:
            if managed.manager and (not wanted or managed.name in wanted):
                for address in _named(session, [managed.manager], settings.techhelp_platform):
                    chosen[address] = managed.name
        if not audience.get("everyone") and wanted:
            # `departments` with `managers` narrows the managers; it does not add the members.
            chosen = {a: d for a, d in chosen.items() if a in _managers(session, settings)}
    if audience.get("staff"):
        named += _named(session, settings.routing.staff, settings.techhelp_platform)
        for where, ids in settings.platform_ids().items():
            named += _named(session, ids.admins, where)
    for address in named:
        department = settings.routing.department_of(address.id)
        chosen.setdefault(address, department.name if department else NO_DEPARTMENT)
    kept = directory.once_each(session=session, addresses=sorted(chosen))
    return [(address, chosen[address]) for address in kept]


def _managers(session: Session, settings: Settings) -> set[Address]:
    found: set[Address] = set()
    for department in settings.routing.departments:
        if department.manager:
            found |= set(_named(session, [department.manager], settings.techhelp_platform))
    return found


def open_run(
    *,
    session: Session,
    run: SurveyRun,
    people: list[tuple[Address, str]],
    held_back: int,
    now: datetime,
) -> None:
    """Mark the run sent to `people` (its deliveries are stored by the caller): one recipient row
    each, and every count of the run at zero, so that no row is created by an answer."""
    survey = run.survey
    run.state = "open"
    run.sent_at = now
    run.items = survey.items
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
                {
                    "run_id": run.id,
                    "user_id": address.id,
                    "platform": address.platform,
                    "department": dept,
                    "version": 0,
                }
                for address, dept in people
            ],
        )
    departments = sorted(set(run.recipients_by_department) | {NO_DEPARTMENT})
    # (item, how many options): a pulse's one question is item 0; a questionnaire's comment
    # items are not counted.
    counted = [(0, len(survey.options))]
    if survey.items is not None:
        counted = [
            (index, len(SCALE) if entry["kind"] == "scale" else len(entry["options"]))
            for index, entry in enumerate(survey.items)
            if entry["kind"] != "comment"
        ]
    zeros = [
        {"run_id": run.id, "item": item, "department": dept, "option": option, "count": 0}
        for item, options in counted
        for dept in departments
        for option in range(options)
    ]
    if zeros:
        connection.execute(insert(SurveyTally.__table__), zeros)


def copy_key(run_id: int, user: str) -> str:
    return f"survey-run:{run_id}:to:{user}"


def reminder_key(run_id: int, user: str) -> str:
    return f"survey-run:{run_id}:remind:{user}"


def recipients(*, session: Session, run: SurveyRun) -> list[str]:
    """Who the run was sent to."""
    return sorted(
        session.scalars(select(SurveyRecipient.user_id).where(SurveyRecipient.run_id == run.id))
    )


def non_responders(*, session: Session, run: SurveyRun) -> list[Address]:
    """Who has not answered, on whichever platform the run reached them."""
    rows = session.execute(
        select(SurveyRecipient.platform, SurveyRecipient.user_id).where(
            SurveyRecipient.run_id == run.id, SurveyRecipient.version == 0
        )
    )
    return sorted(Address.person(platform, user) for platform, user in rows)


@dataclass(frozen=True)
class Awaiting:
    """An open run a person received and has not answered yet."""

    run_id: int
    question: str
    options: list[str]
    scale: bool
    anonymous: bool
    closes_at: datetime | None
    items: list[dict[str, Any]] | None = None  # a questionnaire's: answered from its message


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
            Survey.items,
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
