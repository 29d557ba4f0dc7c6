"""Sync of a commit group larger than one response (docs/consensus.md §3.6): a prefix of
the blocks one QC commits, in full, and the headers of the rest as its proof.

The chain C1..C3 below is one commit group: rounds 1, 3, 5 are not consecutive, so no QC
commits anything until the QC of C4 (round 6, after 5) commits C3 and with it C1 and C2.
"""
from __future__ import annotations

import hashlib
import struct

import pytest

from consensus_fixtures import CHAIN, NOW, Cluster, Net, of_type
from mbi.consensus import CertChecker, SyncError, SyncPlan, plan_sync_range, verify_committed_range, wire
from mbi.consensus import mbi_consensus_pb2 as pb
from mbi.consensus.events import Commit, MessageReceived, ReportMisbehaviour, Send
from mbi.consensus.sync import HEADER_BYTES, block_wire_bound
from mbi.consensus.types import BlockHeader, QuorumCert, SyncRequest, header_of

NET = Net(4)
G = NET.genesis_block()
C1 = NET.block(G, 1, payload=b"x" * 100)
C2 = NET.block(C1, 3, payload=b"y" * 100)
C3 = NET.block(C2, 5, payload=b"z" * 100)
C4 = NET.block(C3, 6)
Q2, Q3, Q4 = NET.qc(C2), NET.qc(C3), NET.qc(C4)
C5 = NET.block(C4, 7)
Q5 = NET.qc(C5)  # commits C4 alone
C2X = NET.block(C1, 3, payload=b"another block of round 3")
PAIRS = [(C1, Q4), (C2, Q4), (C3, Q4), (C4, Q5)]  # what a store holds: each block with its commit QC


def checker() -> CertChecker:
    return CertChecker(NET.vs, CHAIN, NET.gid)


def test_the_fixture_is_one_commit_group():
    assert (Q2.commit_id, Q3.commit_id, Q4.commit_id, Q5.commit_id) == (b"", b"", C3.id, C4.id)


def test_a_header_has_the_id_of_its_block_written_out_from_the_spec():
    """§6: SHA-256 over domain, chain id, height, round, timestamp, author, parent id, QC
    round, SHA-256(payload), exec height, len(exec root) and exec root."""
    b = C2
    pre = (b"MBI-BLOCK-V1\x00" + struct.pack(">QQQQI", CHAIN, b.height, b.round, b.timestamp_us, b.author)
           + b.parent_id + struct.pack(">Q", b.qc.round) + hashlib.sha256(b.payload).digest()
           + struct.pack(">Q", b.exec_height) + bytes([len(b.exec_root)]) + b.exec_root)
    h = header_of(b)
    assert h.id == b.id == hashlib.sha256(pre).digest()
    assert h.payload_hash == hashlib.sha256(b"y" * 100).digest() and h.qc_round == 1
    # the decoder recomputes the id from the fields it received, never trusts one sent
    msg = wire.decode_message(wire.encode_sync_response([C1], Q4, [], None, [h, header_of(C3)]), NET.vs, CHAIN)
    assert [x.id for x in msg.proof] == [C2.id, C3.id]


# ------------------------------------------------------------------ verify_committed_range

def test_a_prefix_with_its_proof_is_committed():
    verify_committed_range(checker(), NET.gid, 0, [C1], Q4, [header_of(C2), header_of(C3)])
    verify_committed_range(checker(), NET.gid, 0, [C1, C2], Q4, [header_of(C3)])
    verify_committed_range(checker(), C1.id, 1, [C2], Q4, [header_of(C3)])


def _h(b, **change) -> BlockHeader:
    """A header of `b` with fields changed, its id recomputed (as the decoder does)."""
    m = pb.BlockHeader()
    wire._header_pb(header_of(b), m)
    for k, v in change.items():
        setattr(m, k, v)
    data = wire.encode_sync_response([C1], Q4, [], None, [])
    r = pb.ConsensusMessage()
    r.ParseFromString(data)
    r.sync_response.proof.add().CopyFrom(m)
    return wire.decode_message(r.SerializeToString(), NET.vs, CHAIN).proof[0]


@pytest.mark.parametrize("blocks,qc,proof,reason", [
    ([C1], Q4, [], "the commit QC does not commit the block at height 1"),
    ([C1], Q4, [header_of(C2)], "the commit QC does not commit the block at height 2"),
    ([C1], Q4, [header_of(C3)], "proof header at height 3 follows height 1"),
    ([C1], Q4, [header_of(C2X), header_of(C3)], "proof header at height 3 does not extend the block before it"),
    ([C2], Q4, [header_of(C3)], "block at height 2 follows height 0"),
    ([], Q4, [header_of(C1), header_of(C2), header_of(C3)], "no blocks"),
    ([C1], Q4, [header_of(C2), header_of(C3), header_of(C4)], "the commit QC does not commit the block at height 4"),
    # a header whose payload hash (or any field) was changed is another block: its id no longer links
    ([C1], Q4, [_h(C2, payload_hash=b"\x01" * 32), header_of(C3)],
     "proof header at height 3 does not extend the block before it"),
    ([C1], Q4, [header_of(C2), _h(C3, timestamp_us=C3.timestamp_us + 1)],
     "the commit QC does not commit the block at height 3"),
    ([C1], QuorumCert(Q4.block_id, Q4.round, Q4.commit_id, Q4.signers, (Q4.signatures[1],) * 3),
     [header_of(C2), header_of(C3)], "the commit QC's signatures are not a valid quorum"),
], ids=["no_proof", "short_proof", "proof_gap", "proof_wrong_parent", "prefix_not_from_anchor", "headers_only",
        "proof_past_commit", "tampered_payload_hash", "tampered_last_header", "bad_signatures"])
def test_a_bad_proof_is_rejected(blocks, qc, proof, reason):
    with pytest.raises(SyncError) as e:
        verify_committed_range(checker(), NET.gid, 0, blocks, qc, proof)
    assert str(e.value) == reason


# ------------------------------------------------------------------ the wire

def _response_with(**fields) -> bytes:
    m = pb.ConsensusMessage()
    m.ParseFromString(wire.encode_sync_response([C1], Q4, [], None, [header_of(C2), header_of(C3)]))
    r = m.sync_response
    for k, v in fields.items():
        if k == "drop_committed":
            del r.committed[:]
            r.ClearField("commit_qc")
        elif k == "certified":
            wire._block_pb(C4, r.certified.add())
        else:
            setattr(r.proof[0], k, v)
    return m.SerializeToString()


def test_a_response_with_a_proof_round_trips():
    msg = wire.decode_message(_response_with(), NET.vs, CHAIN)
    assert [b.id for b in msg.committed] == [C1.id] and msg.commit_qc == Q4
    assert msg.proof == (header_of(C2), header_of(C3)) and msg.certified == ()


@pytest.mark.parametrize("fields,reason", [
    ({"drop_committed": True}, "sync response: a proof without committed blocks"),
    ({"certified": True}, "sync response: certified blocks after a proof (they cannot extend a prefix)"),
    ({"payload_hash": b"\x01" * 31}, "sync proof header payload_hash is 31 bytes, expected 32"),
    ({"parent_id": b""}, "sync proof header parent_id is 0 bytes, expected 32"),
    ({"qc_round": 3}, "sync proof header of round 3 carries a QC of round 3"),
    ({"author": 4}, "sync proof header author 4 of 4 validators"),
    ({"height": 0}, "sync proof header height 0 out of range"),
    ({"exec_height": 2}, "sync proof header at height 2 carries the state root of height 2"),
    ({"exec_root": b"\x02" * 32}, "sync proof header carries a state root for height 0"),
], ids=["no_committed", "certified_after_proof", "short_payload_hash", "no_parent", "qc_round", "author", "height",
        "exec_height", "exec_root"])
def test_a_malformed_proof_gets_a_specific_error(fields, reason):
    with pytest.raises(wire.WireError) as e:
        wire.decode_message(_response_with(**fields), NET.vs, CHAIN)
    assert e.value.reason == reason


def test_too_many_proof_headers_are_refused_before_they_are_decoded():
    data = wire.encode_sync_response([C1], Q4, [], None, [header_of(C2)] * 3)
    with pytest.raises(wire.WireError) as e:
        wire.decode_message(data, NET.vs, CHAIN, wire.Limits(max_proof_headers=2))
    assert e.value.reason == "sync response proof of 3 headers, the limit is 2"


# ------------------------------------------------------------------ plan_sync_range

S1, S2, S3, S4 = (block_wire_bound(b) for b in (C1, C2, C3, C4))
BIG = 10 * (S1 + S2 + S3 + S4)


@pytest.mark.parametrize("max_blocks,budget,want_blocks,want_proof", [
    (10, BIG, [C1, C2, C3, C4], []),                        # everything fits: ends at C4, which Q5 commits
    (10, S1 + S2 + S3 + S4 - 1, [C1, C2, C3], []),          # C4 does not fit: ends at the group's end
    (3, BIG, [C1, C2, C3], []),                             # the group exactly
    (2, BIG, [C1, C2], [C3]),                               # capped inside the group
    (1, BIG, [C1], [C2, C3]),
    (10, S1 + S2 + HEADER_BYTES, [C1, C2], [C3]),           # the budget ends inside the group
    (10, S1 + S2 + HEADER_BYTES - 1, [C1], [C2, C3]),       # the header would not fit too: one block less
    (10, S1 + 2 * HEADER_BYTES - 1, [], []),                # not even one block with its proof
    (10, S1 - 1, [], []),
], ids=["all", "to_group_end", "group", "cap_2", "cap_1", "budget_2", "budget_headers", "budget_too_small",
        "block_too_big"])
def test_plan_serves_a_prefix_and_its_proof_when_the_group_does_not_fit(max_blocks, budget, want_blocks, want_proof):
    blocks, qc, proof, complete, size = plan_sync_range(iter(PAIRS), max_blocks, budget, 4096)
    assert [b.height for b in blocks] == [b.height for b in want_blocks]
    assert proof == [header_of(b) for b in want_proof]
    # only the answer that serves C4, the last pair, reaches the sender's tip
    assert complete == (want_blocks[-1:] == [C4])
    # the size it counted, written out from the sizes of what it chose
    assert size == sum(block_wire_bound(b) for b in want_blocks) + HEADER_BYTES * len(want_proof)
    assert size <= budget
    if blocks:
        assert qc == (Q5 if want_blocks[-1] is C4 else Q4)
        verify_committed_range(checker(), NET.gid, 0, blocks, qc, proof)  # and what it plans proves itself
    else:
        assert qc is None


NOTHING = SyncPlan([], None, [], False, 0)


def test_plan_serves_nothing_it_cannot_prove():
    # the sender's store ends inside the group (it has not stored the block that commits it)
    assert plan_sync_range(iter(PAIRS[:2]), 1, BIG, 4096) == NOTHING
    assert plan_sync_range(iter(PAIRS[:2]), 10, BIG, 4096) == NOTHING
    # the commit point lies beyond max_proof headers
    assert plan_sync_range(iter(PAIRS), 1, BIG, 1) == NOTHING
    assert plan_sync_range(iter(PAIRS), 1, BIG, 2).proof == [header_of(C2), header_of(C3)]
    # nothing stored from that height: the requester is at the sender's tip, so the answer
    # is complete (its certified blocks may ride)
    assert plan_sync_range(iter([]), 5, BIG, 4096) == SyncPlan([], None, [], True, 0)


def test_plan_is_complete_only_when_nothing_is_left_unserved():
    # C1..C3 are one commit group (Q4 commits C3) and C4 is committed by Q5
    assert plan_sync_range(iter(PAIRS[:3]), 10, BIG, 4096).complete  # the group, and the end of the store
    assert not plan_sync_range(iter(PAIRS), 3, BIG, 4096).complete  # the group, C4 left
    # the store ends after C4 but C4 is not committed by its own QC: served up to C3 only
    tail = [PAIRS[0], PAIRS[1], PAIRS[2], (C4, Q4)]
    p = plan_sync_range(iter(tail), 10, BIG, 4096)
    assert [b.height for b in p.blocks] == [1, 2, 3] and not p.complete and p.size == S1 + S2 + S3


def test_plan_reads_no_further_than_the_commit_point():
    read = []

    def pairs():
        for p in PAIRS:
            read.append(p[0].height)
            yield p
        raise AssertionError("read past the store")

    plan_sync_range(pairs(), 1, BIG, 4096)
    assert read == [1, 2, 3]


# ------------------------------------------------------------------ a Core catching up by prefixes

@pytest.mark.parametrize("high", [Q4, None], ids=["with_high_qc", "without_high_qc"])
def test_core_commits_a_proved_prefix_and_asks_for_the_rest_at_once(high):
    """Once, whether the sender's high QC (of a block it lacks) or the proof asks first."""
    core = NET.core(0)
    core.start(NOW)
    acts = core.handle(MessageReceived("peer", wire.encode_sync_response([C1], Q4, [], high,
                                                                        [header_of(C2), header_of(C3)])), NOW)
    assert not of_type(acts, ReportMisbehaviour)
    assert [([b.id for b in c.blocks], c.commit_qc) for c in of_type(acts, Commit)] == [([C1.id], Q4)]
    assert (core.committed_height, core.committed_id) == (1, C1.id)
    asks = [wire.decode_message(s.data, NET.vs, CHAIN) for s in of_type(acts, Send) if s.to_peer == "peer"]
    assert asks == [SyncRequest(2, core.cfg.sync_max_blocks)]
    # the rest of the group arrives in full and commits too
    acts = core.handle(MessageReceived("peer", wire.encode_sync_response([C2, C3], Q4, [C4], Q4)), NOW)
    assert [[b.id for b in c.blocks] for c in of_type(acts, Commit)] == [[C2.id, C3.id]]
    assert core.committed_height == 3 and not of_type(acts, ReportMisbehaviour)


@pytest.mark.parametrize("proof", [
    [],
    [header_of(C2)],
    [header_of(C2X), header_of(C3)],
    [_h(C2, payload_hash=b"\x07" * 32), header_of(C3)],
], ids=["missing", "short", "wrong_branch", "tampered"])
def test_core_reports_a_bad_proof_and_changes_nothing(proof):
    core = NET.core(0)
    core.start(NOW)
    before = (core.round, core.high_qc, core.committed_height, core.safety_data(), len(core.blocks))
    acts = core.handle(MessageReceived("peer", wire.encode_sync_response([C1], Q4, [], Q4, proof)), NOW)
    assert [(r.kind, r.peer) for r in of_type(acts, ReportMisbehaviour)] == [("bad_sync", "peer")]
    assert not of_type(acts, Commit) and not of_type(acts, Send)
    assert (core.round, core.high_qc, core.committed_height, core.safety_data(), len(core.blocks)) == before


def test_a_duplicate_prefix_answer_starts_no_second_chain_of_requests():
    core = NET.core(0)
    core.start(NOW)
    data = wire.encode_sync_response([C1], Q4, [], Q4, [header_of(C2), header_of(C3)])
    core.handle(MessageReceived("peer", data), NOW)
    acts = core.handle(MessageReceived("peer", data), NOW)  # the same answer again: nothing new in it
    assert not of_type(acts, Commit) and not of_type(acts, ReportMisbehaviour)
    assert not [s for s in of_type(acts, Send) if s.to_peer == "peer"]


def test_a_core_that_was_down_catches_up_when_no_commit_group_fits_a_response():
    """With validator 3 down its rounds time out, so QCs commit two blocks or more at once;
    a sync budget of one block (and a few headers) makes every catch-up answer a prefix
    and its proof, and the core still catches up to the same chain and votes again."""
    def payload_of(r: int) -> bytes:
        return b"%06d" % r + b"." * 1000

    one = block_wire_bound(NET.block(C1, 2, payload=payload_of(99)))  # any block of the run
    assert one + 4 * HEADER_BYTES < 2 * one
    c = Cluster.of(NET, down={3}, payload_of=payload_of, sync_budget=one + 4 * HEADER_BYTES)
    assert c.run_until(lambda: min(c.cores[i].committed_height for i in (0, 1, 2)) >= 10)
    target = max(core.committed_height for core in c.cores)
    c.down = set()
    c.served.clear()
    c.proofs.clear()
    assert c.run_until(lambda: c.cores[3].committed_height >= target + 2)
    mine = [(p, n) for (_, peer, _, n), p in zip(c.served, c.proofs) if peer == 3]
    assert mine and all(n <= 1 for _, n in mine)     # one block per answer
    assert any(p >= 1 for p, _ in mine)               # and some of them needed a proof
    ours = [b.id for b, _ in c.commits[3]]
    assert ours == [b.id for b, _ in c.commits[0]][:len(ours)]
    assert [b.height for b, _ in c.commits[3]] == list(range(1, len(ours) + 1))
    assert not [a for i, a in c.log if i == 3 and isinstance(a, ReportMisbehaviour)]
