"""The baseline: a bare Bolt app doing the least the intake needs (ack, post one triage message)
and a survey click (ack only), served the same way as TechHelp (waitress, same thread count),
against the same fake Slack."""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor

import waitress
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient


def main() -> None:
    threads = int(os.environ.get("WEB_THREADS", "48"))
    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = App(
        client=client,
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        token_verification_enabled=False,
        listener_executor=ThreadPoolExecutor(max_workers=threads),
    )
    channel = os.environ["TECHHELP_TRIAGE_CHANNEL"]

    @app.command("/techhelp")
    def techhelp(ack, body, client):  # type: ignore[no-untyped-def]
        ack(text="Thanks, we have it.")
        client.chat_postMessage(channel=channel, text=body["text"][:3000])

    @app.action(re.compile(r"^pulse\.(answer|item)"))
    def pulse_answer(ack):  # type: ignore[no-untyped-def]
        ack()  # the least a survey click needs (bench/pulse.py, bench/questionnaire.py)

    handler = SlackRequestHandler(app)

    def wsgi(environ, start_response):  # type: ignore[no-untyped-def]
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        return handler(environ, start_response)

    waitress.serve(
        wsgi,
        host="127.0.0.1",
        port=int(os.environ["PORT"]),
        threads=threads,
        connection_limit=1000,
        ident="baseline",
    )


if __name__ == "__main__":
    main()
