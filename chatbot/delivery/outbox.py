"""Storing what must be sent: a handler's `Outgoing` becomes an outbox row in the transaction of
the change that caused it (`enqueue`, `enqueue_many` for a broadcast); later edits, cancels and
rebuilds of a stored row; where a stored row goes (`destination`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.orm import Session

from chatbot.addresses import Address
from chatbot.db import rowcount
from chatbot.db.models import Delivery
from chatbot.db.upsert import insert_ignore, insert_ignore_many
from chatbot.messages import Outgoing


def _address_columns(to: Address) -> dict[str, Any]:
    return {
        "platform": to.platform,
        "address_kind": to.kind,
        "address_id": to.id,
        "thread_id": to.thread,
    }


def address_of(row: Any) -> Address:
    """The destination of a stored delivery (a `Delivery`, or a row with its columns)."""
    return Address(row.platform, row.address_kind, row.address_id, thread=row.thread_id)


def destination(session: Session, delivery_id: int) -> Address:
    """Where a stored delivery goes: its edits and thread replies go to the same place."""
    row = session.get(Delivery, delivery_id)
    if row is None:
        raise LookupError(f"no delivery {delivery_id}")
    return address_of(row)


def enqueue(session: Session, *, outgoing: Outgoing, now: datetime) -> int:
    """Store an outgoing message; returns its delivery id. The same key is stored only once.
    A newer edit of the same message makes older pending edits unnecessary: a coalescing edit
    (`replace_pending`) takes the place of the one still waiting, keeping its turn; any other
    cancels it."""
    if outgoing.edit_of is not None and outgoing.replace_pending:
        waiting = session.execute(
            update(Delivery)
            .where(Delivery.edit_of == outgoing.edit_of, Delivery.status == "pending")
            .values(message=outgoing.message.to_json())
            .returning(Delivery.id)
        ).scalar()
        if waiting is not None:
            return waiting
    if outgoing.edit_of is not None:
        session.execute(
            update(Delivery)
            .where(
                Delivery.edit_of == outgoing.edit_of,
                Delivery.status == "pending",
                Delivery.key != outgoing.key,
            )
            .values(status="cancelled", last_error="superseded by a newer edit")
        )
    action = "update" if outgoing.edit_of is not None else outgoing.action
    new_id = insert_ignore(
        session,
        Delivery,
        key=outgoing.key,
        action=action,
        **_address_columns(outgoing.to),
        message=outgoing.message.to_json(),
        thread_of=outgoing.thread_of,
        edit_of=outgoing.edit_of,
        status="pending",
        attempts=0,
        in_doubt=False,
        not_before=now + timedelta(seconds=outgoing.delay_seconds),
        created_at=now,
        batch=outgoing.batch,
    )
    if new_id is not None:
        return new_id
    if action == "home":
        _republish(session, outgoing, now)
    elif outgoing.replace_pending:
        session.execute(
            update(Delivery)
            .where(Delivery.key == outgoing.key, Delivery.status == "pending")
            .values(message=outgoing.message.to_json())
        )
    return session.execute(select(Delivery.id).where(Delivery.key == outgoing.key)).scalar_one()


def _republish(session: Session, outgoing: Outgoing, now: datetime) -> None:
    """Deliver a home view again with its latest content. A waiting row just takes the new
    content (a burst coalesces); a sent, failed or cancelled one is due again now; one being
    sent is due again when its lease ends, so the newer content is published after it."""
    session.connection().execute(
        _rearm_statement(with_message=True),
        {"row_key": outgoing.key, "now": now, "message": outgoing.message.to_json()},
    )


def rebuild_later(session: Session, *, key: str, now: datetime) -> bool:
    """A view stored before (an App Home) is out of date: deliver it again, built afresh by the
    capability that owns its action when it is sent (`DeliveryWorker(build=…)`). One UPDATE
    (a click pays no more), due as `_republish` is; nothing for a key never stored. Returns
    whether there was one."""
    result = session.connection().execute(
        _rearm_statement(with_message=False), {"row_key": key, "now": now}
    )
    return bool(result.rowcount)


@cache
def _rearm_statement(*, with_message: bool) -> Any:
    table = Delivery.__table__
    due = bindparam("now", type_=table.c.not_before.type)
    values: dict[str, Any] = {
        "not_before": case(
            (table.c.status == "pending", table.c.not_before),
            (table.c.status == "sending", func.coalesce(table.c.lease_until, due)),
            else_=due,
        ),
        "attempts": case((table.c.status == "pending", table.c.attempts), else_=0),
        "in_doubt": False,
        "last_error": None,
        "status": "pending",
        # New content replaces the mark; a mark keeps the last content (sent if no builder).
        "rebuild": not with_message,
    }
    if with_message:
        values["message"] = bindparam("message", type_=table.c.message.type)
    return update(table).where(table.c.key == bindparam("row_key")).values(values)


def enqueue_many(session: Session, *, outgoing: list[Outgoing], now: datetime) -> None:
    """Store many new posts at once (a broadcast); keys already stored are skipped. Copies
    usually share one message: it is encoded once (the list keeps every message alive, so an
    `id` is not reused while this runs)."""
    encoded: dict[int, dict[str, Any]] = {}
    for out in outgoing:
        if id(out.message) not in encoded:
            encoded[id(out.message)] = out.message.to_json()
    insert_ignore_many(
        session,
        Delivery,
        [
            {
                "key": out.key,
                "action": "post",
                **_address_columns(out.to),
                "message": encoded[id(out.message)],
                "thread_of": None,
                "edit_of": None,
                "status": "pending",
                "attempts": 0,
                "in_doubt": False,
                "not_before": now + timedelta(seconds=out.delay_seconds),
                "created_at": now,
                "batch": out.batch,
            }
            for out in outgoing
        ],
    )


def cancel(session: Session, *, key: str, reason: str) -> bool:
    """Withdraw a delivery that has not been sent (e.g. a rating prompt after a reopen)."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.key == key, Delivery.status == "pending")
        .values(status="cancelled", last_error=reason)
    )
    return rowcount(result) > 0


def reschedule(session: Session, *, key: str, now: datetime, delay_seconds: float) -> bool:
    """Bring a cancelled delivery back (e.g. the rating prompt after a second resolution)."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.key == key, Delivery.status == "cancelled")
        .values(
            status="pending",
            last_error=None,
            not_before=now + timedelta(seconds=delay_seconds),
        )
    )
    return rowcount(result) > 0


def hurry(session: Session, *, key: str, now: datetime) -> bool:
    """Make a delivery stored to wait (`delay_seconds`) due now: e.g. a triage card held while
    the requester reads suggested articles, when they still need help."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.key == key, Delivery.status == "pending", Delivery.not_before > now)
        .values(not_before=now)
    )
    return rowcount(result) > 0
