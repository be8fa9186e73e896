"""The deployment files: `compose.yaml` and the `Dockerfile` start what the Procfile starts, each
long-running process with a health check that really checks it.

Docker itself is not needed here: `.ci/run` builds the image when a Docker daemon answers. These
tests read the files as Docker would and run the health checks they name against real processes."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, server_env, sqlite_only
from tests.fakes.slack_api import FakeSlack

FILES = "deployment files, the same on either database"


def procfile() -> dict[str, list[str]]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip():
            name, _, command = line.partition(":")
            entries[name.strip()] = shlex.split(command)
    return entries


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_runs_what_the_procfile_runs(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, command in procfile().items():
        assert services[name]["command"] == command, name
    assert services["db"]["image"].startswith("postgres:")
    # Only the optional Socket Mode process waits for `--profile socket`.
    assert [name for name, s in services.items() if s.get("profiles")] == ["socket"]


def test_compose_starts_in_order_database_then_release_then_processes(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert services["release"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["release"]["restart"] == "no"
    for name in ("web", "clock", "socket"):
        assert services[name]["depends_on"] == {
            "release": {"condition": "service_completed_successfully"}
        }
        assert services[name]["restart"] == "unless-stopped"


def test_compose_points_every_process_at_its_postgresql(compose: dict[str, Any]) -> None:
    services = compose["services"]
    db = services["db"]["environment"]
    expected = (
        f"postgresql://{db['POSTGRES_USER']}:{db['POSTGRES_PASSWORD']}@db:5432/{db['POSTGRES_DB']}"
    )
    for name in ("release", "web", "clock", "socket"):
        assert services[name]["environment"]["DATABASE_URL"] == expected, name
        assert services[name]["build"] == "."
        assert services[name]["env_file"] == [{"path": ".env", "required": False}]


def test_every_long_running_service_has_a_health_check_of_its_own(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    for name in ("web", "socket"):
        port = services[name]["environment"]["PORT"]
        check = " ".join(services[name]["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/healthz" in check, name
    assert services["web"]["ports"] == [f"{services['web']['environment']['PORT']}:3000"]
    assert services["clock"]["healthcheck"]["test"] == ["CMD", "chatbot", "clock", "--check"]


def test_the_dockerfile_installs_what_was_tested_and_runs_unprivileged() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    instructions = [line.split()[0] for line in lines]
    assert lines[0].startswith("FROM python:3.11")
    assert "RUN pip install --require-hashes -r requirements.lock" in lines
    assert "RUN pip install --no-deps ." in " ".join(lines)
    # What the wheel is built from (pyproject's packages and the templates it includes).
    for part in ("chatbot", "commands", "templates"):
        assert f"COPY {part} ./{part}" in lines
    user = instructions.index("USER")
    assert lines[user] != "USER root" and user > instructions.index("RUN")
    assert "/healthz" in next(line for line in lines if line.startswith("HEALTHCHECK"))
    assert lines[-1] == 'CMD ["chatbot", "serve"]'
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git", "*.db"} <= set(ignored)


@sqlite_only(FILES)
def test_the_clock_health_check_passes_only_after_a_tick(
    database_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    env = server_env(database_url, fake_slack)

    def chatbot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "chatbot.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )

    before = chatbot("clock", "--check")
    assert before.returncode == 1 and "has not ticked" in before.stderr
    assert chatbot("clock", "--once").returncode == 0
    after = chatbot("clock", "--check")
    assert after.returncode == 0, after.stderr
    assert after.stdout.startswith("ok: the clock ticked")
