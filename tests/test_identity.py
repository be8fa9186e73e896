"""Identity across platforms, on the in-process test platform: account ids as long as Teams'
through every table that names a person, and people named by e-mail in the configuration."""

from __future__ import annotations

from typing import Any

import pytest

from chatbot import directory
from tests.platform import FULL, PLAIN, TestPlatform

ADMIN = "UADMIN"
TRIAGE = "CTRIAGE"
# A Teams-shaped account id, far past the 64 characters Slack's ids fit in.
LONG = "29:1" + "Zq7" * 65 + "x"
LONG_STAFF = "29:1" + "Sd4" * 65 + "y"


def add_people(chat: TestPlatform, *users: str, email: dict[str, str] | None = None) -> None:
    """Accounts in the directory, as `chatbot clock`'s sync would leave them."""
    with chat.bot.db.transaction() as session:
        for user in users:
            directory.add_account(
                session,
                platform=chat.name,
                account_id=user,
                now=chat.bot.clock.now(),
                email=(email or {}).get(user),
            )


@pytest.fixture(params=["full", "plain"])
def chat(request: pytest.FixtureRequest, make_chat: Any) -> TestPlatform:
    config = {
        "techhelp_triage_channel": TRIAGE,
        "techhelp_admins": [ADMIN],
        "routing": {"staff": [LONG_STAFF]},
    }
    capabilities = FULL if request.param == "full" else PLAIN
    return make_chat(config, capabilities=capabilities, name=request.param)


def test_a_200_character_account_id_asks_is_served_and_answers_a_survey(
    chat: TestPlatform,
) -> None:
    assert len(LONG) == 200
    step = chat.say(LONG, "/techhelp printer on floor 3 is jammed")
    assert "TH-1 is logged" in "\n".join(step.to(LONG))
    assert "printer on floor 3 is jammed" in chat.last(TRIAGE)

    chat.press(LONG_STAFF, "Claim", card="TH-1")
    assert "State: claimed" in chat.last(TRIAGE)
    assert "is now working on TH-1" in chat.last(LONG)
    chat.press(LONG_STAFF, "Resolve", card="TH-1")
    chat.fill(LONG_STAFF, text="Cleared the jam")
    rated = chat.press(LONG, "5", card="TH-1")
    assert "you rated TH-1 5/5" in "\n".join(rated.to(LONG))

    add_people(chat, LONG)
    sent = chat.say(ADMIN, "/pulse send How are your tools?")
    assert "is on its way to 1 person" in "\n".join(sent.to(ADMIN))
    assert "How are your tools?" in chat.last(LONG)
    answered = chat.press(LONG, "4", card="How are your tools?")
    assert "You answered 4" in "\n".join(answered.to(LONG))


# --- people named by e-mail ---------------------------------------------------------------------

BOSS_SLACK = "UBOSS"
BOSS_TEAMS = "7d1e0c2a-b055-4f1e-9a7d-" + "e" * 12
INTRUDER = "UMALLORY"
DESK_TEAMS = "3c9a0f1e-de5c-4b7e-8a1f-" + "d" * 12
DESK_SLACK = "UDESK"
BY_EMAIL: dict[str, Any] = {
    "techhelp_triage_channel": TRIAGE,
    "techhelp_alert_channels": ["CALERTS"],
    "teams_alert_channels": ["19:alerts@thread.tacv2"],
    # The admins know e-mails, not ids: the boss is named by e-mail alone.
    "techhelp_admins": ["Boss@Example.org"],
    "routing": {
        "staff": ["desk@example.org"],
        "departments": [{"name": "Finance", "members": ["fin@example.org"]}],
    },
}


@pytest.fixture
def two(make_chat: Any) -> tuple[TestPlatform, TestPlatform]:
    """Slack (full) and a second platform with Teams-shaped ids (plain), one database; each
    account's e-mail from its platform's directory, as `chatbot clock` syncs it."""
    slack = make_chat(BY_EMAIL, capabilities=FULL, name="slack")
    teams = slack.beside("teams", PLAIN)
    now = slack.bot.clock.now()
    with slack.bot.db.transaction() as session:
        for platform, members in (
            (
                "slack",
                [
                    directory.Member(BOSS_SLACK, "Boss", True, "boss@example.org"),
                    directory.Member(INTRUDER, "Mallory", True, "mallory@example.org"),
                    directory.Member("UFIN", "Fin", True, "FIN@example.org"),
                    directory.Member(DESK_SLACK, "Desk", True, "desk@example.org"),
                ],
            ),
            (
                "teams",
                [
                    directory.Member(BOSS_TEAMS, "Boss", True, "BOSS@example.org"),
                    directory.Member(DESK_TEAMS, "Desk", True, "desk@example.org"),
                ],
            ),
        ):
            directory.sync(
                session=session,
                platform=platform,
                members=members,
                routing=slack.bot.settings.routing,
                now=now,
            )
    return slack, teams


def test_an_admin_named_only_by_email_alerts_from_either_platform(
    two: tuple[TestPlatform, TestPlatform],
) -> None:
    slack, teams = two
    sent = slack.say(BOSS_SLACK, "/techalert outage Email is down")
    assert "AL-1" in "\n".join(sent.to(BOSS_SLACK))
    assert "Email is down" in slack.last("CALERTS")
    assert "Email is down" in teams.last("19:alerts@thread.tacv2")

    sent = teams.say(BOSS_TEAMS, "techalert degraded VPN is slow")
    assert "AL-2" in "\n".join(sent.to(BOSS_TEAMS))
    assert "VPN is slow" in teams.last("19:alerts@thread.tacv2")

    refused = slack.say(INTRUDER, "/techalert outage Everything is down")
    assert "Only IT administrators" in "\n".join(refused.to(INTRUDER))
    assert "Everything is down" not in slack.last("CALERTS")
    # An id that happens to read like the boss's e-mail is not the boss: only the directory's
    # e-mail of the account counts.
    refused = teams.say("boss@example.org", "techalert outage Forged")
    assert "Only IT administrators" in "\n".join(refused.to("boss@example.org"))
    assert "Forged" not in teams.last("19:alerts@thread.tacv2")


def test_staff_and_department_members_named_by_email(
    two: tuple[TestPlatform, TestPlatform],
) -> None:
    slack, teams = two
    slack.say("UFIN", "/techhelp my laptop will not boot")
    slack.press(DESK_SLACK, "Claim", card="TH-1")  # staff by e-mail, on Slack
    assert "State: claimed" in slack.last(TRIAGE)
    # ... and on the other platform: logging a request for someone is for staff.
    logged = teams.say(DESK_TEAMS, "techhelp for @TEAMSPERSON1 via phone printer jammed")
    assert "TH-2 is logged for" in "\n".join(logged.to(DESK_TEAMS))
    refused = slack.press(INTRUDER, "Resolve", card="TH-1")
    assert "Only the service desk" in "\n".join(refused.to(INTRUDER))
    with slack.bot.db.sessions() as session:
        from chatbot.db.models import Request

        assert session.get(Request, 1).department == "Finance"


def test_the_slack_directory_sync_reads_members_emails(fake_slack: Any) -> None:
    from chatbot.platforms.slack.sender import SlackAPI

    fake_slack.set_users(
        [
            {
                "id": "U1",
                "name": "ann",
                "profile": {"real_name": "Ann", "email": "ann@example.org"},
            },
            {"id": "U2", "name": "bo", "profile": {"real_name": "Bo"}},
        ]
    )
    api = SlackAPI("xoxb-test-token", fake_slack.url)
    try:
        members = list(api.members())
    finally:
        api.close()
    assert [(m.user_id, m.email) for m in members] == [("U1", "ann@example.org"), ("U2", None)]
