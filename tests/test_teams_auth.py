"""`POST /api/messages` lets through only what the Bot Connector signed for this bot: the token
is checked before the body is read as an activity, and anything wrong is a 401 that reaches
nothing (the dispatcher never sees it). In process, with RSA keys made here."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chatbot.platforms.teams.server import Answer, TeamsEndpoint, TokenValidator

CLIENT_ID = "00000000-0000-0000-0000-00000000b07"
ISSUER = "https://api.botframework.com"
SERVICE_URL = "https://smba.trafficmanager.net/teams/"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


KEY, OTHER = _key(), _key()


class Keys(jwt.PyJWKClient):
    """The JWKS the metadata would point at, served from memory."""

    def __init__(self, keys: dict[str, rsa.RSAPrivateKey]) -> None:
        super().__init__("https://keys.invalid/jwks", cache_keys=True)
        self.served = keys
        self.fetches = 0

    def fetch_data(self) -> Any:
        self.fetches += 1
        keys = []
        for kid, key in self.served.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}


def token(
    *,
    key: rsa.RSAPrivateKey = KEY,
    kid: str = "k1",
    alg: str = "RS256",
    service_url: str = SERVICE_URL,
    **claims: Any,
) -> str:
    now = int(time.time())
    body = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "nbf": now - 10,
        "exp": now + 3600,
        "serviceurl": service_url,
        **claims,
    }
    body = {k: v for k, v in body.items() if v is not None}
    if alg == "HS256":
        return jwt.encode(body, "a-shared-secret-of-sufficient-length!", "HS256", {"kid": kid})
    if alg == "none":
        return jwt.encode(body, None, "none", {"kid": kid})
    return jwt.encode(body, key, "RS256", {"kid": kid})


class Recorder:
    def __init__(self) -> None:
        self.activities: list[dict[str, Any]] = []

    def dispatch(self, activity: dict[str, Any]) -> Answer:
        self.activities.append(activity)
        return Answer(200, None)


@pytest.fixture
def endpoint() -> tuple[TeamsEndpoint, Recorder, Keys]:
    keys = Keys({"k1": KEY})
    validator = TokenValidator(
        metadata_url="https://unused.invalid", issuer=ISSUER, audience=CLIENT_ID, key_client=keys
    )
    recorder = Recorder()
    return TeamsEndpoint(recorder, validator), recorder, keys


def activity(service_url: str = SERVICE_URL) -> dict[str, Any]:
    return {
        "type": "message",
        "id": "1700000000001",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {"id": "29:ann", "name": "Ann", "aadObjectId": "aad-ann"},
        "conversation": {"id": "a:ann", "conversationType": "personal"},
        "recipient": {"id": f"28:{CLIENT_ID}", "name": "TechHelp"},
        "text": "printer jammed",
    }


def post(app: TeamsEndpoint, body: Any, authorization: str | None) -> tuple[str, bytes]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/messages",
        "CONTENT_LENGTH": str(len(raw)),
        "CONTENT_TYPE": "application/json",
        "wsgi.input": io.BytesIO(raw),
    }
    if authorization is not None:
        environ["HTTP_AUTHORIZATION"] = authorization
    seen: list[str] = []
    out = app(environ, lambda status, headers: seen.append(status))
    return seen[0], b"".join(out)


def test_a_valid_token_reaches_the_bot(endpoint: Any) -> None:
    app, recorder, _ = endpoint
    status, _ = post(app, activity(), f"Bearer {token()}")
    assert status.startswith("200")
    assert [a["id"] for a in recorder.activities] == ["1700000000001"]


@pytest.mark.parametrize(
    ("name", "authorization"),
    [
        ("missing", None),
        ("not bearer", "Basic dXNlcjpwYXNz"),
        ("empty", "Bearer "),
        ("garbage", "Bearer not.a.jwt"),
        ("forged: a key not in the JWKS", f"Bearer {token(key=OTHER)}"),
        ("forged: a known kid signed by another key", f"Bearer {token(key=OTHER, kid='k1')}"),
        ("expired beyond the 5 minutes", f"Bearer {token(exp=int(time.time()) - 400)}"),
        ("not valid for 10 minutes", f"Bearer {token(nbf=int(time.time()) + 600)}"),
        ("wrong audience", f"Bearer {token(aud='someone-else')}"),
        ("wrong issuer", f"Bearer {token(iss='https://evil.example')}"),
        ("no expiry", f"Bearer {token(exp=None)}"),
        ("HS256", f"Bearer {token(alg='HS256')}"),
        ("alg none", f"Bearer {token(alg='none')}"),
        ("other serviceurl", f"Bearer {token(service_url='https://evil.example/teams/')}"),
        ("no serviceurl claim", f"Bearer {token(service_url=None)}"),  # type: ignore[arg-type]
    ],
)
def test_bad_tokens_are_refused_and_reach_nothing(
    endpoint: Any, name: str, authorization: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    app, recorder, _ = endpoint
    status, _ = post(app, activity(), authorization)
    assert status.startswith("401"), name
    assert recorder.activities == []
    if authorization and " " in authorization:
        secret = authorization.split(" ", 1)[1]
        assert not secret or secret not in caplog.text  # the token is never logged


def test_skew_within_five_minutes_is_accepted(endpoint: Any) -> None:
    app, recorder, _ = endpoint
    now = int(time.time())
    status, _ = post(app, activity(), f"Bearer {token(exp=now - 200, nbf=now + 200)}")
    assert status.startswith("200")
    assert len(recorder.activities) == 1


def test_service_url_compared_without_trailing_slash(endpoint: Any) -> None:
    app, recorder, _ = endpoint
    bare = SERVICE_URL.rstrip("/")
    status, _ = post(app, activity(service_url=bare), f"Bearer {token()}")
    assert status.startswith("200")
    status, _ = post(app, activity(), f"Bearer {token(service_url=bare)}")
    assert status.startswith("200")
    assert len(recorder.activities) == 2


def test_the_token_is_checked_before_the_body_is_parsed(endpoint: Any) -> None:
    """An unsigned body that is not even JSON is a 401, not a 400: nothing of it was read."""
    app, recorder, _ = endpoint
    status, _ = post(app, b"{not json", None)
    assert status.startswith("401")
    status, _ = post(app, b"{not json", f"Bearer {token()}")
    assert status.startswith("400")
    assert recorder.activities == []


def test_oversized_body_is_refused(endpoint: Any) -> None:
    app, recorder, _ = endpoint
    status, _ = post(app, b"x" * (600 * 1024), f"Bearer {token()}")
    assert status.startswith("413")
    assert recorder.activities == []


def test_keys_are_cached_and_a_new_kid_is_fetched(endpoint: Any) -> None:
    """Keys are fetched once for many requests; a rotated key (new kid) is fetched then."""
    app, recorder, keys = endpoint
    for _ in range(5):
        assert post(app, activity(), f"Bearer {token()}")[0].startswith("200")
    assert keys.fetches == 1
    keys.served["k2"] = OTHER
    assert post(app, activity(), f"Bearer {token(key=OTHER, kid='k2')}")[0].startswith("200")
    assert keys.fetches == 2
