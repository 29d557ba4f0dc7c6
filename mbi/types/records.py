"""What the ledger hands to the store for one committed block.

This module is the contract between ``mbi.ledger`` (which produces a ``BlockCommit``
from executing a block) and ``mbi.store`` (which writes it in one atomic RocksDB
WriteBatch). Values are opaque bytes to the store: their encodings belong to the ledger
and ``mbi.types``; the store owns the key schema and atomicity.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Sequence


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


class TxRecords(Sequence[TxRecord]):
    """A block's transaction records as parallel lists (what ``Ledger.close`` builds: no
    object per transaction): record i has index i and the block's ledger_seq and
    close_time. Reads as a sequence of ``TxRecord``; the store reads the lists. Treat as
    immutable."""

    __slots__ = ("ledger_seq", "close_time", "hashes", "envelopes", "error_codes", "error_descs", "actual_fees")

    def __init__(self, ledger_seq: int, close_time: int, hashes: list[bytes], envelopes: list[bytes],
                 error_codes: list[int], error_descs: list[str], actual_fees: list[int]) -> None:
        n = len(hashes)
        if not n == len(envelopes) == len(error_codes) == len(error_descs) == len(actual_fees):
            raise ValueError("TxRecords lists differ in length")
        self.ledger_seq = ledger_seq
        self.close_time = close_time
        self.hashes = hashes
        self.envelopes = envelopes
        self.error_codes = error_codes
        self.error_descs = error_descs
        self.actual_fees = actual_fees

    def __len__(self) -> int:
        return len(self.hashes)

    def _record(self, i: int) -> TxRecord:
        return TxRecord(self.hashes[i], self.envelopes[i], self.ledger_seq, i, self.error_codes[i],
                        self.error_descs[i], self.actual_fees[i], self.close_time)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self._record(k) for k in range(len(self))[i]]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("TxRecords index out of range")
        return self._record(i)

    def __iter__(self) -> Iterator[TxRecord]:
        for i in range(len(self)):
            yield self._record(i)

    def __repr__(self) -> str:
        return f"TxRecords(ledger {self.ledger_seq}, {len(self)} transactions)"


class AccountWrites(Sequence[AccountWrite]):
    """A block's account writes as three parallel lists: what ``LedgerState.apply``
    builds (10,000+ accounts a block, where an object per account cost more than the
    encoding itself). Reads as a sequence of ``AccountWrite``; the store reads the lists.
    Treat as immutable, like AccountWrite."""

    __slots__ = ("addresses", "indexes", "encodings")

    def __init__(self, addresses: list[str], indexes: list[int], encodings: list[bytes]) -> None:
        if not len(addresses) == len(indexes) == len(encodings):
            raise ValueError(f"AccountWrites lists differ in length: {len(addresses)}, {len(indexes)}, "
                             f"{len(encodings)}")
        self.addresses = addresses
        self.indexes = indexes
        self.encodings = encodings

    def __len__(self) -> int:
        return len(self.addresses)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return AccountWrites(self.addresses[i], self.indexes[i], self.encodings[i])
        return AccountWrite(self.addresses[i], self.indexes[i], self.encodings[i])

    def __iter__(self) -> Iterator[AccountWrite]:
        for a, i, e in zip(self.addresses, self.indexes, self.encodings):
            yield AccountWrite(a, i, e)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AccountWrites):
            return (self.addresses, self.indexes, self.encodings) == (other.addresses, other.indexes, other.encodings)
        return NotImplemented

    def __repr__(self) -> str:
        return f"AccountWrites({len(self)} accounts)"


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
