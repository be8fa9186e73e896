"""Questionnaires: a survey of several items (up to 20), each a 1–5 scale, a single choice or a
free comment, optionally under a section heading. They use the pulse's runs, recipients,
contact budget, reminder and closing; what differs is counted here.

Answers are counted per item (`survey_tallies.item`), with the same rewrite of every option of
the person's department per click. What a person chose on each item is kept only in their own
message: its buttons carry, signed, their *sheet* (`Sheet`: how many answers they gave, the
option chosen on each item, their random ballot token), so a click on item 3 knows the option it
replaces without the database ever linking the person to an answer. A comment item's text is
kept in the run's comment box keyed by the ballot token and the item.

An item's `id` names it across runs (default: its question): a reworded item keeps its trend
when it keeps its `id`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from chatbot.config import ITEM_KINDS, MAX_ITEMS, SurveyConfig
from chatbot.db.models import SurveyCommentBox
from chatbot.db.upsert import insert_ignore
from chatbot.messages import Refusal
from chatbot.surveys.answers import _advance_statement, _count_statement, recipient_version
from chatbot.surveys.runs import MAX_OPTION, MAX_QUESTION, SCALE
from chatbot.surveys.signing import INVALID, _mac, new_token, token_hash

NOT_ANSWERED = "-"
ITEMS_PER_PAGE = 5  # items shown with their buttons at once: within every platform's limits
MAX_ITEM_COMMENT = 3000
MAX_SECTION = 100


@dataclass(frozen=True)
class Item:
    index: int
    id: str  # names the item across runs (its trend)
    question: str
    kind: str  # scale | choice | comment
    options: tuple[str, ...]
    section: str | None

    @property
    def scale(self) -> bool:
        return self.kind == "scale"

    @property
    def answerable(self) -> bool:
        """Answered with one click (a comment item is written in a form, and optional)."""
        return self.kind != "comment"


def items_of(raw: list[dict[str, Any]] | None) -> list[Item]:
    """A survey's stored items."""
    return [
        Item(
            index=index,
            id=str(entry.get("id") or entry["question"]),
            question=entry["question"],
            kind=entry["kind"],
            options=tuple(SCALE if entry["kind"] == "scale" else entry.get("options") or ()),
            section=entry.get("section") or None,
        )
        for index, entry in enumerate(raw or [])
    ]


def check_items(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items from a file or a form, as `Survey.items` keeps them; a bad one is refused naming
    its field (`items.3.kind`)."""
    if not raw:
        raise Refusal("A questionnaire needs at least one item.", field="items")
    if len(raw) > MAX_ITEMS:
        raise Refusal(
            f"A questionnaire can hold {MAX_ITEMS} items; this one has {len(raw)}.",
            field="items",
        )
    stored: list[dict[str, Any]] = []
    for number, entry in enumerate(raw, start=1):
        where = f"items.{number}"
        question = str(entry.get("question") or "").strip()
        if not question:
            raise Refusal(f"{where}.question: each item needs a question.", field="items")
        if len(question) > MAX_QUESTION:
            raise Refusal(f"{where}.question: at most {MAX_QUESTION} characters.", field="items")
        options = [str(o).strip() for o in entry.get("options") or [] if str(o).strip()]
        kind = str(entry.get("kind") or ("choice" if options else "scale")).strip().lower()
        if kind not in ITEM_KINDS:
            raise Refusal(
                f"{where}.kind: {kind!r} is not an item kind ({', '.join(ITEM_KINDS)}).",
                field="items",
            )
        if kind == "choice" and not 2 <= len(options) <= 10:
            raise Refusal(
                f"{where}.options: give 2 to 10 options (this item has {len(options)}).",
                field="items",
            )
        if kind != "choice" and options:
            raise Refusal(f"{where}.options: a {kind} item takes no options.", field="items")
        if any(len(option) > MAX_OPTION for option in options) or len(set(options)) != len(options):
            raise Refusal(
                f"{where}.options: distinct options of at most {MAX_OPTION} characters.",
                field="items",
            )
        section = str(entry.get("section") or "").strip()[:MAX_SECTION] or None
        stored.append(
            {
                "id": str(entry.get("id") or question).strip()[:MAX_QUESTION],
                "question": question,
                "kind": kind,
                "options": options,
                "section": section,
            }
        )
    ids = [entry["id"] for entry in stored]
    if len(set(ids)) != len(ids):
        raise Refusal("items: each item needs its own question or id.", field="items")
    return stored


# --- the sheet a person's buttons carry ---------------------------------------------------------


@dataclass(frozen=True)
class Sheet:
    """What a person's questionnaire buttons carry, signed with them: how many answers they had
    given when the message was made, the option chosen on each item (None: not yet), and their
    random ballot token (drawn at their first answer). It lives only in their own message."""

    version: int
    chosen: tuple[int | None, ...]
    token: str | None = None

    @classmethod
    def fresh(cls, items: int) -> Sheet:
        return cls(0, (None,) * items)

    def state(self) -> str:
        vector = "".join(NOT_ANSWERED if c is None else str(c) for c in self.chosen)
        return f"{self.version}.{vector}.{self.token or '-'}"

    def answered(self, items: list[Item]) -> int:
        return sum(1 for item in items if item.answerable and self.chosen[item.index] is not None)

    def remaining(self, items: list[Item]) -> int:
        return sum(1 for item in items if item.answerable) - self.answered(items)


def sheet_value(key: bytes, run_id: int, choice: str, user: str, sheet: Sheet) -> str:
    """`<run>.<choice>.<version>.<vector>.<token>.<signature>`; choice is `<item>-<option>`,
    `<item>-c` (a comment item's form) or `p<page>` (another page). Signed for `user`."""
    state = sheet.state()
    return f"{run_id}.{choice}.{state}.{_mac(key, f'quest:{run_id}:{choice}:{state}:{user}')}"


def read_sheet(key: bytes, value: str, user: str, items: int) -> tuple[int, str, Sheet]:
    """(run id, choice, sheet) from a value signed for `user`; anything else is refused."""
    parts = value.split(".")
    if len(parts) == 6 and parts[0].isdigit() and parts[2].isdigit():
        run_id, choice, version, vector, token, signature = parts
        expected = _mac(key, f"quest:{run_id}:{choice}:{version}.{vector}.{token}:{user}")
        if (
            hmac.compare_digest(signature, expected)
            and len(vector) == items
            and all(c == NOT_ANSWERED or c.isdigit() for c in vector)
        ):
            chosen = tuple(None if c == NOT_ANSWERED else int(c) for c in vector)
            return int(run_id), choice, Sheet(int(version), chosen, None if token == "-" else token)
    raise Refusal(INVALID)


# --- answering -------------------------------------------------------------------------------


def record_item_answer(
    *,
    session: Session,
    run_id: int,
    anonymous: bool,
    items: list[Item],
    user: str,
    item: int,
    option: int,
    sheet: Sheet,
) -> Sheet:
    """The person's answer to one item (a first answer, or a change of it): only from the
    buttons of their latest message (the version their sheet carries); returns their new sheet.
    The recipient row keeps how many clicks they made, never on what."""
    from chatbot.surveys.answers import ALREADY, NOT_SENT

    if not 0 <= item < len(items) or not items[item].answerable:
        raise Refusal(INVALID)
    if not 0 <= option < len(items[item].options) or len(sheet.chosen) != len(items):
        raise Refusal(INVALID)
    if sheet.version and sheet.token is None:
        raise Refusal(INVALID)
    connection = session.connection()
    department = connection.execute(
        _advance_statement(),
        {"r": run_id, "u": user, "v": sheet.version, "named_option": None},
    ).scalar()
    if department is None:
        version = recipient_version(session=session, run_id=run_id, user=user)
        raise Refusal(NOT_SENT if version is None else ALREADY)
    previous = sheet.chosen[item]
    connection.execute(
        _count_statement(),
        {
            "r": run_id,
            "i": item,
            "d": department,
            "new": option,
            "old": -1 if previous is None else previous,
        },
    )
    chosen = list(sheet.chosen)
    chosen[item] = option
    return Sheet(sheet.version + 1, tuple(chosen), sheet.token or new_token())


def comment_key(token: str, item: int) -> str:
    return f"{token_hash(token)}:{item}"


def record_item_comment(
    *,
    session: Session,
    run_id: int,
    anonymous: bool,
    user: str,
    item: Item,
    sheet: Sheet,
    comment: str,
) -> bool:
    """The person's comment on a comment item (a second one replaces theirs), keyed by their
    ballot token and the item in the run's one comment row. Longer than the limit, it is cut:
    returns whether it was."""
    if item.kind != "comment":
        raise Refusal(INVALID, field="comment")
    if sheet.token is None or not sheet.version:
        raise Refusal("Please answer a question first, then add your comment.", field="comment")
    cut = len(comment) > MAX_ITEM_COMMENT
    comment = comment[:MAX_ITEM_COMMENT]
    box = _locked_box(session, run_id)
    entries = dict(box.comments)
    entries[comment_key(sheet.token, item.index)] = {
        "text": comment,
        "user": None if anonymous else user,
        "item": item.index,
    }
    box.comments = dict(sorted(entries.items()))  # no order of arrival
    session.flush()
    return cut


def _locked_box(session: Session, run_id: int) -> SurveyCommentBox:
    from sqlalchemy import select

    query = select(SurveyCommentBox).where(SurveyCommentBox.run_id == run_id).with_for_update()
    box = session.scalars(query).first()
    if box is None:
        insert_ignore(session, SurveyCommentBox, run_id=run_id, comments={})
        box = session.scalars(query).one()
    return box


def item_comment(session: Session, run_id: int, sheet: Sheet, item: int) -> str | None:
    """The person's own comment on an item (from their ballot token), to show it back."""
    if sheet.token is None:
        return None
    from chatbot.surveys.answers import _comments

    entry = _comments(session, run_id).get(comment_key(sheet.token, item))
    return entry["text"] if entry else None


def page_of(items: list[Item], sheet: Sheet, page: int | None) -> int:
    """The page to show: the one asked for, else the first with an unanswered item (else the
    last)."""
    pages = max(1, -(-len(items) // ITEMS_PER_PAGE))
    if page is not None:
        return min(max(page, 0), pages - 1)
    for item in items:
        if item.answerable and sheet.chosen[item.index] is None:
            return item.index // ITEMS_PER_PAGE
    return pages - 1


def after_answer(items: list[Item], sheet: Sheet, item: int) -> int:
    """The page after answering `item`: its own while it has unanswered items, else the next
    page with one (so a person answers straight through)."""
    own = item // ITEMS_PER_PAGE
    mine = items[own * ITEMS_PER_PAGE : (own + 1) * ITEMS_PER_PAGE]
    if any(i.answerable and sheet.chosen[i.index] is None for i in mine):
        return own
    return page_of(items, sheet, None)


def with_choice(sheet: Sheet, item: int, option: int) -> Sheet:
    chosen = list(sheet.chosen)
    chosen[item] = option
    return replace(sheet, chosen=tuple(chosen))


def parse_items(text: str) -> list[dict[str, Any]]:
    """Items from the form's text (or a JSON list, as the command line passes a file's): one
    per line, `question` (1–5 scale), `question | option; option; …` (a choice) or
    `question | comment`; a line `# Section` starts a section. Checked by `check_items`."""
    import json

    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            raw = json.loads(text)
        except ValueError:
            raise Refusal("items: not a valid list of items.", field="items") from None
        if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
            raise Refusal("items: not a valid list of items.", field="items")
        return check_items(raw)
    raw = []
    section: str | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            section = line.lstrip("#").strip() or None
            continue
        question, _, rest = line.partition("|")
        rest = rest.strip()
        entry: dict[str, Any] = {"question": question.strip(), "section": section}
        if rest.lower() == "comment":
            entry["kind"] = "comment"
        elif rest:
            entry["kind"] = "choice"
            entry["options"] = [o.strip() for o in rest.split(";") if o.strip()]
        raw.append(entry)
    return check_items(raw)


# --- the built-in questionnaires (templates/questionnaires/*.yml) -------------------------------


def builtin_names() -> list[str]:
    from chatbot.text import templates_dir

    return sorted(p.stem for p in (templates_dir() / "questionnaires").glob("*.yml"))


def builtin_text(name: str) -> str:
    """A built-in questionnaire's YAML, to copy under `surveys:` and edit."""
    from chatbot.text import templates_dir

    if name not in builtin_names():
        raise Refusal(
            f"There is no built-in questionnaire {name!r}; there are: {', '.join(builtin_names())}."
        )
    return (templates_dir() / "questionnaires" / f"{name}.yml").read_text(encoding="utf-8")


def builtin(name: str) -> SurveyConfig:
    import yaml

    return SurveyConfig.model_validate(yaml.safe_load(builtin_text(name)))
