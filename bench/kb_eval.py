"""How well self-service suggestions answer: hit@1, hit@3 and false suggestions.

    .venv/bin/python bench/kb_eval.py [--kb bench/kb/articles] [--messages bench/kb/messages.tsv]
                                      [--database-url URL]

The articles are indexed in a real database (SQLite by default: FTS5; `--database-url
postgresql://…`: PostgreSQL's full-text search), and every message goes through the bot's own
path: candidates from the database's index, re-ranked by `chatbot.search.rank`, cut at its
confidence. Beside it, in the same run, a plain BM25 ranker (the database's own ranking of the
message's words, no re-ranking) with the cut-off on its score that gives it the best hit@3 while
at most 10% of unanswerable messages get a suggestion.

The messages are split by position: every third is *held out* (never looked at while the scorer
was tuned), the others are the *dev* set. Learning from clicks is measured by treating each dev
message as a "This solved it" click on its article, then asking the held-out ones again.

Measures: hit@1 (the first suggestion is the right article), hit@3 (it is among the suggestions,
at most three), and for unanswerable messages the share that got any suggestion at all.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chatbot import search  # noqa: E402
from chatbot.db import Database  # noqa: E402
from chatbot.kb.articles import read_folder  # noqa: E402
from chatbot.search import rank  # noqa: E402

HERE = Path(__file__).parent
KIND = "kb"
MAX_FALSE = 0.10
FIT_FALSE = 0.08


@dataclass(frozen=True)
class Case:
    text: str
    answer: str | None  # the article's slug; None: no article answers it
    held_out: bool


@dataclass(frozen=True)
class Result:
    hit1: float
    hit3: float
    false_rate: float
    answered: int
    unanswerable: int

    def line(self, name: str) -> str:
        return (
            f"{name:<44} hit@1 {self.hit1:5.3f}  hit@3 {self.hit3:5.3f}  "
            f"false suggestions {self.false_rate:5.3f}  "
            f"({self.answered} answerable, {self.unanswerable} unanswerable)"
        )


def load_cases(path: Path) -> list[Case]:
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        slug, text = line.split("\t", 1)
        cases.append(Case(text.strip(), None if slug == "-" else slug, len(cases) % 3 == 2))
    return cases


def score(cases: Sequence[Case], suggest: Callable[[str], list[str]]) -> Result:
    answerable = [c for c in cases if c.answer]
    unanswerable = [c for c in cases if not c.answer]
    hit1 = hit3 = false = 0
    for case in cases:
        got = suggest(case.text)[:3]
        if case.answer:
            hit1 += bool(got) and got[0] == case.answer
            hit3 += case.answer in got
        else:
            false += bool(got)
    return Result(
        hit1 / max(len(answerable), 1),
        hit3 / max(len(answerable), 1),
        false / max(len(unanswerable), 1),
        len(answerable),
        len(unanswerable),
    )


def best_cutoff(
    cases: Sequence[Case], ranked: Callable[[str], list[tuple[str, float]]]
) -> tuple[float, Result]:
    """The cut-off on the top score that gives the best hit@3 with at most MAX_FALSE."""
    cached = {c.text: ranked(c.text) for c in cases}
    thresholds = sorted({s for hits in cached.values() for _, s in hits[:1]} | {float("inf")})
    best: tuple[float, Result] | None = None
    for threshold in thresholds:
        result = score(
            cases,
            lambda t, th=threshold: [
                k for k, _ in cached[t][:3] if cached[t] and cached[t][0][1] >= th
            ],
        )
        if result.false_rate <= MAX_FALSE and (best is None or result.hit3 > best[1].hit3):
            best = (threshold, result)
    assert best is not None
    return best


def fit(session: Any, ranker: rank.Ranker, dev: Sequence[Case]) -> None:
    """Fit the confidence's logistic weights on the dev set's best candidates (the first of
    each message: a positive when it is the right article, a negative otherwise, and always
    for a message no article answers: what the cut-off decides), and print them with the
    cut-off that keeps dev false suggestions at most FIT_FALSE at the best dev hit@3."""
    import numpy as np

    names = [n for n in rank.WEIGHTS if n != "bias"]
    rows, labels = [], []
    for case in dev:
        query = ranker.query(case.text)
        hits = search.search(session, kind=KIND, terms=query.words(), limit=rank.CANDIDATES)
        for doc, feats in ranker.features(query, [h.key for h in hits])[:1]:
            rows.append([1.0] + [feats[n] for n in names])
            labels.append(1.0 if doc.key == case.answer else 0.0)
    x, y = np.array(rows), np.array(labels)
    w = np.zeros(x.shape[1])
    for _ in range(20000):
        p = 1 / (1 + np.exp(-x @ w))
        gradient = x.T @ (p - y) / len(y) + 0.01 * np.r_[0, w[1:]]
        w -= 0.5 * gradient
    weights = {"bias": round(float(w[0]), 2)} | {
        n: round(float(v), 2) for n, v in zip(names, w[1:], strict=True)
    }
    print("WEIGHTS =", weights)
    # The cut-off, on the dev set alone with these weights: the best hit@3 while at most
    # FIT_FALSE of its unanswerable messages get a suggestion (a margin under MAX_FALSE, for
    # messages not seen).
    before = dict(rank.WEIGHTS)
    rank.WEIGHTS.update(weights)
    try:
        best: tuple[float, Result] | None = None
        for step in range(5, 95):
            cutoff = step / 100

            def suggest(text: str, cutoff: float = cutoff) -> list[str]:
                found = rank.answers(session, ranker, kind=KIND, text=text, cutoff=cutoff)
                return [s.key for s in found]

            result = score(dev, suggest)
            if result.false_rate <= FIT_FALSE and (best is None or result.hit3 > best[1].hit3):
                best = (cutoff, result)
        if best:
            print(f"CUTOFF = {best[0]:.2f}", best[1].line("(dev)"))
    finally:
        rank.WEIGHTS.update(before)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kb", type=Path, default=HERE / "kb" / "articles")
    parser.add_argument("--messages", type=Path, default=HERE / "kb" / "messages.tsv")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--cutoff", type=float, default=rank.CUTOFF)
    parser.add_argument("--misses", action="store_true", help="print the dev set's misses")
    parser.add_argument(
        "--fit", action="store_true", help="fit the confidence's weights on the dev set"
    )
    args = parser.parse_args(argv)

    articles = list(read_folder(args.kb))
    cases = load_cases(args.messages)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(args.database_url or f"sqlite:///{tmp}/kb_eval.db")
        db.upgrade()
        now = datetime.now(UTC)
        documents = [search.Document(KIND, a.slug, a.title, a.body, a.keywords) for a in articles]
        with db.transaction() as session:
            for document in documents:
                search.put(session, document=document, now=now)
        plain = rank.Ranker(documents)
        dev = [c for c in cases if not c.held_out]
        held = [c for c in cases if c.held_out]
        learned: dict[str, list[str]] = {}
        for case in dev:
            if case.answer:
                learned.setdefault(case.answer, []).append(case.text)
        trained = rank.Ranker(documents, learned)

        with db.transaction() as session:

            def ours(ranker: rank.Ranker) -> Callable[[str], list[str]]:
                def suggest(text: str) -> list[str]:
                    found = rank.answers(session, ranker, kind=KIND, text=text, cutoff=args.cutoff)
                    return [s.key for s in found]

                return suggest

            def bm25(text: str) -> list[tuple[str, float]]:
                return [(h.key, h.score) for h in search.search(session, kind=KIND, terms=text)]

            print(
                f"{len(articles)} articles, {len(cases)} messages ({len(dev)} dev, "
                f"{len(held)} held out); database {db.engine.dialect.name}; "
                f"cut-off {args.cutoff}"
            )
            for name, subset in (("all", cases), ("dev", dev), ("held-out", held)):
                print(score(subset, ours(plain)).line(f"scorer, {name}"))
                threshold, result = best_cutoff(subset, bm25)
                print(result.line(f"plain BM25 (best cut-off {threshold:.2f}), {name}"))
            print(score(held, ours(trained)).line("scorer + dev clicks learned, held-out"))
            if args.fit:
                fit(session, plain, dev)
            if args.misses:
                suggest = ours(plain)
                for case in dev:
                    got = suggest(case.text)
                    wrong = case.answer not in got if case.answer else bool(got)
                    if wrong:
                        print(f"  MISS {case.answer or '-':<18} {case.text!r} -> {got}")
        db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
