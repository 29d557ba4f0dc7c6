"""Determinism: random streams of valid and invalid transactions, executed twice in two
fresh states (and two fresh stores), give identical receipts, headers and roots; the
incremental state tree always equals a from-scratch RFC 6962 root; ZETA is conserved."""
from __future__ import annotations

import hashlib
import tempfile

import pytest
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
# With a base reserve, PAY_COIN to the absent USERS[5] below it fails with 106.
GEN_RESERVE = Genesis.from_dict(T.genesis_dict(G, [V], chain_id=CHAIN, supply=SUPPLY, base_reserve=1000))

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


def run_stream(blocks, prebuilt=None, store=None, gen=GEN):
    ledger, c1 = Ledger.create(gen)
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


@pytest.mark.parametrize("gen", [GEN, GEN_RESERVE], ids=["no-reserve", "reserve"])
@given(blocks=st.lists(st.lists(pay_tx, max_size=10), min_size=1, max_size=4))
def test_pay_coin_fast_path_matches_generic(gen, blocks):
    # includes payments to the absent USERS[5] (created, or 106 under a reserve)
    from mbi.ledger import execute
    first, built, _ = run_stream(blocks, gen=gen)
    execute.FAST_PATHS = False
    try:
        second, _, _ = run_stream(blocks, prebuilt=built, gen=gen)
    finally:
        execute.FAST_PATHS = True
    execute.NATIVE_SCAN = False  # the inline path reading the decoded message
    try:
        third, _, _ = run_stream(blocks, prebuilt=built, gen=gen)
    finally:
        execute.NATIVE_SCAN = True
    execute.NATIVE_RUN = False  # the inline path's Python loop (first ran core_ext.execpay's)
    try:
        fourth, _, _ = run_stream(blocks, prebuilt=built, gen=gen)
    finally:
        execute.NATIVE_RUN = True
    assert first == second == third == fourth


@given(stream)
def test_random_streams_are_deterministic_with_a_reserve(blocks):
    first, built, _ = run_stream(blocks, gen=GEN_RESERVE)
    second, _, _ = run_stream(blocks, prebuilt=built, gen=GEN_RESERVE)
    assert first == second


# ------------------------------------------------------------------ hostile input
i64 = st.integers(-(2**63), 2**63 - 1)
text = st.one_of(st.sampled_from(ADDRS + ["", "A", "0", "1", "-1", "4294967295"]), st.text(max_size=40))
KNOWN_CODES = {0, 2, 4, 5, 7, 90, 92, 93, 94, 97, 98, 99, 100, 101, 102, 103, 104, 106, 111, 112, 120, 121, 144,
               146, 151}


@st.composite
def any_operation(draw):
    from mbi.types import zetrix_protocol_pb2 as pb
    op = pb.Operation(type=draw(st.integers(0, 12)))
    if draw(st.booleans()):
        op.source_address = draw(text)
    body = draw(st.sampled_from(["create_account", "issue_asset", "pay_asset", "set_metadata", "set_signer_weight",
                                 "set_threshold", "pay_coin", "log", "set_privilege", "upgrade_contract", None]))
    if body == "create_account":
        ca = op.create_account
        ca.dest_address, ca.init_balance = draw(text), draw(i64)
        if draw(st.booleans()):
            ca.priv.master_weight, ca.priv.thresholds.tx_threshold = draw(i64), draw(i64)
            for _ in range(draw(st.integers(0, 2))):
                ca.priv.signers.add(address=draw(text), weight=draw(i64))
            for _ in range(draw(st.integers(0, 2))):
                ca.priv.thresholds.type_thresholds.add(type=draw(st.integers(0, 101)), threshold=draw(i64))
        for _ in range(draw(st.integers(0, 2))):
            ca.metadatas.add(key=draw(text), value=draw(text), version=draw(i64))
    elif body == "issue_asset":
        op.issue_asset.code, op.issue_asset.amount = draw(text), draw(i64)
    elif body == "pay_asset":
        pa = op.pay_asset
        pa.dest_address, pa.asset.amount = draw(text), draw(i64)
        pa.asset.key.issuer, pa.asset.key.code, pa.asset.key.type = draw(text), draw(text), draw(st.integers(0, 3))
    elif body == "set_metadata":
        sm = op.set_metadata
        sm.key, sm.value, sm.version, sm.delete_flag = draw(text), draw(text), draw(i64), draw(st.booleans())
    elif body in ("set_signer_weight", "set_privilege", "set_threshold"):
        b = getattr(op, body)
        if body == "set_privilege":
            b.master_weight, b.tx_threshold = draw(text), draw(text)
        elif body == "set_signer_weight":
            b.master_weight = draw(i64)
        else:
            b.tx_threshold = draw(i64)
        if body != "set_threshold":
            for _ in range(draw(st.integers(0, 2))):
                b.signers.add(address=draw(text), weight=draw(i64))
        if body != "set_signer_weight":
            for _ in range(draw(st.integers(0, 2))):
                b.type_thresholds.add(type=draw(st.integers(0, 101)), threshold=draw(i64))
    elif body == "pay_coin":
        op.pay_coin.dest_address, op.pay_coin.amount = draw(text), draw(i64)
    elif body == "log":
        op.log.topic = draw(text)
        op.log.datas.extend(draw(st.lists(text, max_size=3)))
    elif body == "upgrade_contract":
        op.upgrade_contract.dest_address = draw(text)
    return op


@given(st.lists(st.tuples(st.integers(0, len(USERS) - 1), st.lists(any_operation(), min_size=1, max_size=3),
                          st.sampled_from([0, 1, 2, 1000])), min_size=1, max_size=6))
def test_hostile_operations_never_crash(specs):
    from mbi.types import SignedTransaction, Transaction
    ledger, _ = Ledger.create(GEN)
    setup = ledger.close([T.make_tx(G, 1, [T.create_account(u.address, 10**13) for u in USERS[1:5]],
                                    chain_id=CHAIN)], 500)
    txs = []
    nonces: dict[str, int] = {}
    for sender, ops, nonce_hint in specs:
        key = USERS[sender]
        nonces[key.address] = nonces.get(key.address, 1 if key is not G else 2) if nonce_hint else nonce_hint
        tx = Transaction(source_address=key.address, nonce=nonces[key.address], operations=ops, fee_limit=10**9,
                         gas_price=100, chain_id=CHAIN)
        nonces[key.address] += 1
        blob = tx.SerializeToString()
        signers = [key] + ([USERS[(sender + 1) % len(USERS)]] if nonce_hint == 2 else [])
        txs.append(SignedTransaction.from_parts(blob, [(k.encoded_public_key, k.sign(blob)) for k in signers]))
    c = ledger.close(txs, 1_000)
    assert {r.error_code for r in c.receipts} <= KNOWN_CODES
    total = sum(a.balance for a in ledger.state.accounts())
    fees = sum(r.actual_fee for r in c.receipts) + setup.receipts[0].actual_fee
    assert total + fees == SUPPLY
    for a in ledger.state.accounts():
        assert 0 <= a.balance <= INT64_MAX and 0 <= a.master_weight <= 2**32 - 1
        # weight 0 may be stored by CREATE_ACCOUNT (BUMO copies priv); type thresholds name
        # operation types 1-100 (docs/ledger.md §4)
        assert len(a.signers) <= 100 and all(0 <= w <= 2**32 - 1 for w in a.signers.values())
        assert all(1 <= t <= 100 and v > 0 for t, v in a.type_thresholds.items())
        assert all(0 < v <= INT64_MAX for v in a.assets.values())
    assert ledger.head.account_tree_hash == _rfc6962([hashlib.sha256(a.encode()).digest()
                                                      for a in ledger.state.accounts()])
