"""Answering, the hot path (a burst of clicks; cached Core statements, few round trips): an answer
rewrites its department's counts (`survey_tallies`), who answered is kept without what, a
comment is keyed by the ballot's token.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.orm import Session

from chatbot.db.models import Survey, SurveyCommentBox, SurveyRecipient, SurveyRun, SurveyTally
from chatbot.db.upsert import insert_ignore
from chatbot.messages import Refusal
from chatbot.surveys.signing import INVALID, Ballot, new_token, token_hash

MAX_COMMENT = 3000


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
    items: list[dict[str, Any]] | None = None  # a questionnaire's (`items.items_of`)


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
            Survey.items,
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
        .where(
            table.c.run_id == bindparam("r"),
            table.c.item == bindparam("i"),
            table.c.department == bindparam("d"),
        )
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
            "i": 0,
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


def tallies(
    *, session: Session, run_ids: list[int], item: int = 0
) -> dict[int, dict[str, Counter[int]]]:
    """Answers counted per run, department ("" for none) and option, of one item (a
    questionnaire's; 0, the one question of a pulse)."""
    found: dict[int, dict[str, Counter[int]]] = {run_id: {} for run_id in run_ids}
    rows = session.execute(
        select(
            SurveyTally.run_id, SurveyTally.department, SurveyTally.option, SurveyTally.count
        ).where(SurveyTally.run_id.in_(run_ids), SurveyTally.item == item, SurveyTally.count > 0)
    )
    for run_id, department, option, count in rows:
        found[run_id].setdefault(department, Counter())[option] += count
    return found


def item_tallies(*, session: Session, run_id: int) -> dict[int, dict[str, Counter[int]]]:
    """A questionnaire run's answers counted per item, department and option: one query."""
    found: dict[int, dict[str, Counter[int]]] = {}
    rows = session.execute(
        select(
            SurveyTally.item, SurveyTally.department, SurveyTally.option, SurveyTally.count
        ).where(SurveyTally.run_id == run_id, SurveyTally.count > 0)
    )
    for item, department, option, count in rows:
        found.setdefault(item, {}).setdefault(department, Counter())[option] += count
    return found
