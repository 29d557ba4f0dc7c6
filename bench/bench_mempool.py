"""pytest-benchmark benchmarks for core_ext.mempool, each next to the pure-Python reference
pool (tests/mempool_ref.py). bench/ratio_mempool.py prints the issue's full 1M-transaction
table, medians with the baselines interleaved round by round; these are the same
operations at a size that runs in seconds (pytest-benchmark reports medians too, but runs
one test after the other, so the two implementations are not interleaved here).
Transactions arrive shuffled (a sender's nonces out of order), as in ratio_mempool.py.

    .venv/bin/python -m pytest -q bench/bench_mempool.py --benchmark-only

MBI_BENCH_MEMPOOL_TXS (default 100000) sets the pool size; 10 nonces per sender.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))

import ratio_mempool as R

from core_ext.mempool import Mempool
from tests.mempool_ref import RefMempool

N = int(os.environ.get("MBI_BENCH_MEMPOOL_TXS", "100000"))
CHUNK = 10_000


@pytest.fixture(scope="module")
def data():
    return R.make(N, 10)


@pytest.fixture(scope="module")
def data_py(data):
    hashes, sid, nonces, prices, sizes = data
    return ([bytes(h) for h in hashes], sid.tolist(), nonces.tolist(), prices.tolist(),
            sizes.tolist())


def fill(cls, args, chunk: int = CHUNK):
    pool = cls(N, 1 << 60)
    for lo in range(0, N, chunk):
        pool.add_batch(*(a[lo:lo + chunk] for a in args), 1.0)
    assert len(pool) == N  # every transaction of the scenario is admitted
    return pool


def drain(pool, data, native: bool):
    _, sid, nonces, _, _ = data
    while len(pool):
        blk = pool.select(R.BLOCK, 1 << 60)
        if not native:
            blk = np.frombuffer(b"".join(blk), dtype=np.uint8).reshape(-1, 32)
        assert len(blk)
        s, no = R.block_nonces(blk, sid, nonces)
        pool.on_commit(s, no) if native else pool.on_commit(s.tolist(), no.tolist())


@pytest.mark.parametrize("impl", ["native", "reference"])
def test_add_batch(benchmark, impl, data, data_py):
    """Admit N transactions (N/10 senders) into an empty pool, in batches of 10,000."""
    native = impl == "native"
    args = data if native else data_py
    cls = Mempool if native else RefMempool
    benchmark.extra_info["txs"] = N
    benchmark.pedantic(fill, args=(cls, args), rounds=3 if native else 1, iterations=1)


@pytest.mark.parametrize("impl", ["native", "reference"])
def test_select_10000_full_pool(benchmark, impl, data, data_py):
    """select(10_000) on a full pool of N (repeated: select does not mutate)."""
    native = impl == "native"
    pool = fill(Mempool if native else RefMempool, data if native else data_py)
    pool.select(R.BLOCK, 1 << 60)  # the first call also merges the batch into the order
    benchmark(pool.select, R.BLOCK, 1 << 60)


@pytest.mark.parametrize("chunk", [CHUNK, N], ids=["batches", "one-batch"])
@pytest.mark.parametrize("impl", ["native", "reference"])
def test_insert_select_commit_cycle(benchmark, impl, chunk, data, data_py):
    """The issue's scenario at size N: fill, then select + on_commit blocks until empty."""
    native = impl == "native"
    args = data if native else data_py
    cls = Mempool if native else RefMempool

    def run():
        drain(fill(cls, args, chunk), data, native)
    benchmark.extra_info["txs"] = N
    benchmark.pedantic(run, rounds=3 if native else 1, iterations=1)


def test_contains_and_pending_native(benchmark, data):
    """API-path lookups: 1,000 `in` checks and 1,000 pending(sender) calls."""
    pool = fill(Mempool, data)
    hashes = [bytes(h) for h in data[0][:1000]]
    senders = data[1][:1000].tolist()

    def run():
        for h in hashes:
            assert h in pool
        for s in senders:
            pool.pending(s)
    benchmark(run)
