"""The store's getters, shared by the live store and its snapshots, and the snapshot view.

`_Reader` decodes what `Store.commit_block` wrote (keys in :mod:`mbi.store.keys`);
subclasses supply the raw reads. `StoreSnapshot` is a point-in-time view of a `Store`.
"""
from __future__ import annotations

import heapq
import struct
from typing import TYPE_CHECKING, Iterator

from . import keys as K
from .errors import CorruptDatabaseError, StoreClosedError, StoreError
from .records import TxRecord

if TYPE_CHECKING:
    from .db import Store

__all__ = ["StoreSnapshot"]

# Indexes into the per-family lists; order of keys.COLUMN_FAMILIES.
_META, _BLOCKS, _TXS, _STATE, _ACCOUNTS = range(5)

_TX_HEAD_LEN = K.TX_HEAD.size
_TX_DLEN_AT = _TX_HEAD_LEN - 2  # error_desc's u16 length ends the head; the ledger seq is at 1
_U16 = struct.Struct(">H")
_U64 = struct.Struct(">Q")
_unpack_u64 = K.unpack_u64


def _read_error(path: str, e: Exception) -> StoreError:
    msg = str(e)
    if "corrupt" in msg.lower() or "checksum" in msg.lower():
        return CorruptDatabaseError(f"store at {path}: read hit corrupt data: {msg}")
    return StoreError(f"store at {path}: read failed: {msg}")


class _Reader:
    """Getters shared by the live store and its snapshots.

    Subclasses provide ``_get(cf, key)``, ``_scan(cf, prefix)`` and the tip fields.
    """

    _tip_seq: int
    _tip_hash: bytes | None
    _account_count: int

    def _get(self, cf: int, key: bytes) -> bytes | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _scan_from(self, cf: int, first: bytes, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        # Entries whose key starts with prefix and is >= first, in key order.
        raise NotImplementedError  # pragma: no cover

    def _scan(self, cf: int, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        return self._scan_from(cf, prefix, prefix)

    def _iter_account_entries(self) -> Iterator[tuple[int, str, bytes]]:  # pragma: no cover
        raise NotImplementedError

    def _multi_get(self, cf: int, keys: list[bytes]) -> list[bytes | None]:
        return [self._get(cf, k) for k in keys]

    # --- chain tip ----------------------------------------------------------------
    def last_seq(self) -> int:
        """Seq of the last committed ledger; 0 on a fresh store."""
        self._check()
        return self._tip_seq

    def tip(self) -> tuple[int, bytes] | None:
        """(seq, header hash) of the last committed ledger, or None on a fresh store."""
        self._check()
        if self._tip_hash is None:
            return None
        return self._tip_seq, self._tip_hash

    def account_count(self) -> int:
        """Number of accounts ever created (the next account's creation index)."""
        self._check()
        return self._account_count

    def _check(self) -> None:  # overridden to raise once closed
        pass

    # --- blocks --------------------------------------------------------------------
    def get_header(self, seq: int) -> bytes | None:
        self._check()
        return self._get(_BLOCKS, K.header_key(seq))

    def iter_headers(self, start: int = 1, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        """(seq, header) for start <= seq <= end (default: the tip), in height order:
        what block sync and ranged API queries read."""
        self._check()
        last = self._tip_seq if end is None else min(end, self._tip_seq)
        first = K.header_key(max(start, 1))
        return self._iter_headers(first, last)

    def _iter_headers(self, first: bytes, last: int) -> Iterator[tuple[int, bytes]]:
        for k, v in self._scan_from(_BLOCKS, first, K.P_HEADER):
            seq = _unpack_u64(k[1:])[0]
            if seq > last:
                break
            yield seq, v

    def get_seq_by_hash(self, header_hash: bytes) -> int | None:
        self._check()
        v = self._get(_BLOCKS, K.block_hash_key(header_hash))
        if v is None:
            return None
        if len(v) != 8:
            raise CorruptDatabaseError(f"header-hash index entry has {len(v)} bytes, expected 8")
        return _unpack_u64(v)[0]

    def get_ledger_txs(self, seq: int) -> list[bytes]:
        """Hashes of the ledger's transactions in execution order ([] if none or unknown)."""
        self._check()
        v = self._get(_BLOCKS, K.ledger_txs_key(seq))
        if not v:
            return []
        if len(v) % K.HASH_LEN:
            raise CorruptDatabaseError(f"tx list of ledger {seq} has {len(v)} bytes, "
                                       f"not a multiple of {K.HASH_LEN}")
        return [v[i:i + K.HASH_LEN] for i in range(0, len(v), K.HASH_LEN)]

    def get_tx(self, tx_hash: bytes) -> TxRecord | None:
        self._check()
        v = self._get(_TXS, K.tx_key(tx_hash))
        if v is None:
            return None
        return _decode_tx(tx_hash, v)

    def get_txs(self, tx_hashes: list[bytes]) -> list[TxRecord | None]:
        """Several transactions in one RocksDB multi-get (e.g. a whole ledger's)."""
        self._check()
        vals = self._multi_get(_TXS, [K.tx_key(h) for h in tx_hashes])
        return [None if v is None else _decode_tx(h, v) for h, v in zip(tx_hashes, vals)]

    def get_tx_envelopes(self, tx_hashes: list[bytes]) -> list[tuple[int, bytes] | None]:
        """(ledger seq, envelope) of several transactions in one multi-get, the rest of each
        record left unparsed (its error_desc is still checked): what putting a stored block's
        payload back needs, 1.8x faster per transaction than get_txs
        (bench/ratio_sync_serve.py)."""
        self._check()
        vals = self._multi_get(_TXS, [K.tx_key(h) for h in tx_hashes])
        out: list[tuple[int, bytes] | None] = []
        append = out.append
        for h, v in zip(tx_hashes, vals):
            if v is None:
                append(None)
                continue
            if len(v) < _TX_HEAD_LEN or v[0] != K.TX_FRAMING:
                raise CorruptDatabaseError(f"tx record {h.hex()} is malformed")
            dlen = _U16.unpack_from(v, _TX_DLEN_AT)[0]
            start = _TX_HEAD_LEN + dlen
            if len(v) < start:
                raise CorruptDatabaseError(f"tx record {h.hex()} is malformed")
            if dlen:  # checked as get_txs checks it (most records have none)
                try:
                    v[_TX_HEAD_LEN:start].decode("utf-8")
                except UnicodeDecodeError:
                    raise CorruptDatabaseError(f"tx record {h.hex()} has a malformed error_desc") from None
            append((_U64.unpack_from(v, 1)[0], v[start:]))
        return out

    # --- state ---------------------------------------------------------------------
    def get_account(self, address: str) -> bytes | None:
        """The account's canonical encoding as the ledger wrote it."""
        e = self.get_account_entry(address)
        return None if e is None else e[1]

    def get_account_entry(self, address: str) -> tuple[int, bytes] | None:
        """(creation index, canonical encoding) of an account."""
        self._check()
        v = self._get(_ACCOUNTS, K.account_key(address))
        if v is None:
            return None
        if len(v) < 8:
            raise CorruptDatabaseError(f"account entry of {address} has {len(v)} bytes")
        return _unpack_u64(v[:8])[0], v[8:]

    def get_account_entries(self, addresses: list[str]) -> list[tuple[int, bytes] | None]:
        """(creation index, encoding) of several accounts in one multi-get: the ledger's
        prefetch of every account a block touches."""
        self._check()
        vals = self._multi_get(_ACCOUNTS, [K.account_key(a) for a in addresses])
        out: list[tuple[int, bytes] | None] = []
        for a, v in zip(addresses, vals):
            if v is None:
                out.append(None)
            elif len(v) < 8:
                raise CorruptDatabaseError(f"account entry of {a} has {len(v)} bytes")
            else:
                out.append((_unpack_u64(v[:8])[0], v[8:]))
        return out

    def iter_accounts(self) -> Iterator[tuple[int, str, bytes]]:
        """(index, address, encoding) of every account, in creation order."""
        self._check()
        return self._iter_account_entries()

    def get_asset(self, address: str, issuer: str, code: str) -> int | None:
        self._check()
        v = self._get(_STATE, K.asset_key(address, issuer, code))
        if v is None:
            return None
        if len(v) != 8:
            raise CorruptDatabaseError(f"asset entry has {len(v)} bytes, expected 8")
        return K.unpack_i64(v)[0]

    def iter_assets(self, address: str) -> Iterator[tuple[str, str, int]]:
        """(issuer, code, amount) of every asset the address holds, in key order."""
        self._check()
        for k, v in self._scan(_STATE, K.asset_prefix(address)):
            _, issuer, code, amount = _asset_row(k, v)
            yield issuer, code, amount

    def iter_all_assets(self) -> Iterator[tuple[str, str, str, int]]:
        """(address, issuer, code, amount) of every asset entry, grouped by address: one
        scan instead of one per account when rebuilding state at start."""
        self._check()
        for k, v in self._scan(_STATE, K.P_ASSET):
            yield _asset_row(k, v)

    def get_metadata(self, address: str, key: bytes) -> tuple[bytes, int] | None:
        """(value, version) of one metadata entry."""
        self._check()
        v = self._get(_STATE, K.metadata_key(address, key))
        if v is None:
            return None
        if len(v) < 8:
            raise CorruptDatabaseError(f"metadata entry has {len(v)} bytes")
        return v[8:], K.unpack_i64(v[:8])[0]

    def iter_metadata(self, address: str) -> Iterator[tuple[bytes, bytes, int]]:
        """(key, value, version) of every metadata entry of the address, in key order."""
        self._check()
        for k, v in self._scan(_STATE, K.metadata_prefix(address)):
            yield _metadata_row(k, v)[1:]

    def iter_all_metadata(self) -> Iterator[tuple[str, bytes, bytes, int]]:
        """(address, key, value, version) of every metadata entry, grouped by address."""
        self._check()
        for k, v in self._scan(_STATE, K.P_METADATA):
            yield _metadata_row(k, v)

    # --- chain metadata ------------------------------------------------------------
    def get_meta(self, key: bytes) -> bytes | None:
        self._check()
        return self._get(_META, K.user_meta_key(key))


def _asset_row(k: bytes, v: bytes) -> tuple[str, str, str, int]:
    """(address, issuer, code, amount) of a stored asset entry."""
    try:
        a, issuer, code = K.parse_asset_key(k)
    except (ValueError, IndexError) as e:  # UnicodeDecodeError is a ValueError
        raise CorruptDatabaseError(f"malformed asset key {k[:80]!r}: {e}") from None
    if len(v) != 8:
        raise CorruptDatabaseError(f"asset entry has {len(v)} bytes, expected 8")
    return a, issuer, code, K.unpack_i64(v)[0]


def _metadata_row(k: bytes, v: bytes) -> tuple[str, bytes, bytes, int]:
    """(address, key, value, version) of a stored metadata entry."""
    try:
        a, mk = K.parse_metadata_key(k)
    except (ValueError, IndexError) as e:
        raise CorruptDatabaseError(f"malformed metadata key {k[:80]!r}: {e}") from None
    if len(v) < 8:
        raise CorruptDatabaseError(f"metadata entry has {len(v)} bytes")
    return a, mk, v[8:], K.unpack_i64(v[:8])[0]


def _decode_tx(tx_hash: bytes, v: bytes) -> TxRecord:
    if len(v) < _TX_HEAD_LEN:
        raise CorruptDatabaseError(f"tx record {tx_hash.hex()} has {len(v)} bytes")
    framing, seq, index, code, fee, close_time, dlen = K.TX_HEAD.unpack_from(v)
    if framing != K.TX_FRAMING or len(v) < _TX_HEAD_LEN + dlen:
        raise CorruptDatabaseError(f"tx record {tx_hash.hex()} is malformed")
    try:
        desc = v[_TX_HEAD_LEN:_TX_HEAD_LEN + dlen].decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptDatabaseError(f"tx record {tx_hash.hex()} has a malformed error_desc") from None
    return TxRecord(hash=bytes(tx_hash), envelope=v[_TX_HEAD_LEN + dlen:], ledger_seq=seq,
                    index=index, error_code=code, error_desc=desc, actual_fee=fee,
                    close_time=close_time)



class StoreSnapshot(_Reader):
    """A point-in-time read view of a :class:`Store` (same getters).

    rocksdict 0.3.x applies a snapshot to point reads but not to its iterators, so
    iteration here scans live keys and reads each through the snapshot; keys deleted
    after the snapshot are added back from the store's in-memory deletion history.
    Accounts and their index are never deleted, so account iteration is exact.
    """

    def __init__(self, store: Store, snaps: list, tip_seq: int, tip_hash: bytes | None,
                 account_count: int) -> None:
        self._store: Store | None = store
        self._snaps = snaps
        self._tip_seq = tip_seq
        self._tip_hash = tip_hash
        self._account_count = account_count

    def _check(self) -> None:
        if self._store is None:
            raise StoreClosedError("snapshot is closed")

    def close(self) -> None:
        self._snaps = []
        self._store = None

    def __enter__(self) -> StoreSnapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, cf: int, key: bytes) -> bytes | None:
        try:
            return self._snaps[cf][key]
        except Exception as e:  # noqa: BLE001 - rocksdict signals "missing" with Exception
            if str(e) == "key not found":
                return None
            raise _read_error(self._store._path if self._store else "?", e) from e

    def _scan_from(self, cf: int, first: bytes, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        store = self._store
        assert store is not None
        live = store._scan_from(cf, first, prefix)  # keys only: values come from the snapshot
        head = next(live, None)
        # The live iterator now exists (RocksDB pinned its view). Read the deletion
        # history only after that: a commit records its deletions before writing, so a
        # key deleted since the snapshot is either still in that view or in the history.
        deleted = sorted(k for k in store._deleted_since(self._tip_seq, prefix) if k >= first)
        keys = heapq.merge(([] if head is None else [head[0]]), (k for k, _ in live), deleted)
        prev = None
        for k in keys:
            if k == prev:
                continue
            prev = k
            v = self._get(cf, k)
            if v is not None:
                yield k, v

    def _iter_account_entries(self) -> Iterator[tuple[int, str, bytes]]:
        store = self._store
        assert store is not None
        n = self._account_count
        for k, addr in store._scan(_STATE, K.P_ACCOUNT_INDEX):
            i = _unpack_u64(k[1:])[0]
            if i >= n:  # created after the snapshot
                break
            v = self._get(_ACCOUNTS, K.P_ACCOUNT + addr)
            if v is None or len(v) < 8 or _unpack_u64(v[:8])[0] != i:
                raise CorruptDatabaseError(f"account index {i} names {addr!r}, whose entry "
                                           "is missing, truncated or has another index")
            yield i, addr.decode("ascii"), v[8:]
