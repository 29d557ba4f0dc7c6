"""core_ext.mempool against the pure-Python reference pool, measured in one run.

Scenario (issue 4): n transactions from n/10 senders (10 nonces each, random gas prices,
senders interleaved at random, each sender's nonces in order), admitted with add_batch
in chunks, then blocks of 10,000 are selected and committed with on_commit (each sender
of the block once, with its new executed nonce, as the node does) until the pool is
empty. Prints, for the native pool and the reference:

- insert + select + commit throughput (transactions/s) and the native/reference ratio;
- the phases separately (add_batch, select, on_commit);
- select(10_000) on the full pool (median of --select-reps calls);
- bytes per pooled transaction: the pool's own allocation counter (stats()["memory_bytes"],
  the capacity of every internal array) and the resident-set growth while filling it.

Times are CPU time of this thread (time.thread_time), which the other processes of a
shared machine disturb less than wall-clock time; wall-clock is shown next to it.
Usage:

    .venv/bin/python bench/ratio_mempool.py [--n 1000000] [--chunk 10000] [--no-ref]
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from core_ext.mempool import Mempool
from tests.mempool_ref import RefMempool

BLOCK = 10_000


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def make(n: int, per_sender: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    senders_n = n // per_sender
    sid = np.repeat(np.arange(senders_n, dtype=np.uint64) * 7919 + 12345, per_sender)
    sid = sid[rng.permutation(n)]
    # nonce = 1 + how many earlier transactions the same sender has (in arrival order)
    order = np.argsort(sid, kind="stable")
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(n) - np.repeat(np.arange(senders_n) * per_sender, per_sender)
    hashes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    # bytes 8..11 carry the index so a selected block maps back to (sender, nonce) in numpy
    hashes[:, 8:12] = np.arange(n, dtype=np.uint32).view(np.uint8).reshape(n, 4)
    prices = rng.integers(1, 1_000_000, n).astype(np.int64)
    sizes = rng.integers(150, 400, n).astype(np.int64)
    return hashes, sid, ranks + 1, prices, sizes


def block_nonces(blk, sid, nonces):
    """What the node passes to on_commit after a block: each sender once, with its last
    nonce in the block (= its new executed nonce). Untimed: the ledger knows this."""
    idx = np.ascontiguousarray(blk[:, 8:12]).view(np.uint32).ravel()
    s, no = sid[idx], nonces[idx]
    _, first_from_end = np.unique(s[::-1], return_index=True)
    last = len(s) - 1 - first_from_end
    return s[last], no[last]


class Clock:
    def __init__(self) -> None:
        self.cpu = 0.0
        self.wall = 0.0

    def __enter__(self):
        self._c, self._w = time.thread_time(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.cpu += time.thread_time() - self._c
        self.wall += time.perf_counter() - self._w


def cycle(pool, args, sid, nonces, n: int, chunk: int, select_reps: int, native: bool) -> dict:
    """Fill the pool, time select on the full pool, then drain it block by block."""
    rss0 = rss_bytes()
    t_add, t_sel, t_com = Clock(), Clock(), Clock()
    with t_add:
        for lo in range(0, n, chunk):
            pool.add_batch(*(a[lo:lo + chunk] for a in args), 1.0)
    assert len(pool) == n, len(pool)
    rss_full = rss_bytes() - rss0
    mem = pool.stats()["memory_bytes"] if native else None
    # select on the full pool: the first call also merges every sender into the block
    # order (the batch update after add_batch); it does not mutate, so repeat it.
    c = time.thread_time()
    pool.select(BLOCK, 1 << 60)
    first = time.thread_time() - c
    times = []
    for _ in range(select_reps):
        c = time.thread_time()
        pool.select(BLOCK, 1 << 60)
        times.append(time.thread_time() - c)
    while len(pool):
        with t_sel:
            blk = pool.select(BLOCK, 1 << 60)
        assert len(blk), "pool not empty but nothing selected"
        if not native:
            blk = np.frombuffer(b"".join(blk), dtype=np.uint8).reshape(-1, 32)
        s, no = block_nonces(blk, sid, nonces)
        if not native:
            s, no = s.tolist(), no.tolist()
        with t_com:
            pool.on_commit(s, no)
    return {
        "add": t_add, "select": t_sel, "commit": t_com,
        "cpu": t_add.cpu + t_sel.cpu + t_com.cpu, "wall": t_add.wall + t_sel.wall + t_com.wall,
        "select_full_ms": statistics.median(times) * 1e3, "select_first_ms": first * 1e3,
        "rss_per_tx": rss_full / n, "mem_per_tx": None if mem is None else mem / n,
    }


def run(pool_cls, data, chunk: int, select_reps: int, native: bool, cycles: int) -> list[dict]:
    hashes, sid, nonces, prices, sizes = data
    n = len(sid)
    if native:
        args = (hashes, sid, nonces, prices, sizes)
    else:  # hand the reference plain Python objects, prepared outside the timing
        args = ([bytes(h) for h in hashes], sid.tolist(), nonces.tolist(), prices.tolist(),
                sizes.tolist())
    gc.collect()
    pool = pool_cls(n, 1 << 60)
    out = []
    for k in range(cycles):
        # Later cycles reuse the same pool, as a long-running node does: its arrays are
        # allocated and faulted in already. Senders' nonces restart from a fresh set.
        if k:
            pool.set_nonces(np.unique(sid), np.zeros(len(np.unique(sid)), dtype=np.int64))
        out.append(cycle(pool, args, sid, nonces, n, chunk, select_reps, native))
    return out


def row(name: str, n: int, r: dict) -> str:
    mem = "" if r["mem_per_tx"] is None else f"{r['mem_per_tx']:.0f}"
    return (f"{name:18} {n / r['cpu']:12,.0f} {n / r['wall']:12,.0f} {r['add'].cpu:8.3f} "
            f"{r['select'].cpu:9.3f} {r['commit'].cpu:9.3f} "
            f"{r['select_full_ms']:14.2f} ms {r['select_first_ms']:7.1f} ms "
            f"{r['rss_per_tx']:9.0f} {mem:>10}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--per-sender", type=int, default=10)
    ap.add_argument("--chunk", type=int, default=10_000, help="add_batch size")
    ap.add_argument("--select-reps", type=int, default=9)
    ap.add_argument("--cycles", type=int, default=3, help="native fill+drain cycles, same pool")
    ap.add_argument("--no-ref", action="store_true", help="native only")
    a = ap.parse_args()
    data = make(a.n, a.per_sender)
    print(f"n={a.n:,} senders={a.n // a.per_sender:,} chunk={a.chunk:,} block={BLOCK:,}")
    nat = run(Mempool, data, a.chunk, a.select_reps, True, a.cycles)
    ref = None if a.no_ref else run(RefMempool, data, a.chunk, max(1, a.select_reps // 3),
                                    False, 1)[0]
    print(f"{'':18} {'total tx/s':>12} {'(wall)':>12} {'add s':>8} {'select s':>9} "
          f"{'commit s':>9} {'select(10k) full':>17} {'(first)':>10} {'RSS B/tx':>9} "
          f"{'alloc B/tx':>10}")
    for k, r in enumerate(nat):
        print(row(f"native cycle {k + 1}", a.n, r))
    best = nat[-1]  # steady state: a reused pool, free slots in random order
    if ref is not None:
        print(row("reference", a.n, ref))
        print(f"ratio native/reference (native: first cycle / last cycle): total "
              f"{ref['cpu'] / nat[0]['cpu']:.1f}x / {ref['cpu'] / best['cpu']:.1f}x, add "
              f"{ref['add'].cpu / best['add'].cpu:.1f}x, select(10k) on full pool "
              f"{ref['select_full_ms'] / best['select_full_ms']:.1f}x")
    m = nat[0]["mem_per_tx"]
    print(f"native bytes per pooled tx beyond the 32-byte hash (first fill): {m - 32:.0f} "
          f"(allocation counter), {nat[0]['rss_per_tx'] - 32:.0f} (RSS growth)")


if __name__ == "__main__":
    main()
