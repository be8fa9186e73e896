"""`/techhelp` end to end: signed requests to a running `chatbot serve`, Slack faked locally."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from sqlalchemy import create_engine, text

from tests.conftest import STAFF, TRIAGE, Server, sqlite_only


def reply_text(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    body = response.json()
    return body.get("text", "") + "\n" + json.dumps(body.get("blocks", []))


def ref_of(response) -> int:  # type: ignore[no-untyped-def]
    match = re.search(r"TH-(\d+)", reply_text(response))
    assert match, response.text
    return int(match.group(1))


def card_posts(server: Server) -> list:  # type: ignore[type-arg]
    return [
        c
        for c in server.fake.calls("chat.postMessage")
        if c.body.get("channel") == TRIAGE
        and not c.body.get("thread_ts")
        and not getattr(c, "status", None)
    ]


def dms_to(server: Server, user: str) -> list[str]:
    return [
        json.dumps(c.body.get("blocks"))
        for c in server.fake.calls("chat.postMessage")
        if c.body.get("channel") == user and not getattr(c, "status", None)
    ]


def rows(server: Server, sql: str) -> list:  # type: ignore[type-arg]
    engine = create_engine(
        server.env["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://")
    )
    with engine.connect() as conn:
        result = list(conn.execute(text(sql)))
    engine.dispose()
    return result


def test_request_is_stored_answered_and_carded(server: Server) -> None:
    response = server.command("printer on floor 3 is jammed")
    answer = reply_text(response)
    assert response.json()["response_type"] == "ephemeral"
    assert "TH-1" in answer and "Hardware" in answer and "normal" in answer
    assert "What happens next" in answer
    stored = rows(
        server, "select requester, intake_channel, category, state, department from requests"
    )
    assert [tuple(r) for r in stored] == [("UALICE", "techhelp", "Hardware", "open", "Finance")]
    server.fake.wait_for(lambda: card_posts(server), timeout=5)
    card = json.dumps(card_posts(server)[0].body["blocks"])
    for button in ("triage.claim", "triage.escalate", "triage.resolve"):
        assert button in card
    server.fake.wait_for(lambda: any("TH-1" in dm for dm in dms_to(server, "UALICE")))
    assert rows(server, "select count(*) from interactions")[0][0] == 1


@sqlite_only("the grammar of the command; the request is stored as any other")
def test_status_help_and_unknown_words(server: Server) -> None:
    assert "no open requests" in reply_text(server.command("status"))
    assert "/techhelp status" in reply_text(server.command("help"))
    ref = ref_of(server.command("statuses of my laptop please"))  # not a subcommand: a request
    status = reply_text(server.command("status"))
    assert f"TH-{ref}" in status and "statuses of my laptop" in status


def test_full_lifecycle_edits_the_card_and_tells_the_requester(server: Server) -> None:
    ref = ref_of(server.command("vpn is down, urgent"))
    fake = server.fake
    # The fake records a call before it has answered it: wait for the answer (the card's ts).
    card = fake.wait_for(lambda: next((c for c in card_posts(server) if c.response), None))
    card_ts = card.response["ts"]

    assert server.click("triage.claim", str(ref)).status_code == 200
    fake.wait_for(lambda: fake.calls("chat.update"))
    update = fake.calls("chat.update")[-1].body
    assert update["channel"] == TRIAGE and "claimed" in json.dumps(update["blocks"])
    assert update["ts"] == card_ts
    fake.wait_for(lambda: any("is now working on" in dm for dm in dms_to(server, "UALICE")))

    server.click("triage.escalate", str(ref))
    fake.wait_for(lambda: any("Tier II" in dm for dm in dms_to(server, "UALICE")))

    # Resolve asks for a note in a modal, then resolves.
    server.click("triage.resolve", str(ref))
    fake.wait_for(lambda: fake.calls("views.open"))
    view = fake.calls("views.open")[-1].body["view"]
    assert view["callback_id"] == "triage.resolve_form" and view["private_metadata"] == str(ref)
    empty = server.submit("triage.resolve_form", {"text": ""}, private_metadata=str(ref))
    assert empty.json()["response_action"] == "errors"
    done = server.submit(
        "triage.resolve_form", {"text": "Restarted the VPN concentrator"}, private_metadata=str(ref)
    )
    assert done.status_code == 200 and done.text in ("", "{}")
    fake.wait_for(lambda: any("Restarted the VPN" in dm for dm in dms_to(server, "UALICE")))
    # The rating prompt follows (delay 0 here).
    fake.wait_for(lambda: any("rating.rate:5" in dm for dm in dms_to(server, "UALICE")))

    kinds = [
        r[0]
        for r in rows(server, f"select kind from request_events where request_id={ref} order by id")
    ]
    assert kinds == ["created", "claimed", "escalated", "resolved"]
    actors = {
        r[0] for r in rows(server, "select actor from request_events where kind != 'created'")
    }
    assert actors == {STAFF}


def test_rating_once_per_request_and_changeable(server: Server) -> None:
    ref = ref_of(server.command("install excel please"))
    server.click("triage.resolve", str(ref))
    server.submit("triage.resolve_form", {"text": "Installed"}, private_metadata=str(ref))
    fake = server.fake
    fake.wait_for(lambda: any("rating.rate" in dm for dm in dms_to(server, "UALICE")))

    # Someone else cannot rate it.
    server.click("rating.rate:1", str(ref), user="UMALLORY")
    server.click("rating.rate:4", str(ref), user="UALICE")
    server.click("rating.rate:2", str(ref), user="UALICE")
    assert [tuple(r) for r in rows(server, "select request_id, score from ratings")] == [(ref, 2)]

    # The thank-you replaces the prompt; the refusal is shown only to the one who clicked.
    def answered(replace: bool, wanted: str) -> bool:
        return any(
            wanted in json.dumps(c.body)
            for c in fake.calls("response_url")
            if bool(c.body.get("replace_original")) is replace
        )

    fake.wait_for(lambda: answered(True, "2/5"))
    fake.wait_for(lambda: answered(False, "Only the person who asked"))

    server.click("rating.comment", str(ref), user="UALICE")
    fake.wait_for(lambda: fake.calls("views.open"))
    server.submit(
        "rating.comment_form",
        {"comment": "Quick, thanks <!here>"},
        user="UALICE",
        private_metadata=str(ref),
    )
    assert rows(server, "select comment from ratings")[0][0] == "Quick, thanks <!here>"
    prompts = [dm for dm in dms_to(server, "UALICE") if "How did we do" in dm]
    assert len(prompts) == 1


def test_reopen_before_the_delay_withdraws_the_rating_prompt(make_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "techhelp.yml"
    config.write_text("staff: [USTAFF]\n")  # the card's buttons are the service desk's
    server = make_server(TECHHELP_RATING_DELAY="2", TECHHELP_CONFIG=str(config)).start()
    ref = ref_of(server.command("monitor flickers"))
    server.click("triage.resolve", str(ref))
    server.submit("triage.resolve_form", {"text": "New cable"}, private_metadata=str(ref))
    server.click("triage.reopen", str(ref))
    fake = server.fake
    fake.wait_for(lambda: any("reopened" in dm for dm in dms_to(server, "UALICE")))
    import time

    time.sleep(3)
    assert not any("How did we do" in dm for dm in dms_to(server, "UALICE"))
    # Resolved again: now the prompt comes, once.
    server.click("triage.resolve", str(ref))
    server.submit("triage.resolve_form", {"text": "New monitor"}, private_metadata=str(ref))
    fake.wait_for(lambda: any("How did we do" in dm for dm in dms_to(server, "UALICE")), timeout=8)
    time.sleep(0.5)
    assert sum("How did we do" in dm for dm in dms_to(server, "UALICE")) == 1


@sqlite_only("the form's fields and the card's mention; the request is stored as any other")
def test_modal_intake(server: Server) -> None:
    response = server.command("")
    assert response.status_code == 200
    server.fake.wait_for(lambda: server.fake.calls("views.open"))
    view = server.fake.calls("views.open")[-1].body["view"]
    assert view["callback_id"] == "techhelp.request"
    names = [b.get("block_id") for b in view["blocks"] if b["type"] == "input"]
    assert names == ["category", "urgency", "description", "service"]
    submitted = server.submit(
        "techhelp.request",
        {
            "category": "Network",
            "urgency": "critical",
            "description": "Wi-Fi gone in B2",
            "service": "Wi-Fi",
        },
        user="UALICE",
        selects=("category", "urgency", "service"),
    )
    assert submitted.status_code == 200
    stored = rows(server, "select category, urgency, service, intake_channel, tier from requests")
    assert [tuple(r) for r in stored] == [("Network", "critical", "Wi-Fi", "form", 2)]
    # Critical request from Finance: its service delivery manager is mentioned on the card.
    server.fake.wait_for(lambda: card_posts(server))
    assert "<@UMANAGER>" in json.dumps(card_posts(server)[0].body["blocks"])


@sqlite_only("the on-behalf syntax and its permission; the request is stored as any other")
def test_service_desk_logs_a_phone_request(server: Server) -> None:
    answer = reply_text(
        server.command("for <@UBOB|bob> via phone laptop will not boot", user=STAFF)
    )
    assert "logged for <@UBOB>" in answer
    stored = rows(server, "select requester, logged_by, intake_channel, text from requests")
    assert [tuple(r) for r in stored] == [("UBOB", STAFF, "phone", "laptop will not boot")]
    refused = reply_text(server.command("for <@UBOB|bob> via phone hi", user="UALICE"))
    assert "Only the service desk" in refused
    assert len(rows(server, "select id from requests")) == 1
    usage = reply_text(server.command("for someone somehow", user=STAFF))
    assert "for @person via phone|email|walk-in" in usage


def direct_message(server: Server, text: str, *, user: str = "UALICE", **event: Any) -> str:
    """A message in the bot's Messages tab (`message.im`), as Slack posts it; its event id."""
    event_id = event.pop("event_id", f"Ev{uuid.uuid4().hex[:10]}")
    headers = event.pop("headers", None)
    body = {
        "token": "legacy",
        "team_id": "T0TEST",
        "api_app_id": "A0TEST",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": {
            "type": "message",
            "channel": f"D{user}",
            "channel_type": "im",
            "user": user,
            "text": text,
            "ts": f"{time.time():.6f}",
            **event,
        },
    }
    response = server.post(json.dumps(body), content_type="application/json", headers=headers)
    assert response.status_code == 200, response.text
    return event_id


def test_a_direct_message_is_a_request_help_or_status(server: Server) -> None:
    fake = server.fake
    event_id = direct_message(server, "my <@UBOB|bob> monitor flickers &amp; buzzes")
    # Slack retries the event: it is handled once.
    direct_message(server, "x", event_id=event_id, headers={"X-Slack-Retry-Num": "1"})
    fake.wait_for(lambda: any("is logged" in dm for dm in dms_to(server, "UALICE")))
    stored = rows(server, "select requester, intake_channel, text from requests")
    assert [tuple(r) for r in stored] == [
        ("UALICE", "techhelp", "my @bob monitor flickers & buzzes")
    ]
    fake.wait_for(lambda: card_posts(server))
    # The bot's own posts in the conversation, and edits, are not requests.
    direct_message(server, "We have your request TH-1", bot_id="B0BOT")
    direct_message(server, "edited", subtype="message_changed")
    direct_message(server, "status")
    fake.wait_for(lambda: any("Your open requests" in dm for dm in dms_to(server, "UALICE")))
    assert len(rows(server, "select id from requests")) == 1
    # "techhelp" alone asks for the form: a message cannot open one, so a button does.
    direct_message(server, "techhelp")
    fake.wait_for(lambda: any("core.open_form" in dm for dm in dms_to(server, "UALICE")))
    (button,) = [
        element
        for call in fake.calls("chat.postMessage")
        if call.body.get("channel") == "UALICE"
        for block in call.body.get("blocks") or []
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "core.open_form"
    ]
    assert server.click(button["action_id"], button["value"], user="UALICE").status_code == 200
    fake.wait_for(lambda: fake.calls("views.open"))
    assert fake.calls("views.open")[-1].body["view"]["callback_id"] == "techhelp.request"
