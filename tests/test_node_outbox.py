"""SafetyOutbox: consensus messages leave only after the safety records before them are
written, in the order the engine emitted them, and the loop runs while a record is written."""
from __future__ import annotations

import asyncio
import threading

import pytest

from mbi.node.outbox import SafetyOutbox


class Recorder:
    """A save that blocks until the test releases it, and a record of what happened."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self.gates: dict[bytes, threading.Event] = {}
        self.threads: set[int] = set()
        self.fail: set[bytes] = set()

    def gate(self, data: bytes) -> threading.Event:
        return self.gates.setdefault(data, threading.Event())

    def save(self, data: bytes, blocks: list) -> None:
        self.threads.add(threading.get_ident())
        assert self.gate(data).wait(10), f"record {data!r} was never released"
        if data in self.fail:
            raise OSError(5, "Input/output error")
        self.events.append(("saved", data))

    def deliver(self, message: object) -> None:
        self.events.append(("sent", message))


async def settle(box: SafetyOutbox) -> None:
    for _ in range(2000):
        if not box.pending:
            break
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.01)  # the completion callbacks run on the loop


def run(coro) -> None:  # noqa: ANN001
    asyncio.run(asyncio.wait_for(coro, 30))


def test_messages_wait_for_the_records_before_them_and_keep_their_order() -> None:
    async def main() -> None:
        rec, failures = Recorder(), []
        box = SafetyOutbox(asyncio.get_running_loop(), rec.save, rec.deliver, failures.append)
        box.send("a")  # nothing to wait for: out at once
        assert rec.events == [("sent", "a")]
        box.persist(b"r1", [])
        box.send("vote1")
        box.send("timeout1")
        box.persist(b"r2", [])
        box.send("vote2")
        await asyncio.sleep(0.05)
        assert rec.events == [("sent", "a")], "a message left before its safety record was written"
        assert box.pending == 2 and box.held == 3
        rec.gate(b"r1").set()
        for _ in range(500):
            if len(rec.events) >= 4:
                break
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.02)
        # r1 on disk: the two messages that needed only r1 leave; vote2 still waits for r2
        assert rec.events == [("sent", "a"), ("saved", b"r1"), ("sent", "vote1"), ("sent", "timeout1")]
        box.send("after")  # emitted now, behind vote2: it waits too, whatever it is
        rec.gate(b"r2").set()
        await settle(box)
        assert rec.events[4:] == [("saved", b"r2"), ("sent", "vote2"), ("sent", "after")]
        box.send("later")
        assert rec.events[-1] == ("sent", "later")
        assert not failures
        box.close()

    run(main())


def test_records_are_written_off_the_loop_in_request_order() -> None:
    async def main() -> None:
        rec = Recorder()
        loop = asyncio.get_running_loop()
        box = SafetyOutbox(loop, rec.save, rec.deliver, lambda e: None)
        for i in range(20):
            box.persist(b"r%d" % i, [])
            box.send(i)
        # Released from a loop callback while the first record's write is blocked on it:
        # a write that ran on the loop would never see the release.
        ticks = []
        loop.call_later(0.02, lambda: ticks.append(1))
        await asyncio.sleep(0.05)
        assert ticks == [1], "the loop did not run while a record was being written"
        for i in range(20):
            rec.gate(b"r%d" % i).set()
        await settle(box)
        saved = [d for k, d in rec.events if k == "saved"]
        sent = [m for k, m in rec.events if k == "sent"]
        assert saved == [b"r%d" % i for i in range(20)]
        assert sent == list(range(20))
        for i in range(20):  # message i left after record i
            assert rec.events.index(("saved", b"r%d" % i)) < rec.events.index(("sent", i))
        assert threading.get_ident() not in rec.threads and len(rec.threads) == 1
        box.close()

    run(main())


def test_a_record_that_cannot_be_written_stops_every_later_message() -> None:
    async def main() -> None:
        rec, failures = Recorder(), []
        box = SafetyOutbox(asyncio.get_running_loop(), rec.save, rec.deliver, failures.append)
        box.persist(b"ok", [])
        box.send("v1")
        box.persist(b"bad", [])
        box.send("v2")
        rec.fail.add(b"bad")
        rec.gate(b"ok").set()
        rec.gate(b"bad").set()
        await settle(box)
        assert rec.events == [("saved", b"ok"), ("sent", "v1")]
        assert len(failures) == 1 and isinstance(failures[0], OSError)
        assert isinstance(box.failed, OSError)
        box.send("v3")  # nothing leaves after a failed record, waiting or not
        box.persist(b"never", [])  # and no more records are attempted
        rec.gate(b"never").set()
        await asyncio.sleep(0.05)
        assert rec.events == [("saved", b"ok"), ("sent", "v1")]
        assert len(failures) == 1
        box.close()

    run(main())


def test_close_waits_for_the_record_being_written() -> None:
    async def main() -> None:
        rec = Recorder()
        box = SafetyOutbox(asyncio.get_running_loop(), rec.save, rec.deliver, lambda e: None)
        box.persist(b"r", [])
        box.send("v")
        threading.Timer(0.05, rec.gate(b"r").set).start()
        box.close()  # blocks until the write finished: the store may close after this
        assert ("saved", b"r") in rec.events
        await asyncio.sleep(0.02)
        assert ("sent", "v") not in rec.events  # a stopping node sends nothing more
        with pytest.raises(RuntimeError):
            box.persist(b"r2", [])  # the writer is gone

    run(main())
