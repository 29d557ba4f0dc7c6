"""Wire compatibility with zetrix-sdk-nodejs 1.0.1: our `protocol` schema has the SDK's
field numbers and types, and transactions the SDK builds and signs decode, hash, verify
and execute identically in MBI."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from mbi.crypto import KeyPair
from mbi.ledger import Genesis, Ledger
from mbi.ledger import testing as T
from mbi.ledger.execute import verify_signatures
from mbi.types import SignedTransaction, zetrix_protocol_pb2 as pb

JS = os.path.join(os.path.dirname(__file__), "js")
SDK = os.path.join(JS, "node_modules", "zetrix-sdk-nodejs")
pytestmark = pytest.mark.node

if shutil.which("node") is None:  # pragma: no cover - CI machines have node
    pytest.skip("node is not installed", allow_module_level=True)


def _need_sdk():
    if not os.path.isdir(SDK):
        pytest.fail("tests/js/node_modules is missing: run `npm install` in tests/js (ci/setup.sh does)")


def run_node(script: str, payload: dict):
    _need_sdk()
    p = subprocess.run(["node", os.path.join(JS, script)], input=json.dumps(payload), capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


# ------------------------------------------------------------------ schema
_SCALARS = {1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 8: "bool", 9: "string",
            12: "bytes", 13: "uint32"}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _bundle_types() -> dict[str, dict]:
    _need_sdk()
    with open(os.path.join(SDK, "lib", "crypto", "protobuf", "bundle.json")) as f:
        root = json.load(f)
    out: dict[str, dict] = {}

    def walk(ns: dict, prefix: str) -> None:
        for name, v in ns.get("nested", {}).items():
            out[prefix + name] = v
            walk(v, prefix + name + ".")
    walk(root["nested"]["protocol"], "")
    return out


def test_schema_matches_sdk_bundle():
    bundle = _bundle_types()
    ours = pb.DESCRIPTOR
    checked = 0

    def check_message(desc, full: str) -> None:
        nonlocal checked
        assert full in bundle, f"protocol.{full} is not in the SDK's bundle.json"
        b = bundle[full]["fields"]
        theirs = {_snake(k): v for k, v in b.items()}
        assert {f.name for f in desc.fields} == set(theirs), full
        for f in desc.fields:
            t = theirs[f.name]
            assert f.number == t["id"], f"{full}.{f.name}: number {f.number} vs SDK {t['id']}"
            assert f.is_repeated == (t.get("rule") == "repeated"), f"{full}.{f.name}: repeated"
            if f.message_type is not None:
                assert t["type"].split(".")[-1] == f.message_type.name, f"{full}.{f.name}: type"
            elif f.enum_type is not None:
                assert t["type"].split(".")[-1] == f.enum_type.name, f"{full}.{f.name}: enum type"
            else:
                assert _SCALARS[f.type] == t["type"], f"{full}.{f.name}: {_SCALARS[f.type]} vs {t['type']}"
            checked += 1
        for e in desc.enum_types:
            vals = bundle[f"{full}.{e.name}"]["values"]
            assert {v.name: v.number for v in e.values} == vals, f"{full}.{e.name}"
        for n in desc.nested_types:
            check_message(n, f"{full}.{n.name}")

    for name, desc in ours.message_types_by_name.items():
        check_message(desc, name)
    for name, e in ours.enum_types_by_name.items():
        assert {v.name: v.number for v in e.values} == bundle[name]["values"], name
    # everything a transaction is made of is covered
    for must in ("Transaction", "TransactionEnv", "Signature", "Operation", "OperationPayCoin",
                 "OperationCreateAccount", "OperationSetPrivilege", "LedgerHeader", "TransactionEnvStore"):
        assert must in ours.message_types_by_name
    assert checked > 100


# ------------------------------------------------------------------ SDK transactions
CHAIN = 9
G = KeyPair.from_seed(b"\x61" * 32)
NEW = KeyPair.from_seed(b"\x62" * 32)
S1 = KeyPair.from_seed(b"\x63" * 32)
V = KeyPair.from_seed(b"\x64" * 32)


def _specs() -> list[dict]:
    g, new = G.address, NEW.address
    base = {"source": g, "gas_price": "100", "fee_limit": "100000000", "private_keys": [G.encoded_private_key]}

    def spec(nonce, *ops, **kw):
        d = dict(base, nonce=str(nonce), operations=[{"op": o, "args": a} for o, a in ops])
        d.update(kw)
        return d
    return [
        spec(1, ("accountActivateOperation", {"sourceAddress": g, "destAddress": new, "initBalance": "0"})),
        spec(2, ("gasSendOperation", {"sourceAddress": g, "destAddress": new, "gasAmount": "5000000000"})),
        spec(3, ("assetIssueOperation", {"sourceAddress": g, "code": "MYR", "assetAmount": "1000000"})),
        spec(4, ("assetSendOperation", {"sourceAddress": g, "destAddress": new, "code": "MYR", "issuer": g,
                                        "assetAmount": "250"})),
        spec(5, ("accountSetMetadataOperation", {"key": "profile", "value": "hello", "sourceAddress": g})),
        # an update names current + 1 (BUMO OperationFrm::SetMetaData), here 2
        spec(6, ("accountSetMetadataOperation", {"key": "profile", "value": "bye", "version": "2"})),
        spec(7, ("logCreateOperation", {"sourceAddress": g, "topic": "audit", "data": "entry-1"}),
             metadata="memo text"),
        spec(8, ("gasSendOperation", {"destAddress": new, "gasAmount": "1"}),
             ("gasSendOperation", {"destAddress": new, "gasAmount": "2"}), ceil_ledger_seq="100"),
        spec(9, ("accountSetPrivilegeOperation", {"sourceAddress": g, "masterWeight": "2", "txThreshold": "2",
                                                  "signers": [{"address": S1.address, "weight": "1"}],
                                                  "typeThresholds": [{"type": "7", "threshold": "3"}]})),
        # now G needs weight 2 (3 for PAY_COIN): sign with G (2) + S1 (1)
        spec(10, ("gasSendOperation", {"destAddress": new, "gasAmount": "7"}),
             private_keys=[G.encoded_private_key, S1.encoded_private_key]),
        # the new account pays back, signed with its own key
        {"source": new, "nonce": "1", "gas_price": "100", "fee_limit": "100000000",
         "private_keys": [NEW.encoded_private_key],
         "operations": [{"op": "gasSendOperation", "args": {"destAddress": g, "gasAmount": "1000"}}]},
    ]


@pytest.fixture(scope="module")
def sdk_txs():
    specs = _specs()
    out = run_node("sdk_build.js", {"chain_id": CHAIN, "txs": specs})
    for s, o in zip(specs, out):
        assert "error" not in o, (s, o)
    return specs, out


def test_sdk_transactions_decode_hash_and_verify(sdk_txs):
    specs, built = sdk_txs
    stxs = []
    for spec, b in zip(specs, built):
        blob = bytes.fromhex(b["blob"])
        st = SignedTransaction.from_parts(blob, [(s["public_key"], bytes.fromhex(s["sign_data"]))
                                                 for s in b["signatures"]])
        assert st.tx_bytes == blob
        assert st.hash.hex() == b["sha256"]  # node's SHA-256 of the blob
        t = st.tx
        assert t.source_address == spec["source"] and t.nonce == int(spec["nonce"])
        assert t.gas_price == 100 and t.fee_limit == 100_000_000 and t.chain_id == CHAIN
        assert t.ceil_ledger_seq == int(spec.get("ceil_ledger_seq", 0))
        assert len(t.operations) == len(spec["operations"])
        # the envelope we assemble round-trips through the general decoder too
        again = SignedTransaction.from_envelope(st.envelope)
        assert again.hash == st.hash and again.signatures == st.signatures
        stxs.append(st)
    verify_signatures(stxs)
    assert all(s.sig_ok for s in stxs)
    # decoded operation bodies carry what the SDK was asked for
    ops = [s.tx.operations for s in stxs]
    assert ops[0][0].type == pb.Operation.CREATE_ACCOUNT and ops[0][0].create_account.dest_address == NEW.address
    assert ops[0][0].create_account.priv.master_weight == 1
    assert ops[0][0].create_account.priv.thresholds.tx_threshold == 1
    assert ops[1][0].pay_coin.amount == 5_000_000_000
    assert ops[2][0].issue_asset.code == "MYR" and ops[2][0].issue_asset.amount == 1_000_000
    assert ops[3][0].pay_asset.asset.key.issuer == G.address and ops[3][0].pay_asset.asset.amount == 250
    assert ops[5][0].set_metadata.version == 2
    assert list(ops[6][0].log.datas) == ["entry-1"] and stxs[6].tx.metadata == b"memo text"
    assert ops[8][0].set_privilege.master_weight == "2" and ops[8][0].set_privilege.tx_threshold == "2"
    assert len(stxs[9].signatures) == 2
    # tampering with one byte of an SDK signature is caught by the native verifier
    b = built[1]
    sd = bytearray.fromhex(b["signatures"][0]["sign_data"])
    sd[10] ^= 0x40
    bad = SignedTransaction.from_parts(bytes.fromhex(b["blob"]), [(b["signatures"][0]["public_key"], bytes(sd))])
    verify_signatures([bad])
    assert bad.sig_ok is False


def test_sdk_transactions_execute(sdk_txs):
    specs, built = sdk_txs
    gen = Genesis.from_dict(T.genesis_dict(G, [V], chain_id=CHAIN))
    ledger, _ = Ledger.create(gen)
    stxs = [SignedTransaction.from_parts(bytes.fromhex(b["blob"]),
                                         [(s["public_key"], bytes.fromhex(s["sign_data"])) for s in b["signatures"]])
            for b in built]
    closed = ledger.close(stxs, 10_000_000)
    codes = [(r.error_code, r.error_desc) for r in closed.receipts]
    assert all(c == 0 for c, _ in codes), codes
    g = ledger.state.get_account(G.address)
    n = ledger.state.get_account(NEW.address)
    assert g.nonce == 10 and n.nonce == 1
    assert n.balance == 5_000_000_000 + 1 + 2 + 7 - 1000 - closed.receipts[-1].actual_fee
    assert n.assets == {(G.address, "MYR"): 250} and g.assets == {(G.address, "MYR"): 1_000_000 - 250}
    assert g.metadata == {"profile": ("bye", 2)}
    assert (g.master_weight, g.tx_threshold, g.signers, g.type_thresholds) == (2, 2, {S1.address: 1}, {7: 3})
    assert closed.receipts[6].logs == ((G.address, "audit", ("entry-1",)),)
    assert closed.header.tx_count == len(stxs)
