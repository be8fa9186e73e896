"""App Home: each person sees exactly their own requests, within Block Kit's 100 blocks, published
through the outbox (a 429 is waited out), refreshed when their requests change, coalesced."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from chatbot import delivery, directory
from chatbot.addresses import Address
from chatbot.db import Database
from chatbot.db.models import Alert, Delivery, Request
from chatbot.messages import Message, Outgoing
from tests.conftest import ADMIN, Server
from tests.fakes.payloads import block_actions
from tests.test_intake import rows

REF = re.compile(r"\bTH-(\d+)\b")


def _seed(database_url: str) -> tuple[set[int], set[int]]:
    """300 requests of Alice's (every state), 5 of Bob's, one active alert."""
    db = Database(database_url)
    db.upgrade()
    now = datetime.now(UTC)
    alice, bob = set(), set()
    with db.transaction() as session:
        for n in range(305):
            requester = "UALICE" if n < 300 else "UBOB"
            state = ("open", "claimed", "resolved")[n % 3]
            moment = now - timedelta(hours=400 - n)
            row = Request(
                platform="slack",
                requester=requester,
                intake_channel="techhelp",
                text=f"{requester} needs help number {n} <!channel>",
                category="Hardware",
                urgency="normal",
                queue="Service Desk",
                tier=1,
                state=state,
                created_at=moment,
                updated_at=moment,
                resolved_at=moment if state == "resolved" else None,
            )
            session.add(row)
            session.flush()
            (alice if requester == "UALICE" else bob).add(row.id)
        session.add(
            Alert(
                severity="outage",
                service="VPN",
                message="VPN is down for everyone",
                author="UADMIN",
                platform="slack",
                state="active",
                audience={"channels": True},
                created_at=now,
            )
        )
    db.dispose()
    return alice, bob


def _open_home(server: Server, user: str, event_id: str | None = None) -> Any:
    body = {
        "token": "legacy",
        "team_id": "T0TEST",
        "api_app_id": "A0TEST",
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10]}",
        "event_time": int(time.time()),
        "event": {
            "type": "app_home_opened",
            "user": user,
            "channel": f"D{user}",
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        },
    }
    response = server.post(json.dumps(body), content_type="application/json")
    assert response.status_code == 200
    return response


def _refs(view: dict[str, Any]) -> set[int]:
    return {int(n) for n in REF.findall(json.dumps(view["blocks"]))}


def test_home_shows_only_my_requests_within_100_blocks(server: Server, database_url: str) -> None:
    alice, bob = _seed(database_url)
    fake = server.fake
    _open_home(server, "UALICE")
    view = fake.wait_for(lambda: fake.home("UALICE"), timeout=10)
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    shown = _refs(view)
    assert shown and shown <= alice and not shown & bob
    # The 25 most recently updated open requests, and a pointer to the rest.
    open_alice = sorted((i for i in alice if (i - 1) % 3 != 2), reverse=True)
    assert set(open_alice[:25]) <= shown
    text = json.dumps(view["blocks"])
    assert "of 200" in text
    assert "VPN is down for everyone" in text
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text  # typed text stays text
    assert fake.home("UBOB") is None  # Bob never opened his Home tab
    buttons = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["action_id"] for b in buttons] == ["home.new_request"]

    # "Ask IT" opens the existing request form.
    server.click("home.new_request", "", user="UALICE")
    opened = fake.wait_for(lambda: fake.calls("views.open"))
    assert opened[0].body["view"]["callback_id"] == "techhelp.request"


def test_home_refreshes_when_my_request_changes(server: Server, database_url: str) -> None:
    alice, _bob = _seed(database_url)
    fake = server.fake
    _open_home(server, "UALICE")
    fake.wait_for(lambda: fake.home("UALICE"), timeout=10)
    published = len(fake.calls("views.publish"))
    server.command("my monitor flickers", user="UALICE")
    new = max(alice) + 6  # after Bob's five
    view = fake.wait_for(lambda: new in _refs(fake.home("UALICE") or {"blocks": []}), timeout=10)
    assert view
    assert len(fake.calls("views.publish")) == published + 1
    # Bob has no home yet: his request changes publish nothing for him.
    server.command("my keyboard is sticky", user="UBOB")
    fake.wait_for(lambda: len(fake.messages("UBOB")) >= 1)
    assert not [c for c in fake.calls("views.publish") if c.body.get("user_id") == "UBOB"]


def test_home_survives_a_rate_limit_and_a_retried_event(server: Server, database_url: str) -> None:
    _seed(database_url)
    fake = server.fake
    fake.fail_next("views.publish", status=429, retry_after=1)
    _open_home(server, "UALICE", event_id="EvSAME")
    _open_home(server, "UALICE", event_id="EvSAME")  # Slack's retry of the same event
    fake.wait_for(lambda: fake.home("UALICE"), timeout=15)
    calls = fake.calls("views.publish")
    assert [c.status for c in calls] == [429, None]


def test_refreshes_coalesce_into_one_publish(database_url: str) -> None:
    db = Database(database_url)
    db.upgrade()
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def publish(text: str, at: datetime) -> None:
        with db.transaction() as session:
            delivery.enqueue(
                session,
                outgoing=Outgoing(
                    key="home:UALICE",
                    to=Address.person("slack", "UALICE"),
                    message=Message.plain(text),
                    action="home",
                ),
                now=at,
            )

    def row() -> Delivery:
        with db.sessions() as session:
            return session.query(Delivery).filter_by(key="home:UALICE").one()

    for n in range(5):
        publish(f"version {n}", now)
    with db.sessions() as session:
        assert session.query(Delivery).count() == 1
    assert (row().status, row().message["text"], row().action) == ("pending", "version 4", "home")

    # Once sent, a change makes it due again, with its newest content.
    with db.transaction() as session:
        session.query(Delivery).update({"status": "sent", "attempts": 3})
    publish("version 5", now + timedelta(minutes=1))
    assert (row().status, row().message["text"], row().attempts) == ("pending", "version 5", 0)

    # While one is being sent, the newer content goes after it (when its lease ends).
    lease_end = now + timedelta(minutes=3)
    with db.transaction() as session:
        session.query(Delivery).update({"status": "sending", "lease_until": lease_end})
    publish("version 6", now + timedelta(minutes=2))
    assert (row().status, row().message["text"]) == ("pending", "version 6")
    assert row().not_before == lease_end
    db.dispose()


def _home_click(server: Server, user: str, button: dict[str, Any]) -> None:
    body = block_actions(user, button["action_id"], button["value"], home=True)
    assert server.post(body).status_code == 200


def _buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_home_lists_surveys_awaiting_my_answer(server: Server, database_url: str) -> None:
    _seed(database_url)  # Alice's 300 requests and an alert fill most of her home
    db = Database(database_url)
    with db.transaction() as session:
        for user in ("UALICE", "UBOB"):
            directory.add_account(
                session, platform="slack", account_id=user, now=datetime.now(UTC), active=True
            )
    db.dispose()
    fake = server.fake
    everyone = "Is your laptop fast enough?"
    server.command(f"send {everyone}", command="/pulse", user=ADMIN)
    only_bob = "How was the printer training?"
    form = {
        "question": only_bob,
        "options": "Useful\nNot useful",
        "audience": "everyone",
        "users": "UBOB",
        "schedule": "now",
        "anonymous": "no",
        "reminder": "",
        "closing": "48",
    }
    submitted = server.submit(
        "pulse.define", form, user=ADMIN, selects=("audience", "schedule", "anonymous")
    )
    assert submitted.json()["response_action"] == "update", submitted.text
    assert "is on its way to" in json.dumps(submitted.json()["view"]), submitted.text
    fake.wait_for(lambda: len(fake.messages("UBOB")) == 2 and fake.messages("UALICE"))

    # Alice sees the survey she received, with its closing time and the DM's signed buttons,
    # not Bob's; within 100 blocks beside her 300 requests.
    _open_home(server, "UALICE")
    view = fake.wait_for(lambda: fake.home("UALICE"), timeout=10)
    text = json.dumps(view["blocks"], ensure_ascii=False)
    assert len(view["blocks"]) <= 100
    assert "Surveys awaiting your answer" in text and everyone in text and only_bob not in text
    assert "Open until" in text and "Anonymous" in text
    (dm,) = fake.messages("UALICE")
    buttons = [b for b in _buttons(view["blocks"]) if b["action_id"].startswith("pulse.answer")]
    assert [b["text"]["text"] for b in buttons] == ["1", "2", "3", "4", "5"]
    assert [b["value"] for b in buttons] == [b["value"] for b in _buttons(dm["blocks"])]
    # Bob sees both, closing soonest first.
    _open_home(server, "UBOB")
    bob = json.dumps(fake.wait_for(lambda: fake.home("UBOB"), timeout=10)["blocks"])
    assert everyone in bob and only_bob in bob

    # One click on her home records the answer; the home is published again without it.
    bob_publishes = [c for c in fake.calls("views.publish") if c.body["user_id"] == "UBOB"]
    _home_click(server, "UALICE", buttons[3])
    again = fake.wait_for(
        lambda: (h := fake.home("UALICE")) and everyone not in json.dumps(h["blocks"]) and h,
        timeout=10,
    )
    assert "Surveys awaiting your answer" not in json.dumps(again["blocks"])
    counted = "select option, sum(count) from survey_tallies group by option having sum(count) > 0"
    assert [tuple(r) for r in rows(server, counted)] == [(3, 1)]
    assert rows(server, "select option from survey_recipients where user_id = 'UALICE'") == [
        (None,)
    ]
    assert [c for c in fake.calls("views.publish") if c.body["user_id"] == "UBOB"] == bob_publishes

    # Bob answers in the DM: his home drops that survey and keeps the other.
    bob_dm = next(m for m in fake.messages("UBOB") if only_bob in json.dumps(m["blocks"]))
    useful = _buttons(bob_dm["blocks"])[0]
    server.click(useful["action_id"], useful["value"], user="UBOB")
    fake.wait_for(lambda: only_bob not in json.dumps(fake.home("UBOB")["blocks"]), timeout=10)
    assert everyone in json.dumps(fake.home("UBOB")["blocks"])

    # A closed survey is gone from the home the next time it is opened.
    server.command("close PS-1", command="/pulse", user=ADMIN)
    _open_home(server, "UBOB")
    fake.wait_for(lambda: everyone not in json.dumps(fake.home("UBOB")["blocks"]), timeout=10)
