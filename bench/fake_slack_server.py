"""Run the tests' fake Slack Web API as its own process (so it does not share a GIL with the
load generator); prints its URL, then serves until terminated."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.slack_api import FakeSlack, dm_id  # noqa: E402


def main() -> None:
    fake = FakeSlack()
    fake.start()
    rate = os.environ.get("FAKE_POST_RATE")  # enforce chat.postMessage at this many per second
    if rate:
        # Slack allows short bursts over its rate; a small bucket models that.
        fake.rate_limit("chat.postMessage", float(rate), burst=4)
    print(fake.url, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())

    # Answer the parent's questions on stdin: a channel id → posts stored there; "* [U…]" → all
    # posts (but those to the users named), distinct channels, the first and last successful
    # post's time, and how many got a 429; "edits U…" → chat.update calls to that user's direct
    # message, and the text of the message there now; "responses" → posts to response_urls.
    def answer() -> None:
        for line in sys.stdin:
            words = line.split()
            if words and words[0] == "*":
                skip = {dm_id(u) for u in words[1:]}
                posts = [m for m in fake.messages() if m["channel"] not in skip]
                calls = [
                    c
                    for c in fake.calls("chat.postMessage")
                    if dm_id(str(c.body.get("channel"))) not in skip
                ]
                stamps = [c.time for c in calls if not c.status] or [0]
                limited = sum(c.status == 429 for c in calls)
                distinct = len({m["channel"] for m in posts})
                print(len(posts), distinct, min(stamps), max(stamps), limited, flush=True)
            elif words == ["responses"]:
                print(len(fake.calls("response_url")), flush=True)
            elif words and words[0] == "edits":
                edits = [
                    c for c in fake.calls("chat.update") if c.body.get("channel") == dm_id(words[1])
                ]
                now = fake.messages(words[1])
                text = json.dumps(now[-1]["blocks"]) if now else ""
                print(len(edits), text, flush=True)
            else:
                print(len(fake.messages(words[0] if words else "")), flush=True)
        done.set()

    threading.Thread(target=answer, daemon=True).start()
    done.wait()
    fake.stop()


if __name__ == "__main__":
    main()
