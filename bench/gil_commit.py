"""How long ``Store.commit_block`` keeps other Python threads out: this tree against a
baseline commit, interleaved.

    .venv/bin/python bench/gil_commit.py [--base a5e2ee0] [--txs 3500] [--rounds 4] [--blocks 12]

rocksdict's ``write`` holds the GIL for its whole call. While a validator commits a block
its event loop (HTTP ingest, p2p, consensus) cannot run for as long as the commit holds
the GIL in one stretch. A ticker thread measures that: it wakes every 0.2 ms and records
the longest gap between two of its wake-ups during each commit; a gap is a stretch in
which it could not get the GIL (Python code in the committing thread yields it every
switch interval, 5 ms; a native call that holds it does not). Each block holds ``--txs``
PAY_COIN transactions between funded accounts, closed by the real ledger; the commit
carries the consensus block and a certificate as ``meta``, as the node writes them.

Each round runs one worker process per tree, in alternating order; figures are medians
over rounds of each worker's median block (wall time of commit_block, and the longest
gap). Every block's receipts are checked. A shared machine moves the wall figures; the
longest gap is the property under test.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from interleave import archive_mbi, fund_accounts, tree_rounds  # noqa: E402

CHAIN = 5


def worker(n: int, blocks: int, warm: int) -> dict:
    """Runs in a child whose sys.path starts at the tree under test."""
    import gc

    import numpy as np

    from mbi.crypto import KeyPair
    from mbi.ledger import Genesis, Ledger
    from mbi.ledger import testing as T
    from mbi.store import Store
    from mbi.types import SignedTransaction, Transaction

    tmp = tempfile.mkdtemp(prefix="mbi-bench-gil-")
    store = Store.open(os.path.join(tmp, "db"), chain_id=CHAIN, create=True)
    last = [time.perf_counter()]
    longest = [0.0]
    running = [True]

    def tick() -> None:
        while running[0]:
            t = time.perf_counter()
            if t - last[0] > longest[0]:
                longest[0] = t - last[0]
            last[0] = t
            time.sleep(0.0002)

    ticker = threading.Thread(target=tick, daemon=True)
    try:
        g, v = KeyPair.from_seed(b"\xee" * 32), KeyPair.from_seed(b"\xef" * 32)
        ledger, c1 = Ledger.create(Genesis.from_dict(T.genesis_dict(g, [v], chain_id=CHAIN, supply=10**17)))
        store.commit_block(c1)
        keys = [KeyPair.from_seed(i.to_bytes(32, "big")) for i in range(1, 2 * n + 1)]
        fund_accounts(ledger, g, keys, CHAIN, store)
        senders, receivers = keys[:n], keys[n:]
        rng = np.random.default_rng(7)
        ticker.start()
        wall, gaps = [], []
        for b in range(warm + blocks):
            envs = []
            for k in senders:
                d = receivers[int(rng.integers(0, n))].address
                blob = Transaction(source_address=k.address, nonce=b + 1, fee_limit=10**8, gas_price=100,
                                   chain_id=CHAIN, operations=[T.pay_coin(d, 1 + int(rng.integers(0, 1000)))]
                                   ).SerializeToString()
                # execution never checks signatures (sig_ok is set, as after admission)
                envs.append(SignedTransaction.from_parts(blob, [(k.encoded_public_key, bytes(64))]).envelope)
            txs = [SignedTransaction.from_envelope(e) for e in envs]
            for t in txs:
                t.sig_ok = True
            closed = ledger.close(txs, 10_000_000 + b)
            bad = [r for r in closed.receipts if r.error_code or not r.applied]
            assert len(closed.receipts) == n and not bad, bad[:1]
            gc.collect()
            time.sleep(0.02)
            longest[0] = 0.0
            last[0] = t0 = time.perf_counter()
            store.commit_block(closed.commit, meta={b"consensus/block/%d" % b: b"".join(envs),
                                                    b"consensus/qc/%d" % b: bytes(300)})
            t1 = time.perf_counter()
            time.sleep(0.001)  # let the ticker record the gap that ends with the commit
            if b >= warm:
                wall.append(t1 - t0)
                gaps.append(longest[0])
        med = statistics.median
        return {"commit_ms": 1e3 * med(wall), "gap_ms": 1e3 * med(gaps), "tip": store.last_seq()}
    finally:
        running[0] = False
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="a5e2ee0", help="baseline commit (git archive of its mbi/)")
    ap.add_argument("--txs", type=int, default=3500)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--blocks", type=int, default=12, help="measured blocks per worker")
    ap.add_argument("--warm", type=int, default=6)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.txs, args.blocks, args.warm)))
        return
    base_dir = archive_mbi(ROOT, args.base)
    try:
        res, ref = tree_rounds(__file__, ROOT, base_dir, args.rounds,
                               ["--txs", str(args.txs), "--blocks", str(args.blocks), "--warm", str(args.warm)])
        sha = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True,
                             text=True).stdout.strip()
        la = os.getloadavg()
        print(f"Store.commit_block of {args.txs}-tx PAY_COIN blocks, base {args.base} vs {sha}; {args.rounds} rounds "
              f"x {args.blocks} blocks after {args.warm}; load {la[0]:.2f} {la[1]:.2f} on {os.cpu_count()} CPUs")
        print(f"  reference: libsodium single verify, 1 core: {statistics.median(ref):,.0f} /s (median of {len(ref)})")
        print(f"  {'median per block':<34}{'base':>9}{'new':>9}{'new/base':>10}")
        for key, label in (("commit_ms", "commit_block wall (ms)"), ("gap_ms", "longest GIL hold seen (ms)")):
            b = statistics.median(x[key] for x in res["base"])
            n = statistics.median(x[key] for x in res["new"])
            ratio = statistics.median(y[key] / x[key] for x, y in zip(res["base"], res["new"]))
            print(f"  {label:<34}{b:>9.1f}{n:>9.1f}{ratio:>9.2f}x")
        print("  per round (base / new gap ms): " + ", ".join(
            f"{x['gap_ms']:.1f} / {y['gap_ms']:.1f}" for x, y in zip(res["base"], res["new"])))
    finally:
        shutil.rmtree(base_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
