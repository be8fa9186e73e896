"""`chatbot shell`: the local console, on the same handlers and database; `chatbot demo`: the
console's demo workspace with a few weeks of history."""

from __future__ import annotations

import logging
import secrets
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import click

from chatbot import demo
from chatbot.cli.common import local_bot, settings
from chatbot.config import Settings

if TYPE_CHECKING:
    from chatbot.bot import Bot
    from chatbot.clock import Clock
    from chatbot.platforms.console.shell import Console

DEMO_WEEKS = 6


def console_settings(user: str | None, *, use_demo: bool) -> tuple[Settings, str, bool]:
    """The console's settings, whom it acts as, and whether the demo workspace is in them."""
    # At the console, the ids of TECHHELP_* (channels, admins) are console names.
    current = settings().model_copy(update={"techhelp_platform": "console"})
    me = (user or current.console_user).upper()
    if use_demo and demo.wanted(current):
        return demo.workspace(current, me=me), me, True
    if not current.techhelp_triage_channel:
        current = current.model_copy(update={"techhelp_triage_channel": demo.TRIAGE_CHANNEL})
    if not current.techhelp_admins and not current.routing.staff:
        # Alone at a console you are the service desk too, so every flow can be tried.
        current = current.model_copy(update={"techhelp_admins": [me]})
    return current, me, False


def demo_bot(current: Settings, me: str) -> Bot | None:
    """The bot on the demo's database with its directory seeded, or None (and why) when that
    database holds another platform's directory: the demo never mixes with a real one."""
    bot = local_bot(current)
    with bot.db.transaction() as session:
        if demo.other_platforms(session):
            click.echo(
                "(no demo workspace: this database holds a Slack or Teams directory; "
                "set DATABASE_URL to another database to try the demo)"
            )
            bot.db.dispose()
            return None
        demo.seed(session, current, me=me, now=bot.clock.now())
    return bot


def banner(me: str) -> str:
    departments = ", ".join(demo.DEPARTMENTS[:-1]) + " and " + demo.DEPARTMENTS[-1]
    return (
        f"Demo workspace (no Slack or Teams is configured): {len(demo.PEOPLE)} people in "
        f"{departments}, the alert channel {demo.ALERT_CHANNEL} and the IT channel "
        f"{demo.IT_CHANNEL}; you (@{me}) are the admin, on the service desk with @USAM.\n"
        "  /demo history         add six weeks of history (requests, ratings, alerts, a weekly "
        "pulse check)\n"
        "  /dashboard            open the dashboard and the public report in a browser\n"
        "  `chatbot shell --no-demo` starts without the demo."
    )


def add_demo_commands(console: Console, current: Settings, me: str) -> None:
    bot = console.bot

    def history(rest: str) -> None:
        if rest.strip() not in ("history", ""):
            console.out("(usage: /demo history)")
            return
        console.out(history_of(current, me))

    def dashboard(_: str) -> None:
        console.out(start_web(bot))

    console.commands["/demo"] = history
    console.commands["/dashboard"] = dashboard


def history_of(current: Settings, me: str) -> str:
    from chatbot.platforms.console.demo import add_history

    made = add_history(_builder(current), me=me, weeks=DEMO_WEEKS)
    if made is None:
        return "(the demo history was added to this database already)"
    return (
        f"Added {DEMO_WEEKS} weeks of history: {made.requests} requests ({made.rated} rated), "
        f"{made.alerts} alerts, {made.surveys} runs of a weekly pulse check. "
        "Try /pulse results, /techalert list, /dashboard."
    )


def _builder(current: Settings) -> Callable[[Clock | None], Bot]:
    from chatbot.app import build_bot

    return lambda clock: build_bot(current, clock=clock)


_web: dict[str, str] = {}


def start_web(bot: Bot) -> str:
    """The dashboard and the public report on 127.0.0.1, in this process (once)."""
    if "url" in _web:
        return _web["message"]
    from chatbot.web.dashboard import Web
    from chatbot.web.host import Host
    from chatbot.web.host import serve as run_server

    current = bot.settings
    token = current.techhelp_dashboard_token or secrets.token_urlsafe(32)
    web_settings = current.model_copy(update={"techhelp_dashboard_token": token})
    web = Web(settings=web_settings, db=bot.db, clock=bot.clock)
    url = f"http://127.0.0.1:{current.port}"
    thread = threading.Thread(
        target=run_server,
        args=(Host(bot.db, web=web, endpoints=[]),),
        kwargs={"port": current.port, "threads": 4, "host": "127.0.0.1"},
        daemon=True,
        name="dashboard",
    )
    thread.start()
    shown = "(TECHHELP_DASHBOARD_TOKEN)" if current.techhelp_dashboard_token else token
    _web["url"] = url
    _web["message"] = (
        f"The dashboard: {url}/dashboard (sign in with the token {shown})\n"
        f"The public service report: {url}/report\n"
        "(served from this console until you /quit; PORT picks another port)"
    )
    return _web["message"]


def _readline(interactive: bool) -> None:
    """Line editing, and lines longer than the terminal's own limit (4,095 characters) arrive
    whole: readline reads the keys itself. Tab completes a form's choices."""
    if not interactive:
        return
    try:
        import readline
    except ImportError:  # not built with readline (some Windows Pythons): plain input()
        return
    readline.parse_and_bind("tab: complete")
    readline.set_completer_delims(",")


def _complete(choices: Sequence[str]) -> None:
    try:
        import readline
    except ImportError:
        return

    def complete(text: str, state: int) -> str | None:
        typed = text.lstrip().casefold()
        found = [c for c in choices if c.casefold().startswith(typed)]
        return found[state] if state < len(found) else None

    readline.set_completer(complete if choices else None)


@click.command()
@click.option(
    "--user", default=None, help="Whom the console acts as (default UCONSOLE; `/as` changes it)."
)
@click.option(
    "--no-demo",
    is_flag=True,
    help="Without the demo workspace (it is used only when no platform, channel, admin, staff "
    "or department is configured).",
)
def shell(user: str | None, no_demo: bool) -> None:
    """Local console on the same handlers and database."""
    from chatbot.platforms.console.shell import Console

    logging.basicConfig(level=logging.WARNING)
    current, me, use_demo = console_settings(user, use_demo=not no_demo)
    bot = demo_bot(current, me) if use_demo else None
    if bot is None:
        if use_demo:
            current, me, use_demo = console_settings(user, use_demo=False)
        bot = local_bot(current)
    interactive = sys.stdin.isatty()
    _readline(interactive)

    def lines() -> Iterator[str]:
        while True:
            try:
                line = input("techhelp> ") if interactive else sys.stdin.readline()
            except EOFError:
                return
            if not interactive and not line:
                return
            yield line

    def ask(prompt: str, choices: Sequence[str] = ()) -> str:
        if interactive:
            _complete(choices)
            try:
                return input(prompt)
            finally:
                _complete(())
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        answer = line.rstrip("\n")
        click.echo(f"{prompt}{answer}")
        return answer

    console = Console(bot, user=me, out=click.echo)
    if use_demo:
        click.echo(banner(me))
        add_demo_commands(console, current, me)
    else:
        console.commands["/dashboard"] = lambda _: console.out(start_web(bot))
    restored = console.restore()
    if restored:
        click.echo(
            f"({restored} messages from before still have buttons to press: /show lists yours)"
        )
    console.run(lines(), ask, echo=not interactive)
    bot.db.dispose()


@click.command("demo")
@click.option("--user", default=None, help="Whom the console acts as (default UCONSOLE).")
@click.option("--weeks", default=DEMO_WEEKS, show_default=True, help="Weeks of history.")
def demo_command(user: str | None, weeks: int) -> None:
    """The console's demo workspace with a few weeks of history (requests, ratings, alerts, a
    weekly pulse check), so the dashboard, report, digest and trends have something to show.
    Only where nothing about a real workspace is configured; never in a Slack or Teams one."""
    from chatbot.platforms.console.demo import add_history

    logging.basicConfig(level=logging.WARNING)
    current, me, use_demo = console_settings(user, use_demo=True)
    if not use_demo:
        raise click.ClickException(
            "the demo is for a console with nothing configured: this one has platform "
            "credentials, channels, admins, staff or departments set"
        )
    bot = demo_bot(current, me)
    if bot is None:
        raise click.ClickException("no demo here: this database holds a Slack or Teams directory")
    bot.db.dispose()
    made = add_history(_builder(current), me=me, weeks=weeks)
    # A file's name, never a server's address (it may hold a password).
    where = current.database_url if current.database_url.startswith("sqlite") else "the database"
    if made is None:
        raise click.ClickException("the demo history was added to this database already")
    click.echo(
        f"Added {weeks} week{'s' if weeks != 1 else ''} of history to {where}: "
        f"{made.requests} requests "
        f"({made.rated} rated), {made.alerts} alert{'s' if made.alerts != 1 else ''}, "
        f"{made.surveys} runs of a weekly pulse "
        "check. Run `chatbot shell` and type /dashboard."
    )
