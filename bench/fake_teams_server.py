"""Run the tests' fake Teams (Entra token endpoint, Bot Framework keys, Bot Connector, over TLS)
as its own process, so it does not share a GIL with the load generator. It prints one JSON line
(where it is, the bot's credentials, the CA file), then serves until terminated.

FAKE_TEAMS_PEOPLE=N puts N people (`teams_payloads.person(1..N)`) in the installed team's roster,
with the app installed for each. Teams' rate limits are on (50 calls/s per app and tenant; per
conversation 7/1 s, 8/2 s, 60/30 s sends); FAKE_TEAMS_RATE=R changes the first.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes import teams_payloads  # noqa: E402
from tests.fakes.teams import CARD, FakeTeams  # noqa: E402


def main() -> None:
    fake = FakeTeams()
    fake.start()
    fake.set_rate_limits(per_second=int(os.environ.get("FAKE_TEAMS_RATE", "50")))
    people = int(os.environ.get("FAKE_TEAMS_PEOPLE", "0"))
    fake.members = teams_payloads.roster(people, tenant_id=fake.tenant_id)
    fake.install_for_everyone()
    print(
        json.dumps(
            {
                "url": fake.url,
                "service_url": fake.service_url,
                "login_endpoint": fake.login_endpoint,
                "openid_metadata_url": fake.openid_metadata_url,
                "client_id": fake.client_id,
                "client_secret": fake.client_secret,
                "tenant_id": fake.tenant_id,
                "team_id": fake.team_id,
                "ca_pem": str(fake.ca_pem),
                "env": fake.env(),
            }
        ),
        flush=True,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())

    def stats(since: float, skip: set[str]) -> dict[str, object]:
        """Since `since` (epoch seconds): the bot's posts to 1:1 conversations (but `skip`),
        distinct ones, the first and last successful post's time, the 429s, and the successful
        Bot Connector calls (count, first, last) and 1:1 conversations created."""
        calls = [c for c in list(fake.calls) if c.time >= since]
        ok = [c for c in calls if c.status == 200]
        posts = [
            c
            for c in ok
            if c.method == "POST"
            and c.path.endswith("/activities")
            and (c.conversation or "").startswith("a:")
            and c.conversation not in skip
        ]
        stamps = [c.time for c in posts] or [0.0]
        every = [c.time for c in ok] or [0.0]
        return {
            "posts": len(posts),
            "distinct": len({c.conversation for c in posts}),
            "first": min(stamps),
            "last": max(stamps),
            "limited": sum(c.status == 429 for c in calls),
            "calls": len(ok),
            "calls_first": min(every),
            "calls_last": max(every),
            "creates": sum(c.method == "POST" and c.path.endswith("/conversations") for c in ok),
            "rejected": [why for _, why in fake.rejected][:5],
        }

    def buttons() -> dict[str, dict[str, object]]:
        """Per 1:1 conversation: its last card and that card's Action.Execute buttons."""
        found: dict[str, dict[str, object]] = {}
        for conversation, activities in list(fake.conversations.items()):
            for activity in reversed(activities):
                cards = [
                    a["content"]
                    for a in activity.get("attachments") or []
                    if a.get("contentType") == CARD
                ]
                actions = [
                    {"verb": a["verb"], "data": a.get("data") or {}}
                    for card in cards
                    for a in _actions(card)
                    if a.get("type") == "Action.Execute"
                ]
                if actions:
                    found[conversation] = {"activity_id": activity["id"], "actions": actions}
                    break
        return found

    # Questions on stdin, one JSON answer line each: "token" (an inbound JWT, valid for an hour),
    # "stats <since> [conversation ids to skip]", "buttons", "rejected".
    def answer() -> None:
        for line in sys.stdin:
            words = line.split()
            if words == ["token"]:
                print(json.dumps(fake.token()), flush=True)
            elif words and words[0] == "stats":
                print(json.dumps(stats(float(words[1]), set(words[2:]))), flush=True)
            elif words == ["buttons"]:
                print(json.dumps(buttons()), flush=True)
            elif words == ["rejected"]:
                print(json.dumps([why for _, why in fake.rejected]), flush=True)
            else:
                print(json.dumps(None), flush=True)
        done.set()

    threading.Thread(target=answer, daemon=True).start()
    done.wait()
    fake.stop()


def _actions(node: object) -> list[dict[str, object]]:
    """Every action in a card, in its body's ActionSets and its actions, in order."""
    found: list[dict[str, object]] = []
    if isinstance(node, dict):
        if str(node.get("type", "")).startswith("Action."):
            found.append(node)
        for value in node.values():
            found += _actions(value)
    elif isinstance(node, list):
        for item in node:
            found += _actions(item)
    return found


if __name__ == "__main__":
    main()
