"""The client liaison program (`/liaison`, IT staff): each department's liaison, their check-ins
on the department's cadence, the briefing before each one, the notes of what was said, the asks
for planning and the follow-ups with their owners.

- `/liaison`: the caller's departments and their next check-ins; `/liaison brief <department>`,
  `/liaison note <department>` (a form), `/liaison search <words>`.
- The clock (`@routes.tick`): a department's briefing to its liaison `liaison.briefing_days`
  before each check-in, once per (department, due date) (`liaison_briefings`); a follow-up's
  owner reminded on its due date, once, with a Done button; overdue check-ins listed in the IT
  channel on `liaison.overdue_report` (weekly). What is due is asked of the database, so a
  restart neither skips nor repeats anything.

Notes are IT's: every route here answers staff and admins alone (a follow-up's owner may also
press Done on their own reminder).
"""

from __future__ import annotations

import logging
import re
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from chatbot import identity, liaison, schedules
from chatbot.addresses import Address
from chatbot.bot import Context, Event, Routes
from chatbot.config import Department, is_email, listed
from chatbot.db.models import Account, LiaisonBriefing, LiaisonFollowUp
from chatbot.db.upsert import insert_ignore
from chatbot.liaison import managers
from chatbot.messages import (
    Block,
    Button,
    CloseForm,
    Field,
    Form,
    Message,
    OpenForm,
    Outgoing,
    Refusal,
    ReplaceMessage,
    Reply,
    Response,
)
from chatbot.text import Neutral, literal, mention

log = logging.getLogger(__name__)
routes = Routes()

NOTE_FORM = "liaison.note"
DONE = "liaison.done"
OVERDUE_SCHEDULE = "liaison:overdue"
MAX_DISCUSSED = 3000  # Slack's longest text input; the same on every platform
MAX_ATTENDEES = 500
MAX_LINES_TEXT = 3000
MAX_ITEMS = 20
MAX_THEME = 60
SEARCH_LIMIT = 20


# --- who and which ------------------------------------------------------------------------------


def today_of(ctx: Context) -> date:
    return ctx.now.astimezone(ZoneInfo(ctx.settings.routing.timezone)).date()


def program(ctx: Context) -> list[Department]:
    """The departments with a liaison and a cadence: the program."""
    return [d for d in ctx.settings.routing.departments if d.liaison and d.cadence]


def department_named(ctx: Context, name: str) -> Department:
    """The program's department named `name` (any case), else a refusal naming the others."""
    wanted = name.strip().lower()
    for department in program(ctx):
        if department.name.lower() == wanted:
            return department
    names = [d.name for d in program(ctx)]
    raise Refusal(
        ctx.render("liaison/unknown_department.md.j2", department=name.strip()[:100], names=names)
    )


def is_liaison_of(ctx: Context, event: Event, department: Department) -> bool:
    return managers.names(ctx.settings, ctx.actor(event), department.liaison or "")


def who(entry: str) -> Neutral:
    """A configured or typed person: an e-mail as it is, an id as a mention."""
    return literal(entry) if is_email(entry) else mention(entry)


def reach(ctx: Context, entry: str, platform: str) -> Address | None:
    """Where to message a person named by id (on `platform`) or e-mail (their account on
    `platform` if they have one, else on another); None while the directory knows no one."""
    if not is_email(entry):
        return Address.person(platform, entry)
    found = identity.accounts_with_email(session=ctx.session, email=entry)
    return next((a for a in found if a.platform == platform), None) or next(iter(found), None)


def it_only(ctx: Context, event: Event) -> None:
    if not ctx.actor(event).is_staff(ctx.settings):
        raise Refusal(ctx.render("liaison/it_only.md.j2"))


# --- the command --------------------------------------------------------------------------------


@routes.command("liaison")
def liaison_command(event: Event, ctx: Context) -> Response:
    it_only(ctx, event)
    words = event.text.split(maxsplit=1)
    verb = words[0].lower() if words else ""
    rest = words[1].strip() if len(words) > 1 else ""
    if not verb:
        return departments_list(ctx, event)
    if verb == "brief" and rest:
        department = department_named(ctx, rest)
        return Reply(briefing_message(ctx, department))
    if verb == "note" and rest:
        return OpenForm(note_form(ctx, department_named(ctx, rest)))
    if verb == "search" and rest:
        hits = liaison.search_notes(ctx.session, rest, limit=SEARCH_LIMIT + 1)
        text = ctx.render(
            "liaison/search.md.j2",
            words=rest[:200],
            hits=hits[:SEARCH_LIMIT],
            more=len(hits) > SEARCH_LIMIT,
        )
        return Reply(Message.plain(text))
    return Reply(Message.plain(ctx.render("liaison/usage.md.j2")))


def departments_list(ctx: Context, event: Event) -> Response:
    today = today_of(ctx)
    mine: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for department in program(ctx):
        check_in = liaison.next_check_in(ctx.session, department, today)
        assert check_in is not None
        row = {
            "department": department.name,
            "cadence": department.cadence,
            "liaison": who(department.liaison or ""),
            "check_in": check_in,
        }
        (mine if is_liaison_of(ctx, event, department) else others).append(row)

    def describe(row: dict[str, Any]) -> str:
        check_in: liaison.CheckIn = row["check_in"]
        last = f"last met {check_in.last_met}" if check_in.last_met else "no meeting recorded"
        if check_in.overdue(today):
            late = check_in.days_late(today)
            days = "1 day" if late == 1 else f"{late} days"
            return f"next check-in was due {check_in.due} ({days} late), {last}"
        return f"next check-in {check_in.due}, {last}"

    text = ctx.render("liaison/list.md.j2", mine=mine, others=others, describe=describe)
    return Reply(Message.plain(text))


def briefing_message(ctx: Context, department: Department) -> Message:
    briefing = liaison.build_briefing(
        session=ctx.session,
        settings=ctx.settings,
        department=department,
        now=ctx.now,
        today=today_of(ctx),
    )

    def figure(trend: liaison.Trend) -> str:
        if trend.now is None:
            return "not published (too few answers, or none yet)"
        if trend.change is None:
            return f"{trend.now:.2f}"
        return f"{trend.now:.2f} ({trend.change:+.2f} since the last meeting)"

    parts = ctx.templates.blocks("liaison/briefing.md.j2", b=briefing, figure=figure)
    return Message(
        text=f"Liaison briefing: {department.name}",
        blocks=tuple(Block("section", text=part) for part in parts if part),
    )


# --- the note form ------------------------------------------------------------------------------


def note_form(ctx: Context, department: Department) -> Form:
    return Form(
        form_id=NOTE_FORM,
        title="Liaison check-in",
        submit="Record",
        intro=ctx.render("liaison/form_intro.md.j2", department=department.name),
        context=department.name,
        fields=(
            Field("date", "Date of the meeting (YYYY-MM-DD)", initial=today_of(ctx).isoformat()),
            Field("attendees", "Attendees", max_length=MAX_ATTENDEES),
            Field("discussed", "What was discussed", multiline=True, max_length=MAX_DISCUSSED),
            Field(
                "asks",
                "What they plan or ask for (theme: ask, one per line)",
                multiline=True,
                optional=True,
                max_length=MAX_LINES_TEXT,
            ),
            Field(
                "follow_ups",
                "Follow-ups (what | owner | YYYY-MM-DD, one per line)",
                multiline=True,
                optional=True,
                max_length=MAX_LINES_TEXT,
            ),
        ),
    )


def _too_long(ctx: Context, name: str, label: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise Refusal(
            f"{label} is {len(value):,} characters long; the most is {limit:,}. "
            "Nothing was recorded: shorten it and submit again.",
            field=name,
        )


def _date(value: str, name: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise Refusal(
            f"{what} {literal(value.strip()[:40])} is not a date: write it as YYYY-MM-DD.",
            field=name,
        ) from None


def _owner(ctx: Context, event: Event, typed: str, line: int) -> str:
    """`me`, an e-mail address, or the id of an account the directory knows on this platform
    (a mention as Slack writes it is accepted); anything else is refused."""
    value = typed.strip()
    match = re.fullmatch(r"<@([^>|]+)(?:\|[^>]*)?>", value)
    value = match.group(1) if match else value.removeprefix("@")
    if value.lower() in ("me", "myself", ""):
        return event.user
    if is_email(value) and " " not in value:
        return value.lower()
    known = ctx.session.scalar(
        select(Account.id).where(Account.platform == event.platform, Account.account_id == value)
    )
    if known is None and value != event.user:
        raise Refusal(
            f"Follow-up {line}: nobody called {literal(value[:60])} is in the directory. "
            "Name the owner as `me`, an e-mail address or a user id.",
            field="follow_ups",
        )
    return value


def read_note(ctx: Context, event: Event) -> dict[str, Any]:
    """The submitted form, checked whole before anything is stored (a Refusal names the field)."""
    values = {k: (v or "") for k, v in event.values.items()}
    today = today_of(ctx)
    for name, label, limit in (
        ("attendees", "Attendees", MAX_ATTENDEES),
        ("discussed", "What was discussed", MAX_DISCUSSED),
        ("asks", "The asks", MAX_LINES_TEXT),
        ("follow_ups", "The follow-ups", MAX_LINES_TEXT),
    ):
        _too_long(ctx, name, label, values.get(name, ""), limit)
    met_on = _date(values.get("date", "") or today.isoformat(), "date", "The meeting date")
    if met_on > today:
        raise Refusal(
            f"The meeting date {met_on} is in the future: record a check-in once it has happened.",
            field="date",
        )
    attendees = values.get("attendees", "").strip()
    discussed = values.get("discussed", "").strip()
    if not attendees:
        raise Refusal("Say who attended.", field="attendees")
    if not discussed:
        raise Refusal("Say what was discussed.", field="discussed")
    asks = []
    for number, line in enumerate(values.get("asks", "").splitlines(), start=1):
        if not line.strip():
            continue
        theme, colon, text = line.partition(":")
        if not colon or not theme.strip() or not text.strip():
            raise Refusal(
                f"Ask {number} has no theme: write it as `theme: what they plan or ask for`.",
                field="asks",
            )
        if len(theme.strip()) > MAX_THEME:
            raise Refusal(
                f"Ask {number}: a theme is a word or two (at most {MAX_THEME} characters).",
                field="asks",
            )
        asks.append(liaison.Ask(theme=theme.strip(), text=text.strip()))
    follow_ups = []
    for number, line in enumerate(values.get("follow_ups", "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 3 or not parts[0]:
            raise Refusal(
                f"Follow-up {number}: write it as `what | owner | YYYY-MM-DD`.",
                field="follow_ups",
            )
        due = _date(parts[2], "follow_ups", f"Follow-up {number}: the due date")
        if due < today:
            raise Refusal(
                f"Follow-up {number}: the due date {due} is in the past (today is {today}).",
                field="follow_ups",
            )
        owner = _owner(ctx, event, parts[1], number)
        follow_ups.append(liaison.FollowUp(text=parts[0], owner=owner, due=due))
    if len(asks) > MAX_ITEMS or len(follow_ups) > MAX_ITEMS:
        raise Refusal(
            f"At most {MAX_ITEMS} asks and {MAX_ITEMS} follow-ups per check-in.",
            field="asks" if len(asks) > MAX_ITEMS else "follow_ups",
        )
    return {
        "met_on": met_on,
        "attendees": attendees,
        "discussed": discussed,
        "asks": asks,
        "follow_ups": follow_ups,
    }


@routes.form(NOTE_FORM)
def submit_note(event: Event, ctx: Context) -> Response:
    it_only(ctx, event)
    department = department_named(ctx, event.context)
    note = read_note(ctx, event)
    liaison.record_meeting(
        session=ctx.session,
        department=department.name,
        by=event.user,
        platform=event.platform,
        now=ctx.now,
        **note,
    )
    check_in = liaison.next_check_in(ctx.session, department, today_of(ctx))
    text = ctx.render(
        "liaison/recorded.md.j2",
        department=department.name,
        met_on=note["met_on"].isoformat(),
        asks=len(note["asks"]),
        follow_ups=len(note["follow_ups"]),
        next=check_in.due.isoformat() if check_in else "none",
    )
    return CloseForm(notice=text)  # shown where the form was, as the other forms do


# --- follow-ups ---------------------------------------------------------------------------------


def follow_up_message(ctx: Context, follow_up: LiaisonFollowUp) -> Message:
    text = ctx.render("liaison/follow_up_due.md.j2", f=follow_up)
    return Message(
        text=text,
        blocks=(
            Block("section", text=text),
            Block("actions", buttons=(Button("Done", DONE, str(follow_up.id), style="primary"),)),
        ),
    )


@routes.action(DONE)
def mark_done(event: Event, ctx: Context) -> Response:
    follow_up = (
        ctx.session.get(LiaisonFollowUp, int(event.value)) if event.value.isdigit() else None
    )
    if follow_up is None:
        return Reply(Message.plain(ctx.render("common/unknown_action.md.j2")))
    actor = ctx.actor(event)
    owner = follow_up.owner
    is_owner = (
        listed([owner], actor.account_id, actor.email)
        if is_email(owner)
        else (owner == event.user and event.platform == follow_up.platform)
    )
    if not is_owner and not actor.is_staff(ctx.settings):
        raise Refusal(ctx.render("liaison/not_your_follow_up.md.j2"))
    if follow_up.done_at is None:
        follow_up.done_at = ctx.now
        follow_up.done_by = event.user
    text = ctx.render("liaison/follow_up_done.md.j2", f=follow_up, by=follow_up.done_by)
    return ReplaceMessage(Message.plain(text))


# --- the clock ----------------------------------------------------------------------------------


@routes.tick
def send_briefings(ctx: Context) -> int:
    """Each department whose check-in is within `briefing_days`: its briefing to the liaison,
    once per (department, due date), claimed by a row in the same transaction."""
    today = today_of(ctx)
    ahead = ctx.settings.routing.liaison.briefing_days
    stored = 0
    for department in program(ctx):
        check_in = liaison.next_check_in(ctx.session, department, today)
        assert check_in is not None
        if (check_in.due - today).days > ahead:
            continue
        if ctx.session.get(LiaisonBriefing, (department.name, check_in.due)) is not None:
            continue
        to = reach(ctx, department.liaison or "", ctx.settings.techhelp_platform)
        if to is None:
            log.warning("liaison of %s not in the directory yet: briefing waits", department.name)
            continue
        if (
            insert_ignore(
                ctx.session,
                LiaisonBriefing,
                department=department.name,
                due_on=check_in.due,
                sent_at=ctx.now,
            )
            is None
        ):
            continue  # another clock stored it first
        ctx.send(
            Outgoing(
                key=f"liaison-briefing:{department.name}:{check_in.due.isoformat()}",
                to=to,
                message=briefing_message(ctx, department),
            )
        )
        stored += 1
    return stored


@routes.tick
def remind_follow_ups(ctx: Context) -> int:
    today = today_of(ctx)
    due = ctx.session.scalars(
        select(LiaisonFollowUp)
        .where(
            LiaisonFollowUp.done_at.is_(None),
            LiaisonFollowUp.due_on <= today,
            LiaisonFollowUp.reminded_at.is_(None),
        )
        .order_by(LiaisonFollowUp.due_on, LiaisonFollowUp.id)
    ).all()
    stored = 0
    for follow_up in due:
        to = reach(ctx, follow_up.owner, follow_up.platform)
        if to is None:
            log.warning("follow-up %s: its owner is not in the directory yet", follow_up.id)
            continue
        follow_up.reminded_at = ctx.now
        ctx.send(
            Outgoing(
                key=f"liaison-follow-up:{follow_up.id}",
                to=to,
                message=follow_up_message(ctx, follow_up),
            )
        )
        stored += 1
    return stored


@routes.tick
def list_overdue(ctx: Context) -> int:
    """Overdue check-ins, listed in the IT channel on the `liaison.overdue_report` schedule."""
    zone = ZoneInfo(ctx.settings.routing.timezone)
    runs = schedules.runs_due(
        ctx.session,
        name=OVERDUE_SCHEDULE,
        schedule=ctx.settings.routing.liaison.overdue_report,
        zone=zone,
        now=ctx.now,
    )
    if not runs or not program(ctx):
        return 0
    today = today_of(ctx)
    late = []
    for department in program(ctx):
        check_in = liaison.next_check_in(ctx.session, department, today)
        if check_in is not None and check_in.overdue(today):
            late.append(
                {
                    "department": department.name,
                    "liaison": who(department.liaison or ""),
                    "cadence": department.cadence,
                    "due": check_in.due.isoformat(),
                    "last": check_in.last_met.isoformat() if check_in.last_met else None,
                    "days": check_in.days_late(today),
                }
            )
    if not late:
        return 0
    text = ctx.render("liaison/overdue.md.j2", late=late)
    run = runs[-1].astimezone(zone).date().isoformat()
    channels = ctx.settings.it_channels()
    for channel in channels:
        ctx.send(
            Outgoing(
                key=f"liaison-overdue:{run}:{channel.platform}",
                to=channel,
                message=Message.plain(text),
            )
        )
    return len(channels)
