"""The operators' command line as a newcomer meets it: help that describes what each command
does now, `--as` in the same place on every command that acts, `alert send` and `survey send`
alike about credentials and failing when nothing was sent, no log noise on every command, and
answers in plain words that suggest the command-line verb."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

ADMIN = "UADMIN"


@pytest.fixture
def cli(tmp_path: Path):  # type: ignore[no-untyped-def]
    """`chatbot …` on a fresh SQLite database with no platform credentials at all."""
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "HOME": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "TECHHELP_ADMINS": ADMIN,
        "TECHHELP_ALERT_CHANNELS": "CALERTS",
        "USER": "operator",
    }

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "chatbot.cli", *args],
            env=env | extra,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )

    return run


def test_clock_help_describes_what_the_clock_does(cli) -> None:  # type: ignore[no-untyped-def]
    shown = cli("clock", "--help").stdout
    for job in (
        "scheduled alerts",
        "maintenance",
        "outreach",
        "digest",
        "survey",
        "service-target",
    ):
        assert job in shown, (job, shown)
    assert "directory" in shown and "--once" in shown


@pytest.mark.parametrize(
    "command",
    [
        ("alert", "send"),
        ("alert", "update"),
        ("alert", "resolve"),
        ("survey", "send"),
        ("survey", "create"),
        ("survey", "close"),
        ("survey", "stop"),
    ],
)
def test_every_command_that_acts_takes_as_in_the_same_place(cli, command) -> None:  # type: ignore[no-untyped-def]
    shown = cli(*command, "--help")
    assert shown.returncode == 0, shown.stderr
    assert "--as ID" in shown.stdout and "local operator" in shown.stdout, shown.stdout


def test_alert_and_survey_send_need_no_credentials_and_say_who_delivers(cli) -> None:  # type: ignore[no-untyped-def]
    sent = cli("alert", "send", "VPN is down for everyone working off-site")
    assert sent.returncode == 0, sent.stderr
    assert "AL-1" in sent.stdout and "chatbot serve" in sent.stdout
    # Nobody is in the directory yet: nothing was sent, and the exit status says so.
    survey = cli("survey", "send", "How well does IT support you?")
    assert survey.returncode == 1 and "Nothing was sent" in survey.stderr
    everyone = cli("alert", "send", "--audience", "everyone", "Mail is down")
    assert everyone.returncode == 1 and "Nothing was sent" in everyone.stderr


def test_no_log_noise_and_plain_words_with_the_cli_verb(cli) -> None:  # type: ignore[no-untyped-def]
    first = cli("alert", "list")  # the database is created (migrated) by this first command
    assert first.returncode == 0 and first.stderr == "", first.stderr
    sent = cli(
        "alert",
        "send",
        "--no-wait",
        "Email is down",
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_API_URL="http://127.0.0.1:9/",
    )
    assert sent.returncode == 0, sent.stderr
    assert "INFO" not in sent.stderr and "will be unused" not in sent.stderr, sent.stderr
    assert "*AL-1*" not in sent.stdout and "AL-1" in sent.stdout
    assert "chatbot alert update AL-1" in sent.stdout and "/techalert" not in sent.stdout


def test_survey_stop(cli) -> None:  # type: ignore[no-untyped-def]
    created = cli("survey", "create", "--question", "Laptop OK?", "--schedule", "weekly")
    assert created.returncode == 0, created.stderr
    stopped = cli("survey", "stop", "PS-1")
    assert stopped.returncode == 0, stopped.stderr
    assert "PS-1 is stopped" in stopped.stdout and "*" not in stopped.stdout
