"""QC and TC formation (VoteCollector, TimeoutCollector, a Core leader) and checking (CertChecker).

Votes and certificates are signed here from the digests directly; the expected quorum is
n − f with f = ⌊(n − 1) / 3⌋, written out, never read from the ValidatorSet under test.
"""
from __future__ import annotations

import pytest

import core_ext.sigverify as sigverify
from consensus_fixtures import CHAIN, NOW, Net, decoded, of_type
from mbi.consensus import CertChecker, wire
from mbi.consensus.certs import TimeoutCollector, VoteCollector
from mbi.consensus.events import MessageReceived, PayloadVerified, ReportMisbehaviour, VerifyPayload
from mbi.consensus.types import QuorumCert, Timeout, TimeoutCert, Vote, bitmap_indexes, bitmap_of

NET = Net(4)
NET7 = Net(7)
BAD_SIG = b"\x11" * 64


def quorum(n: int) -> int:
    return n - (n - 1) // 3


def forged(v: Vote, sig: bytes = BAD_SIG) -> Vote:
    return Vote(v.block_id, v.round, v.commit_id, v.voter, sig)


def feed(core, net: Net, msg, peer) -> list:
    acts = core.handle(MessageReceived(peer, net.msg(msg)), NOW)
    for v in of_type(acts, VerifyPayload):
        acts = acts + core.handle(PayloadVerified(v.block.id, True), NOW)
    return acts


def reports(acts) -> list[tuple[str, object, int | None]]:
    return [(r.kind, r.peer, r.validator) for r in of_type(acts, ReportMisbehaviour)]


@pytest.fixture
def verify_batch_calls(monkeypatch):
    calls = []
    real = sigverify.verify_batch

    def counting(*a, **k):
        calls.append(len(a[1]))
        return real(*a, **k)

    monkeypatch.setattr(sigverify, "verify_batch", counting)
    return calls


# ------------------------------------------------------------------ VoteCollector

def test_quorum_is_exactly_n_minus_f_for_n_4_to_100():
    for n in range(4, 101):
        net = Net(n)
        q = quorum(n)
        assert net.vs.quorum == q and net.vs.f == (n - 1) // 3
        b = net.block(net.genesis_block(), 1)
        col = VoteCollector(net.vs, CHAIN)
        order = list(range(n - 1, -1, -1))  # any order: here the highest index first
        for i in order[:q - 1]:
            assert col.add(net.vote(i, b)) == (None, []), n
        qc, bad = col.add(net.vote(order[q - 1], b))
        assert qc is not None and bad == [], n
        assert sorted(bitmap_indexes(qc.signers)) == sorted(order[:q])
        assert (qc.block_id, qc.round, qc.commit_id) == (b.id, 1, b"")
        checker = CertChecker(net.vs, CHAIN, net.gid)
        assert checker.check([qc])
        short = net.qc(b, voters=order[:q - 1])
        assert not CertChecker(net.vs, CHAIN, net.gid).check([short]), n
        # further votes for the same block form nothing new
        if q < n:
            assert col.add(net.vote(order[q], b)) == (None, [])


def test_duplicate_votes_are_counted_once():
    b = NET.block(NET.genesis_block(), 1)
    col = VoteCollector(NET.vs, CHAIN)
    v0 = NET.vote(0, b)
    assert col.add(v0) == (None, [])
    assert col.add(v0) == (None, [])
    assert col.add(NET.vote(1, b)) == (None, [])
    assert col.add(NET.vote(1, b)) == (None, [])
    qc, bad = col.add(NET.vote(3, b))
    assert qc is not None and bitmap_indexes(qc.signers) == [0, 1, 3] and bad == []


def test_bad_signature_and_wrong_signer_are_dropped_and_honest_votes_still_form_the_qc():
    b = NET.block(NET.genesis_block(), 1)
    col = VoteCollector(NET.vs, CHAIN)
    honest = {i: NET.vote(i, b) for i in range(4)}
    wrong_key = forged(honest[2], NET.vote(0, b).signature)  # claims voter 2, signed by 0's key
    garbage = forged(honest[3])
    assert col.add(honest[0]) == (None, [])
    assert col.add(wrong_key) == (None, [])
    qc, bad = col.add(garbage)  # three in hand: checked now, two are bad
    assert qc is None and sorted(x.voter for x in bad) == [2, 3]
    assert col.add(honest[1]) == (None, [])
    qc, bad = col.add(honest[3])
    assert qc is not None and bad == [] and bitmap_indexes(qc.signers) == [0, 1, 3]
    assert CertChecker(NET.vs, CHAIN, NET.gid).check([qc])


def test_votes_for_different_blocks_do_not_mix():
    g = NET.genesis_block()
    b, other = NET.block(g, 1, payload=b"a"), NET.block(g, 1, payload=b"b")
    col = VoteCollector(NET.vs, CHAIN)
    assert col.add(NET.vote(0, b)) == (None, [])
    assert col.add(NET.vote(1, other)) == (None, [])
    assert col.add(NET.vote(2, b)) == (None, [])
    assert col.add(NET.vote(3, other)) == (None, [])
    # and same block, different commit id, is a different statement
    assert col.add(NET.vote(3, b, commit_id=b"\x05" * 32)) == (None, [])


# ------------------------------------------------------------------ a Core leader collecting votes

def _leader_with_own_vote(net: Net):
    """Core 2 (leader of round 2) holding block b of round 1 and its own vote on it."""
    core = net.core(2)
    core.start(NOW)
    b = net.block(net.genesis_block(), 1)
    acts = feed(core, net, net.proposal(b), "leader")
    assert decoded(net, acts, Vote) == []  # it keeps its own vote
    return core, b


def test_core_leader_reports_bad_signature_and_forms_qc_from_honest_votes():
    core, b = _leader_with_own_vote(NET)
    acts = feed(core, NET, forged(NET.vote(3, b)), "mallory")
    acts += feed(core, NET, NET.vote(0, b), 0)
    assert [(k, v) for k, _, v in reports(acts)] == [("bad_signature", 3)]
    assert core.round == 1
    acts = feed(core, NET, NET.vote(1, b), 1)
    assert core.round == 2 and core.high_qc.block_id == b.id
    assert bitmap_indexes(core.high_qc.signers) == [0, 1, 2]


def test_core_leader_ignores_a_replayed_vote():
    core, b = _leader_with_own_vote(NET)
    v0 = NET.vote(0, b)
    assert feed(core, NET, v0, 0) == []
    assert feed(core, NET, v0, 0) == []
    assert feed(core, NET, v0, "replayer") == []
    assert core.round == 1


def test_forged_votes_arriving_first_do_not_block_honest_votes():
    """Any peer can send a vote naming any voter. Votes whose signature is bad must not
    stop the real votes of those voters from counting: with n = 7 a peer that forges the
    votes of 0, 1 and 3 before the honest ones arrive must not deny the leader its QC."""
    net = NET7
    core = net.core(2)
    core.start(NOW)
    b = net.block(net.genesis_block(), 1)
    feed(core, net, net.proposal(b), 1)
    acts = []
    for i in (0, 1, 3):
        acts += feed(core, net, forged(net.vote(i, b)), "mallory")
    for i in (0, 1, 3, 4, 5, 6):
        acts += feed(core, net, net.vote(i, b), i)
    assert core.high_qc.round == 1 and core.round == 2, "honest votes of 7 validators formed no QC"
    assert sorted(v for k, _, v in reports(acts) if k == "bad_signature") == [0, 1, 3]


def test_forged_vote_for_another_block_does_not_shut_out_the_real_vote():
    """A forged vote naming voter 0 for a different block arrives first; 0's real vote for
    b must still count (and 0 must not be blamed for equivocation)."""
    core, b = _leader_with_own_vote(NET)
    other = NET.block(NET.genesis_block(), 1, payload=b"conflicting", ts=1234)
    acts = feed(core, NET, forged(NET.vote(0, other)), "mallory")
    acts += feed(core, NET, NET.vote(0, b), 0)
    acts += feed(core, NET, NET.vote(3, b), 3)
    assert "equivocation" not in [k for k, _, _ in reports(acts)]
    assert core.high_qc.block_id == b.id and bitmap_indexes(core.high_qc.signers) == [0, 2, 3], \
        "the real votes of 0, 2 and 3 formed no QC"


def test_equivocating_votes_are_reported_with_both_encodings():
    core, b = _leader_with_own_vote(NET)
    other = NET.block(NET.genesis_block(), 1, payload=b"conflicting", ts=1234)
    first, second = NET.vote(0, b), NET.vote(0, other)
    assert feed(core, NET, first, 0) == []
    acts = feed(core, NET, second, 0)
    reps = of_type(acts, ReportMisbehaviour)
    assert [(r.kind, r.validator) for r in reps] == [("equivocation", 0)]
    ev = [wire.decode_message(e, NET.vs, CHAIN) for e in reps[0].evidence]
    assert ev == [first, second]
    # the second vote does not count: with 0 and 2 for b, 3's vote forms the QC on b
    feed(core, NET, NET.vote(3, b), 3)
    assert core.high_qc.block_id == b.id and bitmap_indexes(core.high_qc.signers) == [0, 2, 3]


def test_forged_second_vote_is_bad_signature_not_equivocation():
    core, b = _leader_with_own_vote(NET)
    other = NET.block(NET.genesis_block(), 1, payload=b"conflicting", ts=1234)
    assert feed(core, NET, NET.vote(0, b), 0) == []
    acts = feed(core, NET, forged(NET.vote(0, other)), "framer")
    assert reports(acts) == [("bad_signature", "framer", 0)]
    # signed by the key of validator 1 rather than 0: also not evidence against 0
    acts = feed(core, NET, forged(NET.vote(0, other), NET.vote(1, other).signature), "framer")
    assert [k for k, _, _ in reports(acts)] == ["bad_signature"]


def test_stale_votes_and_votes_to_a_non_leader_form_nothing():
    b = NET.block(NET.genesis_block(), 1)
    bystander = NET.core(0)  # leader(2) is 2, not 0
    bystander.start(NOW)
    for i in (1, 2, 3):
        assert feed(bystander, NET, NET.vote(i, b), i) == []
    assert bystander.high_qc.round == 0
    core = NET.core(2)
    core.start(NOW)
    # two timed-out rounds move core 2 to round 3; round-1 votes are then stale
    last = None
    for r in (1, 2):
        for a in (0, 1, 3):
            feed(core, NET, NET.timeout(a, r, NET.gqc, last), a)
        last = core.last_tc
    assert core.round == 3
    acts = []
    for i in (0, 1, 3):
        acts += feed(core, NET, NET.vote(i, b), i)
    assert acts == [] and core.high_qc.round == 0 and core.round == 3


# ------------------------------------------------------------------ TimeoutCollector

def test_timeouts_join_at_f_plus_1_and_form_tc_at_quorum():
    for n in (4, 7, 10, 31, 100):
        net = Net(n)
        f, q = (n - 1) // 3, quorum(n)
        g = net.genesis_block()
        qc1 = net.qc(net.block(g, 1))
        col = TimeoutCollector(net.vs, CHAIN)
        highs = {}
        for k, a in enumerate(range(q)):
            high = qc1 if a % 3 == 0 else net.gqc
            highs[a] = high
            count, tc, bad = col.add(net.timeout(a, 2, high))
            assert bad == []
            if k + 1 < f + 1:
                assert (count, tc) == (0, None), (n, k)  # too few to matter: not even checked
            elif k + 1 < q:
                assert (count, tc) == (k + 1, None), (n, k)
        assert tc is not None and count == q
        assert bitmap_indexes(tc.signers) == list(range(q))
        assert tc.high_qc_rounds == tuple(highs[a].round for a in range(q))
        assert tc.high_qc == qc1 and tc.round == 2
        assert CertChecker(net.vs, CHAIN, net.gid).check([], [tc])
        assert col.add(net.timeout(q % n, 2, net.gqc)) == (0, None, [])  # round done


def test_timeout_collector_drops_duplicates_and_bad_signatures():
    col = TimeoutCollector(NET.vs, CHAIN)
    t0 = NET.timeout(0, 1, NET.gqc)
    assert col.add(t0) == (0, None, [])
    assert col.add(t0) == (0, None, [])
    bad = Timeout(1, 1, NET.gqc, None, BAD_SIG)
    count, tc, dropped = col.add(bad)
    assert (count, tc) == (1, None) and dropped == [bad]
    count, tc, dropped = col.add(NET.timeout(3, 1, NET.gqc))
    assert (count, tc, dropped) == (2, None, [])
    count, tc, dropped = col.add(NET.timeout(2, 1, NET.gqc))
    assert count == 3 and dropped == [] and bitmap_indexes(tc.signers) == [0, 2, 3]


def test_core_reports_bad_timeout_signature_and_still_forms_tc():
    core = NET.core(0)
    core.start(NOW)
    acts = feed(core, NET, Timeout(1, 3, NET.gqc, None, BAD_SIG), "mallory")
    acts += feed(core, NET, NET.timeout(1, 1, NET.gqc), 1)
    assert [(k, v) for k, _, v in reports(acts)] == [("bad_signature", 3)]
    acts = feed(core, NET, NET.timeout(2, 1, NET.gqc), 2)  # f + 1 valid: 0 joins, 3 with ours: a TC
    assert core.round == 2 and bitmap_indexes(core.last_tc.signers) == [0, 1, 2]


def test_bad_signature_report_names_the_peer_that_sent_it():
    """Signatures are checked in batches when a quorum is near, so the bad vote or timeout
    may be found while handling an honest peer's message: the report must still name the
    peer that delivered the bad one (drivers score and drop peers on it)."""
    core, b = _leader_with_own_vote(NET)
    acts = feed(core, NET, forged(NET.vote(3, b)), "mallory")
    acts += feed(core, NET, NET.vote(0, b), "honest")
    assert reports(acts) == [("bad_signature", "mallory", 3)]
    core = NET.core(0)
    core.start(NOW)
    acts = feed(core, NET, Timeout(1, 3, NET.gqc, None, BAD_SIG), "mallory")
    acts += feed(core, NET, NET.timeout(1, 1, NET.gqc), "honest")
    assert reports(acts) == [("bad_signature", "mallory", 3)]


# ------------------------------------------------------------------ CertChecker

def _qc_tc():
    g = NET.genesis_block()
    b1 = NET.block(g, 1)
    qc1 = NET.qc(b1, voters=[0, 2, 3])
    tc2 = NET.tc(2, {0: qc1, 1: NET.gqc, 3: qc1})
    return b1, qc1, tc2


def test_checker_accepts_valid_certificates_in_one_verify_batch_call(verify_batch_calls):
    b1, qc1, tc2 = _qc_tc()
    b2 = NET.block(b1, 2)
    qc2 = NET.qc(b2, voters=[1, 2, 3])
    checker = CertChecker(NET.vs, CHAIN, NET.gid)
    assert checker.check([qc2], [tc2])
    assert verify_batch_calls == [9]  # qc2 (3) + tc2 (3) + tc2's high QC qc1 (3), one call
    assert checker.check([qc2], [tc2]) and checker.check([qc1])
    assert verify_batch_calls == [9]  # remembered: no second call
    assert checker.check([NET.gqc])


def test_core_checks_a_proposals_qc_and_tc_in_one_verify_batch_call(verify_batch_calls):
    g = NET.genesis_block()
    b1 = NET.block(g, 1)
    qc1 = NET.qc(b1)
    tc2 = NET.tc(2, {0: qc1, 1: qc1, 2: NET.gqc})
    b3 = NET.block(b1, 3, qc=qc1)
    core = NET.core(0)
    core.start(NOW)
    core.handle(MessageReceived(3, NET.msg(NET.proposal(b3, tc2))), NOW)
    # the proposal's own signature (1), the TC (3) and qc1 (3), which is both the block's QC
    # and the TC's high QC and is checked once: all in one call (docs/consensus.md §6)
    assert verify_batch_calls == [7]
    assert core.round == 3


@pytest.mark.parametrize("tamper", ["too_few", "bit_beyond_n", "round", "block", "commit_id", "sig_count",
                                    "signer_swap", "genesis_other_id", "genesis_with_signers"])
def test_checker_rejects_tampered_qc(tamper):
    g = NET.genesis_block()
    b1 = NET.block(g, 1)
    b2 = NET.block(b1, 2)
    qc = NET.qc(b2)  # signers 0, 1, 2
    sigs = qc.signatures
    bad = {
        "too_few": NET.qc(b2, voters=[0, 1]),
        "bit_beyond_n": QuorumCert(qc.block_id, 2, qc.commit_id, bitmap_of([0, 1, 4], 4), sigs),
        "round": QuorumCert(qc.block_id, 3, qc.commit_id, qc.signers, sigs),
        "block": QuorumCert(b1.id, 2, qc.commit_id, qc.signers, sigs),
        "commit_id": QuorumCert(qc.block_id, 2, b"", qc.signers, sigs),
        "sig_count": QuorumCert(qc.block_id, 2, qc.commit_id, bitmap_of([0, 1, 2, 3], 4), sigs),
        "signer_swap": QuorumCert(qc.block_id, 2, qc.commit_id, qc.signers, (sigs[1], sigs[0], sigs[2])),
        "genesis_other_id": QuorumCert(b1.id, 0, b"", b"", ()),
        "genesis_with_signers": QuorumCert(NET.gid, 0, b"", qc.signers, sigs),
    }[tamper]
    checker = CertChecker(NET.vs, CHAIN, NET.gid)
    assert checker.check([qc])
    assert not CertChecker(NET.vs, CHAIN, NET.gid).check([bad])
    assert not checker.check([qc, bad])


def test_checker_rejects_bits_beyond_n_in_a_wider_bitmap():
    net = Net(9)  # 2-byte bitmap: bits 9..15 name nobody
    b = net.block(net.genesis_block(), 1)
    qc = net.qc(b)
    idx = bitmap_indexes(qc.signers)
    moved = QuorumCert(qc.block_id, 1, qc.commit_id, bitmap_of(idx[:-1] + [12], 16), qc.signatures)
    assert CertChecker(net.vs, CHAIN, net.gid).check([qc])
    assert not CertChecker(net.vs, CHAIN, net.gid).check([moved])


@pytest.mark.parametrize("tamper", ["high_qc_round", "reported_round", "too_few", "round", "bad_high_qc",
                                    "rounds_count"])
def test_checker_rejects_tampered_tc(tamper):
    b1, qc1, tc2 = _qc_tc()  # reports (1, 0, 1), high QC qc1
    s = tc2.signatures
    bad = {
        "high_qc_round": TimeoutCert(2, tc2.signers, tc2.high_qc_rounds, s, NET.gqc),  # max is 1, QC of 0
        "reported_round": TimeoutCert(2, tc2.signers, (1, 1, 1), s, qc1),   # 1 signed round 0, not 1
        "too_few": NET.tc(2, {0: qc1, 3: qc1}),
        "round": TimeoutCert(3, tc2.signers, tc2.high_qc_rounds, s, qc1),
        "bad_high_qc": TimeoutCert(2, tc2.signers, tc2.high_qc_rounds, s,
                                   QuorumCert(qc1.block_id, 1, qc1.commit_id, qc1.signers,
                                              (qc1.signatures[0], BAD_SIG, qc1.signatures[2]))),
        "rounds_count": TimeoutCert(2, tc2.signers, (1, 0), s, qc1),
    }[tamper]
    assert CertChecker(NET.vs, CHAIN, NET.gid).check([], [tc2])
    assert not CertChecker(NET.vs, CHAIN, NET.gid).check([], [bad])
    assert not CertChecker(NET.vs, CHAIN, NET.gid).check([qc1], [bad])
