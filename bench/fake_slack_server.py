"""Run the tests' fake Slack Web API as its own process (so it does not share a GIL with the
load generator); prints its URL, then serves until terminated."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.slack_api import FakeSlack  # noqa: E402


def main() -> None:
    fake = FakeSlack()
    fake.start()
    print(fake.url, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())

    # Tell the parent how many triage posts arrived whenever it asks on stdin.
    def answer() -> None:
        for line in sys.stdin:
            channel = line.strip()
            print(len(fake.messages(channel)), flush=True)
        done.set()

    threading.Thread(target=answer, daemon=True).start()
    done.wait()
    fake.stop()


if __name__ == "__main__":
    main()
