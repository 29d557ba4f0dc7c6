"""Every pool verdict reaches the client as its Zetrix code: a node with a tiny pool."""
from __future__ import annotations

import pytest

from api_util import LiveNode, make_tx
from mbi.crypto.keys import KeyPair
from mbi.ledger import testing as T


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    over = {"pool.capacity": 4, "pool.per_sender_limit": 2, "pool.max_nonce_gap": 50}
    with LiveNode(str(tmp_path_factory.mktemp("pool")), **over) as n:
        yield n


def test_pool_outcomes(net):
    ks = [KeyPair.generate() for _ in range(3)]
    fund = make_tx(net.faucet, 1, [T.create_account(k.address, 10**9) for k in ks], chain_id=1)
    assert net.submit(fund)["results"][0]["error_code"] == 0
    net.wait_tx(fund.hash_hex)
    a, b, c = ks
    dest = net.faucet.address
    # waiting transactions (nonce gap): they stay in the pool
    a5 = make_tx(a, 5, [T.pay_coin(dest, 1)], chain_id=1, fee_limit=100_000)
    a6 = make_tx(a, 6, [T.pay_coin(dest, 1)], chain_id=1, fee_limit=100_000)
    a7 = make_tx(a, 7, [T.pay_coin(dest, 1)], chain_id=1, fee_limit=100_000)
    r = net.submit(a5, a6, a7)["results"]
    assert [x["error_code"] for x in r] == [0, 0, 114]
    assert "already has 2" in r[2]["error_desc"]
    # the same nonce at the same price: not a replacement
    a5_same = make_tx(a, 5, [T.pay_coin(dest, 2)], chain_id=1, fee_limit=100_000)
    r = net.submit(a5_same)["results"][0]
    assert r["error_code"] == 160 and "10%" in r["error_desc"]
    # 10% more: replaced
    a5_more = make_tx(a, 5, [T.pay_coin(dest, 2)], chain_id=1, fee_limit=100_000, gas_price=110)
    r = net.submit(a5_more)["results"][0]
    assert r["error_code"] == 0 and "replaced" in r["error_desc"]
    # too far ahead
    far = make_tx(b, 60, [T.pay_coin(dest, 1)], chain_id=1, fee_limit=100_000)
    r = net.submit(far)["results"][0]
    assert r["error_code"] == 99 and "50 above" in r["error_desc"]
    # fill the pool (capacity 4): b's two waiting ones fit, c's does not
    b5 = make_tx(b, 5, [T.pay_coin(dest, 1)], chain_id=1, fee_limit=100_000)
    b6 = make_tx(b, 6, [T.pay_coin(dest, 1)], chain_id=1, fee_limit=100_000)
    c5 = make_tx(c, 5, [T.pay_coin(dest, 1)], chain_id=1, fee_limit=100_000)
    r = net.submit(b5, b6, c5)["results"]
    assert [x["error_code"] for x in r] == [0, 0, 114], r
    assert "pool" in r[2]["error_desc"]
    assert net.get("/getTransactionCache")["result"]["total_count"] == 4
