"""Durable storage of blocks, transactions and state (RocksDB via rocksdict).

``Store.open(path, chain_id, create=...)`` opens or creates the store;
``Store.commit_block(BlockCommit)`` writes one ledger atomically and durably.
The key schema lives in :mod:`mbi.store.keys`; see ``docs/storage.md``.
"""
from .db import Store, StoreSnapshot, StoreTuning
from .errors import (
    ChainMismatchError,
    CorruptDatabaseError,
    ForeignDatabaseError,
    FormatVersionError,
    SequenceError,
    SnapshotTooOldError,
    StoreClosedError,
    StoreError,
    StoreLockedError,
    StoreNotFoundError,
)
from .records import AccountWrite, AssetWrite, BlockCommit, MetadataWrite, TxRecord

__all__ = [
    "AccountWrite", "AssetWrite", "BlockCommit", "ChainMismatchError", "CorruptDatabaseError",
    "ForeignDatabaseError", "FormatVersionError", "MetadataWrite", "SequenceError",
    "SnapshotTooOldError", "Store", "StoreClosedError", "StoreError", "StoreLockedError",
    "StoreNotFoundError", "StoreSnapshot", "StoreTuning", "TxRecord",
]
