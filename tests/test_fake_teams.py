"""The fake Microsoft side behaves like Teams: what the bot's tests rely on is checked here against
the real clients the bot uses (MSAL for the token, PyJWT's JWKS client for inbound tokens, httpx
over TLS for the Bot Connector)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import msal
import pytest

from tests.fakes import teams_payloads as payloads
from tests.fakes.teams import (
    BOT_SCOPE,
    CARD,
    FORGERIES,
    MAX_ACTIVITY_BYTES,
    FakeTeams,
    activity_size,
    invoke_response_problems,
)

# --- helpers ------------------------------------------------------------------------------------


def connector(fake: FakeTeams, token: str | None = None) -> httpx.Client:
    """An httpx client for the Bot Connector, as the bot holds it (TLS through the fake's CA)."""
    token = fake.access_token() if token is None else token
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(
        base_url=fake.service_url, verify=fake.ssl_context(), headers=headers, timeout=10
    )


def validate(fake: FakeTeams, token: str, service_url: str) -> dict[str, Any]:
    """Inbound token validation per the contract: key from the metadata's jwks_uri, RS256,
    iss/aud/exp/nbf with 5 minutes' leeway, serviceurl claim equal to the activity's."""
    context = fake.ssl_context()
    metadata = httpx.get(fake.openid_metadata_url, verify=context).json()
    client = jwt.PyJWKClient(metadata["jwks_uri"], ssl_context=context)
    key = client.get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience=fake.client_id,
        issuer="https://api.botframework.com",
        leeway=300,
        options={"require": ["exp", "nbf", "iss", "aud"]},
    )
    if str(claims.get("serviceurl", "")).rstrip("/") != service_url.rstrip("/"):
        raise jwt.InvalidTokenError(f"serviceurl {claims.get('serviceurl')!r}")
    return claims


def card(*body: dict[str, Any], actions: list[dict[str, Any]] | None = None, **extra: Any) -> dict:
    content = {"type": "AdaptiveCard", "version": "1.5", "body": list(body), **extra}
    if actions is not None:
        content["actions"] = actions
    return content


def message(content: dict[str, Any], text: str = "summary") -> dict[str, Any]:
    return {
        "type": "message",
        "text": text,
        "attachments": [{"contentType": CARD, "content": content}],
    }


def text(value: str, **extra: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": value, "wrap": True, **extra}


GOOD_CARD = card(
    text("Printer jammed <at>Alice Smith</at>", id="title", weight="Bolder"),
    {"type": "FactSet", "facts": [{"title": "Request", "value": "TH-12"}]},
    {
        "type": "ColumnSet",
        "columns": [{"type": "Column", "width": "auto", "items": [text("left")]}],
    },
    {"type": "Container", "items": [{"type": "Image", "url": "https://example.org/a.png"}]},
    {
        "type": "Table",
        "columns": [{"width": 1}],
        "rows": [{"type": "TableRow", "cells": [{"type": "TableCell", "items": [text("cell")]}]}],
    },
    {
        "type": "RichTextBlock",
        "inlines": [{"type": "TextRun", "text": "rich"}],
    },
    {
        "type": "Input.ChoiceSet",
        "id": "category",
        "isMultiSelect": True,
        "choices": [{"title": "Hardware", "value": "hardware"}],
    },
    {"type": "Input.Text", "id": "details", "isMultiline": True, "label": "Details"},
    {"type": "Input.Date", "id": "when.date"},
    {"type": "Input.Time", "id": "when.time"},
    {"type": "Input.Toggle", "id": "urgent", "title": "Urgent"},
    {"type": "Input.Number", "id": "count"},
    {
        "type": "ActionSet",
        "actions": [{"type": "Action.OpenUrl", "title": "Open", "url": "https://example.org"}],
    },
    actions=[
        {
            "type": "Action.Execute",
            "title": "Take it",
            "verb": "triage.take",
            "data": {"_value": "12"},
            "style": "positive",
        },
        {
            "type": "Action.Submit",
            "title": "Edit",
            "data": {"msteams": {"type": "task/fetch"}, "_form": "edit"},
        },
        {"type": "Action.ShowCard", "title": "More", "card": card(text("more"))},
        {"type": "Action.ToggleVisibility", "title": "Hide", "targetElements": ["title"]},
    ],
    msteams={
        "width": "Full",
        "entities": [
            {
                "type": "mention",
                "text": "<at>Alice Smith</at>",
                "mentioned": {"id": "29:1alice", "name": "Alice Smith"},
            }
        ],
    },
)

BAD_CARDS = {
    "version 1.4": {**GOOD_CARD, "version": "1.4"},
    "no version": {k: v for k, v in GOOD_CARD.items() if k != "version"},
    "unknown element": card(text("x"), {"type": "Marquee", "text": "x"}),
    "unknown action": card(text("x"), actions=[{"type": "Action.Http", "title": "x"}]),
    "Execute without verb": card(
        text("x"), actions=[{"type": "Action.Execute", "title": "x", "data": {}}]
    ),
    "plain Action.Submit": card(
        text("x"), actions=[{"type": "Action.Submit", "title": "x", "data": {"a": 1}}]
    ),
    "TextBlock without text": card({"type": "TextBlock", "wrap": True}),
    "Image without url": card({"type": "Image", "altText": "x"}),
    "fact without value": card({"type": "FactSet", "facts": [{"title": "x"}]}),
    "choice without value": card(
        {"type": "Input.ChoiceSet", "id": "c", "choices": [{"title": "x"}]}
    ),
    "input without id": card({"type": "Input.Text", "label": "x"}),
    "duplicate ids": card(text("a", id="same"), text("b", id="same")),
    "unknown property (schema)": card(text("x", colour="red")),
    "wrong property type (schema)": card(text("x", wrap="yes")),
    "mention not in text": card(
        text("no mention here"),
        msteams={
            "entities": [
                {
                    "type": "mention",
                    "text": "<at>Bob</at>",
                    "mentioned": {"id": "29:1b", "name": "Bob"},
                }
            ]
        },
    ),
}


WHY = {  # what the refusal says, per bad card
    "version 1.4": "version '1.4' (Teams needs 1.5 or later)",
    "no version": "version None",
    "unknown element": "unknown element type 'Marquee'",
    "unknown action": "unknown action type 'Action.Http'",
    "Execute without verb": "Action.Execute needs a verb",
    "plain Action.Submit": "Action.Submit only opens a dialog",
    "TextBlock without text": "TextBlock needs text",
    "Image without url": "Image needs a url",
    "fact without value": "a fact needs title and value",
    "choice without value": "a choice needs title and value",
    "input without id": "Input.Text needs an id",
    "duplicate ids": "id 'same' is also used at",
    "unknown property (schema)": "('colour' was unexpected)",
    "wrong property type (schema)": "'yes' is not of type 'boolean'",
    "mention not in text": "mention text '<at>Bob</at>' does not appear",
}


@pytest.fixture
def fake(fake_teams: FakeTeams) -> FakeTeams:
    """The conftest fixture (which fails a test leaving anything in `rejected`)."""
    return fake_teams


# --- the token: MSAL's client-credentials flow ---------------------------------------------------


def test_msal_gets_a_bot_token_from_the_fake(
    fake: FakeTeams, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake.ca_pem))
    app = msal.ConfidentialClientApplication(
        fake.client_id,
        client_credential=fake.client_secret,
        authority=f"{fake.login_endpoint}/{fake.tenant_id}",
        instance_discovery=False,
    )
    result = app.acquire_token_for_client(scopes=[BOT_SCOPE])
    assert "access_token" in result, result
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] > 3000
    # The token opens the Bot Connector; a made-up one does not.
    with connector(fake, result["access_token"]) as client:
        assert client.get(f"v3/conversations/{fake.team_id}/pagedmembers").status_code == 200
    with connector(fake, "eyJhbGciOiJub25lIn0.e30.") as client:
        assert client.get(f"v3/conversations/{fake.team_id}/pagedmembers").status_code == 401


def test_msal_reports_a_wrong_secret_as_entra_does(
    fake: FakeTeams, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake.ca_pem))
    app = msal.ConfidentialClientApplication(
        fake.client_id,
        client_credential="not-the-secret",
        authority=f"{fake.login_endpoint}/{fake.tenant_id}",
        instance_discovery=False,
    )
    result = app.acquire_token_for_client(scopes=[BOT_SCOPE])
    assert result.get("error") == "invalid_client"
    assert "AADSTS7000215" in result["error_description"]


def test_msal_refuses_an_unknown_tenant(fake: FakeTeams, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake.ca_pem))
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        msal.ConfidentialClientApplication(
            fake.client_id,
            client_credential=fake.client_secret,
            authority=f"{fake.login_endpoint}/not-our-tenant",
            instance_discovery=False,
        )


@pytest.mark.parametrize(
    ("change", "status", "error", "code"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client", "AADSTS7000215"),
        (
            {"client_id": "00000000-0000-0000-0000-000000000000"},
            400,
            "unauthorized_client",
            "AADSTS700016",
        ),
        ({"scope": "https://graph.microsoft.com/.default"}, 400, "invalid_scope", "AADSTS1002012"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type", "AADSTS70003"),
        ({"tenant": "another-tenant"}, 400, "invalid_tenant", "AADSTS90002"),
    ],
)
def test_token_endpoint_refuses_wrong_credentials(
    fake: FakeTeams, change: dict[str, str], status: int, error: str, code: str
) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "scope": BOT_SCOPE,
    } | change
    tenant = form.pop("tenant", fake.tenant_id)
    answer = httpx.post(
        f"{fake.login_endpoint}/{tenant}/oauth2/v2.0/token", data=form, verify=fake.ssl_context()
    )
    assert answer.status_code == status
    assert answer.json()["error"] == error
    assert answer.json()["error_description"].startswith(code)
    assert "access_token" not in answer.json()


def test_token_endpoint_answers_the_contract(fake: FakeTeams) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "scope": BOT_SCOPE,
    }
    for tenant in (fake.tenant_id, "botframework.com"):
        answer = httpx.post(
            f"{fake.login_endpoint}/{tenant}/oauth2/v2.0/token",
            data=form,
            verify=fake.ssl_context(),
        )
        assert answer.status_code == 200
        body = answer.json()
        assert (
            body["token_type"] == "Bearer" and body["expires_in"] == 3599 and body["access_token"]
        )
    assert [c.status for c in fake.token_requests] == [200, 200]


def test_an_expired_bot_token_is_refused(fake: FakeTeams) -> None:
    with connector(fake) as client:
        assert client.get(f"v3/conversations/{fake.team_id}/pagedmembers").status_code == 200
        fake.expire_tokens()
        answer = client.get(f"v3/conversations/{fake.team_id}/pagedmembers")
    assert answer.status_code == 401
    with connector(fake, "") as client:
        assert client.post("v3/conversations", json={}).status_code == 401


def test_the_fake_speaks_tls_only_to_clients_trusting_its_ca(fake: FakeTeams) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get(fake.openid_metadata_url, verify=True)


# --- inbound tokens: JWKS and forgeries -----------------------------------------------------------


def test_a_minted_token_validates_against_the_jwks(fake: FakeTeams) -> None:
    claims = validate(fake, fake.token(), fake.service_url)
    assert claims["aud"] == fake.client_id
    assert claims["iss"] == "https://api.botframework.com"
    assert claims["serviceurl"] == fake.service_url
    assert claims["nbf"] <= time.time() < claims["exp"]
    # A trailing slash is ignored; another service URL minted on purpose validates for it.
    validate(fake, fake.token(), fake.service_url.rstrip("/"))
    other = "https://smba.trafficmanager.net/emea/"
    validate(fake, fake.token(service_url=other), other)
    # The Teams SDK's JWKS location (metadata URL with /openidconfiguration -> /keys) agrees.
    metadata = httpx.get(fake.openid_metadata_url, verify=fake.ssl_context()).json()
    assert metadata["jwks_uri"] == fake.openid_metadata_url.replace("/openidconfiguration", "/keys")


@pytest.mark.parametrize("forgery", FORGERIES)
def test_each_forged_token_is_refused(fake: FakeTeams, forgery: str) -> None:
    token = fake.token(forgery=forgery)
    with pytest.raises(jwt.PyJWTError):
        validate(fake, token, fake.service_url)


def test_an_unknown_forgery_is_an_error_not_a_valid_token(fake: FakeTeams) -> None:
    with pytest.raises(ValueError, match="unknown forgery"):
        fake.token(forgery="typo")


# --- the Bot Connector ----------------------------------------------------------------------------


def create_1on1(client: httpx.Client, fake: FakeTeams, member_id: str) -> httpx.Response:
    return client.post(
        "v3/conversations",
        json={
            "isGroup": False,
            "bot": {"id": fake.bot_id},
            "members": [{"id": member_id}],
            "tenantId": fake.tenant_id,
            "channelData": {"tenant": {"id": fake.tenant_id}},
        },
    )


def test_create_post_and_edit_a_personal_message(fake: FakeTeams) -> None:
    alice = payloads.person("alice", tenant_id=fake.tenant_id)
    fake.members = [alice]
    with connector(fake) as client:
        created = create_1on1(client, fake, alice["id"])
        assert created.status_code == 200, created.text
        conversation = created.json()["id"]
        assert conversation.startswith("a:")
        # The same person (by aadObjectId) gets the same 1:1, as in Teams; it is the one an
        # inbound activity from her names.
        assert create_1on1(client, fake, alice["aadObjectId"]).json()["id"] == conversation
        assert payloads.personal_conversation_id(fake, alice) == conversation

        posted = client.post(f"v3/conversations/{conversation}/activities", json=message(GOOD_CARD))
        assert posted.status_code == 200, posted.text
        activity_id = posted.json()["id"]
        edited_card = card(text("Printer jammed: resolved"))
        put = client.put(
            f"v3/conversations/{conversation}/activities/{activity_id}",
            json=message(edited_card, "resolved"),
        )
        assert put.status_code == 200 and put.json() == {"id": activity_id}
        missing = client.put(
            f"v3/conversations/{conversation}/activities/999", json=message(edited_card)
        )
        assert missing.status_code == 404
    now = fake.conversations[conversation]
    assert [a["id"] for a in now] == [activity_id]
    assert now[0]["attachments"][0]["content"] == edited_card
    assert now[0]["text"] == "resolved" and now[0]["from"]["id"] == fake.bot_id
    versions = fake.history[activity_id]
    assert [v["text"] for v in versions] == ["summary", "resolved"]
    assert [c.method for c in fake.calls] == ["POST", "POST", "POST", "PUT", "PUT"]
    assert fake.calls[2].body == message(GOOD_CARD)
    assert len(fake.rejected) == 1 and "999" in fake.rejected[0][1]
    fake.rejected.clear()


def test_create_conversation_checks_what_teams_checks(fake: FakeTeams) -> None:
    with connector(fake) as client:
        wrong_bot = client.post(
            "v3/conversations",
            json={
                "bot": {"id": "28:other"},
                "members": [{"id": "29:1x"}],
                "tenantId": fake.tenant_id,
            },
        )
        no_tenant = client.post(
            "v3/conversations", json={"bot": {"id": fake.bot_id}, "members": [{"id": "29:1x"}]}
        )
        fake.uninstalled.add("29:1gone")
        uninstalled = create_1on1(client, fake, "29:1gone")
        unknown_conversation = client.post(
            "v3/conversations/a:1nobody/activities", json={"type": "message", "text": "hi"}
        )
    assert wrong_bot.status_code == 400 and wrong_bot.json()["error"]["code"] == "BadArgument"
    assert no_tenant.status_code == 400
    assert uninstalled.status_code == 403
    assert unknown_conversation.status_code == 404
    assert len(fake.rejected) == 2
    fake.rejected.clear()


def test_reply_in_a_channel_thread(fake: FakeTeams) -> None:
    channel = "19:triage@thread.tacv2"
    with connector(fake) as client:
        root = client.post(
            f"v3/conversations/{channel}/activities", json=message(card(text("New request")))
        ).json()["id"]
        reply = client.post(
            f"v3/conversations/{channel};messageid={root}/activities",
            json={"type": "message", "text": "Taken by Bob"},
        )
        assert reply.status_code == 200, reply.text
        orphan = client.post(
            f"v3/conversations/{channel};messageid=12345/activities",
            json={"type": "message", "text": "lost"},
        )
        # A person's channel post (as Teams delivered it to the bot) can be replied to.
        post = payloads.channel_message(fake, payloads.person(1), "printer", channel_id=channel)
        fake.remember(post)
        answer = client.post(
            f"v3/conversations/{channel};messageid={post['id']}/activities",
            json={"type": "message", "text": "Got it"},
        )
        assert answer.status_code == 200
    assert orphan.status_code == 404
    assert [a["text"] for a in fake.thread(channel, root)] == ["Taken by Bob"]
    assert [a["text"] for a in fake.thread(channel, post["id"])] == ["Got it"]
    assert fake.thread(channel, root)[0]["conversation"]["id"] == f"{channel};messageid={root}"
    assert len(fake.messages(channel)) == 3
    assert [why for _, why in fake.rejected] == [f"reply to '12345', a message not in '{channel}'"]
    fake.rejected.clear()


def test_paged_members_with_continuation(fake: FakeTeams) -> None:
    fake.members = payloads.roster(7, tenant_id=fake.tenant_id)
    seen, token, pages = [], None, 0
    with connector(fake) as client:
        while True:
            params: dict[str, Any] = {"pageSize": 3}
            if token:
                params["continuationToken"] = token
            page = client.get(f"v3/conversations/{fake.team_id}/pagedmembers", params=params)
            assert page.status_code == 200
            pages += 1
            seen += page.json()["members"]
            token = page.json().get("continuationToken")
            if not token:
                break
        bad = client.get(
            f"v3/conversations/{fake.team_id}/pagedmembers",
            params={"continuationToken": "bm90LWEtdG9rZW4="},
        )
        everyone = client.get(f"v3/conversations/{fake.team_id}/pagedmembers").json()
    assert pages == 3
    assert seen == fake.members
    assert {"id", "name", "aadObjectId", "email", "userPrincipalName", "tenantId"} <= set(seen[0])
    assert bad.status_code == 400
    assert len(everyone["members"]) == 7 and "continuationToken" not in everyone


# --- rate limits and scripted faults --------------------------------------------------------------


def test_sends_to_one_conversation_past_teams_limit_get_429_with_retry_after(
    fake: FakeTeams,
) -> None:
    channel = "19:alerts@thread.tacv2"
    statuses, retry_after = [], None
    with connector(fake) as client:
        for i in range(12):
            answer = client.post(
                f"v3/conversations/{channel}/activities", json={"type": "message", "text": f"{i}"}
            )
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                retry_after = int(answer.headers["Retry-After"])
                break
        assert 429 in statuses, statuses
        # 7 per second, 8 per 2 seconds: the refusal comes after the 7th or the 8th send.
        assert statuses.index(429) in (7, 8)
        assert 1 <= retry_after <= 2
        assert len(fake.messages(channel)) == statuses.index(429)  # the refused one is not posted
        time.sleep(retry_after)
        again = client.post(
            f"v3/conversations/{channel}/activities", json={"type": "message", "text": "later"}
        )
        # Another conversation was never limited by this one's sends.
        other = client.post(
            "v3/conversations/19:other@thread.tacv2/activities",
            json={"type": "message", "text": "x"},
        )
    assert again.status_code == 200
    assert other.status_code == 200


def test_the_app_wide_limit_answers_429_past_it(fake: FakeTeams) -> None:
    fake.set_rate_limits(per_second=5)
    with connector(fake) as client:
        codes = [
            client.get(f"v3/conversations/{fake.team_id}/pagedmembers").status_code
            for _ in range(6)
        ]
    assert codes[:5] == [200] * 5
    assert codes[5] == 429
    assert fake.calls[5].status == 429


def test_never_more_than_50_calls_a_second_pass(fake: FakeTeams) -> None:
    """Teams' default: 50 requests per second per app per tenant, all Bot Connector calls."""

    def call(_: int) -> int:
        return client.get(f"v3/conversations/{fake.team_id}/pagedmembers").status_code

    token = fake.access_token()
    with connector(fake, token) as client, ThreadPoolExecutor(6) as pool:
        started = time.monotonic()
        codes = list(pool.map(call, range(70)))
        took = time.monotonic() - started
    passed = sorted(c.time for c in fake.calls if c.status == 200)
    busiest = max(sum(1 for t in passed if start <= t < start + 1) for start in passed)
    assert busiest <= 50
    assert codes.count(200) >= 50
    if took < 1:  # all 70 within one second: the 51st on must have been refused
        assert codes.count(429) >= 20


def test_fail_next_scripts_teams_faults(fake: FakeTeams) -> None:
    conversation = "19:general@thread.tacv2"
    fake.fail_next("POST", "v3/conversations/*/activities", 429, retry_after=7)
    fake.fail_next("POST", "*/activities", 412)
    fake.fail_next("*", "*/activities", 502)
    fake.fail_next("POST", "*/activities", 504)
    with connector(fake) as client:
        answers = [
            client.post(
                f"v3/conversations/{conversation}/activities", json={"type": "message", "text": "x"}
            )
            for _ in range(5)
        ]
    assert [a.status_code for a in answers] == [429, 412, 502, 504, 200]
    assert answers[0].headers["Retry-After"] == "7"
    assert answers[0].json()["error"]["code"] == "TooManyRequests"
    assert len(fake.messages(conversation)) == 1


def test_a_delayed_answer_times_out_the_client_but_the_message_is_posted(fake: FakeTeams) -> None:
    conversation = "19:general@thread.tacv2"
    fake.fail_next("POST", "*/activities", None, delay=1.0)
    with connector(fake) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post(
                f"v3/conversations/{conversation}/activities",
                json={"type": "message", "text": "slow"},
                timeout=0.3,
            )
        fake.wait_for(lambda: fake.messages(conversation), timeout=5)
    assert [a["text"] for a in fake.messages(conversation)] == ["slow"]


# --- cards ---------------------------------------------------------------------------------------


def test_a_good_adaptive_card_1_5_is_accepted(fake: FakeTeams) -> None:
    with connector(fake) as client:
        answer = client.post(
            "v3/conversations/19:x@thread.tacv2/activities", json=message(GOOD_CARD)
        )
    assert answer.status_code == 200, answer.text
    assert fake.rejected == []


@pytest.mark.parametrize("case", list(BAD_CARDS))
def test_a_bad_card_is_refused_with_why(fake: FakeTeams, case: str) -> None:
    with connector(fake) as client:
        answer = client.post(
            "v3/conversations/19:x@thread.tacv2/activities", json=message(BAD_CARDS[case])
        )
        edit = client.put(
            "v3/conversations/19:x@thread.tacv2/activities/1", json=message(BAD_CARDS[case])
        )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "BadArgument"
    assert edit.status_code == 400  # an edit is checked as a post is
    assert fake.messages() == []
    assert len(fake.rejected) == 2
    call, why = fake.rejected[0]
    assert call.body == message(BAD_CARDS[case])
    assert WHY[case] in why
    assert WHY[case] in answer.json()["error"]["message"]
    fake.rejected.clear()


def test_the_28kb_limit_counts_the_activity_json(fake: FakeTeams) -> None:
    def of_size(size: int) -> dict[str, Any]:
        activity = message(card(text("")))
        filler = size - activity_size(activity)
        activity["attachments"][0]["content"]["body"][0]["text"] = "x" * filler
        assert activity_size(activity) == size
        return activity

    with connector(fake) as client:
        at_limit = client.post(
            "v3/conversations/19:x@thread.tacv2/activities", json=of_size(MAX_ACTIVITY_BYTES)
        )
        over = client.post(
            "v3/conversations/19:x@thread.tacv2/activities", json=of_size(MAX_ACTIVITY_BYTES + 1)
        )
    assert at_limit.status_code == 200
    assert over.status_code == 400
    assert "28000" in fake.rejected[0][1]
    fake.rejected.clear()


def test_activities_without_content_or_with_a_stray_mention_are_refused(fake: FakeTeams) -> None:
    bad = [
        {"type": "message"},
        {"type": "message", "text": "hi", "attachments": [{"contentType": "text/x-unknown"}]},
        {
            "type": "message",
            "text": "hello",
            "entities": [{"type": "mention", "text": "<at>Eve</at>", "mentioned": {"id": "29:1e"}}],
        },
        {"type": "invoke", "name": "x"},
    ]
    with connector(fake) as client:
        codes = [
            client.post("v3/conversations/19:x@thread.tacv2/activities", json=a).status_code
            for a in bad
        ]
    assert codes == [400] * len(bad)
    assert len(fake.rejected) == len(bad)
    fake.rejected.clear()


def test_invoke_answers_are_checked() -> None:
    assert invoke_response_problems({"statusCode": 200, "type": CARD, "value": GOOD_CARD}) == []
    assert (
        invoke_response_problems(
            {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": "ok"}
        )
        == []
    )
    assert invoke_response_problems(
        {"statusCode": 200, "type": CARD, "value": BAD_CARDS["version 1.4"]}
    )
    assert invoke_response_problems({"statusCode": 200, "type": "text/plain", "value": "x"})


# --- inbound activities and post_activity -------------------------------------------------------


class _Bot(ThreadingHTTPServer):
    """A stand-in bot endpoint that keeps what it receives."""

    received: list[tuple[str, dict[str, Any]]]


@pytest.fixture
def bot() -> Iterator[_Bot]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            self.server.received.append((self.headers.get("Authorization", ""), body))  # type: ignore[attr-defined]
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = _Bot(("127.0.0.1", 0), Handler)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_inbound_activities_are_shaped_like_teams_and_signed(fake: FakeTeams, bot: _Bot) -> None:
    alice = payloads.person("alice")
    url = f"http://127.0.0.1:{bot.server_address[1]}"
    activities = [
        payloads.personal_message(fake, alice, "printer jammed"),
        payloads.channel_message(fake, alice, "vpn down"),
        payloads.card_action(fake, alice, "rating.rate:4", {"_value": "7"}, reply_to_id="1700"),
        payloads.members_added(fake, [alice], include_bot=True),
        payloads.installation_update(fake, alice),
    ]
    for activity in activities:
        assert fake.post_activity(url, activity).status_code == 200
    assert len({a["id"] for a in activities}) == len(activities)
    for (authorization, body), sent in zip(bot.received, activities, strict=True):
        assert body == sent
        validate(fake, authorization.removeprefix("Bearer "), body["serviceUrl"])

    personal, channel, invoke, update, install = activities
    assert personal["conversation"]["conversationType"] == "personal"
    assert personal["conversation"]["id"].startswith("a:")
    assert personal["from"] == {
        "id": alice["id"],
        "name": alice["name"],
        "aadObjectId": alice["aadObjectId"],
    }
    assert personal["recipient"]["id"] == f"28:{fake.client_id}"
    assert personal["serviceUrl"] == fake.service_url
    assert personal["channelData"]["tenant"]["id"] == fake.tenant_id
    assert channel["text"] == "<at>TechHelp</at> vpn down"
    assert channel["entities"][0]["mentioned"]["id"] == f"28:{fake.client_id}"
    assert channel["conversation"]["id"] == f"{payloads.CHANNEL_ID};messageid={channel['id']}"
    assert channel["channelData"]["team"]["id"] == payloads.TEAM_ID
    assert invoke["type"] == "invoke" and invoke["name"] == "adaptiveCard/action"
    assert invoke["value"]["action"] == {
        "type": "Action.Execute",
        "verb": "rating.rate:4",
        "data": {"_value": "7"},
    }
    assert invoke["replyToId"] == "1700"
    assert update["type"] == "conversationUpdate"
    assert [m["id"] for m in update["membersAdded"]] == [alice["id"], f"28:{fake.client_id}"]
    assert install["type"] == "installationUpdate" and install["action"] == "add"
    # What the bot learnt from them lets it answer: Alice's 1:1 exists, the post has a thread.
    with connector(fake) as client:
        answer = client.post(
            f"v3/conversations/{personal['conversation']['id']}/activities",
            json={"type": "message", "text": "Got it"},
        )
        assert answer.status_code == 200
        reply = client.post(
            f"v3/conversations/{channel['conversation']['id']}/activities",
            json={"type": "message", "text": "On it"},
        )
        assert reply.status_code == 200


def test_post_activity_can_send_a_forged_or_no_token(fake: FakeTeams, bot: _Bot) -> None:
    url = f"http://127.0.0.1:{bot.server_address[1]}/api/messages"
    activity = payloads.personal_message(fake, payloads.person(2), "hi")
    fake.post_activity(url, activity, token=fake.token(forgery="expired"))
    fake.post_activity(url, activity, token="")
    (forged, _), (none, _) = bot.received
    with pytest.raises(jwt.ExpiredSignatureError):
        validate(fake, forged.removeprefix("Bearer "), fake.service_url)
    assert none == ""


CHILD = """
import json, os, httpx, jwt, msal
env = os.environ
app = msal.ConfidentialClientApplication(
    env["TEAMS_CLIENT_ID"],
    client_credential=env["TEAMS_CLIENT_SECRET"],
    authority=f"{env['TEAMS_LOGIN_ENDPOINT']}/{env['TEAMS_TENANT_ID']}",
    instance_discovery=False,
)
token = app.acquire_token_for_client(scopes=["https://api.botframework.com/.default"])
members = httpx.get(
    env["TEAMS_SERVICE_URL"] + "v3/conversations/19:techhelp-team@thread.tacv2/pagedmembers",
    headers={"Authorization": "Bearer " + token["access_token"]},
)
metadata = httpx.get(env["TEAMS_OPENID_METADATA_URL"]).json()
keys = jwt.PyJWKClient(metadata["jwks_uri"]).get_signing_keys()
print(json.dumps({"members": members.status_code, "keys": len(keys)}))
"""


def test_env_lets_another_process_reach_the_fake(fake: FakeTeams) -> None:
    """What a `chatbot serve` under test gets: MSAL (requests), httpx and PyJWT's JWKS client
    (urllib) all trust the fake through SSL_CERT_FILE / REQUESTS_CA_BUNDLE alone."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    child = subprocess.run(
        [sys.executable, "-c", CHILD],
        env={**keep, **fake.env()},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout) == {"members": 200, "keys": 1}
