"""Pulse checks end to end: `chatbot serve` (a real process where it is killed), the directory
synced by `chatbot clock --once` from a paginated users.list, signed slash commands and clicks,
and the fake Slack checking every message is valid Block Kit."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.conftest import ADMIN, Server, sqlite_only
from tests.fakes.payloads import block_actions
from tests.test_intake import reply_text, rows
from tests.test_techalert import directory_users

IT = "CITCHAN"
# The answers as stored: counts per option, no row per answer.
COUNTED = "select option, sum(count) from survey_tallies group by option having sum(count) > 0"
ANSWERS = "select coalesce(sum(count), 0) from survey_tallies"


@pytest.fixture
def server(make_server) -> Server:  # type: ignore[no-untyped-def]
    return make_server(TECHHELP_IT_CHANNEL=IT).start()


def sync_directory(server: Server) -> None:
    server.fake.set_users(directory_users())
    server.clock_once()


def survey_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def handled(server: Server) -> None:
    """Every acknowledged click has been handled: none is left in the inbox."""
    server.fake.wait_for(lambda: rows(server, "select count(*) from inbox")[0][0] == 0)


def replaced(server: Server, count: int) -> list[dict[str, Any]]:
    server.fake.wait_for(lambda: len(server.fake.calls("response_url")) >= count)
    return [c.body for c in server.fake.calls("response_url")]


def test_send_click_change_comment_close(server: Server) -> None:
    fake = server.fake
    sync_directory(server)
    pages = [c for c in fake.calls("users.list") if not c.status]
    assert len(pages) == 3  # 455 members, 200 a page

    said = reply_text(
        server.command("send How well does IT support you?", command="/pulse", user=ADMIN)
    )
    assert "PS-1" in said and "450 people" in said
    fake.wait_for(lambda: len(fake.messages()) >= 450, timeout=60)
    time.sleep(0.3)
    recipients = [m["channel"] for m in fake.messages()]
    assert len(recipients) == len(set(recipients)) == 450  # bots, deleted, guests skipped
    assert not {"DUBOTX", "DUSLACKBOT", "DUGONE", "DUGUEST", "DUGUEST2"} & set(recipients)

    (message,) = fake.messages("DUEMP007")
    assert "How well does IT support you?" in json.dumps(message["blocks"])
    assert "Anonymous" in json.dumps(message["blocks"])
    options = survey_buttons(message)
    assert [b["text"]["text"] for b in options] == ["1", "2", "3", "4", "5"]

    assert (
        server.click(options[3]["action_id"], options[3]["value"], user="UEMP007").status_code
        == 200
    )
    thanks = replaced(server, 1)[-1]
    assert thanks["replace_original"] in (True, "true")
    assert "Thank you" in json.dumps(thanks) and "*4*" in json.dumps(thanks)
    # Their next click comes from the thank-you, which replaced the message.
    again = survey_buttons(thanks)[1]
    server.click(again["action_id"], again["value"], user="UEMP007")
    assert "*2*" in json.dumps(replaced(server, 2)[-1])
    assert [tuple(r) for r in rows(server, COUNTED)] == [(1, 1)]
    assert rows(server, "select option from survey_recipients where user_id = 'UEMP007'") == [
        (None,)
    ]

    comment = next(
        b for b in survey_buttons(replaced(server, 2)[-1]) if b["text"]["text"] == "Add a comment"
    )
    server.click(comment["action_id"], comment["value"], user="UEMP007")
    fake.wait_for(lambda: fake.calls("views.open"))
    view = fake.calls("views.open")[-1].body["view"]
    assert view["callback_id"] == "pulse.comment_form"
    done = server.submit(
        "pulse.comment_form",
        {"comment": "Quick and kind"},
        user="UEMP007",
        private_metadata=view["private_metadata"],
    )
    # The modal becomes what the form did, with Done to close it.
    assert done.json()["response_action"] == "update", done.text
    assert "your comment on *PS-1* is recorded" in json.dumps(done.json()["view"]), done.text
    assert "Quick and kind" in str(rows(server, "select comments from survey_comments")[0][0])

    closed = reply_text(server.command("close PS-1", command="/pulse", user=ADMIN))
    assert "is closed" in closed
    fake.wait_for(lambda: fake.messages(IT))
    (results,) = fake.messages(IT)
    text = json.dumps(results["blocks"])
    assert "Pulse results: PS-1" in text and "1 of 450" in text
    assert "fewer than 3 answers" in text and "Quick and kind" not in text

    theirs = survey_buttons(fake.messages("DUEMP008")[0])[4]  # a button of their own message
    server.click(theirs["action_id"], theirs["value"], user="UEMP008")
    late = replaced(server, 3)[-1]
    assert "not recorded" in json.dumps(late) and late.get("replace_original") in (False, "false")
    assert rows(server, ANSWERS)[0][0] == 1
    assert "PS-1" in reply_text(server.command("results", command="/pulse", user=ADMIN))


@sqlite_only("a refusal before anything is stored")
def test_non_admin_is_told_and_nothing_is_sent(server: Server) -> None:
    sync_directory(server)
    said = reply_text(server.command("send Rate us", command="/pulse", user="UEMP001"))
    assert "Only IT administrators" in said
    time.sleep(0.3)
    assert rows(server, "select count(*) from surveys")[0][0] == 0
    assert server.fake.calls("chat.postMessage") == []


def test_double_delivered_click_and_forged_value(server: Server) -> None:
    fake = server.fake
    sync_directory(server)
    server.command("send Rate us", command="/pulse", user=ADMIN)
    fake.wait_for(lambda: fake.messages("DUEMP001"))
    options = survey_buttons(fake.messages("DUEMP001")[0])
    body = block_actions("UEMP001", options[4]["action_id"], options[4]["value"])
    headers = {"X-Slack-Retry-Num": "1"}
    assert server.post(body).status_code == 200
    assert server.post(body, headers=headers).status_code == 200  # Slack's retry
    handled(server)
    assert rows(server, ANSWERS)[0][0] == 1
    assert rows(server, "select count(*) from interactions where kind = 'action'")[0][0] == 1

    forged = options[0]["value"].rsplit(".", 1)[0] + ".0123456789abcdef01234567"
    server.click(options[0]["action_id"], forged, user="UEMP002")
    fake.wait_for(
        lambda: any("not valid" in json.dumps(c.body) for c in fake.calls("response_url"))
    )
    assert rows(server, ANSWERS)[0][0] == 1


def test_pulse_form_opens_and_schedules(server: Server) -> None:
    fake = server.fake
    sync_directory(server)
    server.command("", command="/pulse", user=ADMIN)
    fake.wait_for(lambda: fake.calls("views.open"))
    view = fake.calls("views.open")[-1].body["view"]
    assert view["callback_id"] == "pulse.define"
    answer = server.submit(
        "pulse.define",
        {
            "question": "Was the new VPN easy to set up?",
            "options": "Yes\nNo\nDidn't try",
            "audience": "everyone",
            "schedule": "weekly",
            "at": "10:00",
            "anonymous": "no",
            "reminder": "24",
            "closing": "48",
        },
        user=ADMIN,
        selects=("schedule", "anonymous"),
        multis=("audience",),
    )
    assert answer.json()["response_action"] == "update", answer.text
    assert "is scheduled" in json.dumps(answer.json()["view"]), answer.text
    stored = rows(server, "select question, options, schedule, anonymous from surveys")
    assert [
        (r[0], json.loads(r[1]) if isinstance(r[1], str) else r[1], r[2], bool(r[3]))
        for r in stored
    ] == [("Was the new VPN easy to set up?", ["Yes", "No", "Didn't try"], "0 10 * * mon", False)]
    assert "weekly at 10:00 (UTC)" in reply_text(
        server.command("list", command="/pulse", user=ADMIN)
    )
    time.sleep(0.3)
    assert fake.calls("chat.postMessage") == []  # the first run is next Monday at 10:00


def test_acknowledged_clicks_survive_a_crash_before_they_are_handled(make_server) -> None:  # type: ignore[no-untyped-def]
    """A click is acknowledged once it is stored. `serve --web-only` stores and acknowledges but
    handles nothing (that is left to `chatbot clock`); killed with clicks stored, the next server
    records each exactly once (a retry included) and thanks each person once."""
    first = make_server(TECHHELP_IT_CHANNEL=IT).start()
    fake = first.fake
    sync_directory(first)
    first.command("send Rate us", command="/pulse", user=ADMIN)
    fake.wait_for(lambda: len(fake.messages()) >= 450, timeout=60)
    first.stop()

    web = make_server("--web-only", process=True, TECHHELP_IT_CHANNEL=IT).start()
    people = [f"UEMP{i:03d}" for i in range(1, 31)]
    bodies = []
    for n, user in enumerate(people):
        option = survey_buttons(fake.messages("D" + user)[0])[n % 5]
        reply_to = fake.response_url(f"crash-{user}")
        body = block_actions(user, option["action_id"], option["value"], response_url=reply_to)
        bodies.append(body)
        acked = web.post(body)
        assert acked.status_code == 200 and not acked.text
    assert web.post(bodies[0], headers={"X-Slack-Retry-Num": "1"}).status_code == 200
    assert rows(web, "select count(*) from inbox")[0][0] == len(people)
    assert rows(web, ANSWERS)[0][0] == 0
    assert fake.calls("response_url") == []
    web.kill9()

    after = make_server(TECHHELP_IT_CHANNEL=IT).start()
    handled(after)
    replies = replaced(after, len(people))
    time.sleep(0.5)  # nothing more comes
    assert len(fake.calls("response_url")) == len(replies) == len(people)
    assert all("Thank you" in json.dumps(reply) for reply in replies)
    answers = rows(after, "select option, sum(count) from survey_tallies group by option")
    assert sorted(tuple(r) for r in answers) == [(option, 6) for option in range(5)]
    assert rows(after, "select count(*) from interactions where kind = 'action'")[0][0] == 30
