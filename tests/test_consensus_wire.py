"""The consensus wire format: round trips, every decoder check by its reason, and fuzzing.

Each check is triggered by editing one field of a valid message at the protobuf level
(proto/mbi_consensus.proto) and expecting the exact WireError reason. Fuzzing feeds random
and mutated bytes to every decoder and to a Core: the only outcomes allowed are a valid
value or WireError, and a Core given a malformed message answers with one "malformed"
report and changes nothing.
"""
from __future__ import annotations

from typing import Callable

import pytest
from hypothesis import given, settings, strategies as st

from consensus_fixtures import CHAIN, NOW, Net, of_type
from mbi.consensus import mbi_consensus_pb2 as pb
from mbi.consensus import wire
from mbi.consensus.events import MessageReceived, PayloadVerified, ReportMisbehaviour, VerifyPayload
from mbi.consensus.types import (
    Block, Proposal, QuorumCert, SafetyData, SyncRequest, SyncResponse, Timeout, Vote, bitmap_indexes,
    make_block,
)
from mbi.consensus.wire import Limits, WireError

NET = Net(4)
G = NET.genesis_block()
B1 = NET.block(G, 1, payload=b"one")
QC1 = NET.qc(B1)
B2 = NET.block(B1, 2, payload=b"two")
QC2 = NET.qc(B2)
TC2 = NET.tc(2, {0: QC1, 1: NET.gqc, 3: QC1})
B3 = NET.block(B1, 3, qc=QC1)
B3E = make_block(CHAIN, height=3, round=4, timestamp_us=9000, author=0, parent_id=B2.id, qc=QC2, payload=b"",
                 exec_height=1, exec_root=b"\x42" * 32)  # carries the state root of height 1

PROP_G = NET.proposal(B1)           # on the genesis QC
PROP = NET.proposal(B2)             # on QC1
PROP_TC = NET.proposal(B3, TC2)     # round 3 after the TC of round 2
VOTE = NET.vote(0, B2)              # commit id: B1
VOTE0 = NET.vote(3, B1)             # empty commit id
TMO = NET.timeout(1, 3, QC1, TC2)
TMO0 = NET.timeout(2, 1, NET.gqc)
SREQ = SyncRequest(5, 64)
SRESP = SyncResponse((B1,), QC2, (B2,), QC2)
SRESP0 = SyncResponse((), None, (), None)

ALL = [PROP_G, PROP, PROP_TC, NET.proposal(B3E), VOTE, VOTE0, TMO, TMO0, SREQ, SRESP, SRESP0]


def dec(data: bytes, limits: Limits = Limits()):
    return wire.decode_message(data, NET.vs, CHAIN, limits)


# ------------------------------------------------------------------ round trips

@pytest.mark.parametrize("msg", ALL, ids=lambda m: type(m).__name__)
def test_every_message_round_trips(msg):
    back = dec(wire.encode_message(msg))
    assert back == msg
    if isinstance(msg, Proposal):
        assert back.block.id == msg.block.id  # recomputed by the decoder from the fields
    if isinstance(msg, SyncResponse):
        assert [b.id for b in back.committed + back.certified] == [b.id for b in msg.committed + msg.certified]


def test_sync_response_encoders_agree():
    assert wire.encode_message(SRESP) == wire.encode_sync_response([B1], QC2, [B2], QC2)


def test_block_qc_and_safety_round_trip():
    for b in (B1, B2, B3, B3E):
        back = wire.decode_block(wire.encode_block(b), NET.vs, CHAIN)
        assert back == b and back.id == b.id
    for qc in (NET.gqc, QC1, QC2):
        assert wire.decode_qc(wire.encode_qc(qc), NET.vs, CHAIN) == qc
    for s in (SafetyData(0, 0, None), SafetyData(3, 1, QC1, TC2), SafetyData(9, 2, QC2)):
        assert wire.decode_safety(wire.encode_safety(s), NET.vs, CHAIN) == s


def test_block_id_depends_on_chain():
    other = wire.decode_block(wire.encode_block(B2), NET.vs, CHAIN + 1)
    assert other == B2 and other.id != B2.id


def test_encode_rejects_non_messages():
    with pytest.raises(TypeError):
        wire.encode_message(QC1)  # type: ignore[arg-type]


# ------------------------------------------------------------------ every check by its reason

def _pb(msg) -> pb.ConsensusMessage:
    m = pb.ConsensusMessage()
    m.ParseFromString(wire.encode_message(msg))
    return m


def _set(obj, **kw):
    for k, v in kw.items():
        setattr(obj, k, v)


def _sigs(qc, sigs):
    del qc.signatures[:]
    qc.signatures.extend(sigs)


S = b"\x05" * 64
CASES: list[tuple[str, object, Callable, str]] = [
    # quorum certificates (inside a block)
    ("qc_block_id", PROP, lambda m: _set(m.proposal.block.qc, block_id=b"\x01" * 31),
     "block qc block_id is 31 bytes, expected 32"),
    ("qc_commit_id", PROP, lambda m: _set(m.proposal.block.qc, commit_id=b"\x01" * 5),
     "block qc commit_id is 5 bytes, expected 32"),
    ("qc_genesis_signers", PROP_G, lambda m: _set(m.proposal.block.qc, signers=b"\x07"),
     "block qc of round 0 must be the genesis certificate (no signers)"),
    ("qc_genesis_commit", PROP_G, lambda m: _set(m.proposal.block.qc, commit_id=b"\x01" * 32),
     "block qc of round 0 must be the genesis certificate (no signers)"),
    ("qc_round_range", PROP, lambda m: _set(m.proposal.block.qc, round=1 << 62),
     f"block qc round {1 << 62} out of range"),
    ("qc_bitmap_len", PROP, lambda m: _set(m.proposal.block.qc, signers=b"\x07\x00"),
     "block qc signer bitmap is 2 bytes, expected 1"),
    ("qc_bitmap_beyond_n", PROP, lambda m: (_set(m.proposal.block.qc, signers=b"\x17"),
                                            m.proposal.block.qc.signatures.append(S)),
     "block qc signer bitmap names validator 4 of 4"),
    ("qc_count", PROP, lambda m: _set(m.proposal.block.qc, signers=b"\x0f"),
     "block qc has 4 signers but 3 signatures"),
    ("qc_quorum", PROP, lambda m: (_set(m.proposal.block.qc, signers=b"\x03"), _sigs(m.proposal.block.qc, [S, S])),
     "block qc has 2 signers, a quorum is 3"),
    ("qc_sig_len", PROP, lambda m: _sigs(m.proposal.block.qc, [S, S, S[:63]]),
     "block qc signature is 63 bytes, expected 64"),
    # timeout certificates (inside a proposal)
    ("tc_round", PROP_TC, lambda m: _set(m.proposal.tc, round=0), "proposal tc round 0 out of range"),
    ("tc_rounds_count", PROP_TC, lambda m: m.proposal.tc.high_qc_rounds.pop(),
     "proposal tc has 2 high-QC rounds for 3 signatures"),
    ("tc_quorum", PROP_TC, lambda m: (_set(m.proposal.tc, signers=b"\x03"), m.proposal.tc.signatures.pop(),
                                      m.proposal.tc.high_qc_rounds.pop()),
     "proposal tc has 2 signers, a quorum is 3"),
    ("tc_bitmap_beyond_n", PROP_TC, lambda m: _set(m.proposal.tc, signers=b"\x83"),
     "proposal tc signer bitmap names validator 7 of 4"),
    ("tc_high_round_not_below", PROP_TC, lambda m: m.proposal.tc.high_qc_rounds.__setitem__(1, 2),
     "proposal tc reports a high QC of round 2 in round 2"),
    ("tc_lacks_high_qc", PROP_TC, lambda m: m.proposal.tc.ClearField("high_qc"), "proposal tc lacks its high QC"),
    ("tc_high_qc_round", PROP_TC, lambda m: (m.proposal.tc.high_qc_rounds.__setitem__(0, 0),
                                             m.proposal.tc.high_qc_rounds.__setitem__(2, 0)),
     "proposal tc high QC is of round 1, its signers report 0"),
    ("tc_inner_qc", PROP_TC, lambda m: _set(m.proposal.tc.high_qc, signers=b"\x01"),
     "proposal tc high_qc has 1 signers but 3 signatures"),
    ("tc_not_before_block", PROP_TC, lambda m: _set(m.proposal.tc, round=3),
     "proposal of round 3 carries a TC of round 3"),
    # blocks
    ("block_height", PROP, lambda m: _set(m.proposal.block, height=0), "block height 0 out of range"),
    ("block_round", PROP, lambda m: _set(m.proposal.block, round=0), "block round 0 out of range"),
    ("block_round_max", PROP, lambda m: _set(m.proposal.block, round=wire.MAX_ROUND),
     f"block round {wire.MAX_ROUND} out of range"),
    ("block_author", PROP, lambda m: _set(m.proposal.block, author=4), "block author 4 of 4 validators"),
    ("block_parent_len", PROP, lambda m: _set(m.proposal.block, parent_id=b"\x01" * 33),
     "block parent_id is 33 bytes, expected 32"),
    ("block_lacks_qc", PROP, lambda m: m.proposal.block.ClearField("qc"), "block lacks its parent's QC"),
    ("block_qc_other_parent", PROP, lambda m: _set(m.proposal.block, parent_id=b"\x01" * 32),
     "block QC certifies another block than its parent"),
    ("block_qc_round", PROP, lambda m: _set(m.proposal.block, round=1), "block of round 1 carries a QC of round 1"),
    ("block_exec_height", PROP, lambda m: _set(m.proposal.block, exec_height=2, exec_root=b"\x01" * 32),
     "block at height 2 carries the state root of height 2"),
    ("block_exec_root_at_0", PROP, lambda m: _set(m.proposal.block, exec_root=b"\x01" * 32),
     "block carries a state root for height 0"),
    ("block_exec_root_len", PROP, lambda m: _set(m.proposal.block, exec_height=1, exec_root=b"\x01" * 31),
     "block state root is 31 bytes, expected 32"),
    ("block_exec_root_missing", PROP, lambda m: _set(m.proposal.block, exec_height=1),
     "block state root is 0 bytes, expected 32"),
    # proposals
    ("proposal_lacks_block", PROP, lambda m: m.proposal.ClearField("block"), "proposal lacks its block"),
    ("proposal_sig", PROP, lambda m: _set(m.proposal, signature=b"\x01" * 10),
     "proposal signature is 10 bytes, expected 64"),
    # votes
    ("vote_voter", VOTE, lambda m: _set(m.vote, voter=4), "vote from validator 4 of 4"),
    ("vote_block_id", VOTE, lambda m: _set(m.vote, block_id=b""), "vote block_id is 0 bytes, expected 32"),
    ("vote_commit_id", VOTE, lambda m: _set(m.vote, commit_id=b"\x01" * 7), "vote commit_id is 7 bytes, expected 32"),
    ("vote_round", VOTE, lambda m: _set(m.vote, round=0), "vote round 0 out of range"),
    ("vote_sig", VOTE, lambda m: _set(m.vote, signature=b"\x01" * 65), "vote signature is 65 bytes, expected 64"),
    # timeouts
    ("timeout_round", TMO, lambda m: _set(m.timeout, round=0), "timeout round 0 out of range"),
    ("timeout_author", TMO, lambda m: _set(m.timeout, author=9), "timeout from validator 9 of 4"),
    ("timeout_lacks_qc", TMO, lambda m: m.timeout.ClearField("high_qc"), "timeout lacks its high QC"),
    ("timeout_qc_round", TMO, lambda m: _set(m.timeout, round=1), "timeout of round 1 reports a high QC of round 1"),
    ("timeout_tc_round", TMO, lambda m: _set(m.timeout, round=2), "timeout of round 2 carries a TC of round 2"),
    ("timeout_tc_inner", TMO, lambda m: _set(m.timeout.last_tc, signers=b""),
     "timeout last_tc signer bitmap is 0 bytes, expected 1"),
    ("timeout_qc_inner", TMO, lambda m: _sigs(m.timeout.high_qc, [S, S, S, S]),
     "timeout high_qc has 3 signers but 4 signatures"),
    ("timeout_sig", TMO, lambda m: _set(m.timeout, signature=b""), "timeout signature is 0 bytes, expected 64"),
    # sync
    ("sync_from", SREQ, lambda m: _set(m.sync_request, from_height=0), "sync from_height 0 out of range"),
    ("sync_max_0", SREQ, lambda m: _set(m.sync_request, max_blocks=0), "sync request for 0 blocks, the limit is 1024"),
    ("sync_max_over", SREQ, lambda m: _set(m.sync_request, max_blocks=1025),
     "sync request for 1025 blocks, the limit is 1024"),
    ("sync_committed_no_qc", SRESP, lambda m: m.sync_response.ClearField("commit_qc"),
     "sync response: committed blocks and their commit QC come together"),
    ("sync_qc_no_committed", SRESP, lambda m: m.sync_response.ClearField("committed"),
     "sync response: committed blocks and their commit QC come together"),
    ("sync_bad_block", SRESP, lambda m: _set(m.sync_response.certified[0], author=4),
     "sync block author 4 of 4 validators"),
    ("sync_bad_commit_qc", SRESP, lambda m: _set(m.sync_response.commit_qc, block_id=b"\x01"),
     "sync commit_qc block_id is 1 bytes, expected 32"),
    ("sync_bad_high_qc", SRESP, lambda m: _set(m.sync_response.high_qc, round=0),
     "sync high_qc of round 0 must be the genesis certificate (no signers)"),
]


@pytest.mark.parametrize("name,base,mutate,reason", CASES, ids=[c[0] for c in CASES])
def test_each_decoder_check_has_its_reason(name, base, mutate, reason):
    m = _pb(base)
    mutate(m)
    with pytest.raises(WireError) as e:
        dec(m.SerializeToString())
    assert e.value.reason == reason
    assert str(e.value) == reason


def test_payload_and_sync_limits():
    small = Limits(max_payload_bytes=3, max_sync_blocks=1)
    assert dec(wire.encode_message(PROP), small) == PROP  # b"two": exactly at the limit
    big = NET.proposal(NET.block(B1, 2, payload=b"four"))
    with pytest.raises(WireError) as e:
        dec(wire.encode_message(big), small)
    assert e.value.reason == "block payload is 4 bytes, the limit is 3"
    assert dec(wire.encode_message(SRESP), small) == SRESP  # one committed block; certified ones count apart
    with pytest.raises(WireError) as e:
        dec(wire.encode_message(SyncResponse((B1, B2), QC2, (), None)), small)
    assert e.value.reason == "sync response of 2 committed blocks, the limit is 1"
    with pytest.raises(WireError) as e:
        dec(wire.encode_message(SRESP), Limits(max_sync_certified=0))
    assert e.value.reason == "sync response of 1 certified blocks, the limit is 0"
    with pytest.raises(WireError) as e:
        dec(wire.encode_message(SyncRequest(1, 2)), small)
    assert e.value.reason == "sync request for 2 blocks, the limit is 1"
    with pytest.raises(WireError) as e:
        wire.decode_block(wire.encode_block(big.block), NET.vs, CHAIN, small)
    assert e.value.reason == "block payload is 4 bytes, the limit is 3"


def test_empty_garbage_and_non_bytes():
    for data, reason in ((b"", "empty consensus message"),
                         (pb.ConsensusMessage().SerializeToString(), "empty consensus message"),
                         (b"\x48\x01", "empty consensus message")):  # an unknown field 9 only: skipped
        with pytest.raises(WireError) as e:
            dec(data)
        assert e.value.reason == reason, data
    with pytest.raises(WireError) as e:
        dec(b"\x0a\xff\xff\xff\xff\x0f")  # a length far beyond the data
    assert e.value.reason.startswith("not a consensus message")
    with pytest.raises(WireError) as e:
        dec("a string")  # type: ignore[arg-type]
    assert e.value.reason == "a consensus message is bytes, not str"
    assert dec(bytearray(wire.encode_message(VOTE))) == VOTE
    assert dec(memoryview(wire.encode_message(VOTE))) == VOTE


def test_standalone_decoders_check_like_the_message_decoder():
    with pytest.raises(WireError) as e:
        wire.decode_qc(wire.encode_qc(NET.qc(B1, voters=[0, 1])), NET.vs, CHAIN)
    assert e.value.reason == "qc has 2 signers, a quorum is 3"
    with pytest.raises(WireError) as e:
        wire.decode_qc(b"\xff", NET.vs, CHAIN)
    assert e.value.reason.startswith("not a quorum certificate")
    bad_block = pb.Block()
    bad_block.ParseFromString(wire.encode_block(B2))
    bad_block.author = 77
    with pytest.raises(WireError) as e:
        wire.decode_block(bad_block.SerializeToString(), NET.vs, CHAIN)
    assert e.value.reason == "block author 77 of 4 validators"
    with pytest.raises(WireError) as e:
        wire.decode_block(b"\xff", NET.vs, CHAIN)
    assert e.value.reason.startswith("not a block")
    sd = pb.SafetyData()
    sd.ParseFromString(wire.encode_safety(SafetyData(3, 1, QC1, TC2)))
    sd.last_tc.round = 1  # its high QC rounds (1, 0, 1) are not below 1
    with pytest.raises(WireError) as e:
        wire.decode_safety(sd.SerializeToString(), NET.vs, CHAIN)
    assert e.value.reason == "safety last_tc reports a high QC of round 1 in round 1"
    sd.ParseFromString(wire.encode_safety(SafetyData(3, 1, QC1)))
    sd.high_qc.signers = b"\x01\x00"
    with pytest.raises(WireError) as e:
        wire.decode_safety(sd.SerializeToString(), NET.vs, CHAIN)
    assert e.value.reason == "safety high_qc signer bitmap is 2 bytes, expected 1"
    with pytest.raises(WireError) as e:
        wire.decode_safety(b"\xff", NET.vs, CHAIN)
    assert e.value.reason.startswith("not safety data")


# ------------------------------------------------------------------ fuzzing

MESSAGES = [wire.encode_message(m) for m in ALL]
BLOCKS = [wire.encode_block(b) for b in (B1, B2, B3, B3E)]
QCS = [wire.encode_qc(q) for q in (NET.gqc, QC1, QC2)]
SAFETIES = [wire.encode_safety(s) for s in (SafetyData(3, 1, QC1, TC2), SafetyData(1, 0, NET.gqc))]


@st.composite
def mutated(draw, corpus: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(corpus)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "splice", "insert", "delete", "concat", "byte"]))
        n = len(data)
        if op == "flip" and n:
            i = draw(st.integers(0, n - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte" and n:
            data[draw(st.integers(0, n - 1))] = draw(st.integers(0, 255))
        elif op == "truncate":
            data = data[:draw(st.integers(0, n))]
        elif op == "splice" and n:
            i = draw(st.integers(0, n))
            j = draw(st.integers(i, min(n, i + 40)))
            data[i:j] = draw(st.binary(max_size=40))
        elif op == "insert":
            i = draw(st.integers(0, n))
            data[i:i] = draw(st.binary(min_size=1, max_size=12))
        elif op == "delete" and n:
            i = draw(st.integers(0, n - 1))
            del data[i:i + draw(st.integers(1, 8))]
        elif op == "concat":  # protobuf merges concatenated messages field by field
            other = draw(st.sampled_from(corpus))
            data = data + other if draw(st.booleans()) else bytearray(other) + data
    return bytes(data)


def _valid_qc(qc: QuorumCert) -> None:
    assert len(qc.block_id) == 32 and len(qc.commit_id) in (0, 32)
    if qc.round == 0:
        assert qc.signers == b"" and qc.signatures == ()
    else:
        idx = bitmap_indexes(qc.signers)
        assert len(qc.signers) == NET.vs.bitmap_len and len(idx) == len(qc.signatures) >= NET.vs.quorum
        assert idx[-1] < NET.n and all(len(s) == 64 for s in qc.signatures)


def _valid_block(b: Block) -> None:
    assert 1 <= b.height < wire.MAX_ROUND and 1 <= b.round < wire.MAX_ROUND and b.author < NET.n
    assert b.qc.block_id == b.parent_id and b.qc.round < b.round and b.exec_height < b.height
    assert len(b.exec_root) == (32 if b.exec_height else 0)
    _valid_qc(b.qc)


def _check_outcome(fn, data: bytes):
    try:
        v = fn(data)
    except WireError as e:
        assert e.reason and isinstance(e.reason, str)
        return None
    return v


def _holds_its_checks(m) -> None:
    """A decoded value satisfies what the decoder promises, and re-encodes to itself."""
    if isinstance(m, Proposal):
        _valid_block(m.block)
        assert len(m.signature) == 64
        if m.tc is not None:
            assert m.tc.round < m.block.round and m.tc.high_qc.round == max(m.tc.high_qc_rounds)
    elif isinstance(m, Vote):
        assert m.voter < NET.n and m.round >= 1 and len(m.signature) == 64
    elif isinstance(m, Timeout):
        assert m.author < NET.n and m.high_qc.round < m.round
        _valid_qc(m.high_qc)
    elif isinstance(m, SyncRequest):
        assert m.from_height >= 1 and 1 <= m.max_blocks <= 1024
    else:
        assert isinstance(m, SyncResponse)
        assert bool(m.committed) == (m.commit_qc is not None)
        for b in m.committed + m.certified:
            _valid_block(b)
    assert dec(wire.encode_message(m)) == m


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes_give_a_message_or_wire_error(data):
    m = _check_outcome(dec, data)
    if m is not None:
        _holds_its_checks(m)
    for fn in (lambda d: wire.decode_safety(d, NET.vs, CHAIN), lambda d: wire.decode_block(d, NET.vs, CHAIN),
               lambda d: wire.decode_qc(d, NET.vs, CHAIN)):
        _check_outcome(fn, data)


@settings(max_examples=400)
@given(mutated(MESSAGES))
def test_fuzz_mutated_messages_give_a_message_or_wire_error(data):
    m = _check_outcome(dec, data)
    if m is not None:
        _holds_its_checks(m)


@settings(max_examples=200)
@given(st.one_of(mutated(BLOCKS), mutated(QCS), mutated(SAFETIES)))
def test_fuzz_mutated_blocks_qcs_and_safety_data(data):
    b = _check_outcome(lambda d: wire.decode_block(d, NET.vs, CHAIN), data)
    if b is not None:
        _valid_block(b)
        assert wire.decode_block(wire.encode_block(b), NET.vs, CHAIN) == b
    q = _check_outcome(lambda d: wire.decode_qc(d, NET.vs, CHAIN), data)
    if q is not None:
        _valid_qc(q)
    s = _check_outcome(lambda d: wire.decode_safety(d, NET.vs, CHAIN), data)
    if s is not None:
        for c in (s.high_qc, s.last_tc.high_qc if s.last_tc else None):
            if c is not None:
                _valid_qc(c)
        assert wire.decode_safety(wire.encode_safety(s), NET.vs, CHAIN) == s


# ------------------------------------------------------------------ a Core under fuzzed input

def _busy_core():
    """Core 0 in round 3 holding blocks 1 and 2, having voted, with a TC-free history."""
    core = NET.core(0)
    core.start(NOW)
    for p in (PROP_G, PROP):
        acts = core.handle(MessageReceived(p.block.author, wire.encode_message(p)), NOW)
        for v in of_type(acts, VerifyPayload):
            core.handle(PayloadVerified(v.block.id, True), NOW)
    assert core.round == 2 and len(core.blocks) == 3
    return core


def _observable(core) -> tuple:
    return (core.round, core.high_qc, core.committed_height, core.committed_id, core.safety_data(),
            len(core.blocks), core.last_tc, core.halted, core.timeouts_in_row)


@settings(max_examples=250)
@given(st.one_of(mutated(MESSAGES), st.binary(max_size=200)))
def test_fuzz_core_never_raises_and_malformed_changes_nothing(data):
    core = _busy_core()
    before = _observable(core)
    try:
        dec(data, core.limits)
        malformed = None
    except WireError as e:
        malformed = e.reason
    acts = core.handle(MessageReceived("fuzzer", data), NOW)
    if malformed is not None:
        assert acts == [ReportMisbehaviour("malformed", "fuzzer", None, malformed)]
        assert _observable(core) == before
    else:
        for a in acts:
            assert not isinstance(a, ReportMisbehaviour) or a.kind != "malformed"
