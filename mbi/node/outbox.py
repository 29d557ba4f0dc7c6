"""Consensus messages held until the safety records before them are on disk.

The engine's rule (docs/consensus.md §4.3): a vote, timeout or proposal leaves a validator
only after the safety record that covers it is durable, so that a crash and restart cannot
sign a second vote in a round already voted. The record is written with an fsync. Done on
the event loop, that fsync stopped the loop (HTTP ingest, p2p, the engine) for its whole
duration, once or twice a block: 5-9% of a loaded validator's loop time in the e2e profiles
(docs/bench-e2e.md).

`SafetyOutbox` writes the records on one worker thread of its own, in the order the engine
asked for them, and keeps the engine's messages in the order it emitted them: a message
goes out once every record requested before it has been written; until then it waits, and
so does every message after it. The loop runs meanwhile. The engine's own state already
holds the record (it will not sign twice in memory); what waits is only what other
validators can see.

A record that cannot be written is fatal: nothing is sent after it, ever (a vote whose
record may be lost must not leave), and `on_failure` tells the node to stop.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Callable, Generic, TypeVar

log = logging.getLogger("mbi.node")

M = TypeVar("M")


class SafetyOutbox(Generic[M]):
    """`persist(...)` starts writing a safety record; `send(message)` sends now or after
    the records requested before it. Loop-thread only (but `save` runs on the worker)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, save: Callable[..., None],
                 deliver: Callable[[M], None], on_failure: Callable[[BaseException], None]) -> None:
        self._loop = loop
        self._save = save
        self._deliver = deliver
        self._on_failure = on_failure
        # One thread: the records are written in the order they were requested.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mbi-safety")
        self._requested = 0  # records asked for so far
        self._written = 0    # ... of which on disk (always a prefix: one writer, in order)
        self._waiting: deque[tuple[int, M]] = deque()  # (records it needs, message), in order
        self.failed: BaseException | None = None
        self.held = 0  # messages that had to wait for a record (telemetry and tests)

    @property
    def pending(self) -> int:
        """Records requested and not yet written."""
        return self._requested - self._written

    def persist(self, *args: object) -> None:
        """Write a safety record (`save(*args)`) on the worker thread, after the earlier ones."""
        if self.failed is not None:
            return
        self._requested += 1
        fut = self._loop.run_in_executor(self._pool, self._save, *args)
        fut.add_done_callback(partial(self._written_one, self._requested))

    def send(self, message: M) -> None:
        """Deliver `message` now if no record requested before it is still being written
        and nothing is waiting ahead of it; else queue it behind them."""
        if self.failed is not None:
            return  # nothing leaves once a record could not be written
        if self._waiting or self._written < self._requested:
            self._waiting.append((self._requested, message))
            self.held += 1
            return
        self._deliver(message)

    def _written_one(self, n: int, fut: asyncio.Future[None]) -> None:
        exc = asyncio.CancelledError() if fut.cancelled() else fut.exception()
        if exc is not None:
            if self.failed is None:
                self.failed = exc
                self._waiting.clear()
                log.critical("the consensus safety record could not be written (%r); nothing more is sent and "
                             "the node stops", exc)
                self._on_failure(exc)
            return
        if self.failed is not None:
            return
        # Completions arrive in request order (one worker, FIFO; callbacks in order).
        assert n == self._written + 1, (n, self._written)
        self._written = n
        waiting = self._waiting
        while waiting and waiting[0][0] <= n:
            self._deliver(waiting.popleft()[1])

    def close(self) -> None:
        """Finish the record being written (the store closes after this); drop what waits."""
        self._pool.shutdown(wait=True)
        self._waiting.clear()
