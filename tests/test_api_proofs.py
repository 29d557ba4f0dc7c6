"""Transaction and account proofs from a live network, checked offline with only the
genesis (mbi.api.verify), and rejected when any single field is changed."""
from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from api_util import LiveNode, make_tx
from mbi.api.verify import ProofError, verify_proof
from mbi.crypto.keys import KeyPair
from mbi.ledger import testing as T


@pytest.fixture(scope="module")
def proofs(tmp_path_factory):
    with LiveNode(str(tmp_path_factory.mktemp("proofs"))) as n:
        a = KeyPair.generate()
        stx = make_tx(n.faucet, 1, [T.create_account(a.address, 9_000_000), T.log("audit", ["one", "two"])],
                      chain_id=1)
        assert n.submit(stx)["results"][0]["error_code"] == 0
        n.wait_tx(stx.hash_hex)
        # a failing transaction: its receipt (error code, whole fee_limit kept) is proven too
        bad = make_tx(a, 1, [T.pay_coin(KeyPair.generate().address, 10**12)], chain_id=1, fee_limit=1_000_000)
        assert n.submit(bad)["results"][0]["error_code"] == 0
        rec_bad = n.wait_tx(bad.hash_hex)
        assert rec_bad["error_code"] != 0
        tx_p = n.get(f"/getTransactionProof?hash={stx.hash_hex}")
        bad_p = n.get(f"/getTransactionProof?hash={bad.hash_hex}")
        acct_p = n.get(f"/getAccountProof?address={a.address}")
        assert tx_p["error_code"] == bad_p["error_code"] == acct_p["error_code"] == 0
        yield n.genesis, tx_p["result"], bad_p["result"], acct_p["result"], stx, a, rec_bad


def test_valid_proofs_verify(proofs):
    genesis, tx_p, bad_p, acct_p, stx, a, rec_bad = proofs
    assert verify_proof(tx_p, genesis).startswith(f"transaction {stx.hash_hex} (error_code 0, actual_fee "
                                                  f"{len(stx.envelope) * 100})")
    assert f"error_code {rec_bad['error_code']}, actual_fee 1000000" in verify_proof(bad_p, genesis)
    assert verify_proof(acct_p, genesis).startswith(f"account {a.address} (balance 8000000, nonce 1)")
    assert tx_p["certificate"]["blocks"][0]["height"] == tx_p["ledgers"][0]["seq"] - 1


def _leaves(obj, path=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, path + (i,))
        yield path, obj
    else:
        yield path, obj


def _mutations(value):
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1 if value > 0 else value + 2]
    if isinstance(value, str):
        if value == "":
            return ["00"]
        flipped = ("1" if value[0] != "1" else "2") + value[1:]
        return [flipped, value.upper() if value.upper() != value else value + "x"]
    if isinstance(value, list):
        out = []
        if value:
            out.append(value[:-1])
        out.append(value + value[-1:] if value else ["00" * 32])
        return out
    return []


def _set(obj, path, value):
    for k in path[:-1]:
        obj = obj[k]
    obj[path[-1]] = value


@pytest.mark.parametrize("which", ["tx", "bad", "account"])
def test_every_field_tampered_is_rejected(proofs, which):
    genesis = proofs[0]
    proof = {"tx": proofs[1], "bad": proofs[2], "account": proofs[3]}[which]
    tried = 0
    for path, value in list(_leaves(proof)):
        for m in _mutations(value):
            p = copy.deepcopy(proof)
            _set(p, path, m)
            with pytest.raises(ProofError):
                verify_proof(p, genesis)
            tried += 1
    assert tried > 100
    for key in list(proof):
        p = copy.deepcopy(proof)
        del p[key]
        with pytest.raises(ProofError):
            verify_proof(p, genesis)


def test_foreign_genesis_rejects(proofs):
    genesis, tx_p = proofs[0], proofs[1]
    other = T.genesis_dict(KeyPair.generate(), [KeyPair.generate() for _ in range(4)], chain_id=1)
    from mbi.ledger.genesis import Genesis

    with pytest.raises(ProofError, match="validators_hash"):
        verify_proof(tx_p, Genesis.from_dict(other))


def test_cli_verify_proof(proofs, tmp_path):
    genesis, tx_p = proofs[0], proofs[1]
    gpath = tmp_path / "genesis.json"
    gpath.write_text(genesis.to_json())
    good = tmp_path / "proof.json"
    good.write_text(json.dumps({"error_code": 0, "result": tx_p}))
    r = subprocess.run([sys.executable, "-m", "mbi", "verify-proof", str(good), "--genesis", str(gpath)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "valid: transaction" in r.stdout, r.stderr
    p = copy.deepcopy(tx_p)
    p["transaction"]["actual_fee"] += 1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(p))
    r = subprocess.run([sys.executable, "-m", "mbi", "verify-proof", str(bad), "--genesis", str(gpath)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "INVALID" in r.stderr and "receipt_audit_path" in r.stderr


def test_genesis_account_proof_needs_no_certificate():
    """A proof against the genesis ledger (seq 1) is checked by rebuilding it from genesis."""
    from mbi.ledger.chain import Ledger
    from mbi.ledger.genesis import Genesis
    from mbi.node.http import header_json

    faucet = KeyPair.generate()
    genesis = Genesis.from_dict(T.genesis_dict(faucet, [KeyPair.generate() for _ in range(4)], chain_id=1))
    ledger, _ = Ledger.create(genesis)
    acct = ledger.state.get_account(faucet.address)
    index, path = ledger.state.inclusion_proof(faucet.address)
    proof = {"version": 1, "kind": "account", "chain_id": 1, "ledgers": [header_json(ledger.head)], "certificate": None,
             "account": {"address": faucet.address, "index": index, "encoding": acct.encode().hex(),
                         "audit_path": [bytes(p).hex() for p in path], "balance": acct.balance, "nonce": 0}}
    assert "genesis ledger" in verify_proof(proof, genesis)
    # another genesis (other supply) rebuilds another ledger 1
    other = Genesis.from_dict(dict(T.genesis_dict(faucet, [KeyPair.generate() for _ in range(4)], chain_id=1)))
    with pytest.raises(ProofError):
        verify_proof(proof, other)
    p = copy.deepcopy(proof)
    p["account"]["balance"] += 1
    with pytest.raises(ProofError, match="balance"):
        verify_proof(p, genesis)
