"""`make test` without PostgreSQL (or Chromium): the skipped tests are summarised once per
reason, not listed one line each; the skips themselves stay skips, counted."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

REASON = "PostgreSQL tests need TEST_DATABASE_URL"


def test_skips_are_summarised_once_per_reason() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/test_outage_example.py",
            "-k",
            "postgres",
            "-p",
            "no:cacheprovider",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = run.stdout
    assert run.returncode == 0, out + run.stderr
    assert "3 skipped" in out  # still skips, still counted
    assert "SKIPPED [" not in out, out  # not one line per test
    summary = [line for line in out.splitlines() if REASON in line]
    assert len(summary) == 1, out
    assert summary[0].startswith("3 tests skipped:"), summary
