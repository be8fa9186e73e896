"""Bad input and resource limits through a real `chatbot serve`: bodies over the cap are refused
before they are read, no body is ever logged, and a malformed request (signed or not) is a 4xx
that stores nothing."""

from __future__ import annotations

import json
import socket
import time
import urllib.parse

import pytest
from slack_sdk.signature import SignatureVerifier

from tests.conftest import SIGNING_SECRET, Server, http_post, sqlite_only
from tests.test_intake import rows

# A real process: what it writes to its log is read back.
pytestmark = pytest.mark.serve_process

MARKER = "BODY-MARKER-7f3a"


def _raw(server: Server, head: str, body: bytes = b"", *, wait: float = 5) -> str:
    """Send `head` and the start of `body` on a raw socket; the status line that comes back."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as conn:
        conn.sendall(head.encode() + body)
        answer = b""
        try:
            while b"\r\n" not in answer:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                answer += chunk
        except TimeoutError:
            return f"no answer within {wait:.0f} s"
    return answer.split(b"\r\n", 1)[0].decode(errors="replace")


def _nothing_stored(server: Server) -> None:
    assert rows(server, "select count(*) from requests")[0][0] == 0
    assert rows(server, "select count(*) from interactions")[0][0] == 0
    assert rows(server, "select count(*) from inbox")[0][0] == 0


@sqlite_only("refused by the web host before the database is reached")
def test_a_body_over_the_cap_is_refused_before_it_is_read(server: Server) -> None:
    # 50 MB announced, 64 KB sent: the answer comes at once, without waiting for the rest.
    head = (
        "POST /slack/events HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Content-Length: 50000000\r\n\r\n"
    )
    assert _raw(server, head, MARKER.encode() * 4000).startswith("HTTP/1.1 413")
    # Chunked, no length announced: refused once the cap is passed.
    chunked = (
        "POST /slack/events HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"x" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(16))
    assert _raw(server, chunked, chunks).startswith("HTTP/1.1 413")
    # Over the cap but correctly signed: still refused, and nothing stored.
    body = urllib.parse.urlencode(
        {"command": "/techhelp", "text": "x" * 600_000, "user_id": "UALICE", "trigger_id": "t"}
    )
    assert server.post(body).status_code == 413
    _nothing_stored(server)
    assert MARKER not in server.log_path.read_text(errors="replace")


@sqlite_only("refused by the web host before the database is reached")
def test_a_refused_body_is_never_logged(server: Server) -> None:
    body = urllib.parse.urlencode({"command": "/techhelp", "text": MARKER * 2000})
    assert server.post(body, secret="wrong-secret").status_code == 401
    assert server.post(body, sign=False).status_code == 401
    assert server.post(body, timestamp=int(time.time()) - 600).status_code == 401
    _nothing_stored(server)
    assert MARKER not in server.log_path.read_text(errors="replace")


def _signed(server: Server, body: str, *, content_type: str, timestamp: str) -> int:

    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp, body=body)
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }
    answer = http_post(
        server.url + "/slack/events", content=body.encode(), headers=headers, timeout=10
    )
    assert len(answer.content) < 200, answer.text  # a short message, no traceback
    return answer.status_code


FORM = "application/x-www-form-urlencoded"


def _payload(value: object) -> str:
    return urllib.parse.urlencode({"payload": json.dumps(value)})


MALFORMED = [
    ("not JSON", "{not json", "application/json"),
    ("JSON, not an object", "[1, 2]", "application/json"),
    ("payload not JSON", urllib.parse.urlencode({"payload": "{oops"}), FORM),
    ("payload a list", _payload([{"type": "block_actions"}]), FORM),
    (
        "click without user",
        _payload({"type": "block_actions", "actions": [{"action_id": "a"}]}),
        FORM,
    ),
    (
        "click with an empty user",
        _payload({"type": "block_actions", "user": {"id": ""}, "actions": [{"action_id": "a"}]}),
        FORM,
    ),
    (
        "click with actions not a list",
        _payload({"type": "block_actions", "user": {"id": "UALICE"}, "actions": "claim"}),
        FORM,
    ),
    (
        "user not an object",
        _payload({"type": "block_actions", "user": 5, "actions": [{"action_id": "a"}]}),
        FORM,
    ),
    (
        "form with view not an object",
        _payload({"type": "view_submission", "user": {"id": "UALICE"}, "view": "v"}),
        FORM,
    ),
    (
        "form values not objects",
        _payload(
            {
                "type": "view_submission",
                "user": {"id": "UALICE"},
                "view": {"callback_id": "techhelp.request", "state": {"values": {"b": 3}}},
            }
        ),
        FORM,
    ),
    ("command without user", urllib.parse.urlencode({"command": "/techhelp", "text": "hi"}), FORM),
    (
        "command with an empty user",
        urllib.parse.urlencode({"command": "/techhelp", "text": "hi", "user_id": ""}),
        FORM,
    ),
    (
        "event not an object",
        json.dumps({"type": "event_callback", "event": "app_home_opened"}),
        "application/json",
    ),
    (
        "home opened without user",
        json.dumps({"type": "event_callback", "event": {"type": "app_home_opened"}}),
        "application/json",
    ),
    ("team a number", _payload({"type": "block_actions", "team": 7, "user": {"id": "U1"}}), FORM),
]


@sqlite_only("refused by the endpoint before the database is reached")
def test_malformed_signed_requests_are_400_and_store_nothing(server: Server) -> None:
    now = str(int(time.time()))
    for name, body, content_type in MALFORMED:
        assert _signed(server, body, content_type=content_type, timestamp=now) == 400, name
    command = urllib.parse.urlencode({"command": "/techhelp", "text": "hi", "user_id": "UALICE"})
    for stamp in ("abc", "", "1e9", "17000000000000000000000000"):
        status = _signed(server, command, content_type=FORM, timestamp=stamp)
        assert status in (400, 401), stamp
    _nothing_stored(server)
    assert "Traceback" not in server.log_path.read_text(errors="replace")
    # The server still answers a good request.
    assert server.command("printer jammed").status_code == 200
    assert rows(server, "select requester from requests") == [("UALICE",)]


@sqlite_only("the endpoint's reading of a form body; the request is stored as any other")
def test_a_command_about_a_payload_is_a_request(server: Server) -> None:
    """Bolt reads any form body holding the letters "payload" as an interaction; the endpoint
    passes such a command on so that it is still the request the person typed."""
    response = server.command("the payload of the nightly upload failed")
    assert response.status_code == 200, response.text
    assert "TH-1" in response.text
    assert rows(server, "select requester, text from requests") == [
        ("UALICE", "the payload of the nightly upload failed")
    ]
