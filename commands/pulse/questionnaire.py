"""Questionnaires in one direct message: a page of items at a time, each answered with one
click, the message replaced after each click with the person's progress (how many questions
remain) and their answers so far; "Previous"/"Next" move between pages; a comment item opens a
form; "Answer in one form" opens every item at once, filled with the answers given so far.
Every button carries the person's signed sheet (`surveys.items.Sheet`), so the database never
holds what one person chose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from chatbot import signals, surveys
from chatbot.bot import Context, Event
from chatbot.db.models import Survey, SurveyRun
from chatbot.messages import (
    Block,
    Button,
    Field,
    Form,
    FormErrors,
    Message,
    OpenForm,
    Option,
    Refusal,
    ReplaceMessage,
    Reply,
    Response,
)
from chatbot.surveys import items as quest
from chatbot.text import Templates
from commands.pulse.common import _key, _reply, comment_form, routes


@dataclass(frozen=True)
class Anonymity:
    """What the privacy note reads of its survey."""

    anonymous: bool


ITEM = "pulse.item"  # `pulse.item:<item>-<option>`
ITEM_COMMENT = "pulse.item_comment"  # `pulse.item_comment:<item>`
ITEM_COMMENT_FORM = "pulse.item_comment_form"
PAGE = "pulse.page"  # `pulse.page:<page>`
SHEET_FORM = "pulse.sheet_form"  # every item in one form
SHEET_FORM_SUBMIT = "pulse.sheet_form_submit"


@lru_cache(maxsize=8192)
def _rendered(templates: Templates, name: str, values: tuple[tuple[str, Any], ...]) -> str:
    return templates.render(name, **dict(values))


def _render(ctx: Context, name: str, **values: Any) -> str:
    """A part of the questionnaire message, rendered once per process for the same values (a
    person's every click renders its page again: the items' text, the progress, the privacy
    note, with the few values they can take)."""
    return _rendered(ctx.templates, name, tuple(sorted(values.items())))


def sheet_message(
    ctx: Context,
    *,
    key: bytes,
    run_id: int,
    title: str,
    items: list[quest.Item],
    anonymous: bool,
    closes: str,
    user: str,
    sheet: quest.Sheet,
    page: int | None = None,
    reminder: bool = False,
    comments: dict[int, str] | None = None,
    note: str | None = None,
) -> Message:
    """The person's questionnaire message: progress (and `note`, what their last form did),
    one page of items with their buttons (the chosen option marked), the page buttons, the
    button that opens every item as one form, and the privacy note."""
    shown = quest.page_of(items, sheet, page)
    pages = max(1, -(-len(items) // quest.ITEMS_PER_PAGE))
    total = sum(1 for item in items if item.answerable)
    remaining = sheet.remaining(items)
    intro = _render(
        ctx,
        "pulse/questionnaire_prompt.md.j2",
        reminder=reminder,
        total=total,
        remaining=remaining,
        answered=sheet.answered(items),
        comments=len(items) - total,
        closes=closes,
        page=shown,
        pages=pages,
    )
    blocks: list[Block] = [Block("header", text=title), Block("section", text=intro)]
    if note:
        blocks.append(Block("context", text=note))
    first = shown * quest.ITEMS_PER_PAGE
    for item in items[first : first + quest.ITEMS_PER_PAGE]:
        before = items[item.index - 1].section if item.index else None
        heading = (
            item.section
            if item.section and (item.index == first or before != item.section)
            else None
        )
        chosen = sheet.chosen[item.index]
        blocks.append(
            Block(
                "section",
                text=_render(
                    ctx,
                    "pulse/questionnaire_item.md.j2",
                    item=item,
                    number=item.index + 1,
                    heading=heading,
                    chosen=None if chosen is None else item.options[chosen],
                    comment=(comments or {}).get(item.index),
                ),
            )
        )
        if item.answerable:
            buttons = tuple(
                Button(
                    label,
                    f"{ITEM}:{item.index}-{option}",
                    quest.sheet_value(key, run_id, f"{item.index}-{option}", user, sheet),
                    style="primary" if option == chosen else None,
                )
                for option, label in enumerate(item.options)
            )
        else:
            buttons = (
                Button(
                    "Write a comment",
                    f"{ITEM_COMMENT}:{item.index}",
                    quest.sheet_value(key, run_id, f"{item.index}-c", user, sheet),
                ),
            )
        blocks.append(Block("actions", buttons=buttons))
    moves = []
    if shown > 0:
        moves.append(
            Button(
                "◀ Previous",
                f"{PAGE}:{shown - 1}",
                quest.sheet_value(key, run_id, f"p{shown - 1}", user, sheet),
            )
        )
    if shown < pages - 1:
        moves.append(
            Button(
                "Next ▶",
                f"{PAGE}:{shown + 1}",
                quest.sheet_value(key, run_id, f"p{shown + 1}", user, sheet),
            )
        )
    moves.append(
        Button("Answer in one form", SHEET_FORM, quest.sheet_value(key, run_id, "f", user, sheet))
    )
    blocks.append(Block("actions", buttons=tuple(moves)))
    privacy = _render(
        ctx,
        "pulse/privacy.md.j2",
        survey=Anonymity(anonymous),
        minimum=ctx.settings.routing.pulse.min_group_size,
    )
    blocks.append(Block("context", text=privacy))
    return Message(text=f"{title}: {remaining} of {total} questions remain", blocks=tuple(blocks))


def prompt(
    ctx: Context, run: SurveyRun, survey: Survey, *, reminder: bool
) -> Callable[[str], Message]:
    """The questionnaire's first message, for one person (a fresh sheet: nothing answered)."""
    key = _key(ctx)
    items = quest.items_of(survey.items)
    closes = _closes(run.closes_at)

    def message(user: str) -> Message:
        return sheet_message(
            ctx,
            key=key,
            run_id=run.id,
            title=survey.question,
            items=items,
            anonymous=survey.anonymous,
            closes=closes,
            user=user,
            sheet=quest.Sheet.fresh(len(items)),
            reminder=reminder,
        )

    return message


def _closes(at: object) -> str:
    return at.strftime("%d %b %H:%M UTC") if at is not None else ""  # type: ignore[attr-defined]


def _sheet(
    ctx: Context, event: Event, value: str
) -> tuple[bytes, surveys.RunView, surveys.SurveyView, list[quest.Item], str, quest.Sheet]:
    """The run, items, choice and sheet of a button made for this person; a value made for
    someone else, or a run not sent to them, is refused, saying which."""
    key = _key(ctx)
    named = surveys.run_of_value(value)
    if named is None:
        raise Refusal(surveys.INVALID)
    run, survey = surveys.run_for_answer(session=ctx.session, run_id=named)
    if survey.items is None:
        raise Refusal(surveys.INVALID)
    items = quest.items_of(survey.items)
    try:
        run_id, choice, sheet = quest.read_sheet(key, value, event.user, len(items))
    except Refusal:
        if surveys.recipient_version(session=ctx.session, run_id=named, user=event.user) is None:
            raise Refusal(surveys.NOT_SENT) from None
        raise
    return key, run, survey, items, choice, sheet


def _form_sheet(
    ctx: Context, event: Event, field: str
) -> tuple[bytes, surveys.RunView, surveys.SurveyView, list[quest.Item], str, quest.Sheet]:
    """`_sheet` of a submitted form (its context: the value of the button that opened it), the
    run still open; a refusal is shown beside `field`."""
    try:
        found = _sheet(ctx, event, event.context)
    except Refusal as refusal:
        raise Refusal(str(refusal), field=field) from None
    run, survey = found[1], found[2]
    if run.state != "open":
        closed = ctx.render("pulse/questionnaire_closed.md.j2", title=survey.question, run=run)
        raise Refusal(closed, field=field)
    return found


def _closed(ctx: Context, survey: surveys.SurveyView, run: surveys.RunView) -> Reply:
    return _reply(ctx, "pulse/questionnaire_closed.md.j2", title=survey.question, run=run)


def _comments(
    ctx: Context, run_id: int, items: list[quest.Item], sheet: quest.Sheet
) -> dict[int, str]:
    found = {}
    for item in items:
        if item.kind == "comment":
            text = quest.item_comment(ctx.session, run_id, sheet, item.index)
            if text:
                found[item.index] = text
    return found


def _again(
    ctx: Context,
    key: bytes,
    run: surveys.RunView,
    survey: surveys.SurveyView,
    items: list[quest.Item],
    user: str,
    sheet: quest.Sheet,
    page: int | None,
    note: str | None = None,
) -> ReplaceMessage:
    shown = quest.page_of(items, sheet, page)
    on_page = items[shown * quest.ITEMS_PER_PAGE : (shown + 1) * quest.ITEMS_PER_PAGE]
    # The person's own comments only where the page shows a comment item: the run's comment
    # box is read only then, not on every click.
    wanted = [item for item in on_page if item.kind == "comment"]
    return ReplaceMessage(
        sheet_message(
            ctx,
            key=key,
            run_id=run.id,
            title=survey.question,
            items=items,
            anonymous=survey.anonymous,
            closes=_closes(run.closes_at),
            user=user,
            sheet=sheet,
            page=shown,
            comments=_comments(ctx, run.id, wanted, sheet) if wanted else {},
            note=note,
        )
    )


@routes.action(ITEM, private=True, deferred=True)
def on_item(event: Event, ctx: Context) -> Response:
    key, run, survey, items, choice, sheet = _sheet(ctx, event, event.value)
    item, _, option = choice.partition("-")
    if event.name != f"{ITEM}:{choice}" or not item.isdigit() or not option.isdigit():
        raise Refusal(surveys.INVALID)
    if run.state != "open":
        signals.survey_clicked.send(ctx, signals.SurveyClicked(run.id, event.user, answered=False))
        return _closed(ctx, survey, run)
    answered = quest.record_item_answer(
        session=ctx.session,
        run_id=run.id,
        anonymous=survey.anonymous,
        items=items,
        user=event.user,
        item=int(item),
        option=int(option),
        sheet=sheet,
    )
    if sheet.version == 0:
        signals.survey_clicked.send(ctx, signals.SurveyClicked(run.id, event.user, answered=True))
    page = quest.after_answer(items, answered, int(item))
    return _again(ctx, key, run, survey, items, event.user, answered, page)


@routes.action(PAGE, private=True)
def on_page(event: Event, ctx: Context) -> Response:
    key, run, survey, items, choice, sheet = _sheet(ctx, event, event.value)
    if (
        event.name != f"{PAGE}:{choice[1:]}"
        or not choice.startswith("p")
        or not choice[1:].isdigit()
    ):
        raise Refusal(surveys.INVALID)
    if run.state != "open":
        return _closed(ctx, survey, run)
    return _again(ctx, key, run, survey, items, event.user, sheet, int(choice[1:]))


@routes.action(ITEM_COMMENT, private=True)
def on_item_comment(event: Event, ctx: Context) -> Response:
    _, run, survey, items, choice, sheet = _sheet(ctx, event, event.value)
    item, _, mark = choice.partition("-")
    if mark != "c" or not item.isdigit() or int(item) >= len(items):
        raise Refusal(surveys.INVALID)
    if run.state != "open":
        return _closed(ctx, survey, run)
    if sheet.token is None:
        raise Refusal("Please answer a question first, then add your comment.")
    chosen = items[int(item)]
    return comment_form(
        ITEM_COMMENT_FORM,
        title="Your comment",
        context=event.value,
        intro=ctx.render(
            "pulse/questionnaire_comment_intro.md.j2",
            item=chosen,
            anonymous=survey.anonymous,
            min_comments=ctx.settings.routing.pulse.min_comments,
        ),
        max_length=quest.MAX_ITEM_COMMENT,
        initial=quest.item_comment(ctx.session, run.id, sheet, chosen.index),
    )


@routes.form(ITEM_COMMENT_FORM, private=True)
def on_item_comment_form(event: Event, ctx: Context) -> Response:
    comment = event.values.get("comment", "").strip()
    if not comment:
        raise Refusal("Please write a comment, or close this form.", field="comment")
    _, run, survey, items, choice, sheet = _form_sheet(ctx, event, "comment")
    item, _, mark = choice.partition("-")
    if mark != "c" or not item.isdigit() or int(item) >= len(items):
        raise Refusal("This form is not valid.", field="comment")
    cut = quest.record_item_comment(
        session=ctx.session,
        run_id=run.id,
        anonymous=survey.anonymous,
        user=event.user,
        item=items[int(item)],
        sheet=sheet,
        comment=comment,
    )
    if cut:
        # Saved, cut: the form stays open with the note beside the comment (nothing about it
        # is stored, so the note cannot tie the person to their comment).
        note = ctx.render(
            "pulse/questionnaire_cut.md.j2", given=len(comment), limit=quest.MAX_ITEM_COMMENT
        )
        return FormErrors({"comment": note})
    # Where the form took the place of the questionnaire (Teams' card inputs), it comes back,
    # the comment shown under its item; a modal just closes.
    return _again(
        ctx, _key(ctx), run, survey, items, event.user, sheet, int(item) // quest.ITEMS_PER_PAGE
    )


# --- every item in one form ------------------------------------------------------------------


def _field(item: quest.Item) -> str:
    return f"item{item.index}"


def _label(item: quest.Item) -> str:
    where = f"{item.section} · " if item.section else ""
    scale = " (1 = very poor, 5 = excellent)" if item.scale else ""
    return f"{where}{item.index + 1}. {item.question}{scale}"


@routes.action(SHEET_FORM, private=True)
def on_sheet_form(event: Event, ctx: Context) -> Response:
    """Every item of the questionnaire as one form, each filled with the person's answer so far
    (their sheet) and their comments; every field may stay empty, to answer later."""
    _, run, survey, items, choice, sheet = _sheet(ctx, event, event.value)
    if choice != "f" or event.name != SHEET_FORM:
        raise Refusal(surveys.INVALID)
    if run.state != "open":
        return _closed(ctx, survey, run)
    own = _comments(ctx, run.id, items, sheet)
    fields = []
    for item in items:
        chosen = sheet.chosen[item.index]
        if item.answerable:
            fields.append(
                Field(
                    _field(item),
                    _label(item),
                    options=tuple(Option(option, option) for option in item.options),
                    initial=None if chosen is None else item.options[chosen],
                    optional=True,
                )
            )
        else:
            fields.append(
                Field(
                    _field(item),
                    _label(item),
                    multiline=True,
                    optional=True,
                    max_length=quest.MAX_ITEM_COMMENT,
                    initial=own.get(item.index),
                )
            )
    return OpenForm(
        Form(
            form_id=SHEET_FORM_SUBMIT,
            title="Your answers",
            submit="Save",
            context=event.value,
            intro=ctx.render(
                "pulse/questionnaire_form_intro.md.j2",
                title=survey.question,
                total=sum(1 for item in items if item.answerable),
                remaining=sheet.remaining(items),
                closes=_closes(run.closes_at),
                anonymous=survey.anonymous,
                min_comments=ctx.settings.routing.pulse.min_comments,
            ),
            fields=tuple(fields),
            replaces_message=True,
        )
    )


@routes.form(SHEET_FORM_SUBMIT, private=True)
def on_sheet_form_submit(event: Event, ctx: Context) -> Response:
    """The answers of the whole form: each item given and changed is recorded as its click
    would be (the person's sheet advancing each time), comments kept as the comment form keeps
    them; an item left empty stays as it was. The questionnaire message shows the progress."""
    key, run, survey, items, choice, sheet = _form_sheet(ctx, event, "item0")
    if choice != "f":
        raise Refusal("This form is not valid.", field="item0")
    answers: dict[int, int] = {}
    comments: dict[int, str] = {}
    for item in items:
        given = event.values.get(_field(item), "").strip()
        if not given:
            continue
        if not item.answerable:
            comments[item.index] = given
        elif given not in item.options:
            raise Refusal(f"Choose one of: {', '.join(item.options)}.", field=_field(item))
        elif item.options.index(given) != sheet.chosen[item.index]:
            answers[item.index] = item.options.index(given)
    if comments and sheet.token is None and not answers:
        raise Refusal(
            "Please answer a question first, then add your comment.",
            field=_field(items[min(comments)]),
        )
    answered = sheet
    for index, option in answers.items():
        try:
            answered = quest.record_item_answer(
                session=ctx.session,
                run_id=run.id,
                anonymous=survey.anonymous,
                items=items,
                user=event.user,
                item=index,
                option=option,
                sheet=answered,
            )
        except Refusal as refusal:  # an older form (a click since): nothing is kept
            raise Refusal(str(refusal), field=_field(items[index])) from None
    own = _comments(ctx, run.id, [items[i] for i in comments], answered) if comments else {}
    cut = []
    for index, comment in comments.items():
        if own.get(index) == comment:
            continue
        if quest.record_item_comment(
            session=ctx.session,
            run_id=run.id,
            anonymous=survey.anonymous,
            user=event.user,
            item=items[index],
            sheet=answered,
            comment=comment,
        ):
            cut.append(len(comment))
    if sheet.version == 0 and answers:
        signals.survey_clicked.send(ctx, signals.SurveyClicked(run.id, event.user, answered=True))
    note = (
        ctx.render(
            "pulse/questionnaire_cut.md.j2",
            given=max(cut),
            limit=quest.MAX_ITEM_COMMENT,
            kept_open=False,
        )
        if cut
        else None
    )
    return _again(ctx, key, run, survey, items, event.user, answered, None, note=note)
