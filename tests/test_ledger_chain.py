"""Genesis, headers, the state tree and chaining ledgers; reloading from the store."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from mbi.crypto import KeyPair
from mbi.ledger import Account, Genesis, GenesisError, Ledger, check_header, decode_account
from mbi.ledger import header as H
from mbi.ledger import testing as T
from mbi.ledger.account import AccountDecodeError
from mbi.ledger.state import LedgerState
from mbi.types import LedgerHeader

G = KeyPair.from_seed(b"\x71" * 32)
V1 = KeyPair.from_seed(b"\x72" * 32)
V2 = KeyPair.from_seed(b"\x73" * 32)
U = [KeyPair.from_seed(bytes([0x80 + i]) * 32) for i in range(6)]
CHAIN = 11


def _h(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def rfc6962(entries: list[bytes]) -> bytes:
    """Independent RFC 6962 Merkle Tree Hash (section 2.1), straight from the text."""
    n = len(entries)
    if n == 0:
        return _h(b"")
    if n == 1:
        return _h(b"\0" + entries[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return _h(b"\1" + rfc6962(entries[:k]) + rfc6962(entries[k:]))


def genesis(**kw) -> Genesis:
    return Genesis.from_dict(T.genesis_dict(G, [V1, V2], chain_id=CHAIN, **kw))


# ------------------------------------------------------------------ genesis
def test_genesis_round_trip_and_ledger():
    g = genesis()
    assert Genesis.from_json(g.to_json()) == g
    ledger, commit = Ledger.create(g)
    hdr = ledger.head
    assert hdr.seq == 1 and commit.seq == 1 and commit.header_hash == hdr.hash
    assert LedgerHeader.FromString(commit.header) == hdr
    check_header(hdr)
    assert hdr.previous_hash == b"\0" * 32 and hdr.tx_count == 0 and hdr.chain_id == CHAIN
    acct = ledger.state.get_account(G.address)
    assert acct.balance == 10**17 and acct.index == 0 and acct.nonce == 0
    assert [(w.address, w.index) for w in commit.accounts] == [(G.address, 0)]
    assert hdr.account_tree_hash == rfc6962([_h(acct.encode())])
    assert hdr.fees_hash == _h((100).to_bytes(8, "big") + (0).to_bytes(8, "big"))
    assert hdr.validators_hash == _h(b"".join(bytes([len(v.address)]) + v.address.encode() + v.raw_public_key
                                                for v in (V1, V2)))
    # same genesis, same ledger; a different validator set, a different one
    assert Ledger.create(genesis())[0].head.hash == hdr.hash
    other = Genesis.from_dict(T.genesis_dict(G, [V1], chain_id=CHAIN))
    assert Ledger.create(other)[0].head.hash != hdr.hash


@pytest.mark.parametrize("patch,msg", [
    ({"chain_id": 0}, "chain_id"),
    ({"chain_id": "1"}, "chain_id"),
    ({"genesis_account": "ZTX3nope"}, "genesis_account"),
    ({"total_supply": -1}, "total_supply"),
    ({"total_supply": 2**63}, "total_supply"),
    ({"fees": {"gas_price": 1}}, "base_reserve"),
    ({"fees": {"gas_price": 1, "base_reserve": 0, "x": 1}}, "fees"),
    ({"validators": []}, "validators"),
    ({"validators": [{"public_key": "b001ff"}]}, "public_key"),
    ({"validators": [{"public_key": V1.encoded_public_key, "address": V2.address}]}, "does not match"),
    ({"validators": [{"public_key": V1.encoded_public_key}, {"public_key": V1.encoded_public_key}]}, "repeats"),
    ({"extra": 1}, "unknown keys"),
])
def test_genesis_errors(patch, msg):
    d = T.genesis_dict(G, [V1], chain_id=CHAIN)
    d.update(patch)
    with pytest.raises(GenesisError, match=msg):
        Genesis.from_dict(d)


def test_genesis_json_errors(tmp_path):
    with pytest.raises(GenesisError, match="JSON"):
        Genesis.from_json("{not json")
    with pytest.raises(GenesisError, match="object"):
        Genesis.from_json("[1]")
    # bytes that are not UTF-8, and nesting deeper than the parser's recursion limit
    for bad in (b'"\xff"', b"\xff\xfe\x00", b"[" * 100_000):
        with pytest.raises(GenesisError, match="JSON"):
            Genesis.from_json(bad)
    p = tmp_path / "genesis.json"
    p.write_text(json.dumps(T.genesis_dict(G, [V1], chain_id=CHAIN)))
    assert Genesis.load(p).chain_id == CHAIN


# ------------------------------------------------------------------ account encoding
def test_account_encoding_round_trip():
    a = Account(U[0].address, 3, nonce=5, balance=7, master_weight=2, tx_threshold=4,
                signers={U[2].address: 1, U[1].address: 9}, type_thresholds={7: 3, 2: 1},
                assets={(U[1].address, "B"): 2, (U[0].address, "A"): 1}, metadata={"z": ("1", 2), "a": ("", 1)})
    enc = a.encode()
    b = decode_account(enc, 3)
    b.assets, b.metadata = dict(a.assets), dict(a.metadata)
    assert b.encode() == enc and b == a
    # canonical: insertion order of the side tables does not matter
    c = a.clone()
    c.signers = dict(reversed(list(a.signers.items())))
    c.assets = dict(reversed(list(a.assets.items())))
    c.metadata = dict(reversed(list(a.metadata.items())))
    assert c.encode() == enc
    # and every field matters
    for attr, val in [("nonce", 6), ("balance", 8), ("master_weight", 3), ("tx_threshold", 5),
                      ("signers", {U[1].address: 9}), ("type_thresholds", {7: 3}),
                      ("assets", {(U[0].address, "A"): 2}), ("metadata", {"z": ("1", 3), "a": ("", 1)})]:
        d = a.clone()
        setattr(d, attr, val)
        assert d.encode() != enc, attr
    with pytest.raises(AccountDecodeError):
        decode_account(enc[:-1], 3)
    with pytest.raises(AccountDecodeError):
        decode_account(b"\x02" + enc[1:], 3)
    with pytest.raises(AccountDecodeError):
        decode_account(enc + b"\0", 3)


# ------------------------------------------------------------------ chaining ledgers
def _fund(ledger: Ledger, nonce: int) -> list:
    return [T.make_tx(G, nonce + i, [T.create_account(u.address, 10**9)], chain_id=CHAIN) for i, u in enumerate(U)]


def test_close_ledgers_headers_and_roots():
    ledger, _ = Ledger.create(genesis())
    c2 = ledger.close(_fund(ledger, 1), 2_000_000)
    assert [r.error_code for r in c2.receipts] == [0] * len(U)
    txs = [T.make_tx(U[0], 1, [T.pay_coin(U[1].address, 5)], chain_id=CHAIN),
           T.make_tx(U[0], 1, [T.pay_coin(U[1].address, 6)], chain_id=CHAIN),  # same nonce: dropped
           T.make_tx(U[2], 1, [T.pay_coin(U[3].address, 10**12)], chain_id=CHAIN),  # op fails: kept
           T.make_tx(U[3], 1, [T.log("t", ["x"])], chain_id=CHAIN)]
    c3 = ledger.close(txs, 3_000_000)
    codes = [r.error_code for r in c3.receipts]
    assert codes == [0, 99, 100, 0]
    h = c3.header
    check_header(h)
    assert h.seq == 3 and h.previous_hash == c2.header.hash and h.close_time == 3_000_000
    applied = [txs[0], txs[2], txs[3]]
    assert h.tx_count == 3 and [r.hash for r in c3.commit.txs] == [t.hash for t in applied]
    assert [r.index for r in c3.commit.txs] == [0, 1, 2]
    assert [r.error_code for r in c3.commit.txs] == [0, 100, 0]
    assert all(r.ledger_seq == 3 and r.close_time == 3_000_000 for r in c3.commit.txs)
    assert c3.commit.txs[0].envelope == txs[0].envelope
    assert h.tx_root == rfc6962([t.hash for t in applied])
    rs = [c3.receipts[i] for i in (0, 2, 3)]
    assert h.receipts_root == rfc6962([H.receipt_entry(r.hash, r.error_code, r.actual_fee, r.logs) for r in rs])
    # the consensus value covers everything proposed, dropped transactions included
    assert h.consensus_value_hash == _h(c2.header.hash + (3).to_bytes(8, "big") + (3_000_000).to_bytes(8, "big")
                                        + rfc6962([t.hash for t in txs]))
    # the state root is the RFC 6962 root over every account's leaf, in creation order
    leaves = [_h(a.encode()) for a in ledger.state.accounts()]
    assert [a.index for a in ledger.state.accounts()] == list(range(1 + len(U)))
    assert h.account_tree_hash == rfc6962(leaves) and h.account_count == len(leaves)
    # only touched accounts are written
    assert {w.address for w in c3.commit.accounts} == {U[0].address, U[1].address, U[2].address, U[3].address}
    # a header with any field changed no longer checks
    bad = LedgerHeader()
    bad.CopyFrom(h)
    bad.tx_count += 1
    with pytest.raises(ValueError, match="hash"):
        check_header(bad)
    with pytest.raises(ValueError, match="close_time"):
        ledger.close([], 2_999_999)
    # an out-of-range close_time (int64 header field) is refused with state untouched:
    # it used to fail only while hashing the header, after the state had been updated
    root = ledger.state.root()
    with pytest.raises(ValueError, match="close_time"):
        ledger.close([T.make_tx(G, len(U) + 1, [T.pay_coin(U[0].address, 1)], chain_id=CHAIN)], 2**63)
    assert ledger.state.root() == root and ledger.seq == 3


def test_fully_applied_ledger_records_and_roots():
    """A ledger where every transaction applies and none logs (built by the map() path
    of Ledger.close) has the same records and roots as the general definition."""
    from mbi.store.records import TxRecord
    ledger, _ = Ledger.create(genesis())
    ledger.close(_fund(ledger, 1), 1)
    txs = [T.make_tx(U[0], 1, [T.pay_coin(U[1].address, 5)], chain_id=CHAIN),
           T.make_tx(U[2], 1, [T.pay_coin(U[3].address, 10**12)], chain_id=CHAIN),  # op fails: applied
           T.make_tx(U[4], 1, [T.set_metadata("k", "v"), T.pay_coin(U[5].address, 1)], chain_id=CHAIN)]
    c = ledger.close(txs, 7_000)
    assert [r.error_code for r in c.receipts] == [0, 100, 0] and all(r.applied and not r.logs for r in c.receipts)
    assert list(c.commit.txs) == [TxRecord(t.hash, t.envelope, 3, i, r.error_code, r.error_desc, r.actual_fee, 7_000)
                                  for i, (t, r) in enumerate(zip(txs, c.receipts))]
    assert c.header.tx_count == 3 and c.header.tx_root == rfc6962([t.hash for t in txs])
    assert c.header.receipts_root == rfc6962([H.receipt_entry(r.hash, r.error_code, r.actual_fee)
                                              for r in c.receipts])


def test_empty_ledger_and_roots():
    ledger, _ = Ledger.create(genesis())
    root = ledger.head.account_tree_hash
    c = ledger.close([], 5)
    assert c.header.tx_count == 0 and c.header.tx_root == _h(b"") == c.header.receipts_root
    assert c.header.account_tree_hash == root and not c.commit.accounts


def test_state_apply_guards_against_stale_changes():
    ledger, _ = Ledger.create(genesis())
    from mbi.ledger import apply_block
    changes, _ = apply_block(ledger.state, _fund(ledger, 1)[:1], 2, 0)
    ledger.state.apply(changes)
    with pytest.raises(ValueError, match="computed against"):
        ledger.state.apply(changes)
    # malformed changes are refused, not folded in as the wrong kind of write
    from mbi.ledger import BlockChanges
    n = ledger.state.account_count()
    g = ledger.state.get_account(G.address).clone()
    with pytest.raises(ValueError, match="already exists"):
        ledger.state.apply(BlockChanges([Account(G.address, n)], 1, 0, n))
    with pytest.raises(ValueError, match="not in the state"):
        ledger.state.apply(BlockChanges([Account(U[5].address, 0)], 0, 0, n))
    g.index = 1
    with pytest.raises(ValueError, match="not in the state"):
        ledger.state.apply(BlockChanges([g], 0, 0, n))
    # nothing was written: accounts and tree as before
    assert ledger.state.account_count() == n and ledger.state.get_account(G.address).index == 0
    assert ledger.state.root() == rfc6962([_h(a.encode()) for a in ledger.state.accounts()])


def test_asset_and_metadata_records():
    ledger, _ = Ledger.create(genesis())
    ledger.close(_fund(ledger, 1), 1)
    c = ledger.close([T.make_tx(U[0], 1, [T.issue_asset("GOLD", 10), T.pay_asset(U[1].address, U[0].address, "GOLD", 10),
                                          T.set_metadata("k", "v")], chain_id=CHAIN)], 2)
    assert c.receipts[0].error_code == 0, c.receipts[0].error_desc
    assets = [(w.address, w.issuer, w.code, w.amount) for w in c.commit.assets]
    assert assets == [(U[1].address, U[0].address, "GOLD", 10)]  # U0 issued and paid all: net nothing held
    md = [(w.address, w.key, w.value, w.version) for w in c.commit.metadata]
    assert md == [(U[0].address, b"k", b"v", 1)]
    c = ledger.close([T.make_tx(U[0], 2, [T.set_metadata("k", delete=True)], chain_id=CHAIN),
                      T.make_tx(U[1], 1, [T.pay_asset(U[2].address, U[0].address, "GOLD", 10)], chain_id=CHAIN)], 3)
    assert [(w.address, w.key, w.value) for w in c.commit.metadata] == [(U[0].address, b"k", None)]
    assert sorted((w.address, w.amount) for w in c.commit.assets) == sorted([(U[1].address, 0), (U[2].address, 10)])


# ------------------------------------------------------------------ rebuilding state
def _records_store(ledger_commits):
    """Fold BlockCommits into dicts shaped like the store's read API."""
    accts: dict[str, tuple[int, bytes]] = {}
    assets: dict[str, dict] = {}
    md: dict[str, dict] = {}
    for c in ledger_commits:
        for w in c.accounts:
            accts[w.address] = (w.index, w.encoded)
        for w in c.assets:
            d = assets.setdefault(w.address, {})
            if w.amount:
                d[(w.issuer, w.code)] = w.amount
            else:
                d.pop((w.issuer, w.code), None)
        for w in c.metadata:
            d = md.setdefault(w.address, {})
            if w.value is None:
                d.pop(w.key, None)
            else:
                d[w.key] = (w.value, w.version)
    entries = sorted(((i, a, e) for a, (i, e) in accts.items()))
    return (entries, lambda a: [(i, c, v) for (i, c), v in assets.get(a, {}).items()],
            lambda a: [(k, v, ver) for k, (v, ver) in md.get(a, {}).items()])


def test_state_rebuilds_from_its_records():
    ledger, c1 = Ledger.create(genesis())
    commits = [c1, ledger.close(_fund(ledger, 1), 1).commit]
    commits.append(ledger.close([T.make_tx(U[0], 1, [T.issue_asset("A", 5), T.set_metadata("m", "1"),
                                                     T.set_privilege("2", "2", [(U[5].address, 1)], [(7, 3)])],
                                           chain_id=CHAIN)], 2).commit)
    entries, assets_of, md_of = _records_store(commits)
    st = LedgerState.from_entries(ledger.config, entries, assets_of, md_of)
    assert st.root() == ledger.head.account_tree_hash
    assert [a.encode() for a in st.accounts()] == [a.encode() for a in ledger.state.accounts()]
    # a stored encoding that disagrees with its assets is refused
    with pytest.raises(AccountDecodeError, match="assets/metadata"):
        LedgerState.from_entries(ledger.config, entries, lambda a: [], md_of)
    with pytest.raises(AccountDecodeError, match="index"):
        LedgerState.from_entries(ledger.config, entries[1:], assets_of, md_of)


def test_incremental_tree_matches_from_scratch_after_many_blocks():
    ledger, _ = Ledger.create(genesis())
    ledger.close(_fund(ledger, 1), 1)
    rng = np.random.default_rng(5)
    nonces = {u.address: 0 for u in U}
    for blk in range(8):
        txs = []
        for _ in range(10):
            i, j = rng.choice(len(U), 2, replace=False)
            nonces[U[i].address] += 1
            txs.append(T.make_tx(U[i], nonces[U[i].address], [T.pay_coin(U[j].address, int(rng.integers(1, 1000)))],
                                 chain_id=CHAIN))
        c = ledger.close(txs, 10 + blk)
        assert all(r.error_code == 0 for r in c.receipts)
        assert c.header.account_tree_hash == rfc6962([_h(a.encode()) for a in ledger.state.accounts()])


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mbi.ledger.account import assets_digest, metadata_digest  # noqa: E402


@given(st.lists(st.tuples(st.sampled_from(["asset", "meta", "clone", "hash"]),
                          st.sampled_from(["a", "b", "é", "zz", "A"]), st.integers(0, 3)), max_size=40))
def test_incremental_side_table_hashes_match_definition(steps):
    a = Account(U[0].address, 0)
    issuers = [U[1].address, U[2].address]
    history = []
    for kind, key, n in steps:
        if kind == "asset":
            a.set_asset((issuers[n % 2], key), n)
        elif kind == "meta":
            a.set_meta(key, (key * n, n + 1) if n else None)
        elif kind == "clone":
            history.append((a, a.encode()))
            a = a.clone()
        else:
            a.assets_hash(), a.metadata_hash()
        assert a.assets_hash() == assets_digest(a.assets)
        assert a.metadata_hash() == metadata_digest(a.metadata)
        assert all(v for v in a.assets.values())
    # earlier versions were not changed by writes to their clones
    for old, enc in history:
        assert old.encode() == enc


def test_side_table_hash_definition():
    ib, cb = U[1].address.encode(), b"GOLD"
    entry = _h(len(ib).to_bytes(2, "big") + ib + len(cb).to_bytes(2, "big") + cb + (5).to_bytes(8, "big"))
    assert assets_digest({(U[1].address, "GOLD"): 5}) == _h(entry)
    k, v = b"key", "value".encode()
    m1 = _h(len(k).to_bytes(2, "big") + k + len(v).to_bytes(4, "big") + v + (2).to_bytes(8, "big"))
    k2 = b"a"
    m2 = _h(len(k2).to_bytes(2, "big") + k2 + (0).to_bytes(4, "big") + (1).to_bytes(8, "big"))
    assert metadata_digest({"key": ("value", 2), "a": ("", 1)}) == _h(m2 + m1)


def test_account_inclusion_proofs_verify_against_the_header():
    from core_ext.merkle import verify_inclusion
    ledger, _ = Ledger.create(genesis())
    ledger.close(_fund(ledger, 1), 1)
    c = ledger.close([T.make_tx(U[2], 1, [T.pay_coin(U[4].address, 9)], chain_id=CHAIN)], 2)
    root, size = c.header.account_tree_hash, c.header.account_count
    for a in ledger.state.accounts():
        index, proof = ledger.state.inclusion_proof(a.address)
        assert index == a.index
        assert verify_inclusion(_h(a.encode()), index, size, proof, root)
        forged = a.clone()
        forged.balance += 1
        assert not verify_inclusion(_h(forged.encode()), index, size, proof, root)
    assert ledger.state.inclusion_proof(KeyPair.from_seed(b"\x01" * 32).address) is None
