"""A fake Microsoft side for Teams: a real HTTPS server on 127.0.0.1 that answers like Entra ID's
token endpoint, the Bot Framework's OpenID metadata and signing keys, and the Bot Connector.

Why a server: the bot reaches Microsoft through MSAL (requests), PyJWT's JWKS client (urllib) and
httpx, over TLS only; this server is reached the same way, through the TEAMS_* overrides and a test
CA (trustme) given to the bot as SSL_CERT_FILE / REQUESTS_CA_BUNDLE.

It issues client-credentials tokens (and refuses a wrong id, secret, tenant or scope as Entra does),
mints inbound JWTs signed with its own RSA key (and forged ones), serves the Bot Connector's
conversations API (create a 1:1, post, reply in a thread, edit, paged members) to callers holding a
token it issued, records every call and the current state of every message (with its edits),
validates every card against the Adaptive Card 1.5 schema plus what Teams checks on top, enforces
Teams' rate limits (429 with Retry-After) and can be scripted to fail or stall.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import fnmatch
import functools
import hashlib
import hmac
import itertools
import json
import math
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import jsonschema
import jwt
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

T = TypeVar("T")
Body = dict[str, Any]

CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"
BOT_SCOPE = "https://api.botframework.com/.default"
ISSUER = "https://api.botframework.com"  # the Public cloud's token issuer (inbound JWTs)
BOT_TENANT = "botframework.com"  # the cloud's multi-tenant login tenant, also accepted
MAX_ACTIVITY_BYTES = 28_000  # the activity's compact UTF-8 JSON
MIN_CARD_VERSION = (1, 5)
TOKEN_LIFETIME = 3599
SCHEMA_PATH = Path(__file__).with_name("adaptive-card-1.5.schema.json")

# Teams' limits (learn.microsoft.com .../bots/how-to/rate-limit): per app per tenant, every Bot
# Connector call; per conversation (thread), sends.
GLOBAL_LIMITS: tuple[tuple[int, float], ...] = ((50, 1.0),)
SEND_LIMITS: tuple[tuple[int, float], ...] = ((7, 1.0), (8, 2.0), (60, 30.0), (1800, 3600.0))

# What `token(forgery=...)` can forge; each must be refused by the bot.
FORGERIES = (
    "unknown_key",  # signed by a key whose kid is not in the JWKS
    "bad_signature",  # the JWKS's kid, another key's signature
    "wrong_aud",
    "wrong_iss",
    "expired",  # expired 10 minutes ago (past the 5 minutes' leeway)
    "not_yet_valid",  # nbf in 10 minutes
    "other_serviceurl",
    "no_serviceurl",
    "alg_none",
    "hs256",  # HS256 with the public key's PEM as the secret (key confusion)
)

ELEMENTS = {
    "TextBlock",
    "RichTextBlock",
    "FactSet",
    "ColumnSet",
    "Container",
    "Image",
    "ImageSet",
    "ActionSet",
    "Media",
    "Table",
    "Input.Text",
    "Input.Number",
    "Input.Date",
    "Input.Time",
    "Input.Toggle",
    "Input.ChoiceSet",
}
ACTIONS = {
    "Action.Execute",
    "Action.Submit",
    "Action.OpenUrl",
    "Action.ShowCard",
    "Action.ToggleVisibility",
}
OTHER_ATTACHMENTS = {  # passed without a deeper check
    "application/vnd.microsoft.card.hero",
    "application/vnd.microsoft.card.thumbnail",
    "application/vnd.microsoft.teams.card.file.consent",
    "application/vnd.microsoft.teams.card.file.info",
    "application/vnd.microsoft.teams.file.download.info",
}


# --- card and activity checks (usable on their own, e.g. by renderer tests) ---------------------


@functools.cache
def _schema_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft6Validator(schema)


def _version(value: Any) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in str(value).split("."))
    except ValueError:
        return None


def _texts(node: Any) -> Iterator[str]:
    """Every text a card shows (TextBlock, TextRun, fact titles and values...)."""
    if isinstance(node, dict):
        for key in ("text", "title", "value"):
            if isinstance(node.get(key), str):
                yield node[key]
        for value in node.values():
            if isinstance(value, dict | list):
                yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


def _mention_problems(entities: Any, texts: list[str], where: str) -> list[str]:
    problems = []
    for entity in entities if isinstance(entities, list) else []:
        if not isinstance(entity, dict) or entity.get("type") != "mention":
            continue
        mentioned = entity.get("mentioned")
        text = entity.get("text")
        if not isinstance(mentioned, dict) or not mentioned.get("id") or not text:
            problems.append(f"{where}: a mention needs text and mentioned.id: {entity!r:.120}")
        elif not any(str(text) in t for t in texts):
            problems.append(f"{where}: mention text {text!r} does not appear in the text")
    return problems


def _walk_card(card: Any, where: str, ids: dict[str, str], top: bool) -> list[str]:
    """Teams' rules the schema does not carry, with plain messages."""
    if not isinstance(card, dict):
        return [f"{where}: the card is not an object"]
    problems = []
    if card.get("type") != "AdaptiveCard":
        problems.append(f"{where}: type is {card.get('type')!r}, not 'AdaptiveCard'")
    if top or "version" in card:
        version = _version(card.get("version"))
        if version is None or version < MIN_CARD_VERSION:
            problems.append(f"{where}: version {card.get('version')!r} (Teams needs 1.5 or later)")
    msteams = card.get("msteams")
    if msteams is not None:
        if not isinstance(msteams, dict) or set(msteams) - {"width", "entities"}:
            problems.append(f"{where}: msteams may hold only width and entities: {msteams!r:.120}")
        else:
            texts = list(_texts(card.get("body") or []))
            problems += _mention_problems(msteams.get("entities"), texts, f"{where}.msteams")

    def note_id(node: dict[str, Any], path: str) -> None:
        node_id = node.get("id")
        if node_id is None:
            return
        if not isinstance(node_id, str) or not node_id:
            problems.append(f"{path}: id must be a non-empty string")
        elif node_id in ids:
            problems.append(f"{path}: id {node_id!r} is also used at {ids[node_id]}")
        else:
            ids[node_id] = path

    def action(node: Any, path: str, select: bool = False) -> None:
        if not isinstance(node, dict):
            problems.append(f"{path}: an action is not an object")
            return
        kind = node.get("type")
        if kind not in ACTIONS:
            problems.append(f"{path}: unknown action type {kind!r}")
            return
        note_id(node, path)
        if kind == "Action.Execute" and not (
            isinstance(node.get("verb"), str) and node["verb"].strip()
        ):
            problems.append(f"{path}: Action.Execute needs a verb")
        if kind == "Action.Submit":
            data = node.get("data")
            msteams = data.get("msteams") if isinstance(data, dict) else None
            if not (isinstance(msteams, dict) and msteams.get("type") == "task/fetch"):
                problems.append(
                    f"{path}: Action.Submit only opens a dialog (data.msteams.type "
                    "'task/fetch'); buttons are Action.Execute"
                )
        if kind == "Action.ShowCard":
            if select:
                problems.append(f"{path}: Action.ShowCard cannot be a selectAction")
            problems.extend(_walk_card(node.get("card"), f"{path}.card", ids, top=False))
        if kind == "Action.OpenUrl" and not str(node.get("url") or "").strip():
            problems.append(f"{path}: Action.OpenUrl needs a url")

    def element(node: Any, path: str) -> None:
        if not isinstance(node, dict):
            problems.append(f"{path}: an element is not an object")
            return
        kind = node.get("type")
        if kind not in ELEMENTS:
            problems.append(f"{path}: unknown element type {kind!r}")
            return
        note_id(node, path)
        if kind.startswith("Input.") and not node.get("id"):
            problems.append(f"{path}: {kind} needs an id")
        if kind == "TextBlock" and not isinstance(node.get("text"), str):
            problems.append(f"{path}: TextBlock needs text")
        if kind == "Image" and not str(node.get("url") or "").strip():
            problems.append(f"{path}: Image needs a url")
        if kind == "FactSet":
            facts = node.get("facts")
            if not isinstance(facts, list) or not facts:
                problems.append(f"{path}: FactSet needs facts")
            else:
                for i, fact in enumerate(facts):
                    if not (isinstance(fact, dict) and "title" in fact and "value" in fact):
                        problems.append(f"{path}.facts[{i}]: a fact needs title and value")
        if kind == "Input.ChoiceSet":
            for i, choice in enumerate(node.get("choices") or []):
                if not (isinstance(choice, dict) and "title" in choice and "value" in choice):
                    problems.append(f"{path}.choices[{i}]: a choice needs title and value")
        if isinstance(node.get("selectAction"), dict):
            action(node["selectAction"], f"{path}.selectAction", select=True)
        for i, child in enumerate(node.get("items") or []):  # Container
            element(child, f"{path}.items[{i}]")
        for i, column in enumerate(node.get("columns") or []):  # ColumnSet
            if kind == "ColumnSet":
                if not isinstance(column, dict):
                    problems.append(f"{path}.columns[{i}]: a column is not an object")
                    continue
                note_id(column, f"{path}.columns[{i}]")
                for j, child in enumerate(column.get("items") or []):
                    element(child, f"{path}.columns[{i}].items[{j}]")
        for i, image in enumerate(node.get("images") or []):  # ImageSet
            element(image, f"{path}.images[{i}]")
        for i, row in enumerate(node.get("rows") or []):  # Table
            for j, cell in enumerate((row or {}).get("cells") or []):
                for k, child in enumerate((cell or {}).get("items") or []):
                    element(child, f"{path}.rows[{i}].cells[{j}].items[{k}]")
        for i, child in enumerate(node.get("actions") or []):  # ActionSet
            action(child, f"{path}.actions[{i}]")

    body, actions = card.get("body", []), card.get("actions", [])
    for i, node in enumerate(body if isinstance(body, list) else []):
        element(node, f"{where}.body[{i}]")
    for i, node in enumerate(actions if isinstance(actions, list) else []):
        action(node, f"{where}.actions[{i}]")
    if isinstance(card.get("selectAction"), dict):
        action(card["selectAction"], f"{where}.selectAction", select=True)
    return problems


def _without_msteams(card: Any) -> Any:
    """The card without Teams' host extension `msteams`, which the schema does not know."""
    if isinstance(card, dict):
        return {k: _without_msteams(v) for k, v in card.items() if k != "msteams"}
    if isinstance(card, list):
        return [_without_msteams(v) for v in card]
    return card


def _explain(error: Any) -> Any:
    """The error inside "not valid under any of the given schemas": the branch whose `type`
    matches the element (the other branches fail only on their type)."""
    while error.context:
        wrong_type = {
            e.schema_path[0]
            for e in error.context
            if e.validator == "enum" and list(e.relative_path)[-1:] == ["type"]
        }
        relevant = [e for e in error.context if e.schema_path[0] not in wrong_type]
        if not relevant:
            break
        error = jsonschema.exceptions.best_match(relevant)
    return error


def card_problems(card: Any, where: str = "card") -> list[str]:
    """What Teams would refuse in an Adaptive Card: [] when it is fine."""
    problems = _walk_card(card, where, {}, top=True)
    if problems:
        return problems
    stripped = dict(card)
    stripped.pop("msteams", None)
    # `msteams` also appears inside Action.Submit's data, which the schema allows anyway.
    errors = list(_schema_validator().iter_errors(stripped))
    if errors:
        best = _explain(jsonschema.exceptions.best_match(errors))
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in best.absolute_path)
        problems.append(f"{where}{path}: {best.message[:300]} (Adaptive Card 1.5 schema)")
    return problems


def activity_size(activity: Any) -> int:
    """Bytes of the activity as compact UTF-8 JSON: what the 28,000-byte limit counts."""
    return len(json.dumps(activity, ensure_ascii=False, separators=(",", ":")).encode())


def activity_problems(activity: Any) -> list[str]:
    """What Teams would refuse in an activity the bot sends (text, cards, mentions, size)."""
    if not isinstance(activity, dict):
        return ["the activity is not an object"]
    problems = []
    kind = activity.get("type")
    if kind not in ("message", "typing"):
        return [f"activity type {kind!r} cannot be sent (message or typing)"]
    size = activity_size(activity)
    if size > MAX_ACTIVITY_BYTES:
        problems.append(f"the activity is {size} bytes (Teams takes at most {MAX_ACTIVITY_BYTES})")
    if kind == "typing":
        return problems
    text, attachments = activity.get("text"), activity.get("attachments")
    if text is not None and not isinstance(text, str):
        problems.append("text is not a string")
    if attachments is not None and not isinstance(attachments, list):
        problems.append("attachments is not a list")
        attachments = []
    if not (text or attachments):
        problems.append("a message needs text or attachments")
    if activity.get("textFormat") not in (None, "markdown", "plain", "xml"):
        problems.append(f"unknown textFormat {activity.get('textFormat')!r}")
    if activity.get("attachmentLayout") not in (None, "list", "carousel"):
        problems.append(f"unknown attachmentLayout {activity.get('attachmentLayout')!r}")
    for i, attachment in enumerate(attachments or []):
        where = f"attachments[{i}]"
        if not isinstance(attachment, dict) or not attachment.get("contentType"):
            problems.append(f"{where}: an attachment needs a contentType")
            continue
        content_type = str(attachment["contentType"])
        if content_type == CARD:
            problems += card_problems(attachment.get("content"), f"{where}.content")
        elif content_type.startswith("image/"):
            if not str(attachment.get("contentUrl") or "").startswith(("https://", "data:")):
                problems.append(f"{where}: an image needs an https or data: contentUrl")
        elif content_type not in OTHER_ATTACHMENTS:
            problems.append(f"{where}: contentType {content_type!r} is not one Teams shows")
    problems += _mention_problems(activity.get("entities"), [str(text or "")], "entities")
    return problems


def invoke_response_problems(response: Any) -> list[str]:
    """What Teams would refuse in the bot's answer to an adaptiveCard/action invoke."""
    if not isinstance(response, dict):
        return ["the invoke answer is not a JSON object"]
    if response.get("statusCode") != 200:
        return [f"statusCode {response.get('statusCode')!r}"]
    kind, value = response.get("type"), response.get("value")
    if kind == CARD:
        return card_problems(value, "value")
    if kind == MESSAGE:
        return [] if isinstance(value, str) and value else ["a message answer needs text"]
    return [f"unknown invoke answer type {kind!r}"]


# --- keys and the test CA (one set per process: generating them is the slow part) -------------


@dataclass(frozen=True)
class _Keys:
    ca: trustme.CA
    ca_pem: Path
    server_cert: trustme.LeafCert
    signing: rsa.RSAPrivateKey  # inbound JWTs (the Bot Framework's key, in the JWKS)
    signing_kid: str
    stranger: rsa.RSAPrivateKey  # a key nobody published
    entra: rsa.RSAPrivateKey  # the access tokens the token endpoint issues
    entra_kid: str


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def _keys() -> _Keys:
    ca = trustme.CA(organization_name="TechHelp fake Microsoft")
    folder = Path(tempfile.mkdtemp(prefix="fake-teams-ca-"))
    atexit.register(shutil.rmtree, folder, True)
    ca_pem = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    return _Keys(
        ca=ca,
        ca_pem=ca_pem,
        server_cert=ca.issue_cert("127.0.0.1", "localhost"),
        signing=_rsa(),
        signing_kid="fake-bf-" + secrets.token_hex(4),
        stranger=_rsa(),
        entra=_rsa(),
        entra_kid="fake-entra-" + secrets.token_hex(4),
    )


def _jwk(key: rsa.RSAPrivateKey, kid: str, **extra: Any) -> Body:
    jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256", **extra}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- the server ---------------------------------------------------------------------------------


@dataclass
class Call:
    """One request the fake received. `status` is the HTTP status it answered; `response` the
    JSON it answered with."""

    method: str
    path: str  # e.g. /teams/v3/conversations/a:1/activities
    body: Body
    headers: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)
    time: float = field(default_factory=time.time)
    status: int | None = None
    response: Body | None = None

    @property
    def conversation(self) -> str | None:
        """The conversation id in a Bot Connector path, if any."""
        rest = self.path.partition("/v3/conversations/")[2]
        return urllib.parse.unquote(rest.split("/")[0]) if rest else None


@dataclass
class _Script:
    method: str
    glob: str
    status: int | None
    retry_after: float | None
    times: int
    delay: float | None


class _Window:
    """A sliding window: at most `limit` calls within `seconds`."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self.times: deque[float] = deque()

    def wait(self, now: float) -> float:
        while self.times and self.times[0] <= now - self.seconds:
            self.times.popleft()
        if len(self.times) < self.limit:
            return 0.0
        return self.times[0] + self.seconds - now

    def add(self, now: float) -> None:
        self.times.append(now)


class _Reply(Exception):
    """An HTTP answer other than 200, raised from a handler."""

    def __init__(self, status: int, body: Body, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def _error(status: int, code: str, message: str) -> _Reply:
    return _Reply(status, {"error": {"code": code, "message": message}})


STATUS_CODES = {
    412: "PreconditionFailed",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


class FakeTeams:
    """The fake Microsoft side. `with FakeTeams() as fake:` or `start()` / `stop()`. Everything
    public is safe to call from any thread; the lists and dicts below are read as they are."""

    def __init__(
        self,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        tenant_id: str | None = None,
        rate_limits: bool = True,
    ) -> None:
        self.client_id = client_id or str(uuid.uuid4())
        self.client_secret = client_secret or "fake-secret-" + secrets.token_urlsafe(16)
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.bot_id = f"28:{self.client_id}"
        self.bot_name = "TechHelp"
        self.team_id = "19:techhelp-team@thread.tacv2"  # the installed team (its General channel)
        self._keys = _keys()
        self.ca_pem: Path = self._keys.ca_pem
        self._lock = threading.RLock()
        self.members: list[Body] = []  # the installed team's roster, served paged
        self.calls: list[Call] = []  # every Bot Connector call, in order (failed ones too)
        self.token_requests: list[Call] = []  # every call to the token endpoint
        self.conversations: dict[str, list[Body]] = {}  # id -> what the bot posted, as it is now
        self.history: dict[str, list[Body]] = {}  # activity id -> its versions, oldest first
        self.rejected: list[tuple[Call, str]] = []  # refused for an invalid activity or card
        self.inbound: list[Body] = []  # activities posted to the bot by post_activity
        self.uninstalled: set[str] = set()  # person ids (29: or aadObjectId) without the app
        self._people: dict[str, Body] = {}  # 29: id -> `from` of an inbound activity
        self._roots: set[tuple[str, str]] = set()  # (channel, message id) a thread may reply to
        self._tokens: dict[str, float] = {}  # issued access token -> expiry (epoch seconds)
        self._activity_ids = itertools.count(int(time.time() * 1000))
        self._scripts: list[_Script] = []
        self._global: list[_Window] = []
        self._sends: dict[str, list[_Window]] = {}
        self._send_limits: tuple[tuple[int, float], ...] = ()
        self.set_rate_limits(enabled=rate_limits)
        self._connections: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeTeams:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            wbufsize = 64 * 1024

            def setup(self) -> None:
                # The TLS handshake happens here, in the connection's thread, not in accept().
                self.request.settimeout(10)
                self.request.do_handshake()
                self.request.settimeout(None)
                super().setup()
                with fake._lock:
                    fake._connections.add(self.connection)

            def finish(self) -> None:
                with fake._lock:
                    fake._connections.discard(self.connection)
                with suppress(OSError):
                    super().finish()

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                fake._serve(self)

            do_POST = do_PUT = do_DELETE = do_GET  # noqa: N815

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False
            request_queue_size = 1024

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that hangs up or fails the handshake

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._keys.server_cert.configure_cert(context)
        server = Server(("127.0.0.1", 0), Handler)
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-teams",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open connections."""
        if self._server:
            self._server.shutdown()
            with self._lock:
                connections = list(self._connections)
            for connection in connections:
                with suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._server.server_close()
        if self._thread:
            self._thread.join(5)

    def __enter__(self) -> FakeTeams:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- where things are ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "FakeTeams is not started"
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    @property
    def service_url(self) -> str:
        """The Bot Connector base, as Teams puts it in an activity's serviceUrl."""
        return f"{self.url}/teams/"

    @property
    def login_endpoint(self) -> str:
        return f"{self.url}/login"

    @property
    def openid_metadata_url(self) -> str:
        return f"{self.url}/openid/.well-known/openidconfiguration"

    @property
    def jwks_uri(self) -> str:
        # Where the Teams SDK looks: the metadata URL with /openidconfiguration -> /keys.
        return f"{self.url}/openid/.well-known/keys"

    @property
    def token_endpoint(self) -> str:
        return f"{self.login_endpoint}/{self.tenant_id}/oauth2/v2.0/token"

    def env(self) -> dict[str, str]:
        """TEAMS_* and the CA trust for a `chatbot serve` process reaching this fake."""
        return {
            "TEAMS_CLIENT_ID": self.client_id,
            "TEAMS_CLIENT_SECRET": self.client_secret,
            "TEAMS_TENANT_ID": self.tenant_id,
            "TEAMS_CLOUD": "Public",
            "TEAMS_LOGIN_ENDPOINT": self.login_endpoint,
            "TEAMS_OPENID_METADATA_URL": self.openid_metadata_url,
            "TEAMS_SERVICE_URL": self.service_url,
            "SSL_CERT_FILE": str(self.ca_pem),
            "REQUESTS_CA_BUNDLE": str(self.ca_pem),
        }

    def access_token(self) -> str:
        """A Bot Connector token as the token endpoint issues it (for tests acting as the bot)."""
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "scope": BOT_SCOPE,
        }
        return str(self._issue_token(self.tenant_id, form)["access_token"])

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting only this fake's CA (for httpx in tests)."""
        return ssl.create_default_context(cafile=str(self.ca_pem))

    # --- inbound: what Teams sends the bot ------------------------------------------------------

    def token(
        self, *, service_url: str | None = None, forgery: str | None = None, **claims: Any
    ) -> str:
        """An inbound JWT as the Bot Framework signs it for this bot; `forgery` (one of FORGERIES)
        makes it one the bot must refuse; `claims` add or replace claims (None removes one)."""
        now = int(time.time())
        payload: Body = {
            "serviceurl": service_url or self.service_url,
            "iss": ISSUER,
            "aud": self.client_id,
            "iat": now,
            "nbf": now - 5,
            "exp": now + 3600,
        }
        key, kid = self._keys.signing, self._keys.signing_kid
        match forgery:
            case None:
                pass
            case "unknown_key":
                key, kid = self._keys.stranger, "unknown-" + secrets.token_hex(4)
            case "bad_signature":
                key = self._keys.stranger
            case "wrong_aud":
                payload["aud"] = str(uuid.uuid4())
            case "wrong_iss":
                payload["iss"] = "https://api.botframework.example"
            case "expired":
                payload |= {"iat": now - 7200, "nbf": now - 7200, "exp": now - 600}
            case "not_yet_valid":
                payload |= {"nbf": now + 600, "exp": now + 4200}
            case "other_serviceurl":
                payload["serviceurl"] = "https://smba.trafficmanager.net/evil/"
            case "no_serviceurl":
                del payload["serviceurl"]
            case "alg_none" | "hs256":
                pass
            case _:
                raise ValueError(f"unknown forgery {forgery!r}; one of {FORGERIES}")
        for name, value in claims.items():
            if value is None:
                payload.pop(name, None)
            else:
                payload[name] = value
        if forgery == "alg_none":
            header = {"alg": "none", "typ": "JWT", "kid": kid}
            return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}."
        if forgery == "hs256":
            header = {"alg": "HS256", "typ": "JWT", "kid": kid}
            signing_input = (
                f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
            )
            secret = self._keys.signing.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
            return f"{signing_input}.{_b64(signature)}"
        return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})

    def post_activity(
        self,
        bot_url: str,
        activity: Body,
        *,
        token: str | None = None,
        timeout: float = 15,
    ) -> httpx.Response:
        """POST an activity to the bot as Teams does, signed (a token of `token()` for the
        activity's serviceUrl unless `token` is given; "" sends no Authorization). `bot_url`
        is the bot's base URL or its /api/messages URL."""
        url = (
            bot_url if bot_url.rstrip("/").endswith("/api/messages") else f"{bot_url}/api/messages"
        )
        self.remember(activity)
        if token is None:
            token = self.token(service_url=activity.get("serviceUrl") or self.service_url)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        with self._lock:
            self.inbound.append(activity)
        return httpx.post(
            url, content=json.dumps(activity).encode(), headers=headers, timeout=timeout
        )

    def remember(self, activity: Body) -> None:
        """Learn what an inbound activity tells Teams' side: its conversation exists (a 1:1 the
        bot may post to) and a channel message may be replied to in its thread."""
        conversation = str((activity.get("conversation") or {}).get("id") or "")
        if not conversation:
            return
        channel, _, root = conversation.partition(";messageid=")
        sender = activity.get("from") or {}
        with self._lock:
            if str(sender.get("id", "")).startswith("29:"):
                self._people[str(sender["id"])] = dict(sender)
            self.conversations.setdefault(channel, [])
            if activity.get("id"):
                self._roots.add((channel, str(activity["id"])))
            if root:
                self._roots.add((channel, root))

    # --- scripting ----------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path_glob: str,
        status: int | None,
        *,
        retry_after: float | None = None,
        times: int = 1,
        delay: float | None = None,
    ) -> None:
        """The next `times` calls of `method` ("*" for any) whose path matches `path_glob`
        (fnmatch, on the path or on the path after /teams/, e.g. "v3/conversations/*/activities")
        answer `status` (429 carries Retry-After, 1 s unless `retry_after`) without being served.
        `delay` holds the answer that many seconds first (a time-out); with status None the call
        is then served normally (Teams got it, the answer came late)."""
        with self._lock:
            self._scripts.append(
                _Script(method.upper(), path_glob, status, retry_after, times, delay)
            )

    def set_rate_limits(
        self,
        *,
        enabled: bool = True,
        per_second: int = GLOBAL_LIMITS[0][0],
        sends: tuple[tuple[int, float], ...] = SEND_LIMITS,
    ) -> None:
        """Teams' limits: `per_second` Bot Connector calls per app per tenant, and `sends`
        (limit, seconds) windows per conversation for posts; `enabled=False` lifts them."""
        with self._lock:
            self._global = [_Window(per_second, 1.0)] if enabled else []
            self._send_limits = sends if enabled else ()
            self._sends = {}

    def install_for_everyone(self) -> None:
        """The app is installed for every roster member (an admin's policy): each one's 1:1
        conversation with the bot exists, so the bot may post to it without creating it."""
        with self._lock:
            for member in self.members:
                self.conversations.setdefault(self._conversation_of(member), [])

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now: the next calls with them get 401."""
        with self._lock:
            for token in self._tokens:
                self._tokens[token] = 0

    def reset(self) -> None:
        """Forget calls, messages, rejections and scripts (members and tokens are kept)."""
        with self._lock:
            for store in (self.calls, self.token_requests, self.rejected, self.inbound):
                store.clear()
            self.conversations.clear()
            self.history.clear()
            self._roots.clear()
            self._scripts.clear()
            self._sends.clear()
            for window in self._global:
                window.times.clear()

    # --- queries ------------------------------------------------------------------------------

    def messages(self, conversation_id: str | None = None) -> list[Body]:
        """What the bot posted (edits applied), in order: everywhere, in one conversation, or in
        one thread when given "<channel>;messageid=<root>"."""
        with self._lock:
            if conversation_id is None:
                return [a for acts in self.conversations.values() for a in acts]
            channel, _, root = conversation_id.partition(";messageid=")
            found = list(self.conversations.get(channel, []))
        return [a for a in found if not root or a.get("replyToId") == root]

    def thread(self, channel_id: str, root_id: str) -> list[Body]:
        """The bot's replies in the thread under `root_id`."""
        return self.messages(f"{channel_id};messageid={root_id}")

    def sent(self, method: str | None = None, glob: str = "*") -> list[Call]:
        """Calls answered 2xx, optionally of one method and path glob."""
        with self._lock:
            calls = list(self.calls)
        return [
            c
            for c in calls
            if (c.status or 0) // 100 == 2
            and (method is None or c.method == method.upper())
            and _matches(glob, c.path)
        ]

    def wait_for(
        self, predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.02
    ) -> T:
        """Poll `predicate` until it returns something truthy and return that."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                recent = [f"{c.method} {c.path}:{c.status}" for c in self.calls[-15:]]
                raise AssertionError(
                    f"condition not met in {timeout}s; recent calls: {recent}; "
                    f"rejected: {[why for _, why in self.rejected]}"
                )
            time.sleep(interval)

    # --- serving ------------------------------------------------------------------------------

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in request.headers.items()}
        path, _, query_string = request.path.partition("?")
        query = {k: v[0] for k, v in urllib.parse.parse_qs(query_string).items()}
        call = Call(request.command, path, {}, headers, query)
        try:
            call.body = self._parse(raw, headers.get("content-type", ""))
        except ValueError as exc:
            call.body = {"_raw": raw[:200].decode(errors="replace")}
            self._finish(request, call, _error(400, "BadArgument", f"unreadable body: {exc}"))
            return
        connector = path.startswith("/teams/")
        with self._lock:
            (self.calls if connector else self.token_requests).append(call)
        script = self._scripted(call)
        if script is not None:
            if script.delay:
                time.sleep(script.delay)
            if script.status:
                code = STATUS_CODES.get(script.status, "ServiceError")
                reply = _error(script.status, code, f"scripted {script.status}")
                if script.status == 429:
                    retry = script.retry_after if script.retry_after is not None else 1
                    reply.headers["Retry-After"] = str(math.ceil(retry))
                self._finish(request, call, reply)
                return
        try:
            answer = self._route(call) if connector else self._route_login(call)
        except _Reply as reply:
            self._finish(request, call, reply)
            return
        except Exception as exc:  # a bug in the fake, or a call it cannot read: make it loud
            reply = _error(500, "InternalServerError", f"fake failed: {exc!r}")
            self._reject(call, f"the fake could not serve it: {exc!r}")
            self._finish(request, call, reply)
            return
        self._finish(request, call, _Reply(200, answer))

    def _finish(self, request: BaseHTTPRequestHandler, call: Call, reply: _Reply) -> None:
        call.status, call.response = reply.status, reply.body
        data = json.dumps(reply.body).encode()
        with suppress(OSError):  # the client may have given up (a time-out)
            request.send_response(reply.status)
            request.send_header("Content-Type", "application/json; charset=utf-8")
            request.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                request.send_header(name, value)
            request.end_headers()
            request.wfile.write(data)

    @staticmethod
    def _parse(raw: bytes, content_type: str) -> Body:
        if not raw:
            return {}
        if "x-www-form-urlencoded" in content_type:
            pairs = urllib.parse.parse_qs(raw.decode(), keep_blank_values=True)
            return {k: v[0] for k, v in pairs.items()}
        try:
            parsed = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(str(exc)) from exc
        if not isinstance(parsed, dict):
            raise ValueError("a JSON body must be an object")
        return parsed

    def _scripted(self, call: Call) -> _Script | None:
        with self._lock:
            for script in self._scripts:
                if script.method in ("*", call.method) and _matches(script.glob, call.path):
                    script.times -= 1
                    if script.times <= 0:
                        self._scripts.remove(script)
                    return script
        return None

    def _reject(self, call: Call, why: str) -> None:
        with self._lock:
            self.rejected.append((call, why))

    # --- Entra ID: discovery and the token endpoint ----------------------------------------------

    def _aad_error(self, status: int, error: str, code: int, description: str) -> _Reply:
        trace = str(uuid.uuid4())
        return _Reply(
            status,
            {
                "error": error,
                "error_description": f"AADSTS{code}: {description} Trace ID: {trace}",
                "error_codes": [code],
                "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
                "trace_id": trace,
                "correlation_id": str(uuid.uuid4()),
            },
        )

    def _tenant(self, tenant: str) -> None:
        if tenant not in (self.tenant_id, BOT_TENANT):
            raise self._aad_error(
                400,
                "invalid_tenant",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID.",
            )

    def _route_login(self, call: Call) -> Body:
        parts = call.path.strip("/").split("/")
        if parts[:1] == ["openid"] and call.method == "GET":
            if parts[1:] == [".well-known", "openidconfiguration"]:
                return {
                    "issuer": ISSUER,
                    "authorization_endpoint": "https://invalid.botframework.com",
                    "jwks_uri": self.jwks_uri,
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                }
            if parts[1:] == [".well-known", "keys"]:
                key = _jwk(self._keys.signing, self._keys.signing_kid, endorsements=["msteams"])
                return {"keys": [key]}
        if parts[:1] == ["login"] and len(parts) >= 3:
            tenant, rest = parts[1], parts[2:]
            base = f"{self.login_endpoint}/{tenant}"
            if rest == ["v2.0", ".well-known", "openid-configuration"] and call.method == "GET":
                self._tenant(tenant)
                return {
                    "issuer": f"{base}/v2.0",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "jwks_uri": f"{base}/discovery/v2.0/keys",
                    "response_types_supported": ["code", "id_token", "token"],
                    "token_endpoint_auth_methods_supported": [
                        "client_secret_post",
                        "private_key_jwt",
                        "client_secret_basic",
                    ],
                    "tenant_region_scope": "NA",
                }
            if rest == ["discovery", "v2.0", "keys"] and call.method == "GET":
                return {"keys": [_jwk(self._keys.entra, self._keys.entra_kid)]}
            if rest == ["oauth2", "v2.0", "token"] and call.method == "POST":
                return self._issue_token(tenant, call.body)
        raise _error(404, "NotFound", f"no such endpoint: {call.method} {call.path}")

    def _issue_token(self, tenant: str, form: Body) -> Body:
        self._tenant(tenant)
        if form.get("grant_type") != "client_credentials":
            raise self._aad_error(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{form.get('grant_type')}'.",
            )
        if form.get("client_id") != self.client_id:
            raise self._aad_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id')}' was not found in the "
                f"directory '{tenant}'.",
            )
        if not secrets.compare_digest(str(form.get("client_secret", "")), self.client_secret):
            raise self._aad_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request "
                "is the client secret value, not the client secret ID.",
            )
        if form.get("scope") != BOT_SCOPE:
            raise self._aad_error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {form.get('scope')} is not valid. Client "
                "credential flows must have a scope value with /.default suffixed to the "
                "resource identifier (application ID URI).",
            )
        now = int(time.time())
        claims = {
            "aud": "https://api.botframework.com",
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME,
            "appid": self.client_id,
            "tid": self.tenant_id,
            "idtyp": "app",
            "jti": secrets.token_hex(8),
        }
        token = jwt.encode(
            claims, self._keys.entra, algorithm="RS256", headers={"kid": self._keys.entra_kid}
        )
        with self._lock:
            self._tokens[token] = now + TOKEN_LIFETIME
        return {
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME,
            "ext_expires_in": TOKEN_LIFETIME,
            "access_token": token,
        }

    # --- the Bot Connector ----------------------------------------------------------------------

    def _authorize(self, call: Call) -> None:
        header = call.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        with self._lock:
            expiry = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if expiry is None or expiry <= time.time():
            raise _Reply(401, {"message": "Authorization has been denied for this request."})

    def _throttle(self, call: Call, send_key: str | None) -> None:
        now = time.monotonic()
        with self._lock:
            windows = list(self._global)
            if send_key is not None and self._send_limits:
                windows += self._sends.setdefault(
                    send_key, [_Window(n, s) for n, s in self._send_limits]
                )
            wait = max((w.wait(now) for w in windows), default=0.0)
            if wait <= 0:
                for window in windows:
                    window.add(now)
                return
        raise _Reply(
            429,
            {"error": {"code": "TooManyRequests", "message": "Too many requests"}},
            {"Retry-After": str(max(1, math.ceil(wait)))},
        )

    def _route(self, call: Call) -> Body:
        rest = call.path.removeprefix("/teams/")
        parts = [urllib.parse.unquote(p) for p in rest.split("/")]
        if parts[:2] != ["v3", "conversations"]:
            raise _error(404, "NotFound", f"no such endpoint: {call.method} {call.path}")
        self._authorize(call)
        tail = parts[2:]
        is_send = call.method == "POST" and len(tail) == 2 and tail[1] == "activities"
        self._throttle(call, tail[0] if is_send else None)
        match call.method, tail:
            case "POST", []:
                return self._create_conversation(call)
            case "POST", [conversation, "activities"]:
                return self._post(call, conversation, reply_to=None)
            case "POST", [conversation, "activities", reply_to]:
                return self._post(call, conversation, reply_to=reply_to)
            case "PUT", [conversation, "activities", activity_id]:
                return self._edit(call, conversation, activity_id)
            case "GET", [conversation, "pagedmembers"]:
                return self._paged_members(call, conversation)
            case "GET", [conversation, "members", member_id]:
                return self._member(conversation, member_id)
        raise _error(404, "NotFound", f"no such endpoint: {call.method} {call.path}")

    def _person(self, person_id: str) -> Body | None:
        """A roster member, or someone who wrote to the bot, by 29: id or aadObjectId."""
        with self._lock:
            for member in [*self.members, *self._people.values()]:
                if person_id in (member.get("id"), member.get("aadObjectId")):
                    return member
        return None

    def _create_conversation(self, call: Call) -> Body:
        body = call.body
        problems = []
        if body.get("isGroup"):
            problems.append("a bot can only create 1:1 conversations (isGroup false)")
        if (body.get("bot") or {}).get("id") != self.bot_id:
            problems.append(f"bot.id must be {self.bot_id!r}")
        members = body.get("members")
        if not (isinstance(members, list) and len(members) == 1 and isinstance(members[0], dict)):
            problems.append("members must hold exactly one person")
        tenant = body.get("tenantId") or ((body.get("channelData") or {}).get("tenant") or {}).get(
            "id"
        )
        if tenant != self.tenant_id:
            problems.append(f"tenantId / channelData.tenant.id must be {self.tenant_id!r}")
        if problems:
            self._reject(call, "; ".join(problems))
            raise _error(400, "BadArgument", "; ".join(problems))
        person_id = str(members[0].get("id") or "")
        if not (person_id.startswith("29:") or _is_guid(person_id)):
            self._reject(call, f"member id {person_id!r} is neither a 29: id nor an aadObjectId")
            raise _error(400, "BadArgument", "Failed to decrypt pairwise id")
        person = self._person(person_id)
        key = str(person.get("aadObjectId") or person.get("id")) if person else person_id
        if {person_id, key} & self.uninstalled:
            raise _error(403, "Forbidden", "The bot is not installed for this user.")
        conversation = "a:1" + hashlib.sha256(f"{self.bot_id}|{key}".encode()).hexdigest()[:40]
        with self._lock:
            self.conversations.setdefault(conversation, [])
        answer: Body = {"id": conversation}
        if isinstance(body.get("activity"), dict):
            answer["activityId"] = self._store(call, conversation, body["activity"], None)
        return answer

    def _check(self, call: Call, activity: Any) -> None:
        problems = activity_problems(activity)
        if problems:
            self._reject(call, "; ".join(problems))
            raise _error(400, "BadArgument", "; ".join(problems)[:2000])

    def _post(self, call: Call, conversation: str, reply_to: str | None) -> Body:
        self._check(call, call.body)
        return {"id": self._store(call, conversation, call.body, reply_to)}

    def _store(self, call: Call, conversation: str, activity: Body, reply_to: str | None) -> str:
        channel, _, root = conversation.partition(";messageid=")
        root = root or reply_to or ""
        with self._lock:
            if channel not in self.conversations and not _is_channel(channel):
                raise _error(404, "ConversationNotFound", "Conversation not found.")
            if root and _is_channel(channel) and (channel, root) not in self._roots:
                self._reject(call, f"reply to {root!r}, a message not in {channel!r}")
                raise _error(404, "NotFound", "The message to reply to was not found.")
            activity_id = str(next(self._activity_ids))
            stored: Body = {
                **activity,
                "id": activity_id,
                "conversation": {"id": conversation},
                "from": {"id": self.bot_id, "name": self.bot_name},
                "timestamp": _now_iso(),
            }
            if root:
                stored["replyToId"] = root
            self.conversations.setdefault(channel, []).append(stored)
            self.history[activity_id] = [dict(stored)]
            if _is_channel(channel) and not root:
                self._roots.add((channel, activity_id))
        return activity_id

    def _edit(self, call: Call, conversation: str, activity_id: str) -> Body:
        self._check(call, call.body)
        channel = conversation.partition(";messageid=")[0]
        with self._lock:
            for i, stored in enumerate(self.conversations.get(channel, [])):
                if stored["id"] == activity_id:
                    updated: Body = {
                        **call.body,
                        "id": activity_id,
                        "conversation": stored["conversation"],
                        "from": stored["from"],
                        "timestamp": stored["timestamp"],
                        "lastModified": _now_iso(),
                    }
                    if "replyToId" in stored:
                        updated["replyToId"] = stored["replyToId"]
                    self.conversations[channel][i] = updated
                    self.history.setdefault(activity_id, []).append(dict(updated))
                    return {"id": activity_id}
        self._reject(call, f"edit of {activity_id!r}, not a message the bot posted in {channel!r}")
        raise _error(404, "NotFound", "Activity not found.")

    def _paged_members(self, call: Call, conversation: str) -> Body:
        try:
            size = int(call.query.get("pageSize") or 200)
        except ValueError:
            raise _error(400, "BadArgument", "pageSize must be a number") from None
        if size < 1:
            raise _error(400, "BadArgument", "pageSize must be positive")
        size = min(size, 500)
        token = call.query.get("continuationToken")
        start = 0
        if token:
            try:
                prefix, _, number = base64.urlsafe_b64decode(token).decode().rpartition(":")
                if prefix != conversation:
                    raise ValueError(prefix)
                start = int(number)
            except (ValueError, binascii.Error):
                raise _error(400, "BadArgument", "Invalid continuation token") from None
        with self._lock:
            if _is_channel(conversation):
                roster = list(self.members)
            elif conversation in self.conversations:
                roster = [m for m in self.members if self._conversation_of(m) == conversation]
            else:
                raise _error(404, "ConversationNotFound", "Conversation not found.")
        page: Body = {"members": roster[start : start + size]}
        if start + size < len(roster):
            page["continuationToken"] = base64.urlsafe_b64encode(
                f"{conversation}:{start + size}".encode()
            ).decode()
        return page

    def _conversation_of(self, member: Body) -> str:
        key = str(member.get("aadObjectId") or member.get("id"))
        return "a:1" + hashlib.sha256(f"{self.bot_id}|{key}".encode()).hexdigest()[:40]

    def _member(self, conversation: str, member_id: str) -> Body:
        with self._lock:
            person = next(
                (m for m in self.members if member_id in (m.get("id"), m.get("aadObjectId"))),
                None,
            )
        if person is None:
            raise _error(404, "MemberNotFoundInConversation", "The member was not found.")
        return person


def _matches(glob: str, path: str) -> bool:
    relative = path.removeprefix("/teams/")
    decoded = urllib.parse.unquote(path)
    return any(
        fnmatch.fnmatchcase(p, glob)
        for p in (path, relative, decoded, decoded.removeprefix("/teams/"))
    )


def _is_channel(conversation: str) -> bool:
    return conversation.startswith("19:")


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _now_iso() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
