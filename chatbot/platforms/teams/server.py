"""Teams' endpoint on the web host (`chatbot.web.host`): `POST /api/messages`.

Order matters, as for Slack: the body is read within the cap; the bearer token is verified
(RS256 only, a key from the OpenID metadata's `jwks_uri`, the cloud's issuer, our client id as
audience, its validity with 5 minutes' leeway) before the body is parsed at all; then the body is
parsed and the token's `serviceurl` claim must equal the activity's `serviceUrl` (a trailing
slash ignored). Anything wrong is a 401 (or 400 for a body that does not parse) before the core
sees it, so nothing is stored. Neither the token nor the body is ever logged.

Validation uses PyJWT's `PyJWKClient` (keys cached, the key set fetched again when an unknown
`kid` appears, at most every 30 s). The Teams SDK validates tokens inside its own asyncio FastAPI
app, which does not fit one WSGI `chatbot serve` serving Slack and Teams on one port.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import jwt

from chatbot.web.host import MAX_BODY, BodyTooLarge, Endpoint, Start, plain, read_body

log = logging.getLogger(__name__)
PATH = "/api/messages"
LEEWAY = 300  # seconds of clock skew allowed on exp and nbf (Bot Framework's 5 minutes)
METADATA_EVERY = 24 * 3600.0  # the OpenID metadata (where the keys are) is read again daily


class Unauthorized(Exception):
    """The token is missing or not one Teams (the Bot Connector) signed for this bot."""


class Unavailable(Exception):
    """The signing keys cannot be fetched now: nothing can be verified (503; Teams retries)."""


VERIFIED_FOR = 300.0  # seconds a verified token is trusted before it is verified again
VERIFIED_MAX = 1000  # tokens remembered (a bot sees few at a time: one per Bot Connector token)


class TokenValidator:
    """Verifies Bot Connector tokens for one bot: signature, issuer, audience, validity."""

    def __init__(
        self,
        *,
        metadata_url: str,
        issuer: str,
        audience: str,
        leeway: float = LEEWAY,
        timeout: float = 10,
        key_client: jwt.PyJWKClient | None = None,
    ) -> None:
        """`key_client`: the keys, given instead of read through the metadata (tests)."""
        self.metadata_url, self.issuer, self.audience = metadata_url, issuer, audience
        self.leeway, self.timeout = leeway, timeout
        self._keys: jwt.PyJWKClient | None = key_client
        self._keys_at = 0.0
        self._lock = threading.Lock()
        # Tokens verified already, with their claims: the Bot Connector signs one token and
        # sends it with every activity until it nears expiry, so a burst of clicks carries the
        # same token thousands of times. Each is still refused from its expiry (with the same
        # leeway) and re-verified after `VERIFIED_FOR`, or once the signing keys are re-read.
        self._verified: dict[str, tuple[dict[str, Any], float]] = {}
        self.now = time.time

    def keys(self) -> jwt.PyJWKClient:
        with self._lock:
            stale = self._keys_at and time.monotonic() - self._keys_at > METADATA_EVERY
            if self._keys is None or stale:
                try:
                    answer = httpx.get(self.metadata_url, timeout=self.timeout)
                    answer.raise_for_status()
                    jwks_uri = answer.json()["jwks_uri"]
                except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                    raise Unavailable(f"OpenID metadata: {exc!r}") from exc
                if not isinstance(jwks_uri, str) or not jwks_uri.startswith("https://"):
                    raise Unavailable("OpenID metadata: jwks_uri is not an https URL")
                self._keys = jwt.PyJWKClient(
                    jwks_uri,
                    cache_keys=True,
                    lifespan=3600,
                    timeout=self.timeout,
                    ssl_context=ssl.create_default_context(),  # SSL_CERT_FILE is honoured
                )
                self._keys_at = time.monotonic()
                self._verified.clear()
            return self._keys

    def claims(self, token: str) -> dict[str, Any]:
        """The verified claims of `token`; raises `Unauthorized` (or `Unavailable`)."""
        now = self.now()
        verified = self._verified.get(token)
        if verified is not None:
            claims, until = verified
            if now < until and now <= float(claims["exp"]) + self.leeway:
                return claims
            self._verified.pop(token, None)
        claims = self._verify(token)
        if len(self._verified) >= VERIFIED_MAX:
            self._verified.clear()
        self._verified[token] = (claims, now + VERIFIED_FOR)
        return claims

    def _verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("malformed token") from exc
        if header.get("alg") != "RS256":
            raise Unauthorized(f"algorithm {str(header.get('alg'))[:10]!r} refused")
        try:
            key = self.keys().get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise Unavailable(f"signing keys: {exc}") from exc
        except jwt.PyJWKClientError as exc:
            raise Unauthorized("unknown signing key") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("malformed token") from exc
        try:
            return jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise Unauthorized("not valid yet") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthorized("wrong audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthorized("wrong issuer") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token ({type(exc).__name__})") from exc


def same_service_url(claimed: Any, actual: Any) -> bool:
    """The token's `serviceurl` claim names the activity's `serviceUrl` (trailing slash
    ignored; scheme and host compared without case)."""
    if not isinstance(claimed, str) or not isinstance(actual, str) or not claimed or not actual:
        return False
    return _normal(claimed) == _normal(actual)


def _normal(url: str) -> str:
    url = url.rstrip("/")
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}{sep}{host.lower()}{slash}{path}"


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to an activity: 200 with a JSON body (an invoke's answer) or without."""

    status: int = 200
    body: dict[str, Any] | None = None


class Dispatcher(Protocol):
    def dispatch(self, activity: dict[str, Any]) -> Answer: ...


STATUS = {
    200: "200 OK",
    202: "202 Accepted",
    400: "400 Bad Request",
    404: "404 Not Found",
    500: "500 Internal Server Error",
    503: "503 Service Unavailable",
}


class TeamsEndpoint:
    """The WSGI app of `POST /api/messages`: checks, then the dispatcher."""

    def __init__(
        self, dispatcher: Dispatcher, validator: TokenValidator, *, max_body: int = MAX_BODY
    ) -> None:
        self.dispatcher = dispatcher
        self.validator = validator
        self.max_body = max_body

    def __call__(self, environ: dict[str, Any], start_response: Start) -> Any:
        try:
            raw = read_body(environ, self.max_body)
        except BodyTooLarge:
            return plain(start_response, "413 Content Too Large", "body too large\n")
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return self.refuse(start_response, "401 Unauthorized", "no bearer token")
        try:
            claims = self.validator.claims(token.strip())
        except Unauthorized as exc:
            return self.refuse(start_response, "401 Unauthorized", str(exc))
        except Unavailable as exc:
            log.warning("teams request not verifiable now: %s", exc)
            return plain(start_response, "503 Service Unavailable", "cannot verify now\n")
        try:
            activity = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return self.refuse(start_response, "400 Bad Request", "body is not JSON")
        if not isinstance(activity, dict):
            return self.refuse(start_response, "400 Bad Request", "activity is not an object")
        if not same_service_url(claims.get("serviceurl"), activity.get("serviceUrl")):
            return self.refuse(start_response, "401 Unauthorized", "serviceurl does not match")
        answer = self.dispatcher.dispatch(activity)
        if answer.body is None:
            return plain(start_response, STATUS.get(answer.status, f"{answer.status} ?"), "")
        data = json.dumps(answer.body).encode()
        start_response(
            STATUS.get(answer.status, f"{answer.status} ?"),
            [
                ("Content-Type", "application/json; charset=utf-8"),
                ("Content-Length", str(len(data))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [data]

    @staticmethod
    def refuse(start_response: Start, status: str, reason: str) -> list[bytes]:
        log.info("teams request refused (%s): %s", status.split()[0], reason)
        return plain(start_response, status, reason + "\n")


def teams_endpoint(
    dispatcher: Dispatcher, validator: TokenValidator, *, max_body: int = MAX_BODY
) -> Endpoint:
    """`POST /api/messages`, to mount on the web host."""
    return Endpoint(PATH, TeamsEndpoint(dispatcher, validator, max_body=max_body), ("POST",))
