"""Block execution + block commit, this tree against a baseline commit, interleaved.

    .venv/bin/python bench/ratio_close.py [--base 4712201] [--txs 5000] [--rounds 5] [--blocks 5] [--warm 30]

What one block costs a validator in ``Chain.execute``: ``Ledger.close`` (execute, state
tree, receipts, header) and ``Store.commit_block`` (one fsynced WriteBatch, with the
consensus block and its certificate as ``meta``, as the node writes them). Each block
holds ``--txs`` PAY_COIN transactions from distinct funded senders, 90% to existing
accounts and 10% to new ones, decoded from their envelopes and marked pre-verified
(as after admission). ``--warm`` blocks run first, unmeasured, so that RocksDB's
memtables hold what a running validator's do (tens of MB), not nothing.

The baseline is the same benchmark run on ``git archive <base>`` of mbi/ (the native
core_ext modules are this checkout's: they are not in git). Each round runs one worker
process per tree, in alternating order, and measures libsodium's single-verify rate on
one core in between (the same-run reference: this machine's speed swings ~2x from hour
to hour). Figures are medians over rounds of each worker's median block; the ratio is the
median of the per-round ratios. Rates per wall second and per CPU second of the calling
thread (RocksDB's write runs in it; its background flushes do not), which other work on
a shared machine distorts less. Every receipt of every measured block is checked.
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
    from mbi.ledger import Genesis, Ledger, validate
    from mbi.ledger import testing as T
    from mbi.store import Store
    from mbi.types import SignedTransaction, Transaction

    tmp = tempfile.mkdtemp(prefix="mbi-bench-close-")
    store = Store.open(os.path.join(tmp, "db"), chain_id=CHAIN, create=True)
    try:
        g, v = KeyPair.from_seed(b"\xee" * 32), KeyPair.from_seed(b"\xef" * 32)
        ledger, c1 = Ledger.create(Genesis.from_dict(T.genesis_dict(g, [v], chain_id=CHAIN, supply=10**17)))
        store.commit_block(c1)
        keys = [KeyPair.from_seed(i.to_bytes(32, "big")) for i in range(1, 2 * n + (warm + blocks) * n // 10 + 2)]
        accts, fresh = keys[:2 * n], keys[2 * n:]
        fund_accounts(ledger, g, accts, CHAIN, store)
        senders, receivers = accts[:n], accts[n:]
        rng = np.random.default_rng(7)
        fi = 0

        def make_block(nonce: int) -> list[bytes]:
            nonlocal fi
            blk = []
            for k in senders:
                if rng.random() < 0.1:
                    d = fresh[fi % len(fresh)].address
                    fi += 1
                else:
                    d = receivers[int(rng.integers(0, n))].address
                blob = Transaction(source_address=k.address, nonce=nonce, fee_limit=10**8, gas_price=100,
                                   chain_id=CHAIN, operations=[T.pay_coin(d, 1 + int(rng.integers(0, 1000)))]
                                   ).SerializeToString()
                # Execution never checks signatures (sig_ok is set, as after admission), so
                # the warm-up blocks skip signing; their envelopes have the real size.
                sd = k.sign(blob) if nonce > warm else bytes(64)
                blk.append(SignedTransaction.from_parts(blob, [(k.encoded_public_key, sd)]).envelope)
            return blk

        block_bytes = b""
        close_s, commit_s, total_s, close_c, commit_c = [], [], [], [], []
        for b in range(warm + blocks):
            blk = make_block(b + 1)
            if not block_bytes:
                block_bytes = b"".join(blk)  # stands in for the consensus block (its payload)
            txs = [SignedTransaction.from_envelope(e) for e in blk]
            for t in txs:
                t.sig_ok = True  # verified at admission
            # admission checked every address already (validate): its memo is warm
            for t in txs:
                validate(t, ledger.state, ledger.seq + 1)
            gc.collect()
            c0, t0 = time.thread_time(), time.perf_counter()
            closed = ledger.close(txs, 10_000_000 + b)
            c1, t1 = time.thread_time(), time.perf_counter()
            store.commit_block(closed.commit, meta={b"consensus/block/%d" % b: block_bytes,
                                                    b"consensus/qc/%d" % b: bytes(300)})
            c2, t2 = time.thread_time(), time.perf_counter()
            bad = [r for r in closed.receipts if r.error_code or not r.applied]
            assert len(closed.receipts) == n and not bad, bad[:1]
            if b >= warm:
                close_s.append(t1 - t0)
                commit_s.append(t2 - t1)
                total_s.append(t2 - t0)
                close_c.append(c1 - c0)
                commit_c.append(c2 - c1)
        med = statistics.median
        return {"close": n / med(close_s), "commit": n / med(commit_s), "total": n / med(total_s),
                "close_cpu": n / med(close_c), "commit_cpu": n / med(commit_c),
                "total_cpu": n / med([a + b for a, b in zip(close_c, commit_c)]),
                "root": closed.header.account_tree_hash.hex()}
    finally:
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="4712201", help="baseline commit (git archive of its mbi/)")
    ap.add_argument("--txs", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--blocks", type=int, default=5, help="measured blocks per worker")
    ap.add_argument("--warm", type=int, default=30,
                    help="unmeasured blocks first: a node's memtables hold tens of MB, not nothing")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.txs, args.blocks, args.warm)))
        return
    base_dir = archive_mbi(ROOT, args.base)
    try:
        res, ref = tree_rounds(__file__, ROOT, base_dir, args.rounds,
                               ["--txs", str(args.txs), "--blocks", str(args.blocks), "--warm", str(args.warm)])
        roots = {x["root"] for v in res.values() for x in v}
        assert len(roots) == 1, f"the trees disagree on the state root: {roots}"
        sha = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True,
                             text=True).stdout.strip()
        la = os.getloadavg()
        print(f"close + commit of {args.txs}-tx PAY_COIN blocks (10% to new accounts), base {args.base} vs {sha}; "
              f"{args.rounds} rounds x {args.blocks} blocks after {args.warm}; load {la[0]:.2f} {la[1]:.2f} on {os.cpu_count()} CPUs")
        print(f"  reference: libsodium single verify, 1 core: {statistics.median(ref):>9,.0f} /s (median of "
              f"{len(ref)}, min {min(ref):,.0f}, max {max(ref):,.0f})")
        print(f"  {'tx/s (median)':<26}{'base':>10}{'new':>10}{'new/base':>10}{'new/verify':>12}")
        vmed = statistics.median(ref)
        for part in ("close", "commit", "total", "close_cpu", "commit_cpu", "total_cpu"):
            b = statistics.median(x[part] for x in res["base"])
            n = statistics.median(x[part] for x in res["new"])
            ratio = statistics.median(y[part] / x[part] for x, y in zip(res["base"], res["new"]))
            label = {"close": "Ledger.close", "commit": "Store.commit_block", "total": "close + commit"}[
                part.removesuffix("_cpu")] + (" (CPU s)" if part.endswith("_cpu") else " (wall)")
            print(f"  {label:<26}{b:>10,.0f}{n:>10,.0f}{ratio:>9.2f}x{n / vmed:>11.2f}x")
        print("  same state root in every worker: " + roots.pop()[:16] + "...")
    finally:
        shutil.rmtree(base_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
