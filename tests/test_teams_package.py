"""`chatbot teams package`: the app package an admin uploads to Teams is valid against Microsoft's
app manifest schema (vendored: tests/schemas/, see its notice), names the bot and its commands,
carries icons of the sizes and colours Teams requires, keeps its app id from run to run, and is
refused, with nothing written, while TEAMS_CLIENT_ID is not set."""

from __future__ import annotations

import contextlib
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from chatbot.cli import main

SCHEMA = Path(__file__).with_name("schemas") / "teams-manifest-1.22.schema.json"
CLIENT_ID = "0b5e2f3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
CREDENTIALS = {
    "TEAMS_CLIENT_ID": CLIENT_ID,
    "TEAMS_CLIENT_SECRET": "secret",
    "TEAMS_TENANT_ID": "11111111-2222-3333-4444-555555555555",
}
HOST = "techhelp.example.org"
GUID = re.compile(r"^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$")


def run(
    tmp_path: Path, *args: str, env: dict[str, str | None] | None = None
) -> tuple[Result, dict[str, bytes]]:
    """The command as an operator runs it, in an empty directory (no .env) and with only the
    given TEAMS_* variables; what it printed, and the files it left there."""
    environment: dict[str, str | None] = {name: None for name in CREDENTIALS}
    environment |= CREDENTIALS if env is None else env
    tmp_path.mkdir(parents=True, exist_ok=True)
    with contextlib.chdir(tmp_path):
        result = CliRunner().invoke(main, ["teams", "package", *args], env=environment)
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    return result, files


def unpack(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def built(tmp_path: Path, *args: str, env: dict[str, str | None] | None = None) -> dict[str, Any]:
    result, written = run(tmp_path, "--host", HOST, *args, env=env)
    assert result.exit_code == 0, result.output
    files = unpack(written["techhelp-teams.zip"])
    assert set(files) == {"manifest.json", "color.png", "outline.png"}
    manifest: dict[str, Any] = json.loads(files["manifest.json"])
    manifest["_files"] = files
    return manifest


def test_the_package_is_a_valid_teams_app_for_the_bot(tmp_path: Path) -> None:
    manifest = built(tmp_path)
    files = manifest.pop("_files")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(manifest)]
    assert errors == []
    assert manifest["manifestVersion"] == schema["properties"]["manifestVersion"]["const"]
    assert manifest["$schema"].endswith(
        f"/v{manifest['manifestVersion']}/MicrosoftTeams.schema.json"
    )
    [bot] = manifest["bots"]
    assert bot["botId"] == CLIENT_ID and bot["scopes"] == ["personal", "team"]
    assert bot["supportsFiles"] is False
    [commands] = bot["commandLists"]
    assert commands["scopes"] == ["personal", "team"]
    titles = [c["title"] for c in commands["commands"]]
    assert titles == ["techhelp", "help", "status", "home", "techalert", "pulse", "liaison"]
    assert all(
        len(c["title"]) <= 32 and 10 < len(c["description"]) <= 128 for c in commands["commands"]
    )
    assert GUID.match(manifest["id"]) and manifest["id"] != CLIENT_ID
    assert manifest["validDomains"] == [HOST]
    assert manifest["developer"]["websiteUrl"] == f"https://{HOST}/report"
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert set(files) == {"manifest.json", "color.png", "outline.png"}


def test_the_icons_have_the_sizes_and_colours_teams_requires(tmp_path: Path) -> None:
    files = built(tmp_path, "--accent-color", "#4464ee")["_files"]
    color = Image.open(io.BytesIO(files["color.png"]))
    assert color.format == "PNG" and color.size == (192, 192)
    rgba = color.convert("RGBA")
    assert rgba.getchannel("A").getextrema() == (255, 255)  # full colour, nothing see-through
    assert rgba.getpixel((2, 2))[:3] == (0x44, 0x64, 0xEE)  # the accent colour behind the bubble
    outline = Image.open(io.BytesIO(files["outline.png"]))
    assert outline.format == "PNG" and outline.size == (32, 32)
    raw = outline.convert("RGBA").tobytes()
    pixels = [tuple(raw[i : i + 4]) for i in range(0, len(raw), 4)]
    assert {p[:3] for p in pixels if p[3]} == {(255, 255, 255)}  # white, and nothing else
    assert outline.convert("RGBA").getpixel((0, 0))[3] == 0  # on a transparent background
    drawn = sum(1 for p in pixels if p[3] > 200)
    assert 30 < drawn < 32 * 32 // 2  # an outline: drawn, but not filled


def test_the_app_id_stays_the_same_and_can_be_given(tmp_path: Path) -> None:
    first = built(tmp_path / "a")["id"]
    assert built(tmp_path / "b")["id"] == first  # a new package updates the same app
    other = {**CREDENTIALS, "TEAMS_CLIENT_ID": "9f8e7d6c-5b4a-4321-8fed-cba987654321"}
    assert built(tmp_path / "c", env=other)["id"] != first
    given = "12345678-90ab-4cde-8f01-234567890abc"
    assert built(tmp_path / "d", "--app-id", given)["id"] == given
    refused, _ = run(tmp_path / "e", "--host", HOST, "--app-id", "techhelp")
    assert refused.exit_code != 0 and "--app-id must be a GUID" in refused.output


def test_without_a_client_id_it_refuses_and_writes_nothing(tmp_path: Path) -> None:
    result, written = run(tmp_path, "--host", HOST, env={})
    assert result.exit_code == 1
    assert "TEAMS_CLIENT_ID not set" in result.output and "Connect Microsoft Teams" in result.output
    assert written == {}


def test_the_operator_names_the_app_and_its_pages(tmp_path: Path) -> None:
    manifest = built(
        tmp_path,
        "--name",
        "IT Help",
        "--developer",
        "City of Example IT",
        "--website",
        "https://it.example.org/help",
        "--privacy-url",
        "https://example.org/privacy",
        "--domain",
        "it.example.org",
        "--version",
        "1.2.0",
        "--out",
        "techhelp-teams.zip",
    )
    assert manifest["name"]["short"] == "IT Help" and manifest["version"] == "1.2.0"
    assert manifest["developer"] == {
        "name": "City of Example IT",
        "websiteUrl": "https://it.example.org/help",
        "privacyUrl": "https://example.org/privacy",
        "termsOfUseUrl": "https://it.example.org/help",
    }
    assert manifest["validDomains"] == [HOST, "it.example.org"]


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (("--website", "http://it.example.org"), "must be an https:// URL"),
        (("--name", "x" * 31), "--name is 31 characters; Teams takes 30"),
        (("--accent-color", "blue"), "--accent-color must be #RRGGBB"),
        (("--domain", "https://x.example/path"), "not a host name"),
    ],
)
def test_values_teams_would_refuse_are_refused_here(
    tmp_path: Path, args: tuple[str, ...], why: str
) -> None:
    result, written = run(tmp_path, "--host", HOST, *args)
    assert result.exit_code != 0 and why in result.output
    assert written == {}
