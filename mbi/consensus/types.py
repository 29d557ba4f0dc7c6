"""Consensus values: validator set, certificates, blocks and messages, and their digests.

Everything here is an immutable value. Ids and signed digests are SHA-256 over fixed
binary preimages (docs/consensus.md §6), never over a protobuf encoding, so that no
serializer choice can change what a signature means.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from typing import Union

ID_LEN = 32
SIG_LEN = 64
KEY_LEN = 32
EMPTY_ROOT = b""

# Message kinds inside signed digests (docs/consensus.md §6).
KIND_PROPOSAL = 1
KIND_VOTE = 2
KIND_TIMEOUT = 3

_DOMAIN = b"MBI-CONSENSUS-V1\x00"
_BLOCK_DOMAIN = b"MBI-BLOCK-V1\x00"
_GENESIS_DOMAIN = b"MBI-GENESIS-V1\x00"
_U64 = struct.Struct(">Q")


def _sha256(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


class ValidatorSet:
    """The ordered validators of a chain: index i is the i-th public key of genesis.

    f = ⌊(n−1)/3⌋ faults are tolerated; a quorum is n − f (docs/consensus.md §2).
    """

    __slots__ = ("keys", "n", "f", "quorum", "_index", "bitmap_len")

    def __init__(self, keys: "list[bytes] | tuple[bytes, ...]") -> None:
        keys = tuple(bytes(k) for k in keys)
        if not 1 <= len(keys) <= 1024:
            raise ValueError(f"a validator set has 1 to 1024 validators, got {len(keys)}")
        for k in keys:
            if len(k) != KEY_LEN:
                raise ValueError("validator public keys are 32 bytes")
        if len(set(keys)) != len(keys):
            raise ValueError("a validator set holds each key once")
        self.keys = keys
        self.n = len(keys)
        self.f = (self.n - 1) // 3
        self.quorum = self.n - self.f
        self.bitmap_len = (self.n + 7) // 8
        self._index = {k: i for i, k in enumerate(keys)}

    def index_of(self, key: bytes) -> int | None:
        return self._index.get(bytes(key))

    def leader(self, round: int) -> int:
        """Round-robin from genesis (§3.1)."""
        return round % self.n

    def digest(self) -> bytes:
        return _sha256(b"".join(self.keys))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ValidatorSet) and self.keys == other.keys

    def __hash__(self) -> int:
        return hash(self.keys)


def bitmap_of(indexes: "list[int] | tuple[int, ...]", n: int) -> bytes:
    bm = bytearray((n + 7) // 8)
    for i in indexes:
        bm[i >> 3] |= 1 << (i & 7)
    return bytes(bm)


def bitmap_indexes(bm: bytes) -> list[int]:
    out = []
    for byte_i, byte in enumerate(bm):
        while byte:
            low = byte & -byte
            out.append(byte_i * 8 + low.bit_length() - 1)
            byte ^= low
    return out


def vote_digest(chain_id: int, round: int, block_id: bytes, commit_id: bytes) -> bytes:
    """What a vote signs: chain id, kind, round, block id and the id it would commit."""
    return _sha256(_DOMAIN + _U64.pack(chain_id) + bytes((KIND_VOTE,)) + _U64.pack(round)
                   + block_id + bytes((len(commit_id),)) + commit_id)


def timeout_digest(chain_id: int, round: int, high_qc_round: int) -> bytes:
    """What a timeout signs: chain id, kind, round, and the round of the signer's highest QC."""
    return _sha256(_DOMAIN + _U64.pack(chain_id) + bytes((KIND_TIMEOUT,)) + _U64.pack(round)
                   + _U64.pack(high_qc_round))


def proposal_digest(chain_id: int, round: int, block_id: bytes) -> bytes:
    return _sha256(_DOMAIN + _U64.pack(chain_id) + bytes((KIND_PROPOSAL,)) + _U64.pack(round) + block_id)


def genesis_block_id(chain_id: int, genesis_hash: bytes) -> bytes:
    """The id of the virtual height-0 block every chain starts from (§3.6)."""
    return _sha256(_GENESIS_DOMAIN + _U64.pack(chain_id) + bytes(genesis_hash))


@dataclass(frozen=True, slots=True)
class QuorumCert:
    block_id: bytes
    round: int
    commit_id: bytes
    signers: bytes
    signatures: tuple[bytes, ...]

    def key(self) -> bytes:
        """Identity of this exact certificate (signatures included), for verify caches."""
        return _sha256(self.block_id + _U64.pack(self.round) + self.commit_id + self.signers
                       + b"".join(self.signatures))


@dataclass(frozen=True, slots=True)
class TimeoutCert:
    round: int
    signers: bytes
    high_qc_rounds: tuple[int, ...]
    signatures: tuple[bytes, ...]
    high_qc: QuorumCert

    def key(self) -> bytes:
        return _sha256(_U64.pack(self.round) + self.signers + b"".join(_U64.pack(r) for r in self.high_qc_rounds)
                       + b"".join(self.signatures) + self.high_qc.key())

    def max_high_qc_round(self) -> int:
        return max(self.high_qc_rounds)


@dataclass(frozen=True, slots=True)
class Block:
    height: int
    round: int
    timestamp_us: int
    author: int
    parent_id: bytes
    qc: QuorumCert
    payload: bytes
    exec_height: int
    exec_root: bytes
    id: bytes = field(compare=False)  # block_id(chain_id, self): set by make_block or the decoder


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """A block without its payload: what its id commits to (§6), the payload by its hash.
    Sync proves a commit group's prefix committed with the headers of the rest (§3.6)."""
    height: int
    round: int
    timestamp_us: int
    author: int
    parent_id: bytes
    qc_round: int
    payload_hash: bytes
    exec_height: int
    exec_root: bytes
    id: bytes = field(compare=False)  # header_id(chain_id, self): set by header_of or the decoder


def _block_preimage(chain_id: int, height: int, round: int, timestamp_us: int, author: int, parent_id: bytes,
                    qc_round: int, payload_hash: bytes, exec_height: int, exec_root: bytes) -> bytes:
    return (_BLOCK_DOMAIN + _U64.pack(chain_id) + _U64.pack(height) + _U64.pack(round) + _U64.pack(timestamp_us)
            + struct.pack(">I", author) + parent_id + _U64.pack(qc_round) + payload_hash + _U64.pack(exec_height)
            + bytes((len(exec_root),)) + exec_root)


def block_id(chain_id: int, b: "Block") -> bytes:
    """SHA-256 of the block's fixed preimage (§6); the QC's signatures are not part of it."""
    return _sha256(_block_preimage(chain_id, b.height, b.round, b.timestamp_us, b.author, b.parent_id, b.qc.round,
                                   _sha256(b.payload), b.exec_height, b.exec_root))


def header_id(chain_id: int, h: BlockHeader) -> bytes:
    """The id of the block `h` is the header of: the same preimage as block_id."""
    return _sha256(_block_preimage(chain_id, h.height, h.round, h.timestamp_us, h.author, h.parent_id, h.qc_round,
                                   h.payload_hash, h.exec_height, h.exec_root))


def header_of(b: "Block") -> BlockHeader:
    """The header of a block, with the block's own id."""
    return BlockHeader(b.height, b.round, b.timestamp_us, b.author, b.parent_id, b.qc.round, _sha256(b.payload),
                       b.exec_height, b.exec_root, b.id)


def make_block(chain_id: int, *, height: int, round: int, timestamp_us: int, author: int, parent_id: bytes,
               qc: QuorumCert, payload: bytes, exec_height: int, exec_root: bytes) -> Block:
    """A block with its id computed for `chain_id`."""
    b = Block(height, round, timestamp_us, author, parent_id, qc, payload, exec_height, exec_root, b"")
    object.__setattr__(b, "id", block_id(chain_id, b))
    return b


def genesis_qc(genesis_id: bytes) -> QuorumCert:
    """The certificate of the genesis block: round 0, no signers (trusted by definition)."""
    return QuorumCert(genesis_id, 0, b"", b"", ())


@dataclass(frozen=True, slots=True)
class Proposal:
    block: Block
    tc: TimeoutCert | None
    signature: bytes


@dataclass(frozen=True, slots=True)
class Vote:
    block_id: bytes
    round: int
    commit_id: bytes
    voter: int
    signature: bytes


@dataclass(frozen=True, slots=True)
class Timeout:
    round: int
    author: int
    high_qc: QuorumCert
    last_tc: TimeoutCert | None
    signature: bytes


@dataclass(frozen=True, slots=True)
class SyncRequest:
    from_height: int
    max_blocks: int


@dataclass(frozen=True, slots=True)
class SyncResponse:
    committed: tuple[Block, ...]
    commit_qc: QuorumCert | None
    certified: tuple[Block, ...]
    high_qc: QuorumCert | None
    # headers from the block after `committed` to the one commit_qc commits (§3.6)
    proof: tuple[BlockHeader, ...] = ()


@dataclass(frozen=True, slots=True)
class SafetyData:
    """What the safety rules persist before a vote or timeout leaves (§4)."""
    highest_voted_round: int
    highest_qc_round: int
    high_qc: QuorumCert | None
    last_tc: TimeoutCert | None = None


Message = Union[Proposal, Vote, Timeout, SyncRequest, SyncResponse]
