"""Teams end to end: a real `chatbot serve` (Teams alone, or beside Slack) against the fake
Microsoft side, which signs what it posts to `/api/messages`, issues the bot's token through
MSAL's flow over TLS, and validates every card and activity the bot sends."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import TEAMS_ALERTS, TEAMS_TRIAGE, Server, sqlite_only
from tests.fakes.teams import FORGERIES
from tests.fakes.teams_payloads import personal_message
from tests.teams_driver import (
    ADMIN,
    ALICE,
    BOB,
    TeamsDriver,
    _elements,
    actions_of,
    cards_of,
    text_of,
)

CARD = "application/vnd.microsoft.card.adaptive"
TEXT = "application/vnd.microsoft.activity.message"
# A markdown link Teams would make live: `[label](url)` with neither bracket escaped.
LIVE_LINK = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\(")


def rows(server: Server, query: str) -> list[Any]:
    engine = create_engine(server.env["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(query)))
    finally:
        engine.dispose()


def count(server: Server, table: str) -> int:
    return int(rows(server, f"select count(*) from {table}")[0][0])


# --- inbound: who may post to /api/messages ------------------------------------------------------


@sqlite_only("the token is refused before the database is reached")
@pytest.mark.parametrize("forgery", [None, *FORGERIES])
def test_bad_tokens_get_401_and_store_nothing(teams: TeamsDriver, forgery: str | None) -> None:
    """Missing, forged, expired, wrong-audience or wrong-serviceUrl tokens: 401, and neither a
    request, an interaction, a conversation reference nor a Bot Connector call follows."""
    fake = teams.fake
    token = "" if forgery is None else fake.token(forgery=forgery)
    answer = teams.say(ALICE, "printer on floor 3 is jammed", token=token)
    assert answer.status_code == 401
    teams.settle()
    for table in ("interactions", "requests", "deliveries", "teams_conversations"):
        assert count(teams.server, table) == 0, table
    assert fake.calls == []
    log = teams.server.log_path.read_text() if teams.server.log_path else ""
    if token:
        assert token not in log  # the token is never logged


# --- asking IT ---------------------------------------------------------------------------------


def test_personal_message_opens_a_request_and_the_requester_is_told(teams: TeamsDriver) -> None:
    answer = teams.say(ALICE, "printer on floor 3 is jammed")
    assert answer.status_code == 200
    confirmation = teams.wait_shown(teams.personal(ALICE), "TH-1")
    assert any("TH-1" in shown for shown in confirmation)
    card = teams.wait_shown(TEAMS_TRIAGE, "TH-1")
    assert "printer on floor 3 is jammed" in card[0]
    assert {"[Claim]", "[Resolve]"} <= set(card[0].splitlines())
    stored = rows(teams.server, "select text, requester from requests")
    assert stored == [("printer on floor 3 is jammed", ALICE["aadObjectId"])]


def test_a_redelivered_activity_changes_nothing_twice(teams: TeamsDriver) -> None:
    activity = personal_message(teams.fake, ALICE, "monitor flickers")
    assert teams.post(activity).status_code == 200
    teams.wait_shown(TEAMS_TRIAGE, "TH-1")
    teams.wait_shown(teams.personal(ALICE), "TH-1")
    teams.settle()
    told = len(teams.messages(teams.personal(ALICE)))
    calls = len(teams.fake.calls)
    assert teams.post(activity).status_code == 200  # Teams redelivers: the same id
    teams.settle()
    assert count(teams.server, "requests") == 1
    assert len(teams.messages(TEAMS_TRIAGE)) == 1
    assert len(teams.messages(teams.personal(ALICE))) == told
    assert len(teams.fake.calls) == calls  # nothing sent again


def test_channel_mention_opens_a_request(teams: TeamsDriver) -> None:
    assert teams.say_in_channel(BOB, "the wifi in room 4 drops").status_code == 200
    teams.wait_shown(TEAMS_TRIAGE, "the wifi in room 4 drops")
    teams.wait_shown(teams.personal(BOB), "TH-1")  # answered in Bob's 1:1, not in the channel


def test_triage_claim_and_resolve_edit_the_card_and_tell_the_requester(
    teams: TeamsDriver,
) -> None:
    teams.say(ALICE, "laptop will not boot")
    teams.wait_shown(TEAMS_TRIAGE, "TH-1")
    card_id = teams.messages(TEAMS_TRIAGE)[0]["id"]

    # Bob is not the service desk: he is told so in the click's answer (no 1:1 message) and
    # the card stays as it was
    refused = teams.click(BOB, "Claim", conversation=TEAMS_TRIAGE)
    assert refused.status_code == 200 and refused.json()["statusCode"] == 200
    assert refused.json()["type"] == TEXT and "Only the service desk" in refused.json()["value"]
    teams.settle()
    assert teams.messages(teams.personal(BOB)) == []
    assert not [c for c in teams.fake.calls if c.path.endswith("/v3/conversations")]
    assert len(teams.fake.history[card_id]) == 1

    claimed = teams.click(ADMIN, "Claim", conversation=TEAMS_TRIAGE)
    assert claimed.status_code == 200
    assert claimed.json()["statusCode"] == 200  # answered in the response (within 5 s)
    teams.wait(lambda: len(teams.fake.history.get(card_id, [])) >= 2)  # edited with PUT
    assert len(teams.messages(TEAMS_TRIAGE)) == 1  # in place, not a new card
    teams.wait_shown(teams.personal(ALICE), "is now working on")

    opened = teams.click(ADMIN, "Resolve", conversation=TEAMS_TRIAGE)
    form = opened.json()
    assert form["type"] == CARD  # the resolution form, as card inputs
    submit = next(a for a in _actions(form["value"]) if a.get("verb") == "form.submit")
    inputs = {i["id"]: "Reseated the RAM" for i in _inputs(form["value"])}
    done = teams.submit(ADMIN, submit, inputs, conversation=TEAMS_TRIAGE, message_id=card_id)
    assert done.status_code == 200
    teams.wait_shown(teams.personal(ALICE), "Reseated the RAM")
    teams.wait(lambda: "resolved" in teams.shown(TEAMS_TRIAGE)[0].lower())
    assert rows(teams.server, "select state from requests") == [("resolved",)]

    # the rating prompt in Alice's 1:1: one click, recorded once
    teams.wait(lambda: _has_button(teams, teams.personal(ALICE), "4"))
    rated = teams.click(ALICE, "4", conversation=teams.personal(ALICE))
    assert rated.status_code == 200
    teams.wait(lambda: rows(teams.server, "select score from ratings") == [(4,)])


@sqlite_only("a refusal before anything is stored")
def test_a_non_admin_techalert_is_refused_and_nothing_is_sent(teams: TeamsDriver) -> None:
    teams.say(ALICE, "techalert outage Email is down for everyone")
    teams.wait_shown(teams.personal(ALICE), "Only IT administrators")
    teams.settle()
    assert teams.messages(TEAMS_ALERTS) == []
    assert count(teams.server, "alerts") == 0


def test_im_affected_is_answered_in_the_click_and_nothing_is_sent_one_to_one(
    teams: TeamsDriver,
) -> None:
    """A click's private answer ("you are counted") is the invoke's own answer on Teams: no 1:1
    conversation is created and nothing is posted to the clicker; the channel copy's count is
    edited (batched) as before."""
    teams.say(ADMIN, "techalert outage Email is down for everyone")
    teams.wait(lambda: _has_button(teams, TEAMS_ALERTS, "I'm affected"))
    teams.settle()
    creates_before = [c for c in teams.fake.calls if c.path.endswith("/v3/conversations")]
    clicked = teams.click(ALICE, "I'm affected", conversation=TEAMS_ALERTS)
    assert clicked.status_code == 200
    answer = clicked.json()
    assert answer["statusCode"] == 200 and answer["type"] == TEXT
    assert "counted as affected by AL-1" in answer["value"]
    assert "1 person so far" in answer["value"]
    assert rows(teams.server, "select user_id from affected_votes") == [(ALICE["aadObjectId"],)]
    teams.wait(lambda: "1 person affected" in teams.shown(TEAMS_ALERTS)[-1], timeout=30)
    assert teams.messages(teams.personal(ALICE)) == []
    creates_after = [c for c in teams.fake.calls if c.path.endswith("/v3/conversations")]
    assert creates_after == creates_before


@sqlite_only("escaping happens when the card is rendered, not in the database")
def test_typed_mentions_and_links_never_go_out_live(teams: TeamsDriver) -> None:
    typed = "<at>Bob Burns</at> [free laptops](https://evil.example) printer broke"
    teams.say(ALICE, typed)
    teams.wait_shown(TEAMS_TRIAGE, "TH-1")
    teams.wait_shown(teams.personal(ALICE), "TH-1")
    shown = teams.fake.messages()
    assert any("free laptops" in text_of(a) for a in shown)
    for activity in shown:
        texts = [str(activity.get("text") or "")] + [
            str(e.get("text") or "")
            for card in cards_of(activity)
            for e in _elements(card)
            if e.get("type") in ("TextBlock", "TextRun")
        ]
        for rendered in texts:
            assert "<at>" not in rendered  # no live mention of what Alice typed
            assert not LIVE_LINK.search(rendered), rendered  # the link is escaped, not live
        for entity in activity.get("entities") or []:
            assert (entity.get("mentioned") or {}).get("id") != BOB["id"]


def test_ten_thousand_characters_get_a_clear_answer(teams: TeamsDriver) -> None:
    long_text = "printer " + "x" * 10_000
    teams.say(ALICE, long_text)
    shown = teams.wait_shown(teams.personal(ALICE), "TH-1")
    assert any("10,008 characters" in s for s in shown)
    assert len(rows(teams.server, "select text from requests")[0][0]) == 10_008  # nothing lost
    teams.wait_shown(TEAMS_TRIAGE, "TH-1")  # the card is within Teams' limits (the fake checks)


def test_429_is_honoured_and_nothing_is_lost(teams: TeamsDriver) -> None:
    fake = teams.fake
    fake.fail_next("POST", "v3/conversations/*/activities", 429, retry_after=2, times=1)
    started = time.monotonic()
    teams.say(ALICE, "keyboard missing keys")
    teams.wait_shown(TEAMS_TRIAGE, "TH-1", timeout=20)
    teams.wait_shown(teams.personal(ALICE), "TH-1", timeout=20)
    assert time.monotonic() - started >= 2  # the Retry-After was waited out
    refused = [c for c in fake.calls if c.status == 429]
    assert len(refused) == 1
    again = [
        c
        for c in fake.calls
        if c.conversation == refused[0].conversation and c.time > refused[0].time
    ]
    assert again and again[0].time - refused[0].time >= 1.9  # Retry-After waited out
    assert len(teams.messages(TEAMS_TRIAGE)) == 1  # once each: nothing lost, nothing twice


# --- one host for both platforms -----------------------------------------------------------------


def test_one_serve_answers_slack_and_teams(
    make_teams_server: Any, fake_slack: Any, fake_teams: Any
) -> None:
    from tests.conftest import TRIAGE

    server = make_teams_server(slack=fake_slack).start()
    driver = TeamsDriver(server, fake_teams)
    assert server.command("printer on floor 3 is jammed").status_code == 200
    assert driver.say(ALICE, "vpn refuses my password").status_code == 200
    fake_slack.wait_for(lambda: fake_slack.calls("chat.postMessage"))
    driver.wait_shown(TEAMS_TRIAGE, "vpn refuses my password")
    slack_channels = {c.body.get("channel") for c in fake_slack.calls("chat.postMessage")}
    assert TRIAGE in slack_channels  # Slack's request went to Slack's triage channel
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def _actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    return actions_of({"attachments": [{"contentType": CARD, "content": card}]})


def _inputs(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in _elements(card) if str(e.get("type", "")).startswith("Input.")]


def _has_button(teams: TeamsDriver, conversation: str, label: str) -> bool:
    try:
        teams.button(conversation, label)
    except AssertionError:
        return False
    return True


def test_clock_syncs_the_roster_of_the_installed_teams(teams: TeamsDriver) -> None:
    """`chatbot clock` reads every member of each team the app is installed in (paged: 250
    people take two pages), and the directory keeps each with their e-mail address."""
    from tests.fakes.teams_payloads import members_added, roster

    people = [ADMIN, ALICE, BOB, *roster(250)]
    teams.fake.members[:] = people
    assert teams.post(members_added(teams.fake, [], who=ADMIN, include_bot=True)).status_code == 200
    teams.server.clock_once()
    synced = rows(
        teams.server,
        "select a.account_id, p.email from accounts a join people p on p.id = a.person_id"
        " where a.platform = 'teams' and a.active",
    )
    assert len(synced) == 253
    assert (ALICE["aadObjectId"], ALICE["email"]) in synced
    pages = [c for c in teams.fake.calls if c.path.endswith("/pagedmembers")]
    assert len(pages) == 2


def test_a_survey_click_is_answered_at_once_and_its_card_thanks(teams: TeamsDriver) -> None:
    """A pulse check by personal message: the one-click answer is stored before the invoke is
    answered (a deferred action, as on Slack), then recorded and the card edited to thank."""
    from tests.fakes.teams_payloads import members_added

    teams.fake.members[:] = [ADMIN, ALICE, BOB]
    assert teams.post(members_added(teams.fake, [], who=ADMIN, include_bot=True)).status_code == 200
    teams.server.clock_once()
    teams.say(ADMIN, "pulse send How well do your tools support your work?")
    alice = teams.personal(ALICE)

    def answer_button() -> dict[str, Any] | None:
        for message in teams.messages(alice):
            for action in actions_of(message):
                if str(action.get("verb", "")).startswith("pulse.answer:3"):
                    return action
        return None

    label = str(teams.wait(answer_button)["title"])
    started = time.monotonic()
    clicked = teams.click(ALICE, label, conversation=alice)
    assert time.monotonic() - started < 5  # Teams' invoke deadline
    assert clicked.status_code == 200 and clicked.json()["statusCode"] == 200
    teams.wait_shown(alice, "Thank you")
    answered = "select count(*) from survey_recipients where version > 0"
    assert rows(teams.server, answered) == [(1,)]


def test_the_request_form_by_message_opens_as_card_inputs_and_submits(teams: TeamsDriver) -> None:
    """`techhelp` alone: a card whose button opens the form (Teams has no modal to open from a
    message); the form comes back as card inputs in the invoke's answer; an empty description is
    a message beside it, a filled one opens the request."""
    alice = teams.personal(ALICE)
    teams.say(ALICE, "techhelp")
    teams.wait(lambda: actions_of(teams.messages(alice)[-1]) if teams.messages(alice) else None)
    card = teams.messages(alice)[-1]
    (button,) = actions_of(card)
    opened = teams.click(ALICE, str(button["title"]), conversation=alice).json()
    assert opened["type"] == CARD
    form = opened["value"]
    submit = next(a for a in _actions(form) if a.get("verb") == "form.submit")
    fields = {i["id"]: i for i in _inputs(form)}
    assert "description" in fields
    # Teams sends every input's value, its default where nobody changed it
    defaults = {name: str(field.get("value") or "") for name, field in fields.items()}

    empty = teams.submit(
        ALICE, submit, {"description": ""}, conversation=alice, message_id=card["id"]
    )
    assert empty.json()["type"] == "application/vnd.microsoft.activity.message"
    assert "describe" in empty.json()["value"]
    assert count(teams.server, "requests") == 0

    network = next(c["value"] for c in fields["category"]["choices"] if c["value"] == "Network")
    filled = {"description": "VPN drops every hour", "urgency": "high", "category": network}
    done = teams.submit(ALICE, submit, defaults | filled, conversation=alice, message_id=card["id"])
    assert done.status_code == 200 and done.json()["type"] == CARD
    teams.wait(lambda: rows(teams.server, "select text, urgency from requests"))
    assert rows(teams.server, "select text, urgency from requests") == [
        ("VPN drops every hour", "high")
    ]
    teams.wait_shown(TEAMS_TRIAGE, "VPN drops every hour")
