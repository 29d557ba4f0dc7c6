"""The MBI block/state store on RocksDB (rocksdict, raw mode).

One writer (the node's commit path) and any number of readers. Each committed block is
one atomic WriteBatch, written and then made durable (the WAL is fsynced, with the GIL
released) before ``commit_block`` returns; the chain tip is part of the same batch, so
after a crash the tip and the data always agree. See ``docs/storage.md``.
"""
from __future__ import annotations

import logging
import os
import shutil
import threading
import traceback
import weakref
from typing import Iterator, Mapping

from rocksdict import (
    AccessType,
    Cache,
    Checkpoint,
    Options,
    Rdict,
    ReadOptions,
    WriteBatch,
    WriteOptions,
)

from . import keys as K
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
from .logcheck import ManifestError, check_manifest, check_wals
from .options import _MiB, StoreTuning, _cf_options, _db_options
from .reader import _ACCOUNTS, _BLOCKS, _META, _STATE, _TXS, StoreSnapshot, _read_error, _Reader
from .batch import build_batch
from .records import BlockCommit

__all__ = ["Store", "StoreSnapshot", "StoreTuning"]

log = logging.getLogger("mbi.store")

# How many recent blocks' deleted asset/metadata keys are kept in memory for snapshot
# iteration (see StoreSnapshot); a snapshot older than this cannot iterate them.
DELETION_HISTORY_BLOCKS = 4096

_pack_u64 = K.pack_u64
_unpack_u64 = K.unpack_u64


def _classify_open_error(path: str, e: Exception) -> StoreError:
    msg = str(e)
    low = msg.lower()
    if "lock" in low and ("temporarily unavailable" in low or "lock hold" in low
                          or "no locks available" in low):
        return StoreLockedError(f"store at {path} is already open in another process or Store: {msg}")
    if "corrupt" in low or "checksum" in low or "bad magic" in low or "no such file" in low:
        return CorruptDatabaseError(f"store at {path} is corrupt: {msg}")
    return StoreError(f"cannot open store at {path}: {msg}")


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Store(_Reader):
    """The node's database. Open with :meth:`Store.open`; one writer thread at a time."""

    def __init__(self, path: str, chain_id: int, db: Rdict, cfs: list[Rdict],
                 handles: list, cache: Cache) -> None:
        # Use Store.open(); this only wires an already validated database.
        self._path = path
        self._chain_id = chain_id
        self._db: Rdict | None = db
        # The point-read families' hash memtables (see _cf_options) iterate in key order
        # only when asked to: nothing here scans them, but an iteration must see all.
        ro = ReadOptions()
        ro.set_total_order_seek(True)
        for i in (_TXS, _ACCOUNTS):
            cfs[i].set_read_options(ro)
        self._cfs = cfs
        self._gets = [cf.get for cf in cfs]
        self._handles = handles
        del cfs, handles  # only self holds them, so close() really releases the DB
        self._cache = cache
        self._lock = threading.RLock()
        self._nosync = WriteOptions()  # every write; _sync_wal makes it durable
        self._failed: str | None = None  # why writes stopped (a failed WAL sync)
        self._closed = False
        self._read_only = False
        self._snapshots: weakref.WeakSet[StoreSnapshot] = weakref.WeakSet()
        # seq -> deleted state keys of that block (see StoreSnapshot._scan).
        self._deleted: dict[int, list[bytes]] = {}
        self._tip_seq = 0
        self._tip_hash: bytes | None = None
        self._account_count = 0
        self._deleted_floor = 0
        try:
            self._load_and_verify()
        except BaseException:
            self.close()
            raise
        self._deleted_floor = self._tip_seq

    # --- opening -------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str], chain_id: int, create: bool = False,
             read_only: bool = False, tuning: StoreTuning | None = None) -> Store:
        """Open the store at ``path`` for ``chain_id``; with ``create`` make it if absent.

        ``read_only`` opens a view as of now without taking the lock (e.g. for a status
        tool while the node runs); it cannot commit and never creates. ``tuning`` sets
        the memory budget (see :class:`StoreTuning`).

        Raises a :class:`StoreError` subclass rather than start on the wrong data:
        StoreNotFoundError, ForeignDatabaseError, ChainMismatchError, FormatVersionError,
        CorruptDatabaseError or StoreLockedError.
        """
        if type(chain_id) is not int or not 0 <= chain_id <= K.U64_MAX:
            raise ValueError(f"chain_id must be an int in [0, 2**64), got {chain_id!r}")
        path = os.path.abspath(os.fspath(path))
        if not os.path.exists(path) or (os.path.isdir(path) and not os.listdir(path)):
            if not create or read_only:
                raise StoreNotFoundError(f"no store at {path} (open with create=True to make one)")
            cls._create(path, chain_id)
        elif not os.path.isdir(path):
            raise ForeignDatabaseError(f"{path} is a file, not a store directory")
        elif not os.path.exists(os.path.join(path, "CURRENT")):
            raise ForeignDatabaseError(
                f"{path} is a non-empty directory but not a RocksDB database (no CURRENT file); "
                "refusing to use it")
        return cls._open_existing(path, chain_id, read_only, tuning or StoreTuning())

    @staticmethod
    def _create(path: str, chain_id: int) -> None:
        # Build the whole DB (families + marker) beside the target and rename it into
        # place, so a crash during creation leaves either nothing or a complete store.
        parent = os.path.dirname(path)
        os.makedirs(parent, exist_ok=True)
        tmp = path + ".mbi-creating"
        if os.path.exists(tmp):
            shutil.rmtree(tmp)  # debris of a creation that crashed
        os.makedirs(tmp)
        tuning = StoreTuning(block_cache_mb=8, write_buffer_mb=4, memtable_total_mb=16)
        opts = _db_options(tuning)
        opts.create_if_missing(True)
        opts.create_missing_column_families(True)
        cache = Cache(8 * _MiB)
        try:
            db = Rdict(tmp, opts, column_families={n: _cf_options(n, cache, tuning)
                                                   for n in K.COLUMN_FAMILIES})
        except Exception as e:  # noqa: BLE001 - rocksdict raises bare Exception
            raise StoreError(f"cannot create store at {tmp}: {e}") from e
        try:
            wb = WriteBatch(raw_mode=True)
            h = db.get_column_family_handle(K.CF_META)
            wb.put(K.META_MAGIC, K.MAGIC, h)
            wb.put(K.META_FORMAT, _pack_u64(K.FORMAT_VERSION), h)
            wb.put(K.META_CHAIN_ID, _pack_u64(chain_id), h)
            wb.put(K.META_ACCOUNT_COUNT, _pack_u64(0), h)
            wo = WriteOptions()
            wo.sync = True
            db.write(wb, wo)
            db.flush(True)
        finally:
            db.close()
            del db
        _fsync_dir(tmp)
        os.rename(tmp, path)  # also replaces an empty directory at path
        _fsync_dir(parent)

    @classmethod
    def _open_existing(cls, path: str, chain_id: int, read_only: bool, tuning: StoreTuning) -> Store:
        try:  # before RocksDB reads them: it can spin forever on some damaged records
            check_manifest(path)
            check_wals(path)
        except ManifestError as e:
            raise CorruptDatabaseError(f"store at {path} is corrupt: {e}") from e
        try:
            names = Rdict.list_cf(path, Options(raw_mode=True))
        except Exception as e:  # noqa: BLE001
            raise CorruptDatabaseError(f"{path} looks like a RocksDB database but its "
                                       f"manifest cannot be read: {e}") from e
        if K.CF_META not in names:
            ours = sorted(set(names) & set(K.COLUMN_FAMILIES))
            if ours:  # a damaged manifest can drop one family's record (seen in tests)
                raise CorruptDatabaseError(f"store at {path} has MBI column families {ours} but no "
                                           f"{K.CF_META!r}: its manifest is damaged")
            raise ForeignDatabaseError(
                f"{path} is a RocksDB database but not an MBI store "
                f"(column families {sorted(names)}, no {K.CF_META!r})")
        missing = [n for n in K.COLUMN_FAMILIES if n not in names]
        if missing:
            raise CorruptDatabaseError(f"store at {path} lacks column families {missing}")
        cache = Cache(tuning.block_cache_mb * _MiB)
        cf_opts = {n: (_cf_options(n, cache, tuning) if n in K.COLUMN_FAMILIES else Options(raw_mode=True))
                   for n in names if n != "default"}
        try:
            access = (AccessType.read_only(error_if_log_file_exist=False) if read_only
                      else AccessType.read_write())
            db = Rdict(path, _db_options(tuning), column_families=cf_opts, access_type=access)
        except Exception as e:  # noqa: BLE001
            raise _classify_open_error(path, e) from e
        try:
            meta = db.get_column_family(K.CF_META)
            marker = (meta.get(K.META_MAGIC), meta.get(K.META_FORMAT), meta.get(K.META_CHAIN_ID))
            del meta
            cls._check_marker(path, chain_id, *marker)
            store = cls(path, chain_id, db,  # closes db itself if its checks fail
                        [db.get_column_family(n) for n in K.COLUMN_FAMILIES],
                        [db.get_column_family_handle(n) for n in K.COLUMN_FAMILIES], cache)
        except BaseException:
            # No family handle may survive in this frame (the traceback keeps it): a
            # live handle keeps the DB and its LOCK open.
            meta = None
            try:
                db.close()
            except Exception:  # noqa: BLE001 - Store.__init__ already closed it
                pass
            raise
        store._read_only = read_only
        log.info("store opened", extra={"path": path, "chain_id": chain_id, "tip": store._tip_seq,
                                         "accounts": store._account_count, "read_only": read_only})
        return store

    @staticmethod
    def _check_marker(path: str, chain_id: int, magic: bytes | None, fmt: bytes | None,
                      cid: bytes | None) -> None:
        if magic != K.MAGIC:
            raise ForeignDatabaseError(f"{path} has a {K.CF_META!r} family but no MBI marker "
                                       f"(found {magic!r}); not an MBI store")
        if fmt is None or len(fmt) != 8:
            raise CorruptDatabaseError(f"store at {path} has a malformed format version {fmt!r}")
        version = _unpack_u64(fmt)[0]
        if version != K.FORMAT_VERSION:
            raise FormatVersionError(f"store at {path} has storage format {version}; this "
                                     f"build reads format {K.FORMAT_VERSION}")
        if cid is None or len(cid) != 8:
            raise CorruptDatabaseError(f"store at {path} has a malformed chain id {cid!r}")
        stored = _unpack_u64(cid)[0]
        if stored != chain_id:
            raise ChainMismatchError(f"store at {path} belongs to chain {stored}, "
                                     f"not chain {chain_id}")

    def _load_and_verify(self) -> None:
        # Cheap cross-checks that the tip, the blocks and the account counter agree;
        # they run on every open, so a damaged store fails loudly at start.
        # (No local alias of self._gets: a traceback would keep the families open.)
        tip = self._get(_META, K.META_TIP)
        if tip is not None:
            if len(tip) != K.TIP.size:
                raise CorruptDatabaseError(f"store at {self._path}: tip record has {len(tip)} bytes")
            seq, h = K.TIP.unpack(tip)
            if self._get(_BLOCKS, K.header_key(seq)) is None:
                raise CorruptDatabaseError(f"store at {self._path}: tip {seq} has no header")
            if self._get(_BLOCKS, K.ledger_txs_key(seq)) is None:
                raise CorruptDatabaseError(f"store at {self._path}: tip {seq} has no tx list")
            if self._get(_BLOCKS, K.block_hash_key(h)) != _pack_u64(seq):
                raise CorruptDatabaseError(f"store at {self._path}: tip hash is not indexed to seq {seq}")
            self._tip_seq, self._tip_hash = seq, h
        if self._get(_BLOCKS, K.header_key(self._tip_seq + 1)) is not None:
            raise CorruptDatabaseError(f"store at {self._path}: header {self._tip_seq + 1} "
                                       f"exists beyond the tip {self._tip_seq}")
        cnt = self._get(_META, K.META_ACCOUNT_COUNT)
        if cnt is None or len(cnt) != 8:
            raise CorruptDatabaseError(f"store at {self._path}: malformed account count {cnt!r}")
        n = _unpack_u64(cnt)[0]
        if (n > 0 and self._get(_STATE, K.account_index_key(n - 1)) is None) or \
                self._get(_STATE, K.account_index_key(n)) is not None:
            raise CorruptDatabaseError(f"store at {self._path}: account count {n} disagrees "
                                       "with the account index")
        self._account_count = n

    # --- properties / lifecycle ----------------------------------------------------
    @property
    def path(self) -> str:
        return self._path

    @property
    def chain_id(self) -> int:
        return self._chain_id

    @property
    def read_only(self) -> bool:
        return self._read_only

    def _check(self) -> None:
        if self._closed:
            raise StoreClosedError(f"store at {self._path} is closed")

    def _check_writable(self) -> None:
        self._check()
        if self._read_only:
            raise StoreError(f"store at {self._path} is open read-only")
        if self._failed is not None:
            raise StoreError(f"store at {self._path} takes no more writes: {self._failed}; restart to recover")

    def checkpoint(self, dest: str | os.PathLike[str]) -> None:
        """Write a consistent copy of the store to ``dest`` (must not exist): hard links
        to the immutable SST files plus the live WAL, so it is cheap. ``dest`` opens as a
        normal store of the same chain."""
        with self._lock:
            self._check()
            dest = os.path.abspath(os.fspath(dest))
            if os.path.exists(dest):
                raise ValueError(f"checkpoint destination {dest} already exists")
            try:
                Checkpoint(self._db).create_checkpoint(dest)  # type: ignore[arg-type]
            except Exception as e:  # noqa: BLE001
                raise StoreError(f"checkpoint of {self._path} to {dest} failed: {e}") from e

    def close(self) -> None:
        """Close the database; idempotent. Open snapshots become unusable."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for s in list(self._snapshots):
                s.close()
            self._gets = []
            self._cfs = []
            self._handles = []
            db, self._db = self._db, None
            if db is not None:
                db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if hasattr(self, "_closed"):
                self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    # --- reads ---------------------------------------------------------------------
    def _get(self, cf: int, key: bytes) -> bytes | None:
        try:
            return self._gets[cf](key)
        except Exception as e:  # noqa: BLE001 - rocksdict raises bare Exception
            raise _read_error(self._path, e) from e

    def _scan_from(self, cf: int, first: bytes, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        try:
            for k, v in self._cfs[cf].items(from_key=first):
                if not k.startswith(prefix):  # type: ignore[union-attr,arg-type]  # raw mode: bytes
                    break
                yield k, v  # type: ignore[misc]
        except Exception as e:  # noqa: BLE001
            raise _read_error(self._path, e) from e

    def _multi_get(self, cf: int, keys: list[bytes]) -> list[bytes | None]:
        if not keys:
            return []
        try:
            return self._cfs[cf].get(keys)  # type: ignore[arg-type,return-value]
        except Exception as e:  # noqa: BLE001
            raise _read_error(self._path, e) from e

    def _iter_account_entries(self) -> Iterator[tuple[int, str, bytes]]:
        batch: list[tuple[int, bytes]] = []
        for k, addr in self._scan(_STATE, K.P_ACCOUNT_INDEX):
            batch.append((_unpack_u64(k[1:])[0], addr))
            if len(batch) == 1024:
                yield from self._resolve_accounts(batch)
                batch = []
        if batch:
            yield from self._resolve_accounts(batch)

    def _resolve_accounts(self, batch: list[tuple[int, bytes]]) -> Iterator[tuple[int, str, bytes]]:
        vals = self._multi_get(_ACCOUNTS, [K.P_ACCOUNT + a for _, a in batch])  # one per 1024
        for (i, a), v in zip(batch, vals):
            if v is None or len(v) < 8 or _unpack_u64(v[:8])[0] != i:
                raise CorruptDatabaseError(f"account index {i} names {a!r}, whose entry "
                                           "is missing, truncated or has another index")
            yield i, a.decode("ascii"), v[8:]

    # --- writes --------------------------------------------------------------------
    def commit_block(self, commit: BlockCommit, meta: Mapping[bytes, bytes] | None = None) -> None:
        """Write one ledger atomically and durably, or raise and write nothing.

        The seq must be ``last_seq() + 1``. Returns after the WAL is fsynced. ``meta``
        entries (chain metadata, as ``put_meta``: e.g. the consensus block and the
        certificate that committed it) go in the same WriteBatch.
        """
        with self._lock:
            self._check_writable()
            seq = commit.seq
            if type(seq) is not int:
                raise TypeError(f"BlockCommit.seq must be an int, got {type(seq).__name__}")
            if seq != self._tip_seq + 1:
                raise SequenceError(f"cannot commit ledger {seq}: the store's tip is "
                                    f"{self._tip_seq}, so the next ledger must be {self._tip_seq + 1}")
            hh = commit.header_hash
            bkey = K.block_hash_key(hh)
            if not isinstance(commit.header, bytes) or not commit.header:
                raise TypeError("BlockCommit.header must be non-empty bytes")
            if self._gets[_BLOCKS](bkey) is not None:
                raise ValueError(f"header hash {hh.hex()} is already stored at ledger "
                                 f"{self.get_seq_by_hash(hh)}")
            try:
                wb, count, deleted = build_batch(self._handles, self._account_count, commit, seq, bkey)
                if meta:
                    wb.set_default_column_family(self._handles[_META])
                    for k, v in meta.items():
                        if not isinstance(v, bytes):
                            raise TypeError(f"meta value must be bytes, got {type(v).__name__}")
                        wb.put(K.user_meta_key(k), v)
            except BaseException as e:
                # Drop the finished frames' locals (family handles among them): a caller
                # holding this error must still be able to close and reopen the store.
                traceback.clear_frames(e.__traceback__)
                raise
            if deleted:
                # Recorded before the write so a concurrent snapshot scan never misses a
                # key that disappears from the live DB (see StoreSnapshot._scan).
                self._deleted[seq] = deleted
            try:
                self._db.write(wb, self._nosync)  # type: ignore[union-attr]
            except Exception as e:  # noqa: BLE001
                self._deleted.pop(seq, None)
                raise StoreError(f"RocksDB write of ledger {seq} failed: {e}") from e
            self._sync_wal(f"ledger {seq}")
            self._tip_seq, self._tip_hash, self._account_count = seq, hh, count
            self._trim_deleted()

    def _sync_wal(self, what: str) -> None:
        """fsync the WAL after an unsynced write, with the GIL released. rocksdict's
        ``write`` holds the GIL for its whole call, so a ``sync=True`` write froze every
        other thread of the node (its event loop among them) through the fsync as well:
        for a 3,500-transaction block the longest hold fell from 20.3 to 14.5 ms this way
        (median of bench/gil_commit.py's interleaved rounds, docs/storage.md). The write is durable when this returns, as a synced write
        is; other threads of this process may read it during the sync (docs/storage.md).
        A failed sync leaves the written data of unknown durability, so the store takes
        no more writes: the node must restart, and recovery replays what reached disk."""
        try:
            self._db.flush_wal(True)  # type: ignore[union-attr]
        except Exception as e:  # noqa: BLE001
            self._failed = f"the WAL sync after writing {what} failed ({e})"
            raise StoreError(f"store at {self._path}: {self._failed}; restart to recover") from e

    def _trim_deleted(self) -> None:
        cutoff = self._tip_seq - DELETION_HISTORY_BLOCKS
        if cutoff > self._deleted_floor:
            for s in [s for s in self._deleted if s <= cutoff]:
                del self._deleted[s]
            self._deleted_floor = cutoff

    def _deleted_since(self, seq: int, prefix: bytes) -> list[bytes]:
        with self._lock:
            if seq < self._deleted_floor:
                raise SnapshotTooOldError(
                    f"snapshot at ledger {seq} is older than the {DELETION_HISTORY_BLOCKS} "
                    "blocks of deletion history kept for snapshot iteration; take a new snapshot")
            return [k for s, ks in self._deleted.items() if s > seq for k in ks if k.startswith(prefix)]

    # --- chain metadata ------------------------------------------------------------
    def put_meta(self, key: bytes, value: bytes, sync: bool = True) -> None:
        """Store chain metadata (e.g. consensus safety data); fsynced unless sync=False."""
        self.write_meta({key: value}, sync=sync)

    def delete_meta(self, key: bytes, sync: bool = True) -> None:
        self.write_meta({key: None}, sync=sync)

    def write_meta(self, items: Mapping[bytes, bytes | None], sync: bool = True) -> None:
        """Atomically set (or, for None, delete) several chain metadata entries."""
        wb = WriteBatch(raw_mode=True)
        with self._lock:
            self._check_writable()
            wb.set_default_column_family(self._handles[_META])
            for k, v in items.items():
                mk = K.user_meta_key(k)
                if v is None:
                    wb.delete(mk)
                elif isinstance(v, bytes):
                    wb.put(mk, v)
                else:
                    raise TypeError(f"meta value must be bytes or None, got {type(v).__name__}")
            try:
                self._db.write(wb, self._nosync)  # type: ignore[union-attr]
            except Exception as e:  # noqa: BLE001
                raise StoreError(f"RocksDB write of chain metadata failed: {e}") from e
            if sync:
                self._sync_wal("chain metadata")

    # --- snapshots -----------------------------------------------------------------
    def snapshot(self) -> StoreSnapshot:
        """A consistent read view as of the last committed ledger, unaffected by later
        commits. Close it (or use ``with``) when done: it pins old data in RocksDB."""
        with self._lock:
            self._check()
            snaps = [cf.snapshot() for cf in self._cfs]
            s = StoreSnapshot(self, snaps, self._tip_seq, self._tip_hash, self._account_count)
            self._snapshots.add(s)
            return s

    def stats(self) -> dict[str, int]:
        """A few RocksDB gauges summed over the families, for /metrics: estimated keys,
        live SST bytes, memtable bytes, and the tip."""
        self._check()
        out = {"tip": self._tip_seq, "accounts": self._account_count}
        for prop, name in (("rocksdb.estimate-num-keys", "estimated_keys"),
                           ("rocksdb.total-sst-files-size", "sst_bytes"),
                           ("rocksdb.cur-size-all-mem-tables", "memtable_bytes")):
            out[name] = sum(cf.property_int_value(prop) or 0 for cf in self._cfs)
        return out
