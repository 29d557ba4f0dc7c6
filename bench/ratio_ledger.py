"""Ledger throughput: PAY_COIN blocks executed and committed, and envelope decoding.

    .venv/bin/python bench/ratio_ledger.py [--txs 10000] [--blocks 5] [--no-store]

Setup: genesis, then 2×txs funded accounts created through real CREATE_ACCOUNT
transactions. Each measured block holds `txs` PAY_COIN transactions from distinct senders
to random receivers, decoded from envelope bytes and marked pre-verified (signature
checks happen at admission, in the batch verifier, not here). A block's time covers
execution, the state-tree update, header building and (unless --no-store) the store's
atomic, fsynced WriteBatch. One core: the Python execution path is single-threaded.

Also reported, for scale: decoding a TransactionEnv from bytes to the fields execution
needs (SignedTransaction.from_envelope), against protobuf's own parse of the same bytes
as the baseline measured in the same run.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

from mbi.crypto import KeyPair  # noqa: E402
from mbi.ledger import Genesis, Ledger  # noqa: E402
from mbi.ledger import testing as T  # noqa: E402
from mbi.types import SignedTransaction, Transaction, TransactionEnv  # noqa: E402

CHAIN = 5


def keys(n: int) -> list[KeyPair]:
    return [KeyPair.from_seed(i.to_bytes(32, "big")) for i in range(1, n + 1)]


def pay_block(senders, receivers, nonce: int, rng) -> list[bytes]:
    """Envelopes of one PAY_COIN block (really signed)."""
    out = []
    for k in senders:
        d = receivers[int(rng.integers(0, len(receivers)))]
        blob = Transaction(source_address=k.address, nonce=nonce, fee_limit=10**8, gas_price=100, chain_id=CHAIN,
                           operations=[T.pay_coin(d.address, 1 + int(rng.integers(0, 1000)))]).SerializeToString()
        out.append(SignedTransaction.from_parts(blob, [(k.encoded_public_key, k.sign(blob))]).envelope)
    return out


def setup(n_txs: int, store):
    g, v = KeyPair.from_seed(b"\xee" * 32), KeyPair.from_seed(b"\xef" * 32)
    ledger, c1 = Ledger.create(Genesis.from_dict(T.genesis_dict(g, [v], chain_id=CHAIN, supply=10**17)))
    if store is not None:
        store.commit_block(c1)
    accts = keys(2 * n_txs)
    # at most 100 operations per transaction (MAX_OPERATIONS); ten transactions a ledger
    txs = [T.make_tx(g, j + 1, [T.create_account(k.address, 10**10) for k in accts[i:i + 100]], chain_id=CHAIN)
           for j, i in enumerate(range(0, len(accts), 100))]
    for b in range(0, len(txs), 10):
        c = ledger.close(txs[b:b + 10], 1_000 + b)
        assert all(r.error_code == 0 for r in c.receipts), [r.error_desc for r in c.receipts]
        if store is not None:
            store.commit_block(c.commit)
    return ledger, accts


def decode_rate(envs: list[bytes]) -> tuple[float, float, float]:
    """(ours/s wall, baseline/s wall, ours/s cpu)."""
    c0, t0 = time.process_time(), time.perf_counter()
    for e in envs:
        SignedTransaction.from_envelope(e)
    ours = len(envs) / (time.perf_counter() - t0)
    ours_cpu = len(envs) / max(time.process_time() - c0, 1e-9)
    parse = TransactionEnv.FromString
    t0 = time.perf_counter()
    for e in envs:
        parse(e)
    base = len(envs) / (time.perf_counter() - t0)
    return ours, base, ours_cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--txs", type=int, default=10_000)
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--no-store", action="store_true")
    args = ap.parse_args()
    n = args.txs
    tmp = None
    store = None
    if not args.no_store:
        from mbi.store import Store
        tmp = tempfile.mkdtemp(prefix="mbi-bench-ledger-")
        store = Store.open(os.path.join(tmp, "db"), chain_id=CHAIN, create=True)
    try:
        ledger, accts = setup(n, store)
        senders, receivers = accts[:n], accts[n:]
        rng = np.random.default_rng(7)
        blocks = [pay_block(senders, receivers, b + 1, rng) for b in range(args.blocks)]

        from mbi.types.envelope import _PK_CACHE
        _PK_CACHE.clear()  # decode from cold: public keys parsed as if first seen
        envs = [e for blk in blocks for e in blk]
        cold_ours, base, _ = decode_rate(envs[:n])
        warm_ours, _, warm_cpu = decode_rate(envs)

        exec_rates, total_rates, exec_cpu, total_cpu = [], [], [], []
        for b, blk in enumerate(blocks):
            txs = [SignedTransaction.from_envelope(e) for e in blk]
            for t in txs:
                t.sig_ok = True  # pre-verified at admission
            c0, t0 = time.process_time(), time.perf_counter()
            closed = ledger.close(txs, 10_000_000 + b)
            c1, t1 = time.process_time(), time.perf_counter()
            if store is not None:
                store.commit_block(closed.commit)
            c2, t2 = time.process_time(), time.perf_counter()
            bad = [r for r in closed.receipts if r.error_code]
            assert not bad, bad[0]
            exec_rates.append(n / (t1 - t0))
            total_rates.append(n / (t2 - t0))
            exec_cpu.append(n / max(c1 - c0, 1e-9))
            total_cpu.append(n / max(c2 - c0, 1e-9))
        print(f"ledger: {args.blocks} PAY_COIN blocks x {n} txs, {len(accts) + 1} accounts")
        print("  (wall clock; per-process CPU time in brackets, which a busy machine distorts less)")
        print(f"  execute + state root + header : best {max(exec_rates):>9,.0f} tx/s  median {np.median(exec_rates):>9,.0f} tx/s"
              f"  [cpu best {max(exec_cpu):>9,.0f}]")
        if store is not None:
            print(f"  ... + store WriteBatch (fsync): best {max(total_rates):>9,.0f} tx/s  median {np.median(total_rates):>9,.0f} tx/s"
                  f"  [cpu best {max(total_cpu):>9,.0f}]   (target >= 50,000)")
        print(f"decode TransactionEnv -> fields : {warm_ours:>9,.0f} /s warm key cache [cpu {warm_cpu:,.0f}],"
              f" {cold_ours:,.0f} /s cold   (target >= 200,000)")
        from google.protobuf.internal import api_implementation
        print(f"  baseline protobuf parse only  : {base:>9,.0f} /s  (ratio {warm_ours / base:.2f}; "
              f"protobuf backend: {api_implementation.Type()})")
    finally:
        if store is not None:
            store.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
