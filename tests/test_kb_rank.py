"""The re-ranker's judgement: what answers a message, and silence when nothing does."""

from __future__ import annotations

from chatbot.search import Document
from chatbot.search.rank import CUTOFF, Ranker

DOCS = [
    Document(
        "kb", "reset", "Reset a forgotten password", "Use the reset page.", ("password expired",)
    ),
    Document(
        "kb", "vpn", "Connect to the VPN", "Open GlobalProtect and sign in.", ("remote access",)
    ),
    Document("kb", "jam", "Clear a paper jam", "Open the printer's front door.", ("copier",)),
    Document("kb", "wifi", "Connect your laptop to the office Wi-Fi", "Choose Example-Staff.", ()),
    Document("kb", "badge", "Building badge not opening doors", "Hold it flat.", ("access card",)),
]


def _answers(ranker: Ranker, text: str) -> list[str]:
    ranked = ranker.rank(ranker.query(text), [d.key for d in DOCS])
    return [s.key for s in ranked[:3] if s.confidence >= CUTOFF]


def test_typos_synonyms_and_keywords_find_the_article() -> None:
    ranker = Ranker(DOCS)
    assert _answers(ranker, "forgot my pasword")[0] == "reset"  # a typo repaired
    assert _answers(ranker, "pw expired")[0] == "reset"  # a synonym, a keyword
    assert _answers(ranker, "vnp not working from home")[0] == "vpn"  # a transposition
    assert _answers(ranker, "the copier is jammed again")[0] == "jam"  # a keyword, a stem
    assert _answers(ranker, "my e-mail... no, my wireless won't connect on the laptop")[0] == "wifi"


def test_nothing_answers_means_no_suggestion() -> None:
    ranker = Ranker(DOCS)
    for text in ("the coffee machine is broken", "how many days of holiday do I have", "hello?"):
        assert _answers(ranker, text) == [], text


def test_words_of_solved_requests_are_learned_once_repeated() -> None:
    before = Ranker(DOCS)
    assert _answers(before, "globalprotect portal greyed out") in ([], ["vpn"])
    assert "badge" not in _answers(before, "turnstile beeps red")
    solved = ["the turnstile beeps red", "turnstile beeps and will not let me in"]
    learned = Ranker(DOCS, {"badge": solved})
    assert _answers(learned, "turnstile beeps red")[:1] == ["badge"]
    # One request's story teaches nothing: a word must come back in two solved requests.
    once = Ranker(DOCS, {"badge": ["the turnstile beeps red"]})
    assert _answers(once, "turnstile beeps red") == []
