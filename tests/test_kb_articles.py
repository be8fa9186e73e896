"""Knowledge-base articles from the TECHHELP_KB folder: reading, syncing, bad input."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from chatbot import kb
from chatbot.db import Database
from chatbot.db.models import KbArticle
from chatbot.kb.articles import MAX_BYTES, parse

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

VPN = """---
title: Connect to the VPN
keywords: [vpn, remote access]
service: VPN
---

Open GlobalProtect and sign in.
"""


def _sync(db: Database, folder: Path | None) -> kb.SyncReport:
    with db.transaction() as session:
        return kb.sync(session=session, folder=folder, now=NOW)


def _suggested(db: Database, text: str) -> list[str]:
    with db.transaction() as session:
        return [a.title for a in kb.suggest(session=session, text=text)]


def test_title_from_front_matter_else_heading_else_file_name() -> None:
    article = parse("vpn", VPN.encode())
    assert (article.title, article.keywords, article.service) == (
        "Connect to the VPN",
        ("vpn", "remote access"),
        "VPN",
    )
    assert article.body == "Open GlobalProtect and sign in."
    headed = parse("printer", b"Intro.\n\n# Clear a paper jam\n\nOpen the front door.\n")
    assert headed.title == "Clear a paper jam"
    assert "Clear a paper jam" not in headed.body  # shown once, as the title
    assert parse("how-to/new-laptop", b"Just steps.").title == "New laptop"


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        (b"---\ntitle: [unclosed\nkeywords: a\n---\nBody", 3),
        (b"---\ntitle: ok\nkeywords: {a: b\n---\nBody", 3),
        (b"---\ntitle: ok\nno end of the front matter\n", 1),
        (b"---\n- a list\n---\nBody", 2),
    ],
)
def test_broken_front_matter_names_the_file_and_line(raw: bytes, line: int) -> None:
    with pytest.raises(ValueError, match=rf"^bad\.md, line {line}: "):
        parse("bad", raw, name="bad.md")


def test_sync_publishes_updates_and_withdraws_keeping_history(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(database_url)
    folder = tmp_path / "kb"
    (folder / "network").mkdir(parents=True)
    (folder / "network" / "vpn.md").write_text(VPN)
    (folder / "printer.md").write_text("# Clear a paper jam\n\nOpen the front door, pull gently.")
    (folder / "broken.md").write_text("---\ntitle: [oops\n---\n# Broken\n")
    (folder / "notes.txt").write_text("not an article")
    with caplog.at_level(logging.WARNING):
        report = _sync(db, folder)
    assert sorted(report.added) == ["network/vpn", "printer"]
    assert any("broken.md, line 2" in r.getMessage() for r in caplog.records)
    assert _suggested(db, "the vpn won't connect from home") == ["Connect to the VPN"]
    assert _suggested(db, "printer paper jam") == ["Clear a paper jam"]

    # Unchanged files cost nothing; an edited one is published again with its new words.
    assert _sync(db, folder).unchanged == 2
    (folder / "printer.md").write_text("# Clear a paper jam in the copier\n\nOpen tray 2.")
    assert _sync(db, folder).updated == ["printer"]
    assert _suggested(db, "copier jammed") == ["Clear a paper jam in the copier"]

    # Removed: withdrawn, no longer suggested, still in the database.
    (folder / "network" / "vpn.md").unlink()
    assert _sync(db, folder).withdrawn == ["network/vpn"]
    assert _suggested(db, "the vpn won't connect from home") == []
    with db.transaction() as session:
        vpn = session.scalars(select(KbArticle).where(KbArticle.slug == "network/vpn")).one()
        assert vpn.state == "withdrawn"
    # Back again: published again.
    (folder / "network" / "vpn.md").write_text(VPN)
    assert _sync(db, folder).updated == ["network/vpn"]
    assert _suggested(db, "vpn not connecting") == ["Connect to the VPN"]
    db.dispose()


def test_a_file_that_breaks_later_keeps_its_last_good_version(
    database_url: str, tmp_path: Path
) -> None:
    db = Database(database_url)
    (tmp_path / "vpn.md").write_text(VPN)
    _sync(db, tmp_path)
    (tmp_path / "vpn.md").write_text("---\ntitle: [oops\n---\n")
    report = _sync(db, tmp_path)
    assert report.withdrawn == [] and len(report.skipped) == 1
    assert _suggested(db, "vpn not connecting") == ["Connect to the VPN"]
    db.dispose()


def test_a_huge_file_is_cut_with_a_note(database_url: str, tmp_path: Path) -> None:
    db = Database(database_url)
    (tmp_path / "huge.md").write_text("# Reset your password\n\n" + "Step. " * 40_000)
    _sync(db, tmp_path)
    with db.transaction() as session:
        article = session.scalars(select(KbArticle)).one()
        assert len(article.body) < MAX_BYTES + 200
        assert article.body.endswith("(This article was cut: it is longer than 64,000 characters.)")
    db.dispose()


def test_no_folder_or_an_empty_one_means_no_suggestions(database_url: str, tmp_path: Path) -> None:
    db = Database(database_url)
    assert _sync(db, None).added == []
    assert _sync(db, tmp_path / "missing").added == []
    assert _sync(db, tmp_path).added == []
    assert _suggested(db, "forgot my password") == []
    db.dispose()
