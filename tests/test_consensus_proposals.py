"""How a Core takes a proposal: leader, signature and certificate checks, equivocation
evidence, the block checks against its parent, and the execution-result rule (§5: a
validator whose state root differs from a certified one halts)."""
from __future__ import annotations

from consensus_fixtures import CHAIN, NOW, Net, decoded, of_type
from mbi.consensus import Core, Ed25519Signer, wire
from mbi.consensus.events import (
    BlockExecuted, Commit, Halted, MessageReceived, PayloadReady, PayloadVerified, PersistSafety, ReportMisbehaviour,
    Send, SetTimer, TimerFired, VerifyPayload,
)
from mbi.consensus.types import Proposal, QuorumCert, Vote, make_block

NET = Net(4)
NET7 = Net(7)
G = NET.genesis_block()


def feed(core, net: Net, msg, peer="p", valid: bool = True) -> list:
    acts = core.handle(MessageReceived(peer, net.msg(msg)), NOW)
    for v in of_type(acts, VerifyPayload):
        acts = acts + core.handle(PayloadVerified(v.block.id, valid), NOW)
    return acts


def reports(acts) -> list[tuple[str, int | None]]:
    return [(r.kind, r.validator) for r in of_type(acts, ReportMisbehaviour)]


def state(core) -> tuple:
    return (core.round, core.high_qc, core.committed_height, core.safety_data(), len(core.blocks))


def fresh(net: Net = NET, i: int = 0):
    core = net.core(i)
    core.start(NOW)
    return core


def test_proposal_from_the_wrong_leader_is_reported_and_ignored():
    core = fresh()
    b = NET.block(G, 1, author=3)  # round 1 is led by 1
    before = state(core)
    acts = feed(core, NET, NET.proposal(b))
    assert reports(acts) == [("wrong_leader", 3)] and len(acts) == 1
    assert state(core) == before


def test_proposal_signed_by_another_key_is_bad_signature():
    core = fresh()
    b = NET.block(G, 1)
    before = state(core)
    acts = feed(core, NET, NET.proposal(b, signer=0))
    assert reports(acts) == [("bad_signature", 1)] and len(acts) == 1
    assert state(core) == before
    # the real one is still taken afterwards
    assert [v.block_id for v in decoded(NET, feed(core, NET, NET.proposal(b)), Vote)] == [b.id]


def test_proposal_with_a_bad_qc_moves_nothing():
    core = fresh()
    b1 = NET.block(G, 1)
    qc = NET.qc(b1)
    bad = QuorumCert(qc.block_id, qc.round, qc.commit_id, qc.signers, (qc.signatures[0], qc.signatures[0],
                                                                        qc.signatures[2]))
    before = state(core)
    acts = feed(core, NET, NET.proposal(NET.block(b1, 2, qc=bad)))
    assert reports(acts) == [("bad_signature", 2)]
    assert state(core) == before and core.round == 1


def test_equivocating_proposals_are_reported_and_only_the_first_is_voted():
    core = fresh()
    b, other = NET.block(G, 1, payload=b"x"), NET.block(G, 1, payload=b"y")
    first, second = NET.proposal(b), NET.proposal(other)
    a1 = feed(core, NET, first)
    a2 = feed(core, NET, second)
    reps = of_type(a2, ReportMisbehaviour)
    assert [(r.kind, r.validator) for r in reps] == [("equivocation", 1)]
    assert [wire.decode_message(e, NET.vs, CHAIN) for e in reps[0].evidence] == [first, second]
    assert not of_type(a2, VerifyPayload)
    assert [v.block_id for v in decoded(NET, a1 + a2, Vote)] == [b.id]
    # a duplicate of the first is silently ignored; a forged second is not evidence
    assert feed(core, NET, first) == []
    assert reports(feed(core, NET, NET.proposal(NET.block(G, 1, payload=b"z"), signer=2))) == [("bad_signature", 1)]


def test_invalid_payload_is_reported_and_not_voted():
    core = fresh()
    b = NET.block(G, 1)
    acts = feed(core, NET, NET.proposal(b), valid=False)
    assert reports(acts) == [("invalid_payload", 1)]
    assert decoded(NET, acts, Vote) == [] and core.safety_data().highest_voted_round == 0


def _invalid(core, b, reason_part: str) -> None:
    acts = feed(core, NET, NET.proposal(b))
    reps = of_type(acts, ReportMisbehaviour)
    assert [r.kind for r in reps] == ["invalid_proposal"] and reason_part in reps[0].detail, reps
    assert decoded(NET, acts, Vote) == []


def test_block_checks_against_its_parent():
    b1 = NET.block(G, 1, ts=5000)
    qc1 = NET.qc(b1)

    def child(**kw):
        args = dict(height=2, round=2, timestamp_us=6000, author=2, parent_id=b1.id, qc=qc1, payload=b"",
                    exec_height=0, exec_root=b"")
        args.update(kw)
        return make_block(CHAIN, **args)

    cases = [
        (child(height=3), "extends height 1"),
        (child(timestamp_us=5000), "timestamp does not advance"),
        (child(timestamp_us=int((NOW + 60) * 1e6)), "too far in the future"),
        (child(exec_height=1, exec_root=b"\x01" * 32), None),  # valid; we have not executed height 1 yet
    ]
    for blk, why in cases:
        core = fresh()
        feed(core, NET, NET.proposal(b1))
        if why is None:
            # §5: no vote for a root we have not checked; it comes once we have executed height 1
            assert decoded(NET, feed(core, NET, NET.proposal(blk)), Vote) == []
            acts = core.handle(BlockExecuted(1, b"\x01" * 32), NOW)
            assert [v.block_id for v in decoded(NET, acts, Vote)] == [blk.id]
        else:
            _invalid(core, blk, why)
    # the deferred vote is dropped, and reported, when our own root turns out different
    core = fresh()
    feed(core, NET, NET.proposal(b1))
    blk = child(exec_height=1, exec_root=b"\x01" * 32)
    assert decoded(NET, feed(core, NET, NET.proposal(blk)), Vote) == []
    acts = core.handle(BlockExecuted(1, b"\x09" * 32), NOW)
    assert decoded(NET, acts, Vote) == []
    assert any(isinstance(a, ReportMisbehaviour) and "differs from ours" in a.detail for a in acts)
    # a child of a block carrying a state root may not drop or change it
    b2 = child(exec_height=1, exec_root=b"\x01" * 32)
    qc2 = NET.qc(b2)
    for root_h, root, why in ((0, b"", "older state root"), (1, b"\x02" * 32, "changes the state root")):
        core = fresh()
        feed(core, NET, NET.proposal(b1))
        feed(core, NET, NET.proposal(b2))
        b3 = make_block(CHAIN, height=3, round=3, timestamp_us=7000, author=3, parent_id=b2.id, qc=qc2,
                        payload=b"", exec_height=root_h, exec_root=root)
        _invalid(core, b3, why)


def test_no_vote_for_a_block_carrying_a_state_root_other_than_ours():
    core = fresh()
    b1 = NET.block(G, 1)
    feed(core, NET, NET.proposal(b1))
    core.handle(BlockExecuted(1, b"\x0a" * 32), NOW)
    theirs = make_block(CHAIN, height=2, round=2, timestamp_us=9000, author=2, parent_id=b1.id, qc=NET.qc(b1),
                        payload=b"", exec_height=1, exec_root=b"\x0b" * 32)
    _invalid(core, theirs, "differs from ours")
    same = make_block(CHAIN, height=2, round=2, timestamp_us=9001, author=2, parent_id=b1.id, qc=NET.qc(b1),
                      payload=b"", exec_height=1, exec_root=b"\x0a" * 32)
    core2 = fresh()
    feed(core2, NET, NET.proposal(b1))
    core2.handle(BlockExecuted(1, b"\x0a" * 32), NOW)
    assert [v.block_id for v in decoded(NET, feed(core2, NET, NET.proposal(same)), Vote)] == [same.id]


def test_a_certified_state_root_other_than_ours_halts_the_validator():
    net = NET7
    core = fresh(net)
    g = net.genesis_block()
    b1 = net.block(g, 1)
    b2 = net.block(b1, 2)
    b3 = make_block(CHAIN, height=3, round=3, timestamp_us=3002, author=3, parent_id=b2.id, qc=net.qc(b2),
                    payload=b"", exec_height=1, exec_root=b"\x0b" * 32)
    b4 = net.block(b3, 4)
    for p in (b1, b2, b3, b4):  # b4 carries the QC of b3: a quorum certified root 0b.. for height 1
        acts = feed(core, net, net.proposal(p))
        # b3 and b4 name height 1, not executed here yet: no vote until it is (§5)
        assert not of_type(acts, Halted) and [v.block_id for v in decoded(net, acts, Vote)] == (
            [p.id] if p in (b1, b2) else [])
    acts = core.handle(BlockExecuted(1, b"\x0a" * 32), NOW)
    assert of_type(acts, Halted) == [Halted(1, b"\x0a" * 32, b"\x0b" * 32)] and core.halted
    assert decoded(net, acts, Vote) == []
    # halted for good: no vote, no timeout, no proposal; it still follows commits
    b5 = net.block(b4, 5)
    acts = feed(core, net, net.proposal(b5))
    assert decoded(net, acts, Vote) == [] and core.committed_height == 3
    assert core.handle(TimerFired(core.round), NOW + 5) == []
    assert not of_type(core.handle(BlockExecuted(2, b"\x0c" * 32), NOW), Halted)  # reported once


def test_agreeing_state_root_does_not_halt():
    net = NET7
    core = fresh(net)
    g = net.genesis_block()
    b1 = net.block(g, 1)
    b2 = net.block(b1, 2)
    for p in (b1, b2):
        feed(core, net, net.proposal(p))
    assert core.handle(BlockExecuted(1, b"\x0a" * 32), NOW) == []
    b3 = make_block(CHAIN, height=3, round=3, timestamp_us=3002, author=3, parent_id=b2.id, qc=net.qc(b2),
                    payload=b"", exec_height=1, exec_root=b"\x0a" * 32)
    b4 = net.block(b3, 4)
    for p in (b3, b4):
        acts = feed(core, net, net.proposal(p))
        assert not of_type(acts, Halted) and [v.block_id for v in decoded(net, acts, Vote)] == [p.id]
    assert not core.halted


def test_proposal_far_below_our_round_is_ignored():
    core = fresh()
    b1 = NET.block(G, 1)
    qc1 = NET.qc(b1)
    b2 = NET.block(b1, 2, qc=qc1)
    b3 = NET.block(b2, 3)
    feed(core, NET, NET.proposal(b3))  # QC of round 2: we are in round 3
    assert core.round == 3
    assert feed(core, NET, NET.proposal(b1)) == []  # round 1 < 3 - 1


def test_an_observer_without_a_validator_key_follows_commits_and_signs_nothing():
    net = NET7
    for signer in (None, Ed25519Signer(b"\x99" * 32)):  # no key, and a key outside the set
        core = Core(net.config(), net.vs, signer, net.gid)
        assert core.index is None and core.start(NOW) == []
        g = net.genesis_block()
        b1 = net.block(g, 1)
        b2 = net.block(b1, 2)
        b3 = net.block(b2, 3)
        acts = []
        for b in (b1, b2, b3):
            acts += feed(core, net, net.proposal(b))
        acts += core.handle(TimerFired(core.round), NOW + 10)
        assert [[x.id for x in c.blocks] for c in of_type(acts, Commit)] == [[b1.id]]
        assert not [a for a in acts if isinstance(a, (Send, PersistSafety, SetTimer))]
        assert core.round == 3


def test_executed_first_then_a_differing_root_is_certified_halts_on_learning_it():
    """§5 'now or later': the validator executed height 1 first, refused the block carrying
    another root, and halts once it learns (here by sync) that a quorum certified it."""
    net = NET7
    core = fresh(net)
    g = net.genesis_block()
    b1 = net.block(g, 1)
    b2 = net.block(b1, 2)
    for p in (b1, b2):
        feed(core, net, net.proposal(p))
    assert core.handle(BlockExecuted(1, b"\x0a" * 32), NOW) == []
    b3 = make_block(CHAIN, height=3, round=3, timestamp_us=3002, author=3, parent_id=b2.id, qc=net.qc(b2),
                    payload=b"", exec_height=1, exec_root=b"\x0b" * 32)
    b4 = net.block(b3, 4)
    acts = feed(core, net, net.proposal(b3))
    assert [r.kind for r in of_type(acts, ReportMisbehaviour)] == ["invalid_proposal"] and not core.halted
    feed(core, net, net.proposal(b4))  # its parent b3 is not held: the core asks for sync
    acts = core.handle(MessageReceived(4, wire.encode_sync_response([], None, [b3, b4], net.qc(b4))), NOW)
    assert of_type(acts, Halted) == [Halted(1, b"\x0a" * 32, b"\x0b" * 32)] and core.halted


def test_leader_carries_the_latest_state_root_it_executed():
    core = fresh(NET, 2)
    b1 = NET.block(G, 1)
    feed(core, NET, NET.proposal(b1))
    for i in (0, 3):
        feed(core, NET, NET.vote(i, b1), i)
    assert core.round == 2
    core.handle(BlockExecuted(1, b"\x0e" * 32), NOW)
    props = decoded(NET, core.handle(PayloadReady(2, b"p"), NOW), Proposal)
    assert [(p.block.exec_height, p.block.exec_root) for p in props] == [(1, b"\x0e" * 32)]
