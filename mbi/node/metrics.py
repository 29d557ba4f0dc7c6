"""Prometheus metrics of one node (`/metrics`), on a registry of its own.

Counters kept by the node's parts are read at scrape time (a custom collector), so the
hot paths only bump plain integers; the histograms are observed where things happen.
"""
from __future__ import annotations

import gc
import time
from collections import deque
from typing import TYPE_CHECKING, Iterator

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from mbi.node.node import Node

LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


class GcTimes:
    """Time the garbage collector spends, per generation, in this process (gc.callbacks).

    Collections run in whichever thread allocates when a threshold is crossed, with the
    GIL held, so their time stalls the whole node; operators see it as mbi_gc_seconds."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.collections = [0, 0, 0]
        self.collected = 0  # unreachable objects found (reference cycles): refcounting cannot free them
        self.longest = 0.0  # the longest single collection, seconds
        self._t0 = 0.0
        self.recent: deque[tuple[float, float]] = deque(maxlen=64)  # (end, seconds) of each >= 10 ms

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            g = info.get("generation", 2)
            dt = time.perf_counter() - self._t0
            self.seconds[g] += dt
            self.collections[g] += 1
            self.collected += info.get("collected", 0)
            self.longest = max(self.longest, dt)
            if dt >= 0.01:
                self.recent.append((self._t0 + dt, dt))

    def seconds_since(self, since: float) -> float:
        """Collector time (collections of 10 ms or more) ended after perf_counter `since`."""
        return sum(dt for end, dt in list(self.recent) if end >= since)


GC_TIMES = GcTimes()
if GC_TIMES not in gc.callbacks:
    gc.callbacks.append(GC_TIMES)


class NodeMetrics:
    def __init__(self, node: "Node") -> None:
        self.node = node
        self.registry = CollectorRegistry()
        self.commit_latency = Histogram("mbi_commit_latency_seconds",
                                        "proposal to commit at the leader that proposed", buckets=LATENCY_BUCKETS,
                                        registry=self.registry)
        self.execute_seconds = Histogram("mbi_block_execute_seconds", "ledger close plus the store write of a block",
                                         buckets=LATENCY_BUCKETS, registry=self.registry)
        self.verify_batch = Histogram("mbi_verify_batch_size", "signatures per verify batch",
                                      buckets=(1, 8, 64, 256, 1024, 4096, 16384), registry=self.registry)
        self.block_txs = Histogram("mbi_block_transactions", "transactions per executed block",
                                   buckets=(0, 1, 10, 100, 1000, 5000, 10000, 50000), registry=self.registry)
        self.registry.register(_Collector(node))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Collector:
    def __init__(self, node: "Node") -> None:
        self.node = node

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        n = self.node
        d = n.driver.stats
        net = n.net

        def gauge(name: str, doc: str, v: float) -> Metric:
            g = GaugeMetricFamily(name, doc)
            g.add_metric([], v)
            return g

        def counter(name: str, doc: str, v: float) -> Metric:
            c = CounterMetricFamily(name, doc)
            c.add_metric([], v)
            return c

        yield gauge("mbi_height", "last executed consensus height", n.chain.height)
        yield gauge("mbi_ledger_seq", "last stored ledger sequence", n.chain.ledger.seq)
        yield gauge("mbi_committed_height", "last committed consensus height", n.core.committed_height)
        yield gauge("mbi_round", "current consensus round", n.core.round)
        yield counter("mbi_timeouts", "round timers that fired", d.timer_fired)
        yield counter("mbi_short_rounds", "round timers shortened because the round's leader or the next one "
                      "had no connection to this validator", d.short_rounds)
        yield counter("mbi_timeouts_sent", "timeout messages signed", d.timeouts_sent)
        yield counter("mbi_sync_proofs_served", "sync responses served as a prefix of a commit group and the headers "
                      "that prove it committed", d.sync_proofs)
        served = CounterMetricFamily("mbi_sync_blocks_served", "committed blocks sent in full in sync responses, by "
                                     "where they were read: memory (sync.recent_blocks_mb) or the store", labels=["source"])
        served.add_metric(["memory"], d.sync_blocks_memory)
        served.add_metric(["store"], d.sync_blocks_store)
        yield served
        yield gauge("mbi_sync_recent_bytes", "bytes (as counted against sync.recent_blocks_mb) of the executed "
                    "blocks held in memory for sync answers",
                    n.driver.recent_blocks.nbytes)
        yield counter("mbi_proposals", "blocks proposed", d.proposals)
        yield counter("mbi_votes_sent", "votes sent", d.votes_sent)
        yield counter("mbi_blocks_committed", "blocks committed", d.commits)
        yield counter("mbi_blocks_executed", "blocks executed", d.executed)
        yield counter("mbi_transactions_committed", "transactions executed in committed blocks", n.txs_committed)
        yield gauge("mbi_mempool_size", "transactions in the pool", len(n.pool))
        yield gauge("mbi_mempool_bytes", "transaction bytes in the pool", n.pool.pool.bytes)
        yield counter("mbi_verified_signatures", "signatures verified (cache misses)", n.verified_sigs)
        yield counter("mbi_verify_cache_hits", "transactions found already verified", n.cache.hits)
        yield counter("mbi_bad_relays", "gossiped transactions without a valid signature (their peers were penalised)",
                      n.bad_relays)
        yield counter("mbi_gossip_ignored_behind", "relayed transaction batches ignored while more than "
                      "sync.ignore_gossip_behind heights behind the peers", n.gossip_ignored)
        yield gauge("mbi_block_cap", "the transaction cap of this node's last proposal (pacing)", d.block_cap)
        yield gauge("mbi_peers", "authenticated peers", len(net.peer_keys()))
        yield counter("mbi_p2p_bytes_in", "bytes received from peers", net.bytes_in)
        yield counter("mbi_p2p_bytes_out", "bytes sent to peers", net.bytes_out)
        yield gauge("mbi_halted", "1 when this validator stopped voting on a state-root mismatch",
                    1 if n.core.halted else 0)
        mb = CounterMetricFamily("mbi_misbehaviour", "misbehaviour reported by consensus", labels=["kind"])
        for k, v in sorted(d.misbehaviour.items()):
            mb.add_metric([k], v)
        yield mb
        ad = CounterMetricFamily("mbi_pool_admission", "pool admission outcomes", labels=["result"])
        for k, v in sorted(n.pool.results.items()):
            ad.add_metric([k.lower()], v)
        yield ad
        yield counter("mbi_cpu_seconds", "process CPU time (user + system)", n.cpu_seconds())
        yield counter("mbi_gc_seconds", "time in the garbage collector, all generations (the GIL is held)",
                      sum(GC_TIMES.seconds))
        yield counter("mbi_gc_collected", "objects the garbage collector freed (in reference cycles)", GC_TIMES.collected)
        yield gauge("mbi_gc_longest_seconds", "the longest single garbage collection so far", GC_TIMES.longest)
        lag = n.loop_lag
        yield counter("mbi_loop_stalls", f"event-loop callbacks run at least {lag.stall} s late", lag.stalls)
        yield counter("mbi_loop_stall_seconds", "the lateness of those stalls, summed", lag.stall_seconds)
        yield gauge("mbi_loop_lag_longest_seconds", "the latest the event loop has run a callback so far", lag.longest)
        gcc = CounterMetricFamily("mbi_gc_collections", "garbage collections by generation", labels=["generation"])
        for g, v in enumerate(GC_TIMES.collections):
            gcc.add_metric([str(g)], v)
        yield gcc
