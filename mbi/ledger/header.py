"""Ledger headers: how every field is computed (docs/ledger.md mirrors this).

- seq: 1 for genesis, +1 per ledger.
- previous_hash: the previous header's hash (32 zero bytes for genesis).
- account_tree_hash: root of the state tree after this ledger (mbi.ledger.state).
- close_time: microseconds since the Unix epoch, chosen by consensus.
- consensus_value_hash: SHA-256(previous_hash ‖ i64 seq ‖ i64 close_time ‖ proposed_root),
  where proposed_root is the RFC 6962 root over the hashes of every transaction proposed
  for the ledger, in order (including those dropped as invalid).
- version: LEDGER_VERSION.
- tx_count: transactions applied in this ledger (dropped ones are not counted).
- validators_hash: SHA-256 over the validator set, each as u8 len ‖ address ‖ raw key(32).
- fees_hash: SHA-256(i64 gas_price ‖ i64 base_reserve).
- chain_id: the network's chain id.
- tx_root: RFC 6962 root over the applied transactions' hashes, in ledger order.
- receipts_root: RFC 6962 root over receipt_entry(r) of the applied transactions.
- account_count: accounts in the state tree after this ledger.
- hash: SHA-256 of the fixed layout in ``header_preimage`` (not of the protobuf bytes,
  so the hash never depends on a serializer).

An RFC 6962 root of zero entries is SHA-256 of the empty string.
"""
from __future__ import annotations

import hashlib
import struct
from typing import Sequence

import numpy as np

from mbi.ledger.fees import FeeConfig
from mbi.types.mbi_types_pb2 import LedgerHeader

LEDGER_VERSION = 1
ZERO32 = b"\0" * 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256
_Q = struct.Struct(">q")
_U16 = struct.Struct(">H")
_PRE = struct.Struct(">q32s32sq32sqq32s32sq32s32sq")


def merkle_root(entries: Sequence[bytes] | np.ndarray) -> bytes:
    """RFC 6962 root over 32-byte entries (core_ext.merkle): a list of 32-byte
    strings or an (n, 32) uint8 array."""
    if len(entries) == 0:
        return EMPTY_ROOT
    from core_ext.merkle import merkle_root as _root

    if isinstance(entries, np.ndarray):
        arr = entries
    else:
        arr = np.frombuffer(b"".join(entries), dtype=np.uint8).reshape(len(entries), 32)
    return bytes(_root(arr, threads=1))


def receipt_entry(hash_: bytes, error_code: int, actual_fee: int,
                  logs: Sequence[tuple[str, str, Sequence[str]]] = ()) -> bytes:
    """SHA-256(tx hash ‖ i64 error_code ‖ i64 actual_fee ‖ logs_digest).

    logs_digest = 32 zero bytes without logs, else SHA-256 over each log as
    u16 len ‖ address ‖ u16 len ‖ topic ‖ u16 count ‖ count × (u16 len ‖ data).
    The error description is not committed (it is prose, not consensus).
    """
    return _sha256(receipt_preimage(hash_, error_code, actual_fee, logs)).digest()


_QQ = struct.Struct(">qq")


def receipt_preimage(hash_: bytes, error_code: int, actual_fee: int,
                     logs: Sequence[tuple[str, str, Sequence[str]]] = ()) -> bytes:
    """The bytes ``receipt_entry`` hashes (72 bytes)."""
    if logs:
        h = _sha256()
        for addr, topic, datas in logs:
            ab, tb = addr.encode(), topic.encode()
            h.update(_U16.pack(len(ab)) + ab + _U16.pack(len(tb)) + tb + _U16.pack(len(datas)))
            for d in datas:
                db = d.encode()
                h.update(_U16.pack(len(db)) + db)
        ld = h.digest()
    else:
        ld = ZERO32
    return hash_ + _QQ.pack(error_code, actual_fee) + ld


def sha256_each(parts: Sequence[bytes]) -> np.ndarray:
    """(n, 32) uint8: SHA-256 of each part, in one native multi-buffer call."""
    from core_ext.hashing import sha256_many

    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, parts), dtype=np.int64, count=len(parts)), out=offsets[1:])
    return np.asarray(sha256_many(b"".join(parts), offsets, threads=1)).reshape(-1, 32)


def fees_hash(fees: FeeConfig) -> bytes:
    return _sha256(_Q.pack(fees.gas_price) + _Q.pack(fees.base_reserve)).digest()


def validators_hash(validators: Sequence[tuple[str, bytes]]) -> bytes:
    h = _sha256()
    for address, raw in validators:
        ab = address.encode()
        h.update(bytes((len(ab),)) + ab + raw)
    return h.digest()


def consensus_value_hash(previous_hash: bytes, seq: int, close_time: int, proposed_root: bytes) -> bytes:
    return _sha256(previous_hash + _Q.pack(seq) + _Q.pack(close_time) + proposed_root).digest()


def header_preimage(h: LedgerHeader) -> bytes:
    for name in ("previous_hash", "account_tree_hash", "consensus_value_hash", "validators_hash",
                 "fees_hash", "tx_root", "receipts_root"):
        if len(getattr(h, name)) != 32:
            raise ValueError(f"header.{name} must be 32 bytes, got {len(getattr(h, name))}")
    return _PRE.pack(h.seq, h.previous_hash, h.account_tree_hash, h.close_time, h.consensus_value_hash,
                     h.version, h.tx_count, h.validators_hash, h.fees_hash, h.chain_id, h.tx_root,
                     h.receipts_root, h.account_count)


def header_hash(h: LedgerHeader) -> bytes:
    return _sha256(header_preimage(h)).digest()


def build_header(*, seq: int, previous_hash: bytes, account_tree_hash: bytes, close_time: int,
                 consensus_value_hash: bytes, tx_count: int, validators_hash: bytes, fees_hash: bytes,
                 chain_id: int, tx_root: bytes, receipts_root: bytes, account_count: int,
                 version: int = LEDGER_VERSION) -> LedgerHeader:
    h = LedgerHeader(seq=seq, previous_hash=previous_hash, account_tree_hash=account_tree_hash,
                     close_time=close_time, consensus_value_hash=consensus_value_hash, version=version,
                     tx_count=tx_count, validators_hash=validators_hash, fees_hash=fees_hash,
                     chain_id=chain_id, tx_root=tx_root, receipts_root=receipts_root,
                     account_count=account_count)
    h.hash = header_hash(h)
    return h


def check_header(h: LedgerHeader) -> None:
    """Raise ValueError when a header's hash does not match its fields."""
    if h.hash != header_hash(h):
        raise ValueError(f"ledger {h.seq}: header hash does not match its fields")
