"""A small history with known answers, for the dashboard, report and digest tests.

Everything happens on the Tuesday of the week two weeks before `now` (inside the default 12-week
range whatever today's weekday), except one Finance request 20 weeks back (outside it).

Finance (UALICE, UBOB, UCAROL, UDAN): 6 normal requests, 4 via /techhelp, 1 form, 1 phone
(share 83.3 %); first response after 30…180 min (median 90, p90 180, all within 240); resolved
after 2, 4, 6, 8, 10, 30 h (median 360 min, p90 1800, 5 of 6 within 24 h); rated 5, 4, 4, 3
(average 4.0, response 66.7 %).
Parks (UERIN, UFRANK): 4 high requests, 2 via e-mail, 2 via /techhelp (share 50 %); two answered
after 30 and 90 min and resolved after 3 and 5 h, rated 5 and 1 (hidden: fewer than 3); two never
answered, so open and overdue.
One outage alert lasting 90 minutes: 3 copies delivered (a 4th failed), 2 people affected.

Pulse surveys (minimum group 3):
PS-1, 1–5 scale, anonymous. A run 20 weeks back (outside the range: Finance 1, 1, 1). Run 1, a
week before the seeded day, to 6 (Finance 4, Parks 2): Finance 5, 4, 4 (75 %, average 4.33), Parks
2 (hidden); everyone 4 answers (66.7 %, 3.75). Run 2, on the seeded day, to 7 (Finance 4, Parks 2,
one without a department): Finance 5, 5, 4, 3 (100 %, 4.25), Parks 1, 3 (hidden: 2.0 with a
minimum of 2); everyone 6 answers (85.7 %, 3.5).
PS-2, options ThinkPad / MacBook / Either, named, one run on the seeded day to 6 (Finance 4,
Parks 2): Finance ThinkPad, ThinkPad, MacBook (top ThinkPad 67 %), Parks ThinkPad (hidden);
everyone 4 answers (66.7 %): ThinkPad 75 %, MacBook 25 %, Either 0 %. One answer has a comment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatbot import directory
from chatbot.db import Database
from chatbot.db.models import (
    AffectedVote,
    Alert,
    AlertCopy,
    Delivery,
    Rating,
    Request,
    Survey,
    SurveyCommentBox,
    SurveyRecipient,
    SurveyRun,
    SurveyTally,
)

if TYPE_CHECKING:
    from tests.conftest import Server

SECRET_TEXT = "SECRET-TEXT-7f3a printer in room 12"
CONFIG = """
staff: [USTAFF]
departments:
  - {name: Finance, members: [UALICE, UBOB, UCAROL, UDAN]}
  - {name: Parks, members: [UERIN, UFRANK]}
"""
PEOPLE = {
    "UALICE": "Alice Auditor",
    "UBOB": "Bob Budget",
    "UCAROL": "Carol Cashflow",
    "UDAN": "Dan Ledger",
    "UERIN": "Erin Ranger",
    "UFRANK": "Frank Forester",
}


@dataclass(frozen=True)
class Seeded:
    day: datetime  # when the seeded week's requests were created
    week: str  # its Monday, YYYY-MM-DD
    old: datetime  # the one request outside the default range


def seeded_day(now: datetime) -> datetime:
    monday = (now - timedelta(days=14)).date()
    monday -= timedelta(days=monday.weekday())
    return datetime.combine(monday + timedelta(days=1), datetime.min.time(), tzinfo=UTC).replace(
        hour=10
    )


def seed(database_url: str, now: datetime) -> Seeded:
    db = Database(database_url)
    db.upgrade()
    day = seeded_day(now)
    old = day - timedelta(weeks=20)
    with db.transaction() as session:
        for user, name in PEOPLE.items():
            department = "Finance" if user in ("UALICE", "UBOB", "UCAROL", "UDAN") else "Parks"
            directory.add_account(
                session,
                platform="slack",
                account_id=user,
                name=name,
                department=department,
                now=old,
                active=True,
            )

        def request(
            requester: str,
            department: str,
            urgency: str,
            intake: str,
            *,
            created: datetime = day,
            response_min: float | None = None,
            resolve_h: float | None = None,
            score: int | None = None,
        ) -> None:
            first = created + timedelta(minutes=response_min) if response_min else None
            resolved = created + timedelta(hours=resolve_h) if resolve_h else None
            row = Request(
                platform="slack",
                requester=requester,
                logged_by="USTAFF" if intake in ("phone", "email", "walk-in") else None,
                intake_channel=intake,
                text=f"{SECRET_TEXT} from {PEOPLE[requester]}",
                category="Hardware" if department == "Finance" else "Network",
                urgency=urgency,
                queue="Service Desk",
                tier=1,
                department=department,
                state="resolved" if resolved else "open",
                created_at=created,
                first_response_at=first,
                resolved_at=resolved,
                updated_at=resolved or first or created,
            )
            session.add(row)
            session.flush()
            if score is not None:
                session.add(
                    Rating(
                        request_id=row.id,
                        rater=requester,
                        score=score,
                        comment=f"{SECRET_TEXT} comment",
                        rated_at=created + timedelta(days=1),
                    )
                )

        finance = [
            ("UALICE", "techhelp", 30, 2, 5),
            ("UBOB", "techhelp", 60, 4, 4),
            ("UCAROL", "techhelp", 90, 6, 4),
            ("UDAN", "techhelp", 120, 8, 3),
            ("UALICE", "form", 150, 10, None),
            ("UBOB", "phone", 180, 30, None),
        ]
        for requester, intake, minutes, hours, score in finance:
            request(
                requester,
                "Finance",
                "normal",
                intake,
                response_min=minutes,
                resolve_h=hours,
                score=score,
            )
        request("UERIN", "Parks", "high", "email", response_min=30, resolve_h=3, score=5)
        request("UFRANK", "Parks", "high", "techhelp", response_min=90, resolve_h=5, score=1)
        request("UERIN", "Parks", "high", "email")
        request("UFRANK", "Parks", "high", "techhelp")
        request(
            "UALICE", "Finance", "normal", "techhelp", created=old, response_min=10, resolve_h=1
        )

        alert = Alert(
            severity="outage",
            service="VPN",
            message=f"{SECRET_TEXT} vpn down",
            author="UADMIN",
            platform="slack",
            state="resolved",
            audience={"channels": True},
            created_at=day,
            resolved_at=day + timedelta(minutes=90),
        )
        session.add(alert)
        session.flush()
        for n, status in enumerate(("sent", "sent", "sent", "failed")):
            copy = Delivery(
                key=f"alert:{alert.id}:copy:C{n}",
                platform="slack",
                action="post",
                address_kind="channel",
                address_id=f"C{n}",
                message={"text": "x", "blocks": []},
                status=status,
                attempts=1,
                not_before=day,
                created_at=day,
            )
            session.add(copy)
            session.flush()
            session.add(
                AlertCopy(
                    alert_id=alert.id,
                    delivery_id=copy.id,
                    platform="slack",
                    kind="channel",
                    address_id=f"C{n}",
                )
            )
        for user in ("UALICE", "UERIN"):
            session.add(AffectedVote(alert_id=alert.id, user_id=user, at=day))
        seed_surveys(session, day, old)
    db.dispose()
    return Seeded(day=day, week=(day.date() - timedelta(days=1)).isoformat(), old=old)


PULSE_QUESTION = "How well does IT support you?"
LAPTOP_QUESTION = "Which laptop do you prefer?"
SURVEY_COMMENT = f"{SECRET_TEXT} survey comment"


def seed_surveys(session: Any, day: datetime, old: datetime) -> None:
    """The pulse surveys of the module docstring (answers by department: option indexes)."""

    def survey(question: str, options: list[str], *, scale: bool, anonymous: bool) -> Survey:
        row = Survey(
            question=question,
            options=options,
            scale=scale,
            audience={"everyone": True},
            timezone="UTC",
            anonymous=anonymous,
            close_hours=72,
            author="UADMIN",
            platform="slack",
            source="command",
            created_at=old,
        )
        session.add(row)
        session.flush()
        return row

    def run(
        of: Survey,
        sent: datetime,
        recipients: dict[str, int],
        answers: dict[str | None, list[tuple[str, int]]],
    ) -> None:
        row = SurveyRun(
            survey_id=of.id,
            scheduled_for=sent,
            state="closed",
            sent_at=sent,
            closes_at=sent + timedelta(hours=72),
            closed_at=sent + timedelta(hours=72),
            recipients=sum(recipients.values()),
            recipients_by_department=recipients,
            held_back=0,
        )
        session.add(row)
        session.flush()
        counts: dict[tuple[str, int], int] = {}
        for department, given in answers.items():
            for user, option in given:
                key = (department or "", option)
                counts[key] = counts.get(key, 0) + 1
                session.add(
                    SurveyRecipient(
                        run_id=row.id,
                        user_id=user,
                        platform="slack",
                        department=department or "",
                        version=1,
                        option=None if of.anonymous else option,
                    )
                )
                if (user, of.anonymous) == ("UBOB", False):
                    session.add(
                        SurveyCommentBox(
                            run_id=row.id,
                            comments={"t": {"text": SURVEY_COMMENT, "user": user}},
                        )
                    )
        for department in set(recipients) | {d for d, _ in counts} | {""}:
            for option in range(len(of.options)):
                session.add(
                    SurveyTally(
                        run_id=row.id,
                        department=department,
                        option=option,
                        count=counts.get((department, option), 0),
                    )
                )

    pulse = survey(PULSE_QUESTION, ["1", "2", "3", "4", "5"], scale=True, anonymous=True)
    run(pulse, old, {"Finance": 3}, {"Finance": [("UALICE", 0), ("UBOB", 0), ("UCAROL", 0)]})
    run(
        pulse,
        day - timedelta(days=7),
        {"Finance": 4, "Parks": 2},
        {"Finance": [("UALICE", 4), ("UBOB", 3), ("UCAROL", 3)], "Parks": [("UERIN", 1)]},
    )
    run(
        pulse,
        day,
        {"Finance": 4, "Parks": 2, "": 1},
        {
            "Finance": [("UALICE", 4), ("UBOB", 4), ("UCAROL", 3), ("UDAN", 2)],
            "Parks": [("UERIN", 0), ("UFRANK", 2)],
        },
    )
    laptop = survey(
        LAPTOP_QUESTION, ["ThinkPad", "MacBook", "Either"], scale=False, anonymous=False
    )
    run(
        laptop,
        day + timedelta(hours=1),
        {"Finance": 4, "Parks": 2},
        {"Finance": [("UALICE", 0), ("UBOB", 0), ("UCAROL", 1)], "Parks": [("UERIN", 0)]},
    )


def seeded_server(make_server: Any, database_url: str, tmp_path: Path, token: str) -> Server:
    """`chatbot serve` on the seeded data, with its departments and `token` for the dashboard."""
    seed(database_url, datetime.now(UTC))
    config = tmp_path / "techhelp.yml"
    config.write_text(CONFIG)
    return make_server(TECHHELP_CONFIG=str(config), TECHHELP_DASHBOARD_TOKEN=token).start()
