"""Configuration: defaults, the YAML file, and a clear message naming a bad field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chatbot.config import ConfigError, Settings, load_routing
from chatbot.routing import guess


def test_defaults_guess_category_and_urgency() -> None:
    routing = Settings().routing
    assert guess("printer on floor 3 is jammed", routing).category == "Hardware"
    assert guess("locked out of my account", routing).urgency == "high"
    assert guess("email outage for everyone", routing).urgency == "critical"
    assert guess("how do I use this mouse", routing).urgency == "low"
    assert guess("something odd", routing).category == "General"


def test_csv_environment_lists() -> None:
    settings = Settings(techhelp_admins="U1, U2", techhelp_alert_channels="C1")
    assert settings.techhelp_admins == ["U1", "U2"] and settings.is_admin("slack", "U2")
    assert settings.slack_api_url.endswith("/")


def test_settings_from_values_read_neither_the_environment_nor_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test's configuration is what it says, whatever the machine running it has set."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("TECHHELP_ADMINS=UFROMDOTENV\nSLACK_BOT_TOKEN=xoxb-leaked\n")
    monkeypatch.setenv("TECHHELP_TRIAGE_CHANNEL", "CFROMENV")
    leaky = Settings()
    assert leaky.techhelp_admins == ["UFROMDOTENV"] and leaky.techhelp_triage_channel == "CFROMENV"
    settings = Settings.from_values(
        {"techhelp_admins": "U1, U2", "routing": {"staff": ["USTAFF"]}, "slack_api_url": "http://x"}
    )
    assert settings.techhelp_admins == ["U1", "U2"] and settings.is_staff("slack", "USTAFF")
    assert settings.techhelp_triage_channel is None and settings.slack_bot_token is None
    assert settings.slack_api_url == "http://x/"  # validated as from the environment
    assert Settings().techhelp_triage_channel == "CFROMENV"  # the environment still counts


def test_yaml_routing(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(
        "categories:\n  - {name: Printing, keywords: [toner], queue: Print Team, tier: 2}\n"
        "departments:\n  - {name: Parks, manager: UM, members: [U1]}\n"
    )
    routing = load_routing(path)
    assert guess("out of toner", routing).queue == "Print Team"
    assert routing.department_of("U1").manager == "UM"


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("categories:\n  - {name: X, tier: 7}\n", "categories.0.tier"),
        ("categories:\n  - {name: X, urgency: soon}\n", "categories.0.urgency"),
        ("departmentz: []\n", "departmentz"),
        ("- just a list\n", "mapping"),
        ("categories: [\n", "not valid YAML"),
    ],
)
def test_invalid_file_names_the_field(tmp_path: Path, content: str, named: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_routing(path)


def test_invalid_file_stops_start_up_with_the_field_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("categories:\n  - {name: X, tier: 9}\n")
    result = subprocess.run(
        [sys.executable, "-m", "chatbot.cli", "db", "upgrade"],
        env={
            "TECHHELP_CONFIG": str(path),
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "categories.0.tier" in result.stderr and "Traceback" not in result.stderr


def test_queue_members_are_optional_and_act_on_their_queue(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(
        "categories:\n  - {name: Printing, keywords: [toner], queue: Print Team}\n"
        "staff: [UDESK]\n"
        "queues:\n  - {name: Print Team, members: [UPRINT]}\n  - {name: Service Desk}\n"
    )
    settings = Settings(routing=load_routing(path), techhelp_admins=["UADMIN"])
    assert settings.is_service_desk("slack", "UPRINT", "Print Team")
    assert not settings.is_service_desk("slack", "UPRINT", "Service Desk")
    for desk in ("UDESK", "UADMIN"):
        assert settings.is_service_desk("slack", desk, "Print Team")
    assert not settings.is_service_desk("slack", "UALICE")
    assert not Settings().is_service_desk("slack", "U1")
    # The ids are Slack's (`techhelp_platform`): the same id on another platform is someone else.
    assert not settings.is_service_desk("teams", "UPRINT", "Print Team")


def test_a_queue_no_category_routes_to_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("queues:\n  - {name: Print Teem, members: [U1]}\n")
    with pytest.raises(ConfigError, match="queues: no category is routed to queue 'Print Teem'"):
        load_routing(path)
