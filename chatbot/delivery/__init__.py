"""One delivery mechanism for everything the bot sends: the outbox and its worker.

A handler stores an `Outgoing` in the same transaction as the change that caused it (`enqueue`).
The worker claims due rows with a lease (a conditional UPDATE … RETURNING; `FOR UPDATE SKIP
LOCKED` on PostgreSQL, so several processes can drain one outbox), sends them through the
platform's `Sender`, and records where each landed so later edits are a query.

Never twice: the key is unique, so the same outgoing is stored once. An attempt that may have
reached the platform (a time-out, or a process killed mid-send whose lease then expired) is marked
`in_doubt`; before posting again the sender looks for the copy already posted (Slack: the
delivery key travels in message metadata).

Each row carries its destination as an address (`chatbot.addresses.Address`: platform, kind,
id) and, once sent, the platform's `message_id` and the conversation it landed in; it knows
nothing of what the message is about (an alert's copies are the alert's own records).

Nothing lost: a 429 stores a not-before time (`Retry-After`) instead of sleeping; transient
failures back off; a claim names its worker, and rows claimed by a process that died are taken
over by a live worker within seconds of its last heartbeat (`chatbot.liveness`), in doubt.

One rate for all: posts are paced from a budget in the database (`pacing.py`), so several
processes together keep the workspace's `DELIVERY_RATE`.

The package, by what each part does: `outbox.py` (storing: enqueue, edits, cancel, rebuild),
`sender.py` (the `Sender` protocol, its `Job` and outcomes), `worker.py` (the `DeliveryWorker`),
`pacing.py` (the shared rate budget), `tally.py` (a fan-out's counts).
"""

from chatbot.delivery.outbox import (
    cancel,
    destination,
    enqueue,
    enqueue_many,
    hurry,
    rebuild_later,
    reschedule,
)
from chatbot.delivery.pacing import SharedPacer
from chatbot.delivery.sender import Failed, Job, Outcome, Retry, Sender, Sent
from chatbot.delivery.tally import Tally, Waiting, batch_rows, tally, waiting
from chatbot.delivery.worker import DeliveryWorker, Pacer

__all__ = [
    "DeliveryWorker",
    "Failed",
    "Job",
    "Outcome",
    "Pacer",
    "Retry",
    "Sender",
    "Sent",
    "SharedPacer",
    "Tally",
    "Waiting",
    "batch_rows",
    "cancel",
    "destination",
    "enqueue",
    "enqueue_many",
    "hurry",
    "rebuild_later",
    "reschedule",
    "tally",
    "waiting",
]
