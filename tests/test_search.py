"""The full-text index in the bot's own database: FTS5 on SQLite, tsvector on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from chatbot import search
from chatbot.db import Database
from chatbot.search import Document

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _index(db: Database, *documents: Document) -> None:
    with db.transaction() as session:
        for document in documents:
            search.put(session, document=document, now=NOW)


def _keys(db: Database, terms: str | list[str], kind: str = "kb") -> list[str]:
    with db.transaction() as session:
        return [hit.key for hit in search.search(session, kind=kind, terms=terms)]


def test_finds_by_stemmed_words_and_ranks_title_over_body(database_url: str) -> None:
    db = Database(database_url)
    _index(
        db,
        Document("kb", "printer", "Clear a paper jam", "Open the doors and pull the paper out."),
        Document("kb", "vpn", "Connect to the VPN", "If printing fails at home, connect first."),
        Document("kb", "mail", "Set up e-mail", "Install Outlook.", ("mailbox", "inbox")),
    )
    # "jammed" meets "jam" (stemmed) in a title, "prints" meets "printing" in the other body.
    assert _keys(db, "prints jammed") == ["printer", "vpn"]
    # Keywords are searched like the title.
    assert _keys(db, "my mailbox") == ["mail"]
    # Nothing shared: nothing found; nor for a text of no words at all.
    assert _keys(db, "coffee machine") == []
    assert _keys(db, "?!") == []
    db.dispose()


def test_operators_and_quotes_in_user_text_are_words_not_syntax(database_url: str) -> None:
    db = Database(database_url)
    _index(db, Document("kb", "a", "Reset a password", "Use the reset page."))
    for text in [
        'password" OR title:*',
        "NOT password",
        "-password",
        "password AND (",
        "title:password",
    ]:
        assert _keys(db, text) == ["a"], text
    db.dispose()


def test_replace_remove_and_kinds_keep_the_index_in_step(database_url: str) -> None:
    db = Database(database_url)
    _index(
        db,
        Document("kb", "a", "Reset a password", "Use the reset page."),
        Document("liaison", "a", "Finance check-in", "They asked about the password policy."),
    )
    assert _keys(db, "password") == ["a"]
    assert _keys(db, "password", kind="liaison") == ["a"]
    # Replaced: the old words are gone from the index, the new ones found.
    _index(db, Document("kb", "a", "Unlock an account", "Wait thirty minutes."))
    assert _keys(db, "reset") == []
    assert _keys(db, "unlock") == ["a"]
    with db.transaction() as session:
        assert search.remove(session, kind="kb", key="a")
        assert not search.remove(session, kind="kb", key="a")
        assert search.keys(session, kind="kb") == set()
    assert _keys(db, "unlock") == []
    assert _keys(db, "password", kind="liaison") == ["a"]
    db.dispose()


def test_finds_among_thousands_with_the_best_first(database_url: str) -> None:
    db = Database(database_url)
    filler = [
        Document("kb", f"n{i}", f"Note {i} about laptops", f"Laptop model {i} drivers and docks.")
        for i in range(2000)
    ]
    _index(db, *filler, Document("kb", "bitlocker", "BitLocker recovery key", "Laptop blue key."))
    assert _keys(db, ["bitlocker", "laptop"])[0] == "bitlocker"
    assert len(_keys(db, "laptop")) == 20  # the limit
    db.dispose()
