"""A block is encoded once (mbi/consensus/wire.py): the cached bytes and the hand-framed
proposal equal protobuf's own serialization, and the cache is bounded and never answers
for another block with the same id."""
from __future__ import annotations

import os
from dataclasses import replace

import pytest

from consensus_fixtures import CHAIN, Net
from mbi.consensus import mbi_consensus_pb2 as pb
from mbi.consensus import wire
from mbi.consensus.types import Proposal, QuorumCert, make_block
from mbi.consensus.wire import BlockBytesCache

NET = Net(4)
G = NET.genesis_block()
B1 = NET.block(G, 1, payload=b"one")
QC1 = NET.qc(B1)
B2 = NET.block(B1, 2, payload=os.urandom(300_000))  # a payload whose length needs a 3-byte varint
TC2 = NET.tc(2, {0: QC1, 1: NET.gqc, 3: QC1})
B3 = NET.block(B1, 3, qc=QC1, payload=os.urandom(200))


def pb_block(b) -> pb.Block:
    """The reference: every field set through protobuf, serialized by protobuf."""
    m = pb.Block(height=b.height, round=b.round, timestamp_us=b.timestamp_us, author=b.author,
                 parent_id=b.parent_id, payload=b.payload, exec_height=b.exec_height, exec_root=b.exec_root)
    m.qc.CopyFrom(pb.QuorumCert(block_id=b.qc.block_id, round=b.qc.round, commit_id=b.qc.commit_id,
                                signers=b.qc.signers, signatures=list(b.qc.signatures)))
    return m


def pb_proposal(p: Proposal) -> bytes:
    m = pb.ConsensusMessage()
    m.proposal.block.CopyFrom(pb_block(p.block))
    if p.tc is not None:
        t = p.tc
        m.proposal.tc.round = t.round
        m.proposal.tc.signers = t.signers
        m.proposal.tc.high_qc_rounds.extend(t.high_qc_rounds)
        m.proposal.tc.signatures.extend(t.signatures)
        q = t.high_qc
        m.proposal.tc.high_qc.CopyFrom(pb.QuorumCert(block_id=q.block_id, round=q.round, commit_id=q.commit_id,
                                                     signers=q.signers, signatures=list(q.signatures)))
    m.proposal.signature = p.signature
    return m.SerializeToString()


@pytest.mark.parametrize("prop", [NET.proposal(B1), NET.proposal(B2), NET.proposal(B3, TC2)],
                         ids=["small", "300kB", "with-tc"])
def test_a_proposal_is_framed_exactly_as_protobuf_serializes_it(prop):
    assert wire.encode_message(prop) == pb_proposal(prop)
    assert wire.decode_message(wire.encode_message(prop), NET.vs, CHAIN) == prop


def test_cached_block_bytes_equal_a_fresh_encode():
    b = NET.block(B1, 2, payload=os.urandom(50_000))
    first = wire.encode_block(b)
    assert first == pb_block(b).SerializeToString()
    hits = wire.BLOCK_BYTES.hits
    again = wire.encode_block(b)
    assert again is first and wire.BLOCK_BYTES.hits == hits + 1   # served from the cache
    twin = replace(b)                                             # an equal block, another object
    assert wire.encode_block(twin) == pb_block(b).SerializeToString()
    assert wire.decode_block(again, NET.vs, CHAIN) == b


def test_same_id_other_qc_signatures_is_not_a_hit():
    """The block id leaves out the QC's signatures, so the cache compares the blocks."""
    b = NET.block(B1, 2, payload=b"x" * 1000)
    wire.encode_block(b)
    other_qc = QuorumCert(b.qc.block_id, b.qc.round, b.qc.commit_id, b.qc.signers,
                          tuple(bytes(64) for _ in b.qc.signatures))
    forged = replace(b, qc=other_qc)
    assert forged.id == b.id
    assert wire.encode_block(forged) == pb_block(forged).SerializeToString() != wire.encode_block(b)


def test_a_block_without_its_id_is_encoded_but_not_cached():
    b = make_block(CHAIN, height=1, round=1, timestamp_us=1, author=1, parent_id=G.id, qc=NET.gqc,
                   payload=b"p", exec_height=0, exec_root=b"")
    raw = replace(b, id=b"")
    n = len(wire.BLOCK_BYTES)
    assert wire.encode_block(raw) == pb_block(raw).SerializeToString()
    assert len(wire.BLOCK_BYTES) == n and wire.BLOCK_BYTES.get(raw) is None


def test_the_cache_is_bounded_by_count_and_bytes():
    c = BlockBytesCache(max_entries=3, max_bytes=10_000)
    blocks = [NET.block(B1, 2 + i, payload=bytes([i]) * 10) for i in range(5)]
    for b in blocks:
        c.put(b, b"x" * 1000)
    assert len(c) == 3 and c.nbytes == 3000
    assert c.get(blocks[0]) is None and c.get(blocks[1]) is None      # the oldest went first
    assert c.get(blocks[4]) == b"x" * 1000
    c.get(blocks[2])                                                  # used: now the newest
    c.put(blocks[0], b"y" * 6000)                                     # 3 × 1000 + 6000 > 10,000
    assert c.get(blocks[3]) is None and c.get(blocks[2]) is not None
    assert len(c) == 3 and c.nbytes == 8000
    c.put(blocks[1], b"z" * 20_000)                                   # larger than the whole cache
    assert c.get(blocks[1]) is None and c.nbytes == 8000
    c.put(blocks[2], b"w" * 10)                                       # replacing keeps the count
    assert c.get(blocks[2]) == b"w" * 10 and c.nbytes == 7010


def test_the_module_cache_stays_within_its_bounds():
    for i in range(40):
        wire.encode_block(NET.block(B1, 100 + i, payload=os.urandom(2000)))
    assert len(wire.BLOCK_BYTES) <= wire.BLOCK_BYTES.max_entries
    assert wire.BLOCK_BYTES.nbytes <= wire.BLOCK_BYTES.max_bytes
