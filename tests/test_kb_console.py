"""Self-service answers in the console (`chatbot shell`), through the same handlers: a request
that an article answers shows it with "Show" and "This solved it", "I still need help" sends the
card on at once, and `/techhelp search` finds articles without opening a request."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from tests.test_console import run_shell

PASSWORD = """---
title: Reset a forgotten password
keywords: [forgot password, password expired]
---

1. Go to <b>the reset page</b>.
2. Enter your work e-mail and the code we text you.
"""
VPN = """# Connect to the VPN from home

Open GlobalProtect, portal vpn.example.org, and approve the sign-in prompt.
"""


def test_suggestions_show_solve_still_need_help_and_search_in_the_console(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "password.md").write_text(PASSWORD)
    (folder / "vpn.md").write_text(VPN)
    typed = (
        "/techhelp i forgot my pasword\n"
        "Show\n"
        "This solved it\n"
        "/techhelp my password expired\n"
        "I still need help\n"
        "/techhelp search vpn from home\n"
        "Show\n"
        "/techhelp search printer toner\n"
        "/techhelp status\n"
    )
    out = run_shell(tmp_path, typed, timeout=120, TECHHELP_KB=str(folder))
    first, second, searched = (
        out.split("techhelp> /techhelp my password expired")[0],
        out.split("techhelp> /techhelp my password expired")[1].split("techhelp> /techhelp search")[
            0
        ],
        out.split("techhelp> /techhelp search vpn from home")[1],
    )
    # The confirmation with the article that answers it, and only that one.
    assert "*TH-1* is logged" in first
    assert "These articles may answer it" in first and "📄 *Reset a forgotten password*" in first
    assert "[Show] [This solved it]" in first and "[I still need help]" in first
    assert "Connect to the VPN" not in first
    assert "the service desk sees it in 2 min" in first and "sees it now" not in first
    # Show: the steps, HTML as typed; This solved it: closed, and no card ever went to triage.
    assert "2. Enter your work e-mail and the code we text you." in first
    assert "<b>the reset page</b>" in first
    assert "*TH-1* is closed as solved with “Reset a forgotten password”" in first
    assert "[#triage]" not in first
    # I still need help: the card reaches the service desk at once.
    assert "*TH-2* is on its way to the service desk now" in second
    assert "--- [#triage] ---\n== TH-2" in second
    # Search: articles with Show, no request opened; nothing found says so.
    assert "🔎 Articles for “vpn from home”" in searched
    assert "Open GlobalProtect, portal vpn.example.org" in searched
    assert "No article matches “printer toner”" in searched
    assert "*Your open requests (1):*" in searched and "*TH-2* · open" in searched
    assert "== TH-1" not in out
    engine = create_engine(f"sqlite:///{tmp_path / 'console.db'}")
    with engine.connect() as conn:
        states = conn.execute(text("select id, state from requests order by id")).all()
        assert [tuple(row) for row in states] == [(1, "resolved"), (2, "open")]
        solved = conn.execute(
            text("select request_id from kb_suggestions where solved_at is not null")
        )
        assert [row[0] for row in solved] == [1]
    engine.dispose()
