"""`chatbot kb drafts` and `chatbot kb publish`: an admin at the command line reads the drafts
staff saved from resolved requests and publishes one, which is then suggested; an id that is
not a draft fails with a clear message and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from chatbot import kb
from chatbot.db import Database
from chatbot.db.models import KbArticle, Request
from tests.conftest import ROOT

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def chatbot(database_url: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "HOME": str(home),
        "DATABASE_URL": database_url,
        "USER": "operator",
    }
    return subprocess.run(
        [sys.executable, "-m", "chatbot.cli", "kb", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=home,
        timeout=120,
    )


def saved_draft(database_url: str) -> int:
    """A resolved request saved as an article by staff, as "Save as article" does."""
    db = Database(database_url)
    db.upgrade()
    with db.transaction() as session:
        request = Request(
            platform="slack",
            requester="UALICE",
            intake_channel="techhelp",
            text="The scanner on floor 4 sends\nnothing to my email",
            category="Hardware",
            urgency="normal",
            queue="Service Desk",
            tier=1,
            state="resolved",
            resolution="Scan to e-mail needs the address book refreshed: Menu > Sync",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(request)
        session.flush()
        article = kb.save_draft(session=session, request=request, actor="USTAFF", now=NOW)
        article_id = article.id
    db.dispose()
    return article_id


def test_an_admin_lists_the_drafts_and_publishes_one(database_url: str, tmp_path: Path) -> None:
    article_id = saved_draft(database_url)
    listed = chatbot(database_url, tmp_path, "drafts")
    assert listed.returncode == 0, listed.stderr
    assert f"KB-{article_id}" in listed.stdout
    assert "from TH-1" in listed.stdout and "by USTAFF" in listed.stdout
    assert "The scanner on floor 4 sends nothing to my email" in listed.stdout
    assert "address book refreshed" in listed.stdout

    published = chatbot(database_url, tmp_path, "publish", f"KB-{article_id}")
    assert published.returncode == 0, published.stderr
    assert f"KB-{article_id} “The scanner on floor 4 sends nothing to my email” is published" in (
        published.stdout
    )
    db = Database(database_url)
    with db.sessions() as session:
        article = session.get(KbArticle, article_id)
        assert article is not None
        assert article.state == "published" and article.published_by == "cli:operator"
        # Now suggested to whoever asks the same.
        found = kb.suggest(session=session, text="scanner sends nothing to my email")
        assert [s.id for s in found] == [article_id]
    db.dispose()
    assert chatbot(database_url, tmp_path, "drafts").stdout.strip() == "No drafts to publish."

    again = chatbot(database_url, tmp_path, "publish", str(article_id))
    assert again.returncode == 1
    assert f"KB-{article_id} is not a draft: it is published" in again.stderr


def test_publishing_an_unknown_id_fails_clearly(database_url: str, tmp_path: Path) -> None:
    saved_draft(database_url)
    unknown = chatbot(database_url, tmp_path, "publish", "KB-99")
    assert unknown.returncode == 1
    assert "there is no article KB-99" in unknown.stderr
    not_an_id = chatbot(database_url, tmp_path, "publish", "scanner")
    assert not_an_id.returncode != 0 and "is not an article id" in not_an_id.stderr
