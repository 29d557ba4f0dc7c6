"""Encoding and checked decoding of consensus messages (proto/mbi_consensus.proto).

`decode_message` trusts nothing: after protobuf has parsed the syntax, every size, count,
index and bitmap is checked against the validator set and the limits before a value is
built (docs/consensus.md §7). Anything wrong raises `WireError` with a specific reason.
Signatures are not checked here; the core checks them, in batches.

A block is encoded once: `encode_block` keeps the bytes of the last few blocks it encoded
(`BlockBytesCache`), and a proposal's encoding embeds them, so the broadcast, the
block-tree write and the store write of one block share one serialization.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from mbi.consensus import mbi_consensus_pb2 as pb
from mbi.consensus.types import (
    ID_LEN, SIG_LEN, Block, BlockHeader, Message, Proposal, QuorumCert, SafetyData, SyncRequest, SyncResponse,
    Timeout, TimeoutCert, ValidatorSet, Vote, bitmap_indexes, block_id, header_id,
)

MAX_ROUND = 1 << 62  # rounds and heights stay far from uint64 wrap-around


class WireError(ValueError):
    """A consensus message that is malformed; `reason` says exactly what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Limits:
    max_payload_bytes: int = 64 << 20
    max_sync_blocks: int = 1024  # committed blocks in a sync response (the core: twice what it asks for)
    max_sync_certified: int = 1024  # certified blocks in one: the sender's chain above its committed tip
    max_proof_headers: int = 4096  # headers in one sync response's proof (§3.6)


# ---------------------------------------------------------------- encoding

def _qc_pb(qc: QuorumCert, out: pb.QuorumCert) -> None:
    out.block_id = qc.block_id
    out.round = qc.round
    out.commit_id = qc.commit_id
    out.signers = qc.signers
    out.signatures.extend(qc.signatures)


def _tc_pb(tc: TimeoutCert, out: pb.TimeoutCert) -> None:
    out.round = tc.round
    out.signers = tc.signers
    out.high_qc_rounds.extend(tc.high_qc_rounds)
    out.signatures.extend(tc.signatures)
    _qc_pb(tc.high_qc, out.high_qc)


def _block_pb(b: Block, out: pb.Block) -> None:
    out.height = b.height
    out.round = b.round
    out.timestamp_us = b.timestamp_us
    out.author = b.author
    out.parent_id = b.parent_id
    _qc_pb(b.qc, out.qc)
    out.payload = b.payload
    out.exec_height = b.exec_height
    out.exec_root = b.exec_root


def _header_pb(h: BlockHeader, out: pb.BlockHeader) -> None:
    out.height = h.height
    out.round = h.round
    out.timestamp_us = h.timestamp_us
    out.author = h.author
    out.parent_id = h.parent_id
    out.qc_round = h.qc_round
    out.payload_hash = h.payload_hash
    out.exec_height = h.exec_height
    out.exec_root = h.exec_root


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _encode_proposal(p: Proposal) -> bytes:
    """ConsensusMessage{proposal: Proposal{block, tc, signature}} framed by hand around the
    cached block bytes: the same bytes as protobuf's serializer (fields in number order,
    empty ones left out; a test checks), with one copy of the block instead of two."""
    block = encode_block(p.block)
    rest = b""
    if p.tc is not None:
        t = pb.TimeoutCert()
        _tc_pb(p.tc, t)
        tc = t.SerializeToString()
        rest += b"\x12" + _varint(len(tc)) + tc
    if p.signature:
        rest += b"\x1a" + _varint(len(p.signature)) + p.signature
    head = b"\x0a" + _varint(len(block))
    inner = len(head) + len(block) + len(rest)
    return b"".join((b"\x0a", _varint(inner), head, block, rest))


def encode_message(msg: Message) -> bytes:
    if isinstance(msg, Proposal):
        return _encode_proposal(msg)
    m = pb.ConsensusMessage()
    if isinstance(msg, Vote):
        v = m.vote
        v.block_id, v.round, v.commit_id, v.voter, v.signature = (
            msg.block_id, msg.round, msg.commit_id, msg.voter, msg.signature)
    elif isinstance(msg, Timeout):
        t = m.timeout
        t.round, t.author, t.signature = msg.round, msg.author, msg.signature
        _qc_pb(msg.high_qc, t.high_qc)
        if msg.last_tc is not None:
            _tc_pb(msg.last_tc, t.last_tc)
    elif isinstance(msg, SyncRequest):
        m.sync_request.from_height = msg.from_height
        m.sync_request.max_blocks = msg.max_blocks
    elif isinstance(msg, SyncResponse):
        return encode_sync_response(msg.committed, msg.commit_qc, msg.certified, msg.high_qc, msg.proof)
    else:
        raise TypeError(f"not a consensus message: {type(msg).__name__}")
    return m.SerializeToString()


def encode_sync_response(committed: "tuple[Block, ...] | list[Block]", commit_qc: QuorumCert | None,
                         certified: "tuple[Block, ...] | list[Block]", high_qc: QuorumCert | None,
                         proof: "tuple[BlockHeader, ...] | list[BlockHeader]" = ()) -> bytes:
    m = pb.ConsensusMessage()
    r = m.sync_response
    r.SetInParent()
    for b in committed:
        _block_pb(b, r.committed.add())
    if commit_qc is not None:
        _qc_pb(commit_qc, r.commit_qc)
    for b in certified:
        _block_pb(b, r.certified.add())
    if high_qc is not None:
        _qc_pb(high_qc, r.high_qc)
    for h in proof:
        _header_pb(h, r.proof.add())
    return m.SerializeToString()


def encode_safety(s: SafetyData) -> bytes:
    m = pb.SafetyData(highest_voted_round=s.highest_voted_round, highest_qc_round=s.highest_qc_round)
    if s.high_qc is not None:
        _qc_pb(s.high_qc, m.high_qc)
    if s.last_tc is not None:
        _tc_pb(s.last_tc, m.last_tc)
    return m.SerializeToString()


def encode_qc(qc: QuorumCert) -> bytes:
    m = pb.QuorumCert()
    _qc_pb(qc, m)
    return m.SerializeToString()


class BlockBytesCache:
    """The encodings of the last blocks encoded, by block id, bounded in count and bytes.

    A hit needs the same block, not only the same id: the id leaves out the QC's
    signatures (§6), so two blocks with one id can differ there. The comparison is by
    identity first (the usual case: the engine's own Block object), else by value.
    Thread-safe: the node encodes on its loop (tree writes) and its execution thread."""

    def __init__(self, max_entries: int = 16, max_bytes: int = 64 << 20) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._d: OrderedDict[bytes, tuple[Block, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0

    def get(self, b: Block) -> bytes | None:
        with self._lock:
            e = self._d.get(b.id)
            if e is None or not (e[0] is b or e[0] == b):
                return None
            self._d.move_to_end(b.id)
            self.hits += 1
            return e[1]

    def put(self, b: Block, data: bytes) -> None:
        if len(data) > self.max_bytes:
            return
        with self._lock:
            old = self._d.pop(b.id, None)
            if old is not None:
                self._bytes -= len(old[1])
            self._d[b.id] = (b, data)
            self._bytes += len(data)
            while len(self._d) > self.max_entries or self._bytes > self.max_bytes:
                _, (_, gone) = self._d.popitem(last=False)
                self._bytes -= len(gone)

    def __len__(self) -> int:
        return len(self._d)

    @property
    def nbytes(self) -> int:
        return self._bytes


BLOCK_BYTES = BlockBytesCache()


def encode_block(b: Block) -> bytes:
    if b.id:
        hit = BLOCK_BYTES.get(b)
        if hit is not None:
            return hit
    m = pb.Block()
    _block_pb(b, m)
    data = m.SerializeToString()
    if b.id:  # a Block built without its id (tests) is not cached: ids key the cache
        BLOCK_BYTES.put(b, data)
    return data


# ---------------------------------------------------------------- checked decoding

class _Checker:
    __slots__ = ("vs", "chain_id", "limits")

    def __init__(self, vs: ValidatorSet, chain_id: int, limits: Limits) -> None:
        self.vs, self.chain_id, self.limits = vs, chain_id, limits

    def _round(self, r: int, what: str, minimum: int = 1) -> int:
        if not minimum <= r < MAX_ROUND:
            raise WireError(f"{what} {r} out of range")
        return r

    def _id(self, b: bytes, what: str, empty_ok: bool = False) -> bytes:
        if len(b) == ID_LEN or (empty_ok and not b):
            return bytes(b)
        raise WireError(f"{what} is {len(b)} bytes, expected {ID_LEN}")

    def _signers(self, bm: bytes, nsigs: int, what: str) -> None:
        vs = self.vs
        if len(bm) != vs.bitmap_len:
            raise WireError(f"{what} signer bitmap is {len(bm)} bytes, expected {vs.bitmap_len}")
        idx = bitmap_indexes(bm)
        if idx and idx[-1] >= vs.n:
            raise WireError(f"{what} signer bitmap names validator {idx[-1]} of {vs.n}")
        if len(idx) != nsigs:
            raise WireError(f"{what} has {len(idx)} signers but {nsigs} signatures")
        if len(idx) < vs.quorum:
            raise WireError(f"{what} has {len(idx)} signers, a quorum is {vs.quorum}")

    def _sigs(self, sigs, what: str) -> tuple[bytes, ...]:
        for s in sigs:
            if len(s) != SIG_LEN:
                raise WireError(f"{what} signature is {len(s)} bytes, expected {SIG_LEN}")
        return tuple(bytes(s) for s in sigs)

    def qc(self, m: pb.QuorumCert, what: str = "qc") -> QuorumCert:
        bid = self._id(m.block_id, f"{what} block_id")
        commit_id = self._id(m.commit_id, f"{what} commit_id", empty_ok=True)
        if m.round == 0:  # only the genesis certificate has round 0, and it has no signers
            if m.signers or m.signatures or commit_id:
                raise WireError(f"{what} of round 0 must be the genesis certificate (no signers)")
            return QuorumCert(bid, 0, b"", b"", ())
        self._round(m.round, f"{what} round")
        self._signers(m.signers, len(m.signatures), what)
        return QuorumCert(bid, m.round, commit_id, bytes(m.signers), self._sigs(m.signatures, what))

    def tc(self, m: pb.TimeoutCert, what: str = "tc") -> TimeoutCert:
        r = self._round(m.round, f"{what} round")
        if len(m.high_qc_rounds) != len(m.signatures):
            raise WireError(f"{what} has {len(m.high_qc_rounds)} high-QC rounds for {len(m.signatures)} signatures")
        self._signers(m.signers, len(m.signatures), what)
        for hr in m.high_qc_rounds:
            if hr >= r:
                raise WireError(f"{what} reports a high QC of round {hr} in round {r}")
        if not m.HasField("high_qc"):
            raise WireError(f"{what} lacks its high QC")
        hqc = self.qc(m.high_qc, f"{what} high_qc")
        if hqc.round != max(m.high_qc_rounds):
            raise WireError(f"{what} high QC is of round {hqc.round}, its signers report {max(m.high_qc_rounds)}")
        return TimeoutCert(r, bytes(m.signers), tuple(m.high_qc_rounds), self._sigs(m.signatures, what), hqc)

    def _position(self, m: "pb.Block | pb.BlockHeader", what: str) -> tuple[int, int, bytes]:
        """Height, round and parent id of a block or header, and its author checked."""
        h = self._round(m.height, f"{what} height")
        r = self._round(m.round, f"{what} round")
        if m.author >= self.vs.n:
            raise WireError(f"{what} author {m.author} of {self.vs.n} validators")
        return h, r, self._id(m.parent_id, f"{what} parent_id")

    def _exec(self, m: "pb.Block | pb.BlockHeader", h: int, what: str) -> None:
        """The execution fields of §5: a state root of a lower height, or none for 0."""
        if m.exec_height >= h:
            raise WireError(f"{what} at height {h} carries the state root of height {m.exec_height}")
        if m.exec_height == 0:
            if m.exec_root:
                raise WireError(f"{what} carries a state root for height 0")
        elif len(m.exec_root) != ID_LEN:
            raise WireError(f"{what} state root is {len(m.exec_root)} bytes, expected {ID_LEN}")

    def block(self, m: pb.Block, what: str = "block") -> Block:
        h, r, parent = self._position(m, what)
        if not m.HasField("qc"):
            raise WireError(f"{what} lacks its parent's QC")
        qc = self.qc(m.qc, f"{what} qc")
        if qc.block_id != parent:
            raise WireError(f"{what} QC certifies another block than its parent")
        if qc.round >= r:
            raise WireError(f"{what} of round {r} carries a QC of round {qc.round}")
        if len(m.payload) > self.limits.max_payload_bytes:
            raise WireError(f"{what} payload is {len(m.payload)} bytes, the limit is {self.limits.max_payload_bytes}")
        self._exec(m, h, what)
        b = Block(h, r, m.timestamp_us, m.author, parent, qc, bytes(m.payload), m.exec_height, bytes(m.exec_root), b"")
        object.__setattr__(b, "id", block_id(self.chain_id, b))
        return b

    def header(self, m: pb.BlockHeader, what: str = "header") -> BlockHeader:
        """The checks of `block` that a header's fields allow; its id is recomputed here."""
        h, r, parent = self._position(m, what)
        if m.qc_round >= r:
            raise WireError(f"{what} of round {r} carries a QC of round {m.qc_round}")
        payload_hash = self._id(m.payload_hash, f"{what} payload_hash")
        self._exec(m, h, what)
        out = BlockHeader(h, r, m.timestamp_us, m.author, parent, m.qc_round, payload_hash, m.exec_height,
                          bytes(m.exec_root), b"")
        object.__setattr__(out, "id", header_id(self.chain_id, out))
        return out

    def message(self, data: bytes) -> Message:
        m = pb.ConsensusMessage()
        try:
            m.ParseFromString(data)
        except (DecodeError, RuntimeError, ValueError) as e:
            raise WireError(f"not a consensus message: {e}") from None
        kind = m.WhichOneof("msg")
        if kind == "proposal":
            p = m.proposal
            if not p.HasField("block"):
                raise WireError("proposal lacks its block")
            block = self.block(p.block)
            tc = self.tc(p.tc, "proposal tc") if p.HasField("tc") else None
            if tc is not None and tc.round >= block.round:
                raise WireError(f"proposal of round {block.round} carries a TC of round {tc.round}")
            return Proposal(block, tc, self._sigs([p.signature], "proposal")[0])
        if kind == "vote":
            v = m.vote
            if v.voter >= self.vs.n:
                raise WireError(f"vote from validator {v.voter} of {self.vs.n}")
            return Vote(self._id(v.block_id, "vote block_id"), self._round(v.round, "vote round"),
                        self._id(v.commit_id, "vote commit_id", empty_ok=True), v.voter,
                        self._sigs([v.signature], "vote")[0])
        if kind == "timeout":
            t = m.timeout
            r = self._round(t.round, "timeout round")
            if t.author >= self.vs.n:
                raise WireError(f"timeout from validator {t.author} of {self.vs.n}")
            if not t.HasField("high_qc"):
                raise WireError("timeout lacks its high QC")
            hqc = self.qc(t.high_qc, "timeout high_qc")
            if hqc.round >= r:
                raise WireError(f"timeout of round {r} reports a high QC of round {hqc.round}")
            last_tc = self.tc(t.last_tc, "timeout last_tc") if t.HasField("last_tc") else None
            if last_tc is not None and last_tc.round >= r:
                raise WireError(f"timeout of round {r} carries a TC of round {last_tc.round}")
            return Timeout(r, t.author, hqc, last_tc, self._sigs([t.signature], "timeout")[0])
        if kind == "sync_request":
            s = m.sync_request
            self._round(s.from_height, "sync from_height")
            if not 1 <= s.max_blocks <= self.limits.max_sync_blocks:
                raise WireError(f"sync request for {s.max_blocks} blocks, the limit is {self.limits.max_sync_blocks}")
            return SyncRequest(s.from_height, s.max_blocks)
        if kind == "sync_response":
            s = m.sync_response
            if len(s.committed) > self.limits.max_sync_blocks:
                raise WireError(f"sync response of {len(s.committed)} committed blocks, "
                                f"the limit is {self.limits.max_sync_blocks}")
            if len(s.certified) > self.limits.max_sync_certified:
                raise WireError(f"sync response of {len(s.certified)} certified blocks, "
                                f"the limit is {self.limits.max_sync_certified}")
            if bool(s.committed) != s.HasField("commit_qc"):
                raise WireError("sync response: committed blocks and their commit QC come together")
            committed = tuple(self.block(b, "sync block") for b in s.committed)
            cqc = self.qc(s.commit_qc, "sync commit_qc") if s.HasField("commit_qc") else None
            certified = tuple(self.block(b, "sync block") for b in s.certified)
            hqc = self.qc(s.high_qc, "sync high_qc") if s.HasField("high_qc") else None
            if len(s.proof) > self.limits.max_proof_headers:
                raise WireError(f"sync response proof of {len(s.proof)} headers, "
                                f"the limit is {self.limits.max_proof_headers}")
            if s.proof and not s.committed:
                raise WireError("sync response: a proof without committed blocks")
            if s.proof and s.certified:
                raise WireError("sync response: certified blocks after a proof (they cannot extend a prefix)")
            proof = tuple(self.header(h, "sync proof header") for h in s.proof)
            return SyncResponse(committed, cqc, certified, hqc, proof)
        raise WireError("empty consensus message")


def decode_message(data: bytes, validators: ValidatorSet, chain_id: int, limits: Limits = Limits()) -> Message:
    """Decode and check one ConsensusMessage; raises WireError."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise WireError(f"a consensus message is bytes, not {type(data).__name__}")
    return _Checker(validators, chain_id, limits).message(bytes(data))


def decode_safety(data: bytes, validators: ValidatorSet, chain_id: int) -> SafetyData:
    m = pb.SafetyData()
    try:
        m.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise WireError(f"not safety data: {e}") from None
    c = _Checker(validators, chain_id, Limits())
    hqc = c.qc(m.high_qc, "safety high_qc") if m.HasField("high_qc") else None
    tc = c.tc(m.last_tc, "safety last_tc") if m.HasField("last_tc") else None
    return SafetyData(m.highest_voted_round, m.highest_qc_round, hqc, tc)


def decode_qc(data: bytes, validators: ValidatorSet, chain_id: int) -> QuorumCert:
    m = pb.QuorumCert()
    try:
        m.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise WireError(f"not a quorum certificate: {e}") from None
    return _Checker(validators, chain_id, Limits()).qc(m)


def decode_block(data: bytes, validators: ValidatorSet, chain_id: int, limits: Limits = Limits()) -> Block:
    m = pb.Block()
    try:
        m.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise WireError(f"not a block: {e}") from None
    return _Checker(validators, chain_id, limits).block(m)
