"""`mbi tx pay|issue|send-asset|get` against a live network, signing with a key file."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from api_util import LiveNode, make_tx
from mbi.crypto.keys import KeyPair
from mbi.ledger import testing as T
from mbi.node.home import key_json, write_private_json


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    with LiveNode(str(tmp_path_factory.mktemp("cli"))) as n:
        yield n


def mbi(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mbi", *args], capture_output=True, text=True, timeout=90)


def test_tx_commands(net, tmp_path):
    url = f"http://127.0.0.1:{net.port}"
    a, b = KeyPair.generate(), KeyPair.generate()
    stx = make_tx(net.faucet, 1, [T.create_account(a.address, 5_000_000), T.create_account(b.address, 0)], chain_id=1)
    assert net.submit(stx)["results"][0]["error_code"] == 0
    net.wait_tx(stx.hash_hex)
    key = tmp_path / "a.json"
    write_private_json(str(key), key_json(a))

    r = mbi("tx", "pay", "--url", url, "--key", str(key), "--to", b.address, "--amount", "777")
    assert r.returncode == 0, r.stderr
    h, result = r.stdout.strip().splitlines()
    res = json.loads(result)
    assert res["error_code"] == 0 and len(h) == 64
    assert net.get(f"/getAccount?address={b.address}")["result"]["balance"] == 777
    assert net.get(f"/getAccount?address={a.address}")["result"]["balance"] == 5_000_000 - 777 - res["actual_fee"]

    r = mbi("tx", "issue", "--url", url, "--key", str(key), "--code", "TOK", "--amount", "100")
    assert r.returncode == 0, r.stderr
    r = mbi("tx", "send-asset", "--url", url, "--key", str(key), "--to", b.address, "--code", "TOK",
            "--issuer", a.address, "--amount", "40", "--no-wait")
    assert r.returncode == 0, r.stderr
    h2 = r.stdout.strip()
    net.wait_tx(h2)
    assert net.get(f"/getAccountAssets?address={b.address}")["result"][0]["amount"] == 40

    r = mbi("tx", "get", h2, "--url", url)
    assert r.returncode == 0 and json.loads(r.stdout)["hash"] == h2
    r = mbi("tx", "get", "00" * 32, "--url", url)
    assert r.returncode == 1 and "4 " in r.stderr

    # refused: a nonce already used
    r = mbi("tx", "pay", "--url", url, "--key", str(key), "--to", b.address, "--amount", "1", "--nonce", "1")
    assert r.returncode == 1 and "refused: 99" in r.stderr
    # no node there
    r = mbi("tx", "get", h2, "--url", "http://127.0.0.1:1")
    assert r.returncode == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    r = mbi("tx", "pay", "--url", url, "--key", str(bad), "--to", b.address, "--amount", "1")
    assert r.returncode == 2 and "not a node key file" in r.stderr
