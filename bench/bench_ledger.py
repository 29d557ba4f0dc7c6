"""pytest-benchmark micro benchmarks for the ledger (see bench/ratio_ledger.py for the
full throughput table with the store's WriteBatch).

    .venv/bin/python -m pytest -q bench/bench_ledger.py --benchmark-only
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ratio_ledger as R  # noqa: E402

from mbi.types import SignedTransaction, TransactionEnv  # noqa: E402

N = int(os.environ.get("MBI_BENCH_LEDGER_TXS", "10000"))


@pytest.fixture(scope="module")
def world():
    ledger, accts = R.setup(N, None)
    rng = np.random.default_rng(11)
    return ledger, accts, rng, {"nonce": 0}


@pytest.fixture(scope="module")
def envelopes(world):
    _, accts, rng, _ = world
    return R.pay_block(accts[:N], accts[N:], 10**6, rng)


def test_decode_envelope(benchmark, envelopes):
    """TransactionEnv bytes -> SignedTransaction (fields, hash, signer keys)."""
    env = envelopes[: min(2000, len(envelopes))]

    def run():
        for e in env:
            SignedTransaction.from_envelope(e)
    benchmark.extra_info["per_round"] = len(env)
    benchmark(run)


def test_decode_baseline_protobuf_only(benchmark, envelopes):
    env = envelopes[: min(2000, len(envelopes))]
    parse = TransactionEnv.FromString

    def run():
        for e in env:
            parse(e)
    benchmark.extra_info["per_round"] = len(env)
    benchmark(run)


def test_close_pay_coin_block(benchmark, world):
    """Execute + state-tree update + header for one block of N pre-verified PAY_COIN txs."""
    ledger, accts, rng, st = world

    def setup():
        st["nonce"] += 1
        txs = [SignedTransaction.from_envelope(e)
               for e in R.pay_block(accts[:N], accts[N:], st["nonce"], rng)]
        for t in txs:
            t.sig_ok = True
        return (txs,), {}

    def close(txs):
        c = ledger.close(txs, 10**7 + st["nonce"])
        assert c.header.tx_count == N
    benchmark.extra_info["txs_per_round"] = N
    benchmark.pedantic(close, setup=setup, rounds=3, iterations=1)


def test_close_and_commit_block(benchmark, tmp_path_factory):
    """As test_close_pay_coin_block, plus the store's atomic fsynced WriteBatch."""
    from mbi.store import Store

    store = Store.open(str(tmp_path_factory.mktemp("ledger-bench") / "db"), chain_id=R.CHAIN, create=True)
    ledger, accts = R.setup(N, store)
    rng = np.random.default_rng(12)
    st = {"nonce": 0}

    def setup():
        st["nonce"] += 1
        txs = [SignedTransaction.from_envelope(e)
               for e in R.pay_block(accts[:N], accts[N:], st["nonce"], rng)]
        for t in txs:
            t.sig_ok = True
        return (txs,), {}

    def close_commit(txs):
        c = ledger.close(txs, 10**7 + st["nonce"])
        store.commit_block(c.commit)
    benchmark.extra_info["txs_per_round"] = N
    try:
        benchmark.pedantic(close_commit, setup=setup, rounds=3, iterations=1)
    finally:
        store.close()
