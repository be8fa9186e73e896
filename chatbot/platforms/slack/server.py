"""Slack's endpoint on the web host (`chatbot.web.host`): `POST /slack/events`.

Order matters: the body is read within the cap, the signature is checked on the raw bytes, and
only then is anything parsed; a body that does not parse, or a payload without the parts the bot
needs (who, what), is a 400 with a short message before Bolt or the core sees it, so nothing is
stored. No body is logged, whatever happens."""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import re
import time
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.request.internals import parse_body

from chatbot.platforms.slack import translate
from chatbot.web.host import MAX_BODY, BodyTooLarge, Endpoint, Start, plain, read_body

log = logging.getLogger(__name__)
PATH = "/slack/events"
MAX_AGE = 5 * 60  # Slack's advice: refuse requests older than five minutes (replays)


class SlackEndpoint:
    """The WSGI app of `POST /slack/events`: checks, then Bolt."""

    def __init__(self, app: App, signing_secret: str, *, max_body: int = MAX_BODY) -> None:
        self.bolt = SlackRequestHandler(app)
        self.secret = signing_secret.encode()
        self.max_body = max_body

    def __call__(self, environ: dict[str, Any], start_response: Start) -> Any:
        try:
            raw = read_body(environ, self.max_body)
        except BodyTooLarge:
            return plain(start_response, "413 Content Too Large", "body too large\n")
        refused = self.refusal(environ, raw)
        if refused is not None:
            status, reason = refused
            log.info("slack request refused (%s): %s", status.split()[0], reason)
            return plain(start_response, status, reason + "\n")
        raw, environ = self.for_bolt(raw, environ)
        environ = {**environ, "wsgi.input": io.BytesIO(raw), "CONTENT_LENGTH": str(len(raw))}
        return self.bolt(environ, start_response)

    def for_bolt(self, raw: bytes, environ: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
        """Bolt takes any form body holding the letters "payload" for an interaction and finds
        no payload in it: a `/techhelp` about "the payload of the upload" would be lost. In
        such a command (already verified) the word is sent percent-encoded, which decodes to
        the same text, and signed again with the same timestamp, so Bolt still verifies it."""
        if b"payload" not in raw or raw.startswith(b"{") or _FORM_PAYLOAD.search(raw):
            return raw, environ
        raw = raw.replace(b"payload", b"%70ayload")
        stamp = environ["HTTP_X_SLACK_REQUEST_TIMESTAMP"].encode()
        signature = self.sign(stamp, raw)
        return raw, {**environ, "HTTP_X_SLACK_SIGNATURE": signature}

    def sign(self, stamp: bytes, raw: bytes) -> str:
        base = b"v0:" + stamp + b":" + raw
        return "v0=" + hmac.new(self.secret, base, hashlib.sha256).hexdigest()

    def refusal(self, environ: dict[str, Any], raw: bytes) -> tuple[str, str] | None:
        """Why the request is refused (status, a short reason), or None to hand it to Bolt."""
        stamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
        if not stamp or not signature:
            return "401 Unauthorized", "unsigned"
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
            return "400 Bad Request", "bad X-Slack-Request-Timestamp"
        if abs(time.time() - int(stamp)) > MAX_AGE:
            return "401 Unauthorized", "stale timestamp"
        expected = self.sign(stamp.encode(), raw)
        if not hmac.compare_digest(expected.encode(), signature.encode(errors="replace")):
            return "401 Unauthorized", "invalid signature"
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            return "400 Bad Request", "body is not UTF-8"
        content_type = (environ.get("CONTENT_TYPE") or "").split(";")[0] or None
        try:
            parsed = _parse(body, content_type)
        except ValueError:
            return "400 Bad Request", "body does not parse"
        problem = translate.problem(parsed)
        if problem is not None:
            return "400 Bad Request", problem
        return None


# A form field named `payload` (an interaction), as opposed to the word inside a command's text.
_FORM_PAYLOAD = re.compile(rb"(?:^|&)payload=")


def _parse(body: str, content_type: str | None) -> Any:
    """The payload as Bolt will see it (`parse_body`), for a command whose text holds the word
    "payload" as `for_bolt` passes it on: its form fields."""
    if "payload" in body and not body.startswith("{") and content_type != "application/json":
        fields = dict(parse_qsl(body, keep_blank_values=True))
        if "payload" not in fields:
            return fields
    return parse_body(body, content_type)


def slack_endpoint(app: App, signing_secret: str, *, max_body: int = MAX_BODY) -> Endpoint:
    """`POST /slack/events`, to mount on the web host."""
    return Endpoint(PATH, SlackEndpoint(app, signing_secret, max_body=max_body), ("POST",))
