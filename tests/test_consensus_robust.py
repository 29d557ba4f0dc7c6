"""A Core fed random sequences of well-formed messages and events, honest and forged.

The pool holds the messages of an honest run of rounds 1..5 (proposals, every validator's
votes and timeouts, sync responses) plus forgeries with bad signatures. Whatever the order,
the Core must not raise, must sign at most one vote per round and never vote in a round it
timed out, must persist before every vote and timeout it sends, must commit one chain, and
must never accuse an honest validator of equivocation. (The Core's own proposals are left
out: the pool's proposals are signed with every key, so its own would equivocate.)
"""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from consensus_fixtures import CHAIN, NOW, Net
from mbi.consensus import wire
from mbi.consensus.events import (
    BlockExecuted, Broadcast, Commit, MessageReceived, PayloadVerified, PersistSafety, ReportMisbehaviour, Send,
    TimerFired, VerifyPayload,
)
from mbi.consensus.types import SyncRequest, Timeout, Vote

NET = Net(4)
G = NET.genesis_block()
B1 = NET.block(G, 1, payload=b"1")
B2 = NET.block(B1, 2, payload=b"2")
B3 = NET.block(B2, 3)
QC1, QC2, QC3 = NET.qc(B1), NET.qc(B2), NET.qc(B3)
TC4 = NET.tc(4, {0: QC3, 1: QC2, 2: QC3})         # round 4 timed out
B5 = NET.block(B3, 5, qc=QC3)                     # round 5 after the TC
QC5 = NET.qc(B5)
BAD = b"\x13" * 64

POOL: list[bytes] = []
POOL += [NET.msg(NET.proposal(b)) for b in (B1, B2, B3)] + [NET.msg(NET.proposal(B5, TC4))]
POOL += [NET.msg(NET.vote(i, b)) for b in (B1, B2, B3, B5) for i in range(4)]
POOL += [NET.msg(Vote(b.id, b.round, NET.vote(0, b).commit_id, i, BAD)) for b in (B2, B5) for i in range(4)]
POOL += [NET.msg(NET.timeout(i, 4, QC3 if i != 1 else QC2, None)) for i in range(4)]
POOL += [NET.msg(NET.timeout(i, r, q)) for i in range(4) for r, q in ((1, NET.gqc), (2, QC1), (6, QC5))]
POOL += [NET.msg(Timeout(4, i, QC3, None, BAD)) for i in range(4)]
POOL += [wire.encode_sync_response([B1], QC2, [B2], QC2), wire.encode_sync_response([B1, B2], QC3, [B3], QC3),
         wire.encode_sync_response([], None, [B1, B2], QC2), NET.msg(SyncRequest(1, 10))]

_event = st.one_of(
    st.tuples(st.just("msg"), st.integers(0, len(POOL) - 1)),
    st.tuples(st.just("timer"), st.just(0)),
    st.tuples(st.just("payload"), st.integers(0, 1)),
    st.tuples(st.just("executed"), st.integers(1, 3)),
)


@settings(max_examples=120)
@given(st.integers(0, 3), st.lists(_event, min_size=1, max_size=40))
def test_random_honest_and_forged_traffic_keeps_the_safety_invariants(me, events):
    core = NET.core(me)
    acts = core.start(NOW)
    voted: list[int] = []
    timed_out: set[int] = set()
    committed = [G]
    now = NOW
    pending_verify = []
    for kind, arg in events:
        if kind == "msg":
            acts = core.handle(MessageReceived(arg % 4, POOL[arg]), now)
        elif kind == "timer":
            now += 1.0
            acts = core.handle(TimerFired(core.round), now)
        elif kind == "payload":  # the driver's answer to the oldest VerifyPayload, valid or not
            if not pending_verify:
                continue
            acts = core.handle(PayloadVerified(pending_verify.pop(0), bool(arg)), now)
        else:
            acts = core.handle(BlockExecuted(arg, b"\x00" * 32), now)  # no block here carries a root
        persisted = None
        for a in acts:
            if isinstance(a, PersistSafety):
                persisted = a.safety
            elif isinstance(a, (Send, Broadcast)):
                m = wire.decode_message(a.data, NET.vs, CHAIN)
                if isinstance(m, Vote):
                    assert m.voter == me
                    assert persisted is not None and persisted.highest_voted_round >= m.round
                    assert not voted or m.round > voted[-1], (voted, m.round)
                    assert m.round not in timed_out
                    voted.append(m.round)
                elif isinstance(m, Timeout) and m.author == me and m.round not in timed_out:
                    assert persisted is not None and persisted.highest_voted_round >= m.round
                    timed_out.add(m.round)
            elif isinstance(a, Commit):
                for b in a.blocks:
                    assert b.parent_id == committed[-1].id and b.height == committed[-1].height + 1
                    committed.append(b)
            elif isinstance(a, ReportMisbehaviour):
                assert a.kind in ("bad_signature", "bad_sync", "invalid_payload"), a
            elif isinstance(a, VerifyPayload):
                pending_verify.append(a.block.id)
        assert core.committed_height == committed[-1].height
    # the leader's own votes are not emitted: check its persisted rounds never went down
    assert core.safety_data().highest_voted_round >= max(voted + list(timed_out), default=0)
