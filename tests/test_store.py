"""mbi.store: round trips, atomic commit rules, error cases, reopen, snapshots."""
from __future__ import annotations

import hashlib
import os
import threading

import pytest
from rocksdict import Options, Rdict, ReadOptions

from mbi.store import (
    AccountWrite,
    AssetWrite,
    BlockCommit,
    ChainMismatchError,
    CorruptDatabaseError,
    ForeignDatabaseError,
    FormatVersionError,
    MetadataWrite,
    SequenceError,
    SnapshotTooOldError,
    Store,
    StoreClosedError,
    StoreError,
    StoreLockedError,
    StoreNotFoundError,
    TxRecord,
)
from mbi.store import db as store_db
from mbi.store import keys as K

CHAIN = 7


def H(*parts: object) -> bytes:
    return hashlib.sha256(repr(parts).encode()).digest()


def addr(i: int) -> str:
    return f"ZTX3{i:033d}"


def tx(seq: int, i: int, **kw: object) -> TxRecord:
    d: dict = dict(hash=H("tx", seq, i), envelope=b"env-%d-%d" % (seq, i) * 5, ledger_seq=seq,
                   index=i, error_code=0, error_desc="", actual_fee=1000 + i,
                   close_time=1_700_000_000_000_000 + seq)
    d.update(kw)
    return TxRecord(**d)


def block(seq: int, txs: int = 0, accounts=(), assets=(), metadata=()) -> BlockCommit:
    return BlockCommit(seq=seq, header_hash=H("hdr", seq), header=b"header-%d" % seq,
                       txs=tuple(tx(seq, i) for i in range(txs)), accounts=tuple(accounts),
                       assets=tuple(assets), metadata=tuple(metadata))


def dump(store: Store) -> dict:
    """Every key/value in every family: to prove a rejected commit wrote nothing."""
    ro = ReadOptions()
    ro.set_total_order_seek(True)  # the tx family's hash memtable iterates in order only so
    return {name: dict(cf.items(read_opt=ro)) for name, cf in zip(K.COLUMN_FAMILIES, store._cfs)}


@pytest.fixture
def path(tmp_path) -> str:
    return str(tmp_path / "db")


@pytest.fixture
def store(path):
    s = Store.open(path, CHAIN, create=True)
    yield s
    s.close()


# --- fresh store and round trips ------------------------------------------------------
def test_fresh_store_is_empty(store: Store) -> None:
    assert store.last_seq() == 0
    assert store.tip() is None
    assert store.account_count() == 0
    assert store.get_header(1) is None
    assert store.get_seq_by_hash(H("x")) is None
    assert store.get_tx(H("x")) is None
    assert store.get_ledger_txs(1) == []
    assert store.get_account(addr(0)) is None
    assert list(store.iter_accounts()) == []
    assert store.get_asset(addr(0), addr(1), "C") is None
    assert list(store.iter_assets(addr(0))) == []
    assert store.get_metadata(addr(0), b"k") is None
    assert list(store.iter_metadata(addr(0))) == []
    assert store.get_meta(b"k") is None
    assert store.chain_id == CHAIN


def test_round_trip_every_record_type(store: Store) -> None:
    txs = (
        tx(1, 0),
        tx(1, 1, error_code=103, error_desc="账户不存在 / account missing", actual_fee=2**63 - 1,
           close_time=-1, envelope=b""),
        tx(1, 2, error_code=-5, envelope=bytes(range(256)) * 40),
    )
    accounts = [AccountWrite(addr(0), 0, b"genesis"), AccountWrite(addr(1), 1, b"\x00" * 500),
                AccountWrite("ZTXa", 2, b"")]
    assets = [AssetWrite(addr(0), addr(1), "USDT", 5), AssetWrite(addr(0), addr(1), "ZZ", 2**63 - 1),
              AssetWrite(addr(0), addr(0), "USDT", 9), AssetWrite("ZTXab", addr(1), "USDT", 1)]
    metadata = [MetadataWrite(addr(0), b"k1", b"v1", 1), MetadataWrite(addr(0), b"\x00\xff", b"", 3),
                MetadataWrite("ZTXa", b"k1", b"other", 2)]
    c = BlockCommit(seq=1, header_hash=H("h1"), header=b"H1", txs=txs, accounts=accounts,
                    assets=assets, metadata=metadata)
    store.commit_block(c)

    assert store.last_seq() == 1
    assert store.tip() == (1, H("h1"))
    assert store.get_header(1) == b"H1"
    assert store.get_seq_by_hash(H("h1")) == 1
    assert store.get_ledger_txs(1) == [t.hash for t in txs]
    for t in txs:
        assert store.get_tx(t.hash) == t
    assert store.account_count() == 3
    assert store.get_account(addr(1)) == b"\x00" * 500
    assert store.get_account_entry("ZTXa") == (2, b"")
    assert list(store.iter_accounts()) == [(0, addr(0), b"genesis"), (1, addr(1), b"\x00" * 500),
                                           (2, "ZTXa", b"")]
    assert store.get_asset(addr(0), addr(1), "USDT") == 5
    assert store.get_asset(addr(0), addr(1), "ZZ") == 2**63 - 1
    assert sorted(store.iter_assets(addr(0))) == sorted(
        [(addr(1), "USDT", 5), (addr(1), "ZZ", 2**63 - 1), (addr(0), "USDT", 9)])
    assert list(store.iter_assets("ZTXab")) == [(addr(1), "USDT", 1)]
    assert list(store.iter_assets("ZTXa")) == []  # a prefix of "ZTXab", but another account
    assert store.get_metadata(addr(0), b"k1") == (b"v1", 1)
    assert store.get_metadata(addr(0), b"\x00\xff") == (b"", 3)
    assert sorted(store.iter_metadata(addr(0))) == [(b"\x00\xff", b"", 3), (b"k1", b"v1", 1)]
    assert list(store.iter_metadata("ZTXa")) == [(b"k1", b"other", 2)]


def test_same_new_account_twice_in_a_block(store: Store) -> None:
    store.commit_block(block(1, accounts=[AccountWrite(addr(0), 0, b"first"), AccountWrite(addr(1), 1, b"x"),
                                          AccountWrite(addr(0), 0, b"second")]))
    assert store.account_count() == 2
    assert list(store.iter_accounts()) == [(0, addr(0), b"second"), (1, addr(1), b"x")]


def test_updates_and_deletes(store: Store) -> None:
    store.commit_block(block(1, 2, accounts=[AccountWrite(addr(0), 0, b"a0")],
                             assets=[AssetWrite(addr(0), addr(0), "C", 10)],
                             metadata=[MetadataWrite(addr(0), b"k", b"v", 1)]))
    store.commit_block(block(2, 0, accounts=[AccountWrite(addr(0), 0, b"a0'"), AccountWrite(addr(1), 1, b"a1")],
                             assets=[AssetWrite(addr(0), addr(0), "C", 0), AssetWrite(addr(1), addr(0), "C", 4)],
                             metadata=[MetadataWrite(addr(0), b"k", None, 2), MetadataWrite(addr(1), b"k", b"w", 1)]))
    assert store.get_account_entry(addr(0)) == (0, b"a0'")
    assert store.account_count() == 2
    assert store.get_asset(addr(0), addr(0), "C") is None
    assert list(store.iter_assets(addr(0))) == []
    assert store.get_metadata(addr(0), b"k") is None
    assert store.get_metadata(addr(1), b"k") == (b"w", 1)
    assert store.get_ledger_txs(2) == []
    assert store.get_ledger_txs(1) == [H("tx", 1, 0), H("tx", 1, 1)]
    assert [s for s in range(1, 4) if store.get_header(s)] == [1, 2]


# --- commit rules ---------------------------------------------------------------------
def test_seq_gap_rejected_and_db_unchanged(store: Store) -> None:
    store.commit_block(block(1, 3, accounts=[AccountWrite(addr(0), 0, b"x")]))
    before = dump(store)
    for bad in (3, 1, 0, 100):
        with pytest.raises(SequenceError, match="next ledger must be 2"):
            store.commit_block(block(bad, 2, accounts=[AccountWrite(addr(1), 1, b"y")]))
    assert dump(store) == before
    assert store.last_seq() == 1
    store.commit_block(block(2))
    assert store.last_seq() == 2


def test_first_commit_must_be_seq_1(store: Store) -> None:
    with pytest.raises(SequenceError):
        store.commit_block(block(2))
    assert store.tip() is None


BAD_COMMITS = [
    ("tx hash length", lambda: block(2, 1).__class__(2, H("h2"), b"h", txs=(tx(2, 0, hash=b"short"),)), ValueError),
    ("tx ledger seq", lambda: BlockCommit(2, H("h2"), b"h", txs=(tx(3, 0),)), ValueError),
    ("tx index", lambda: BlockCommit(2, H("h2"), b"h", txs=(tx(2, 1),)), ValueError),
    ("tx fee overflow", lambda: BlockCommit(2, H("h2"), b"h", txs=(tx(2, 0, actual_fee=2**63),)), ValueError),
    ("tx envelope type", lambda: BlockCommit(2, H("h2"), b"h", txs=(tx(2, 0, envelope="str"),)), ValueError),
    ("header hash", lambda: BlockCommit(2, b"x" * 31, b"h"), ValueError),
    ("header type", lambda: BlockCommit(2, H("h2"), "h"), TypeError),
    ("dup header hash", lambda: BlockCommit(2, H("hdr", 1), b"h"), ValueError),
    ("account index gap", lambda: BlockCommit(2, H("h2"), b"h", accounts=(AccountWrite(addr(5), 5, b"a"),)), ValueError),
    ("account index twice", lambda: BlockCommit(2, H("h2"), b"h", accounts=(
        AccountWrite(addr(5), 1, b"a"), AccountWrite(addr(6), 1, b"a"))), ValueError),
    ("account two new indexes", lambda: BlockCommit(2, H("h2"), b"h", accounts=(
        AccountWrite(addr(5), 1, b"a"), AccountWrite(addr(5), 2, b"a"))), ValueError),
    ("account address", lambda: BlockCommit(2, H("h2"), b"h", accounts=(AccountWrite("ZTXé", 1, b"a"),)), ValueError),
    ("account encoded", lambda: BlockCommit(2, H("h2"), b"h", accounts=(AccountWrite(addr(1), 1, "a"),)), ValueError),
    ("negative index", lambda: BlockCommit(2, H("h2"), b"h", accounts=(AccountWrite(addr(1), -1, b"a"),)), ValueError),
    ("asset amount", lambda: BlockCommit(2, H("h2"), b"h", assets=(AssetWrite(addr(0), addr(0), "C", -1),)), ValueError),
    ("asset code", lambda: BlockCommit(2, H("h2"), b"h", assets=(AssetWrite(addr(0), addr(0), "", 1),)), ValueError),
    ("metadata value", lambda: BlockCommit(2, H("h2"), b"h", metadata=(MetadataWrite(addr(0), b"k", "v", 1),)), TypeError),
    ("metadata key", lambda: BlockCommit(2, H("h2"), b"h", metadata=(MetadataWrite(addr(0), b"", b"v", 1),)), ValueError),
    ("metadata version", lambda: BlockCommit(2, H("h2"), b"h", metadata=(MetadataWrite(addr(0), b"k", b"v", 2**63),)), ValueError),
]


@pytest.mark.parametrize("name,make,exc", BAD_COMMITS, ids=[b[0] for b in BAD_COMMITS])
def test_invalid_commit_rejected_and_db_unchanged(store: Store, name: str, make, exc: type) -> None:
    store.commit_block(block(1, 2, accounts=[AccountWrite(addr(0), 0, b"x")]))
    before = dump(store)
    # Valid records before the bad one must not leak into the DB either.
    c = make()
    c = BlockCommit(c.seq, c.header_hash, c.header, txs=c.txs,
                    accounts=(AccountWrite(addr(0), 0, b"changed"),) + tuple(c.accounts),
                    assets=c.assets, metadata=c.metadata) if name.startswith(("asset", "metadata")) else c
    with pytest.raises(exc):
        store.commit_block(c)
    assert dump(store) == before
    assert store.last_seq() == 1 and store.account_count() == 1
    store.commit_block(block(2, 1, accounts=[AccountWrite(addr(1), 1, b"y")]))  # still usable
    assert store.account_count() == 2


# --- reopen and error cases -----------------------------------------------------------
def test_reopen_after_clean_close(path: str) -> None:
    with Store.open(path, CHAIN, create=True) as s:
        for seq in range(1, 6):
            s.commit_block(block(seq, seq, accounts=[AccountWrite(addr(seq - 1), seq - 1, b"a%d" % seq)]))
        s.put_meta(b"safety", b"round=9")
        before = dump(s)
    with Store.open(path, CHAIN) as s:
        assert dump(s) == before
        assert s.tip() == (5, H("hdr", 5))
        assert s.account_count() == 5
        assert s.get_meta(b"safety") == b"round=9"
        s.commit_block(block(6))
    with Store.open(path, CHAIN, create=True) as s:  # create=True never re-initialises
        assert s.last_seq() == 6


def test_not_found(tmp_path) -> None:
    with pytest.raises(StoreNotFoundError, match="create=True"):
        Store.open(str(tmp_path / "missing"), CHAIN)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(StoreNotFoundError):
        Store.open(str(empty), CHAIN)
    assert not os.path.exists(tmp_path / "missing")
    with Store.open(str(empty), CHAIN, create=True) as s:  # an empty dir may be created into
        assert s.last_seq() == 0


def test_chain_mismatch(path: str) -> None:
    Store.open(path, CHAIN, create=True).close()
    with pytest.raises(ChainMismatchError, match="belongs to chain 7, not chain 8"):
        Store.open(path, 8)
    with pytest.raises(ChainMismatchError):
        Store.open(path, 8, create=True)
    Store.open(path, CHAIN).close()  # the failed opens released the lock


def test_foreign_rocksdb(tmp_path) -> None:
    p = str(tmp_path / "foreign")
    o = Options(raw_mode=True)
    o.create_if_missing(True)
    db = Rdict(p, o)
    db[b"k"] = b"v"
    db.close()

    def files() -> dict[str, bytes]:
        return {f: open(os.path.join(p, f), "rb").read() for f in sorted(os.listdir(p))}

    before = files()
    for create in (False, True):
        with pytest.raises(ForeignDatabaseError, match="not an MBI store"):
            Store.open(p, CHAIN, create=create)
    assert files() == before  # not a byte changed


def test_foreign_rocksdb_with_meta_family_but_no_marker(tmp_path) -> None:
    p = str(tmp_path / "foreign2")
    o = Options(raw_mode=True)
    o.create_if_missing(True)
    o.create_missing_column_families(True)
    db = Rdict(p, o, column_families={n: Options(raw_mode=True) for n in K.COLUMN_FAMILIES})
    db.get_column_family(K.CF_META)[K.META_MAGIC] = b"SOMETHING-ELSE"
    db.close()
    with pytest.raises(ForeignDatabaseError, match="no MBI marker"):
        Store.open(p, CHAIN)


def test_non_db_directory_and_file(tmp_path) -> None:
    d = tmp_path / "docs"
    d.mkdir()
    (d / "notes.txt").write_text("hello")
    with pytest.raises(ForeignDatabaseError, match="not a RocksDB database"):
        Store.open(str(d), CHAIN, create=True)
    assert os.listdir(d) == ["notes.txt"]
    f = tmp_path / "file"
    f.write_bytes(b"x")
    with pytest.raises(ForeignDatabaseError, match="is a file"):
        Store.open(str(f), CHAIN, create=True)


def _raw_open(p: str) -> Rdict:
    names = Rdict.list_cf(p, Options(raw_mode=True))
    return Rdict(p, Options(raw_mode=True),
                 column_families={n: Options(raw_mode=True) for n in names if n != "default"})


def test_format_version_mismatch(path: str) -> None:
    Store.open(path, CHAIN, create=True).close()
    db = _raw_open(path)
    db.get_column_family(K.CF_META)[K.META_FORMAT] = K.pack_u64(K.FORMAT_VERSION + 1)
    db.close()
    with pytest.raises(FormatVersionError, match=f"format {K.FORMAT_VERSION + 1}"):
        Store.open(path, CHAIN)


def test_corrupt_manifest(path: str) -> None:
    with Store.open(path, CHAIN, create=True) as s:
        s.commit_block(block(1, 3))
    manifest = [f for f in os.listdir(path) if f.startswith("MANIFEST-")][0]
    with open(os.path.join(path, manifest), "r+b") as fh:
        size = fh.seek(0, 2)
        fh.seek(size // 3)
        fh.write(os.urandom(64))
    with pytest.raises(CorruptDatabaseError):
        Store.open(path, CHAIN)


def test_missing_manifest_or_garbage_current(path: str) -> None:
    Store.open(path, CHAIN, create=True).close()
    with open(os.path.join(path, "CURRENT"), "w") as fh:
        fh.write("MANIFEST-999999\n")
    with pytest.raises(CorruptDatabaseError):
        Store.open(path, CHAIN)


def test_corrupt_sst(path: str) -> None:
    with Store.open(path, CHAIN, create=True) as s:
        s.commit_block(block(1, 50, accounts=[AccountWrite(addr(0), 0, b"a" * 100)]))
        s._db.flush(True)  # move everything from WAL/memtable into SST files
        for cf in s._cfs:
            cf.flush(True)
        del cf  # a leaked family handle would keep the DB (and its LOCK) open
    ssts = [f for f in os.listdir(path) if f.endswith(".sst")]
    assert ssts
    for f in ssts:
        with open(os.path.join(path, f), "r+b") as fh:
            fh.seek(10)
            fh.write(b"\xde\xad\xbe\xef" * 64)
    with pytest.raises(CorruptDatabaseError):
        s = Store.open(path, CHAIN)
        try:  # if open itself did not touch a damaged block, a read must
            for i in range(50):
                s.get_tx(H("tx", 1, i))
        finally:
            s.close()


def test_inconsistent_tip_detected(path: str) -> None:
    with Store.open(path, CHAIN, create=True) as s:
        s.commit_block(block(1))
        s.commit_block(block(2))
    db = _raw_open(path)
    del db.get_column_family(K.CF_BLOCKS)[K.header_key(2)]
    db.close()
    with pytest.raises(CorruptDatabaseError, match="tip 2 has no header"):
        Store.open(path, CHAIN)


def test_block_beyond_tip_detected(path: str) -> None:
    with Store.open(path, CHAIN, create=True) as s:
        s.commit_block(block(1))
    db = _raw_open(path)
    db.get_column_family(K.CF_BLOCKS)[K.header_key(2)] = b"stray"
    db.close()
    with pytest.raises(CorruptDatabaseError, match="beyond the tip"):
        Store.open(path, CHAIN)


def test_account_count_mismatch_detected(path: str) -> None:
    with Store.open(path, CHAIN, create=True) as s:
        s.commit_block(block(1, accounts=[AccountWrite(addr(0), 0, b"a")]))
    db = _raw_open(path)
    db.get_column_family(K.CF_META)[K.META_ACCOUNT_COUNT] = K.pack_u64(5)
    db.close()
    with pytest.raises(CorruptDatabaseError, match="account count"):
        Store.open(path, CHAIN)


def test_missing_family_detected(path: str) -> None:
    Store.open(path, CHAIN, create=True).close()
    db = _raw_open(path)
    db.drop_column_family(K.CF_TXS)
    db.close()
    with pytest.raises(CorruptDatabaseError, match="lacks column families"):
        Store.open(path, CHAIN)


def test_locked(store: Store, path: str) -> None:
    with pytest.raises(StoreLockedError, match="already open"):
        Store.open(path, CHAIN)


def test_bad_chain_id_argument(path: str) -> None:
    with pytest.raises(ValueError):
        Store.open(path, -1, create=True)
    with pytest.raises(ValueError):
        Store.open(path, "7", create=True)  # type: ignore[arg-type]


def test_crashed_creation_debris_is_replaced(path: str) -> None:
    os.makedirs(path + ".mbi-creating")
    with open(os.path.join(path + ".mbi-creating", "CURRENT"), "w") as fh:
        fh.write("junk")
    with Store.open(path, CHAIN, create=True) as s:
        assert s.last_seq() == 0
    assert not os.path.exists(path + ".mbi-creating")


def test_all_errors_are_store_errors() -> None:
    for e in (StoreNotFoundError, ForeignDatabaseError, ChainMismatchError, FormatVersionError,
              CorruptDatabaseError, StoreLockedError, StoreClosedError, SequenceError,
              SnapshotTooOldError):
        assert issubclass(e, StoreError)


# --- lifecycle, metadata, snapshots ---------------------------------------------------
def test_closed_store_raises(path: str) -> None:
    s = Store.open(path, CHAIN, create=True)
    s.close()
    s.close()  # idempotent
    for call in (s.last_seq, s.tip, lambda: s.get_header(1), lambda: s.commit_block(block(1)),
                 lambda: s.put_meta(b"k", b"v"), s.snapshot, lambda: list(s.iter_accounts())):
        with pytest.raises(StoreClosedError):
            call()


def test_chain_metadata(store: Store, path: str) -> None:
    store.put_meta(b"tip", b"not the real tip")  # user keys cannot clobber internal ones
    store.commit_block(block(1))
    store.put_meta(b"consensus/last_voted_round", (42).to_bytes(8, "big"))
    store.write_meta({b"a": b"1", b"b": b"2"}, sync=False)
    assert store.get_meta(b"consensus/last_voted_round") == (42).to_bytes(8, "big")
    store.delete_meta(b"a")
    assert store.get_meta(b"a") is None and store.get_meta(b"b") == b"2"
    assert store.tip() == (1, H("hdr", 1))
    with pytest.raises(TypeError):
        store.put_meta(b"k", "str")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        store.put_meta(b"", b"v")
    store.close()
    with Store.open(path, CHAIN) as s:
        assert s.get_meta(b"tip") == b"not the real tip"
        assert s.tip() == (1, H("hdr", 1))


class _FailingWalSync:
    """Stands in for the store's RocksDB handle: everything passes through, except that
    the WAL sync fails (as an fsync on a dying disk does)."""

    def __init__(self, db) -> None:
        self._db = db

    def flush_wal(self, sync: bool) -> None:
        raise Exception("IO error: fdatasync: Input/output error")

    def __getattr__(self, name: str):
        return getattr(self._db, name)


@pytest.mark.parametrize("write", ["commit", "meta"])
def test_failed_wal_sync_stops_writes_until_reopened(path: str, write: str) -> None:
    """A write whose WAL sync fails has unknown durability: the call raises StoreError
    naming it, and the store refuses every later write (a retry could not tell what is on
    disk) while reads go on; after a reopen the store is whole and takes writes again."""
    s = Store.open(path, CHAIN, create=True)
    s.commit_block(block(1, txs=2))
    real = s._db
    s._db = _FailingWalSync(real)
    try:
        if write == "commit":
            with pytest.raises(StoreError, match="WAL sync after writing ledger 2 failed.*restart"):
                s.commit_block(block(2, txs=2))
        else:
            with pytest.raises(StoreError, match="WAL sync after writing chain metadata failed"):
                s.put_meta(b"k", b"v")
        s._db = real
        for call in (lambda: s.commit_block(block(2, txs=2)), lambda: s.put_meta(b"k2", b"v"),
                     lambda: s.write_meta({b"k3": b"v"}, sync=False)):
            with pytest.raises(StoreError, match="takes no more writes.*restart"):
                call()
        assert s.get_header(1) == b"header-1"  # reads still work
        assert s.last_seq() == 1  # the failed commit did not move the tip
    finally:
        s._db = real
        s.close()
    with Store.open(path, CHAIN) as s2:
        # The write itself reached RocksDB before its sync failed (here the disk is fine, so
        # it is on disk): recovery finds the store whole at one tip or the other.
        tip = s2.last_seq()
        assert tip == (2 if write == "commit" else 1)
        s2.commit_block(block(tip + 1))
        assert s2.last_seq() == tip + 1


def test_snapshot_is_isolated_from_later_commits(store: Store) -> None:
    store.commit_block(block(1, 2, accounts=[AccountWrite(addr(0), 0, b"a0")],
                             assets=[AssetWrite(addr(0), addr(0), "C", 10), AssetWrite(addr(0), addr(0), "D", 1)],
                             metadata=[MetadataWrite(addr(0), b"k", b"v", 1)]))
    with store.snapshot() as snap:
        store.commit_block(block(2, 3, accounts=[AccountWrite(addr(0), 0, b"a0'"), AccountWrite(addr(1), 1, b"a1")],
                                 assets=[AssetWrite(addr(0), addr(0), "C", 0), AssetWrite(addr(0), addr(0), "E", 7)],
                                 metadata=[MetadataWrite(addr(0), b"k", None, 2),
                                           MetadataWrite(addr(0), b"k2", b"new", 1)]))
        assert snap.last_seq() == 1 and snap.tip() == (1, H("hdr", 1))
        assert snap.get_header(2) is None and snap.get_seq_by_hash(H("hdr", 2)) is None
        assert snap.get_tx(H("tx", 2, 0)) is None and snap.get_tx(H("tx", 1, 0)) == tx(1, 0)
        assert snap.get_account(addr(0)) == b"a0" and snap.get_account(addr(1)) is None
        assert snap.account_count() == 1
        assert list(snap.iter_accounts()) == [(0, addr(0), b"a0")]
        assert list(snap.iter_assets(addr(0))) == [(addr(0), "C", 10), (addr(0), "D", 1)]
        assert list(snap.iter_metadata(addr(0))) == [(b"k", b"v", 1)]
        assert snap.get_metadata(addr(0), b"k") == (b"v", 1)
        # and the live store moved on
        assert list(store.iter_assets(addr(0))) == [(addr(0), "D", 1), (addr(0), "E", 7)]
        assert list(store.iter_metadata(addr(0))) == [(b"k2", b"new", 1)]
        assert [a for _, a, _ in store.iter_accounts()] == [addr(0), addr(1)]
    with pytest.raises(StoreClosedError):
        snap.get_header(1)


def test_snapshot_too_old_for_iteration(store: Store, monkeypatch) -> None:
    monkeypatch.setattr(store_db, "DELETION_HISTORY_BLOCKS", 2)
    store.commit_block(block(1, assets=[AssetWrite(addr(0), addr(0), "C", 1)]))
    snap = store.snapshot()
    for seq in range(2, 6):
        store.commit_block(block(seq))
    assert snap.get_header(1) == b"header-1"  # point reads still work
    with pytest.raises(SnapshotTooOldError):
        list(snap.iter_assets(addr(0)))


def test_close_invalidates_snapshots(path: str) -> None:
    s = Store.open(path, CHAIN, create=True)
    snap = s.snapshot()
    s.close()
    with pytest.raises(StoreClosedError):
        snap.tip()
    Store.open(path, CHAIN).close()  # lock released despite the snapshot object


def test_snapshots_consistent_under_concurrent_commits(store: Store) -> None:
    errors: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            with store.snapshot() as snap:
                seq = snap.last_seq()
                if seq == 0:
                    continue
                # The view never shows a half block: tip header, its txs, its accounts.
                if snap.get_header(seq) != b"header-%d" % seq or snap.get_header(seq + 1) is not None:
                    errors.append(f"header mismatch at {seq}")
                hashes = snap.get_ledger_txs(seq)
                if len(hashes) != seq % 7 or any(snap.get_tx(h) is None for h in hashes):
                    errors.append(f"txs mismatch at {seq}")
                if snap.account_count() != seq or len(list(snap.iter_accounts())) != seq:
                    errors.append(f"accounts mismatch at {seq}")

    th = threading.Thread(target=reader)
    th.start()
    try:
        for seq in range(1, 120):
            store.commit_block(block(seq, seq % 7, accounts=[AccountWrite(addr(seq - 1), seq - 1, b"x")]))
    finally:
        stop.set()
        th.join()
    assert errors == []


def test_tx_envelopes_are_read_without_the_rest_of_the_record(store: Store) -> None:
    """get_tx_envelopes: (ledger seq, envelope) as committed, the error_desc skipped."""
    txs = (tx(1, 0), tx(1, 1, error_code=4, error_desc="nonce gap: é"), tx(1, 2))
    store.commit_block(BlockCommit(seq=1, header_hash=H("hdr", 1), header=b"header-1", txs=txs))
    store.commit_block(block(2, 1))
    hashes = store.get_ledger_txs(1) + store.get_ledger_txs(2) + [H("nope")]
    assert store.get_tx_envelopes(hashes) == [
        (1, b"env-1-0" * 5), (1, b"env-1-1" * 5), (1, b"env-1-2" * 5), (2, b"env-2-0" * 5), None]
    assert store.get_tx_envelopes([]) == []
    with store.snapshot() as snap:
        assert snap.get_tx_envelopes(hashes[1:2]) == [(1, b"env-1-1" * 5)]
    good = store._cfs[2][K.tx_key(hashes[0])]
    for bad in (good[:10], b"\x02" + good[1:], good[:33] + b"\xff\xff" + good[35:]):
        store._cfs[2][K.tx_key(hashes[0])] = bad
        with pytest.raises(CorruptDatabaseError, match="malformed"):
            store.get_tx_envelopes(hashes[:1])
    store._cfs[2][K.tx_key(hashes[0])] = good
    assert store.get_tx_envelopes(hashes[:1]) == [(1, b"env-1-0" * 5)]
    desc = store._cfs[2][K.tx_key(hashes[1])]
    at = desc.index("é".encode())
    store._cfs[2][K.tx_key(hashes[1])] = desc[:at] + b"\xff" + desc[at + 1:]  # not UTF-8
    with pytest.raises(CorruptDatabaseError, match="error_desc"):
        store.get_tx_envelopes(hashes[1:2])


def test_corruption_found_on_read_is_a_store_error(path: str) -> None:
    with Store.open(path, CHAIN, create=True) as s:
        s.commit_block(block(1, 400))
        s._cfs[2].flush(True)  # the tx family only: the tip checks at open read other files
        files = s._db.live_files()
    sst = [f["name"] for f in files if f["start_key"][:1] == K.P_TX][0]
    with open(path + sst, "r+b") as fh:
        size = fh.seek(0, 2)
        fh.seek(size // 3)  # inside the data blocks, before index and footer
        fh.write(b"\x00" * 256)
    with Store.open(path, CHAIN) as s:
        assert s.get_header(1) == b"header-1"
        with pytest.raises(CorruptDatabaseError, match="corrupt"):
            for i in range(400):
                assert s.get_tx(H("tx", 1, i)) == tx(1, i)


def test_multi_gets(store: Store) -> None:
    store.commit_block(block(1, 30, accounts=[AccountWrite(addr(i), i, b"a%d" % i) for i in range(5)]))
    hashes = store.get_ledger_txs(1)
    missing = H("nope")
    assert store.get_txs(hashes + [missing]) == [tx(1, i) for i in range(30)] + [None]
    assert store.get_txs([]) == []
    got = store.get_account_entries([addr(3), "ZTXnone", addr(0)])
    assert got == [(3, b"a3"), None, (0, b"a0")]
    with store.snapshot() as snap:
        store.commit_block(block(2, 0, accounts=[AccountWrite(addr(3), 3, b"new")]))
        assert snap.get_account_entries([addr(3)]) == [(3, b"a3")]
        assert snap.get_txs(hashes[:2]) == [tx(1, 0), tx(1, 1)]
    assert store.get_account_entries([addr(3)]) == [(3, b"new")]


def test_read_only_open_beside_the_writer(store: Store, path: str) -> None:
    store.commit_block(block(1, 3, accounts=[AccountWrite(addr(0), 0, b"a")]))
    with Store.open(path, CHAIN, read_only=True) as ro:
        assert ro.read_only and not store.read_only
        assert ro.tip() == store.tip() and ro.get_txs(store.get_ledger_txs(1)) == [tx(1, i) for i in range(3)]
        with pytest.raises(StoreError, match="read-only"):
            ro.commit_block(block(2))
        with pytest.raises(StoreError, match="read-only"):
            ro.put_meta(b"k", b"v")
    store.commit_block(block(2))  # the writer was not disturbed
    with pytest.raises(ChainMismatchError):
        Store.open(path, CHAIN + 1, read_only=True)


def test_read_only_never_creates(tmp_path) -> None:
    with pytest.raises(StoreNotFoundError):
        Store.open(str(tmp_path / "nope"), CHAIN, create=True, read_only=True)
    assert not os.path.exists(tmp_path / "nope")


def test_checkpoint_is_a_store(store: Store, tmp_path) -> None:
    for seq in range(1, 4):
        store.commit_block(block(seq, seq, accounts=[AccountWrite(addr(seq - 1), seq - 1, b"x")]))
    dest = str(tmp_path / "ckpt")
    store.checkpoint(dest)
    store.commit_block(block(4))  # later commits do not reach the checkpoint
    with pytest.raises(ValueError, match="already exists"):
        store.checkpoint(dest)
    with Store.open(dest, CHAIN) as c:
        assert c.tip() == (3, H("hdr", 3))
        assert list(c.iter_accounts()) == [(i, addr(i), b"x") for i in range(3)]
        assert c.get_txs(c.get_ledger_txs(3)) == [tx(3, i) for i in range(3)]
        c.commit_block(block(4))


def test_iter_all_assets_and_metadata(store: Store) -> None:
    store.commit_block(block(1, assets=[AssetWrite("ZTXb", addr(0), "C", 3), AssetWrite("ZTXa", addr(0), "C", 1),
                                        AssetWrite("ZTXab", addr(1), "D", 2), AssetWrite("ZTXa", addr(0), "B", 4)],
                             metadata=[MetadataWrite("ZTXb", b"k", b"v", 1), MetadataWrite("ZTXa", b"z", b"w", 2),
                                       MetadataWrite("ZTXa", b"a", b"u", 3)]))
    assets = list(store.iter_all_assets())
    assert sorted(assets) == sorted([("ZTXb", addr(0), "C", 3), ("ZTXa", addr(0), "C", 1),
                                     ("ZTXab", addr(1), "D", 2), ("ZTXa", addr(0), "B", 4)])
    order = [a for a, *_ in assets]
    assert order == sorted(order, key=lambda a: (len(a), a))  # grouped: all of one address together
    md = list(store.iter_all_metadata())
    assert sorted(md) == sorted([("ZTXb", b"k", b"v", 1), ("ZTXa", b"z", b"w", 2), ("ZTXa", b"a", b"u", 3)])
    with store.snapshot() as snap:
        store.commit_block(block(2, assets=[AssetWrite("ZTXa", addr(0), "C", 0)],
                                 metadata=[MetadataWrite("ZTXa", b"z", None, 3)]))
        assert list(snap.iter_all_assets()) == assets
        assert list(snap.iter_all_metadata()) == md
    assert len(list(store.iter_all_assets())) == 3 and len(list(store.iter_all_metadata())) == 2


def test_failed_open_releases_the_db_even_while_the_error_is_alive(path: str) -> None:
    # A traceback keeps its frames' locals alive; none of them may hold a family handle,
    # or the DB (and its LOCK) would stay open and the next open would be StoreLockedError.
    with Store.open(path, CHAIN, create=True) as s:
        s.commit_block(block(1))
        s.commit_block(block(2))
    errors = []
    for _ in range(2):
        try:
            Store.open(path, CHAIN + 1)
        except ChainMismatchError as e:
            errors.append(e)
    db = _raw_open(path)
    del db.get_column_family(K.CF_BLOCKS)[K.header_key(2)]
    db.close()
    for _ in range(2):
        try:
            Store.open(path, CHAIN)  # fails in Store.__init__'s consistency checks
        except CorruptDatabaseError as e:
            errors.append(e)
    assert [type(e) for e in errors] == [ChainMismatchError] * 2 + [CorruptDatabaseError] * 2


def test_rejected_commit_error_does_not_pin_the_db(path: str) -> None:
    s = Store.open(path, CHAIN, create=True)
    try:
        s.commit_block(BlockCommit(1, H("h"), b"h", txs=(tx(1, 0, hash=b"bad"),)))
    except ValueError as e:
        err = e
    s.close()
    with Store.open(path, CHAIN) as s2:  # err (and its traceback) is still alive here
        assert s2.last_seq() == 0
    assert "position 0" in str(err)


def test_tuning(path: str) -> None:
    from mbi.store import StoreTuning
    small = StoreTuning(block_cache_mb=4, write_buffer_mb=2, memtable_total_mb=8, background_jobs=1)
    with Store.open(path, CHAIN, create=True, tuning=small) as s:
        for seq in range(1, 4):  # several memtables' worth: flushes under the small budget
            s.commit_block(block(seq, 2000))
    with Store.open(path, CHAIN) as s:
        assert s.get_txs(s.get_ledger_txs(3)) == [tx(3, i) for i in range(2000)]
    for bad in (dict(block_cache_mb=0), dict(write_buffer_mb=-1), dict(background_jobs=1.5)):
        with pytest.raises(ValueError, match="positive int"):
            StoreTuning(**bad)


def test_stats(store: Store) -> None:
    store.commit_block(block(1, 100, accounts=[AccountWrite(addr(0), 0, b"a")]))
    st = store.stats()
    assert st["tip"] == 1 and st["accounts"] == 1
    assert st["estimated_keys"] >= 100 and st["memtable_bytes"] > 0 and st["sst_bytes"] >= 0


def test_corrupt_tx_record_is_reported(path: str) -> None:
    with Store.open(path, CHAIN, create=True) as s:
        s.commit_block(block(1, 1))
    db = _raw_open(path)
    txs = db.get_column_family(K.CF_TXS)
    k = K.tx_key(H("tx", 1, 0))
    txs[k] = txs[k][:K.TX_HEAD.size - 1]  # truncated head
    del txs
    db.close()
    with Store.open(path, CHAIN) as s:
        with pytest.raises(CorruptDatabaseError, match="tx record"):
            s.get_tx(H("tx", 1, 0))


def test_iter_headers(store: Store) -> None:
    assert list(store.iter_headers()) == []
    for seq in range(1, 13):  # crosses 9 -> 10 -> 11: byte order must be height order
        store.commit_block(block(seq))
    assert [s for s, _ in store.iter_headers()] == list(range(1, 13))
    assert list(store.iter_headers(9, 11)) == [(s, b"header-%d" % s) for s in (9, 10, 11)]
    assert list(store.iter_headers(12, 100)) == [(12, b"header-12")]
    assert list(store.iter_headers(13)) == [] and list(store.iter_headers(5, 4)) == []
    assert [s for s, _ in store.iter_headers(0, 2)] == [1, 2]
    with store.snapshot() as snap:
        store.commit_block(block(13))
        assert [s for s, _ in snap.iter_headers(10)] == [10, 11, 12]
        assert [s for s, _ in snap.iter_headers(10, 20)] == [10, 11, 12]
    assert [s for s, _ in store.iter_headers(10)] == [10, 11, 12, 13]


def test_corrupt_state_rows_are_reported(path: str) -> None:
    # Truncated account, asset and metadata values (and a malformed asset key) found by
    # the scans that rebuild state at start give CorruptDatabaseError, not struct.error.
    with Store.open(path, CHAIN, create=True) as s:
        s.commit_block(block(1, accounts=[AccountWrite(addr(0), 0, b"enc")],
                             assets=[AssetWrite(addr(0), addr(1), "GOLD", 5)],
                             metadata=[MetadataWrite(addr(0), b"k", b"v", 1)]))
    cases = [
        (K.account_key(addr(0)), b"\0\0", "account"),
        (K.asset_key(addr(0), addr(1), "GOLD"), b"\0\0\0", "asset"),
        (K.metadata_key(addr(0), b"k"), b"\0", "metadata"),
        (K.P_ASSET + b"\x05ab", K.pack_i64(1), "asset key"),
    ]

    def put(key: bytes, value: bytes | None) -> bytes | None:
        db = _raw_open(path)
        state = db.get_column_family(K.CF_ACCOUNTS if key.startswith(K.P_ACCOUNT) else K.CF_STATE)
        old = state.get(key)
        if value is None:
            del state[key]
        else:
            state[key] = value
        del state
        db.close()
        return old

    for key, value, what in cases:
        old = put(key, value)
        with Store.open(path, CHAIN) as s, s.snapshot() as snap:
            reads = [lambda: list(s.iter_accounts()), lambda: list(s.iter_all_assets()),
                     lambda: list(s.iter_assets(addr(0))), lambda: list(s.iter_all_metadata()),
                     lambda: list(s.iter_metadata(addr(0))), lambda: s.get_asset(addr(0), addr(1), "GOLD"),
                     lambda: s.get_metadata(addr(0), b"k"), lambda: s.get_account(addr(0)),
                     lambda: list(snap.iter_accounts()), lambda: list(snap.iter_all_assets()),
                     lambda: list(snap.iter_all_metadata())]
            failed = 0
            for read in reads:
                try:
                    read()
                except CorruptDatabaseError:
                    failed += 1
                except Exception as e:
                    raise AssertionError(f"{what}: {type(e).__name__}: {e}") from e
            assert failed, what
        put(key, old)


def _with(c: BlockCommit, **kw) -> BlockCommit:
    f = {k: getattr(c, k) for k in ("seq", "header_hash", "header", "txs", "accounts", "assets", "metadata")}
    f.update(kw)
    return BlockCommit(**f)


def test_ledger_record_lists_commit_like_record_objects(tmp_path) -> None:
    # The ledger hands accounts and transactions over as AccountWrites / TxRecords
    # (parallel lists); the store must write exactly what the same AccountWrite and
    # TxRecord objects give, and refuse the same bad rows, writing nothing.
    from mbi.store.records import AccountWrites, TxRecords
    rows = [AccountWrite(addr(0), 0, b"a0"), AccountWrite(addr(1), 1, b"a1"), AccountWrite(addr(0), 0, b"a0'")]
    recs = [tx(1, i) for i in range(3)]

    def lists(rows, recs):
        return (AccountWrites([r.address for r in rows], [r.index for r in rows], [r.encoded for r in rows]),
                TxRecords(recs[0].ledger_seq, recs[0].close_time, [t.hash for t in recs], [t.envelope for t in recs],
                          [t.error_code for t in recs], [t.error_desc for t in recs], [t.actual_fee for t in recs]))

    dumps = []
    for form in ((tuple(rows), tuple(recs)), lists(rows, recs)):
        with Store.open(str(tmp_path / f"db{len(dumps)}"), CHAIN, create=True) as s:
            s.commit_block(_with(block(1), accounts=form[0], txs=form[1]))
            dumps.append(dump(s))
            assert s.get_account(addr(0)) == b"a0'" and s.account_count() == 2
            assert s.get_tx(recs[2].hash) == recs[2]
            for bad in (AccountWrites([addr(2)], [2], ["not bytes"]), AccountWrites([""], [2], [b"x"]),
                        AccountWrites([addr(2)], [-1], [b"x"]), AccountWrites(["ZTXé"], [2], [b"x"])):
                before = dump(s)
                with pytest.raises(ValueError, match="invalid AccountWrite at position 0"):
                    s.commit_block(_with(block(2), accounts=bad))
                assert dump(s) == before
            t2 = [tx(2, 0)]
            for bad, msg in ((TxRecords(3, 0, [H("t")], [b"e"], [0], [""], [0]), "of ledger 3 in the commit of ledger 2"),
                             (TxRecords(2, 0, [b"short"], [b"e"], [0], [""], [0]), "hash must be 32 bytes"),
                             (TxRecords(2, 0, [H("t")], ["str"], [0], [""], [0]), "invalid TxRecord at position 0"),
                             (TxRecords(2, 0, [H("t")], [b"e"], [2**40], [""], [0]), "invalid TxRecord at position 0"),
                             (TxRecords(2, 0, [H("t")], [b"e"], [0], ["\ud800"], [0]), "invalid TxRecord at position 0")):
                before = dump(s)
                with pytest.raises(ValueError, match=msg):
                    s.commit_block(_with(block(2), txs=bad))
                assert dump(s) == before
            s.commit_block(_with(block(2), txs=lists([], t2)[1]))
            assert s.get_tx(t2[0].hash) == t2[0] and s.get_ledger_txs(2) == [t2[0].hash]
    assert dumps[0] == dumps[1]
    with pytest.raises(ValueError, match="differ in length"):
        AccountWrites([addr(0)], [], [b"x"])
    with pytest.raises(ValueError, match="differ in length"):
        TxRecords(1, 0, [H("t")], [], [0], [""], [0])
    w = AccountWrites([addr(0), addr(1)], [0, 1], [b"x", b"y"])
    assert list(w) == [AccountWrite(addr(0), 0, b"x"), AccountWrite(addr(1), 1, b"y")]
    assert w[1] == AccountWrite(addr(1), 1, b"y") and list(w[1:]) == [AccountWrite(addr(1), 1, b"y")]
    r = lists([], recs)[1]
    assert list(r) == recs and r[-1] == recs[2] and r[1:] == recs[1:] and len(r) == 3
