"""The key schema: byte order is numeric order, keys round-trip, prefixes do not collide."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rocksdict import Options, Rdict

from mbi.store import keys as K

u64s = st.integers(min_value=0, max_value=K.U64_MAX)
ascii_addr = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=60)
codes = st.text(min_size=1, max_size=20).filter(lambda s: 1 <= len(s.encode()) <= 255)


@given(u64s, u64s)
def test_integer_keys_order_like_numbers(a: int, b: int) -> None:
    for f in (K.header_key, K.ledger_txs_key, K.account_index_key):
        ka, kb = f(a), f(b)
        assert len(ka) == len(kb) == 9
        assert (ka < kb) == (a < b)
        assert (ka == kb) == (a == b)
    assert K.seq_from_block_key(K.header_key(a)) == a


@given(st.sets(u64s, min_size=1, max_size=60))
def test_rocksdb_iterates_headers_in_height_order(tmp_path_factory, seqs: set[int]) -> None:
    # Not just Python's bytes comparison: RocksDB's own bytewise comparator.
    path = str(tmp_path_factory.mktemp("order"))
    o = Options(raw_mode=True)
    o.create_if_missing(True)
    db = Rdict(path, o)
    try:
        for s in seqs:
            db[K.header_key(s)] = b"x"
            db[K.account_index_key(s)] = b"y"
        got = [K.seq_from_block_key(k) for k in db.keys(from_key=K.P_HEADER) if k[:1] == K.P_HEADER]
        assert got == sorted(seqs)
        idx = [K.unpack_u64(k[1:])[0] for k in db.keys(from_key=K.P_ACCOUNT_INDEX)
               if k[:1] == K.P_ACCOUNT_INDEX]
        assert idx == sorted(seqs)
    finally:
        db.close()
        Rdict.destroy(path)


@given(ascii_addr, ascii_addr, codes)
def test_asset_key_round_trip_and_prefix(addr: str, issuer: str, code: str) -> None:
    k = K.asset_key(addr, issuer, code)
    assert K.parse_asset_key(k) == (addr, issuer, code)
    assert k.startswith(K.asset_prefix(addr))


@given(ascii_addr, st.binary(min_size=1, max_size=300))
def test_metadata_key_round_trip(addr: str, mkey: bytes) -> None:
    k = K.metadata_key(addr, mkey)
    assert K.parse_metadata_key(k) == (addr, mkey)
    assert k.startswith(K.metadata_prefix(addr))


@given(ascii_addr, ascii_addr, ascii_addr, codes)
def test_address_prefixes_never_capture_other_addresses(a: str, b: str, issuer: str, code: str) -> None:
    # "ZTXa" must not see the entries of "ZTXab": addresses are length-prefixed.
    if a == b:
        return
    assert not K.asset_key(b, issuer, code).startswith(K.asset_prefix(a))
    assert not K.metadata_key(b, b"k").startswith(K.metadata_prefix(a))


def test_families_have_distinct_prefixes() -> None:
    blocks = {K.P_HEADER, K.P_LEDGER_TXS, K.P_BLOCK_HASH}
    state = {K.P_ACCOUNT, K.P_ACCOUNT_INDEX, K.P_ASSET, K.P_METADATA}
    assert len(blocks) == 3 and len(state) == 4
    assert K.P_META_INTERNAL != K.P_META_USER
    assert not K.user_meta_key(b"tip").startswith(K.P_META_INTERNAL)


@pytest.mark.parametrize("bad,exc", [(-1, ValueError), (1 << 64, ValueError), (True, TypeError),
                                     (1.0, TypeError), ("1", TypeError)])
def test_u64_rejects_non_u64(bad: object, exc: type) -> None:
    with pytest.raises(exc):
        K.header_key(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("addr,exc", [("", ValueError), ("ZTX\u00e9", ValueError),
                                      ("Z" * 256, ValueError), (b"ZTX", TypeError)])
def test_bad_addresses_rejected(addr: object, exc: type) -> None:
    with pytest.raises(exc):
        K.asset_prefix(addr)  # type: ignore[arg-type]


def test_hash_keys_need_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        K.tx_key(b"\x00" * 31)
    with pytest.raises(TypeError):
        K.block_hash_key("00" * 32)  # type: ignore[arg-type]


def test_prefix_end() -> None:
    assert K.prefix_end(b"A") == b"B"
    assert K.prefix_end(b"A\xff") == b"B"
    assert K.prefix_end(b"\xff\xff") is None
