"""Commit throughput of mbi.store: blocks of 10,000 transactions with realistic sizes.

Each block carries N TxRecords (~250-byte envelopes, 32-byte hashes), 2 AccountWrites per
transaction (~120-byte encodings; a fraction are new accounts) and is committed with
``Store.commit_block`` (one WriteBatch, fsynced WAL). Reports per-block time split into
batch construction and the RocksDB write, and transactions per second.

    .venv/bin/python bench/bench_store.py [--blocks 12] [--txs 10000] [--dir /tmp/x]
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

from mbi.store import AccountWrite, BlockCommit, Store, TxRecord  # noqa: E402
from mbi.store.batch import build_batch  # noqa: E402


def make_block(seq: int, n_txs: int, env_size: int, acct_size: int, accts_per_tx: int,
               new_fraction: float, first_new_index: int, existing: int) -> BlockCommit:
    rnd = os.urandom
    txs = [TxRecord(hash=rnd(32), envelope=rnd(env_size), ledger_seq=seq, index=i,
                    error_code=0, error_desc="", actual_fee=1_000_000 + i,
                    close_time=1_700_000_000_000_000 + seq)
           for i in range(n_txs)]
    n_acc = n_txs * accts_per_tx
    n_new = int(n_acc * new_fraction) if existing else n_acc
    accounts = []
    for j in range(n_new):
        idx = first_new_index + j
        accounts.append(AccountWrite(f"ZTX3{idx:033d}", idx, rnd(acct_size)))
    # updates of distinct existing accounts
    step = max(1, existing // max(1, n_acc - n_new)) if existing else 1
    for j in range(n_acc - n_new):
        idx = (j * step) % existing
        accounts.append(AccountWrite(f"ZTX3{idx:033d}", idx, rnd(acct_size)))
    return BlockCommit(seq=seq, header_hash=rnd(32), header=rnd(300), txs=txs, accounts=accounts)


def test_commit_block_10k(benchmark, tmp_path) -> None:
    """pytest-benchmark form: one 10,000-tx block (20,000 account writes) per round."""
    n = int(os.environ.get("MBI_BENCH_STORE_TXS", "10000"))
    with Store.open(str(tmp_path / "db"), chain_id=1, create=True) as store:
        store.commit_block(make_block(1, n, 250, 120, 2, 0.1, 0, 0))

        def next_block():
            c = store.account_count()
            return (make_block(store.last_seq() + 1, n, 250, 120, 2, 0.1, c, c),), {}

        benchmark.pedantic(store.commit_block, setup=next_block, rounds=6, iterations=1)
        benchmark.extra_info["txs_per_block"] = n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blocks", type=int, default=12)
    ap.add_argument("--txs", type=int, default=10_000)
    ap.add_argument("--env-size", type=int, default=250)
    ap.add_argument("--account-size", type=int, default=120)
    ap.add_argument("--accounts-per-tx", type=int, default=2)
    ap.add_argument("--new-fraction", type=float, default=0.1,
                    help="share of account writes that create accounts (after block 1)")
    ap.add_argument("--dir", default=None, help="parent directory for the DB (default: a temp dir)")
    args = ap.parse_args()

    parent = tempfile.mkdtemp(prefix="mbi-bench-store-", dir=args.dir)
    path = os.path.join(parent, "db")
    build_t, write_t, total_t, cpu_t = [], [], [], []
    try:
        with Store.open(path, chain_id=1, create=True) as store:
            for seq in range(1, args.blocks + 1):
                blk = make_block(seq, args.txs, args.env_size, args.account_size,
                                 args.accounts_per_tx, args.new_fraction,
                                 store.account_count(), store.account_count())
                # Time construction alone (same code commit_block runs), then the full commit.
                t0 = time.perf_counter()
                build_batch(store._handles, store._account_count, blk, seq, b"B" + blk.header_hash)
                t1 = time.perf_counter()
                c1 = time.thread_time()
                store.commit_block(blk)
                t2 = time.perf_counter()
                cpu_t.append(time.thread_time() - c1)
                build_t.append(t1 - t0)
                total_t.append(t2 - t1)
                write_t.append((t2 - t1) - (t1 - t0))
            n_acc = store.account_count()
            # Reads the ledger and API do: a block's worth of account lookups, one by one
            # and as one multi-get; tx lookups; the full account scan used at start.
            addrs = [f"ZTX3{(i * 7919) % n_acc:033d}" for i in range(20_000)]
            t0 = time.perf_counter()
            for a in addrs:
                store.get_account_entry(a)
            t1 = time.perf_counter()
            store.get_account_entries(addrs)
            t2 = time.perf_counter()
            hashes = store.get_ledger_txs(args.blocks)
            store.get_txs(hashes)
            t3 = time.perf_counter()
            scanned = sum(1 for _ in store.iter_accounts())
            t4 = time.perf_counter()
        # Block 1 creates every account (all new index entries); report steady state.
        steady = total_t[1:] if len(total_t) > 1 else total_t
        med = statistics.median(steady)
        print(f"blocks={args.blocks} txs/block={args.txs} env={args.env_size}B "
              f"account_writes/block={args.txs * args.accounts_per_tx} ({args.account_size}B) "
              f"accounts={n_acc}")
        print(f"commit_block median {med * 1e3:.1f} ms  (batch build {statistics.median(build_t[1:] or build_t) * 1e3:.1f} ms, "
              f"write+fsync {statistics.median(write_t[1:] or write_t) * 1e3:.1f} ms)")
        print(f"commit_block min {min(steady) * 1e3:.1f} ms  max {max(steady) * 1e3:.1f} ms; "
              f"committing thread's CPU median {statistics.median(cpu_t[1:] or cpu_t) * 1e3:.1f} ms "
              "(excludes fsync waits and RocksDB's background threads)")
        print(f"throughput (median) {args.txs / med:,.0f} tx/s; best {args.txs / min(steady):,.0f} tx/s")
        print(f"reads: get_account_entry {(t1 - t0) / len(addrs) * 1e6:.2f} us each; "
              f"get_account_entries(20k) {(t2 - t1) * 1e3:.1f} ms; get_txs({len(hashes)}) "
              f"{(t3 - t2) * 1e3:.1f} ms; iter_accounts {scanned / (t4 - t3):,.0f} accounts/s")
    finally:
        shutil.rmtree(parent, ignore_errors=True)


if __name__ == "__main__":
    main()
