"""`chatbot teams …`: the Microsoft Teams app package an admin uploads (the manifest with the bot,
its commands and scopes, and the two icons), ready for the Teams admin center or the Developer
Portal. See the README, "Connect Microsoft Teams"."""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from pathlib import Path
from typing import Any

import click

from chatbot.cli.common import settings

MANIFEST_VERSION = "1.22"
MANIFEST_SCHEMA = f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
# The app id derived from the bot's: one per bot registration, the same on every run, so
# uploading a new package updates the app instead of adding a second one.
APP_ID_NAMESPACE = uuid.UUID("5b0d3c57-5d3f-4b8e-9a55-7c0e5e6f1f1d")
COLOR_SIZE, OUTLINE_SIZE = 192, 32
DEFAULT_ACCENT = "#1D3557"  # the Slack app's background colour (manifest.yml)
# What a person can type to the bot, in personal chat or @mentioning it in a channel (the SPEC's
# grammar; `home` sends the personal home card). Titles at most 32 characters, as Teams shows.
COMMANDS = (
    ("techhelp", "Ask IT for anything: techhelp <what you need>, or techhelp alone for the form"),
    ("help", "What the Technology Service Center does for you, and how to ask"),
    ("status", "Your open requests and where each one is"),
    ("home", "Your requests, surveys awaiting your answer and active IT alerts"),
    ("techalert", "IT admins: techalert <severity> <message>, update AL-n <text>, resolve AL-n"),
    ("pulse", "IT admins: pulse send <question>, list, results [PS-n], close PS-n"),
    ("liaison", "IT staff: liaison, liaison brief|note <department>, liaison search <words>"),
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_HOST = re.compile(r"^(\*\.)?[A-Za-z0-9.-]+(:\d+)?$")


def app_id(client_id: str) -> str:
    """The Teams app's id: a GUID derived from the bot's Entra app (client) id."""
    return str(uuid.uuid5(APP_ID_NAMESPACE, client_id.lower()))


def manifest(
    *,
    client_id: str,
    host: str,
    app: str | None = None,
    version: str = "1.0.0",
    short_name: str = "TechHelp",
    full_name: str = "TechHelp: the Technology Service Center",
    short_description: str = "One place to ask IT for anything.",
    full_description: str | None = None,
    developer: str = "Technology Service Center",
    website: str | None = None,
    privacy: str | None = None,
    terms: str | None = None,
    accent: str = DEFAULT_ACCENT,
    domains: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The app manifest (schema `MANIFEST_VERSION`): one bot, personal and team scopes."""
    report = f"https://{host}/report"  # the public service report `chatbot serve` publishes
    full_description = full_description or (
        "Ask IT for anything in a message to TechHelp, and follow your requests until they are "
        "resolved. The service desk triages requests in its channel; IT alerts reach the alert "
        "channels and everyone concerned; pulse checks ask how well IT serves you, with one click."
    )
    commands = [{"title": title, "description": text} for title, text in COMMANDS]
    return {
        "$schema": MANIFEST_SCHEMA,
        "manifestVersion": MANIFEST_VERSION,
        "version": version,
        "id": app or app_id(client_id),
        "developer": {
            "name": developer,
            "websiteUrl": website or report,
            "privacyUrl": privacy or website or report,
            "termsOfUseUrl": terms or website or report,
        },
        "name": {"short": short_name, "full": full_name},
        "description": {"short": short_description, "full": full_description},
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": accent.upper(),
        "bots": [
            {
                "botId": client_id,
                "scopes": ["personal", "team"],
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [{"scopes": ["personal", "team"], "commands": commands}],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": list(dict.fromkeys((host, *domains))),
    }


def _figure(size: int) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(size / 100, size / 100), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_axis_off()
    return figure, axes


def _bubble(axes: Any, *, face: str, edge: str, line: float) -> None:
    """A speech bubble (the chat) with its tail, and a question mark in it (ask IT)."""
    from matplotlib.patches import FancyBboxPatch, Polygon

    tail = Polygon(
        [(0.30, 0.30), (0.22, 0.12), (0.46, 0.30)],
        closed=True,
        facecolor=face,
        edgecolor=edge,
        linewidth=line,
        joinstyle="round",
    )
    body = FancyBboxPatch(
        (0.18, 0.30),
        0.64,
        0.48,
        boxstyle="round,pad=0,rounding_size=0.14",
        facecolor=face,
        edgecolor=edge,
        linewidth=line,
    )
    axes.add_patch(tail)
    axes.add_patch(body)


def _png(figure: Any, *, transparent: bool) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", transparent=transparent)
    return out.getvalue()


def color_icon(accent: str) -> bytes:
    """192×192, full colour: a white speech bubble with a question mark on the accent colour."""
    figure, axes = _figure(COLOR_SIZE)
    figure.patch.set_facecolor(accent)
    _bubble(axes, face="white", edge="white", line=0)
    axes.text(
        0.5, 0.54, "?", ha="center", va="center", fontsize=60, fontweight="bold", color=accent
    )
    return _png(figure, transparent=False)


def outline_icon() -> bytes:
    """32×32, white on transparent (what Teams requires of the outline icon): the bubble's
    outline and its question mark."""
    from PIL import Image

    figure, axes = _figure(OUTLINE_SIZE)
    _bubble(axes, face="none", edge="white", line=1.6)
    axes.text(
        0.5, 0.54, "?", ha="center", va="center", fontsize=11, fontweight="bold", color="white"
    )
    drawn = Image.open(io.BytesIO(_png(figure, transparent=True))).convert("RGBA")
    # Anti-aliasing leaves grey at the edges: every pixel white, its coverage in alpha alone.
    white = Image.new("RGBA", drawn.size, (255, 255, 255, 0))
    white.putalpha(drawn.getchannel("A"))
    out = io.BytesIO()
    white.save(out, "PNG", optimize=True)
    return out.getvalue()


def package(path: Path, manifest_json: dict[str, Any]) -> None:
    """The zip Teams takes: manifest.json and the two icons at its root."""
    accent = manifest_json["accentColor"]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest_json, indent=2, ensure_ascii=False))
        archive.writestr("color.png", color_icon(accent))
        archive.writestr("outline.png", outline_icon())


def _https_url(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.lower().startswith("https://"):
        raise click.BadParameter("must be an https:// URL")
    return value


@click.group()
def teams() -> None:
    """Microsoft Teams: the app package to upload."""


@teams.command("package")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=Path("techhelp-teams.zip"),
    show_default=True,
    help="Where to write the app package.",
)
@click.option(
    "--host",
    required=True,
    help="Public HTTPS host of `chatbot serve` (its messaging endpoint is https://HOST/api/messages).",
)
@click.option("--app-id", help="The Teams app's id (GUID). Default: derived from TEAMS_CLIENT_ID.")
@click.option(
    "--version",
    "app_version",
    default="1.0.0",
    show_default=True,
    help="App version (semver): raise it for each new upload.",
)
@click.option(
    "--name",
    "short_name",
    default="TechHelp",
    show_default=True,
    help="Short name (30 characters).",
)
@click.option("--full-name", default="TechHelp: the Technology Service Center", show_default=True)
@click.option(
    "--description",
    "short_description",
    default="One place to ask IT for anything.",
    show_default=True,
    help="Short description (80 characters).",
)
@click.option("--full-description", help="Full description (4,000 characters).")
@click.option(
    "--developer",
    default="Technology Service Center",
    show_default=True,
    help="Who publishes the app (32 characters).",
)
@click.option("--website", callback=_https_url, help="Support page. Default: https://HOST/report.")
@click.option("--privacy-url", callback=_https_url, help="Privacy statement. Default: the website.")
@click.option("--terms-url", callback=_https_url, help="Terms of use. Default: the website.")
@click.option(
    "--accent-color",
    default=DEFAULT_ACCENT,
    show_default=True,
    help="Background of the colour icon (#RRGGBB).",
)
@click.option("--domain", "domains", multiple=True, help="Another valid domain (repeatable).")
def package_command(
    out: Path,
    host: str,
    app_id: str | None,
    app_version: str,
    short_name: str,
    full_name: str,
    short_description: str,
    full_description: str | None,
    developer: str,
    website: str | None,
    privacy_url: str | None,
    terms_url: str | None,
    accent_color: str,
    domains: tuple[str, ...],
) -> None:
    """Write the Teams app package (manifest.json, color.png, outline.png) for TEAMS_CLIENT_ID's
    bot: upload it in the Teams admin center (Manage apps) or the Developer Portal."""
    client_id = settings().teams_client_id
    if not client_id:
        raise click.ClickException(
            "TEAMS_CLIENT_ID not set: the package names the bot by its Entra app (client) id. "
            "See the README, 'Connect Microsoft Teams'."
        )
    if not _GUID.match(client_id):
        raise click.ClickException(f"TEAMS_CLIENT_ID must be a GUID (got {client_id!r})")
    if app_id is not None and not _GUID.match(app_id):
        raise click.ClickException(f"--app-id must be a GUID (got {app_id!r})")
    host = host.removeprefix("https://").rstrip("/")
    for domain in (host, *domains):
        if not _HOST.match(domain):
            raise click.ClickException(f"not a host name: {domain!r} (no scheme, no path)")
    if not _COLOUR.match(accent_color):
        raise click.ClickException(f"--accent-color must be #RRGGBB (got {accent_color!r})")
    limits = {
        "--name": (short_name, 30),
        "--full-name": (full_name, 100),
        "--description": (short_description, 80),
        "--full-description": (full_description or "", 4000),
        "--developer": (developer, 32),
    }
    for option, (value, limit) in limits.items():
        if len(value) > limit:
            raise click.ClickException(f"{option} is {len(value)} characters; Teams takes {limit}")
    built = manifest(
        client_id=client_id,
        host=host,
        app=app_id,
        version=app_version,
        short_name=short_name,
        full_name=full_name,
        short_description=short_description,
        full_description=full_description,
        developer=developer,
        website=website,
        privacy=privacy_url,
        terms=terms_url,
        accent=accent_color,
        domains=domains,
    )
    package(out, built)
    click.echo(
        f"wrote {out}: app {built['id']} (version {app_version}) for bot {client_id}; "
        f"its messaging endpoint must be https://{host}/api/messages"
    )
