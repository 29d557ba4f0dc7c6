"""How late the node's event loop runs its callbacks (GIL starvation, long callbacks).

Consensus timers, votes and proposals all run on the one loop thread; when a worker
thread holds the GIL (payload checks, execution, RocksDB writes) or a callback runs
long, everything on the loop waits. A round timer that fires while the loop was stalled
says little about the network. This samples the loop's lateness every `interval`
seconds: a callback scheduled `interval` ahead that runs `lag` seconds after its time.
Operators see it as mbi_loop_lag_*; the driver quotes it when a round times out.
"""
from __future__ import annotations

import asyncio
import collections

__all__ = ["LoopLag"]


class LoopLag:
    def __init__(self, interval: float = 0.05, stall: float = 0.1, window: float = 5.0) -> None:
        self.interval = interval
        self.stall = stall           # a lag of at least this long counts as a stall
        self.samples = 0
        self.stalls = 0
        self.stall_seconds = 0.0     # the lag of each stall, summed
        self.longest = 0.0
        self._recent: collections.deque[tuple[float, float]] = collections.deque()  # (loop time, lag)
        self._window = window
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._schedule()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _schedule(self) -> None:
        assert self._loop is not None
        self._due = self._loop.time() + self.interval
        self._handle = self._loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        self.record(now, max(0.0, now - self._due))
        self._schedule()

    def record(self, now: float, lag: float) -> None:
        self.samples += 1
        self.longest = max(self.longest, lag)
        if lag >= self.stall:
            self.stalls += 1
            self.stall_seconds += lag
        recent = self._recent
        recent.append((now, lag))
        while recent and recent[0][0] < now - self._window:
            recent.popleft()

    def longest_since(self, since: float) -> float:
        """The longest lag sampled at or after loop time `since` (within the window)."""
        return max((lag for t, lag in self._recent if t >= since), default=0.0)
