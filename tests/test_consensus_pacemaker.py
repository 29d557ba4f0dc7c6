"""The pacemaker, voting flow and two-chain commit rule of the Core, driven by explicit events.

Single Cores are fed hand-signed proposals, votes and timeouts (consensus_fixtures.Net);
groups of 4 Cores run on consensus_fixtures.Cluster, a FIFO delivery loop whose timers fire
only when a test fires them. Expected values are written out from the protocol
(DiemBFT v4 / Jolteon): leader(r) = r mod n, votes to leader(r + 1), f + 1 timeouts make a
validator join, n − f form a TC, a block commits when it and its child of the next round
are certified.
"""
from __future__ import annotations

import pytest

from consensus_fixtures import CHAIN, NOW, Cluster, Net, decoded, of_type, persisted_before
from mbi.consensus import CertChecker, wire
from mbi.consensus.events import (
    Broadcast, Commit, MessageReceived, PayloadReady, PayloadVerified, PersistSafety, RequestPayload, Send, SetTimer,
    TimerFired, VerifyPayload,
)
from mbi.consensus.types import Proposal, Timeout, Vote, timeout_digest
from core_ext import sigverify

NET = Net(4)
NET7 = Net(7)


def feed(core, net: Net, msg, peer=None, now: float = NOW) -> list:
    """Deliver one message; answer a VerifyPayload with 'valid' at once."""
    acts = core.handle(MessageReceived(peer if peer is not None else "p", net.msg(msg)), now)
    for v in of_type(acts, VerifyPayload):
        acts = acts + core.handle(PayloadVerified(v.block.id, True), now)
    return acts


def kinds(actions) -> list[str]:
    return [type(a).__name__ for a in actions]


# ------------------------------------------------------------------ timers

def test_start_arms_round_1_timer_and_only_the_leader_asks_for_a_payload():
    cfg = NET.config(round_timeout=1.25)
    assert NET.core(0, config=cfg).start(NOW) == [SetTimer(1, NOW + 1.25)]
    assert NET.core(1, config=cfg).start(NOW) == [SetTimer(1, NOW + 1.25),
                                                  RequestPayload(1, 1, NET.gid, False)]


def test_timer_fired_persists_before_broadcasting_the_timeout():
    core = NET.core(0)
    core.start(NOW)
    acts = core.handle(TimerFired(1), NOW + 1)
    assert kinds(acts) == ["PersistSafety", "Broadcast", "SetTimer"]
    persisted, bcast, timer = acts
    assert persisted.safety.highest_voted_round == 1
    assert wire.decode_safety(persisted.data, NET.vs, CHAIN).highest_voted_round == 1
    t = wire.decode_message(bcast.data, NET.vs, CHAIN)
    assert isinstance(t, Timeout) and (t.round, t.author, t.high_qc.round, t.last_tc) == (1, 0, 0, None)
    assert sigverify.verify(NET.vs.keys[0], timeout_digest(CHAIN, 1, 0), t.signature)
    assert timer == SetTimer(1, NOW + 1 + 1.0)
    # the same timer again: the same timeout is re-sent, nothing new is signed or persisted
    again = core.handle(TimerFired(1), NOW + 2)
    assert kinds(again) == ["Broadcast", "SetTimer"] and again[0].data == bcast.data
    # a timer of another round is stale
    assert core.handle(TimerFired(7), NOW + 3) == []
    # and no vote in the timed-out round any more
    b1 = NET.block(NET.genesis_block(), 1)
    assert decoded(NET, feed(core, NET, NET.proposal(b1)), Vote) == []


def _time_out_round(core, net: Net, r: int, high_qc, last_tc, now: float, others=(1, 2)) -> list:
    acts = []
    for a in others:
        acts += feed(core, net, net.timeout(a, r, high_qc, last_tc), peer=a, now=now)
    return acts


def test_round_timer_backs_off_exponentially_capped_and_resets_on_qc():
    cfg = NET.config(round_timeout=1.0, timeout_backoff=2.0, max_round_timeout=5.0)
    core = NET.core(0, config=cfg)
    assert core.start(NOW) == [SetTimer(1, NOW + 1.0)]
    last_tc = None
    expected = {2: 2.0, 3: 4.0, 4: 5.0, 5: 5.0, 6: 5.0}  # 1 × 2^k, capped at 5
    tcs = {}
    for r in range(1, 6):
        acts = _time_out_round(core, NET, r, NET.gqc, last_tc, NOW)
        assert core.round == r + 1
        assert of_type(acts, SetTimer)[-1] == SetTimer(r + 1, NOW + expected[r + 1]), r
        last_tc = core.last_tc
        assert last_tc.round == r
        tcs[r] = last_tc
    # round 6: leader 2 proposes on genesis with the TC of round 5; we vote (to leader 3)
    b6 = NET.block(NET.genesis_block(), 6)
    acts = feed(core, NET, NET.proposal(b6, tcs[5]))
    assert [v.block_id for v in decoded(NET, acts, Vote)] == [b6.id]
    assert not of_type(acts, SetTimer)  # a vote is no progress by itself
    # round 7 carries the QC of round 6: progress, the timer is back to round_timeout
    b7 = NET.block(b6, 7)
    acts = feed(core, NET, NET.proposal(b7))
    assert SetTimer(7, NOW + 1.0) in acts
    assert core.round == 7 and core.timeouts_in_row == 0


def test_f_plus_1_timeouts_make_a_validator_join_and_n_minus_f_form_a_tc():
    net = NET7  # f = 2, quorum 5
    core = net.core(0)
    core.start(NOW)
    quiet = []
    for a in (1, 2):  # f timeouts: could all be Byzantine, so no reaction
        quiet += feed(core, net, net.timeout(a, 1, net.gqc), peer=a)
    assert not of_type(quiet, Broadcast) and core.round == 1
    acts = feed(core, net, net.timeout(3, 1, net.gqc), peer=3)  # f + 1: at least one honest timed out
    assert kinds(acts) == ["PersistSafety", "Broadcast", "SetTimer"]
    mine = wire.decode_message(acts[1].data, net.vs, CHAIN)
    assert isinstance(mine, Timeout) and (mine.round, mine.author) == (1, 0)
    assert core.round == 1
    acts = feed(core, net, net.timeout(4, 1, net.gqc), peer=4)  # 5 with ours: a TC
    assert core.round == 2 and core.last_tc is not None and core.last_tc.round == 1
    assert sorted(bin(b).count("1") for b in core.last_tc.signers) == [5]
    assert CertChecker(net.vs, CHAIN, net.gid).check([], [core.last_tc])
    assert of_type(acts, SetTimer) == [SetTimer(2, NOW + 1.5)]  # default backoff 1.5 after a timeout
    assert not of_type(acts, Broadcast)  # 0 is not the leader of round 2 (leader 2 is)


def test_leader_of_next_round_proposes_with_the_tc():
    core = NET.core(2)  # leader of round 2
    core.start(NOW)
    acts = _time_out_round(core, NET, 1, NET.gqc, None, NOW, others=(0, 1))
    assert core.round == 2
    assert RequestPayload(2, 1, NET.gid, False) in acts
    tc = core.last_tc
    acts = core.handle(PayloadReady(2, b"after the timeout"), NOW)
    props = decoded(NET, acts, Proposal)
    assert len(props) == 1
    p = props[0]
    assert (p.block.round, p.block.height, p.block.parent_id, p.block.qc.round, p.block.author) == (2, 1, NET.gid, 0, 2)
    assert p.block.payload == b"after the timeout"
    assert p.tc == tc and p.tc.round == 1
    # the leader votes on its own block, to leader(3) = 3, after persisting
    sends = of_type(acts, Send)
    assert [s.validator for s in sends] == [3]
    v = wire.decode_message(sends[0].data, NET.vs, CHAIN)
    assert (v.block_id, v.round, v.commit_id, v.voter) == (p.block.id, 2, b"", 2)
    assert persisted_before(acts, lambda a: isinstance(a, Send))
    # its own vote is durable before the proposal leaves: a restart cannot propose again (§4.3)
    assert persisted_before(acts, lambda a: isinstance(a, Broadcast))
    # a second PayloadReady for the round proposes nothing more
    assert decoded(NET, core.handle(PayloadReady(2, b"again"), NOW), Proposal) == []


@pytest.mark.parametrize("me", [0, 2, 3])
def test_vote_goes_to_next_leader_after_persist(me):
    core = NET.core(me)
    core.start(NOW)
    b1 = NET.block(NET.genesis_block(), 1, payload=b"tx")
    acts = feed(core, NET, NET.proposal(b1))
    i_persist = [i for i, a in enumerate(acts) if isinstance(a, PersistSafety)]
    votes = [(i, a) for i, a in enumerate(acts) if isinstance(a, Send)]
    if me == 2:  # the next leader keeps its own vote
        assert votes == [] and i_persist
        return
    assert len(votes) == 1 and len(i_persist) == 1 and i_persist[0] < votes[0][0]
    assert votes[0][1].validator == 2
    assert acts[i_persist[0]].safety.highest_voted_round == 1
    v = wire.decode_message(votes[0][1].data, NET.vs, CHAIN)
    assert (v.block_id, v.round, v.commit_id, v.voter) == (b1.id, 1, b"", me)


def test_leader_requests_payload_on_entering_its_round_by_qc():
    core = NET.core(2)  # leader of round 2
    core.start(NOW)
    b1 = NET.block(NET.genesis_block(), 1, payload=b"pending tx")
    acts = feed(core, NET, NET.proposal(b1))  # its own vote stays with it
    assert not of_type(acts, RequestPayload)
    acts = feed(core, NET, NET.vote(0, b1), peer=0)
    assert not of_type(acts, RequestPayload)
    acts = feed(core, NET, NET.vote(3, b1), peer=3)  # 3 votes: the QC
    assert core.round == 2 and core.high_qc.round == 1
    # b1 carries a payload and is not committed: ask for a payload at once
    assert acts == [SetTimer(2, NOW + 1.0), RequestPayload(2, 2, b1.id, True)]


def test_leader_that_got_the_votes_before_the_proposal_still_proposes():
    core = NET.core(2)
    core.start(NOW)
    b1 = NET.block(NET.genesis_block(), 1, payload=b"late")
    acts = []
    for i in (0, 1, 3):
        acts += feed(core, NET, NET.vote(i, b1), peer=i)
    assert core.round == 2 and core.high_qc.block_id == b1.id
    assert not of_type(acts, RequestPayload)  # it cannot build on a block it does not hold
    acts = feed(core, NET, NET.proposal(b1))
    assert RequestPayload(2, 2, b1.id, True) in acts
    assert decoded(NET, acts, Vote) == []  # round 1 is behind it: no vote


# ------------------------------------------------------------------ the commit rule, by hand

def _chain_to(core, net: Net, props) -> list[list]:
    return [feed(core, net, p) for p in props]


def test_commit_on_two_chain_of_consecutive_rounds():
    net = NET7  # observer 0 leads none of rounds 1..6
    core = net.core(0)
    core.start(NOW)
    g = net.genesis_block()
    b1 = net.block(g, 1, payload=b"one")
    b2 = net.block(b1, 2)
    b3 = net.block(b2, 3)
    a1, a2 = _chain_to(core, net, [net.proposal(b1), net.proposal(b2)])
    assert not of_type(a1 + a2, Commit) and core.committed_height == 0  # b1 certified alone: a 1-chain
    a3 = feed(core, net, net.proposal(b3))
    commits = of_type(a3, Commit)
    assert len(commits) == 1
    assert [b.id for b in commits[0].blocks] == [b1.id]
    assert commits[0].commit_qc.block_id == b2.id and commits[0].commit_qc.commit_id == b1.id
    assert (core.committed_height, core.committed_id) == (1, b1.id)
    # what each vote would commit: on b1 nothing (its QC is genesis), on b2 b1, on b3 b2
    assert [v.commit_id for v in decoded(net, a1 + a2 + a3, Vote)] == [b"", b1.id, b2.id]


def test_no_commit_across_a_round_gap_until_a_consecutive_child_is_certified():
    net = NET7
    core = net.core(0)
    core.start(NOW)
    g = net.genesis_block()
    b1 = net.block(g, 1)
    qc1 = net.qc(b1)
    tc2 = net.tc(2, {a: qc1 for a in range(1, 6)})  # round 2 timed out, everyone held QC 1
    b3 = net.block(b1, 3, qc=qc1)                    # extends b1 across the gap
    b4 = net.block(b3, 4)
    b5 = net.block(b4, 5)
    a1 = feed(core, net, net.proposal(b1))
    a3 = feed(core, net, net.proposal(b3, tc2))
    v3 = decoded(net, a3, Vote)
    assert [(v.block_id, v.commit_id) for v in v3] == [(b3.id, b"")]  # rounds 1, 3: nothing to commit
    a4 = feed(core, net, net.proposal(b4))  # b3 certified, its parent b1 certified: rounds not consecutive
    assert not of_type(a1 + a3 + a4, Commit) and core.committed_height == 0
    a5 = feed(core, net, net.proposal(b5))  # b4 certified: b3 (and its ancestor b1) commit
    commits = of_type(a5, Commit)
    assert [[b.id for b in c.blocks] for c in commits] == [[b1.id, b3.id]]
    assert commits[0].commit_qc.round == 4 and core.committed_height == 2


def test_commit_through_a_qc_in_a_timeout():
    """A QC learnt from a timeout's high QC commits just as one in a proposal does."""
    net = NET7
    core = net.core(0)
    core.start(NOW)
    g = net.genesis_block()
    b1 = net.block(g, 1)
    b2 = net.block(b1, 2)
    _chain_to(core, net, [net.proposal(b1), net.proposal(b2)])
    qc2 = net.qc(b2)
    assert qc2.commit_id == b1.id
    acts = feed(core, net, net.timeout(5, 3, qc2), peer=5)
    assert [[b.id for b in c.blocks] for c in of_type(acts, Commit)] == [[b1.id]]


# ------------------------------------------------------------------ four cores on a delivery loop

def test_fault_free_cluster_commits_each_block_two_rounds_later():
    c = Cluster.of(NET)
    c.run(limit=700)
    heights = [core.committed_height for core in c.cores]
    assert min(heights) >= 5
    chains = [[b.id for b, _ in c.commits[i]] for i in range(4)]
    k = min(len(x) for x in chains)
    assert all(x[:k] == chains[0][:k] for x in chains)  # one chain
    for i in range(4):
        blocks = [b for b, _ in c.commits[i]]
        assert [b.height for b in blocks] == list(range(1, len(blocks) + 1))
        assert [b.round for b in blocks] == [b.height for b in blocks]  # no round lost
        # Jolteon's two-chain latency: the block of round r commits on entering round r + 2
        assert all(rnd == b.round + 2 for b, rnd in c.commits[i]), c.commits[i]
    assert not any(isinstance(a, (SetTimer,)) and a.deadline != NOW + 1.0 for _, a in c.log)  # never backed off
    for i in range(4):
        assert persisted_before(c.actions_of(i), lambda a: isinstance(a, (Send, Broadcast))
                                and isinstance(wire.decode_message(a.data, NET.vs, CHAIN), (Vote, Timeout)))


def test_cluster_recovers_from_a_silent_leader_with_a_tc():
    # leader 1's proposal of round 1 is lost: everyone times out, the TC moves all to round 2
    c = Cluster.of(NET, drop=lambda s, d, m: s == 1 and isinstance(wire.decode_message(m, NET.vs, CHAIN), Proposal)
                   and wire.decode_message(m, NET.vs, CHAIN).block.round == 1)
    c.run()
    assert all(core.round == 1 for core in c.cores)
    for i in range(4):
        c.fire(i)
    c.run(limit=600)
    assert all(core.committed_height >= 3 for core in c.cores)
    first = c.commits[0][0][0]
    assert (first.round, first.height, first.qc.round) == (2, 1, 0)  # round 2 block on genesis, via the TC
    # the round-2 proposal carried the TC of round 1
    props = [wire.decode_message(a.data, NET.vs, CHAIN) for i, a in c.log if i == 2 and isinstance(a, Broadcast)]
    p2 = [p for p in props if isinstance(p, Proposal) and p.block.round == 2]
    assert len(p2) == 1 and p2[0].tc is not None and p2[0].tc.round == 1
    for i in range(4):
        timers = [a for a in c.actions_of(i, SetTimer) if a.round == 2]
        assert timers and timers[0].deadline == NOW + 1.5   # entered round 2 after one timeout
        assert [a for a in c.actions_of(i, SetTimer) if a.round == 3][0].deadline == NOW + 1.0  # reset by QC
        assert all(rnd == b.round + 2 for b, rnd in c.commits[i])


def test_restarted_leader_does_not_sign_a_second_proposal_for_its_round():
    """A leader that proposed and voted in round 1, then restarted from its persisted safety
    data, must not propose a different block for round 1 (others would see equivocation)."""
    core = NET.core(1)
    acts = core.start(NOW)
    assert RequestPayload(1, 1, NET.gid, False) in acts
    acts = core.handle(PayloadReady(1, b"first"), NOW)
    stored = wire.decode_safety(of_type(acts, PersistSafety)[-1].data, NET.vs, CHAIN)
    first = decoded(NET, acts, Proposal)
    assert len(first) == 1
    again = NET.core(1, safety=stored)
    acts = again.start(NOW + 5)
    acts += again.handle(PayloadReady(1, b"second"), NOW + 5)
    assert [p for p in decoded(NET, acts, Proposal) if p.block.round == 1] == []
