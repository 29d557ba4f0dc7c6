"""Keys and addresses against Zetrix's own npm package (zetrix-encryption-nodejs),
run under node. ci/setup.sh installs tests/js; these tests fail (not skip) when node is
present but the packages are missing, so a broken setup cannot pass silently."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from mbi.crypto import KeyPair, address_from_public_key, decode_private_key, decode_public_key, is_address
from mbi.crypto.sig import verify

JS = os.path.join(os.path.dirname(__file__), "js")
pytestmark = pytest.mark.node

if shutil.which("node") is None:  # pragma: no cover - CI machines have node
    pytest.skip("node is not installed", allow_module_level=True)


def run_node(script: str, payload: dict):
    if not os.path.isdir(os.path.join(JS, "node_modules", "zetrix-encryption-nodejs")):
        pytest.fail("tests/js/node_modules is missing: run `npm install` in tests/js (ci/setup.sh does)")
    p = subprocess.run(["node", os.path.join(JS, script)], input=json.dumps(payload), capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_keys_generated_by_zetrix_package_rederive_identically():
    out = run_node("keys.js", {"generate": 25})
    assert len(out["generated"]) == 25
    for g in out["generated"]:
        assert g["private_key_valid"]
        kp = KeyPair.from_private_key(g["private_key"])
        assert kp.encoded_private_key == g["private_key"]
        assert kp.encoded_public_key == g["public_key"]
        assert kp.address == g["address"]
        assert is_address(g["address"])
        assert address_from_public_key(g["public_key"]) == g["address"]
        assert len(decode_private_key(g["private_key"])) == 32
        assert len(decode_public_key(g["public_key"])) == 32


def test_python_keys_accepted_and_derived_by_zetrix_package():
    kps = [KeyPair.from_seed(bytes([i]) * 32) for i in range(10)] + [KeyPair.generate() for _ in range(10)]
    msgs = [os.urandom(40 + i) for i in range(len(kps))]
    out = run_node("keys.js", {
        "private_keys": [k.encoded_private_key for k in kps],
        "public_keys": [k.encoded_public_key for k in kps],
        "addresses": [k.address for k in kps],
        "sign": [{"private_key": k.encoded_private_key, "message_hex": m.hex()} for k, m in zip(kps, msgs)],
    })
    for k, d in zip(kps, out["derived"]):
        assert d["valid"] and d["public_key"] == k.encoded_public_key and d["address"] == k.address
    assert out["public_key_valid"] == [True] * len(kps)
    assert out["address_valid"] == [True] * len(kps)
    # signatures made by the Zetrix package verify in our native verifier and equal ours
    for k, m, s in zip(kps, msgs, out["signatures"]):
        sig = bytes.fromhex(s)
        assert verify(k.raw_public_key, m, sig)
        assert sig == k.sign(m)  # Ed25519 is deterministic


def test_both_sides_reject_the_same_corruptions():
    kp = KeyPair.from_seed(b"\x33" * 32)
    addr, pk = kp.address, kp.encoded_public_key
    bad_addrs = [addr[:-1] + ("2" if addr[-1] != "2" else "3"), addr[:-1], addr + "1"]
    bad_pks = [pk[:-1] + ("0" if pk[-1] != "0" else "1"), "b002" + pk[4:]]
    out = run_node("keys.js", {"addresses": bad_addrs, "public_keys": bad_pks})
    assert out["address_valid"] == [False] * len(bad_addrs)
    assert out["public_key_valid"] == [False] * len(bad_pks)
    assert not any(is_address(a) for a in bad_addrs)
