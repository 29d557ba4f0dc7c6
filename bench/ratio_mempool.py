"""core_ext.mempool on the issue's scenario, as medians, with its baselines interleaved.

Scenario (issues 4 and 12): n transactions from n/10 senders (10 nonces each, random gas
prices), in a uniformly shuffled order (so a sender's nonces arrive out of order too),
admitted either in one add_batch or in batches of --chunk (10,000); then blocks of
10,000 are selected and committed with on_commit (each sender of the block once, with its
new executed nonce, as the node does) until the pool is empty. --ordered keeps each
sender's nonces in arrival order (the scenario of the first benchmark).

Rounds: each round runs every scenario on the native pool, then on each baseline, so
slow phases of a shared machine hit all of them alike. Baselines:

- ``--vs MODULE``: another build's ``MODULE.Mempool`` (say, the previous commit built as
  a module of its own), every round: this is how a change is measured;
- the pure-Python reference pool (tests/mempool_ref.py), in the first --ref-rounds
  rounds only (about 20 s per scenario at n = 1M; 0 to skip).

Each pool object is reused from round to round, as a node reuses its pool; the first
round of each implementation pays for first-touching its memory and is reported on its
own line ("first fill"), the medians are over the rounds after it. Timed: the pool's own
calls only (add_batch, select, on_commit), CPU time of this thread (time.thread_time,
which other processes on a shared machine disturb less than wall-clock). Results are
checked: every transaction accepted, every block non-empty, the pool drained, n
transactions selected in all.

Printed per scenario and implementation: insert+select+commit throughput (tx/s), each
phase, select(10_000) on the full pool (median of --select-reps repeated calls) and the
first select after the fill, and bytes per pooled transaction (allocation counter and
RSS growth, first fill).

    .venv/bin/python bench/ratio_mempool.py [--n 1000000] [--rounds 5] [--vs mempool_base]
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # no BLAS threads spinning beside us

import argparse
import gc
import importlib
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


def make(n: int, per_sender: int, seed: int = 1, shuffle: bool = True):
    """(hashes, senders, nonces, prices, sizes) in arrival order; bytes 8..11 of each hash
    hold its index, so a selected block maps back to (sender, nonce) in numpy."""
    rng = np.random.default_rng(seed)
    senders_n = n // per_sender
    sid = np.repeat(np.arange(senders_n, dtype=np.uint64) * 7919 + 12345, per_sender)
    sid = sid[rng.permutation(n)]
    # nonce = 1 + how many earlier transactions the same sender has (in this order)
    order = np.argsort(sid, kind="stable")
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(n) - np.repeat(np.arange(senders_n) * per_sender, per_sender)
    nonces = ranks + 1
    if shuffle:  # and now a sender's nonces arrive in random order as well
        p = rng.permutation(n)
        sid, nonces = sid[p], nonces[p]
    hashes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    hashes[:, 8:12] = np.arange(n, dtype=np.uint32).view(np.uint8).reshape(n, 4)
    prices = rng.integers(1, 1_000_000, n).astype(np.int64)
    sizes = rng.integers(150, 400, n).astype(np.int64)
    return hashes, np.ascontiguousarray(sid), np.ascontiguousarray(nonces), prices, sizes


def block_nonces(blk, sid, nonces):
    """What the node passes to on_commit after a block: each sender once, with its last
    nonce in the block (= its new executed nonce). Untimed: the ledger knows this."""
    idx = np.ascontiguousarray(blk[:, 8:12]).view(np.uint32).ravel()
    s, no = sid[idx], nonces[idx]
    _, first_from_end = np.unique(s[::-1], return_index=True)
    last = len(s) - 1 - first_from_end
    return s[last], no[last]


class Impl:
    """One pool implementation under test, with its reused pool and its samples."""

    def __init__(self, name: str, cls, native: bool, n: int, args) -> None:
        self.name, self.cls, self.native = name, cls, native
        self.args = args
        self.pool = None
        self.n = n
        self.first: dict | None = None
        self.rounds: list[dict] = []

    def run(self, sid, nonces, chunk: int, select_reps: int) -> dict:
        n = self.n
        gc.collect()
        rss0 = rss_bytes()
        if self.pool is None:
            self.pool = self.cls(n, 1 << 60)
        else:  # a reused pool: the senders' nonces start again from 0
            u = np.unique(sid)
            self.pool.set_nonces(u, np.zeros(len(u), dtype=np.int64))
        pool = self.pool
        t_add = t_sel = t_com = 0.0
        for lo in range(0, n, chunk):
            part = [a[lo:lo + chunk] for a in self.args]
            c = time.thread_time()
            codes = pool.add_batch(*part, 1.0)
            t_add += time.thread_time() - c
            assert all(int(x) == 0 for x in codes) if not self.native else (codes == 0).all(), \
                "a transaction of the scenario was not accepted"
        assert len(pool) == n, len(pool)
        rss_full = rss_bytes() - rss0
        mem = pool.stats()["memory_bytes"] if self.native else None
        # select does not mutate: the first call after the fill (it merges whatever the
        # fill changed into the block order), then repeated calls on the full pool.
        c = time.thread_time()
        pool.select(BLOCK, 1 << 60)
        first = time.thread_time() - c
        reps = []
        for _ in range(select_reps):
            c = time.thread_time()
            pool.select(BLOCK, 1 << 60)
            reps.append(time.thread_time() - c)
        selected = 0
        while len(pool):
            c = time.thread_time()
            blk = pool.select(BLOCK, 1 << 60)
            t_sel += time.thread_time() - c
            assert len(blk), "pool not empty but nothing selected"
            if not self.native:
                blk = np.frombuffer(b"".join(blk), dtype=np.uint8).reshape(-1, 32)
            selected += len(blk)
            s, no = block_nonces(blk, sid, nonces)
            if not self.native:
                s, no = s.tolist(), no.tolist()
            c = time.thread_time()
            pool.on_commit(s, no)
            t_com += time.thread_time() - c
        assert selected == n, (selected, n)
        r = {"add": t_add, "select": t_sel, "commit": t_com, "total": t_add + t_sel + t_com,
             "select_full_ms": statistics.median(reps) * 1e3, "select_first_ms": first * 1e3,
             "rss_per_tx": rss_full / n, "mem_per_tx": None if mem is None else mem / n}
        if self.first is None:
            self.first = r
        else:
            self.rounds.append(r)
        return r


def median_row(rs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in rs) for k in
            ("add", "select", "commit", "total", "select_full_ms", "select_first_ms")}


def fmt(label: str, n: int, r: dict, k: int) -> str:
    return (f"  {label:30} {n / r['total'] / 1e6:8.2f} M {r['add']:7.3f} {r['select']:8.3f} "
            f"{r['commit']:8.3f} {r['select_full_ms']:10.2f} ms {r['select_first_ms']:8.1f} ms"
            f"  (n={k})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--per-sender", type=int, default=10)
    ap.add_argument("--chunk", type=int, default=10_000, help="add_batch size when batched")
    ap.add_argument("--rounds", type=int, default=5, help="rounds after each pool's first fill")
    ap.add_argument("--select-reps", type=int, default=9)
    ap.add_argument("--vs", action="append", default=[], metavar="MODULE",
                    help="baseline: MODULE.Mempool, another build of the pool (repeatable)")
    ap.add_argument("--ref-rounds", type=int, default=1,
                    help="rounds that also run the Python reference (0: never)")
    ap.add_argument("--ordered", action="store_true", help="each sender's nonces in order")
    ap.add_argument("--only", choices=["one", "batched"], help="run one scenario only")
    a = ap.parse_args()
    data = make(a.n, a.per_sender, shuffle=not a.ordered)
    _, sid, nonces, _, _ = data
    scenarios = [("one batch", a.n), (f"batches of {a.chunk:,}", a.chunk)]
    if a.only:
        scenarios = scenarios[:1] if a.only == "one" else scenarios[1:]
    order = "in order per sender" if a.ordered else "shuffled"
    print(f"n={a.n:,} senders={a.n // a.per_sender:,} ({order}) block={BLOCK:,} "
          f"rounds={a.rounds} (+1 first fill) OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS')}")
    py_args = None
    if a.ref_rounds > 0:  # plain Python objects for the reference, made outside the timing
        hashes, _, _, prices, sizes = data
        py_args = ([bytes(h) for h in hashes], sid.tolist(), nonces.tolist(), prices.tolist(),
                   sizes.tolist())
    impls: dict[str, list[Impl]] = {}
    for label, _chunk in scenarios:
        lst = [Impl("native", Mempool, True, a.n, data)]
        for mod in a.vs:
            lst.append(Impl(mod, importlib.import_module(mod).Mempool, True, a.n, data))
        if py_args is not None:
            lst.append(Impl("reference (Python)", RefMempool, False, a.n, py_args))
        impls[label] = lst
    for rnd in range(a.rounds + 1):
        for label, chunk in scenarios:
            for im in impls[label]:
                if not im.native and rnd >= a.ref_rounds:
                    continue
                im.run(sid, nonces, chunk, a.select_reps if im.native else 1)
        print(f"round {rnd} done", file=sys.stderr, flush=True)
    print(f"  {'':30} {'tx/s':>10} {'add s':>7} {'select s':>8} {'commit s':>8} "
          f"{'select(10k) full':>16} {'first':>11}")
    for label, _chunk in scenarios:
        print(f"{label}:")
        med = {}
        for im in impls[label]:
            print(fmt(f"{im.name}, first fill", a.n, im.first, 1))
            if im.rounds:
                med[im.name] = median_row(im.rounds)
                print(fmt(f"{im.name}, median", a.n, med[im.name], len(im.rounds)))
        nat = med.get("native")
        for im in impls[label][1:]:
            base = med.get(im.name) or im.first
            ref_nat = nat if im.name in med else impls[label][0].first
            if ref_nat:
                print(f"  native / {im.name}: total {base['total'] / ref_nat['total']:.2f}x, add "
                      f"{base['add'] / ref_nat['add']:.2f}x, select {base['select'] / ref_nat['select']:.2f}x, "
                      f"commit {base['commit'] / ref_nat['commit']:.2f}x"
                      + ("" if im.name in med else " (first fills: the reference ran once)"))
    first = impls[scenarios[0][0]][0].first
    print(f"native bytes per pooled tx beyond the 32-byte hash (first fill): "
          f"{first['mem_per_tx'] - 32:.0f} (allocation counter), {first['rss_per_tx'] - 32:.0f} "
          f"(RSS growth)")


if __name__ == "__main__":
    main()
