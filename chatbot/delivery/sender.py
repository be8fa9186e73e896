"""What a platform's sender is given (a claimed `Job`) and what it answers (`Sent`, `Retry`,
`Failed`): the one interface between the outbox and a platform.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from chatbot.addresses import Address
from chatbot.messages import Message


@dataclass(frozen=True)
class Sent:
    """Delivered: the platform's id of the message, and the conversation it is in (for a
    direct message, the person's conversation with the bot), which edits and replies use."""

    message_id: str
    conversation: str


@dataclass(frozen=True)
class Retry:
    """Try again later. `after` is Slack's Retry-After when rate limited; `in_doubt` when the
    attempt may have been delivered; `pause` when the whole method is limited, not just this row;
    `attempted` False when nothing was sent (waiting on a pause or another message), which does
    not count towards giving up."""

    reason: str
    after: float | None = None
    in_doubt: bool = False
    pause: bool = False
    attempted: bool = True


@dataclass(frozen=True)
class Failed:
    reason: str


Outcome = Sent | Retry | Failed


@dataclass(frozen=True)
class Job:
    """A claimed delivery, with what the sender needs to know about its parents."""

    id: int
    key: str
    platform: str
    action: str  # post | update | home | upload
    to: Address
    message: Message
    attempts: int
    in_doubt: bool
    attempt_started: datetime
    created_at: datetime
    thread_id: str | None = None  # the message it replies under (a thread address, or its parent)
    batch: str | None = None
    # Where the message it edits or replies under landed (its conversation), and for an edit,
    # that message's id.
    conversation: str | None = None
    edit_message_id: str | None = None
    parent_status: str | None = None  # of the message this one edits or replies under
    rebuild: bool = False  # a view to build afresh before sending (`rebuild_later`)

    @property
    def waiting(self) -> bool:
        """Its parent has not been sent yet, so there is nothing to edit or reply under."""
        return self.parent_status is not None and self.parent_status != "sent"


class Sender(Protocol):
    """A platform's sender. It may also have `threads: int`, the sending threads it needs to
    use its platform's rate (the delivery worker runs at least that many)."""

    def send(self, job: Job) -> Outcome: ...

    def find_sent(self, job: Job) -> Sent | None:
        """Look for a copy of this job already posted by an attempt that was in doubt."""
        ...
