"""`chatbot kb …`: the knowledge base of self-service answers."""

from __future__ import annotations

import click

from chatbot.bot import Bot
from chatbot.cli.common import settings
from chatbot.kb import SyncReport


@click.group()
def kb() -> None:
    """Knowledge-base articles (`TECHHELP_KB`)."""


@kb.command("sync")
def kb_sync() -> None:
    """Read the TECHHELP_KB folder: publish new and changed articles, withdraw removed ones."""
    from chatbot.cli.common import local_bot

    current = settings()
    if current.techhelp_kb is None:
        click.echo("TECHHELP_KB is not set: no folder to read")
    bot = local_bot(current, sync=False)
    report = sync_now(bot)
    bot.db.dispose()
    click.echo(
        f"{len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.withdrawn)} withdrawn, {report.unchanged} unchanged, "
        f"{len(report.skipped)} skipped"
    )
    for problem in report.skipped:
        click.echo(f"skipped {problem}", err=True)


def sync_now(bot: Bot) -> SyncReport:
    from chatbot import kb as knowledge_base

    with bot.db.transaction() as session:
        return knowledge_base.sync(
            session=session, folder=bot.settings.techhelp_kb, now=bot.clock.now()
        )


@kb.command("drafts")
def kb_drafts() -> None:
    """List the article drafts staff saved from resolved requests ("Save as article"), oldest
    first, for an admin to read and publish."""
    from sqlalchemy import select

    from chatbot.cli.common import local_bot
    from chatbot.db.models import KbArticle

    bot = local_bot(settings(), sync=False)
    try:
        with bot.db.sessions() as session:
            drafts = session.scalars(
                select(KbArticle).where(KbArticle.state == "draft").order_by(KbArticle.id)
            ).all()
            if not drafts:
                click.echo("No drafts to publish.")
                return
            for article in drafts:
                origin = f"TH-{article.from_request_id}" if article.from_request_id else "-"
                click.echo(
                    f"{article.ref}  {article.created_at:%Y-%m-%d}  from {origin}  "
                    f"by {article.created_by or '-'}  {plain_line(article.title)}"
                )
                answer = plain_line(article.body) or "(no answer yet)"
                click.echo(f"    {answer[:200]}")
    finally:
        bot.db.dispose()


@kb.command("publish")
@click.argument("article_id")
def kb_publish(article_id: str) -> None:
    """Publish a draft (ID: KB-3 or 3): from now on it is suggested and searchable."""
    import getpass

    from chatbot import kb as knowledge_base
    from chatbot.cli.common import local_bot
    from chatbot.db.models import KbArticle

    number = article_id.strip().upper().removeprefix("KB-")
    if not number.isdigit():
        raise click.ClickException(f"{article_id!r} is not an article id (KB-3, or 3)")
    bot = local_bot(settings(), sync=False)
    try:
        with bot.db.transaction() as session:
            article = session.get(KbArticle, int(number))
            if article is None:
                raise click.ClickException(
                    f"there is no article KB-{number} (`chatbot kb drafts` lists the drafts)"
                )
            if article.state != "draft":
                raise click.ClickException(f"{article.ref} is not a draft: it is {article.state}")
            knowledge_base.publish(
                session=session,
                article=article,
                now=bot.clock.now(),
                actor=f"cli:{getpass.getuser()}",
            )
            click.echo(f"{article.ref} “{plain_line(article.title)}” is published")
    finally:
        bot.db.dispose()


def plain_line(text: str) -> str:
    """A stored text on one terminal line: whitespace and control characters as spaces."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())
