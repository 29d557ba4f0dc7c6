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
