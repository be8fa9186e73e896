"""Signals: a capability says what happened to its data, and any capability that cares reacts,
without the two importing each other. Triage says "this request changed", pulse says "this person
answered"; App Home (which shows both) refreshes, and neither triage nor pulse knows it exists.

The shape is blinker's (`Signal`, `connect`, `send`) and the spirit Errbot's plugin callbacks
(the core tells every plugin that cares, and the sender names no receiver). Two things differ,
because a receiver usually stores something for the outbox:

- Receivers are connected per bot, in the capability's `Routes` (`@routes.connect(signal)`), and
  composed with everything else in `Bot`: nothing global is registered at import, and two bots in
  one process (tests) never see each other's receivers.
- `send` runs every receiver at once, in the sender's transaction, with the sender's `Context`.
  What a receiver stores (a refreshed App Home) commits with the change that caused it, or is
  rolled back with it; a receiver that raises fails the sender's unit of work, exactly as if the
  sender had called it.

A payload is a small frozen dataclass of plain values (ids, not ORM rows), so a receiver reads
what it needs in the shared session and never depends on the sender's objects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

P = TypeVar("P")


class Connected(Protocol):
    """What `send` needs of the sender's context: the receivers connected in its bot."""

    @property
    def receivers(self) -> Mapping[Signal[Any], Sequence[Callable[[Any, Any], None]]]: ...


class Signal(Generic[P]):
    """Something that happened in the core, told with a payload of type `P`."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Signal({self.name!r})"

    def send(self, ctx: Connected, payload: P) -> None:
        """Run every receiver connected to this signal in the sender's bot, in order, in the
        sender's transaction."""
        for receiver in ctx.receivers.get(self, ()):
            receiver(ctx, payload)


@dataclass(frozen=True)
class RequestChanged:
    """A request changed in a way its requester is told about (received, claimed, escalated,
    asked, resolved, reopened: `change`)."""

    request_id: int
    requester: str
    change: str


@dataclass(frozen=True)
class SurveyClicked:
    """A person clicked an answer of a survey run: recorded, or refused because the run had
    closed (`answered` False), in which case whatever showed them the buttons is stale."""

    run_id: int
    user: str
    answered: bool


@dataclass(frozen=True)
class HomeAsked:
    """A person asked to see their home (`home`, `/techhelp home`): their requests, surveys and
    alerts, answered as a message to them. `key` is the interaction's, so a retry answers once."""

    platform: str
    user: str
    key: str


request_changed: Signal[RequestChanged] = Signal("request.changed")
survey_clicked: Signal[SurveyClicked] = Signal("survey.clicked")
home_asked: Signal[HomeAsked] = Signal("home.asked")
