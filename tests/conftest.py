"""Fixtures: a fake Slack Web API on 127.0.0.1, a fresh database per test (SQLite, and PostgreSQL
when TEST_DATABASE_URL is set), and `chatbot serve` driven by signed requests over HTTP: composed
in the test's process as the command composes it (the same Bolt app, web host, waitress, delivery
and inbox workers), or as a real process where a test needs one (`kill -9`, SIGTERM, its log)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from tests.fakes.payloads import block_actions

if TYPE_CHECKING:
    from tests.fakes.slack_api import FakeSlack
    from tests.fakes.teams import FakeTeams

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
# A dashboard token as the README says to make one (a weak one stops `chatbot serve`).
DASHBOARD_TOKEN = "Qx7vN2kLp9Wz4mRt8HcY3bJf6Dg5Sa1EuKo0Ti-_eXrZ"
TRIAGE = "CTRIAGE"
ADMIN = "UADMIN"
STAFF = "USTAFF"
ROOT = Path(__file__).resolve().parent.parent
# One TLS context for every request a test sends: httpx otherwise builds a new one (loading the
# CA bundle) for each `httpx.get`/`post`, 0.15 s a call on a loaded machine, for plain HTTP.
TLS = ssl.create_default_context()


def http_get(url: str, **kwargs: Any) -> httpx.Response:
    """`httpx.get` (a fresh client: no cookies or connections kept between calls)."""
    return httpx.get(url, verify=TLS, **kwargs)


def http_post(url: str, **kwargs: Any) -> httpx.Response:
    """`httpx.post` (a fresh client: no cookies or connections kept between calls)."""
    return httpx.post(url, verify=TLS, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "empty_database: the database starts empty, not at the latest schema"
    )
    config.addinivalue_line(
        "markers", "serve_process: the `server` fixture is a real `chatbot serve` process"
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Why tests were skipped, once per reason ("120 tests skipped: PostgreSQL tests need
    TEST_DATABASE_URL …"), instead of a line per test (`-r` leaves skips out: pyproject.toml)."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    if reasons:
        terminalreporter.section("skipped tests, by reason", sep="-")
        for reason, n in sorted(reasons.items(), key=lambda item: -item[1]):
            terminalreporter.write_line(f"{n} test{'' if n == 1 else 's'} skipped: {reason}")


# --- databases --------------------------------------------------------------------------------


def _postgres_database(template: str | None = None) -> Iterator[str]:
    import psycopg

    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (.ci/run starts a server and sets it)")
    name = f"techhelp_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    parts = urllib.parse.urlsplit(base)
    yield urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _migrate(url: str) -> None:
    from chatbot.db import Database

    db = Database(url)
    db.upgrade()
    db.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the latest schema, made once per test process: each test gets a copy,
    byte for byte what `chatbot db upgrade` leaves, instead of running every migration again."""
    path = tmp_path_factory.mktemp("template") / "techhelp.db"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def migrated_postgres() -> Iterator[str]:
    """A PostgreSQL database at the latest schema, made once per test process: each test's
    database is created from it (`CREATE DATABASE … TEMPLATE`)."""
    for url in _postgres_database():
        _migrate(url)
        yield urllib.parse.urlsplit(url).path.lstrip("/")


def sqlite_only(reason: str) -> pytest.MarkDecorator:
    """Run a test on SQLite alone, for a test whose behaviour does not depend on the database
    (no concurrency, locking, migration or SQL of a dialect's own): `reason` says why."""
    assert reason
    return pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database per test, already at the latest schema (a copy of one migrated per test
    process; the bot's own `upgrade` then finds nothing to do). Tests marked `empty_database`
    (the migration tests) get an empty one."""
    empty = request.node.get_closest_marker("empty_database") is not None
    if request.param == "sqlite":
        path = tmp_path / "techhelp.db"
        if not empty:
            shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        yield f"sqlite:///{path}"
    else:
        template = None if empty else request.getfixturevalue("migrated_postgres")
        yield from _postgres_database(template)


# --- fake Slack -------------------------------------------------------------------------------


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    from tests.fakes.slack_api import FakeSlack

    fake = FakeSlack()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
    assert fake.errors == [], f"the bot sent something Slack would reject: {fake.errors}"


# --- fake Microsoft (Entra token endpoint, Bot Framework keys, Bot Connector) ------------------


@pytest.fixture
def fake_teams() -> Iterator[FakeTeams]:
    """A fake Teams on https://127.0.0.1 (trustme CA: `fake.env()` gives a `chatbot serve` its
    TEAMS_* settings and the CA). Fails the test if the bot sent anything Teams would refuse."""
    from tests.fakes.teams import FakeTeams

    fake = FakeTeams().start()
    try:
        yield fake
    finally:
        fake.stop()
    refused = [f"{call.method} {call.path}: {why}" for call, why in fake.rejected]
    assert refused == [], f"the bot sent something Teams would refuse: {refused}"


# --- the running server -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A `chatbot serve` process and a Slack-like client that signs what it sends."""

    env: dict[str, str]
    fake: FakeSlack
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    args: tuple[str, ...] = ()  # options of `chatbot serve`, e.g. ("--web-only",)
    in_process: bool = True
    _running: InProcessServe | None = None
    _log: Callable[[], None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> Server:
        if not self.in_process:
            return self._start_process(timeout)
        self._log = _log_to(self.log_path) if self.log_path is not None else None
        self._running = InProcessServe(self.env, self.port, self.args)
        return self

    def _start_process(self, timeout: float) -> Server:
        env = {**self.env, "PORT": str(self.port)}
        assert self.log_path is not None
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chatbot.cli", "serve", *self.args],
            env=env,
            stdout=log,
            stderr=log,
            cwd=self.log_path.parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"chatbot serve exited:\n{self.log_path.read_text()}")
            try:
                if http_get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"chatbot serve did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        """SIGTERM, as a deploy sends it: the server must finish what is in flight and exit 0.
        In-process: the same order as the command's exit (web, inbox, deliveries, database)."""
        if self._running is not None:
            running, self._running = self._running, None
            try:
                running.stop()
            finally:
                if self._log is not None:
                    self._log()
            return
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                code = self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
                raise AssertionError("chatbot serve did not stop on SIGTERM") from None
            assert code == 0, f"chatbot serve exited {code} on SIGTERM"

    def kill9(self) -> None:
        assert self.process is not None, "kill -9 needs a process: make_server(process=True)"
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def restart(self) -> Server:
        """The next server after a `kill9`, on the same database and port: composed in this
        process (what a test checks is what the killed process left behind, and how the next
        one takes it over; only the killed one needs to be a process)."""
        assert self.process is not None and self.process.poll() is not None, "not killed"
        self.in_process = True
        return self.start()

    def clock_once(self) -> None:
        """One tick of `chatbot clock` on this server's database and fake Slack (directory
        sync, scheduled sends), as the operator's process would run it; composed in this
        process beside an in-process server."""
        if self.in_process:
            clock_once_in_process(self.env)
            return
        clock = subprocess.run(
            [sys.executable, "-m", "chatbot.cli", "clock", "--once"],
            env={**self.env, "PORT": "0"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert clock.returncode == 0, clock.stderr

    # --- signed requests, as Slack sends them ---

    def post(
        self,
        body: str,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        timestamp: int | None = None,
        secret: str = SIGNING_SECRET,
        headers: dict[str, str] | None = None,
        sign: bool = True,
    ) -> httpx.Response:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        all_headers = {"Content-Type": content_type}
        if sign:
            signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
            all_headers |= {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}
        all_headers |= headers or {}
        return http_post(
            f"{self.url}/slack/events", content=body.encode(), headers=all_headers, timeout=10
        )

    def command(
        self,
        text: str,
        *,
        user: str = "UALICE",
        command: str = "/techhelp",
        trigger_id: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        form = {
            "token": "legacy",
            "team_id": "T0TEST",
            "team_domain": "test",
            "channel_id": "CGENERAL",
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0TEST",
            "response_url": self.fake.response_url(f"cmd-{uuid.uuid4()}"),
            "trigger_id": trigger_id or f"trig-{uuid.uuid4()}",
        }
        return self.post(urllib.parse.urlencode(form), **kwargs)

    def click(
        self,
        action_id: str,
        value: str,
        *,
        user: str = STAFF,
        trigger_id: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """A button pressed in the triage channel, with a response_url of the fake's."""
        body = block_actions(
            user,
            action_id,
            value,
            channel=TRIAGE,
            response_url=self.fake.response_url(f"act-{uuid.uuid4()}"),
            trigger_id=trigger_id,
        )
        return self.post(body, **kwargs)

    def submit(
        self,
        callback_id: str,
        values: dict[str, str],
        *,
        user: str = STAFF,
        private_metadata: str = "",
        selects: tuple[str, ...] = (),
        multis: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> httpx.Response:
        """A modal submitted as Slack sends it: `selects` name single choices, `multis`
        multi-selects (their values one per line)."""

        def element(name: str, value: str) -> dict[str, Any]:
            if name in selects:
                return {"type": "static_select", "selected_option": {"value": value}}
            if name in multis:
                chosen = [{"value": v} for v in value.splitlines()]
                return {"type": "multi_static_select", "selected_options": chosen}
            return {"type": "plain_text_input", "value": value}

        state = {name: {name: element(name, value)} for name, value in values.items()}
        payload = {
            "type": "view_submission",
            "team": {"id": "T0TEST", "domain": "test"},
            "user": {"id": user, "username": user.lower(), "team_id": "T0TEST"},
            "api_app_id": "A0TEST",
            "trigger_id": f"trig-{uuid.uuid4()}",
            "view": {
                "id": f"V{uuid.uuid4().hex[:8].upper()}",
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": private_metadata,
                "hash": uuid.uuid4().hex,
                "state": {"values": state},
            },
        }
        return self.post(urllib.parse.urlencode({"payload": json.dumps(payload)}), **kwargs)


def settings_of(env: dict[str, str], **values: Any) -> Any:
    """The settings a `chatbot` command would read from the environment `env` (and its
    TECHHELP_CONFIG file), without reading this process's environment or `.env`."""
    from chatbot.config import Settings, load_routing

    skip = {"PATH", "HOME", "LANG", "PYTHONPATH"}
    named = {k.lower(): v for k, v in env.items() if k not in skip}
    settings = Settings.from_values({**named, **values})
    if settings.techhelp_config:
        routing = load_routing(settings.techhelp_config)
        settings = settings.model_copy(update={"routing": routing})
    return settings


def clock_once_in_process(env: dict[str, str]) -> None:
    """`chatbot clock --once` composed as the command composes it (`chatbot.cli.common`), under
    a holder of its own (a new process's): every platform's directory, one tick, the worker
    stopped."""
    from chatbot.cli.common import compose, local_bot
    from chatbot.clock_process import tick

    bot = local_bot(settings_of(env, port=0))
    platforms = compose(bot)
    worker = bot.attach_worker(platforms.senders())
    try:
        directories = platforms.directories(bot.settings)
        tick(bot, holder=f"test-clock:{uuid.uuid4().hex}", directories=directories)
    finally:
        worker.stop()
        bot.db.dispose()


def _log_to(path: Path) -> Callable[[], None]:
    """What an in-process server logs goes to `path` as a `chatbot serve` process's log would
    (`setup_logging`: INFO and up, httpx's lines at WARNING); the returned call stops it."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root, quiet = logging.getLogger(), logging.getLogger("httpx")
    levels = root.level, quiet.level
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))
    quiet.setLevel(max(quiet.level, logging.WARNING))

    def stop() -> None:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        quiet.setLevel(levels[1])
        handler.close()

    return stop


_WAITRESS = threading.Lock()


def _run_web_host(app: Any, **options: Any) -> Any:
    """`chatbot.web.host.serve` itself (its waitress options, whatever they become) on
    127.0.0.1 in a thread, keeping hold of the waitress server so that the test can stop it:
    `waitress.serve` is swapped, only while this thread starts, for one that records it."""
    import waitress

    from chatbot.web import host

    ready = threading.Event()
    made: list[Any] = []
    original = waitress.serve

    def serve_recorded(app: Any, **kwargs: Any) -> None:
        server = waitress.create_server(app, **kwargs)
        made.append(server)
        ready.set()
        server.run()

    def run() -> None:
        try:
            host.serve(app, host="127.0.0.1", **options)
        finally:
            ready.set()

    with _WAITRESS:
        waitress.serve = serve_recorded
        try:
            thread = threading.Thread(target=run, name=f"serve-{options['port']}", daemon=True)
            thread.start()
            ready.wait(30)
        finally:
            waitress.serve = original
    assert made, "the web host did not start"
    server = made[0]
    server.thread = thread
    return server


class InProcessServe:
    """`chatbot serve` composed in this process as the command composes it (`chatbot.cli.serve`,
    with `compose` from `chatbot.cli.common`): settings from the same environment variables
    (read from `env`, not from this process's environment), every configured platform's parts,
    the delivery and inbox workers (not with `--web-only`), the dashboard, and the web host on
    waitress at 127.0.0.1:`port`. What a test sends still crosses HTTP with Slack's signature;
    only the interpreter's start-up is saved."""

    def __init__(self, env: dict[str, str], port: int, args: tuple[str, ...] = ()) -> None:
        from chatbot.cli.common import compose, local_bot
        from chatbot.metrics import Metrics
        from chatbot.platforms.slack.server import slack_endpoint
        from chatbot.web.dashboard import Web
        from chatbot.web.host import Host

        settings = settings_of(env, port=port)
        workers = "--web-only" not in args
        self.bot = local_bot(settings)
        self.platforms = compose(self.bot)
        self.worker = self.bot.attach_worker(self.platforms.senders(), start=workers)
        if workers and self.platforms.inbox is not None:
            self.platforms.inbox.start()
        endpoints = []
        if self.platforms.slack is not None:
            assert settings.slack_signing_secret
            slack = self.platforms.slack.app
            endpoints.append(slack_endpoint(slack, settings.slack_signing_secret))
        if self.platforms.teams is not None:
            endpoints.append(self.platforms.teams.endpoint)
        web = Web(settings=settings, db=self.bot.db, clock=self.bot.clock)
        metrics = Metrics(self.bot.db, self.bot.clock.now, token=settings.techhelp_metrics_token)
        app = Host(self.bot.db, web=web, endpoints=endpoints, metrics=metrics)
        self.web = _run_web_host(
            app,
            port=port,
            threads=settings.web_threads,
            trusted_proxy=settings.techhelp_trusted_proxy,
        )
        self.thread = self.web.thread

    def stop(self) -> None:
        web = self.web

        def close_all() -> None:  # in the server's own loop thread: its map is not shared
            for dispatcher in list(web._map.values()):
                if dispatcher is not web and dispatcher is not web.trigger:
                    dispatcher.handle_close()  # an open connection
            web.close()  # the listening socket and the trigger: the loop's map is empty

        web.trigger.pull_trigger(close_all)
        self.thread.join(10)
        assert not self.thread.is_alive(), "the web host did not stop"
        web.task_dispatcher.shutdown()
        if self.platforms.inbox is not None:
            self.platforms.inbox.stop()
        self.worker.stop()
        self.bot.db.dispose()


def server_env(database_url: str, fake: FakeSlack, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    return {
        **keep,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.url,
        "TECHHELP_TRIAGE_CHANNEL": TRIAGE,
        "TECHHELP_ADMINS": ADMIN,
        **extra,
    }


@pytest.fixture
def make_server(database_url: str, fake_slack: FakeSlack, tmp_path: Path) -> Iterator[Any]:
    servers: list[Server] = []

    def make(*args: str, process: bool = False, **extra: str) -> Server:
        """`process=True`: a real `chatbot serve` process (for kill -9, SIGTERM, its log)."""
        server = Server(
            server_env(database_url, fake_slack, **extra),
            fake_slack,
            log_path=tmp_path / "server.log",
            args=args,
            in_process=not process,
        )
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Server:
    """`chatbot serve` in this process; a real process for tests marked `serve_process`."""
    config = tmp_path / "techhelp.yml"
    config.write_text(
        "staff: [USTAFF]\ndepartments:\n  - {name: Finance, manager: UMANAGER, members: [UALICE]}\n"
    )
    process = request.node.get_closest_marker("serve_process") is not None
    return make_server(process=process, TECHHELP_CONFIG=str(config)).start()


# --- a `chatbot serve` for Teams ----------------------------------------------------------------

TEAMS_TRIAGE = "19:triage@thread.tacv2"
TEAMS_ALERTS = "19:alerts@thread.tacv2"


def teams_env(database_url: str, fake: FakeTeams, **extra: str) -> dict[str, str]:
    """A `chatbot serve` with Teams alone (no SLACK_*): the fake's TEAMS_* and CA, the triage
    and alert channels, and the admin (the fake's `person("admin")`)."""
    from tests.fakes.teams_payloads import person

    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    return {
        **keep,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        **fake.env(),
        "TEAMS_TRIAGE_CHANNEL": TEAMS_TRIAGE,
        "TEAMS_ALERT_CHANNELS": TEAMS_ALERTS,
        "TEAMS_ADMINS": str(person("admin", name="Ada Admin")["aadObjectId"]),
        **extra,
    }


@pytest.fixture
def make_teams_server(
    database_url: str, fake_teams: FakeTeams, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """`make_teams_server(*serve_args, slack=fake_slack or None, process=False, **env)`: a
    `chatbot serve` on Teams (and Slack too with `slack`), not started; composed in this process
    unless `process=True` (a real `chatbot serve`, for kill -9, SIGTERM, or the parity test)."""
    servers: list[Server] = []
    # The fake Microsoft endpoints speak TLS with a test CA that only the environment names
    # (MSAL's requests reads REQUESTS_CA_BUNDLE, httpx and the key client's default context
    # SSL_CERT_FILE, each when it connects): trusted in this process for the test's duration,
    # as a `chatbot serve` process trusts it from the environment it is given.
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        monkeypatch.setenv(name, fake_teams.env()[name])

    def make(
        *args: str, slack: FakeSlack | None = None, process: bool = False, **extra: str
    ) -> Server:
        env = teams_env(database_url, fake_teams, **extra)
        if slack is not None:
            env |= {k: v for k, v in server_env(database_url, slack).items() if k not in env}
        server = Server(
            env,
            slack,  # type: ignore[arg-type]
            log_path=tmp_path / "server.log",
            args=args,
            in_process=not process,
        )
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def teams(make_teams_server: Any, fake_teams: FakeTeams) -> Any:
    """A running Teams-only `chatbot serve` and its driver (`tests/teams_driver.py`)."""
    from tests.teams_driver import TeamsDriver

    return TeamsDriver(make_teams_server().start(), fake_teams)


# --- the in-process test platform -------------------------------------------------------------


@pytest.fixture
def make_chat(database_url: str) -> Iterator[Any]:
    """`make_chat(config, capabilities=...)`: the bot from an explicit configuration dict
    (nothing from the environment), on a fresh database, on the in-process test platform."""
    from tests.platform import FULL, TestPlatform, build

    built: list[TestPlatform] = []

    def make(config: dict[str, Any] | None = None, **options: Any) -> TestPlatform:
        options.setdefault("capabilities", FULL)
        chat = build({"database_url": database_url, **(config or {})}, **options)
        built.append(chat)
        return chat

    yield make
    for chat in built:
        chat.worker.stop()
        chat.bot.db.dispose()
