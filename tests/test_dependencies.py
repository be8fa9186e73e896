"""What a fresh machine installs: every package pinned with hashes in the lock files that
`make run` and `make test` install from, floors in pyproject.toml past the known advisories, and
this environment running exactly the locked versions."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT

# Releases with known advisories lie below these (the version that fixed them).
ADVISORY_FLOORS = {
    "jinja2": "3.1.6",  # sandbox escapes (CVE-2024-56201, CVE-2024-56326, CVE-2025-27516)
    "waitress": "3.0.1",  # request smuggling and DoS (CVE-2024-49768, CVE-2024-49769)
    "urllib3": "2.7.0",  # redirects, decompression bombs (CVE-2025-50181, CVE-2026-21441, ...)
}
PIN = re.compile(r"^([A-Za-z0-9._-]+)(\[[^\]]*\])?==([^\s;\\]+)(?:\s*;\s*([^\\\n]+))?")


def _locked(name: str) -> dict[str, str]:
    """The pins of a lock file that apply to this interpreter and platform."""
    text = (ROOT / name).read_text()
    pins: dict[str, str] = {}
    for block in re.split(r"\n(?=\S)", text):
        line = block.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"{name}: not an exact pin: {line.splitlines()[0]}"
        assert "--hash=sha256:" in block, f"{name}: {match[1]} has no hash"
        if match[4] and not Marker(match[4].strip()).evaluate():
            continue
        pins[canonicalize_name(match[1])] = match[3]
    return pins


def _requirements(extra: str | None = None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return [Requirement(r) for r in listed]


def test_floors_are_past_known_advisories() -> None:
    for requirement in _requirements():
        floor = ADVISORY_FLOORS.get(canonicalize_name(requirement.name))
        if floor is None:
            continue
        for bad in _releases_below(floor):
            assert bad not in requirement.specifier, f"{requirement} allows {bad}"


def _releases_below(floor: str) -> list[str]:
    major, minor, patch = (int(p) for p in floor.split("."))
    older = [f"{major}.{minor}.{p}" for p in range(patch)]
    older += [f"{major}.{m}.9" for m in range(minor)]
    return older


def test_the_lock_pins_everything_with_hashes_within_pyproject() -> None:
    runtime = _locked("requirements.lock")
    dev = _locked("requirements-dev.lock")
    for requirement in _requirements():
        name = canonicalize_name(requirement.name)
        assert name in runtime, f"{name} is not in requirements.lock"
        assert runtime[name] in requirement.specifier, f"locked {name} {runtime[name]}"
        assert dev.get(name) == runtime[name], f"{name}: the two locks differ"
    for requirement in _requirements("dev"):
        name = canonicalize_name(requirement.name)
        assert name in dev and dev[name] in requirement.specifier, name
    for name, floor in ADVISORY_FLOORS.items():
        assert Version(runtime[name]) >= Version(floor), name


def test_the_two_commands_install_from_the_lock_and_this_is_what_runs() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "-r requirements-dev.lock" in makefile and "--require-hashes" in makefile
    assert "--no-deps -e ." in makefile
    for name, version in _locked("requirements-dev.lock").items():
        assert metadata.version(name) == version, f"{name}: installed is not the locked version"
