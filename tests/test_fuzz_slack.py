"""Property: whatever a correctly signed request carries (Slack's payloads mutated at random, or
noise), `POST /slack/events` answers without a 5xx and never stores a request or an interaction
without a person. Driven in-process through the WSGI host, on the composed bot."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from tests.conftest import ADMIN, SIGNING_SECRET, TRIAGE
from tests.fakes.payloads import block_actions

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _command() -> dict[str, Any]:
    return {
        "command": "/techhelp",
        "text": "printer jammed",
        "user_id": "UALICE",
        "user_name": "alice",
        "channel_id": "CGENERAL",
        "team_id": "T0TEST",
        "trigger_id": "trig-1",
        "response_url": "",
    }


def _action() -> dict[str, Any]:
    body = block_actions("USTAFF", "request.claim", "1", channel=TRIAGE)
    return json.loads(urllib.parse.parse_qs(body)["payload"][0])


def _form() -> dict[str, Any]:
    values = {"description": {"description": {"type": "plain_text_input", "value": "vpn down"}}}
    return {
        "type": "view_submission",
        "team": {"id": "T0TEST"},
        "user": {"id": "UALICE", "team_id": "T0TEST"},
        "trigger_id": "trig-2",
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": "techhelp.request",
            "private_metadata": "",
            "hash": "h",
            "state": {"values": values},
        },
    }


def _event() -> dict[str, Any]:
    return {
        "type": "event_callback",
        "team_id": "T0TEST",
        "event_id": "Ev1",
        "event": {"type": "app_home_opened", "user": "UALICE", "tab": "home", "event_ts": "1.0"},
    }


FORM = "application/x-www-form-urlencoded"
BASES = {"command": _command, "action": _action, "form": _form, "event": _event}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*prefix, key)
            yield from _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield (*prefix, index)
            yield from _paths(inner, (*prefix, index))


def _mutate(payload: Any, path: tuple[Any, ...], new: Any, delete: bool) -> None:
    parent = payload
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new


@st.composite
def signed_bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    """A body and its content type: a Slack payload with a few mutations, or noise."""
    kind = draw(st.sampled_from([*BASES, "noise"]))
    if kind == "noise":
        body = draw(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
        return body, draw(st.sampled_from([FORM, "application/json"]))
    payload = BASES[kind]()
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(payload))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        _mutate(payload, path, draw(JSON), draw(st.booleans()))
    if kind == "command":  # a form of strings, as Slack sends a slash command
        fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in payload.items()}
        return urllib.parse.urlencode(fields).encode(), FORM
    if kind == "event":
        return json.dumps(payload).encode(), "application/json"
    as_text = draw(st.booleans())
    raw = json.dumps(payload) if as_text else draw(st.text(max_size=40)) + json.dumps(payload)
    return urllib.parse.urlencode({"payload": raw}).encode(), FORM


def _call(app: Any, body: bytes, content_type: str) -> int:
    stamp = str(int(time.time()))
    base = b"v0:" + stamp.encode() + b":" + body
    signature = "v0=" + hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/slack/events",
        "QUERY_STRING": "",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_SLACK_REQUEST_TIMESTAMP": stamp,
        "HTTP_X_SLACK_SIGNATURE": signature,
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "3000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }
    status: list[str] = []
    b"".join(app(environ, lambda s, h, *_: status.append(s)))
    return int(status[0].split()[0])


@pytest.fixture
def wsgi(database_url: str) -> Iterator[tuple[Any, Any]]:
    from chatbot.app import build_bot
    from chatbot.config import Settings
    from chatbot.platforms.slack.runner import http_app, slack_parts

    settings_ = Settings.from_values(
        {
            "database_url": database_url,
            "slack_bot_token": "xoxb-test",
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": "http://127.0.0.1:9/api/",  # nothing listens: a modal fails fast
            "techhelp_triage_channel": TRIAGE,
            "techhelp_admins": [ADMIN],
        }
    )
    bot = build_bot(settings_)
    bot.db.upgrade()
    host = http_app(slack_parts(bot).app, bot.db, None, signing_secret=SIGNING_SECRET)
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    yield host, engine
    engine.dispose()
    bot.db.dispose()


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=signed_bodies())
def test_signed_payloads_never_fail_the_server(
    wsgi: tuple[Any, Any], case: tuple[bytes, str]
) -> None:
    app, engine = wsgi
    body, content_type = case
    status = _call(app, body, content_type)
    assert status < 500, (status, body[:300])
    with engine.connect() as conn:
        nobody = conn.execute(text("select count(*) from requests where requester = ''"))
        unnamed = conn.execute(text("select count(*) from interactions where user_id = ''"))
        counts = (nobody.scalar(), unnamed.scalar())
    assert counts == (0, 0), body[:300]
