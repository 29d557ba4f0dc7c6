"""What a validator spends answering one SYNC_REQUEST: blocks read back from the store
against blocks still held in memory, interleaved.

    .venv/bin/python bench/ratio_sync_serve.py [--blocks 18] [--txs 3500] [--rounds 9]

A restarted validator asks a peer for the blocks it missed, and the peer answers on its
event loop: `plan_sync_range` over its committed (block, QC) pairs, then
`encode_sync_response`, all in one frame. Under load that answer holds 15-16 MB (18
blocks of 2-4k PAY_COIN transactions) and took the serving validator's loop 1.4-1.7 s
(docs/bench-e2e.md, "Catch-up after a restart").

- `store`: the pairs come from `mbi.node.recent.committed_pairs` with nothing held in
  memory, so from `Chain.block_at`, which rebuilds each payload from the ledger's
  transaction records (docs/storage.md), and `Chain.qc_at`: what the driver did before
  it kept recent blocks.
- `recent`: the pairs are the Block and QC objects the node executed (the driver's
  `RecentBlocks`), so only planning and encoding are left.

A second table times the store path's transaction reads alone: whole `TxRecord`s
(`Store.get_txs`, what `block_at` used) against `Store.get_tx_envelopes` (the ledger seq
and the envelope, the rest of each record not decoded), per transaction.

The store holds `--blocks` executed blocks of `--txs` PAY_COIN transactions each (one
funded sender, ~250-byte envelopes as under load), written by `Chain.execute` as the node
writes them. Figures are medians of wall seconds per answer; the ratio is the median of
the per-round ratios. Both answers are checked byte-identical every round.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from mbi.consensus import Ed25519Signer, ValidatorSet, genesis_block_id, genesis_qc, make_block, wire  # noqa: E402
from mbi.consensus.sync import plan_sync_range  # noqa: E402
from mbi.consensus.types import QuorumCert, vote_digest  # noqa: E402
from mbi.crypto import KeyPair  # noqa: E402
from mbi.ledger import Genesis  # noqa: E402
from mbi.ledger import testing as T  # noqa: E402
from mbi.node.chain import Chain  # noqa: E402
from mbi.node.recent import RecentBlocks, committed_pairs  # noqa: E402
from mbi.p2p.gossip import encode_tx_batch  # noqa: E402
from mbi.store import Store  # noqa: E402
from mbi.types import SignedTransaction, Transaction  # noqa: E402

CHAIN = 5
BUDGET = 16 * (1 << 20) - 2 * (128 + 1 + 66 * 4) - 64  # the driver's, for 4 validators


def _qc(signers: list[Ed25519Signer], block_id: bytes, rnd: int, commit_id: bytes) -> QuorumCert:
    d = vote_digest(CHAIN, rnd, block_id, commit_id)
    return QuorumCert(block_id, rnd, commit_id, bytes([0b0111]), tuple(s.sign(d) for s in signers[:3]))


def build(path: str, blocks: int, txs: int) -> tuple[Chain, Store, list]:
    signers = [Ed25519Signer(bytes([i + 1]) * 32) for i in range(4)]
    vs = ValidatorSet([s.public_key for s in signers])
    g = KeyPair.from_seed(b"\x71" * 32)
    genesis = Genesis.from_dict(T.genesis_dict(g, [KeyPair.from_seed(b"\x72" * 32)], chain_id=CHAIN))
    store = Store.open(path, chain_id=CHAIN, create=True)
    chain = Chain(genesis, store, vs)
    dests = [KeyPair.from_seed(i.to_bytes(32, "big")).address for i in range(1, 65)]
    gid = genesis_block_id(CHAIN, b"sync-serve bench")
    parent, qc, nonce, pairs = None, genesis_qc(gid), 0, []
    for h in range(1, blocks + 1):
        envs = []
        for i in range(txs):
            nonce += 1
            blob = Transaction(source_address=g.address, nonce=nonce, fee_limit=10**7, gas_price=100,
                               chain_id=CHAIN, operations=[T.pay_coin(dests[i % 64], 1)]).SerializeToString()
            # execution never checks signatures (sig_ok, as after admission): a zero one has the size
            envs.append(SignedTransaction.from_parts(blob, [(g.encoded_public_key, bytes(64))]).envelope)
        st = [SignedTransaction.from_envelope(e) for e in envs]
        for t in st:
            t.sig_ok = True
        b = make_block(CHAIN, height=h, round=h, timestamp_us=1_000_000 * h, author=h % 4,
                       parent_id=gid if parent is None else parent.id, qc=qc, payload=encode_tx_batch(envs),
                       exec_height=0, exec_root=b"")
        commit = _qc(signers, os.urandom(32), h + 1, b.id)  # the child's QC, which commits b
        ex = chain.execute(b, commit, st)
        assert not ex.dropped, f"block {h}: {len(ex.dropped)} refused"
        pairs.append((b, commit))
        parent, qc = b, _qc(signers, b.id, h, b"")
    return chain, store, pairs


def answer(pairs) -> bytes:
    plan = plan_sync_range(pairs, 256, BUDGET, 64)
    return wire.encode_sync_response(plan.blocks, plan.qc, [], None, plan.proof)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--blocks", type=int, default=18)
    ap.add_argument("--txs", type=int, default=3500)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--profile", action="store_true", help="print where the store path's time goes")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="mbi-bench-sync-")
    try:
        t0 = time.perf_counter()
        chain, store, pairs = build(os.path.join(tmp, "db"), args.blocks, args.txs)
        print(f"built {args.blocks} blocks x {args.txs} txs in {time.perf_counter() - t0:.1f} s")
        paths = {"store": lambda: answer(committed_pairs(RecentBlocks(0), {}, chain, 1)), "recent": lambda: answer(iter(pairs))}
        want = paths["recent"]()
        assert paths["store"]() == want
        times: dict[str, list[float]] = {k: [] for k in paths}
        ratios = []
        for r in range(args.rounds):
            order = list(paths) if r % 2 == 0 else list(reversed(paths))
            got = {}
            for k in order:
                wire.BLOCK_BYTES._d.clear()  # a sync answer's blocks are long out of the encode cache
                wire.BLOCK_BYTES._bytes = 0
                t0 = time.perf_counter()
                data = paths[k]()
                got[k] = time.perf_counter() - t0
                assert data == want, k
                times[k].append(got[k])
            ratios.append(got["store"] / got["recent"])
        med = statistics.median
        print(f"answer: {len(want):,} bytes, {args.blocks} blocks")
        for k, v in times.items():
            print(f"{k:>7}: median {med(v) * 1e3:8.1f} ms per answer   (min {min(v) * 1e3:.1f}, max {max(v) * 1e3:.1f})")
        print(f"store/recent: median {med(ratios):.1f}x over {args.rounds} rounds")
        # The store path's transaction reads, old and new: whole records (get_txs) against
        # (seq, envelope) with the rest undecoded (get_tx_envelopes, what block_at uses).
        hashes = [store.get_ledger_txs(h + 1) for h in range(1, args.blocks + 1)]
        reads = {"records": lambda: [[r.envelope for r in store.get_txs(hs)] for hs in hashes],
                 "envelopes": lambda: [[e for _, e in store.get_tx_envelopes(hs)] for hs in hashes]}
        want_envs = reads["records"]()
        assert reads["envelopes"]() == want_envs
        rt: dict[str, list[float]] = {k: [] for k in reads}
        rr = []
        for r in range(args.rounds):
            got = {}
            for k in (list(reads) if r % 2 == 0 else list(reversed(reads))):
                t0 = time.perf_counter()
                assert reads[k]() == want_envs
                got[k] = time.perf_counter() - t0
                rt[k].append(got[k])
            rr.append(got["records"] / got["envelopes"])
        n = args.blocks * args.txs
        for k, v in rt.items():
            print(f"{k:>9}: median {med(v) / n * 1e6:6.2f} us per transaction read back")
        print(f"records/envelopes: median {med(rr):.2f}x over {args.rounds} rounds")
        if args.profile:
            pr = cProfile.Profile()
            pr.enable()
            answer(committed_pairs(RecentBlocks(0), {}, chain, 1))
            pr.disable()
            s = io.StringIO()
            pstats.Stats(pr, stream=s).sort_stats("cumulative").print_stats(18)
            print(s.getvalue())
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
