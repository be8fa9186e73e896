"""Where a message goes, on any platform: a typed address.

Every outgoing message carries an `Address`: the platform that delivers it, what kind of
destination it is (a person, for a direct message; a channel; or a thread within a channel) and
the platform's own id for it. The kind is data, never guessed from the shape of an id (no "ids
starting with U are people"): whoever builds the address knows what it names, the configuration
for channels, the directory for people.

A person is one identity with an account per platform (`people` and `accounts` in the schema,
kept by `chatbot.directory`): an `Address(kind="person")` names one of those accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

Kind = Literal["person", "channel", "thread"]
KINDS: tuple[str, ...] = get_args(Kind)


@dataclass(frozen=True, order=True)
class Address:
    """A destination: `Address("slack", "channel", "C0TRIAGE")`, `Address("teams", "person",
    "29:…")`, or a thread: `Address("slack", "thread", "C0TRIAGE", thread="1700000000.0001")`."""

    platform: str
    kind: Kind
    id: str
    thread: str | None = None  # the message a "thread" address replies under

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown address kind {self.kind!r}")
        if not self.platform or not self.id:
            raise ValueError("an address needs a platform and an id")
        if (self.kind == "thread") != (self.thread is not None):
            raise ValueError("a thread address, and only one, names the message it replies under")

    @classmethod
    def person(cls, platform: str, account_id: str) -> Address:
        return cls(platform, "person", account_id)

    @classmethod
    def channel(cls, platform: str, channel_id: str) -> Address:
        return cls(platform, "channel", channel_id)

    def in_thread(self, thread: str) -> Address:
        """The thread under message `thread` of this channel."""
        return Address(self.platform, "thread", self.id, thread=thread)

    @property
    def is_person(self) -> bool:
        return self.kind == "person"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"platform": self.platform, "kind": self.kind, "id": self.id}
        return data | ({"thread": self.thread} if self.thread is not None else {})

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Address:
        return cls(
            platform=data["platform"], kind=data["kind"], id=data["id"], thread=data.get("thread")
        )

    def __str__(self) -> str:
        where = f"{self.platform}:{self.kind}:{self.id}"
        return f"{where}/{self.thread}" if self.thread else where


# The platform of a trusted local operator (`chatbot alert …`, `chatbot survey …`): someone who
# acts, but cannot be messaged, so nothing is addressed to them.
LOCAL = "local"
