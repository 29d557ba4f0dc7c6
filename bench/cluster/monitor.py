"""The harness's view of the running network, from the outside.

- `LedgerPoller`: GET /getLedger (the latest header) on every node every ~50 ms; it keeps,
  per node, each time the latest seq changed. A ledger's commit time on a node is the
  first poll that saw it or a later one, so the resolution is the poll period plus one
  round of requests (about 50-60 ms here); commit times are upper bounds.
- `MetricsPoller`: every second, each node's /metrics (mbi_transactions_committed,
  mbi_blocks_committed, mbi_mempool_size, mbi_height, mbi_timeouts) and /proc/PID/stat CPU of every
  validator and generator process.
"""
from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .network import CLK_TCK, HttpClient, cpu_ticks

METRICS = ("mbi_transactions_committed", "mbi_blocks_committed", "mbi_mempool_size", "mbi_height",
           "mbi_cpu_seconds", "mbi_timeouts", "mbi_gc_seconds", "mbi_loop_stalls", "mbi_loop_stall_seconds")


def parse_metrics(text: str) -> dict[str, float]:
    """The METRICS values from Prometheus text (counters carry a _total suffix)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        name, _, rest = line.partition(" ")
        name = name.removesuffix("_total")
        if name in METRICS:
            try:
                out[name] = float(rest.split()[0])
            except (ValueError, IndexError):
                continue
    return out


@dataclass
class SeqTrack:
    """(time, seq) each time a node's latest ledger seq was seen to change."""
    times: list[float] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)
    down: list[tuple[float, float]] = field(default_factory=list)  # spans with no answer

    def add(self, t: float, seq: int) -> None:
        if not self.seqs or seq != self.seqs[-1]:
            self.times.append(t)
            self.seqs.append(seq)

    def seq_at(self, t: float) -> int | None:
        i = bisect.bisect_right(self.times, t)
        return self.seqs[i - 1] if i else None

    def first_time_at_least(self, seq: int) -> float | None:
        # Seqs only grow on a node (a restarted node reopens at its stored tip or above).
        best = None
        for t, s in zip(self.times, self.seqs):
            if s >= seq:
                best = t
                break
        return best


class LedgerPoller(threading.Thread):
    def __init__(self, addrs: list[tuple[str, int]], period: float = 0.05) -> None:
        super().__init__(name="ledger-poller", daemon=True)
        self.clients = [HttpClient(h, p, timeout=1.0) for h, p in addrs]
        self.period = period
        self.tracks = [SeqTrack() for _ in addrs]
        self.latest: list[int | None] = [None] * len(addrs)
        self.polls = 0
        self._halt = threading.Event()
        self._down_since: list[float | None] = [None] * len(addrs)

    def run(self) -> None:
        nxt = time.monotonic()
        while not self._halt.is_set():
            for i, c in enumerate(self.clients):
                r = c.get_json("/getLedger")
                t = time.monotonic()
                seq = None
                if isinstance(r, dict) and isinstance(r.get("result"), dict):
                    seq = r["result"].get("header", {}).get("seq")
                if isinstance(seq, int):
                    self.tracks[i].add(t, seq)
                    self.latest[i] = seq
                    if self._down_since[i] is not None:
                        self.tracks[i].down.append((self._down_since[i], t))
                        self._down_since[i] = None
                else:
                    self.latest[i] = None
                    if self._down_since[i] is None:
                        self._down_since[i] = t
            self.polls += 1
            nxt += self.period
            delay = nxt - time.monotonic()
            if delay < 0:  # fell behind (a slow answer): do not burst to catch up
                nxt = time.monotonic()
                delay = 0
            self._halt.wait(delay)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)
        t = time.monotonic()
        for i, c in enumerate(self.clients):
            if self._down_since[i] is not None:
                self.tracks[i].down.append((self._down_since[i], t))
            c.close()

    def commit_time(self, seq: int) -> float | None:
        """The earliest time any node was seen at this seq or above."""
        ts = [t for t in (tr.first_time_at_least(seq) for tr in self.tracks) if t is not None]
        return min(ts) if ts else None


@dataclass
class Sample:
    t: float
    nodes: list[dict[str, float] | None]  # parsed /metrics per node (None: no answer)
    cpu: dict[str, float]                  # process name -> CPU seconds so far


class MetricsPoller(threading.Thread):
    def __init__(self, addrs: list[tuple[str, int]], cpu_of: Callable[[], dict[str, float]],
                 on_sample: Callable[[Sample], None] | None = None, period: float = 1.0) -> None:
        super().__init__(name="metrics-poller", daemon=True)
        self.clients = [HttpClient(h, p, timeout=2.0) for h, p in addrs]
        self.cpu_of = cpu_of
        self.on_sample = on_sample
        self.period = period
        self.samples: list[Sample] = []
        self._halt = threading.Event()

    def sample(self) -> Sample:
        nodes: list[dict[str, float] | None] = []
        for c in self.clients:
            text = c.get_text("/metrics")
            nodes.append(parse_metrics(text) if text is not None else None)
        s = Sample(time.monotonic(), nodes, self.cpu_of())
        self.samples.append(s)
        return s

    def run(self) -> None:
        while not self._halt.is_set():
            s = self.sample()
            if self.on_sample is not None:
                self.on_sample(s)
            self._halt.wait(self.period)

    def stop(self) -> None:
        self._halt.set()
        self.join(10)
        for c in self.clients:
            c.close()


def proc_cpu_seconds(pid: int) -> float | None:
    t = cpu_ticks(pid)
    return None if t is None else t / CLK_TCK
