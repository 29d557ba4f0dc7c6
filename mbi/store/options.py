"""RocksDB options of the store: the memory and thread budget (`StoreTuning`) and the
per-family and database options built from it (see docs/storage.md)."""
from __future__ import annotations

from dataclasses import dataclass

from rocksdict import BlockBasedOptions, Cache, DBCompressionType, DBRecoveryMode, MemtableFactory, Options, SliceTransform

from . import keys as K

__all__ = ["StoreTuning"]

_MiB = 1 << 20


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
        # The consensus block tree lives here: each block above the executed height is
        # written (whole payload) and deleted a block or two later. A memtable that holds
        # many blocks' worth lets the flush drop those short-lived values instead of
        # writing them to SST files and compacting them (a 4 MiB one flushed them all).
        o.set_write_buffer_size(max(4, tuning.write_buffer_mb // 2) * _MiB)
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
