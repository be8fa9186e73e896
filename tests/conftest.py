"""Fixtures: a fake Slack Web API on 127.0.0.1, a fresh database per test (SQLite, and PostgreSQL
when TEST_DATABASE_URL is set), and a real `chatbot serve` process driven by signed requests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
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


# --- databases --------------------------------------------------------------------------------


def _postgres_database() -> Iterator[str]:
    import psycopg

    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (.ci/run starts a server and sets it)")
    name = f"techhelp_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urllib.parse.urlsplit(base)
    yield urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'techhelp.db'}"
    else:
        yield from _postgres_database()


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

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> Server:
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
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"chatbot serve did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        """SIGTERM, as a deploy sends it: the server must finish what is in flight and exit 0."""
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
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def clock_once(self) -> None:
        """One tick of `chatbot clock` on this server's database and fake Slack (directory
        sync, scheduled sends), as the operator's process would run it."""
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
        return httpx.post(
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

    def make(*args: str, **extra: str) -> Server:
        server = Server(
            server_env(database_url, fake_slack, **extra),
            fake_slack,
            log_path=tmp_path / "server.log",
            args=args,
        )
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server: Any, tmp_path: Path) -> Server:
    config = tmp_path / "techhelp.yml"
    config.write_text(
        "staff: [USTAFF]\ndepartments:\n  - {name: Finance, manager: UMANAGER, members: [UALICE]}\n"
    )
    return make_server(TECHHELP_CONFIG=str(config)).start()


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
def make_teams_server(database_url: str, fake_teams: FakeTeams, tmp_path: Path) -> Iterator[Any]:
    """`make_teams_server(*serve_args, slack=fake_slack or None, **env)`: a `chatbot serve` on
    Teams (and Slack too with `slack`), not started."""
    servers: list[Server] = []

    def make(*args: str, slack: FakeSlack | None = None, **extra: str) -> Server:
        env = teams_env(database_url, fake_teams, **extra)
        if slack is not None:
            env |= {k: v for k, v in server_env(database_url, slack).items() if k not in env}
        server = Server(env, slack, log_path=tmp_path / "server.log", args=args)  # type: ignore[arg-type]
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
