"""Reading knowledge-base articles from the `TECHHELP_KB` folder.

An article is a Markdown file (`*.md`, in the folder or below it) with optional YAML front
matter (`title`, `keywords`, `service`); without a `title` there, the first `# ` heading is the
title, and without one either, the file's name. A file that cannot be read as an article (broken
front matter, not UTF-8) is skipped with a warning naming the file and the line; a huge file is
cut, with a note; nothing else stops the sync.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

MAX_BYTES = 64_000  # an article longer than this is cut, with a note
MAX_TITLE = 200
MAX_KEYWORDS = 40
CUT_NOTE = "(This article was cut: it is longer than {limit:,} characters.)"
_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*\r?$\n?", re.DOTALL | re.MULTILINE)
_HEADING = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


class ArticleError(ValueError):
    """An article that cannot be read; says which file and line."""


@dataclass(frozen=True)
class Article:
    slug: str  # the file's path below the folder, without `.md`
    title: str
    body: str  # Markdown, the title heading removed
    keywords: tuple[str, ...]
    service: str | None
    digest: str  # of the file's bytes, to skip unchanged files
    cut: bool = False


def parse(slug: str, raw: bytes, *, name: str | None = None) -> Article:
    """One article from a file's bytes; `ArticleError` names `name` and the line."""
    name = name or f"{slug}.md"
    digest = hashlib.sha256(raw).hexdigest()
    cut = len(raw) > MAX_BYTES
    try:
        text = raw[:MAX_BYTES].decode("utf-8", errors="strict" if not cut else "ignore")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ArticleError(f"{name}, line {line}: not UTF-8 text") from error
    text = text.lstrip("\ufeff")
    meta: dict[str, object] = {}
    front = _FRONT.match(text)
    if text.startswith("---") and front is None and text.split("\n", 1)[0].strip() == "---":
        raise ArticleError(f"{name}, line 1: front matter opened with --- but never closed")
    if front:
        try:
            loaded = yaml.safe_load(front.group(1))
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            # +1 for the opening ---; an error at the end of the block is on its last line
            last = front.group(1).count("\n") + 1
            line = min(mark.line + 2, last) if mark is not None else 1
            problem = getattr(error, "problem", None) or "not valid YAML"
            raise ArticleError(f"{name}, line {line}: front matter: {problem}") from error
        if loaded is not None and not isinstance(loaded, dict):
            raise ArticleError(f"{name}, line 2: front matter must be `key: value` lines")
        meta = loaded or {}
        text = text[front.end() :]
    title = meta.get("title")
    if title is not None and not isinstance(title, str | int | float):
        raise ArticleError(f"{name}, line 2: `title` must be text")
    heading = _HEADING.search(text)
    if heading and (title is None or heading.group(1).strip() == str(title).strip()):
        # The heading is the title: shown once, not again at the top of the steps.
        title = title or heading.group(1)
        text = text[: heading.start()] + text[heading.end() :]
    title = " ".join(str(title or Path(slug).name.replace("-", " ").capitalize()).split())
    keywords = meta.get("keywords") or []
    if isinstance(keywords, str):
        keywords = [k for k in keywords.split(",")]
    if not isinstance(keywords, list):
        raise ArticleError(f"{name}, line 2: `keywords` must be a list")
    service = meta.get("service")
    body = text.strip()
    if cut:
        body += "\n\n" + CUT_NOTE.format(limit=MAX_BYTES)
    return Article(
        slug=slug,
        title=title[:MAX_TITLE],
        body=body,
        keywords=tuple(" ".join(str(k).split())[:100] for k in keywords[:MAX_KEYWORDS] if k),
        service=str(service)[:100] if service else None,
        digest=digest,
        cut=cut,
    )


@dataclass
class Scan:
    """What a folder holds: the articles read, and the slugs of every article file (read or
    skipped: a file with broken front matter is not a removed file)."""

    articles: list[Article] = field(default_factory=list)
    present: set[str] = field(default_factory=set)
    skipped: list[str] = field(default_factory=list)


def scan(folder: Path | None) -> Scan:
    """Every article file of the folder; a missing or empty folder has none."""
    found = Scan()
    if folder is None:
        return found
    if not folder.is_dir():
        log.warning("TECHHELP_KB %s is not a folder: no articles", folder)
        return found
    for path in sorted(folder.rglob("*.md")):
        if not path.is_file():
            continue
        slug = path.relative_to(folder).with_suffix("").as_posix()
        found.present.add(slug)
        try:
            article = parse(slug, path.read_bytes(), name=str(path))
        except (ArticleError, OSError) as error:
            log.warning("knowledge base: skipped %s", error)
            found.skipped.append(str(error))
            continue
        if article.cut:
            log.warning("knowledge base: %s is longer than %d bytes: cut", path, MAX_BYTES)
        found.articles.append(article)
    return found


def read_folder(folder: Path | None) -> list[Article]:
    return scan(folder).articles
