"""The issue-11 rules through the real wallet SDK: zetrix-sdk-nodejs builds and signs
the blobs (tests/js/sdk_build.js), MBI executes them with Ledger.close and stores them
(there is no HTTP API yet; /submitTransaction will hand the same blobs to the same
code). Covers: one metadata key updated twice (SDK default version), a 2-of-3 multisig
carrying one bad co-signature, and a failed PAY_COIN whose stored history shows
actual_fee = fee_limit."""
from __future__ import annotations

import pytest

from mbi.crypto import KeyPair
from mbi.ledger import Genesis, Ledger, validate
from mbi.ledger import errors as E
from mbi.ledger import testing as T
from mbi.store import Store
from mbi.types import SignedTransaction

from test_types_node import run_node

pytestmark = pytest.mark.node

CHAIN = 13
G = KeyPair.from_seed(b"\x81" * 32)
M = KeyPair.from_seed(b"\x82" * 32)  # the multisig account
S1 = KeyPair.from_seed(b"\x83" * 32)
S2 = KeyPair.from_seed(b"\x84" * 32)
P = KeyPair.from_seed(b"\x85" * 32)  # a poor account
V = KeyPair.from_seed(b"\x86" * 32)


def spec(src: KeyPair, nonce: int, ops, keys=None, fee_limit: str = "1000000") -> dict:
    return {"source": src.address, "nonce": str(nonce), "gas_price": "100", "fee_limit": fee_limit,
            "private_keys": [k.encoded_private_key for k in (keys or [src])],
            "operations": [{"op": o, "args": a} for o, a in ops]}


SPECS = [
    # ledger 2: fund M and P (fresh addresses: PAY_COIN creates them)
    spec(G, 1, [("gasSendOperation", {"destAddress": M.address, "gasAmount": "1000000000"}),
                ("gasSendOperation", {"destAddress": P.address, "gasAmount": "200000"})]),
    # ledger 3: M becomes 2-of-3 (M, S1, S2, weight 1 each); G sets a key twice in one tx
    spec(M, 1, [("accountSetPrivilegeOperation", {"masterWeight": "1", "txThreshold": "2",
                                                  "signers": [{"address": S1.address, "weight": "1"},
                                                              {"address": S2.address, "weight": "1"}]})]),
    spec(G, 2, [("accountSetMetadataOperation", {"key": "profile", "value": "first"}),
                ("accountSetMetadataOperation", {"key": "profile", "value": "second"})]),
    # ledger 4: M pays with M + S1 good and S2's signature broken; G updates the key
    # again with the default version; P tries to pay far more than it has
    spec(M, 2, [("gasSendOperation", {"destAddress": G.address, "gasAmount": "5"})], keys=[M, S1, S2]),
    spec(M, 3, [("gasSendOperation", {"destAddress": G.address, "gasAmount": "6"})], keys=[M, S2]),
    spec(G, 3, [("accountSetMetadataOperation", {"key": "profile", "value": "third"})]),
    spec(P, 1, [("gasSendOperation", {"destAddress": G.address, "gasAmount": "1000000000"})], fee_limit="100000"),
]


@pytest.fixture(scope="module")
def built():
    out = run_node("sdk_build.js", {"chain_id": CHAIN, "txs": SPECS})
    for s, o in zip(SPECS, out):
        assert "error" not in o, (s, o)
    return out


def stx_of(b: dict, broken: int | None = None) -> SignedTransaction:
    sigs = [(s["public_key"], bytes.fromhex(s["sign_data"])) for s in b["signatures"]]
    if broken is not None:
        pk, sd = sigs[broken]
        sigs[broken] = (pk, sd[:5] + bytes([sd[5] ^ 0x01]) + sd[6:])
    return SignedTransaction.from_parts(bytes.fromhex(b["blob"]), sigs)


def test_sdk_metadata_multisig_and_failed_payment(built, tmp_path):
    gen = Genesis.from_dict(T.genesis_dict(G, [V], chain_id=CHAIN))
    ledger, c1 = Ledger.create(gen)
    store = Store.open(str(tmp_path / "db"), chain_id=CHAIN, create=True)
    store.commit_block(c1)

    def close(txs):
        closed = ledger.close(txs, 1_000_000 * ledger.seq)
        store.commit_block(closed.commit)
        return closed.receipts

    (r,) = close([stx_of(built[0])])
    assert r.error_code == 0, r.error_desc

    rs = close([stx_of(built[1]), stx_of(built[2])])
    assert [r.error_code for r in rs] == [0, 0], [r.error_desc for r in rs]
    m = ledger.state.get_account(M.address)
    assert (m.master_weight, m.tx_threshold, m.signers) == (1, 2, {S1.address: 1, S2.address: 1})
    # one key, two SET_METADATA in one transaction, SDK default version (0): version 2
    assert ledger.state.get_account(G.address).metadata == {"profile": ("second", 2)}

    good_pair = stx_of(built[3], broken=2)  # M, S1 good; S2 broken
    assert len(good_pair.signatures) == 3
    lone = stx_of(built[4], broken=1)  # M good, S2 broken: weight 1 < 2
    again = stx_of(built[5])
    poor = stx_of(built[6])
    # what admission would answer, before the block
    assert validate(lone, ledger.state, ledger.seq + 1, future_nonce=True)[0] == E.INVALID_SIGNATURE
    assert validate(poor, ledger.state, ledger.seq + 1) == (0, "")
    g_before = ledger.state.get_account(G.address).balance
    rs = close([good_pair, lone, again, poor])
    assert [r.error_code for r in rs] == [0, E.INVALID_SIGNATURE, 0, E.ACCOUNT_LOW_RESERVE], \
        [r.error_desc for r in rs]
    assert good_pair.valid_signers == frozenset([M.address, S1.address]) and good_pair.sig_ok is False
    assert [r.applied for r in rs] == [True, False, True, True]

    m = ledger.state.get_account(M.address)
    assert rs[0].actual_fee == _fee(built[3]) < 1_000_000  # the unused fee_limit came back
    assert m.nonce == 2 and m.balance == 10**9 - _fee(built[1]) - rs[0].actual_fee - 5
    # the key updated again with the SDK's default: version 3
    assert ledger.state.get_account(G.address).metadata == {"profile": ("third", 3)}
    assert ledger.state.get_account(G.address).balance == g_before + 5 - rs[2].actual_fee

    # the failed PAY_COIN: nonce used, the whole fee_limit kept, the payment undone
    p = ledger.state.get_account(P.address)
    assert (p.nonce, p.balance) == (1, 200_000 - 100_000)
    assert rs[3].actual_fee == 100_000 and rs[3].actual_fee > len(poor.envelope) * 100
    rec = store.get_tx(poor.hash)
    assert rec is not None and (rec.error_code, rec.actual_fee) == (E.ACCOUNT_LOW_RESERVE, 100_000)
    assert store.get_tx(lone.hash) is None  # refused: never stored
    rec = store.get_tx(good_pair.hash)
    assert rec is not None and rec.error_code == 0 and rec.actual_fee == len(good_pair.envelope) * 100
    store.close()


def _fee(b: dict) -> int:
    return len(stx_of(b).envelope) * 100
