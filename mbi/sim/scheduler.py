"""A discrete-event scheduler on virtual time.

Events sit in a heap keyed by (time, seq): `seq` grows with every push, so two events at
the same virtual instant run in the order they were scheduled and a run never depends on
how Python compares the payloads. Nothing here reads a clock: time only moves when the
next event is popped.
"""
from __future__ import annotations

import heapq
from typing import Any


class Scheduler:
    __slots__ = ("now", "_heap", "_seq", "processed")

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, int, tuple[Any, ...]]] = []
        self._seq = 0
        self.processed = 0

    def at(self, time: float, kind: int, args: tuple[Any, ...] = ()) -> None:
        """Schedule event `kind` with `args` at virtual `time` (never before now)."""
        if time < self.now:
            time = self.now
        self._seq += 1
        heapq.heappush(self._heap, (time, self._seq, kind, args))

    def after(self, delay: float, kind: int, args: tuple[Any, ...] = ()) -> None:
        self.at(self.now + max(0.0, delay), kind, args)

    def pop(self) -> tuple[float, int, tuple[Any, ...]] | None:
        """The next event (time, kind, args), advancing `now` to its time; None when empty."""
        if not self._heap:
            return None
        time, _, kind, args = heapq.heappop(self._heap)
        self.now = time
        self.processed += 1
        return time, kind, args

    def peek_time(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)
