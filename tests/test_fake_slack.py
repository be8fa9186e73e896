"""The fake Slack Web API answers a real slack_sdk WebClient the way Slack does."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.fakes.slack_api import FakeSlack


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def client(fake: FakeSlack, timeout: int = 5) -> WebClient:
    return WebClient(token="xoxb-test", base_url=fake.url, timeout=timeout)


def section(text: str) -> list[dict]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


def test_post_then_history_with_metadata(fake: FakeSlack) -> None:
    slack = client(fake)
    assert slack.auth_test()["user_id"] == "UBOT"
    metadata = {"event_type": "techhelp_delivery", "event_payload": {"key": "k1"}}
    first = slack.chat_postMessage(channel="C1", text="one", blocks=section("one"))
    second = slack.chat_postMessage(channel="C1", text="two", metadata=metadata)
    assert float(second["ts"]) > float(first["ts"])

    plain = slack.conversations_history(channel="C1")["messages"]
    assert [m["text"] for m in plain] == ["two", "one"]  # newest first
    assert all("metadata" not in m for m in plain)
    full = slack.conversations_history(channel="C1", include_all_metadata=True)["messages"]
    assert full[0]["metadata"] == metadata
    assert slack.conversations_history(channel="C1", oldest=first["ts"])["messages"] == plain[:1]

    assert [m["text"] for m in fake.messages("C1")] == ["one", "two"]
    assert fake.calls("chat.postMessage")[0].body["blocks"] == section("one")
    assert fake.calls("chat.postMessage")[0].headers["authorization"] == "Bearer xoxb-test"
    assert fake.errors == []


def test_dm_ids_and_update(fake: FakeSlack) -> None:
    slack = client(fake)
    assert slack.conversations_open(users="U123")["channel"]["id"] == "DU123"
    posted = slack.chat_postMessage(channel="U123", text="hello")
    assert posted["channel"] == "DU123"
    assert fake.messages("U123") == fake.messages("DU123") != []

    slack.chat_update(channel="DU123", ts=posted["ts"], text="edited", blocks=section("edited"))
    assert fake.messages("U123")[0]["text"] == "edited"
    with pytest.raises(SlackApiError) as missing:
        slack.chat_update(channel="DU123", ts="1.000001", text="nope")
    assert missing.value.response["error"] == "message_not_found"
    with pytest.raises(SlackApiError) as no_channel:
        slack.chat_postMessage(channel="", text="x")
    assert no_channel.value.response["error"] == "channel_not_found"
    assert fake.errors == []


def test_users_list_paginates(fake: FakeSlack) -> None:
    fake.set_users([{"id": f"U{i:03d}", "name": f"user{i}"} for i in range(5)])
    slack = client(fake)
    pages, cursor = [], None
    while True:
        page = slack.users_list(limit=2, cursor=cursor)
        pages.append([u["id"] for u in page["members"]])
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert pages == [["U000", "U001"], ["U002", "U003"], ["U004"]]
    assert slack.users_info(user="U003")["user"]["name"] == "user3"
    with pytest.raises(SlackApiError):
        slack.users_info(user="UNOBODY")


def test_fail_next_answers_429_with_retry_after(fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=3)
    slack = client(fake)
    with pytest.raises(SlackApiError) as limited:
        slack.chat_postMessage(channel="C1", text="x")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] in ("3", ["3"])
    assert slack.chat_postMessage(channel="C1", text="x")["ok"]  # only the next one failed
    assert [c.status for c in fake.calls("chat.postMessage")] == [429, None]
    assert len(fake.messages()) == 1


def test_outage_answers_503(fake: FakeSlack) -> None:
    slack = client(fake)
    with fake.outage_window():
        with pytest.raises(SlackApiError) as down:
            slack.chat_postMessage(channel="C1", text="x")
        assert down.value.response.status_code == 503
    assert slack.chat_postMessage(channel="C1", text="x")["ok"]
    assert [c.status for c in fake.calls()] == [503, None]


def test_invalid_blocks_are_reported(fake: FakeSlack) -> None:
    slack = client(fake)
    with pytest.raises(SlackApiError) as rejected:
        slack.chat_postMessage(channel="C1", text="x", blocks=section("a" * 3001))
    assert rejected.value.response["error"] == "invalid_blocks"
    button = {"type": "button", "text": {"type": "plain_text", "text": "b" * 76}, "value": "v"}
    with pytest.raises(SlackApiError):
        slack.chat_postMessage(
            channel="C1", text="x", blocks=[{"type": "actions", "elements": [button]}]
        )
    assert fake.messages() == []
    assert len(fake.errors) == 2 and "button text" in fake.errors[1]
    fake.errors.clear()  # the conftest-style check below would otherwise fail


def test_stall_after_store_posts_but_never_answers(fake: FakeSlack) -> None:
    fake.stall_after_store("chat.postMessage")
    started = time.monotonic()
    with pytest.raises(Exception):  # noqa: B017 - urllib's time-out, whatever its class
        client(fake, timeout=1).chat_postMessage(channel="C1", text="in doubt")
    assert time.monotonic() - started < 3
    assert [m["text"] for m in fake.messages("C1")] == ["in doubt"]
    fake.release()
    found = client(fake).conversations_history(channel="C1")["messages"]
    assert [m["text"] for m in found] == ["in doubt"]


def test_rate_limit_is_a_token_bucket(fake: FakeSlack) -> None:
    fake.rate_limit("chat.postMessage", per_second=2, burst=2)
    slack = client(fake)
    slack.chat_postMessage(channel="C1", text="1")
    slack.chat_postMessage(channel="C1", text="2")
    with pytest.raises(SlackApiError) as limited:
        slack.chat_postMessage(channel="C1", text="3")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] in ("1", ["1"])
    time.sleep(0.55)
    assert slack.chat_postMessage(channel="C1", text="4")["ok"]
    assert [m["text"] for m in fake.messages()] == ["1", "2", "4"]


def test_views_response_url_and_wait_for(fake: FakeSlack) -> None:
    slack = client(fake)
    view = {"type": "home", "blocks": section("Welcome")}
    assert slack.views_publish(user_id="U1", view=view)["view"]["id"].startswith("V")
    assert fake.home("U1")["blocks"] == section("Welcome")

    import urllib.request

    request = urllib.request.Request(
        fake.response_url("abc"), data=b'{"text": "done"}', method="POST"
    )
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.read() == b"ok"
    assert fake.wait_for(lambda: fake.calls("response_url"))[0].body == {"text": "done"}
    with pytest.raises(AssertionError, match="response_url"):
        fake.wait_for(lambda: fake.calls("nothing"), timeout=0.1)
    assert fake.errors == []
