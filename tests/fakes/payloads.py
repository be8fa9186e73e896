"""What Slack sends to `POST /slack/events` when a button is pressed (`block_actions`), as the
form-encoded body, for the tests and the benchmarks."""

from __future__ import annotations

import json
import time
import urllib.parse
import uuid
from typing import Any


def block_actions(
    user: str,
    action_id: str,
    value: str,
    *,
    channel: str | None = None,
    home: bool = False,
    response_url: str = "",
    trigger_id: str | None = None,
    action_ts: str | None = None,
) -> str:
    """A button pressed in a message in `channel` (Slack gives a response_url), or with `home`
    on App Home (Slack sends the view, and no response_url). A retry of the same press carries
    the same `trigger_id` and `action_ts`."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": "T0TEST", "domain": "test"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0TEST"},
        "api_app_id": "A0TEST",
        "trigger_id": trigger_id or f"trig-{uuid.uuid4()}",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b",
                "value": value,
                "action_ts": action_ts or f"{time.time():.6f}",
            }
        ],
    }
    if home:
        payload["container"] = {"type": "view", "view_id": "VHOME"}
        payload["view"] = {"id": "VHOME", "type": "home", "callback_id": ""}
    else:
        channel = channel or "D" + user
        payload["response_url"] = response_url
        name = "directmessage" if channel.startswith("D") else channel.lower()
        payload["channel"] = {"id": channel, "name": name}
        payload["container"] = {"type": "message", "channel_id": channel, "message_ts": "1.0"}
    return urllib.parse.urlencode({"payload": json.dumps(payload)})
