"""Recovery in seconds, through real processes: a `chatbot serve` killed with SIGKILL mid-alert or
mid-burst of clicks, restarted on the same database. What it had claimed is taken over as soon
as its heartbeat stops, not when a minute's lease runs out; nothing is lost or sent twice, and a
person's last click is the answer that stands."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import ADMIN, Server
from tests.test_intake import reply_text, rows
from tests.test_pulse_server import survey_buttons, sync_directory
from tests.test_techalert import copies_sent

CHANNELS = tuple(f"CALERT{i:02d}" for i in range(60))
RESUME_WITHIN = 5.0  # seconds from the restart to the next copy posted


def test_kill_9_mid_alert_to_60_channels_resumes_within_5_s(make_server) -> None:  # type: ignore[no-untyped-def]
    # The workspace allows 2 posts a second and the bot is paced to it: 60 copies take 30 s.
    server = make_server(
        process=True, TECHHELP_ALERT_CHANNELS=",".join(CHANNELS), DELIVERY_RATE="2"
    ).start()
    fake = server.fake
    fake.rate_limit("chat.postMessage", per_second=2, burst=2)
    assert "AL-1" in reply_text(
        server.command("outage Email is down", command="/techalert", user=ADMIN)
    )
    fake.wait_for(lambda: len(copies_sent(fake)) >= 8, timeout=20)
    server.kill9()
    before = len(copies_sent(fake))
    assert before < len(CHANNELS)

    server.restart()  # the same database and outbox
    restarted = time.monotonic()
    fake.wait_for(lambda: len(copies_sent(fake)) > before, timeout=RESUME_WITHIN)
    resumed = time.monotonic() - restarted
    # The rest at the paced rate, plus the bound: far inside the old lease of a minute.
    left = len(CHANNELS) - before
    fake.wait_for(
        lambda: len(copies_sent(fake)) >= len(CHANNELS), timeout=RESUME_WITHIN + left / 2 + 5
    )
    done = time.monotonic() - restarted
    time.sleep(1.0)  # a copy posted twice would arrive now
    assert Counter(m["channel"] for m in copies_sent(fake)) == Counter(CHANNELS)
    unsent = "select count(*) from deliveries where batch = 'alert:1' and status <> 'sent'"
    fake.wait_for(lambda: rows(server, unsent)[0][0] == 0, timeout=5, interval=0.2)
    print(
        f"killed after {before}/60; resumed {resumed:.1f} s and all 60 {done:.1f} s after restart"
    )


def test_kill_while_sending_is_checked_and_taken_over_within_5_s(make_server) -> None:  # type: ignore[no-untyped-def]
    # Slack stores the card but its answer never comes back; the process is killed meanwhile.
    # The lease is the default minute: the takeover must not wait for it.
    server = make_server(process=True).start()
    fake = server.fake
    fake.stall_after_store("chat.postMessage")
    server.command("in doubt")
    fake.wait_for(lambda: fake.messages("CTRIAGE"), timeout=10)
    server.kill9()
    fake.release()
    server.restart()
    restarted = time.monotonic()
    sent = "select count(*) from deliveries where status = 'sent'"
    fake.wait_for(lambda: rows(server, sent)[0][0] == 2, timeout=RESUME_WITHIN, interval=0.1)
    print(f"taken over {time.monotonic() - restarted:.1f} s after restart")
    time.sleep(0.5)
    assert len(fake.messages("CTRIAGE")) == 1  # looked before posting again: not twice
    assert len(fake.messages("UALICE")) == 1
    assert fake.calls("conversations.history")


def _answers(server: Server) -> list[tuple[int, int]]:
    counted = "select option, sum(count) from survey_tallies group by option having sum(count) > 0"
    return sorted((int(o), int(n)) for o, n in rows(server, counted))


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # row locks hold it up
def test_kill_9_an_older_click_never_overrides_the_newer_one(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(process=True, TECHHELP_IT_CHANNEL="CITCHAN").start()
    fake = server.fake
    sync_directory(server)
    said = reply_text(server.command("send Is the VPN fast enough?", command="/pulse", user=ADMIN))
    assert "PS-1" in said
    fake.wait_for(lambda: len(fake.messages()) >= 450, timeout=60)
    people = ("UEMP001", "UEMP002", "UEMP003")
    buttons = {u: survey_buttons(fake.messages(f"D{u}")[0]) for u in people}

    def click(user: str, option: int) -> None:
        button = buttons[user][option]
        assert server.click(button["action_id"], button["value"], user=user).status_code == 200

    def inbox(where: str = "true") -> int:
        return int(rows(server, f"select count(*) from inbox where {where}")[0][0])

    # The inbox worker is held up handling two other people's clicks (their rows are locked),
    # so that the person's first click is claimed with the second of them and never handled.
    engine = create_engine(
        server.env["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://")
    )
    held = []
    for user in people[:2]:
        connection = engine.connect()
        connection.begin()
        connection.execute(
            text("select 1 from survey_recipients where user_id = :u for update"), {"u": user}
        )
        held.append(connection)
    try:
        click("UEMP001", 0)
        fake.wait_for(lambda: inbox("lease_until is not null") == 1, timeout=10)
        click("UEMP002", 0)
        click("UEMP003", 1)  # the older click
        held[0].rollback()  # the first is handled; the next round claims the other two
        fake.wait_for(lambda: inbox("lease_until is not null") == 2 and inbox() == 2, timeout=10)
        click("UEMP003", 3)  # no thank-you came: the person clicks again, another option
        assert inbox() == 3 and inbox("lease_until is null") == 1
        server.kill9()
    finally:
        for connection in held:
            connection.close()
        engine.dispose()
    replied = len(fake.calls("response_url"))

    server.restart()
    restarted = time.monotonic()
    fake.wait_for(lambda: inbox() == 0, timeout=RESUME_WITHIN, interval=0.1)
    print(f"inbox empty {time.monotonic() - restarted:.1f} s after restart")
    time.sleep(1.0)  # a late reply to the older click would come now
    after = [json.dumps(c.body) for c in fake.calls("response_url")[replied:]]
    # UEMP002's click, taken over from the dead process, and UEMP003's last one: thanked once.
    assert len(after) == 2 and all("Thank you" in a for a in after)
    assert sum("*4*" in a for a in after) == 1 and not any("*2*" in a for a in after)
    assert _answers(server) == [(0, 2), (3, 1)]  # the last click stands


def test_a_public_channel_copy_in_doubt_is_checked_by_joining_it(make_server) -> None:  # type: ignore[no-untyped-def]
    # The bot posts to a public channel it is not in (chat:write.public); the post times out
    # when the process is killed. Reading the channel needs membership: the next process joins.
    server = make_server(process=True, TECHHELP_ALERT_CHANNELS="CPUBLIC").start()
    fake = server.fake
    fake.without_bot("CPUBLIC")
    fake.stall_after_store("chat.postMessage")
    server.command("outage Wi-Fi is down", command="/techalert", user=ADMIN)
    fake.wait_for(lambda: fake.messages("CPUBLIC"), timeout=10)
    server.kill9()
    fake.release()
    server.restart()
    sent = "select count(*) from deliveries where batch = 'alert:1' and status = 'sent'"
    fake.wait_for(lambda: rows(server, sent)[0][0] == 1, timeout=RESUME_WITHIN, interval=0.1)
    assert len(copies_sent(fake)) == 1  # found, not posted again
    assert fake.is_member("CPUBLIC") and len(fake.calls("conversations.join")) == 1
    # The copy is known now: the resolution reaches it.
    assert "resolved after" in reply_text(
        server.command("resolve AL-1 Back up", command="/techalert", user=ADMIN)
    )
    fake.wait_for(lambda: fake.calls("chat.update"), timeout=10)
    (edit,) = fake.calls("chat.update")
    assert edit.body["channel"] == "CPUBLIC" and edit.body["ts"] == copies_sent(fake)[0]["ts"]


def test_fake_slack_models_channel_membership(fake_slack) -> None:  # type: ignore[no-untyped-def]
    """Reads need membership, a public channel takes posts without it, a private one takes
    nothing, and only a public one can be joined."""
    import httpx

    fake_slack.without_bot("CPUB", "GPRIV")

    def call(method: str, **body: str) -> dict:  # type: ignore[type-arg]
        answer = httpx.post(
            f"{fake_slack.url}{method}", data=body, headers={"Authorization": "Bearer x"}
        )
        return answer.json()  # type: ignore[no-any-return]

    assert call("chat.postMessage", channel="CPUB", text="hi")["ok"]
    assert call("chat.postMessage", channel="GPRIV", text="hi")["error"] == "not_in_channel"
    assert call("conversations.history", channel="CPUB")["error"] == "not_in_channel"
    assert (
        call("conversations.join", channel="GPRIV")["error"]
        == "method_not_supported_for_channel_type"
    )
    assert call("conversations.join", channel="CPUB") == {
        "ok": True,
        "channel": {"id": "CPUB", "is_member": True},
    }
    assert call("conversations.join", channel="CPUB")["warning"] == "already_in_channel"
    assert [m["text"] for m in call("conversations.history", channel="CPUB")["messages"]] == ["hi"]
