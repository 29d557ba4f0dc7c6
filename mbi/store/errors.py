"""Errors raised by ``mbi.store``.

Every failure to open or use the database is a subclass of :class:`StoreError`, so a
node can refuse to start with one clear message instead of running on the wrong data.
"""
from __future__ import annotations


class StoreError(Exception):
    """Base class of every storage error."""


class StoreNotFoundError(StoreError):
    """The path holds no database and ``create`` was not requested."""


class ForeignDatabaseError(StoreError):
    """The path holds something that is not an MBI store (another RocksDB, plain files)."""


class ChainMismatchError(StoreError):
    """The database belongs to another chain id."""


class FormatVersionError(StoreError):
    """The database was written with a storage format this code does not read."""


class CorruptDatabaseError(StoreError):
    """RocksDB reported corruption, or the store's own records contradict each other."""


class StoreLockedError(StoreError):
    """Another process (or another Store in this process) holds the database open."""


class StoreClosedError(StoreError):
    """The store was used after ``close()``."""


class SequenceError(StoreError, ValueError):
    """A block commit whose seq is not ``last_seq() + 1``."""


class SnapshotTooOldError(StoreError):
    """A snapshot iteration needs deletion history the store no longer keeps in memory."""
