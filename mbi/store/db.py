"""The MBI block/state store on RocksDB (rocksdict, raw mode).

One writer (the node's commit path) and any number of readers. Each committed block is
one atomic WriteBatch, written with ``sync=True`` (the WAL is fsynced) before
``commit_block`` returns; the chain tip is part of the same batch, so after a crash the
tip and the data always agree. See ``docs/storage.md``.
"""
from __future__ import annotations

import heapq
import logging
import os
import shutil
import struct
import threading
import traceback
import weakref
from dataclasses import dataclass
from typing import Iterator, Mapping

from rocksdict import (
    AccessType,
    BlockBasedOptions,
    Cache,
    Checkpoint,
    DBCompressionType,
    DBRecoveryMode,
    MemtableFactory,
    Options,
    Rdict,
    ReadOptions,
    SliceTransform,
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
from .records import AccountWrites, AssetWrite, BlockCommit, MetadataWrite, TxRecord, TxRecords

__all__ = ["Store", "StoreSnapshot", "StoreTuning"]

log = logging.getLogger("mbi.store")

# Indexes into the per-family lists below; order of keys.COLUMN_FAMILIES.
_META, _BLOCKS, _TXS, _STATE, _ACCOUNTS = range(5)

# How many recent blocks' deleted asset/metadata keys are kept in memory for snapshot
# iteration (see StoreSnapshot); a snapshot older than this cannot iterate them.
DELETION_HISTORY_BLOCKS = 4096

_MiB = 1 << 20
_TX_HEAD_LEN = K.TX_HEAD.size
_pack_u64 = K.pack_u64
_unpack_u64 = K.unpack_u64


@dataclass(frozen=True)
class StoreTuning:
    """Memory and thread budget of one store. The defaults suit a validator committing
    10,000-tx blocks; a devnet running many nodes on one machine can pass smaller ones."""

    block_cache_mb: int = 256  # shared by all families
    write_buffer_mb: int = 128  # memtable size of the tx and state families (blocks: half)
    memtable_total_mb: int = 1024  # cap over all memtables; RocksDB flushes the largest beyond it
    background_jobs: int = 2  # flush + compaction threads

    def __post_init__(self) -> None:
        for name in ("block_cache_mb", "write_buffer_mb", "memtable_total_mb", "background_jobs"):
            v = getattr(self, name)
            if type(v) is not int or v < 1:
                raise ValueError(f"StoreTuning.{name} must be a positive int, got {v!r}")


def _cf_options(name: str, cache: Cache, tuning: StoreTuning) -> Options:
    o = Options(raw_mode=True)
    o.set_level_compaction_dynamic_level_bytes(True)
    o.set_compression_type(DBCompressionType.lz4())
    if name == K.CF_META:
        o.set_write_buffer_size(4 * _MiB)
        return o
    t = BlockBasedOptions()
    t.set_block_cache(cache)
    if name in (K.CF_TXS, K.CF_STATE, K.CF_ACCOUNTS):
        # Point lookups by hash / address: a bloom filter skips SST files that cannot
        # hold the key.
        t.set_bloom_filter(10, False)
    o.set_block_based_table_factory(t)
    if name in K.POINT_READ_FAMILIES:
        # Tx records and accounts are only ever read by key (never scanned), and their
        # keys are random: in the default skiplist memtable every insert walks ~20 levels
        # of cache-missing pointers (most of commit_block's time at 5,000 transactions a
        # block). Hashing a key prefix into small per-bucket skiplists makes an insert
        # (and a point read) about one miss; bench/ratio_close.py measures it. Iteration
        # then needs total_order_seek (Store.__init__ sets it).
        o.set_prefix_extractor(SliceTransform.create_max_len_prefix(12))
        buckets = max(1 << 12, tuning.write_buffer_mb * _MiB // 256)  # ~one entry a bucket
        o.set_memtable_factory(MemtableFactory.hash_skip_list(buckets, 4, 4))
    # A 10,000-tx block writes ~3 MB of tx records and ~2 MB of account state; big
    # memtables keep flushes (and write stalls) rare at that rate.
    wb_mb = tuning.write_buffer_mb if name != K.CF_BLOCKS else max(1, tuning.write_buffer_mb // 2)
    o.set_write_buffer_size(wb_mb * _MiB)
    o.set_max_write_buffer_number(4)
    o.set_target_file_size_base(64 * _MiB)
    return o


def _db_options(tuning: StoreTuning) -> Options:
    o = Options(raw_mode=True)
    o.create_if_missing(False)  # creation goes through Store._create (atomic rename)
    o.create_missing_column_families(False)
    o.set_paranoid_checks(True)
    # With sync writes, point-in-time recovery replays the WAL up to the last intact
    # record: every acknowledged batch, and no torn one.
    o.set_wal_recovery_mode(DBRecoveryMode.point_in_time())
    # Never recycle WALs: logcheck refuses the recyclable record types (RocksDB 9.8 can
    # spin on a damaged one), which holds only while no log of ours has them.
    o.set_recycle_log_file_num(0)
    o.set_max_background_jobs(tuning.background_jobs)
    o.set_db_write_buffer_size(tuning.memtable_total_mb * _MiB)
    # One writer (commits are serialized by Store's lock): the plain skiplist inserts
    # faster than the concurrent one.
    o.set_allow_concurrent_memtable_write(False)
    # The WAL holds all families; cap it so a rarely-flushed family cannot pin old logs.
    o.set_max_total_wal_size(512 * _MiB)
    o.set_keep_log_file_num(3)
    o.set_max_log_file_size(16 * _MiB)
    o.set_bytes_per_sync(4 * _MiB)
    return o


def _classify_open_error(path: str, e: Exception) -> StoreError:
    msg = str(e)
    low = msg.lower()
    if "lock" in low and ("temporarily unavailable" in low or "lock hold" in low
                          or "no locks available" in low):
        return StoreLockedError(f"store at {path} is already open in another process or Store: {msg}")
    if "corrupt" in low or "checksum" in low or "bad magic" in low or "no such file" in low:
        return CorruptDatabaseError(f"store at {path} is corrupt: {msg}")
    return StoreError(f"cannot open store at {path}: {msg}")


def _read_error(path: str, e: Exception) -> StoreError:
    msg = str(e)
    if "corrupt" in msg.lower() or "checksum" in msg.lower():
        return CorruptDatabaseError(f"store at {path}: read hit corrupt data: {msg}")
    return StoreError(f"store at {path}: read failed: {msg}")


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
        self._sync = WriteOptions()
        self._sync.sync = True
        self._nosync = WriteOptions()
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
                wb, count, deleted = self._build_batch(commit, seq, bkey)
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
                self._db.write(wb, self._sync)  # type: ignore[union-attr]
            except Exception as e:  # noqa: BLE001
                self._deleted.pop(seq, None)
                raise StoreError(f"RocksDB write of ledger {seq} failed: {e}") from e
            self._tip_seq, self._tip_hash, self._account_count = seq, hh, count
            self._trim_deleted()

    def _build_batch(self, c: BlockCommit, seq: int, bkey: bytes) -> tuple[WriteBatch, int, list[bytes]]:
        h_meta, h_blocks, h_txs, h_state, h_accounts = self._handles
        seq8 = _pack_u64(seq)
        wb = WriteBatch(raw_mode=True)
        put = wb.put

        # Transactions: the hot loop (10,000 per block in the benchmark) stays lean:
        # one struct.pack, one concatenation and one put per record.
        wb.set_default_column_family(h_txs)
        hashes: list[bytes] = []
        append = hashes.append
        head = K.TX_HEAD.pack
        framing = K.TX_FRAMING
        p_tx = K.P_TX
        i = -1
        t: TxRecord | None = None
        txs = c.txs
        try:
            if type(txs) is TxRecords:  # the ledger's parallel lists: no object per record
                if txs.ledger_seq != seq:
                    raise ValueError(f"TxRecords of ledger {txs.ledger_seq} in the commit of ledger {seq}")
                ct = txs.close_time
                for i, (h, env, code, desc, fee) in enumerate(zip(txs.hashes, txs.envelopes, txs.error_codes,
                                                                  txs.error_descs, txs.actual_fees)):
                    if len(h) != 32:
                        raise ValueError(f"TxRecord at position {i}: hash must be 32 bytes, got {len(h)}")
                    d = desc.encode("utf-8")
                    put(p_tx + h, head(framing, seq, i, code, fee, ct, len(d)) + d + env)
                hashes = txs.hashes
            else:
                for i, t in enumerate(txs):
                    h = t.hash
                    if len(h) != 32 or t.ledger_seq != seq or t.index != i:
                        raise ValueError(_tx_problem(t, i, seq))
                    d = t.error_desc.encode("utf-8")
                    put(p_tx + h, head(framing, seq, i, t.error_code, t.actual_fee,
                                       t.close_time, len(d)) + d + t.envelope)
                    append(h)
        except (struct.error, TypeError, AttributeError, UnicodeEncodeError) as e:
            raise ValueError(f"invalid TxRecord at position {i}: {e}") from e

        # Accounts: address -> (creation index, encoding); index -> address for new ones.
        wb.set_default_column_family(h_accounts)
        count = self._account_count
        new: dict[int, bytes] = {}  # creation index -> address, for accounts created here
        # index rows as two flat lists: no tuple per row (tuples are GC-tracked, and enough
        # of them start a collection over the node's whole heap mid-commit)
        index_keys: list[bytes] = []
        index_addrs: list[bytes] = []
        p_acc, p_idx = K.P_ACCOUNT, K.P_ACCOUNT_INDEX
        accts = c.accounts
        # The ledger's AccountWrites: its parallel lists, without an object per account.
        rows = (zip(accts.addresses, accts.indexes, accts.encodings) if type(accts) is AccountWrites
                else ((a.address, a.index, a.encoded) for a in accts))
        done = 0  # rows written: the position of a bad one
        try:
            for address, idx, enc in rows:
                ab = address.encode("ascii")  # type: ignore[attr-defined]
                i8 = _pack_u64(idx)
                if not ab or type(enc) is not bytes:
                    raise ValueError("address must be non-empty and encoded must be bytes")
                put(p_acc + ab, i8 + enc)  # a later write of the same address wins
                if idx >= count:  # type: ignore[operator]
                    prev = new.setdefault(idx, ab)  # type: ignore[arg-type]
                    if prev is ab:
                        index_keys.append(p_idx + i8)
                        index_addrs.append(ab)
                    elif prev != ab:
                        raise ValueError(f"index {idx} given to both {prev.decode()} and {address}")
                done += 1
        except (struct.error, TypeError, AttributeError, UnicodeEncodeError, ValueError) as e:
            raise ValueError(f"invalid AccountWrite at position {done}: {e}") from e
        wb.set_default_column_family(h_state)
        for k, v in zip(index_keys, index_addrs):
            put(k, v)
        if new:
            got = sorted(new)
            if got != list(range(count, count + len(new))):
                raise ValueError(f"new account indexes must be exactly {count}..{count + len(new) - 1}, "
                                 f"got {got[:10]}{'...' if len(got) > 10 else ''}")
            if len(set(new.values())) != len(new):
                raise ValueError("one new account was given two creation indexes")
            count += len(new)

        deleted: list[bytes] = []
        for s in c.assets:
            if not isinstance(s, AssetWrite):
                raise TypeError(f"assets must hold AssetWrite, got {type(s).__name__}")
            k = K.asset_key(s.address, s.issuer, s.code)
            if type(s.amount) is not int or not 0 <= s.amount <= K.I64_MAX:
                raise ValueError(f"asset amount must be an int in [0, 2**63), got {s.amount!r}")
            if s.amount == 0:
                wb.delete(k)
                deleted.append(k)
            else:
                put(k, K.pack_i64(s.amount))
        for m in c.metadata:
            if not isinstance(m, MetadataWrite):
                raise TypeError(f"metadata must hold MetadataWrite, got {type(m).__name__}")
            k = K.metadata_key(m.address, m.key)
            if type(m.version) is not int or not K.I64_MIN <= m.version <= K.I64_MAX:
                raise ValueError(f"metadata version must be an int64, got {m.version!r}")
            if m.value is None:
                wb.delete(k)
                deleted.append(k)
            elif isinstance(m.value, bytes):
                put(k, K.pack_i64(m.version) + m.value)
            else:
                raise TypeError(f"metadata value must be bytes or None, got {type(m.value).__name__}")

        wb.set_default_column_family(h_blocks)
        put(K.P_HEADER + seq8, c.header)
        put(K.P_LEDGER_TXS + seq8, b"".join(hashes))
        put(bkey, seq8)
        # The tip and counters ride in the same batch: after a crash they agree with
        # the data by construction.
        wb.set_default_column_family(h_meta)
        put(K.META_TIP, K.TIP.pack(seq, c.header_hash))
        put(K.META_ACCOUNT_COUNT, _pack_u64(count))
        return wb, count, deleted

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
                self._db.write(wb, self._sync if sync else self._nosync)  # type: ignore[union-attr]
            except Exception as e:  # noqa: BLE001
                raise StoreError(f"RocksDB write of chain metadata failed: {e}") from e

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


def _tx_problem(t: TxRecord, i: int, seq: int) -> str:
    if len(t.hash) != 32:
        return f"TxRecord at position {i}: hash must be 32 bytes, got {len(t.hash)}"
    if t.ledger_seq != seq:
        return f"TxRecord at position {i}: ledger_seq {t.ledger_seq} != block seq {seq}"
    return f"TxRecord at position {i}: index {t.index} != its position {i}"


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
