"""The Slack app manifest declares what the bot handles, at the path it serves."""

from __future__ import annotations

from pathlib import Path

import yaml

from chatbot.app import build_bot
from chatbot.config import Settings

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yml"


def test_manifest_declares_every_command_and_the_events_path(tmp_path: Path) -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    declared = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert {"/techhelp", "/techalert", "/pulse", "/liaison"} <= set(declared)
    bot = build_bot(Settings(database_url=f"sqlite:///{tmp_path}/m.db"))
    assert {f"/{name}" for name in bot.commands} <= set(declared)
    for command in declared.values():
        assert command["url"].endswith("/slack/events") and command["should_escape"] is True
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["interactivity"]["request_url"].endswith("/slack/events")
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "im:history", "channels:history"} <= scopes
