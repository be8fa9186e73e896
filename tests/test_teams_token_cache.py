"""A Bot Connector token verified once is not verified again for every activity it carries (a
burst of card clicks carries the same one), yet it is refused from its expiry on, and a forged
token is never let through by one that was verified."""

from __future__ import annotations

import time
from typing import Any

from chatbot.platforms.teams.server import TeamsEndpoint, TokenValidator
from tests.test_teams_auth import (
    CLIENT_ID,
    ISSUER,
    KEY,
    OTHER,
    Keys,
    Recorder,
    activity,
    post,
    token,
)


class CountingValidator(TokenValidator):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.verified = 0

    def _verify(self, token: str) -> dict[str, Any]:
        self.verified += 1
        return super()._verify(token)


def _endpoint(leeway: float = 300) -> tuple[TeamsEndpoint, Recorder, CountingValidator]:
    validator = CountingValidator(
        metadata_url="https://unused.invalid",
        issuer=ISSUER,
        audience=CLIENT_ID,
        key_client=Keys({"k1": KEY}),
        leeway=leeway,
    )
    recorder = Recorder()
    return TeamsEndpoint(recorder, validator), recorder, validator


def test_a_token_is_verified_once_then_refused_from_its_expiry() -> None:
    app, recorder, validator = _endpoint(leeway=0)
    expiry = int(time.time()) + 2
    signed = token(exp=expiry)
    for _ in range(3):
        status, _ = post(app, activity(), f"Bearer {signed}")
        assert status.startswith("200")
    assert (len(recorder.activities), validator.verified) == (3, 1)
    time.sleep(max(0.0, expiry - time.time()) + 1.1)  # past its expiry
    status, body = post(app, activity(), f"Bearer {signed}")
    assert status.startswith("401") and b"expired" in body
    assert len(recorder.activities) == 3


def test_a_verified_token_lets_no_other_through() -> None:
    app, recorder, _ = _endpoint()
    good = token()
    assert post(app, activity(), f"Bearer {good}")[0].startswith("200")
    # The same claims signed by a key not in the JWKS, and the good token with a changed body.
    forged = token(key=OTHER, kid="k1")
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    for bad in (forged, tampered):
        assert post(app, activity(), f"Bearer {bad}")[0].startswith("401")
    assert len(recorder.activities) == 1
