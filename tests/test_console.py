"""The console drives the same handlers and database: a transcript, as a person would type it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent


def run_shell(tmp_path: Path, typed: str, *, timeout: float = 60, **env: str) -> str:
    """`chatbot shell` in `tmp_path` on its own SQLite file, `typed` line by line (`env` added
    to its environment); what it printed, once it exited 0."""
    result = subprocess.run(
        [sys.executable, "-m", "chatbot.cli", "shell"],
        input=typed,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=timeout,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'console.db'}",
            **env,
        },
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_console_transcript(tmp_path: Path) -> None:
    out = run_shell(
        tmp_path,
        "/techhelp printer jammed <!channel>\n"
        "Claim TH-1\n"
        "Resolve TH-1\n"
        "Cleared the jam\n"
        "4\n"
        "/techhelp status\n",
    )
    assert "*TH-1* is logged" in out
    assert "--- [#triage] ---\n== TH-1 · Hardware · normal ==" in out
    assert "printer jammed <!channel>" in out  # typed text is shown as typed, as text
    assert "[Claim] [Escalate to Tier II] [Ask requester] [Resolve]" in out
    assert "--- [updated in #triage] ---" in out and "*State*: claimed" in out
    assert "@UCONSOLE is now working on *TH-1*" in out
    assert "Resolution note: Cleared the jam" in out
    assert "you rated *TH-1* *4/5*" in out
    assert "You have no open requests" in out
    engine = create_engine(f"sqlite:///{tmp_path / 'console.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("select state, platform from requests")).one() == (
            "resolved",
            "console",
        )
        assert conn.execute(text("select score from ratings")).scalar() == 4
    engine.dispose()


def test_console_unknown_button(tmp_path: Path) -> None:
    out = run_shell(tmp_path, "Frobnicate\n")
    assert "no button 'Frobnicate'" in out
