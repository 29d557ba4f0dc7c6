"""Whole-process CPU of close + commit with the hash memtables against plain skiplists.

    .venv/bin/python bench/ratio_memtable.py [--rounds 5] [--txs 5000] [--blocks 60]

The tx and account families use a hash-skiplist memtable (mbi/store/options.py): an
insert is about one cache miss, but a flush first builds one sorted skiplist from the
buckets, on RocksDB's flush thread. `bench/ratio_close.py` times the calling thread only;
this measures the process CPU of all threads (the flush thread included) per committed
transaction, with the e2e benchmark's store budget (32 MiB memtables, 128 MiB in all,
one background job) and enough blocks for several flushes. "plain" is this tree with the
`set_memtable_factory` line removed (`git archive HEAD` of mbi/, edited), so it uses
RocksDB's default skiplist. One worker per variant per round, alternating; medians.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from interleave import archive_mbi, run_worker  # noqa: E402

CHAIN = 5
LINE = "        o.set_memtable_factory(MemtableFactory.hash_skip_list(buckets, 4, 4))\n"


def worker(n: int, blocks: int) -> dict:
    import time

    import numpy as np

    from mbi.crypto import KeyPair
    from mbi.ledger import Genesis, Ledger
    from mbi.ledger import testing as T
    from mbi.store import Store
    from mbi.store.options import StoreTuning
    from mbi.types import SignedTransaction, Transaction

    tmp = tempfile.mkdtemp(prefix="mbi-bench-memtable-")
    tuning = StoreTuning(block_cache_mb=32, write_buffer_mb=32, memtable_total_mb=128, background_jobs=1)
    store = Store.open(os.path.join(tmp, "db"), chain_id=CHAIN, create=True, tuning=tuning)
    try:
        g, v = KeyPair.from_seed(b"\xee" * 32), KeyPair.from_seed(b"\xef" * 32)
        ledger, c1 = Ledger.create(Genesis.from_dict(T.genesis_dict(g, [v], chain_id=CHAIN, supply=10**17)))
        store.commit_block(c1)
        keys = [KeyPair.from_seed(i.to_bytes(32, "big")) for i in range(1, 2 * n + 2)]
        senders, receivers = keys[:n], keys[n:2 * n]
        fund = [T.make_tx(g, j + 1, [T.create_account(k.address, 10**10) for k in keys[i:i + 100]], chain_id=CHAIN)
                for j, i in enumerate(range(0, 2 * n, 100))]
        for b in range(0, len(fund), 10):
            store.commit_block(ledger.close(fund[b:b + 10], 1_000 + b).commit)
        rng = np.random.default_rng(7)
        blks = []
        for b in range(blocks):
            blk = []
            for k in senders:
                d = receivers[int(rng.integers(0, n))].address
                blob = Transaction(source_address=k.address, nonce=b + 1, fee_limit=10**8, gas_price=100,
                                   chain_id=CHAIN, operations=[T.pay_coin(d, 1)]).SerializeToString()
                blk.append(SignedTransaction.from_parts(blob, [(k.encoded_public_key, bytes(64))]).envelope)
            blks.append(blk)
        commit_cpu = 0.0
        p0 = time.process_time()
        for b, blk in enumerate(blks):
            txs = [SignedTransaction.from_envelope(e) for e in blk]
            for t in txs:
                t.sig_ok = True  # verified at admission
            closed = ledger.close(txs, 10_000_000 + b)
            assert all(r.applied for r in closed.receipts)
            t0 = time.thread_time()
            store.commit_block(closed.commit)
            commit_cpu += time.thread_time() - t0
        p1 = time.process_time()
        total = n * blocks
        return {"process_us": (p1 - p0) / total * 1e6, "commit_thread_us": commit_cpu / total * 1e6,
                "root": closed.header.account_tree_hash.hex()}
    finally:
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--txs", type=int, default=5000)
    ap.add_argument("--blocks", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.txs, a.blocks)))
        return
    plain = archive_mbi(ROOT, "HEAD", prefix="mbi-bench-plain-")
    try:
        opts = os.path.join(plain, "mbi", "store", "options.py")
        src = open(opts).read()
        if LINE not in src:
            raise SystemExit("mbi/store/options.py no longer sets the hash memtable as this script expects")
        open(opts, "w").write(src.replace(LINE, ""))
        trees = {"hash": ROOT, "plain": plain}
        res: dict[str, list[dict]] = {"hash": [], "plain": []}
        for r in range(a.rounds):
            for name in (["hash", "plain"] if r % 2 == 0 else ["plain", "hash"]):
                res[name].append(run_worker(__file__, trees[name], ["--txs", str(a.txs), "--blocks", str(a.blocks)]))
        roots = {x["root"] for v in res.values() for x in v}
        assert len(roots) == 1, f"the variants disagree on the state root: {roots}"
        la = os.getloadavg()
        print(f"close + commit, {a.blocks} blocks of {a.txs} PAY_COIN, e2e store budget; {a.rounds} rounds; "
              f"load {la[0]:.2f} {la[1]:.2f} on {os.cpu_count()} CPUs")
        for part, label in (("process_us", "process CPU, all threads"), ("commit_thread_us", "commit_block's thread")):
            h = [x[part] for x in res["hash"]]
            p = [x[part] for x in res["plain"]]
            print(f"  {label:<26} us per tx: hash {statistics.median(h):6.2f} ({min(h):.2f}-{max(h):.2f})   "
                  f"plain {statistics.median(p):6.2f} ({min(p):.2f}-{max(p):.2f})   "
                  f"plain/hash {statistics.median(y / x for x, y in zip(h, p)):.3f}")
    finally:
        shutil.rmtree(plain, ignore_errors=True)


if __name__ == "__main__":
    main()
