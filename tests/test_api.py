"""The Zetrix HTTP API against a live 4-validator network in this process: every route's
shape, batched submission with one result per item, and every kind of bad request
answered with its own code (never a 500, never a stopped node)."""
from __future__ import annotations

import hashlib
import json

import pytest

from api_util import LiveNode, item, make_tx
from mbi.crypto.keys import KeyPair
from mbi.ledger import testing as T
from mbi.types.zetrix_protocol_pb2 import Transaction

GAS_PRICE = 100


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    # a 20 ms batching window, so concurrent requests below surely share batches
    with LiveNode(str(tmp_path_factory.mktemp("api")), **{"verify.max_delay": 0.02}) as n:
        yield n


@pytest.fixture(scope="module")
def funded(net):
    """Two accounts created from the faucet in one transaction; returns (a, b, tx record)."""
    a, b = KeyPair.generate(), KeyPair.generate()
    stx = make_tx(net.faucet, 1, [T.create_account(a.address, 50_000_000), T.create_account(b.address, 70_000_000)],
                  chain_id=1)
    r = net.submit(stx)
    assert r == {"results": [{"error_code": 0, "error_desc": "", "hash": stx.hash_hex}], "success_count": 1}
    rec = net.wait_tx(stx.hash_hex)
    return a, b, rec, stx


def account(net, address):
    return net.get(f"/getAccount?address={address}")


def test_create_accounts_charges_exactly_the_size_fee(net, funded):
    a, b, rec, stx = funded
    assert rec["error_code"] == 0
    # fee = len(envelope) x gas_price (docs/ledger.md); the envelope is what we built
    assert rec["actual_fee"] == len(stx.envelope) * GAS_PRICE
    assert rec["tx_size"] == len(stx.tx_bytes)
    assert rec["transaction"]["nonce"] == 1
    assert [op["type"] for op in rec["transaction"]["operations"]] == [1, 1]
    assert account(net, a.address)["result"]["balance"] == 50_000_000
    assert account(net, b.address)["result"]["balance"] == 70_000_000
    g = net.get("/getGenesisAccount")["result"]
    assert g["address"] == net.faucet.address and g["nonce"] == 1
    assert g["balance"] == 10**17 - 120_000_000 - rec["actual_fee"]


def test_pay_and_balances_to_the_unit(net, funded):
    a, b, _, _ = funded
    stx = make_tx(a, 1, [T.pay_coin(b.address, 1234)], chain_id=1)
    assert net.submit(stx)["results"][0]["error_code"] == 0
    rec = net.wait_tx(stx.hash_hex)
    fee = len(stx.envelope) * GAS_PRICE
    assert rec["actual_fee"] == fee
    assert account(net, a.address)["result"]["balance"] == 50_000_000 - 1234 - fee
    assert account(net, b.address)["result"]["balance"] == 70_000_000 + 1234
    # the same transaction again: its nonce is used now
    r = net.submit(stx)["results"][0]
    assert r["error_code"] == 99 and r["hash"] == stx.hash_hex


def test_batch_one_result_per_item(net, funded):
    a, b, _, _ = funded
    good = make_tx(b, 1, [T.pay_coin(a.address, 1)], chain_id=1)
    good2 = make_tx(b, 2, [T.pay_coin(a.address, 2)], chain_id=1)
    stranger = KeyPair.generate()
    forged = make_tx(stranger, 1, [T.pay_coin(a.address, 1)], chain_id=1, source=b.address)
    no_account = make_tx(stranger, 1, [T.pay_coin(a.address, 1)], chain_id=1)
    used = make_tx(net.faucet, 1, [T.pay_coin(a.address, 1)], chain_id=1)
    wrong_chain = make_tx(b, 3, [T.pay_coin(a.address, 1)], chain_id=9)
    items = [item(good), item(good2), item(good), item(forged), item(no_account), item(used), item(wrong_chain),
             {"transaction_blob": "zz", "signatures": []}]
    r = net.post("/submitTransaction", {"items": items})
    codes = [x["error_code"] for x in r["results"]]
    assert codes == [0, 0, 3, 93, 103, 99, 2, 2]
    assert r["success_count"] == 2
    assert r["results"][0]["hash"] == good.hash_hex
    net.wait_tx(good2.hash_hex)


def test_bad_signature_bytes_are_refused_with_93(net, funded):
    a, b, _, _ = funded
    stx = make_tx(a, 50, [T.pay_coin(b.address, 1)], chain_id=1)
    it = item(stx)
    sd = bytearray(bytes.fromhex(it["signatures"][0]["sign_data"]))
    sd[5] ^= 1
    it["signatures"][0]["sign_data"] = sd.hex()
    r = net.post("/submitTransaction", {"items": [it]})["results"][0]
    assert r["error_code"] == 93
    it["signatures"] = []
    assert net.post("/submitTransaction", {"items": [it]})["results"][0]["error_code"] == 93
    it["signatures"] = [{"public_key": "b001nothex", "sign_data": "00" * 64}]
    assert net.post("/submitTransaction", {"items": [it]})["results"][0]["error_code"] == 93


def test_pending_transaction_in_cache(net, funded):
    a, b, _, _ = funded
    # nonce far ahead: queued in the pool, not executable, so it stays pending
    acct = account(net, a.address)["result"]
    stx = make_tx(a, acct["nonce"] + 5, [T.pay_coin(b.address, 3)], chain_id=1)
    assert net.submit(stx)["results"][0]["error_code"] == 0
    got = net.get(f"/getTransactionCache?hash={stx.hash_hex}")
    assert got["error_code"] == 0
    t = got["result"]["transactions"][0]
    assert t["hash"] == stx.hash_hex and t["status"] == "processing"
    assert t["transaction"]["nonce"] == acct["nonce"] + 5
    assert any(x["hash"] == stx.hash_hex for x in net.get("/getTransactionCache")["result"]["transactions"])
    assert net.get(f"/getTransactionCache?hash={'00' * 32}") == {"error_code": 4, "error_desc":
                                                                  f"transaction {'00' * 32} is not pending",
                                                                  "result": None}


def test_history_by_ledger_and_hash(net, funded):
    _, _, rec, stx = funded
    by_seq = net.get(f"/getTransactionHistory?ledger_seq={rec['ledger_seq']}")["result"]
    assert stx.hash_hex in [t["hash"] for t in by_seq["transactions"]]
    assert by_seq["total_count"] == len(by_seq["transactions"])
    both = net.get(f"/getTransactionHistory?hash={stx.hash_hex}&ledger_seq={rec['ledger_seq']}")
    assert both["result"]["transactions"][0]["hash"] == stx.hash_hex
    wrong = net.get(f"/getTransactionHistory?hash={stx.hash_hex}&ledger_seq={rec['ledger_seq'] + 1}")
    assert wrong["error_code"] == 4 and wrong["result"] is None
    assert net.get(f"/getTransactionHistory?hash={'ab' * 32}")["error_code"] == 4
    assert net.get("/getTransactionHistory?ledger_seq=999999999")["error_code"] == 4


def test_assets_and_metadata(net, funded):
    a, b, _, _ = funded
    nonce = account(net, b.address)["result"]["nonce"] + 1
    stx = make_tx(b, nonce, [T.issue_asset("GOLD", 1000), T.pay_asset(a.address, b.address, "GOLD", 300),
                             T.set_metadata("colour", "blue"), T.log("topic", ["x", "y"])], chain_id=1)
    assert net.submit(stx)["results"][0]["error_code"] == 0
    assert net.wait_tx(stx.hash_hex)["error_code"] == 0
    assets = net.get(f"/getAccountAssets?address={a.address}")["result"]
    assert assets == [{"key": {"code": "GOLD", "issuer": b.address, "type": 0}, "amount": 300}]
    mine = net.get(f"/getAccountAssets?address={b.address}&code=GOLD&issuer={b.address}")["result"]
    assert mine[0]["amount"] == 700
    assert net.get(f"/getAccountAssets?address={b.address}&code=SILVER&issuer={b.address}")["error_code"] == 4
    md = net.get(f"/getAccountMetaData?address={b.address}&key=colour")["result"]
    assert md == {"colour": {"key": "colour", "value": "blue", "version": 1}}
    full = account(net, b.address)["result"]
    assert full["metadatas"] == [{"key": "colour", "value": "blue", "version": 1}]
    assert full["assets_hash"] != "00" * 32 and full["metadatas_hash"] != "00" * 32
    base = net.get(f"/getAccountBase?address={b.address}")["result"]
    assert "assets" not in base and base["balance"] == full["balance"]
    assert net.get(f"/getAccountMetaData?address={b.address}&key=nope")["error_code"] == 4


def test_test_transaction_quote_is_the_fee_charged(net, funded):
    a, b, _, _ = funded
    nonce = account(net, a.address)["result"]["nonce"] + 1
    tj = {"source_address": a.address, "nonce": str(nonce),
          "operations": [{"type": 7, "pay_coin": {"dest_address": b.address, "amount": "10"}}], "chain_id": 1}
    q = net.post("/testTransaction", {"items": [{"transaction_json": tj, "signature_number": 1}]})
    assert q["error_code"] == 0
    t = q["result"]["txs"][0]
    fee_limit, gas_price = t["transaction_env"]["transaction"]["fee_limit"], t["transaction_env"]["transaction"]["gas_price"]
    assert gas_price == GAS_PRICE and t["actual_fee"] == fee_limit == t["gas"] * GAS_PRICE
    # sign exactly what was quoted: the charged fee equals the quote
    stx = make_tx(a, nonce, [T.pay_coin(b.address, 10)], chain_id=1, fee_limit=fee_limit, gas_price=gas_price)
    assert hashlib.sha256(stx.tx_bytes).hexdigest() == t["hash"]
    assert net.submit(stx)["results"][0]["error_code"] == 0
    assert net.wait_tx(stx.hash_hex)["actual_fee"] == fee_limit
    bad_src = dict(tj, source_address=KeyPair.generate().address)
    assert net.post("/testTransaction", {"items": [{"transaction_json": bad_src}]})["error_code"] == 103
    contract = dict(tj, operations=[{"type": 1, "create_account": {"dest_address": b.address,
                                                                   "contract": {"payload": "x"}}}])
    assert net.post("/testTransaction", {"items": [{"transaction_json": contract}]})["error_code"] == 151


def test_blob_round_trip(net, funded):
    a, b, _, _ = funded
    tj = {"source_address": a.address, "nonce": 9, "fee_limit": 1000, "gas_price": 100, "metadata": "abcd",
          "operations": [{"type": 7, "pay_coin": {"dest_address": b.address, "amount": 5}}]}
    r = net.post("/getTransactionBlob", tj)["result"]
    blob = bytes.fromhex(r["transaction_blob"])
    tx = Transaction.FromString(blob)
    assert tx.metadata == b"\xab\xcd" and tx.nonce == 9 and tx.operations[0].pay_coin.amount == 5
    assert r["hash"] == hashlib.sha256(blob).hexdigest()
    back = net.get(f"/getTransactionFromBlob?blob={r['transaction_blob']}")["result"]
    assert back["transaction"] == tj and back["hash"] == r["hash"]


def test_contracts_are_refused_with_151(net, funded):
    a, _, _, _ = funded
    assert net.post("/callContract", {"contract_address": a.address, "input": "{}"})["error_code"] == 151
    assert net.get("/callContract")["error_code"] == 151
    stx = make_tx(a, 60, [T.upgrade_contract(a.address, "x")], chain_id=1)
    assert net.submit(stx)["results"][0]["error_code"] == 151


@pytest.mark.parametrize("path,code", [
    ("/getAccount", 2), ("/getAccount?address=notanaddress", 94), ("/getAccount?address=ZTX3" + "1" * 33, 94),
    ("/getTransactionHistory?hash=xyz", 2), ("/getTransactionHistory?hash=" + "g" * 64, 2),
    ("/getTransactionHistory?ledger_seq=-1", 2), ("/getTransactionHistory?ledger_seq=abc", 2),
    ("/getTransactionHistory?limit=0", 2), ("/getAccountAssets?address=ZTX3dxyCgXMdsu3fB8z5m3kfYtR7Em9bjzq8w&code=X", 2),
    ("/getTransactionFromBlob?blob=0", 2), ("/getTransactionFromBlob?blob=ff", 2), ("/getTransactionProof?hash=1", 2),
    ("/getTransactionProof?hash=" + "00" * 32, 4), ("/getLedger?seq=0", 2), ("/getLedger?seq=99999999", 4),
])
def test_bad_queries(net, path, code):
    status, body = net.request("GET", path)
    assert status == 200 and body["error_code"] == code and body["result"] is None and body["error_desc"]


def test_unknown_address_is_4(net):
    addr = KeyPair.generate().address
    for route in ("getAccount", "getAccountBase", "getAccountAssets", "getAccountMetaData", "getAccountProof"):
        assert net.get(f"/{route}?address={addr}") == {"error_code": 4, "error_desc": f"account {addr} does not exist",
                                                        "result": None}, route


@pytest.mark.parametrize("body,code", [
    (b"{not json", 2), (b"", 2), (b"\xff\xfe", 2), (b"[]", 2), (b'{"items": 5}', 2), (b'{"items": []}', 2),
    (b'{"other": []}', 2), (b"[" * 100000 + b"]" * 100000, 2),
    (json.dumps({"items": [{"transaction_blob": "0a"}] * 1001}).encode(), 2),
])
def test_bad_submit_bodies(net, body, code):
    status, got = net.request("POST", "/submitTransaction", body)
    assert status == 200 and got["error_code"] == code and got["error_desc"]


@pytest.mark.parametrize("it,code", [
    ({}, 2), ({"transaction_blob": 5, "signatures": []}, 2), ({"transaction_blob": "abc", "signatures": []}, 2),
    ({"transaction_blob": "0a0b", "signatures": "x"}, 2), ({"transaction_blob": "0a0b"}, 2), ("str", 2),
    ({"transaction_blob": "ffffffff", "signatures": [{"public_key": "b001", "sign_data": "00"}]}, 2),
    ({"transaction_blob": "0a00", "signatures": [{"public_key": 5, "sign_data": "00"}]}, 2),
    ({"transaction_blob": "0a00", "signatures": [{"public_key": "b001", "sign_data": "zz"}]}, 2),
])
def test_bad_submit_items(net, it, code):
    r = net.post("/submitTransaction", {"items": [it]})
    assert r["success_count"] == 0 and r["results"][0]["error_code"] == code and r["results"][0]["error_desc"]


def test_large_body_unknown_route_wrong_method(net):
    big = b'{"items": ["' + b"a" * (net.cfg.api.max_body_bytes + 10) + b'"]}'
    status, got = net.request("POST", "/submitTransaction", big)
    assert status == 413 and got["error_code"] == 2 and "larger than" in got["error_desc"]
    status, got = net.request("GET", "/noSuchRoute")
    assert status == 404 and got["error_code"] == 4
    status, got = net.request("GET", "/submitTransaction")
    assert status == 405 and got["error_code"] == 2
    # and the node is still serving
    assert net.get("/hello")["error_code"] == 0


def test_modules_status_is_honest(net):
    ledger = net.get("/getLedger")["result"]["header"]["seq"]
    st = net.get("/getModulesStatus")["ledger_manager"]
    assert st["ledger_sequence"] >= ledger  # read later, never lower
    assert st["chain_max_ledger_seq"] >= st["ledger_sequence"]
    # peers report their heights every second; a healthy node is level with them most of the time
    level = 0
    for _ in range(20):
        st = net.get("/getModulesStatus")["ledger_manager"]
        level += st["chain_max_ledger_seq"] == st["ledger_sequence"]
    assert level >= 5

def test_concurrent_requests_share_batches(net, funded):
    import threading

    a, b, _, _ = funded
    # b: no transaction of b is queued ahead (test_pending_transaction_in_cache queues one of a)
    start = net.get(f"/getAccount?address={b.address}")["result"]["nonce"] + 1
    stxs = [make_tx(b, start + i, [T.pay_coin(a.address, 1)], chain_id=1, fee_limit=100_000) for i in range(16)]
    from mbi.api.routes import INGRESS

    ingress = net.node.api_runner.app[INGRESS]
    before = (ingress.batches, ingress.items)
    results: list = [None] * len(stxs)
    go = threading.Barrier(len(stxs))

    def one(i: int) -> None:
        go.wait()
        results[i] = net.submit(stxs[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(stxs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [r["results"][0]["error_code"] for r in results] == [0] * len(stxs)
    batches, items = ingress.batches - before[0], ingress.items - before[1]
    assert items == len(stxs) and batches < len(stxs)
    net.wait_tx(stxs[-1].hash_hex)
