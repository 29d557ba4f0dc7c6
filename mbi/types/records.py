"""What the ledger hands to the store for one committed block.

This module is the contract between ``mbi.ledger`` (which produces a ``BlockCommit``
from executing a block) and ``mbi.store`` (which writes it in one atomic RocksDB
WriteBatch). Values are opaque bytes to the store: their encodings belong to the ledger
and ``mbi.types``; the store owns the key schema and atomicity.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence


# TxRecord and AccountWrite are built once per transaction / touched account on the
# block-close path, where a frozen dataclass's __init__ (object.__setattr__ per field)
# costs ~4x a plain slotted one. They are therefore not frozen, and so not hashable:
# treat them as immutable values; nothing keys or hashes them.
@dataclass(slots=True)
class TxRecord:
    """One executed transaction as stored and served by getTransactionHistory."""

    hash: bytes  # 32-byte SHA-256 of the serialized Transaction
    envelope: bytes  # the TransactionEnv bytes exactly as received
    ledger_seq: int
    index: int  # position within the ledger, from 0
    error_code: int  # 0 on success, else the Zetrix error code
    error_desc: str
    actual_fee: int  # ZETA charged
    close_time: int  # ledger close time, microseconds


@dataclass(slots=True)
class AccountWrite:
    """The new state of one account touched by the block."""

    address: str  # "ZTX3..."
    index: int  # creation-order index: the account's leaf in the state tree
    encoded: bytes  # canonical account encoding; SHA-256 of it is the leaf


@dataclass(frozen=True, slots=True)
class AssetWrite:
    address: str  # holder
    issuer: str
    code: str
    amount: int  # new balance; 0 deletes the entry


@dataclass(frozen=True, slots=True)
class MetadataWrite:
    address: str
    key: bytes
    value: bytes | None  # None deletes the entry
    version: int


@dataclass(frozen=True, slots=True)
class BlockCommit:
    """Everything one committed ledger changes, written atomically or not at all."""

    seq: int  # ledger sequence; genesis is 1
    header_hash: bytes  # 32 bytes
    header: bytes  # serialized ledger header (mbi.types)
    txs: Sequence[TxRecord] = field(default_factory=tuple)
    accounts: Sequence[AccountWrite] = field(default_factory=tuple)
    assets: Sequence[AssetWrite] = field(default_factory=tuple)
    metadata: Sequence[MetadataWrite] = field(default_factory=tuple)
