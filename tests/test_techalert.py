"""`/techalert` end to end: admins only, every alert channel gets one copy, updates go to every
copy's thread, resolving edits every copy. Signed requests to a running `chatbot serve`."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import ADMIN, Server, sqlite_only
from tests.fakes.slack_api import dm_id
from tests.test_faults import POISON
from tests.test_intake import reply_text, rows

CHANNELS = ("CALERTS1", "CALERTS2")


@pytest.fixture
def server(make_server) -> Server:  # type: ignore[no-untyped-def]
    return make_server(TECHHELP_ALERT_CHANNELS=",".join(CHANNELS)).start()


def alert(server: Server, text: str, user: str = ADMIN) -> str:
    return reply_text(server.command(text, command="/techalert", user=user))


def posts(server: Server, channel: str, *, threaded: bool) -> list[dict]:  # type: ignore[type-arg]
    return [m for m in server.fake.messages(channel) if bool(m.get("thread_ts")) is threaded]


@sqlite_only("a refusal before anything is stored")
def test_only_admins_and_nothing_sent_otherwise(server: Server) -> None:
    answer = alert(server, "outage Email is down", user="UALICE")
    assert "Only IT administrators" in answer
    time.sleep(0.3)
    assert rows(server, "select count(*) from alerts")[0][0] == 0
    assert server.fake.calls("chat.postMessage") == []


def test_send_update_resolve_every_copy(server: Server) -> None:
    fake = server.fake
    answer = alert(server, "outage Email is down for everyone")
    assert "AL-1" in answer and "2 channels" in answer
    fake.wait_for(lambda: all(posts(server, c, threaded=False) for c in CHANNELS))
    for channel in CHANNELS:
        copies = posts(server, channel, threaded=False)
        assert len(copies) == 1
        assert "Email is down" in json.dumps(copies[0]["blocks"]) and ":red_circle:" in json.dumps(
            copies[0]["blocks"]
        )
        assert "/techhelp" in json.dumps(copies[0]["blocks"])

    assert "2 copies" in alert(server, "update AL-1 Engineers are restoring the mail server")
    fake.wait_for(lambda: all(posts(server, c, threaded=True) for c in CHANNELS))
    for channel in CHANNELS:
        (reply,) = posts(server, channel, threaded=True)
        assert reply["thread_ts"] == posts(server, channel, threaded=False)[0]["ts"]
        assert "restoring the mail server" in json.dumps(reply["blocks"])

    assert "AL-1" in alert(server, "list")
    resolved = alert(server, "resolve AL-1 Mail flows again")
    assert "resolved after" in resolved
    fake.wait_for(lambda: len(fake.calls("chat.update")) == 2)
    edited = {c.body["channel"]: json.dumps(c.body["blocks"]) for c in fake.calls("chat.update")}
    assert set(edited) == set(CHANNELS) and all("resolved" in e for e in edited.values())
    fake.wait_for(lambda: all(len(posts(server, c, threaded=True)) == 2 for c in CHANNELS))
    assert "No active alerts" in alert(server, "list")
    assert "already resolved" in alert(server, "resolve AL-1")


@sqlite_only("the command's parsing refuses it before anything is stored")
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("meltdown Email is down", "Usage"),
        ("outage", "needs a message"),
        ("update AL-99 hello", "There is no alert AL-99"),
        ("resolve AL-x", "There is no alert AL-x"),
        ("info " + "x" * 10_000, "10,000 characters"),
    ],
)
def test_bad_input_gets_a_clear_answer_and_sends_nothing(
    server: Server, text: str, expected: str
) -> None:
    assert expected in alert(server, text)
    time.sleep(0.3)
    assert server.fake.calls("chat.postMessage") == []
    assert rows(server, "select count(*) from alerts")[0][0] == 0


@sqlite_only("escaping happens when the message is rendered, not in the database")
def test_poison_text_is_not_live_in_alerts(server: Server) -> None:
    alert(server, f"info {POISON}")
    server.fake.wait_for(lambda: server.fake.messages(CHANNELS[0]))
    alert(server, f"update AL-1 {POISON}")
    server.fake.wait_for(lambda: posts(server, CHANNELS[0], threaded=True))
    for call in server.fake.calls("chat.postMessage"):
        payload = json.dumps(call.body)
        for live in ("<!channel>", "<@U0ADMIN>", "<https://evil.example"):
            assert live not in payload


def test_alert_form(server: Server) -> None:
    server.command("", command="/techalert", user=ADMIN)
    server.fake.wait_for(lambda: server.fake.calls("views.open"))
    view = server.fake.calls("views.open")[-1].body["view"]
    assert view["callback_id"] == "techalert.send"
    server.submit(
        "techalert.send",
        {"severity": "maintenance", "service": "VPN", "message": "VPN upgrade tonight 22:00"},
        user=ADMIN,
        selects=("severity", "service"),
    )
    server.fake.wait_for(lambda: all(server.fake.messages(c) for c in CHANNELS))
    stored = rows(server, "select severity, service, state from alerts")
    assert [tuple(r) for r in stored] == [("maintenance", "VPN", "active")]
    refused = server.submit(
        "techalert.send",
        {"severity": "outage", "message": "not an admin"},
        user="UALICE",
        selects=("severity",),
    )
    assert refused.json()["response_action"] == "errors"
    assert rows(server, "select count(*) from alerts")[0][0] == 1


def test_im_affected_once_per_person_and_counts_batched(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(
        TECHHELP_ALERT_CHANNELS=",".join(CHANNELS), ALERT_COUNT_INTERVAL="2"
    ).start()
    fake = server.fake
    alert(server, "outage VPN is down")
    fake.wait_for(lambda: all(fake.messages(c) for c in CHANNELS))
    assert "techalert.affected" in json.dumps(fake.messages(CHANNELS[0])[0]["blocks"])
    for user in ("U1", "U2", "U3", "U4", "U1"):
        assert server.click("techalert.affected", "1", user=user).status_code == 200
    assert rows(server, "select count(*) from affected_votes")[0][0] == 4
    fake.wait_for(lambda: len(fake.calls("response_url")) == 5)
    said = [json.dumps(c.body) for c in fake.calls("response_url")]
    assert sum("already counted" in s for s in said) == 1

    # Five clicks, but each copy is edited once per 2-second window (the clicks may straddle
    # two windows), and the last edit carries the final count.
    def last_edits() -> dict[str, str]:
        return {u.body["channel"]: json.dumps(u.body["blocks"]) for u in fake.calls("chat.update")}

    fake.wait_for(
        lambda: len(last_edits()) == 2 and all("4 people" in e for e in last_edits().values()),
        timeout=8,
    )
    time.sleep(2.5)
    assert len(fake.calls("chat.update")) <= 4
    alert(server, "resolve AL-1")
    late = server.click("techalert.affected", "1", user="U9")
    fake.wait_for(
        lambda: any("is resolved" in json.dumps(c.body) for c in fake.calls("response_url"))
    )
    assert (
        late.status_code == 200 and rows(server, "select count(*) from affected_votes")[0][0] == 4
    )


def test_request_matching_an_active_alert_follows_it_instead_of_duplicating(
    server: Server,
) -> None:
    fake = server.fake
    server.submit(
        "techalert.send",
        {"severity": "outage", "service": "Email", "message": "Outlook mailboxes are offline"},
        user=ADMIN,
        selects=("severity", "service"),
    )
    offer = server.command("my email won't send", user="UALICE").json()
    said = json.dumps(offer)
    assert "known issue *AL-1*" in said and "techalert.follow" in said
    assert rows(server, "select count(*) from requests")[0][0] == 0  # no duplicate opened
    # Two significant words of the alert's message match too, and so does a word the
    # configuration gives the service ("inbox" names Email).
    assert "AL-1" in reply_text(server.command("outlook mailboxes frozen", user="UBOB"))
    assert "known issue *AL-1*" in reply_text(server.command("my inbox will not load", user="UDAN"))

    server.click("techalert.follow", "1", user="UALICE")
    fake.wait_for(
        lambda: any("You are following" in json.dumps(c.body) for c in fake.calls("response_url"))
    )
    # Bob's problem is different after all: he opens a separate request, once.
    separate = next(
        b
        for b in server.command("outlook mailboxes frozen", user="UBOB").json()["blocks"]
        if b["type"] == "actions"
    )["elements"][1]
    assert separate["action_id"] == "techhelp.separate"
    server.click("techhelp.separate", separate["value"], user="UBOB")
    server.click("techhelp.separate", separate["value"], user="UBOB")  # double click
    stored = rows(server, "select requester, text from requests")
    assert [tuple(r) for r in stored] == [("UBOB", "outlook mailboxes frozen")]
    listing = alert(server, "list")
    assert "1 affected, 1 duplicate request avoided" in listing
    # Unrelated requests are not held up.
    assert "TH-2" in reply_text(server.command("printer jammed", user="UCAROL"))


def directory_users() -> list[dict]:  # type: ignore[type-arg]
    users = [
        {"id": f"UEMP{i:03d}", "name": f"emp{i}", "profile": {"real_name": f"Emp {i}"}}
        for i in range(450)
    ]
    users += [
        {"id": "UBOTX", "name": "bot", "is_bot": True},
        {"id": "USLACKBOT", "name": "slackbot"},
        {"id": "UGONE", "name": "gone", "deleted": True},
        {"id": "UGUEST", "name": "guest", "is_restricted": True},
        {"id": "UGUEST2", "name": "guest2", "is_ultra_restricted": True},
    ]
    return users


def copies_sent(fake) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    """The alert's copies (every state of the card points to /techhelp), not replies in their
    threads or other messages."""
    return [
        m
        for m in fake.messages()
        if not m.get("thread_ts") and "questions or other problems" in json.dumps(m["blocks"])
    ]


def progress_text(fake) -> str:  # type: ignore[no-untyped-def]
    (message,) = fake.messages(ADMIN)
    return json.dumps(message["blocks"])


def test_everyone_by_direct_message_exactly_once(server: Server) -> None:

    fake = server.fake
    fake.set_users(directory_users())
    fake.fail_next("users.list", status=429, retry_after=1)  # Tier 2: waited out
    server.clock_once()
    pages = [c for c in fake.calls("users.list") if not c.status]
    assert len(pages) == 3 and all(int(c.body["limit"]) == 200 for c in pages)
    assert rows(server, "select count(*) from accounts where active")[0][0] == 450

    server.submit(
        "techalert.send",
        {"severity": "outage", "message": "Phones are down", "audience": "everyone"},
        user=ADMIN,
        selects=("severity",),
        multis=("audience",),
    )
    fake.wait_for(lambda: len(copies_sent(fake)) >= 450, timeout=60)
    time.sleep(0.5)
    recipients = [m["channel"] for m in copies_sent(fake)]
    assert len(recipients) == len(set(recipients)) == 450
    assert not {"DUBOTX", "DUSLACKBOT", "DUGONE", "DUGUEST", "DUGUEST2"} & set(recipients)
    assert not any(c in recipients for c in CHANNELS)
    # The admin's live count: one direct message, among the first to go out (channels are
    # sent in parallel, so not necessarily the very first), edited in place (a few times, not
    # once per copy) until it shows the final tally.
    (progress,) = fake.messages(ADMIN)
    assert fake.messages().index(progress) < 45
    (first_post,) = [
        c for c in fake.calls("chat.postMessage") if dm_id(c.body["channel"]) == dm_id(ADMIN)
    ]
    assert "is going out" in json.dumps(first_post.body["blocks"])
    fake.wait_for(lambda: "is delivered: *450* of 450" in progress_text(fake), timeout=15)
    assert len([c for c in fake.calls("chat.update") if c.body["channel"] == dm_id(ADMIN)]) <= 6


def test_department_audience_reaches_only_its_members(make_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.test_alert_faults import seed_people

    config = tmp_path / "techhelp.yml"
    config.write_text(
        "departments:\n  - {name: Finance, members: [UEMP0001, UEMP0003]}\n"
        "  - {name: Parks, members: [UEMP0002]}\n"
    )
    server = make_server(TECHHELP_CONFIG=str(config)).start()
    seed_people(server, 5, departments={"UEMP0001": "Finance", "UEMP0003": "Finance"})
    server.command("", command="/techalert", user=ADMIN)
    server.fake.wait_for(lambda: server.fake.calls("views.open"))
    view = json.dumps(server.fake.calls("views.open")[-1].body["view"])
    assert "department:Finance" in view and "department:Parks" in view
    server.submit(
        "techalert.send",
        {"severity": "info", "message": "Payroll closes early", "audience": "department:Finance"},
        user=ADMIN,
        selects=("severity",),
        multis=("audience",),
    )
    server.fake.wait_for(lambda: len(copies_sent(server.fake)) >= 2)
    time.sleep(0.5)
    assert sorted(m["channel"] for m in copies_sent(server.fake)) == ["DUEMP0001", "DUEMP0003"]


def test_several_departments_and_the_channels_in_one_alert(make_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.test_alert_faults import seed_people

    config = tmp_path / "techhelp.yml"
    config.write_text(
        "departments:\n  - {name: Finance, members: [UEMP0001]}\n"
        "  - {name: Parks, members: [UEMP0002]}\n  - {name: Lands, members: [UEMP0003]}\n"
    )
    server = make_server(
        TECHHELP_CONFIG=str(config), TECHHELP_ALERT_CHANNELS=",".join(CHANNELS)
    ).start()
    seed_people(
        server, 5, departments={"UEMP0001": "Finance", "UEMP0002": "Parks", "UEMP0003": "Lands"}
    )
    server.command("", command="/techalert", user=ADMIN)
    server.fake.wait_for(lambda: server.fake.calls("views.open"))
    (audience,) = [
        b
        for b in server.fake.calls("views.open")[-1].body["view"]["blocks"]
        if b.get("block_id") == "audience"
    ]
    assert audience["element"]["type"] == "multi_static_select"
    submitted = server.submit(
        "techalert.send",
        {
            "severity": "maintenance",
            "message": "Field tablets update tonight",
            "audience": "channels\ndepartment:Finance\ndepartment:Parks",
        },
        user=ADMIN,
        selects=("severity",),
        multis=("audience",),
    )
    # The modal becomes the confirmation of where the alert goes.
    assert submitted.json()["response_action"] == "update", submitted.text
    assert "going out to 2 channels and 2 people" in json.dumps(submitted.json()["view"])
    server.fake.wait_for(lambda: len(copies_sent(server.fake)) >= 2 + len(CHANNELS))
    time.sleep(0.5)
    assert sorted(m["channel"] for m in copies_sent(server.fake)) == sorted(
        ["DUEMP0001", "DUEMP0002", *CHANNELS]
    )
