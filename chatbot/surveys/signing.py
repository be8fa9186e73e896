"""Answer buttons signed for their person: an HMAC over run, option, the holder's ballot and the
person it was sent to, with a key derived from SLACK_SIGNING_SECRET (or generated and stored in
`secrets` on first use); the ballot's random token that keys a person's comment.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy.orm import Session

from chatbot.config import Settings
from chatbot.db.models import Secret
from chatbot.db.upsert import insert_ignore
from chatbot.messages import Refusal

SECRET_NAME = "pulse-hmac"


def signing_key(*, session: Session, settings: Settings, now: datetime) -> bytes:
    """The key that signs survey buttons and keys anonymous respondents: TechHelp's own, never
    a platform's. Derived from `TECHHELP_SECRET_KEY` when set; else the one stored in `secrets`.
    On first use that stored key is the one the Slack signing secret used to give, when there is
    one, so buttons already sent and respondents' keys stay valid across the upgrade; from then
    on it no longer depends on it (rotating the Slack secret changes nothing). Else random."""
    if settings.techhelp_secret_key:
        return key_from_secret(settings.techhelp_secret_key)
    stored = session.get(Secret, SECRET_NAME)
    if stored is None:
        legacy = settings.slack_signing_secret
        value = key_from_secret(legacy).hex() if legacy else secrets.token_hex(32)
        insert_ignore(session, Secret, name=SECRET_NAME, value=value, created_at=now)
        stored = session.get(Secret, SECRET_NAME)
        assert stored is not None
    return bytes.fromhex(stored.value)


def key_from_secret(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"techhelp-pulse", hashlib.sha256).digest()


@lru_cache(maxsize=16)
def _keyed(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod=hashlib.sha256)


def _mac(key: bytes, message: str, length: int = 32) -> str:
    """The message's HMAC-SHA256 under `key` (hex, cut to `length`); the key's inner and outer
    pads are hashed once per process (a questionnaire message signs some 30 buttons)."""
    mac = _keyed(key).copy()
    mac.update(message.encode())
    return mac.hexdigest()[:length]


INVALID = "That survey button is not valid (it may come from an old message)."


@dataclass(frozen=True)
class Ballot:
    """What a person's buttons carry besides the run and option, signed with them: how many
    answers they had given when the message was made (0: none), the option they chose last, and
    their random ballot token (which keys their comment). It lives only in their own message."""

    version: int = 0
    previous: int | None = None
    token: str | None = None

    def state(self) -> str:
        previous = "-" if self.previous is None else str(self.previous)
        return f"{self.version}.{previous}.{self.token or '-'}"


FRESH = Ballot()


def button_value(key: bytes, run_id: int, choice: str, user: str, ballot: Ballot = FRESH) -> str:
    """`<run>.<choice>.<version>.<previous>.<token>.<signature>`; choice is an option index or
    "c" (comment). The signature covers the person the button was made for."""
    state = ballot.state()
    return f"{run_id}.{choice}.{state}.{_mac(key, f'pulse:{run_id}:{choice}:{state}:{user}')}"


def run_of_value(value: str) -> int | None:
    """The run a value names, unverified (to say why a refused value is refused)."""
    head = value.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def read_button(key: bytes, value: str, user: str) -> tuple[int, str, Ballot]:
    """(run id, choice, ballot) from a value signed for `user`; a forged or altered value, or one
    made for someone else, is refused."""
    parts = value.split(".")
    if len(parts) == 6 and parts[0].isdigit() and parts[2].isdigit():
        run_id, choice, version, previous, token, signature = parts
        state = f"{version}.{previous}.{token}"
        expected = _mac(key, f"pulse:{run_id}:{choice}:{state}:{user}")
        if hmac.compare_digest(signature, expected) and (previous == "-" or previous.isdigit()):
            ballot = Ballot(
                int(version),
                None if previous == "-" else int(previous),
                None if token == "-" else token,
            )
            return int(run_id), choice, ballot
    raise Refusal(INVALID)


def new_token() -> str:
    return secrets.token_hex(16)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]
