"""Run the tests' fake Slack Web API as its own process (so it does not share a GIL with the
load generator); prints its URL, then serves until terminated."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.slack_api import FakeSlack  # noqa: E402


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

    # Answer the parent's questions on stdin: a channel id → posts stored there; "*" → all posts,
    # distinct channels, the first and last successful post's time, and how many got a 429.
    def answer() -> None:
        for line in sys.stdin:
            channel = line.strip()
            if channel == "*":
                posts = fake.messages()
                stamps = [c.time for c in fake.calls("chat.postMessage") if not c.status] or [0]
                limited = sum(c.status == 429 for c in fake.calls("chat.postMessage"))
                distinct = len({m["channel"] for m in posts})
                print(len(posts), distinct, min(stamps), max(stamps), limited, flush=True)
            else:
                print(len(fake.messages(channel)), flush=True)
        done.set()

    threading.Thread(target=answer, daemon=True).start()
    done.wait()
    fake.stop()


if __name__ == "__main__":
    main()
