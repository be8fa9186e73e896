"""Re-ranking search candidates, with a confidence: whether a document answers a message.

The database's full-text index finds candidates (`chatbot.search.search`); this module decides
which of them answer and how sure it is. It works on any collection of `Document`s, so what is
tuned here is the kind of text (short questions to IT, typed in a hurry), not one collection:

- **Words**: lower-cased, hyphenated and split forms joined ("e-mail", "log in" → one word),
  stop words and chat filler dropped ("hi", "please", "asap"), a light English stemmer.
- **Typos**: a word the collection does not know is replaced by a known word one edit away
  (insertion, deletion, substitution or transposition; symmetric-delete lookup), weighted
  below an exact match.
- **Synonyms**: a built-in list of the words people use for IT things ("pw" → password, "wifi"
  → wireless), and each document's `keywords`, matched like its title. A synonym counts as the
  word it stands for, at a lower weight.
- **Fields**: a word in the title or keywords counts fully, in the body less (saturating with
  repetition), in texts that documents solved before ("This solved it": `learned`) in between.
  Two adjacent message words found adjacent in the title or a keyword add a phrase bonus.
- **Story words**: who, when and where ("a colleague", "on Monday", "on the 4th floor", "new")
  count at `GENERIC_WEIGHT` of their informative weight: they rarely say what is asked.
- **Confidence**: not the raw score (which grows with the message's length and the collection)
  but features that mean the same on any collection: how much of the message's informative
  weight (idf, normalised by the collection's largest) the document covers, capped so a long
  story needs only its gist matched; how much of the document's title it covers; the phrase
  bonus; the lead over the next document; the most informative message word it does not
  match (a near-miss shares words with an article but its subject is elsewhere). A logistic
  model over them, fitted on the best candidate of each development message (is it the right
  one?), and a document is suggested only above `CUTOFF`, chosen on the development messages
  alone (`bench/kb_eval.py --fit`).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy.orm import Session

from chatbot.search import Document, search

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_HYPHEN = re.compile(r"(?<=\w)[-'’.](?=\w)")
# Two-word forms people write for one thing.
_JOINED = {
    ("log", "in"): "login",
    ("log", "on"): "login",
    ("logon",): "login",
    ("sign", "in"): "signin",
    ("sign", "on"): "signin",
    ("set", "up"): "setup",
    ("wi", "fi"): "wifi",
    ("e", "mail"): "email",
    ("pass", "word"): "password",
    ("user", "name"): "username",
    ("lap", "top"): "laptop",
    ("two", "factor"): "2fa",
    ("multi", "factor"): "mfa",
    ("out", "of", "office"): "ooo",
    ("time", "sheet"): "timesheet",
    ("voice", "mail"): "voicemail",
    ("work", "station"): "workstation",
    ("web", "cam"): "webcam",
    ("head", "set"): "headset",
}

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "aren",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "cannot",
        "could",
        "couldn",
        "did",
        "didn",
        "do",
        "does",
        "doesn",
        "doing",
        "don",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "hadn",
        "has",
        "hasn",
        "have",
        "haven",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "isn",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "shan",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "wasn",
        "we",
        "were",
        "weren",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "won",
        "would",
        "wouldn",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "s",
        "t",
        "d",
        "ll",
        "m",
        "re",
        "ve",
        "y",
        "im",
        "ive",
        "id",
        "thats",
        "whats",
        "theres",
        "hi",
        "hello",
        "hey",
        "dear",
        "thanks",
        "thank",
        "thx",
        "ty",
        "please",
        "pls",
        "plz",
        "help",
        "helps",
        "helping",
        "hlp",
        "someone",
        "anyone",
        "somebody",
        "anybody",
        "team",
        "guys",
        "folks",
        "everyone",
        "morning",
        "afternoon",
        "evening",
        "today",
        "yesterday",
        "tomorrow",
        "still",
        "again",
        "also",
        "really",
        "just",
        "quick",
        "question",
        "questions",
        "asap",
        "urgent",
        "urgently",
        "soon",
        "need",
        "needs",
        "needed",
        "want",
        "wants",
        "wanted",
        "trying",
        "tried",
        "try",
        "get",
        "got",
        "getting",
        "know",
        "let",
        "like",
        "would",
        "could",
        "might",
        "must",
        "may",
        "maybe",
        "sure",
        "ok",
        "okay",
        "yes",
        "yeah",
        "sorry",
        "way",
        "thing",
        "things",
        "something",
        "anything",
        "stuff",
        "bit",
        "lot",
        "lots",
        "one",
        "two",
        "day",
        "days",
        "week",
        "since",
        "ago",
        "already",
        "even",
        "though",
        "tell",
        "told",
        "ask",
        "asked",
        "asking",
        "possible",
        "able",
        "much",
        "many",
        "every",
        "being",
        "going",
        "go",
        "goes",
        "went",
        "able",
        "kind",
        "regards",
        "cheers",
        "best",
        "thanks",
        "whoever",
        "per",
        "via",
        "wondering",
        "wonder",
        "idea",
        "ideas",
        "advice",
        "keep",
        "keeps",
        "kept",
        # contractions typed without the apostrophe (which the split drops anyway)
        "cant",
        "wont",
        "dont",
        "doesnt",
        "isnt",
        "didnt",
        "couldnt",
        "wouldnt",
        "havent",
        "hasnt",
        "arent",
        "youre",
        "theyre",
        "anymore",
        "everything",
        "anywhere",
        "somewhere",
        "somehow",
    ]
)

# Words people use for the same IT thing, in groups; the first is the one matched for all.
# Domain knowledge of help-desk language, not of any one knowledge base.
SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("password", "passwd", "pwd", "pw", "passcode", "passphrase", "pin"),
    ("login", "signin", "logon", "logging", "signing", "credentials", "access"),
    ("wifi", "wireless", "wlan", "hotspot"),
    ("laptop", "notebook", "computer", "pc", "machine", "desktop", "workstation", "macbook"),
    ("email", "mail", "outlook", "inbox", "mailbox", "emails"),
    ("print", "printer", "printing", "copier", "mfp"),
    ("monitor", "screen", "display"),
    (
        "phone",
        "mobile",
        "cellphone",
        "cell",
        "smartphone",
        "iphone",
        "android",
        "samsung",
        "ipad",
        "tablet",
        "pixel",
    ),
    ("mfa", "2fa", "authenticator", "otp", "verification", "twofactor"),
    ("vpn", "globalprotect", "anyconnect", "tunnel"),
    (
        "slow",
        "sluggish",
        "laggy",
        "lag",
        "lagging",
        "freezing",
        "freeze",
        "frozen",
        "hang",
        "ages",
        "forever",
        "crawling",
    ),
    ("install", "setup", "download", "installation"),
    ("delete", "deleted", "remove", "removed", "lost", "missing", "erase"),
    (
        "restore",
        "recover",
        "recovery",
        "undelete",
        "back",
        "backup",
        "overwrote",
        "overwritten",
        "overwrite",
    ),
    ("drive", "share", "folder", "fileshare"),
    ("account", "username", "userid", "profile"),
    ("lock", "locked", "lockout", "blocked", "disabled"),
    ("reset", "change", "forgot", "forgotten", "expired", "expire", "remember"),
    ("meeting", "call", "conference", "teams", "zoom", "webex"),
    ("headset", "headphones", "microphone", "mic", "speaker", "audio", "sound"),
    ("webcam", "camera", "cam", "video"),
    ("starter", "hire", "onboarding", "joiner", "newcomer", "newbie"),
    ("leaver", "offboarding", "leaving", "departing", "resign", "resigned", "quit", "quitting"),
    ("broken", "cracked", "damaged", "smashed", "dead"),
    ("keyboard", "keys", "typing"),
    ("mouse", "trackpad", "touchpad", "pointer"),
    ("software", "app", "application", "program", "tool"),
    ("license", "licence", "subscription", "seat"),
    ("phish", "phishing", "scam", "suspicious", "spam", "fraud"),
    ("virus", "malware", "ransomware", "infected", "hacked", "compromised"),
    ("calendar", "schedule", "invite", "appointment", "diary", "agenda"),
    ("ooo", "autoreply", "autoresponder", "vacation", "holiday", "away"),
    ("voicemail", "voice", "messages"),
    ("badge", "keycard", "card", "fob", "pass", "lanyard"),
    ("update", "upgrade", "patch", "updates", "restart", "reboot", "rebooted"),
    ("storage", "space", "full", "quota", "disk", "capacity"),
    ("battery", "charge", "charging", "charger", "power"),
    ("bluetooth", "pair", "pairing"),
    ("timesheet", "payroll", "payslip", "hours"),
    ("expense", "expenses", "receipt", "reimbursement"),
    ("dock", "docking", "station", "usb", "hub"),
    ("encrypt", "encrypted", "encryption", "bitlocker"),
)

# Words of the story around a question rather than its subject (who, when, where, how it felt):
# they count at GENERIC_WEIGHT of their informative weight, in what a message asks and in
# what a document matches, so "a member of staff resigned" is about resigning.
GENERIC = frozenset(
    [
        "colleague",
        "colleagues",
        "coworker",
        "staff",
        "member",
        "members",
        "manager",
        "boss",
        "person",
        "people",
        "user",
        "users",
        "employee",
        "employees",
        "department",
        "company",
        "work",
        "working",
        "works",
        "office",
        "building",
        "floor",
        "room",
        "desk",
        "home",
        "site",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "weekend",
        "month",
        "weeks",
        "morning",
        "night",
        "overnight",
        "hour",
        "hours",
        "minutes",
        "time",
        "new",
        "old",
        "personal",
        "important",
        "own",
        "last",
        "next",
        "first",
        "big",
        "small",
        "use",
        "using",
        "used",
        "make",
        "made",
        "see",
        "find",
        "show",
        "shows",
        "showing",
        "anymore",
        "properly",
        "correctly",
        "suddenly",
        "always",
        "never",
        "whole",
        "entire",
    ]
)
GENERIC_WEIGHT = 0.4
FIELD_TITLE = 1.0  # a word in the title or keywords
FIELD_LEARNED = 0.8  # in a message this document solved before
FIELD_BODY = 0.55  # in the body, at its most (saturates with repetition)
TYPO_WEIGHT = 0.8
SYNONYM_WEIGHT = 0.75
PHRASE_BONUS = 0.15
UNKNOWN_WEIGHT = 0.5
LEARN_AFTER = 2
CAP = 2.2  # of normalised idf: a message's gist; a longer story needs no more matched
COMMON = 0.05  # in a large collection, a word in more than this share of documents is not asked
MAX_INDEX_WORDS = 24
PRUNE_FROM = 500  # documents: below, every word is asked (pruning saves nothing)
# The confidence a document needs to be suggested (see `bench/kb_eval.py`).
CUTOFF = 0.60


def _split(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(_HYPHEN.sub("", text.lower()))]


def _join(words: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        for size in (3, 2, 1):
            if tuple(words[i : i + size]) in _JOINED:
                out.append(_JOINED[tuple(words[i : i + size])])
                i += size
                break
        else:
            out.append(words[i])
            i += 1
    return out


def surface(text: str) -> list[str]:
    """The words of a text, two-word forms joined, stop words kept (for phrases)."""
    return _join(_split(text))


_VOWELS = set("aeiouy")


def _undouble(word: str) -> str:
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz" + "aeiou":
        return word[:-1]
    return word


@lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    """A light English stemmer: the same word for its plural, -ing, -ed, -er, -ation forms.
    Consistency on both sides is what matters, not dictionary roots."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix):
            rest = word[: -len(suffix)]
            if len(rest) >= 3 and _VOWELS & set(rest):
                word = _undouble(rest)
            break
    for suffix, keep in (("ations", 4), ("ation", 4), ("ate", 4), ("ly", 4), ("er", 4)):
        if word.endswith(suffix) and len(word) - len(suffix) >= keep:
            word = _undouble(word[: -len(suffix)])
            break
    if word.endswith("e") and len(word) > 4:  # not "came" → "cam"
        word = word[:-1]
    return word


_SYNONYM_OF: dict[str, str] = {}
for _group in SYNONYM_GROUPS:
    for _word in _group:
        _SYNONYM_OF.setdefault(stem(_word), stem(_group[0]))


_GENERIC_STEMS = frozenset(stem(w) for w in GENERIC)
# Each synonym group's stems, by the stem of its first word.
_GROUP_OF: dict[str, tuple[str, ...]] = {}
for _group in SYNONYM_GROUPS:
    _GROUP_OF.setdefault(stem(_group[0]), tuple(dict.fromkeys(stem(w) for w in _group)))


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


@dataclass
class _Doc:
    key: str
    title: str
    title_terms: set[str]
    title_list: list[str]
    keyword_phrases: list[list[str]]
    body: Counter[str]
    phrases: frozenset[tuple[str, str]] = frozenset()
    learned: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Slot:
    """One informative word of a message and what it may match: (term, weight) pairs."""

    word: str
    alternatives: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Query:
    slots: tuple[Slot, ...]
    bigrams: frozenset[tuple[str, str]]

    def words(self) -> list[str]:
        """Surface words to ask the database's index for (originals, corrections, synonyms)."""
        return [w for slot in self.slots for w in (slot.word, *(a for a, _ in slot.alternatives))]


@dataclass(frozen=True)
class Scored:
    key: str
    title: str
    score: float
    confidence: float


class Ranker:
    """A model of one collection: its vocabulary, document frequencies and fields, kept in
    memory (built once per change of the collection) so a re-rank costs microseconds."""

    def __init__(
        self, documents: Iterable[Document], learned: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        self.docs: dict[str, _Doc] = {}
        df: Counter[str] = Counter()
        vocabulary: Counter[str] = Counter()
        for document in documents:
            title_words = surface(document.title)
            keyword_phrases = [
                [stem(w) for w in surface(k) if w not in STOPWORDS] for k in document.keywords
            ]
            title_list = [stem(w) for w in title_words if w not in STOPWORDS]
            body_words = surface(document.body)
            body = Counter(stem(w) for w in body_words if w not in STOPWORDS)
            doc = _Doc(
                key=document.key,
                title=document.title,
                title_terms=set(title_list) | {t for p in keyword_phrases for t in p},
                title_list=title_list,
                keyword_phrases=[p for p in keyword_phrases if p],
                body=body,
            )
            pairs = set(zip(title_list, title_list[1:], strict=False))
            for keyword in doc.keyword_phrases:
                pairs.update(zip(keyword, keyword[1:], strict=False))
            doc.phrases = frozenset(pairs)
            self.docs[document.key] = doc
            df.update(doc.title_terms | set(body))
            all_words = (
                title_words + body_words + [w for k in document.keywords for w in surface(k)]
            )
            vocabulary.update(w for w in all_words if w not in STOPWORDS and not w.isdigit())
        for key, texts in (learned or {}).items():
            if key in self.docs:
                # A word counts once it came back in LEARN_AFTER solved messages: one
                # person's story ("on the 3rd floor") teaches nothing about the next one's.
                seen = Counter(
                    term
                    for t in texts
                    for term in {stem(w) for w in surface(t) if w not in STOPWORDS}
                )
                self.docs[key].learned = {t for t, n in seen.items() if n >= LEARN_AFTER}
        self.df = df
        self._idf: dict[str, float] = {}
        self.n = max(len(self.docs), 1)
        self.max_idf = math.log(1 + (self.n + 0.5) / 0.5)
        self.vocabulary = vocabulary
        self.stems = {stem(w) for w in vocabulary}
        self._by_delete: dict[str, list[str]] = defaultdict(list)
        for word in vocabulary:
            if len(word) >= 3:
                for deleted in _deletes(word) | {word}:
                    self._by_delete[deleted].append(word)
        self._learned_index: dict[str, set[str]] = defaultdict(set)
        for doc in self.docs.values():
            for term in doc.learned:
                self._learned_index[term].add(doc.key)

    # --- the message ------------------------------------------------------------------------

    def correct(self, word: str) -> str | None:
        """The known word one edit away from an unknown one (the most frequent), if any: a
        letter missing, added, changed, or two swapped (`_deletes` of both sides meet)."""
        if len(word) < 3 or word.isdigit():
            return None
        found: set[str] = set()
        for deleted in _deletes(word) | {word}:
            found.update(self._by_delete.get(deleted, ()))
        found.discard(word)
        found = {w for w in found if abs(len(w) - len(word)) <= 1}
        if len(word) <= 4:
            # Too short to guess from: most short words are one edit from another real word
            # ("came" → "cam", "bill" → "fill"). Two letters swapped ("vnp") only.
            found = {w for w in found if sorted(w) == sorted(word)}
        if not found:
            return None
        return max(sorted(found), key=lambda w: self.vocabulary[w])

    def query(self, text: str) -> Query:
        words = surface(text)
        slots: list[Slot] = []
        stems_in_order: list[str | None] = []
        for word in words:
            if word in STOPWORDS:
                stems_in_order.append(None)
                continue
            term = stem(word)
            alternatives: dict[str, float] = {}
            if term in self.stems or word in self.vocabulary:
                alternatives[term] = 1.0
            elif word in _SYNONYM_OF or term in _SYNONYM_OF:
                pass
            else:
                fixed = self.correct(word)
                if fixed:
                    alternatives[stem(fixed)] = TYPO_WEIGHT
            base = _SYNONYM_OF.get(term)
            if base is None:
                for alt in list(alternatives):
                    base = _SYNONYM_OF.get(alt) or base
            if base is not None:
                for synonym in _GROUP_OF[base]:
                    alternatives.setdefault(synonym, SYNONYM_WEIGHT)
            alternatives.setdefault(term, 1.0)
            slots.append(Slot(word, tuple(alternatives.items())))
            stems_in_order.append(term)
        bigrams = frozenset(
            (a, b)
            for a, b in zip(stems_in_order, stems_in_order[1:], strict=False)
            if a is not None and b is not None
        )
        # The same word twice counts once.
        unique: dict[str, Slot] = {}
        for slot in slots:
            unique.setdefault(slot.alternatives[0][0], slot)
        return Query(tuple(unique.values()), bigrams)

    def idf(self, term: str) -> float:
        """Normalised to (0, 1]: 1 for a word the collection never uses."""
        value = self._idf.get(term)
        if value is None:
            df = self.df.get(term, 0)
            value = math.log(1 + (self.n - df + 0.5) / (df + 0.5)) / self.max_idf
            if term in _GENERIC_STEMS:
                value *= GENERIC_WEIGHT
            self._idf[term] = value
        return value

    def index_words(self, query: Query) -> list[str]:
        """The words to ask the database's index for: each slot's, rarest first, leaving out
        words in more than a quarter of the documents when rarer ones are there (they find
        everything and decide nothing; the re-ranking still weighs them)."""
        words: list[tuple[float, str]] = []
        for slot in query.slots:
            for surface_word in (slot.word, *(a for a, _ in slot.alternatives)):
                df = self.df.get(stem(surface_word), 0)
                if df:  # a word no document has finds nothing
                    words.append((df / self.n, surface_word))
        words.sort()
        if self.n < PRUNE_FROM:
            return list(dict.fromkeys(w for _, w in words))[:MAX_INDEX_WORDS]
        rare = [w for share, w in words if share <= COMMON]
        chosen = rare if len(rare) >= 3 else [w for _, w in words[: max(3, len(rare))]]
        return list(dict.fromkeys(chosen))[:MAX_INDEX_WORDS]

    def _slot_weight(self, slot: Slot) -> float:
        """A word's informative weight: its rarest alternative the collection knows; a word
        it does not know at all counts half (a name, a detail of the story, a typo beyond
        repair: it says the message may be about something else, not that it must be)."""
        known = [self.idf(t) for t, _ in slot.alternatives if t in self.df]
        if known:
            return max(known)
        return UNKNOWN_WEIGHT * (GENERIC_WEIGHT if stem(slot.word) in _GENERIC_STEMS else 1.0)

    # --- the documents ----------------------------------------------------------------------

    def candidates_learned(self, query: Query) -> set[str]:
        return {
            key
            for slot in query.slots
            for term, _ in slot.alternatives
            for key in self._learned_index.get(term, ())
        }

    def _match(self, doc: _Doc, term: str) -> float:
        if term in doc.title_terms:
            return FIELD_TITLE
        best = FIELD_LEARNED if term in doc.learned else 0.0
        tf = doc.body.get(term, 0)
        if tf:
            best = max(best, FIELD_BODY * min(1.0, 0.6 + 0.2 * tf))
        return best

    def _score(
        self, doc: _Doc, query: Query, weights: Sequence[float]
    ) -> tuple[float, float, float, int, float]:
        """(matched informative weight, title coverage, phrase bonus, slots matched, the
        weight of the most informative word it does not match)."""
        matched = 0.0
        count = 0
        missed = 0.0
        hit_terms: set[str] = set()
        for slot, slot_weight in zip(query.slots, weights, strict=True):
            best = 0.0
            best_term = ""
            for term, weight in slot.alternatives:
                value = weight * self._match(doc, term)
                if value > best:
                    best, best_term = value, term
            if best:
                count += 1
                matched += best * self.idf(best_term)
                hit_terms.add(best_term)
            else:
                missed = max(missed, slot_weight)
        title_cov = max(
            (self._covered(terms, hit_terms) for terms in (doc.title_list, *doc.keyword_phrases)),
            default=0.0,
        )
        return matched, title_cov, 1.0 if query.bigrams & doc.phrases else 0.0, count, missed

    def features(self, query: Query, keys: Iterable[str]) -> list[tuple[_Doc, dict[str, float]]]:
        """Each candidate's features, best first by matched weight; what the confidence is
        made of (see `confidence`)."""
        weights = [self._slot_weight(slot) for slot in query.slots]
        mass = sum(weights)
        if not mass:
            return []
        found: list[tuple[_Doc, dict[str, float]]] = []
        for key in dict.fromkeys([*keys, *sorted(self.candidates_learned(query))]):
            doc = self.docs.get(key)
            if doc is None:
                continue
            matched, title_cov, phrase, slots, missed = self._score(doc, query, weights)
            if matched <= 0:
                continue
            found.append(
                (
                    doc,
                    {
                        "coverage": min(1.0, matched / min(mass, CAP)),
                        "share": matched / mass,
                        "title": title_cov,
                        "phrase": phrase,
                        "slots": slots / len(query.slots),
                        "missed": missed,
                        "matched": matched,
                    },
                )
            )
        found.sort(key=lambda f: (-_base(f[1]), f[0].key))
        for i, (_, feats) in enumerate(found):
            following = _base(found[i + 1][1]) if i + 1 < len(found) else 0.0
            feats["lead"] = (_base(feats) - following) / _base(feats) if i == 0 else 0.0
        return found

    def _covered(self, terms: Sequence[str], hit: set[str]) -> float:
        """How much of a title or keyword (by informative weight) the message names."""
        mass = sum(self.idf(t) for t in set(terms))
        return sum(self.idf(t) for t in set(terms) & hit) / mass if mass else 0.0

    def rank(self, query: Query, keys: Iterable[str]) -> list[Scored]:
        """The given candidates (and any document a message like this one solved before),
        best first, each with its confidence."""
        ranked = [
            Scored(doc.key, doc.title, round(f["matched"], 4), round(confidence(f), 4))
            for doc, f in self.features(query, keys)
        ]
        ranked.sort(key=lambda s: -s.confidence)
        return ranked


def _base(f: Mapping[str, float]) -> float:
    return 0.55 * f["coverage"] + 0.25 * f["title"] + 0.2 * f["share"] + PHRASE_BONUS * f["phrase"]


# Weights of the confidence: a logistic model over features that mean the same on any
# collection, fitted on the development two thirds of `bench/kb` (`bench/kb_eval.py --fit`: the
# best candidate of each message, right or not), with `CUTOFF` the confidence that keeps at most
# 8% of the development set's unanswerable messages suggested at its best hit@3.
WEIGHTS = {
    "bias": -3.13,
    "coverage": 1.59,
    "share": 1.47,
    "title": 1.01,
    "phrase": 0.07,
    "slots": 2.12,
    "lead": 1.38,
    "missed": -0.83,
}


def confidence(f: Mapping[str, float]) -> float:
    z = WEIGHTS["bias"] + sum(w * f.get(name, 0.0) for name, w in WEIGHTS.items() if name != "bias")
    return 1 / (1 + math.exp(-z))


CANDIDATES = 30  # asked of the database's index per message


def answers(
    session: Session,
    ranker: Ranker,
    *,
    kind: str,
    text: str,
    limit: int = 3,
    cutoff: float = CUTOFF,
) -> list[Scored]:
    """The documents of `kind` that answer `text`, best first, at most `limit`: candidates
    from the database's full-text index, re-ranked, those below `cutoff` dropped (none at all
    when nothing answers)."""
    query = ranker.query(text)
    if not query.slots:
        return []
    hits = search(session, kind=kind, terms=ranker.index_words(query), limit=CANDIDATES)
    ranked = ranker.rank(query, [hit.key for hit in hits])
    return [s for s in ranked[:limit] if s.confidence >= cutoff]
