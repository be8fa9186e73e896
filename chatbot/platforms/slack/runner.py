"""The Slack platform's parts for a process: the Bolt app, the sender and the inbox built from the
composed `Bot`, and the two ways to run the app (HTTP through a WSGI server, or Socket Mode). The
`chatbot` command calls these, so it never imports Bolt itself."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt import App

from chatbot.bot import Bot
from chatbot.db import Database
from chatbot.inbox import Inbox
from chatbot.platforms.slack.app import Replies, build_app
from chatbot.platforms.slack.client import make_client
from chatbot.platforms.slack.sender import SlackAPI, SlackSender
from chatbot.platforms.slack.server import slack_endpoint
from chatbot.web.dashboard import Web
from chatbot.web.host import Host


@dataclass(frozen=True)
class SlackParts:
    app: App
    sender: SlackSender
    inbox: Inbox  # not started: only the long-running processes take stored clicks


def slack_parts(bot: Bot) -> SlackParts:
    """The Bolt app, the Slack sender and the inbox, sharing one configuration."""
    settings = bot.settings
    # A send must finish well inside its lease, or another worker could take it over mid-flight.
    timeout = int(max(1, min(15, settings.delivery_lease_seconds / 2)))
    api = SlackAPI(settings.slack_bot_token, settings.slack_api_url, timeout=timeout)
    bolt_client = make_client(None, settings.slack_api_url, timeout=5)
    replies = Replies(bot.templates.render("common/apology.md.j2"))
    inbox = Inbox(bot, {"slack": replies.reply})
    app = build_app(bot, bolt_client, replies, inbox)
    return SlackParts(app=app, sender=SlackSender(api), inbox=inbox)


def http_app(app: App, db: Database, web: Web | None, *, signing_secret: str) -> Host:
    """`chatbot serve`: the web host (/healthz, the web pages) with Slack's endpoint mounted."""
    return Host(db, web=web, endpoints=[slack_endpoint(app, signing_secret)])


def run_socket_mode(bot: Bot, app: App, *, app_token: str, port: int) -> None:
    """`chatbot socket`: the same app over Socket Mode (`socket_mode.SocketModeRunner`), with
    `GET /healthz` and `GET /metrics` on `port` (none when 0). Blocks until SIGTERM."""
    from chatbot.metrics import Metrics
    from chatbot.platforms.slack.socket_mode import SocketCollector, SocketModeRunner
    from chatbot.web.host import serve_in_background

    settings = bot.settings
    client = make_client(app_token, settings.slack_api_url, timeout=10)
    runner = SocketModeRunner(app, app_token=app_token, client=client)
    server = None
    if port:
        metrics = Metrics(
            bot.db,
            bot.clock.now,
            extra=[SocketCollector(runner)],
            token=settings.techhelp_metrics_token,
        )
        host = Host(bot.db, metrics=metrics, checks=[lambda: runner.health().problem()])
        server = serve_in_background(host, port=port, threads=4)
    try:
        runner.run()
    finally:
        runner.stop()
        if server is not None:
            server.close()
