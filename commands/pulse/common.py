"""What the parts of `/pulse` share: its routes, the names of its buttons and forms, the key
that signs answer buttons.
"""

from __future__ import annotations

from chatbot import surveys
from chatbot.bot import Context, Routes
from chatbot.messages import Field, Form, Message, OpenForm, Reply

routes = Routes()

ANSWER = "pulse.answer"
COMMENT = "pulse.comment"
COMMENT_FORM = "pulse.comment_form"
FORM = "pulse.define"
EVERYONE = "everyone"
STAFF = "staff"
MANAGERS = "managers"
DEPARTMENT = "department:"
ONCE_NOW, ONCE_AT, CRON = "now", "at", "cron"


def _reply(ctx: Context, template: str, **values: object) -> Reply:
    return Reply(Message.plain(ctx.render(template, **values)))


def _key(ctx: Context) -> bytes:
    return surveys.signing_key(session=ctx.session, settings=ctx.settings, now=ctx.now)


def comment_form(
    form_id: str,
    *,
    title: str,
    context: str,
    intro: str,
    max_length: int,
    initial: str | None = None,
) -> OpenForm:
    """The form of one free comment (a pulse's, a questionnaire item's): sent with `context`,
    the signed value of the button that opened it."""
    comment = Field(
        "comment", "Your comment", multiline=True, max_length=max_length, initial=initial
    )
    return OpenForm(
        Form(
            form_id=form_id,
            title=title,
            submit="Send",
            context=context,
            intro=intro,
            fields=(comment,),
        )
    )
