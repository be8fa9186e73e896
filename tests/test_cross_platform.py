"""Two platforms in one bot and one database (an organisation on Slack and Teams at once): an
alert to everyone or a department, and a pulse survey, reach every person once across both;
a reminder goes only to those who have not answered, on whichever platform they were sent it;
results and the weekly digest go to each platform's IT channel."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from chatbot import directory
from chatbot.clock_process import tick
from chatbot.db.models import Account
from tests.platform import FULL, PLAIN, TestPlatform

ADMIN = "UADMIN"
ALICE = "UALICE"  # Slack only
BOB = "1f0c2d9e-bob0-4e6a-9f0b-" + "b" * 12  # Teams only (an Entra object id)
CAROL_SLACK = "UCAROL"  # Carol has an account on both, with the same e-mail
CAROL_TEAMS = "1f0c2d9e-carl-4e6a-9f0b-" + "c" * 12
DAVE = "UDAVE"  # Slack, Parks
STAFF = "USTAFF"
SLACK_ALERTS, TEAMS_ALERTS = "CALERTS", "19:alerts@thread.tacv2"
SLACK_IT, TEAMS_IT = "CITDESK", "19:itdesk@thread.tacv2"
CONFIG: dict[str, Any] = {
    "techhelp_triage_channel": "CTRIAGE",
    "techhelp_alert_channels": [SLACK_ALERTS],
    "techhelp_it_channel": SLACK_IT,
    "techhelp_admins": [ADMIN],
    "teams_alert_channels": [TEAMS_ALERTS],
    "teams_it_channel": TEAMS_IT,
    "routing": {
        "timezone": "UTC",
        "staff": [STAFF],
        "departments": [
            {"name": "Finance", "members": [ALICE, BOB, CAROL_SLACK]},
            {"name": "Parks", "members": [DAVE]},
        ],
    },
}


@pytest.fixture
def both(make_chat: Any) -> tuple[TestPlatform, TestPlatform]:
    slack = make_chat(CONFIG, capabilities=FULL, name="slack")
    teams = slack.beside("teams", PLAIN)
    with slack.bot.db.transaction() as session:
        now = slack.bot.clock.now()
        for platform, user, email in (
            ("slack", ALICE, "alice@example.org"),
            ("slack", CAROL_SLACK, "carol@example.org"),
            ("slack", DAVE, "dave@example.org"),
            ("teams", BOB, "bob@example.org"),
            ("teams", CAROL_TEAMS, "Carol@Example.org"),
        ):
            directory.add_account(session, platform=platform, account_id=user, now=now, email=email)
    for chat in (slack, teams):  # as `chatbot clock` syncs each platform's directory
        with slack.bot.db.transaction() as session:
            members = [
                directory.Member(account_id, None, True)
                for account_id in session.scalars(
                    select(Account.account_id).where(Account.platform == chat.name)
                )
            ]
            directory.sync(
                session=session,
                platform=chat.name,
                members=members,
                routing=slack.bot.settings.routing,
                now=now,
            )
    return slack, teams


def copies(chat: TestPlatform, user: str, words: str) -> int:
    return sum(words in text for text in chat.received(user))


def test_an_alert_to_everyone_reaches_each_person_once_on_either_platform(
    both: tuple[TestPlatform, TestPlatform],
) -> None:
    slack, teams = both
    slack.say(ADMIN, "/techalert")
    slack.fill(ADMIN, severity="outage", message="Email is down", audience="channels+everyone")
    assert copies(slack, ALICE, "Email is down") == 1
    assert copies(teams, BOB, "Email is down") == 1
    assert (
        copies(slack, CAROL_SLACK, "Email is down") + copies(teams, CAROL_TEAMS, "Email is down")
        == 1
    )
    assert copies(slack, SLACK_ALERTS, "Email is down") == 1
    assert copies(teams, TEAMS_ALERTS, "Email is down") == 1

    slack.say(ADMIN, "/techalert")
    slack.fill(
        ADMIN, severity="info", message="Finance close tonight", audience="department:Finance"
    )
    finance = [copies(slack, u, "Finance close") for u in (ALICE, CAROL_SLACK, DAVE)]
    finance += [copies(teams, u, "Finance close") for u in (BOB, CAROL_TEAMS)]
    assert finance == [1, 1, 0, 1, 0] or finance == [1, 0, 0, 1, 1]
    assert copies(slack, SLACK_ALERTS, "Finance close") == 0


def test_a_survey_reaches_both_platforms_reminds_non_responders_and_reports_to_each(
    both: tuple[TestPlatform, TestPlatform],
) -> None:
    slack, teams = both
    sent = slack.say(ADMIN, "/pulse send How are your tools?")
    assert "is on its way to 4 people" in "\n".join(sent.to(ADMIN))
    question = "How are your tools?"
    assert copies(slack, ALICE, question) == 1 and copies(slack, DAVE, question) == 1
    assert copies(teams, BOB, question) == 1
    assert copies(slack, CAROL_SLACK, question) + copies(teams, CAROL_TEAMS, question) == 1

    answered = teams.press(BOB, "4", card=question)
    assert "You answered 4" in "\n".join(answered.to(BOB))
    slack.press(DAVE, "2", card=question)

    clock = slack.bot.clock
    clock.advance(25 * 3600)  # past the reminder (24 h by default)
    tick(slack.bot, holder="test")
    slack.drain()
    reminder = "A reminder"
    assert copies(slack, ALICE, reminder) == 1
    assert copies(slack, CAROL_SLACK, reminder) + copies(teams, CAROL_TEAMS, reminder) == 1
    assert copies(teams, BOB, reminder) == 0 and copies(slack, DAVE, reminder) == 0

    clock.advance(72 * 3600)  # past closing
    tick(slack.bot, holder="test")
    slack.drain()
    assert copies(slack, SLACK_IT, question) == 1
    assert copies(teams, TEAMS_IT, question) == 1


def test_the_weekly_digest_goes_to_each_platforms_it_channel(
    both: tuple[TestPlatform, TestPlatform],
) -> None:
    slack, teams = both
    clock = slack.bot.clock
    tick(slack.bot, holder="test")  # a new schedule starts from now
    clock.advance(timedelta(days=7).total_seconds())
    tick(slack.bot, holder="test")
    slack.drain()
    assert copies(slack, SLACK_IT, "Weekly service digest") == 1
    assert copies(teams, TEAMS_IT, "Weekly service digest") == 1


def test_the_survey_cli_acts_as_the_local_operator_and_reaches_every_platform(
    tmp_path: Any,
) -> None:
    """`chatbot survey send` is the operator at the command line, as `chatbot alert` is: not a
    Slack user (no admin id needed, nothing addressed to them), and its survey reaches the
    audience on every platform, each person once."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from chatbot.addresses import LOCAL
    from chatbot.db.models import Delivery, Interaction, Survey
    from tests.platform import build

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    chat = build({"database_url": url, "techhelp_platform": "slack"}, name="slack")
    with chat.bot.db.transaction() as session:
        now = chat.bot.clock.now()
        for platform, user, email in (
            ("slack", ALICE, None),
            ("teams", BOB, None),
            ("slack", CAROL_SLACK, "carol@example.org"),
            ("teams", CAROL_TEAMS, "carol@example.org"),
        ):
            directory.add_account(session, platform=platform, account_id=user, now=now, email=email)
    root = Path(__file__).resolve().parent.parent
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(root),
        "DATABASE_URL": url,
        "TEAMS_IT_CHANNEL": TEAMS_IT,  # Teams runs beside Slack; nobody is an admin by id
        "USER": "operator",
    }
    sent = subprocess.run(
        [sys.executable, "-m", "chatbot.cli", "survey", "send", "Is the new VPN better?"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert sent.returncode == 0, sent.stderr
    assert "is on its way to 3 people" in sent.stdout
    with chat.bot.db.sessions() as session:
        survey = session.scalars(select(Survey)).one()
        assert (survey.platform, survey.author) == (LOCAL, "cli:operator")
        copies = session.scalars(select(Delivery).where(Delivery.key.startswith("survey-run:")))
        reached = sorted((d.platform, d.address_id) for d in copies)
        logged = session.scalars(select(Interaction.platform)).all()
    assert reached in (
        sorted([("slack", ALICE), ("teams", BOB), ("slack", CAROL_SLACK)]),
        sorted([("slack", ALICE), ("teams", BOB), ("teams", CAROL_TEAMS)]),
    )
    assert logged == [LOCAL]
    chat.worker.stop()
    chat.bot.db.dispose()


def test_the_intake_kpi_counts_each_platform_as_its_own_channel(
    both: tuple[TestPlatform, TestPlatform],
) -> None:
    """Slack (with its command) and a platform where people ask by message alone (Teams): a
    request by Slack's command or form is "slack", by a message in Slack's Messages tab
    "slack DM", any request from the other platform "teams", and the service desk's phone
    intake "phone", whichever platform it was logged on."""
    from datetime import timedelta

    from chatbot import reports
    from chatbot.reports import Filters
    from chatbot.web.dashboard import Web

    slack, teams = both
    slack.say(ALICE, "/techhelp printer on floor 3 is jammed")
    slack.say(ALICE, "my monitor flickers")  # the Messages tab
    slack.say(DAVE, "/techhelp")
    slack.fill(DAVE, description="Need a second monitor")
    teams.say(BOB, "the wifi in room 12 drops")
    teams.say(BOB, "techhelp my headset crackles")
    slack.say(STAFF, "/techhelp for @UALICE via phone keyboard missing keys")

    today = slack.bot.clock.now().date()
    filters = Filters(start=today - timedelta(days=1), end=today)
    with slack.bot.db.reading() as conn:
        rows = reports.intake_channels(conn=conn, filters=filters)
    assert [(r["channel"], r["requests"]) for r in rows] == [
        ("slack", 2),
        ("teams", 2),
        ("phone", 1),
        ("slack DM", 1),
    ]
    assert [r["share_pct"] for r in rows] == [33.3, 33.3, 16.7, 16.7]

    web = Web(settings=slack.bot.settings, db=slack.bot.db, clock=slack.bot.clock)
    page = web.render_dashboard(filters)
    assert "Requests by intake channel" in page and "slack DM" in page and ">teams<" in page


def test_the_clock_syncs_each_platforms_directory_and_links_one_person_by_email(
    make_chat: Any,
) -> None:
    """`chatbot clock` keeps one directory per platform (`directories`), each on its own hourly
    schedule; an account that gains its e-mail later (Slack's `users:read.email` added after
    install) and a Teams account with the same address become one person, reached once."""
    chat = make_chat(CONFIG, capabilities=FULL, name="slack")
    bot, clock = chat.bot, chat.bot.clock
    slack_members = [directory.Member(CAROL_SLACK, "Carol", True)]
    tick(bot, holder="test", directories={"slack": lambda: slack_members})
    with bot.db.sessions() as session:
        assert [str(a) for a in directory.reachable(session=session)] == [
            f"slack:person:{CAROL_SLACK}"
        ]
    slack_members = [directory.Member(CAROL_SLACK, "Carol", True, "carol@example.org")]
    teams_members = [
        directory.Member(CAROL_TEAMS, "Carol", True, "Carol@Example.org"),
        directory.Member(BOB, "Bob", True, "bob@example.org"),
    ]
    clock.advance(3601)
    tick(
        bot,
        holder="test",
        directories={"slack": lambda: slack_members, "teams": lambda: teams_members},
    )
    with bot.db.sessions() as session:
        reached = sorted(str(a) for a in directory.reachable(session=session))
        carol = session.scalars(select(Account).where(Account.account_id == CAROL_TEAMS)).one()
        assert carol.email == "carol@example.org"
        assert {a.account_id for a in carol.person.accounts} == {CAROL_SLACK, CAROL_TEAMS}
    assert reached == [f"slack:person:{CAROL_SLACK}", f"teams:person:{BOB}"]
