"""End to end: ledgers executed by mbi.ledger, committed to mbi.store, reloaded."""
from __future__ import annotations

import pytest

from mbi.crypto import KeyPair
from mbi.ledger import Genesis, Ledger
from mbi.ledger import testing as T
from mbi.store import Store

G = KeyPair.from_seed(b"\x91" * 32)
V = KeyPair.from_seed(b"\x92" * 32)
U = [KeyPair.from_seed(bytes([0xA0 + i]) * 32) for i in range(4)]
CHAIN = 13


def test_commit_reload_and_continue(tmp_path):
    gen = Genesis.from_dict(T.genesis_dict(G, [V], chain_id=CHAIN))
    ledger, c1 = Ledger.create(gen)
    path = str(tmp_path / "db")
    store = Store.open(path, chain_id=CHAIN, create=True)
    store.commit_block(c1)
    c2 = ledger.close([T.make_tx(G, i + 1, [T.create_account(u.address, 10**9)], chain_id=CHAIN)
                       for i, u in enumerate(U)], 1_000)
    store.commit_block(c2.commit)
    txs = [T.make_tx(U[0], 1, [T.issue_asset("GOLD", 100), T.pay_asset(U[1].address, U[0].address, "GOLD", 40),
                               T.set_metadata("k", "v")], chain_id=CHAIN),
           T.make_tx(U[1], 1, [T.pay_coin(U[2].address, 10**12)], chain_id=CHAIN),  # fails, stored with fee
           T.make_tx(U[1], 1, [T.pay_coin(U[2].address, 5)], chain_id=CHAIN)]  # nonce used: dropped
    c3 = ledger.close(txs, 2_000)
    store.commit_block(c3.commit)
    assert store.last_seq() == 3
    rec = store.get_tx(txs[1].hash)
    assert rec is not None and rec.error_code == 100 and rec.actual_fee == c3.receipts[1].actual_fee
    assert rec.envelope == txs[1].envelope and rec.ledger_seq == 3 and rec.index == 1
    assert store.get_tx(txs[2].hash) is None
    assert store.get_ledger_txs(3) == [txs[0].hash, txs[1].hash]
    assert store.get_asset(U[1].address, U[0].address, "GOLD") == 40
    assert store.get_metadata(U[0].address, b"k") == (b"v", 1)
    assert store.get_account(U[0].address) == ledger.state.get_account(U[0].address).encode()
    store.close()

    store = Store.open(path, chain_id=CHAIN)
    again = Ledger.from_store(gen, store)
    assert again.head == ledger.head and again.state.root() == ledger.state.root()
    # both continue identically
    nxt = [T.make_tx(U[2], 1, [T.pay_coin(U[3].address, 7)], chain_id=CHAIN)]
    a, b = ledger.close(nxt, 3_000), again.close(nxt, 3_000)
    assert a.header == b.header
    store.commit_block(b.commit)
    store.close()


def test_from_store_refuses_a_wrong_genesis(tmp_path):
    gen = Genesis.from_dict(T.genesis_dict(G, [V], chain_id=CHAIN))
    ledger, c1 = Ledger.create(gen)
    store = Store.open(str(tmp_path / "db"), chain_id=CHAIN, create=True)
    store.commit_block(c1)
    other = Genesis.from_dict(T.genesis_dict(G, [V], chain_id=CHAIN + 1))
    with pytest.raises(ValueError, match="chain"):
        Ledger.from_store(other, store)
    richer = Genesis.from_dict(T.genesis_dict(G, [V], chain_id=CHAIN, supply=10**17 + 1))
    with pytest.raises(ValueError, match="genesis"):
        Ledger.from_store(richer, store)
    assert Ledger.from_store(gen, store).head == ledger.head
    store.close()


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "generic"])
def test_pay_coin_to_a_fresh_address_is_committed_and_reloaded(tmp_path, monkeypatch, fast):
    """An account created by PAY_COIN reaches the state tree, the BlockCommit's account
    writes and the store exactly like one made by CREATE_ACCOUNT, and reloads."""
    import hashlib

    from core_ext.merkle import verify_inclusion

    from mbi.ledger import execute
    from mbi.store.records import AccountWrite

    monkeypatch.setattr(execute, "FAST_PATHS", fast)
    gen = Genesis.from_dict(T.genesis_dict(G, [V], chain_id=CHAIN, base_reserve=1000))
    ledger, c1 = Ledger.create(gen)
    path = str(tmp_path / "db")
    store = Store.open(path, chain_id=CHAIN, create=True)
    store.commit_block(c1)
    fresh = [KeyPair.from_seed(bytes([0xB0 + i]) * 32) for i in range(3)]
    txs = [T.make_tx(G, 1, [T.pay_coin(fresh[0].address, 10**6)], chain_id=CHAIN),
           T.make_tx(G, 2, [T.pay_coin(fresh[1].address, 999)], chain_id=CHAIN),  # 106: below the reserve
           T.make_tx(G, 3, [T.pay_coin(fresh[2].address, 1000), T.create_account(U[0].address, 1000)],
                     chain_id=CHAIN)]
    c2 = ledger.close(txs, 1_000)
    assert [r.error_code for r in c2.receipts] == [0, 106, 0]
    store.commit_block(c2.commit)
    st = ledger.state
    assert st.get_account(fresh[1].address) is None and store.get_account(fresh[1].address) is None
    # creation order: genesis 0, then fresh[0], fresh[2], U[0]
    created = [st.get_account(k.address) for k in (fresh[0], fresh[2], U[0])]
    assert [a.index for a in created] == [1, 2, 3] and c2.header.account_count == 4
    assert [(a.balance, a.nonce, a.master_weight, a.tx_threshold) for a in created] == \
        [(10**6, 0, 1, 1), (1000, 0, 1, 1), (1000, 0, 1, 1)]
    writes = {w.address: w for w in c2.commit.accounts}
    for a in created:
        assert writes[a.address] == AccountWrite(a.address, a.index, a.encode())
        assert store.get_account(a.address) == a.encode()
        index, proof = st.inclusion_proof(a.address)
        assert verify_inclusion(hashlib.sha256(a.encode()).digest(), index, c2.header.account_count, proof,
                                c2.header.account_tree_hash)
    store.close()

    store = Store.open(path, chain_id=CHAIN)
    again = Ledger.from_store(gen, store)
    assert again.head == ledger.head and again.state.root() == st.root()
    assert [a.encode() for a in again.state.accounts()] == [a.encode() for a in st.accounts()]
    # the created account signs for itself
    nxt = [T.make_tx(fresh[0], 1, [T.pay_coin(fresh[1].address, 1000)], chain_id=CHAIN, fee_limit=10**5)]
    a, b = ledger.close(nxt, 2_000), again.close(nxt, 2_000)
    assert a.receipts[0].error_code == 0 and a.header == b.header
    assert again.state.get_account(fresh[1].address).index == 4
    store.close()


def test_reload_scans_each_side_table_once(tmp_path, monkeypatch):
    """Ledger.from_store reads assets and metadata with one scan each (not one seek per
    account), rebuilds the same state as the per-account path, and refuses orphan rows."""
    from mbi.ledger import LedgerState
    from mbi.ledger.account import AccountDecodeError

    gen = Genesis.from_dict(T.genesis_dict(G, [V], chain_id=CHAIN))
    ledger, c1 = Ledger.create(gen)
    store = Store.open(str(tmp_path / "db"), chain_id=CHAIN, create=True)
    store.commit_block(c1)
    c2 = ledger.close([T.make_tx(G, i + 1, [T.create_account(u.address, 10**9)], chain_id=CHAIN)
                       for i, u in enumerate(U)], 1_000)
    store.commit_block(c2.commit)
    txs = [T.make_tx(U[i], 1, [T.issue_asset(f"C{i}", 10 + i), T.set_metadata(f"k{i}", "v" * i),
                               T.pay_asset(U[(i + 1) % 4].address, U[i].address, f"C{i}", 3)], chain_id=CHAIN)
           for i in range(4)]
    c3 = ledger.close(txs, 2_000)
    assert all(r.error_code == 0 for r in c3.receipts)
    store.commit_block(c3.commit)

    calls = {"all": 0}
    for name in ("iter_all_assets", "iter_all_metadata"):
        real = getattr(store, name)

        def counted(real=real):
            calls["all"] += 1
            return real()
        monkeypatch.setattr(store, name, counted)

    def per_account(*_a):
        raise AssertionError("per-account scan used")
    monkeypatch.setattr(store, "iter_assets", per_account)
    monkeypatch.setattr(store, "iter_metadata", per_account)
    again = Ledger.from_store(gen, store)
    assert calls["all"] == 2
    assert again.state.root() == ledger.state.root()
    for a in ledger.state.accounts():
        b = again.state.get_account(a.address)
        assert (b.index, b.encode(), b.assets, b.metadata) == (a.index, a.encode(), a.assets, a.metadata)
    monkeypatch.undo()

    # the per-account path agrees
    slow = LedgerState.from_entries(again.config, store.iter_accounts(), store.iter_assets, store.iter_metadata)
    assert slow.root() == again.state.root()
    # a side-table row of an address without an account is corruption, not ignored
    stray = KeyPair.from_seed(b"\x5a" * 32).address
    with pytest.raises(AccountDecodeError, match="no account"):
        LedgerState.from_tables(again.config, store.iter_accounts(),
                                list(store.iter_all_assets()) + [(stray, U[0].address, "C0", 1)],
                                store.iter_all_metadata())
    with pytest.raises(AccountDecodeError, match="no account"):
        LedgerState.from_tables(again.config, store.iter_accounts(), store.iter_all_assets(),
                                list(store.iter_all_metadata()) + [(stray, b"k", b"v", 1)])
    store.close()


def test_operation_errors_quoting_huge_fields_still_commit(tmp_path):
    # An error description quoting a client's string (a 70,000-character "address", a
    # SetPrivilege weight) used to exceed the store's u16 error_desc length: the applied,
    # fee-paying transaction then made commit_block fail, so the ledger could not commit.
    # Such parameter errors are now refused before charging (not stored), but their
    # descriptions go back to the client and stay bounded; an execution failure quoting
    # the longest allowed key is stored.
    from mbi.ledger import errors as E

    gen = Genesis.from_dict(T.genesis_dict(G, [V], chain_id=CHAIN))
    ledger, c1 = Ledger.create(gen)
    store = Store.open(str(tmp_path / "db"), chain_id=CHAIN, create=True)
    store.commit_block(c1)
    huge = "Z" * 70_000
    txs = [T.make_tx(G, 1, [T.pay_coin(huge, 1)], chain_id=CHAIN),
           T.make_tx(G, 2, [T.pay_coin(U[0].address, 1), T.pay_coin(huge, 1)], chain_id=CHAIN),
           T.make_tx(G, 3, [T.set_privilege(master_weight="9" * 70_000)], chain_id=CHAIN),
           T.make_tx(G, 1, [T.create_account(U[1].address, 1, signers=[(huge, 1)])], chain_id=CHAIN),
           T.make_tx(G, 1, [T.set_metadata("\u00e9" * 512, delete=True)], chain_id=CHAIN)]
    closed = ledger.close(txs, 1_000)
    codes = [r.error_code for r in closed.receipts]
    assert codes == [E.INVALID_ADDRESS, E.INVALID_ADDRESS, E.WEIGHT_NOT_VALID, E.INVALID_ADDRESS, E.NOT_EXIST]
    assert [r.applied for r in closed.receipts] == [False] * 4 + [True]
    assert all(len(r.error_desc.encode()) <= E.MAX_DESC for r in closed.receipts)
    store.commit_block(closed.commit)
    rec = store.get_tx(txs[4].hash)
    assert rec is not None and rec.error_code == E.NOT_EXIST and rec.error_desc.startswith("operation 0:")
    store.close()


def test_from_store_reports_undecodable_headers_as_value_error(tmp_path):
    # A stored header that is not a LedgerHeader (store damage, a foreign writer) gives
    # the same ValueError as every other mismatch, not protobuf's DecodeError.
    from mbi.store import BlockCommit

    gen = Genesis.from_dict(T.genesis_dict(G, [V], chain_id=CHAIN))
    _, c1 = Ledger.create(gen)
    store = Store.open(str(tmp_path / "db"), chain_id=CHAIN, create=True)
    store.commit_block(c1)
    store.commit_block(BlockCommit(2, b"\x07" * 32, b"\xff"))
    with pytest.raises(ValueError, match="header of ledger 2"):
        Ledger.from_store(gen, store)
    store.close()
