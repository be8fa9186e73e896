"""What the parts of `/pulse` share: its routes, the names of its buttons and forms, the key
that signs answer buttons.
"""

from __future__ import annotations

from chatbot import surveys
from chatbot.bot import Context, Routes
from chatbot.messages import Message, Reply

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
