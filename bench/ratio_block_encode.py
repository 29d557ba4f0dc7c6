"""What a leader spends serializing one block: one encoding (cached) against three, interleaved.

    .venv/bin/python bench/ratio_block_encode.py [--txs 10000] [--rounds 15]

A leader serializes each of its blocks for the proposal broadcast (`encode_message`),
for the block-tree write before its vote (`Chain.save_safety` → `encode_block`) and for
the store write at execution (`Chain.execute` → `encode_block`). The baseline does what
the code did before the block-bytes cache: protobuf builds and serializes the block each
time. The new path is `mbi.consensus.wire` as it is (the cache emptied before each
block, so its first encoding is paid). Payload: `--txs` random 200-byte "transactions"
in one bytes field (the size of a PAY_COIN block, ~2 MB at 10,000). Rounds alternate
the order; figures are medians of per-block CPU time of this thread, and the ratio is
the median of per-round ratios. Outputs are checked equal every round.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mbi.consensus import mbi_consensus_pb2 as pb  # noqa: E402
from mbi.consensus import wire  # noqa: E402
from mbi.consensus.types import Proposal, QuorumCert, make_block  # noqa: E402


def baseline(p: Proposal) -> tuple[bytes, bytes, bytes]:
    def block_pb(out: pb.Block) -> None:
        b = p.block
        out.height, out.round, out.timestamp_us, out.author = b.height, b.round, b.timestamp_us, b.author
        out.parent_id = b.parent_id
        out.qc.block_id, out.qc.round, out.qc.commit_id, out.qc.signers = (
            b.qc.block_id, b.qc.round, b.qc.commit_id, b.qc.signers)
        out.qc.signatures.extend(b.qc.signatures)
        out.payload = b.payload
        out.exec_height, out.exec_root = b.exec_height, b.exec_root

    m = pb.ConsensusMessage()
    block_pb(m.proposal.block)
    m.proposal.signature = p.signature
    msg = m.SerializeToString()
    outs = []
    for _ in range(2):  # save_safety, then execute
        blk = pb.Block()
        block_pb(blk)
        outs.append(blk.SerializeToString())
    return msg, outs[0], outs[1]


def cached(p: Proposal) -> tuple[bytes, bytes, bytes]:
    return wire.encode_message(p), wire.encode_block(p.block), wire.encode_block(p.block)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--txs", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=15)
    a = ap.parse_args()
    qc = QuorumCert(b"\1" * 32, 5, b"\2" * 32, b"\x07", tuple(os.urandom(64) for _ in range(3)))
    times: dict[str, list[float]] = {"baseline": [], "cached": []}
    ratios = []
    for r in range(a.rounds):
        b = make_block(7, height=9 + r, round=10 + r, timestamp_us=1000 + r, author=1, parent_id=b"\1" * 32, qc=qc,
                       payload=os.urandom(200 * a.txs), exec_height=3, exec_root=b"\3" * 32)
        p = Proposal(b, None, os.urandom(64))
        got = {}
        order = ("baseline", "cached") if r % 2 == 0 else ("cached", "baseline")
        for name in order:
            wire.BLOCK_BYTES._d.clear()  # each block's first encoding is paid
            wire.BLOCK_BYTES._bytes = 0
            fn = baseline if name == "baseline" else cached
            t0 = time.thread_time()
            got[name] = fn(p)
            times[name].append(time.thread_time() - t0)
        assert got["baseline"] == got["cached"], "the encodings differ"
        ratios.append(times["baseline"][-1] / max(times["cached"][-1], 1e-9))
    out = {"txs": a.txs, "payload_bytes": 200 * a.txs, "rounds": a.rounds,
           "baseline_ms": round(statistics.median(times["baseline"]) * 1e3, 3),
           "cached_ms": round(statistics.median(times["cached"]) * 1e3, 3),
           "ratio_median": round(statistics.median(ratios), 2)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
