"""Determinism: random streams of valid and invalid transactions, executed twice in two
fresh states (and two fresh stores), give identical receipts, headers and roots; the
incremental state tree always equals a from-scratch RFC 6962 root; ZETA is conserved."""
from __future__ import annotations

import hashlib
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mbi.crypto import KeyPair
from mbi.ledger import Genesis, Ledger
from mbi.ledger import testing as T
from mbi.ledger.fees import INT64_MAX
from mbi.types import Operation

CHAIN = 21
G = KeyPair.from_seed(b"\xc0" * 32)
V = KeyPair.from_seed(b"\xc1" * 32)
USERS = [G] + [KeyPair.from_seed(bytes([0xD0 + i]) * 32) for i in range(5)]  # USERS[5] starts absent
ADDRS = [u.address for u in USERS] + ["ZTX3notvalid"]
SUPPLY = 10**15
GEN = Genesis.from_dict(T.genesis_dict(G, [V], chain_id=CHAIN, supply=SUPPLY))

amounts = st.sampled_from([0, 1, 7, 1000, 10**6, 10**9, 10**14, INT64_MAX, -1])
who = st.integers(0, len(ADDRS) - 1)
codes = st.sampled_from(["A", "B", "", "X" * 65])
weights = st.sampled_from([0, 1, 2, 3, 2**32])
op_type = st.sampled_from([1, 2, 3, 4, 5, 6, 7, 7, 7, 8, 9, 10, 0])

op_spec = st.tuples(op_type, who, who, amounts, codes, weights, weights, st.booleans(), st.integers(0, 3))
def _mostly(good, *bad):
    return st.sampled_from([good] * 8 + list(bad))


tx_spec = st.tuples(
    st.integers(0, len(USERS) - 1),                  # sender
    _mostly(0, 1, -1),                               # nonce offset from the right one
    st.lists(op_spec, min_size=1, max_size=3),       # operations
    _mostly("self", "other", "both", "none"),        # who signs
    _mostly(100, 99, 10**17),                        # gas_price
    _mostly(10**8, 1, -1),                           # fee_limit
    _mostly(CHAIN, CHAIN + 1),                       # chain_id
    _mostly(0, 1, 100),                              # ceil_ledger_seq
    _mostly(False, True),                            # drop all operations
)
stream = st.lists(st.lists(tx_spec, max_size=8), min_size=1, max_size=5)


def build_op(spec):
    t, a, b, amount, code, w1, w2, flag, k = spec
    dest, other = ADDRS[a], ADDRS[b]
    if t == 1:
        return T.create_account(dest, max(amount, 0) % 10**12, master_weight=w1 % 3, tx_threshold=w2 % 3,
                                signers=[(other, 1)] if flag else ())
    if t == 2:
        return T.issue_asset(code, amount)
    if t == 3:
        return T.pay_asset(dest, other, code, amount)
    if t == 4:
        return T.set_metadata(f"k{k}", "v" * k, version=k % 2, delete=flag)
    if t == 5:
        return T.set_signer_weight(w1 if flag else -1, [(other, w2)])
    if t == 6:
        return T.set_threshold(w1 if flag else -1, [(7, w2)])
    if t == 7:
        return T.pay_coin(dest, amount, source=other if flag and k == 0 else None)
    if t == 8:
        return T.log(code or "t", ["d"] * k)
    if t == 9:
        return T.set_privilege(str(w1) if flag else "", str(w2) if k else "")
    if t == 10:
        return T.upgrade_contract(dest)
    return Operation(type=0)


def build_tx(ledger: Ledger, spec):
    sender, noff, ops, signing, gas_price, fee_limit, chain, ceil, no_ops = spec
    if no_ops:
        ops = []
    key = USERS[sender]
    acct = ledger.state.get_account(key.address)
    nonce = (acct.nonce if acct else 0) + 1 + noff
    other = USERS[(sender + 1) % len(USERS)]
    signers = {"self": [key], "other": [other], "both": [key, other], "none": []}[signing]
    from mbi.types import SignedTransaction, Transaction
    tx = Transaction(source_address=key.address, nonce=nonce, operations=[build_op(o) for o in ops],
                     fee_limit=fee_limit, gas_price=gas_price, chain_id=chain, ceil_ledger_seq=ceil)
    blob = tx.SerializeToString()
    return SignedTransaction.from_parts(blob, [(k.encoded_public_key, k.sign(blob)) for k in signers])


def _rfc6962(entries):
    h = lambda b: hashlib.sha256(b).digest()  # noqa: E731
    if not entries:
        return h(b"")
    if len(entries) == 1:
        return h(b"\0" + entries[0])
    k = 1
    while k * 2 < len(entries):
        k *= 2
    return h(b"\1" + _rfc6962(entries[:k]) + _rfc6962(entries[k:]))


def run_stream(blocks, prebuilt=None, store=None):
    ledger, c1 = Ledger.create(GEN)
    if store is not None:
        store.commit_block(c1)
    # USERS[1:5] get accounts; USERS[5] starts absent (and may be created by the stream)
    setup = ledger.close([T.make_tx(G, 1, [T.create_account(u.address, 10**13) for u in USERS[1:5]],
                                    chain_id=CHAIN)], 500)
    assert setup.receipts[0].error_code == 0
    if store is not None:
        store.commit_block(setup.commit)
    built = prebuilt if prebuilt is not None else []
    out = []
    burned = 0
    for i, blk in enumerate(blocks):
        if prebuilt is None:
            # fresh copies: each run must do its own signature checks
            txs = [build_tx(ledger, s) for s in blk]
            built.append([t.envelope for t in txs])
        else:
            from mbi.types import SignedTransaction
            txs = [SignedTransaction.from_envelope(e) for e in prebuilt[i]]
        c = ledger.close(txs, 1_000 * (i + 1))
        if store is not None:
            store.commit_block(c.commit)
        burned += sum(r.actual_fee for r in c.receipts)
        total = sum(a.balance for a in ledger.state.accounts())
        assert total + burned + setup.receipts[0].actual_fee == SUPPLY
        assert all(a.balance >= 0 and a.nonce >= 0 for a in ledger.state.accounts())
        out.append((c.header.SerializeToString(),
                    [(r.error_code, r.error_desc, r.actual_fee, r.applied, r.logs) for r in c.receipts]))
    assert ledger.head.account_tree_hash == _rfc6962([hashlib.sha256(a.encode()).digest()
                                                      for a in ledger.state.accounts()])
    return out, built, ledger


@given(stream)
def test_random_streams_are_deterministic(blocks):
    first, built, _ = run_stream(blocks)
    second, _, _ = run_stream(blocks, prebuilt=built)
    assert first == second


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream)
def test_random_streams_in_two_fresh_stores(blocks):
    from mbi.store import Store
    with tempfile.TemporaryDirectory() as d1, tempfile.TemporaryDirectory() as d2:
        s1 = Store.open(d1 + "/db", chain_id=CHAIN, create=True)
        s2 = Store.open(d2 + "/db", chain_id=CHAIN, create=True)
        try:
            first, built, l1 = run_stream(blocks, store=s1)
            second, _, _ = run_stream(blocks, prebuilt=built, store=s2)
            assert first == second
            # the state each store holds rebuilds to the same root
            r1 = Ledger.from_store(GEN, s1).state.root()
            r2 = Ledger.from_store(GEN, s2).state.root()
            assert r1 == r2 == l1.head.account_tree_hash
        finally:
            s1.close()
            s2.close()


pay_spec = st.tuples(st.just(7), who, who, amounts, codes, weights, weights, st.booleans(), st.integers(0, 3))
pay_tx = st.tuples(st.integers(0, len(USERS) - 1), _mostly(0, 1, -1), st.lists(pay_spec, min_size=1, max_size=1),
                   _mostly("self", "other", "both", "none"), _mostly(100, 99), _mostly(10**8, 1),
                   st.just(CHAIN), st.just(0), st.just(False))


@given(st.lists(st.lists(pay_tx, max_size=10), min_size=1, max_size=4))
def test_pay_coin_fast_path_matches_generic(blocks):
    from mbi.ledger import execute
    first, built, _ = run_stream(blocks)
    execute.FAST_PATHS = False
    try:
        second, _, _ = run_stream(blocks, prebuilt=built)
    finally:
        execute.FAST_PATHS = True
    assert first == second
