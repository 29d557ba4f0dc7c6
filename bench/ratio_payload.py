"""Block payload: full transaction envelopes or transaction digests? Measured, same run.

For a block of N PAY_COIN transactions that every validator already holds (they were
gossiped first, so they sit decoded and verified in the node's TxCache), time what the
payload costs from the leader's `select` to a follower knowing the block's transactions:

- full:    leader joins the envelopes (encode_tx_batch) into the proposal; the follower
           decodes the proposal (protobuf + the block id's SHA-256 over the payload),
           splits the batch and finds every envelope in its cache;
- digests: the proposal carries the 32-byte transaction hashes; the follower splits them
           and finds every transaction in a hash -> transaction map.

Both paths encode and decode a real consensus Proposal. Also printed: bytes each follower
receives for the block. Medians of `--rounds` interleaved rounds.

    .venv/bin/python bench/ratio_payload.py [--txs 1000,10000] [--rounds 15]
"""
from __future__ import annotations

import argparse
import hashlib
import statistics
import time

from mbi.consensus import Ed25519Signer, ValidatorSet, genesis_block_id, genesis_qc, make_block, wire
from mbi.consensus.types import Proposal, proposal_digest
from mbi.crypto.keys import KeyPair
from mbi.ledger import testing as T
from mbi.node.txs import TxCache
from mbi.p2p.gossip import decode_tx_batch, encode_tx_batch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--txs", default="1000,10000")
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    signer = Ed25519Signer(hashlib.sha256(b"payload-bench").digest())
    vs = ValidatorSet([signer.public_key] + [Ed25519Signer(bytes([i]) * 32).public_key for i in range(1, 4)])
    gid = genesis_block_id(1, b"g")
    keys = [KeyPair.generate() for _ in range(64)]
    print(f"{'txs':>6} {'full ms':>9} {'digests ms':>11} {'full/digests':>13} {'full bytes':>11} {'digest bytes':>13}")
    for n in [int(x) for x in args.txs.split(",")]:
        txs = [T.make_tx(keys[i % 64], i // 64 + 1, [T.pay_coin(keys[(i + 1) % 64].address, 1)], chain_id=1)
               for i in range(n)]
        cache = TxCache(2 * n)
        for t in txs:
            cache.put(t)
        by_hash = {t.hash: t for t in txs}
        full_t, dig_t = [], []
        full_b = dig_b = 0
        for _ in range(args.rounds):
            for mode in ("full", "digests"):
                t0 = time.perf_counter()
                payload = encode_tx_batch([t.envelope for t in txs]) if mode == "full" else b"".join(
                    t.hash for t in txs)
                b = make_block(1, height=1, round=1, timestamp_us=1, author=0, parent_id=gid, qc=genesis_qc(gid),
                               payload=payload, exec_height=0, exec_root=b"")
                data = wire.encode_message(Proposal(b, None, signer.sign(proposal_digest(1, 1, b.id))))
                got = wire.decode_message(data, vs, 1)
                pl = got.block.payload  # type: ignore[union-attr]
                if mode == "full":
                    found = [cache.get(e) for e in decode_tx_batch(pl, n)]
                else:
                    found = [by_hash.get(pl[i:i + 32]) for i in range(0, len(pl), 32)]
                dt = time.perf_counter() - t0
                assert len(found) == n and all(f is not None for f in found)
                if mode == "full":
                    full_t.append(dt)
                    full_b = len(data)
                else:
                    dig_t.append(dt)
                    dig_b = len(data)
        f, d = statistics.median(full_t) * 1e3, statistics.median(dig_t) * 1e3
        print(f"{n:>6} {f:>9.2f} {d:>11.2f} {f / d:>13.2f} {full_b:>11,} {dig_b:>13,}")


if __name__ == "__main__":
    main()
