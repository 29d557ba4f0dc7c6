"""Catch-up: verify_committed_range / verify_certified_chain, and a Core that was down
catching up from a peer through ServeSync and a SyncResponse, then voting again."""
from __future__ import annotations

import pytest

from consensus_fixtures import CHAIN, NOW, Cluster, Net, decoded, of_type
from mbi.consensus import CertChecker, SyncError, verify_certified_chain, verify_committed_range, wire
from mbi.consensus.events import (
    Commit, MessageReceived, PayloadVerified, PersistSafety, ReportMisbehaviour, Send, ServeSync, VerifyPayload,
)
from mbi.consensus.types import QuorumCert, SyncRequest, Vote

NET = Net(4)
G = NET.genesis_block()
B1 = NET.block(G, 1, payload=b"a")
B2 = NET.block(B1, 2, payload=b"b")
B3 = NET.block(B2, 3, payload=b"c")
B4 = NET.block(B3, 4)
QC3, QC4 = NET.qc(B3), NET.qc(B4)  # QC3 commits B2, QC4 commits B3
B1X = NET.block(G, 1, payload=b"another block of round 1", ts=1777)  # an equivocating leader's
B2X = NET.block(B1X, 2)


def checker() -> CertChecker:
    return CertChecker(NET.vs, CHAIN, NET.gid)


def test_commit_qcs_commit_what_the_two_chain_rule_says():
    assert (QC3.commit_id, QC4.commit_id) == (B2.id, B3.id)


def test_committed_range_accepts_a_real_chain():
    verify_committed_range(checker(), NET.gid, 0, [B1, B2, B3], QC4)
    verify_committed_range(checker(), NET.gid, 0, [B1, B2], QC3)
    verify_committed_range(checker(), B1.id, 1, [B2, B3], QC4)   # from a later anchor


def _bad_sig(qc: QuorumCert) -> QuorumCert:
    s = list(qc.signatures)
    s[1] = bytes([s[1][0] ^ 1]) + s[1][1:]
    return QuorumCert(qc.block_id, qc.round, qc.commit_id, qc.signers, tuple(s))


@pytest.mark.parametrize("anchor,anchor_h,blocks,qc,reason", [
    (NET.gid, 0, [], QC4, "no blocks"),
    (NET.gid, 0, [B1, B3], QC4, "block at height 3 follows height 1"),
    (NET.gid, 0, [B2, B3], QC4, "block at height 2 follows height 0"),
    (NET.gid, 0, [B1X, B2, B3], QC4, "block at height 2 does not extend the block before it"),
    (B1X.id, 1, [B2, B3], QC4, "block at height 2 does not extend the block before it"),
    (NET.gid, 0, [B1, B2, B3], QC3, "the commit QC does not commit the block at height 3"),
    (NET.gid, 0, [B1, B2], QC4, "the commit QC does not commit the block at height 2"),
    (NET.gid, 0, [B1, B2, B3], _bad_sig(QC4), "the commit QC's signatures are not a valid quorum"),
    (NET.gid, 0, [B1, B2, B3], NET.qc(B4, voters=[0, 1]), "the commit QC's signatures are not a valid quorum"),
    # QC4's signatures under a commit id B2 they never signed (they signed B3)
    (NET.gid, 0, [B1, B2], QuorumCert(B4.id, 4, B2.id, QC4.signers, QC4.signatures),
     "the commit QC's signatures are not a valid quorum"),
], ids=["empty", "gap", "not_from_anchor", "wrong_parent", "wrong_anchor", "wrong_commit_qc", "qc_of_later",
        "bad_signature", "too_few_signers", "forged_commit_id"])
def test_committed_range_rejects_tampering(anchor, anchor_h, blocks, qc, reason):
    with pytest.raises(SyncError) as e:
        verify_committed_range(checker(), anchor, anchor_h, blocks, qc)
    assert str(e.value) == reason


def test_certified_chain_accepts_a_real_chain():
    verify_certified_chain(checker(), B1, [B2, B3, B4])
    verify_certified_chain(checker(), B1, [])


@pytest.mark.parametrize("parent,blocks,reason", [
    (B1, [B3], "certified block at height 3 does not extend the block before it"),
    (B1, [B2, B4], "certified block at height 4 does not extend the block before it"),
    (B1X, [B2], "certified block at height 2 does not extend the block before it"),
    (B1, [NET.block(B1, 3, qc=QuorumCert(B1.id, 2, b"", NET.qc(B1).signers, NET.qc(B1).signatures))],
     "certified block at height 2 certifies round 2, its parent is of round 1"),
    (B1, [NET.block(B2, 3, qc=_bad_sig(NET.qc(B2)))], "certified block at height 3 does not extend the block before it"),
    (B2, [NET.block(B2, 3, qc=_bad_sig(NET.qc(B2)))], "a certified block's QC is not a valid quorum"),
], ids=["gap", "gap_later", "wrong_parent", "qc_round", "bad_sig_wrong_parent", "bad_signature"])
def test_certified_chain_rejects_tampering(parent, blocks, reason):
    with pytest.raises(SyncError) as e:
        verify_certified_chain(checker(), parent, blocks)
    assert str(e.value) == reason


def test_certified_chain_rejects_a_qc_of_another_block_than_the_parent():
    """A block naming B1 as parent but carrying the (valid) QC of B1X, another block of the
    same round, does not prove B1 certified."""
    forged = NET.block(B1, 2, qc=NET.qc(B1X))
    assert forged.parent_id == B1.id and forged.qc.block_id == B1X.id
    with pytest.raises(SyncError):
        verify_certified_chain(checker(), B1, [forged])


# ------------------------------------------------------------------ a Core catching up

def test_core_applies_a_hand_built_sync_response():
    core = NET.core(0)
    core.start(NOW)
    data = wire.encode_sync_response([B1, B2], QC3, [B3], QC3)
    acts = core.handle(MessageReceived(2, data), NOW)
    commits = of_type(acts, Commit)
    assert [[b.id for b in c.blocks] for c in commits] == [[B1.id, B2.id]]
    assert commits[0].commit_qc == QC3
    assert (core.committed_height, core.committed_id, core.high_qc, core.round) == (2, B2.id, QC3, 4)
    assert not of_type(acts, ReportMisbehaviour)
    # a core brought to round 5 by a sync response votes on the next proposal
    b5 = NET.block(B4, 5)
    core2 = NET.core(3)
    core2.start(NOW)
    core2.handle(MessageReceived(0, wire.encode_sync_response([B1, B2], QC3, [B3, B4], QC4)), NOW)
    assert (core2.committed_height, core2.round) == (3, 5)
    acts = core2.handle(MessageReceived(1, NET.msg(NET.proposal(b5))), NOW)
    for v in of_type(acts, VerifyPayload):
        acts += core2.handle(PayloadVerified(v.block.id, True), NOW)
    votes = decoded(NET, acts, Vote)
    assert [(v.block_id, v.round, v.commit_id) for v in votes] == [(b5.id, 5, B4.id)]
    assert [s.validator for s in of_type(acts, Send)] == [NET.vs.leader(6)]


@pytest.mark.parametrize("blocks,qc,certified,high,height", [
    ([B1, B3], QC4, [], QC4, 0),
    ([B1, B2, B3], QC3, [], QC4, 0),
    ([B1, B2, B3], _bad_sig(QC4), [], QC4, 0),
    # a valid committed range is applied even when the certified part that follows is bad
    ([B1, B2], QC3, [B4], QC4, 2),
    ([B1, B2], QC3, [NET.block(B2, 3, qc=_bad_sig(NET.qc(B2)))], None, 2),
    ([], None, [B2X], None, 0),
], ids=["gap", "wrong_commit_qc", "bad_signature", "certified_gap", "certified_bad_sig", "certified_not_ours"])
def test_core_reports_a_bad_sync_response(blocks, qc, certified, high, height):
    core = NET.core(0)
    core.start(NOW)
    before = (core.round, core.high_qc, core.committed_height, core.safety_data(), len(core.blocks))
    acts = core.handle(MessageReceived("peer", wire.encode_sync_response(blocks, qc, certified, high)), NOW)
    reps = of_type(acts, ReportMisbehaviour)
    assert [(r.kind, r.peer) for r in reps] == [("bad_sync", "peer")]
    assert core.committed_height == height
    if height == 0:
        assert not of_type(acts, Commit)
        assert (core.round, core.high_qc, core.committed_height, core.safety_data(), len(core.blocks)) == before
    else:
        assert [[b.id for b in c.blocks] for c in of_type(acts, Commit)] == [[B1.id, B2.id]]
        assert len(core.blocks) == 1  # only the new root: nothing of the bad certified part


def test_core_serves_a_sync_request():
    core = NET.core(1)
    core.start(NOW)
    core.handle(MessageReceived(0, wire.encode_sync_response([B1], NET.qc(B2), [B2], NET.qc(B2))), NOW)
    acts = core.handle(MessageReceived("newcomer", NET.msg(SyncRequest(2, 500))), NOW)
    assert acts == [ServeSync("newcomer", 2, 256, (B2,), core.high_qc)]


def test_core_that_was_down_catches_up_and_votes_again():
    c = Cluster.of(NET, down={3})
    assert c.run_until(lambda: min(c.cores[i].committed_height for i in (0, 1, 2)) >= 6)
    assert c.cores[3].committed_height == 0 and c.cores[3].round == 1
    mark = len(c.log)
    target = max(core.committed_height for core in c.cores)
    rejoin_round = max(core.round for core in c.cores)
    c.down = set()
    assert c.run_until(lambda: c.cores[3].committed_height >= target + 2)
    after = c.log[mark:]
    # it asked a peer, the peer's driver answered with a committed range
    asked = [a for i, a in after if i == 3 and isinstance(a, Send) and a.to_peer is not None]
    assert asked and isinstance(wire.decode_message(asked[0].data, NET.vs, CHAIN), SyncRequest)
    assert any(peer == 3 and sent >= 1 for _, peer, _, sent in c.served)
    # it committed the same chain as the others
    ours = [b.id for b, _ in c.commits[3]]
    assert ours == [b.id for b, _ in c.commits[0]][:len(ours)]
    assert [b.height for b, _ in c.commits[3]] == list(range(1, len(ours) + 1))
    # and it votes again
    votes = [wire.decode_message(a.data, NET.vs, CHAIN) for i, a in after
             if i == 3 and isinstance(a, Send) and a.validator is not None]
    votes = [v for v in votes if isinstance(v, Vote)]
    assert votes and all(v.voter == 3 for v in votes)
    assert max(v.round for v in votes) >= rejoin_round


def test_core_restarted_from_its_store_and_safety_data_rejoins():
    """Crash core 3 mid-run, rebuild it from what its driver stored (the last committed
    block with its commit QC, and the last PersistSafety), and the cluster goes on with it."""
    c = Cluster.of(NET)
    assert c.run_until(lambda: c.cores[3].committed_height >= 4)
    last_h, qc = c.commit_qcs[3][-1]
    persisted = [a for i, a in c.log if i == 3 and isinstance(a, PersistSafety)][-1]
    safety = wire.decode_safety(persisted.data, NET.vs, CHAIN)
    old_round = c.cores[3].round
    c.down = {3}
    c.run()
    c.cores[3] = NET.core(3, safety=safety, committed=(c.store[3][last_h], qc))
    assert c.cores[3].committed_height == last_h and c.cores[3].round <= old_round + 1
    c.down = set()
    c.carry(3, c.cores[3].start(c.now))
    before = dict(c.commits)
    target = max(core.committed_height for core in c.cores) + 3
    assert c.run_until(lambda: all(core.committed_height >= target for core in c.cores))
    # no height is committed twice, and all agree
    for i in range(4):
        hs = [b.height for b, _ in c.commits[i]]
        assert hs == list(range(1, len(hs) + 1)), (i, hs)
    chains = [[b.id for b, _ in c.commits[i]] for i in range(4)]
    k = min(map(len, chains))
    assert all(ch[:k] == chains[0][:k] for ch in chains) and k >= target
    assert before  # the run before the crash committed too


def test_far_behind_core_fetches_in_pages():
    """With sync_max_blocks = 2 the driver serves at most two blocks at a time: the core
    asks again at once after each full page until it has caught up."""
    c = Cluster.of(NET, down={3})
    assert c.run_until(lambda: min(c.cores[i].committed_height for i in (0, 1, 2)) >= 8)
    c.cores[3] = NET.core(3, config=NET.config(sync_max_blocks=2))
    c.carry(3, c.cores[3].start(c.now))
    c.down = set()
    target = max(core.committed_height for core in c.cores)
    c.served.clear()
    assert c.run_until(lambda: c.cores[3].committed_height >= target)
    pages = [(frm, sent) for _, peer, frm, sent in c.served if peer == 3]
    assert len(pages) >= 3 and all(sent <= 2 for _, sent in pages)
    assert [b.id for b, _ in c.commits[3]][:target] == [b.id for b, _ in c.commits[0]][:target]
