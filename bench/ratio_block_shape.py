"""Per-transaction cost of executing and committing small against large blocks of the
e2e benchmark's load shape.

    .venv/bin/python bench/ratio_block_shape.py [--accounts 2000] [--small 1114] [--large 3124] [--rounds 7]

The e2e load: K funded accounts, account i pays account i + 1, nonce by nonce, accounts
round-robin. At a fixed rate blocks are smaller (docs/bench-e2e.md: 1,114 txs at
--rate 5000 against 3,124 open loop), so each block touches nearly every account it
names once per transaction, where a large block writes an account once for several of
its transactions. Each round executes one small and one large block from the same
stream, in alternating order, through Ledger.close and the store's fsynced WriteBatch,
and the figure is the median over rounds of the per-transaction CPU time of each, and of
their ratio within the round. Every receipt must succeed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from interleave import load_line  # noqa: E402
from ratio_ledger import CHAIN, setup  # noqa: E402

from mbi.ledger import testing as T  # noqa: E402
from mbi.types import SignedTransaction, Transaction  # noqa: E402


def stream(accts, count: int):
    """The e2e order: round-robin over accounts, each account's nonces in order."""
    k = len(accts)
    out = []
    for j in range(count):
        a = j % k
        src, dst = accts[a], accts[(a + 1) % k]
        blob = Transaction(source_address=src.address, nonce=j // k + 1, fee_limit=10**8, gas_price=100,
                           chain_id=CHAIN, operations=[T.pay_coin(dst.address, 1)]).SerializeToString()
        out.append(SignedTransaction.from_parts(blob, [(src.encoded_public_key, src.sign(blob))]).envelope)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=2000)
    ap.add_argument("--small", type=int, default=1114)
    ap.add_argument("--large", type=int, default=3124)
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    from mbi.store import Store

    tmp = tempfile.mkdtemp(prefix="mbi-bench-shape-")
    try:
        store = Store.open(os.path.join(tmp, "db"), chain_id=CHAIN, create=True)
        ledger, accts = setup(a.accounts // 2, store)
        envs = stream(accts[:a.accounts], (a.small + a.large) * (a.rounds + 1))
        pos = 0
        ts = 20_000_000
        per_tx: dict[str, list[float]] = {"small": [], "large": []}

        def run(size: int) -> float:
            nonlocal pos, ts
            txs = [SignedTransaction.from_envelope(e) for e in envs[pos:pos + size]]
            pos += size
            for t in txs:
                t.sig_ok = True  # pre-verified at admission, as in the node
            ts += 1_000_000
            c0 = time.process_time()
            closed = ledger.close(txs, ts)
            store.commit_block(closed.commit)
            dt = time.process_time() - c0
            bad = [r for r in closed.receipts if r.error_code]
            assert len(closed.receipts) == size and not bad, bad[:1]
            return dt / size

        run(a.small)  # warm-up: caches, first memtable
        run(a.large)
        for r in range(a.rounds):
            order = ("small", "large") if r % 2 == 0 else ("large", "small")
            for name in order:
                per_tx[name].append(run(a.small if name == "small" else a.large))
        ratio = statistics.median(s / l for s, l in zip(per_tx["small"], per_tx["large"]))
        print(f"block shape: {a.accounts} accounts (i pays i+1), blocks of {a.small} and {a.large} txs, "
              f"{a.rounds} rounds, alternating; Ledger.close + fsynced commit, CPU time")
        print(load_line())
        for name in ("small", "large"):
            xs = per_tx[name]
            print(f"  {name:5}: {statistics.median(xs) * 1e6:7.1f} µs per tx (median; "
                  f"{min(xs) * 1e6:.1f}-{max(xs) * 1e6:.1f})")
        print(f"  small / large, median of the per-round ratios: {ratio:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
