"""SafetyRules against the cases of DiemBFT v4 / Jolteon (Gelashvili et al., FC 2022).

The paper's rules, written out here as the expected values:
  safe_to_vote(r, qc_r, tc):    r > max(highest_vote_round, qc_r) and
                                (r == qc_r + 1 or (r == tc.round + 1 and qc_r >= max(tc.high_qc_rounds)))
  safe_to_timeout(r, qc_r, tc): qc_r >= highest_qc_round and r > max(highest_vote_round - 1, qc_r) and
                                (r == qc_r + 1 or r == tc.round + 1)
  a vote raises highest_vote_round to r and highest_qc_round to qc_r; a timeout raises
  highest_vote_round to r.
"""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from consensus_fixtures import CHAIN, NOW, Net, decoded, of_type
from mbi.consensus import SafetyRules, wire
from mbi.consensus.events import MessageReceived, PayloadVerified, PersistSafety, VerifyPayload
from mbi.consensus.types import QuorumCert, SafetyData, TimeoutCert, Vote

NET = Net(4)


def qc_of(round: int) -> QuorumCert:
    """A QC value of `round` (the rules read only its round)."""
    return QuorumCert(bytes([round % 256]) * 32, round, b"", b"\x07", (b"\x00" * 64,) * 3)


def tc_of(round: int, high_rounds: tuple[int, ...]) -> TimeoutCert:
    return TimeoutCert(round, b"\x07", high_rounds, (b"\x00" * 64,) * len(high_rounds), qc_of(max(high_rounds)))


def rules(hv: int = 0, hq: int = 0) -> SafetyRules:
    return SafetyRules(SafetyData(hv, hq, None))


# ------------------------------------------------------------------ voting

def test_fresh_validator_votes_round_1_on_genesis():
    r = SafetyRules()
    assert (r.highest_voted_round, r.highest_qc_round) == (0, 0)
    assert r.safe_to_vote(1, 0, None)
    r.record_vote(1, qc_of(0))
    assert (r.highest_voted_round, r.highest_qc_round) == (1, 0)


def test_vote_in_next_round_extending_qc_of_previous_round():
    r = rules(hv=1, hq=0)
    assert r.safe_to_vote(2, 1, None)
    r.record_vote(2, qc_of(1))
    assert (r.highest_voted_round, r.highest_qc_round) == (2, 1)
    assert r.safe_to_vote(3, 2, None)


def test_refuses_same_round_twice():
    r = SafetyRules()
    r.record_vote(1, qc_of(0))
    assert not r.safe_to_vote(1, 0, None)
    r.record_vote(2, qc_of(1))
    assert not r.safe_to_vote(2, 1, None)
    # ...even with a TC that would otherwise justify it
    assert not r.safe_to_vote(2, 0, tc_of(1, (0, 0, 0)))


def test_refuses_round_below_highest_voted():
    r = rules(hv=5, hq=4)
    for rnd in (1, 2, 3, 4, 5):
        assert not r.safe_to_vote(rnd, rnd - 1, None)
    assert r.safe_to_vote(6, 5, None)


def test_refuses_non_consecutive_qc_without_tc():
    r = rules(hv=1, hq=0)
    assert not r.safe_to_vote(3, 1, None)  # QC of round 1 for a block of round 3, nothing for round 2
    assert not r.safe_to_vote(4, 2, None)


def test_block_round_must_exceed_qc_round():
    assert not SafetyRules().safe_to_vote(3, 3, None)
    assert not SafetyRules().safe_to_vote(3, 4, tc_of(2, (1,)))


def test_after_tc_votes_if_qc_at_least_highest_in_tc():
    tc = tc_of(4, (2, 3, 1))  # round 4 timed out; the highest QC its signers reported is of round 3
    r = rules(hv=4, hq=2)
    assert r.safe_to_vote(5, 3, tc)       # qc 3 == max
    assert rules(hv=4, hq=2).safe_to_vote(5, 4, tc)  # consecutive anyway


def test_after_tc_refuses_qc_below_highest_in_tc():
    tc = tc_of(4, (2, 3, 1))
    r = rules(hv=4, hq=2)
    assert not r.safe_to_vote(5, 2, tc)
    assert not r.safe_to_vote(5, 1, tc)


def test_tc_must_be_of_the_previous_round():
    r = rules(hv=2, hq=1)
    assert not r.safe_to_vote(5, 3, tc_of(3, (3 - 1, 1, 1)))  # TC of round 3 does not justify round 5
    assert not r.safe_to_vote(5, 3, tc_of(5, (3, 3, 3)))      # nor a TC of the block's own round
    assert r.safe_to_vote(5, 3, tc_of(4, (3, 3, 3)))


def test_vote_records_max_and_never_lowers():
    r = rules(hv=7, hq=5)
    r.record_vote(3, qc_of(2))
    assert (r.highest_voted_round, r.highest_qc_round) == (7, 5)
    r.record_vote(9, qc_of(6))
    assert (r.highest_voted_round, r.highest_qc_round) == (9, 6)


# ------------------------------------------------------------------ timeouts

def test_timeout_round_after_qc_or_tc_only():
    r = SafetyRules()
    assert r.safe_to_timeout(1, 0, None)
    assert not r.safe_to_timeout(2, 0, None)                    # nothing puts us in round 2
    assert r.safe_to_timeout(2, 0, tc_of(1, (0, 0, 0)))         # a TC of round 1 does
    assert not r.safe_to_timeout(3, 0, tc_of(1, (0, 0, 0)))     # but not in round 3
    assert rules(hv=4, hq=3).safe_to_timeout(5, 4, None)


def test_timeout_refuses_qc_below_highest_qc_round():
    r = SafetyRules()
    r.record_vote(5, qc_of(4))   # voted on a block carrying a QC of round 4
    assert r.highest_qc_round == 4
    assert not r.safe_to_timeout(6, 3, tc_of(5, (3, 3, 3)))  # reports QC 3 < 4
    assert r.safe_to_timeout(6, 4, tc_of(5, (3, 4, 3)))
    assert r.safe_to_timeout(5, 4, None)  # one may time out the round one voted in


def test_timeout_refuses_rounds_left_behind():
    r = rules(hv=6, hq=4)
    # round <= max(highest_vote_round - 1, qc_round) is refused
    assert not r.safe_to_timeout(5, 4, None)
    assert not r.safe_to_timeout(4, 4, tc_of(3, (2,)))
    assert r.safe_to_timeout(6, 5, None)


def test_after_timeout_no_vote_in_that_round():
    r = SafetyRules()
    assert r.safe_to_timeout(1, 0, None)
    r.record_timeout(1)
    assert r.highest_voted_round == 1 and r.highest_qc_round == 0
    assert not r.safe_to_vote(1, 0, None)
    # the next round is open again (after a TC of round 1)
    assert r.safe_to_vote(2, 0, tc_of(1, (0, 0, 0)))
    r.record_timeout(0)
    assert r.highest_voted_round == 1


def test_timeout_twice_in_a_round_is_allowed_but_not_a_vote():
    r = rules(hv=3, hq=2)
    r.record_timeout(3)
    assert r.safe_to_timeout(3, 2, None)   # re-sending the same timeout is harmless
    assert not r.safe_to_vote(3, 2, None)


# ------------------------------------------------------------------ persistence

def _roundtrip(data: SafetyData) -> SafetyData:
    return wire.decode_safety(wire.encode_safety(data), NET.vs, CHAIN)


def test_safety_data_roundtrip_keeps_rounds_and_certificates():
    g = NET.genesis_block()
    b1 = NET.block(g, 1)
    qc1 = NET.qc(b1)
    tc2 = NET.tc(2, {0: qc1, 1: qc1, 3: NET.gqc})
    d = SafetyData(2, 1, qc1, tc2)
    back = _roundtrip(d)
    assert back == d
    assert _roundtrip(SafetyData(0, 0, None)) == SafetyData(0, 0, None, None)


def test_restart_from_persisted_rules_never_votes_twice():
    g = NET.genesis_block()
    qc1 = NET.qc(NET.block(g, 1))
    r = SafetyRules()
    r.record_vote(1, NET.gqc)
    r.record_vote(2, qc1)
    back = SafetyRules(_roundtrip(r.data(qc1)))
    assert (back.highest_voted_round, back.highest_qc_round) == (2, 1)
    assert not back.safe_to_vote(2, 1, None)
    assert not back.safe_to_vote(1, 0, None)
    assert back.safe_to_vote(3, 2, None)


def _vote_in_round_1(core) -> tuple[list, Vote]:
    """Deliver the round-1 proposal to `core` and return (its actions, its vote)."""
    g = NET.genesis_block()
    b1 = NET.block(g, 1, payload=b"first")
    acts = core.handle(MessageReceived(1, NET.msg(NET.proposal(b1))), NOW)
    assert [a.block.id for a in of_type(acts, VerifyPayload)] == [b1.id]
    acts = core.handle(PayloadVerified(b1.id, True), NOW)
    votes = decoded(NET, acts, Vote)
    assert len(votes) == 1 and votes[0].block_id == b1.id
    return acts, votes[0]


def test_core_restarted_from_persisted_safety_refuses_second_vote_in_round():
    core = NET.core(3)
    core.start(NOW)
    acts, vote = _vote_in_round_1(core)
    persisted = of_type(acts, PersistSafety)
    assert len(persisted) == 1
    stored = wire.decode_safety(persisted[0].data, NET.vs, CHAIN)
    assert stored.highest_voted_round == 1
    # an equivocating leader now offers the restarted validator another block of round 1
    g = NET.genesis_block()
    other = NET.block(g, 1, payload=b"second", ts=1500)
    for safety, expect_vote in ((stored, False), (None, True)):  # None: amnesia, shows the check can fail
        again = NET.core(3, safety=safety)
        again.start(NOW)
        acts = again.handle(MessageReceived(1, NET.msg(NET.proposal(other))), NOW)
        acts += again.handle(PayloadVerified(other.id, True), NOW) if of_type(acts, VerifyPayload) else []
        votes = [v for v in decoded(NET, acts, Vote) if v.round == 1]
        assert bool(votes) == expect_vote, safety
        if votes:
            assert votes[0].block_id == other.id != vote.block_id


# ------------------------------------------------------------------ a model check

_op = st.one_of(
    st.tuples(st.just("vote"), st.integers(1, 12), st.integers(0, 11), st.none() | st.integers(0, 11)),
    st.tuples(st.just("timeout"), st.integers(1, 12), st.integers(0, 11), st.none() | st.integers(0, 11)),
    st.tuples(st.just("restart"), st.just(0), st.just(0), st.none()),
)


@settings(max_examples=150)
@given(st.lists(_op, max_size=30))
def test_no_two_signatures_in_one_round_across_restarts(ops):
    """A vote is allowed only above every round already voted or timed out, a timeout never
    below one, and the recorded rounds are exactly the maxima; restarts go through the
    persisted encoding and lose nothing."""
    r = SafetyRules()
    signed_rounds: set[int] = set()   # rounds voted or timed out
    voted: set[int] = set()
    hq = 0
    for kind, rnd, qc_r, tc_r in ops:
        tc = tc_of(tc_r, (max(tc_r - 1, 0), 0)) if tc_r else None
        if kind == "restart":
            r = SafetyRules(_roundtrip(r.data(None)))
            continue
        if kind == "vote" and r.safe_to_vote(rnd, qc_r, tc):
            assert rnd not in voted and all(rnd > s for s in signed_rounds)
            assert rnd > qc_r
            assert rnd == qc_r + 1 or (tc is not None and rnd == tc.round + 1 and qc_r >= max(tc.high_qc_rounds))
            r.record_vote(rnd, qc_of(qc_r))
            voted.add(rnd)
            signed_rounds.add(rnd)
            hq = max(hq, qc_r)
        elif kind == "timeout" and r.safe_to_timeout(rnd, qc_r, tc):
            assert qc_r >= hq
            assert all(rnd >= s for s in signed_rounds)
            r.record_timeout(rnd)
            signed_rounds.add(rnd)
        assert r.highest_voted_round == max(signed_rounds, default=0)
        assert r.highest_qc_round == hq
