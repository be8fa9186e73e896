"""Clicks and comments: an answer button (a deferred route: stored before the ack, handled after
it), the comment button and its form; each checked against the person it was signed for.
"""

from __future__ import annotations

from chatbot import signals, surveys
from chatbot.bot import Context, Event
from chatbot.db.models import SurveyRun
from chatbot.messages import (
    Block,
    CloseForm,
    Message,
    Refusal,
    ReplaceMessage,
    Reply,
    Response,
)
from commands.pulse.common import (
    ANSWER,
    COMMENT,
    COMMENT_FORM,
    _key,
    _reply,
    comment_form,
    routes,
)
from commands.pulse.sending import answer_buttons


def _answerable(
    ctx: Context, event: Event, value: str
) -> tuple[bytes, surveys.RunView, surveys.SurveyView, str, surveys.Ballot]:
    """The run and choice of a button made for this person; a value made for someone else, or
    a run not sent to them, is refused, saying which."""
    key = _key(ctx)
    try:
        run_id, choice, ballot = surveys.read_button(key, value, event.user)
    except Refusal:
        named = surveys.run_of_value(value)
        if (
            named is not None
            and ctx.session.get(SurveyRun, named) is not None
            and surveys.recipient_version(session=ctx.session, run_id=named, user=event.user)
            is None
        ):
            raise Refusal(surveys.NOT_SENT) from None
        raise
    run, survey = surveys.run_for_answer(session=ctx.session, run_id=run_id)
    return key, run, survey, choice, ballot


def _closed(ctx: Context, survey: surveys.SurveyView, run: surveys.RunView) -> Reply:
    return _reply(ctx, "pulse/closed.md.j2", survey=survey, run=run)


def _thanks(ctx: Context, key: bytes, user: str, answered: surveys.Answered) -> Message:
    survey, run = answered.survey, answered.run
    text = ctx.render(
        "pulse/thanks.md.j2",
        survey=survey,
        choice=survey.options[answered.option],
        comment=answered.comment,
        closes=run.closes_at.strftime("%d %b %H:%M UTC") if run.closes_at else "",
    )
    return Message(
        text=text,
        blocks=(
            Block("section", text=text),
            answer_buttons(
                key,
                run.id,
                survey.options,
                user,
                chosen=answered.option,
                with_comment=not answered.comment,
                ballot=answered.ballot,
            ),
            Block(
                "context",
                text=ctx.render(
                    "pulse/privacy.md.j2",
                    survey=survey,
                    minimum=ctx.settings.routing.pulse.min_group_size,
                ),
            ),
        ),
    )


def _run_clicked(event: Event) -> str | None:
    """A click is about its survey run: a person's newer click on one run supersedes an older
    one still stored."""
    run_id = surveys.run_of_value(event.value)
    return None if run_id is None else str(run_id)


@routes.action(ANSWER, private=True, deferred=True, subject=_run_clicked)
def on_answer(event: Event, ctx: Context) -> Response:
    key, run, survey, choice, ballot = _answerable(ctx, event, event.value)
    if event.name != f"{ANSWER}:{choice}" or not choice.isdigit():
        raise Refusal(surveys.INVALID)
    if run.state != "open":
        # Clicked on their App Home, say: whatever showed the buttons drops the closed survey.
        signals.survey_clicked.send(ctx, signals.SurveyClicked(run.id, event.user, answered=False))
        return _closed(ctx, survey, run)
    answered = surveys.record_answer(
        session=ctx.session,
        run=run,
        survey=survey,
        user=event.user,
        option=int(choice),
        ballot=ballot,
    )
    # Their App Home lists the surveys awaiting an answer: no longer this one (only the first
    # answer changes that list; a change of mind does not).
    if ballot.version == 0:
        signals.survey_clicked.send(ctx, signals.SurveyClicked(run.id, event.user, answered=True))
    return ReplaceMessage(_thanks(ctx, key, event.user, answered))


@routes.action(COMMENT, private=True)
def on_comment(event: Event, ctx: Context) -> Response:
    _, run, survey, choice, _ballot = _answerable(ctx, event, event.value)
    if choice != "c":
        raise Refusal(surveys.INVALID)
    if run.state != "open":
        return _closed(ctx, survey, run)
    return comment_form(
        COMMENT_FORM,
        title="Add a comment",
        context=event.value,
        intro=ctx.render(
            "pulse/comment_intro.md.j2",
            survey=survey,
            min_comments=ctx.settings.routing.pulse.min_comments,
        ),
        max_length=surveys.MAX_COMMENT,
    )


@routes.form(COMMENT_FORM, private=True)
def on_comment_form(event: Event, ctx: Context) -> Response:
    comment = event.values.get("comment", "").strip()
    if not comment:
        raise Refusal("Please write a comment, or close this form.", field="comment")
    named = surveys.run_of_value(event.context)
    if named is not None and (
        surveys.recipient_version(session=ctx.session, run_id=named, user=event.user) == 0
    ):
        raise Refusal("Please choose an answer first, then add your comment.", field="comment")
    try:
        _, run, survey, choice, ballot = _answerable(ctx, event, event.context)
    except Refusal as refusal:
        raise Refusal(str(refusal), field="comment") from None
    if choice != "c":
        raise Refusal("This form is not valid.", field="comment")
    if run.state != "open":
        raise Refusal(ctx.render("pulse/closed.md.j2", survey=survey, run=run), field="comment")
    surveys.record_comment(
        session=ctx.session,
        run=run,
        survey=survey,
        user=event.user,
        ballot=ballot,
        comment=comment,
    )
    return CloseForm(notice=ctx.render("pulse/commented.md.j2", survey=survey))
