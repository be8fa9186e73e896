"""A few weeks of demo history, made the way a person makes it: typed at a console whose clock
is moved along, through the same handlers, outbox and clock jobs (so every figure on the
dashboard, the report, the digest and the pulse trends is one the product computed itself).

Requests from the demo's departments every working day, claimed and resolved by the service
desk and mostly rated; two alerts with people affected; a weekly pulse check answered by most.
Deterministic: the same weeks give the same history.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from chatbot import demo
from chatbot.bot import Bot
from chatbot.clock import LEASE_NAME, Clock, FixedClock
from chatbot.db.models import ClockState, Request, SurveyRun
from chatbot.platforms.console import render
from chatbot.platforms.console.shell import Console

_LOGGED = re.compile(r"\*(TH-\d+)\* is logged")
_ALERT = re.compile(r"\b(AL-\d+)\b")

REQUESTS: tuple[str, ...] = (
    "printer on floor 2 keeps jamming",
    "my laptop will not wake from sleep",
    "second monitor flickers since this morning",
    "locked out of my account after the password change",
    "cannot log in to the HR system",
    "wifi in the meeting room drops every few minutes",
    "outlook asks for my password all the time",
    "shared calendar for the front desk is not updating",
    "please install the new version of excel",
    "need a licence for the PDF editor",
    "headset microphone is not picked up in calls",
    "the docking station does not charge my laptop",
    "internet is very slow at the north branch",
    "how do I share a mailbox with my team",
    "we need a system for booking the community rooms",
    "keyboard is missing two keys",
    "access to the finance share for our new starter",
    "VPN disconnects every ten minutes from home",
)
NOTES: tuple[str, ...] = (
    "Fixed on site.",
    "Reset and tested with the requester.",
    "Replaced the part; working now.",
    "Installed and licensed.",
    "Access granted; confirmed with the manager.",
    "Walked the requester through it.",
)
# How each department tends to rate (the chance of each score 1–5): the trend lines differ.
RATINGS = {
    "Finance": (0.02, 0.03, 0.15, 0.40, 0.40),
    "Parks": (0.05, 0.12, 0.30, 0.35, 0.18),
    "Library": (0.02, 0.05, 0.20, 0.38, 0.35),
}
HISTORY = "demo-history"  # clock_state: the history was added (once per database)
TICK_AT_LEAST = timedelta(minutes=50)  # under schedules.CATCH_UP
QUESTION = "How well do your tools support your work?"


@dataclass
class Made:
    requests: int = 0
    rated: int = 0
    alerts: int = 0
    surveys: int = 0


class _Player:
    """Types lines at a console as its clock reaches each one's time."""

    def __init__(self, console: Console, clock: FixedClock, lines: list[str]) -> None:
        self.console, self.clock, self.lines = console, clock, lines
        self.last_tick = clock.now()

    def at(self, when: datetime) -> None:
        """Move the clock to `when`, ticking as the real clock does (once a minute at most, and
        at least once within the hour in which a schedule still catches up a run)."""
        while when - self.clock.now() > TICK_AT_LEAST:
            self.clock.advance(TICK_AT_LEAST.total_seconds())
            self._tick()
        now = self.clock.now()
        if when > now:
            self.clock.advance((when - now).total_seconds())
        if self.clock.now() - self.last_tick >= timedelta(minutes=1):
            self._tick()

    def _tick(self) -> None:
        self.last_tick = self.clock.now()
        self.console.drain()

    def type(self, user: str, line: str, answers: dict[str, str] | None = None) -> str:
        self.console.user = user
        start = len(self.lines)
        self.console.line(line, _answers(answers or {}))
        return "\n".join(self.lines[start:])


def _answers(by_label: dict[str, str]) -> Callable[..., str]:
    """A form's answers by the start of each field's label; Enter for any other field."""
    asked = 0

    def ask(prompt: str, choices: Sequence[str] = ()) -> str:
        nonlocal asked
        asked += 1
        if asked > 30:  # a form that keeps refusing: leave it
            raise EOFError
        for label, answer in by_label.items():
            if prompt.startswith(label):
                return answer
        return ""

    return ask


def add_history(build: Callable[[Clock | None], Bot], *, me: str, weeks: int) -> Made | None:
    """`weeks` of history up to now in the demo's database (`build` makes the composed bot on
    it, with the given clock or the real one); None when it was added before."""
    probe = build(None)
    now = probe.clock.now()
    with probe.db.transaction() as session:
        if session.get(ClockState, HISTORY) is not None:
            probe.db.dispose()
            return None
        # The console's clock lease, held at today's time by an earlier session, would keep
        # this clock (weeks earlier) from acting; nothing else runs a console's clock.
        session.execute(delete(ClockState).where(ClockState.name == LEASE_NAME))
        session.add(ClockState(name=HISTORY, value=now, holder=None))
        before = session.scalar(select(func.count()).select_from(Request)) or 0
        runs_before = session.scalar(select(func.count()).select_from(SurveyRun)) or 0
    probe.db.dispose()
    rng = random.Random(16)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=today.weekday(), weeks=weeks) + timedelta(hours=8)
    clock = FixedClock(start)
    bot = build(clock)
    lines: list[str] = []
    console = Console(bot, user=me, out=lines.append)
    player = _Player(console, clock, lines)
    made = Made()
    plan: list[tuple[datetime, int, Callable[[], object]]] = []
    order = iter(range(1_000_000))

    def later(when: datetime, action: Callable[[], object]) -> None:
        if when < now - timedelta(minutes=5):
            plan.append((when, next(order), action))

    people = [p for p in demo.PEOPLE if p.department]
    desk = [me, *demo.STAFF]

    # The weekly pulse check, from the /pulse form, first thing on the first Monday.
    later(
        start + timedelta(minutes=30),
        lambda: player.type(
            me,
            "/pulse",
            {
                "Question": QUESTION,
                "Who gets it": "everyone",
                "When": "weekly",
                "Time": "09:00",
                "Anonymous": "yes",
                "Reminder": "24",
                "Close": "72",
            },
        ),
    )
    for week in range(weeks + 1):
        monday = start + timedelta(weeks=week)
        # Most people answer the week's pulse check in its first two days; the mood improves.
        mood = 3.2 + 0.2 * week
        for person in rng.sample(people, k=rng.randint(10, 13)):
            score = min(5, max(1, round(rng.gauss(mood, 0.9))))
            when = monday + timedelta(hours=rng.uniform(1.5, 40))
            later(when, _answer_survey(player, person.id, str(score)))
        for day in range(5):
            date = monday + timedelta(days=day)
            for _ in range(rng.randint(2, 4)):
                person = rng.choice(people)
                when = date + timedelta(hours=rng.uniform(0.5, 8))
                text = rng.choice(REQUESTS)
                via = rng.random()
                if via < 0.15:
                    line, author = f"/techhelp for @{person.id} via phone {text}", rng.choice(desk)
                else:
                    line, author = f"/techhelp {text}", person.id
                claim = when + timedelta(minutes=rng.uniform(5, 150))
                resolve = claim + timedelta(hours=rng.expovariate(1 / 6) + 0.3)
                scores = RATINGS[person.department or "Finance"]
                score = rng.choices(range(1, 6), weights=scores)[0]
                rates = rng.random() < 0.75
                if now - when < timedelta(days=4) and rng.random() < 0.5:
                    claim = resolve = now + timedelta(days=1)  # still open, as some always are
                later(
                    when,
                    _request(
                        player,
                        later,
                        author=author,
                        line=line,
                        requester=person.id,
                        claim=(claim, rng.choice(desk)),
                        resolve=(resolve, rng.choice(NOTES)),
                        score=str(score) if rates else None,
                        made=made,
                    ),
                )
    _alert(
        player,
        later,
        when=start + timedelta(weeks=1, days=1, hours=1.25),
        span=(start, now),
        me=me,
        line="/techalert outage VPN is down for everyone working off-site",
        affected=[p.id for p in rng.sample(people, k=6)],
        minutes=95,
        note="The VPN gateway was restarted; connections are back.",
        made=made,
    )
    _alert(
        player,
        later,
        when=start + timedelta(weeks=3, days=2, hours=5),
        span=(start, now),
        me=me,
        line="/techalert degraded Email is slow to arrive (up to 20 minutes)",
        affected=[p.id for p in rng.sample(people, k=4)],
        minutes=190,
        note="The mail relay's queue is cleared.",
        made=made,
    )
    while plan:
        plan.sort(key=lambda item: (item[0], item[1]))
        when, _, action = plan.pop(0)
        player.at(when)
        action()
    player.at(now - timedelta(minutes=1))
    console.drain()
    with bot.db.reading() as conn:
        made.requests = (conn.scalar(select(func.count()).select_from(Request)) or 0) - before
        made.surveys = (conn.scalar(select(func.count()).select_from(SurveyRun)) or 0) - runs_before
    bot.db.dispose()
    return made


def _request(
    player: _Player,
    later: Callable[[datetime, Callable[[], object]], None],
    *,
    author: str,
    line: str,
    requester: str,
    claim: tuple[datetime, str],
    resolve: tuple[datetime, str],
    score: str | None,
    made: Made,
) -> Callable[[], object]:
    def create() -> None:
        found = _LOGGED.search(player.type(author, line))
        if not found:
            return
        ref = found.group(1)
        (claim_at, desk), (resolve_at, note) = claim, resolve
        later(claim_at, lambda: player.type(desk, f"Claim {ref}"))
        later(resolve_at, lambda: player.type(desk, f"Resolve {ref}", {"": note}))
        if score is not None:

            def rate() -> None:
                if "rated" in player.type(requester, f"{score} {ref}"):
                    made.rated += 1

            later(resolve_at + timedelta(minutes=20), rate)

    return create


def _answer_survey(player: _Player, person: str, score: str) -> Callable[[], object]:
    def answer() -> None:
        player.console.user = person
        for shown in player.console.visible():
            if shown.person != person or QUESTION not in render.message(shown.message):
                continue
            button = next(
                (b for block in shown.message.blocks for b in block.buttons if b.label == score),
                None,
            )
            if button is not None:
                player.console.press(button, _answers({}))
            return

    return answer


def _affected(player: _Player, person: str, ref: str) -> Callable[[], object]:
    return lambda: player.type(person, f"I'm affected {ref}")


def _alert(
    player: _Player,
    later: Callable[[datetime, Callable[[], object]], None],
    *,
    when: datetime,
    span: tuple[datetime, datetime],
    me: str,
    line: str,
    affected: list[str],
    minutes: float,
    note: str,
    made: Made,
) -> None:
    # The same weekday and hour an earlier week when the history (`span`) ends before the alert
    # would be resolved (a one-week history made on a Monday): every history has its alerts.
    start, end = span
    while when + timedelta(minutes=minutes + 5) >= end and when - timedelta(weeks=1) >= start:
        when -= timedelta(weeks=1)

    def send() -> None:
        found = _ALERT.search(player.type(me, line))
        if not found:
            return
        ref = found.group(1)
        made.alerts += 1
        for i, person in enumerate(affected):
            later(when + timedelta(minutes=3 + 4 * i), _affected(player, person, ref))
        later(
            when + timedelta(minutes=minutes),
            lambda: player.type(me, f"/techalert resolve {ref} {note}"),
        )

    later(when, send)
