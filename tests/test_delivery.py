"""The outbox and its worker, at the core: a scripted sender and a clock that moves when told."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from chatbot.addresses import Address
from chatbot.clock import FixedClock
from chatbot.db import Database
from chatbot.db.models import Delivery
from chatbot.delivery import DeliveryWorker, Failed, Job, Retry, Sent, enqueue
from chatbot.messages import Message, Outgoing


class ScriptedSender:
    """Sends by recording; `script` gives outcomes for the next sends (then success)."""

    def __init__(self) -> None:
        self.sent: list[Job] = []
        self.script: list[object] = []
        self.already_posted: dict[str, Sent] = {}
        self.lookups: list[str] = []

    def send(self, job: Job):  # type: ignore[no-untyped-def]
        if self.script:
            outcome = self.script.pop(0)
            if outcome is not None:
                return outcome
        self.sent.append(job)
        return Sent(message_id=f"{len(self.sent)}.0", conversation=job.conversation or job.to.id)

    def find_sent(self, job: Job) -> Sent | None:
        self.lookups.append(job.key)
        return self.already_posted.get(job.key)


@pytest.fixture
def setup(database_url: str):  # type: ignore[no-untyped-def]
    db = Database(database_url)
    db.upgrade()
    clock = FixedClock()
    sender = ScriptedSender()
    worker = DeliveryWorker(db, {"test": sender}, clock=clock, lease=timedelta(seconds=30))
    yield db, clock, sender, worker
    worker.pool.shutdown()
    db.dispose()


def put(db: Database, clock: FixedClock, key: str, channel: str = "C1", **kw) -> int:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        return enqueue(
            session,
            now=clock.now(),
            outgoing=Outgoing(
                key=key,
                to=Address("test", kw.pop("kind", "channel"), channel),
                message=Message.plain(key),
                **kw,
            ),
        )


def status(db: Database, key: str) -> Delivery:
    with db.sessions() as session:
        return session.scalars(select(Delivery).where(Delivery.key == key)).one()


def test_same_key_is_stored_and_sent_once(setup) -> None:  # type: ignore[no-untyped-def]
    db, clock, sender, worker = setup
    first = put(db, clock, "a")
    assert put(db, clock, "a") == first
    worker.run_once()
    worker.run_once()
    assert [j.key for j in sender.sent] == ["a"]
    row = status(db, "a")
    assert (row.status, row.sent_conversation, row.message_id) == ("sent", "C1", "1.0")


def test_rate_limit_waits_for_retry_after_and_keeps_channel_order(setup) -> None:  # type: ignore[no-untyped-def]
    db, clock, sender, worker = setup
    put(db, clock, "first")
    put(db, clock, "second")
    put(db, clock, "other", channel="C2")
    sender.script = [Retry("rate limited", after=30, pause=True)]
    worker.run_once()
    assert status(db, "first").status == "pending" and status(db, "second").status == "pending"
    assert status(db, "first").attempts == 1 and status(db, "second").attempts == 0
    clock.advance(10)
    worker.run_once()
    assert [j.key for j in sender.sent] in (["other"], [])
    clock.advance(21)
    while worker.run_once():
        pass
    keys = [j.key for j in sender.sent]
    assert keys.index("first") < keys.index("second") and len(keys) == 3


def test_transient_failures_back_off_and_permanent_ones_stop(setup) -> None:  # type: ignore[no-untyped-def]
    db, clock, sender, worker = setup
    put(db, clock, "flaky")
    put(db, clock, "bad", channel="C9")
    sender.script = [Retry("slack 503"), Failed("channel_not_found")]
    worker.run_once()
    assert status(db, "bad").status == "failed"
    assert status(db, "flaky").status == "pending"
    clock.advance(1)
    worker.run_once()
    assert status(db, "flaky").status == "sent"


def test_in_doubt_attempt_is_checked_before_posting_again(setup) -> None:  # type: ignore[no-untyped-def]
    db, clock, sender, worker = setup
    put(db, clock, "doubt")
    sender.script = [Retry("network: timed out", in_doubt=True)]
    worker.run_once()
    sender.already_posted["doubt"] = Sent(message_id="99.0", conversation="C1")
    clock.advance(5)
    worker.run_once()
    assert sender.lookups == ["doubt"] and sender.sent == []
    assert status(db, "doubt").message_id == "99.0"


def test_expired_lease_is_taken_over_as_in_doubt(setup) -> None:  # type: ignore[no-untyped-def]
    db, clock, sender, worker = setup
    put(db, clock, "crash")
    assert [j.key for j in worker._claim()] == ["crash"]  # claimed, then the process "dies"
    clock.advance(10)
    assert worker._claim() == []  # still leased
    clock.advance(25)
    sender.already_posted["crash"] = Sent(message_id="7.0", conversation="C1")
    worker.run_once()
    assert sender.lookups == ["crash"] and sender.sent == []
    assert status(db, "crash").status == "sent"


def test_edit_waits_for_its_message_and_newer_edits_supersede(setup) -> None:  # type: ignore[no-untyped-def]
    db, clock, sender, worker = setup
    card = put(db, clock, "card")
    sender.script = [Retry("slack 503")]
    worker.run_once()  # card not sent yet
    put(db, clock, "edit1", edit_of=card)
    put(db, clock, "edit2", edit_of=card)
    assert status(db, "edit1").status == "cancelled"
    worker.run_once()
    assert status(db, "edit2").status == "pending"
    clock.advance(2)
    while worker.run_once():
        clock.advance(1)
    assert [j.key for j in sender.sent] == ["card", "edit2"]
    assert sender.sent[1].edit_message_id == "1.0"


def test_pacer_keeps_a_steady_rate() -> None:
    from chatbot.delivery import Pacer

    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(9):
        pacer.acquire()
    # One at once, then one every quarter second: nine posts span two seconds.
    assert now[0] - 100.0 == pytest.approx(2.0)
    assert slept == pytest.approx([0.25] * 8)
    now[0] += 10  # idle time does not build up a burst beyond one
    pacer.acquire()
    pacer.acquire()
    assert slept[-1] == pytest.approx(0.25)


def test_pacer_keeps_its_rate_when_sleeps_overrun() -> None:
    """A loaded machine wakes a sleeper late: the lateness is not carried into every later
    interval (that alone cost Teams' alert a tenth of its rate), and a stall makes no burst."""
    from chatbot.delivery import Pacer

    now = [100.0]

    def late_sleep(seconds: float) -> None:
        now[0] += seconds + 0.02  # every wake 20 ms late

    pacer = Pacer(4, clock=lambda: now[0], sleep=late_sleep)
    times = []
    for _ in range(9):
        pacer.acquire()
        times.append(now[0])
    # nine posts at four a second span two seconds, plus one wake's lateness, not eight
    assert times[-1] - times[0] == pytest.approx(2.0, abs=0.03)
    assert all(b - a >= 0.25 - 0.02 - 1e-9 for a, b in zip(times, times[1:], strict=False))
    now[0] += 3  # a stall: what was missed is not caught up in a burst
    pacer.acquire()
    first = now[0]
    pacer.acquire()
    assert now[0] - first >= 0.25


def test_a_long_rate_limit_storm_gives_nothing_up(setup) -> None:  # type: ignore[no-untyped-def]
    db, clock, sender, worker = setup
    put(db, clock, "storm")
    put(db, clock, "bystander", channel="C2")
    limited = Retry("rate limited", after=1, pause=True, attempted=False)
    for _ in range(40):  # more 429s than MAX_ATTEMPTS
        sender.script = [limited, limited]
        worker.run_once()
        clock.advance(1.5)
    sender.script = []
    while worker.run_once():
        clock.advance(1.5)
    assert status(db, "storm").status == "sent" and status(db, "bystander").status == "sent"


def test_a_view_marked_for_rebuild_is_built_once_when_sent(setup) -> None:  # type: ignore[no-untyped-def]
    from chatbot.delivery import rebuild_later

    db, clock, sender, _ = setup
    builds: list[str] = []

    def build(job: Job) -> Message:
        builds.append(job.to.id)
        return Message.plain(f"fresh home of {job.to.id}")

    worker = DeliveryWorker(db, {"test": sender}, clock=clock, build=build)
    with db.transaction() as session:
        # Nothing stored for this key (the person never opened their home): nothing to do.
        assert rebuild_later(session, key="home:UALICE", now=clock.now()) is False
    put(db, clock, "home:UALICE", channel="UALICE", kind="person", action="home")
    worker.run_once()
    assert [j.message.text for j in sender.sent] == ["home:UALICE"] and builds == []
    # Three changes while it waits: one build, with the latest data, when it is sent.
    with db.transaction() as session:
        for _ in range(3):
            assert rebuild_later(session, key="home:UALICE", now=clock.now()) is True
    assert worker.run_once() == 1
    assert builds == ["UALICE"]
    assert sender.sent[-1].message.text == "fresh home of UALICE"
    assert worker.run_once() == 0
    worker.pool.shutdown()


def test_a_view_rebuilt_while_it_is_being_sent_goes_again_at_once(setup) -> None:  # type: ignore[no-untyped-def]
    """A person's home changes while its previous version is in flight (their request logged
    while the tab's first publish is sent): the new version follows that send at once, not when
    the claim's lease runs out a minute later."""
    from chatbot.delivery import rebuild_later

    db, clock, sender, _ = setup

    def build(job: Job) -> Message:
        return Message.plain(f"fresh home of {job.to.id}")

    worker = DeliveryWorker(db, {"test": sender}, clock=clock, build=build)
    put(db, clock, "home:UALICE", channel="UALICE", kind="person", action="home")
    send = sender.send

    def send_while_it_changes(job: Job):  # type: ignore[no-untyped-def]
        with db.transaction() as session:
            assert rebuild_later(session, key="home:UALICE", now=clock.now()) is True
        return send(job)

    sender.send = send_while_it_changes
    assert worker.run_once() == 1
    sender.send = send
    assert worker.run_once() == 1  # due now: the same clock, no lease to wait out
    assert sender.sent[-1].message.text == "fresh home of UALICE"
    worker.pool.shutdown()
