"""Execution: every operation's success path, the transaction-level rules (nonce,
fees, signatures, weights) and the failure semantics (operations revert; the nonce
stays and the fee is the whole fee_limit). Each error code of the rule table has its
own test in test_ledger_rules.py; fee boundaries are in test_ledger_fees.py."""
from __future__ import annotations

import pytest

from mbi.crypto import KeyPair
from mbi.ledger import Account, ChainConfig, FeeConfig, apply_block
from mbi.ledger import errors as E
from mbi.ledger import testing as T
from mbi.ledger.fees import INT64_MAX, UINT32_MAX

CHAIN = 7
CFG = ChainConfig(CHAIN, FeeConfig(gas_price=100, base_reserve=0))


class DictView:
    """A minimal in-memory StateView (no state tree) for execution tests."""

    def __init__(self, cfg: ChainConfig, accounts: list[Account]) -> None:
        self.config = cfg
        self.accts = {a.address: a for a in accounts}
        self.n = len(accounts)

    def get_account(self, address):
        return self.accts.get(address)

    def account_count(self):
        return self.n

    def commit(self, changes):
        for a in changes.accounts:
            self.accts[a.address] = a
        self.n += changes.new_accounts


K = [KeyPair.from_seed(bytes([i + 1]) * 32) for i in range(8)]
G, A, B, C, S1, S2, S3, X = K  # X never exists on the ledger


@pytest.fixture
def view():
    return DictView(CFG, [Account(G.address, 0, balance=10**15), Account(A.address, 1, balance=10**9),
                          Account(B.address, 2, balance=1000), Account(C.address, 3, balance=0)])


def run(view, *txs, seq=2, commit=True):
    changes, receipts = apply_block(view, list(txs), seq, 1_000_000)
    if commit:
        view.commit(changes)
    return receipts


def tx(key, nonce, *ops, **kw):
    kw.setdefault("chain_id", CHAIN)
    return T.make_tx(key, nonce, list(ops), **kw)


def fee_of(t):
    from mbi.ledger.fees import OP_GAS
    return (len(t.envelope) + sum(OP_GAS.get(o.type, 0) for o in t.tx.operations)) * t.tx.gas_price


def snapshot(view):
    return {a: (x.encode(), dict(x.assets), dict(x.metadata)) for a, x in view.accts.items()}


def assert_rejected(view, t, code):
    """A transaction failing validity: receipt code, nothing applied, state untouched."""
    before = snapshot(view)
    (r,) = run(view, t)
    assert r.error_code == code, r.error_desc
    assert not r.applied and r.actual_fee == 0
    assert snapshot(view) == before
    return r


def assert_op_fails(view, t, code):
    """An operation failing: nonce used, the whole fee_limit kept, every operation
    effect reverted."""
    src = view.get_account(t.tx.source_address)
    others = {a: v for a, v in snapshot(view).items() if a != src.address}
    nonce, bal, assets, md = src.nonce, src.balance, dict(src.assets), dict(src.metadata)
    n = view.n
    (r,) = run(view, t)
    assert r.error_code == code, r.error_desc
    assert r.applied and r.actual_fee == t.tx.fee_limit
    after = view.get_account(src.address)
    assert (after.nonce, after.balance) == (nonce + 1, bal - r.actual_fee)
    assert after.assets == assets and after.metadata == md
    assert {a: v for a, v in snapshot(view).items() if a != src.address} == others
    assert view.n == n
    return r


def ok(view, t):
    (r,) = run(view, t)
    assert r.error_code == 0, r.error_desc
    assert r.applied and r.actual_fee == fee_of(t)
    return r


# ---------------------------------------------------------------- transaction rules
def test_pay_coin_success_charges_fee_and_nonce(view, paths):
    t = tx(A, 1, T.pay_coin(B.address, 500))
    r = ok(view, t)
    a, b = view.get_account(A.address), view.get_account(B.address)
    assert a.nonce == 1 and a.balance == 10**9 - 500 - r.actual_fee
    assert b.balance == 1500 and b.nonce == 0
    assert r.actual_fee == len(t.envelope) * 100


def test_zero_gas_price_network_charges_nothing():
    v = DictView(ChainConfig(CHAIN, FeeConfig(0, 0)), [Account(A.address, 0, balance=10), Account(B.address, 1)])
    (r,) = run(v, tx(A, 1, T.pay_coin(B.address, 10), gas_price=0, fee_limit=0))
    assert r.error_code == 0 and r.applied and r.actual_fee == 0
    assert v.get_account(B.address).balance == 10


def test_nonce_rules_and_replay(view):
    assert_rejected(view, tx(A, 2, T.pay_coin(B.address, 1)), E.BAD_SEQUENCE)
    assert_rejected(view, tx(A, 0, T.pay_coin(B.address, 1)), E.BAD_SEQUENCE)
    t = tx(A, 1, T.pay_coin(B.address, 1))
    ok(view, t)
    assert_rejected(view, t, E.BAD_SEQUENCE)  # replay in a later block
    t2 = tx(A, 2, T.pay_coin(B.address, 1))
    r1, r2 = run(view, t2, t2)  # replay inside one block
    assert r1.error_code == 0 and r2.error_code == E.BAD_SEQUENCE and not r2.applied


def test_nonces_chain_within_a_block(view):
    rs = run(view, *[tx(A, n, T.pay_coin(B.address, 1)) for n in (1, 2, 3)])
    assert [r.error_code for r in rs] == [0, 0, 0]
    assert view.get_account(A.address).nonce == 3


def test_balance_cannot_pay_fee(view):
    assert_rejected(view, tx(C, 1, T.pay_coin(B.address, 0)), E.ACCOUNT_LOW_RESERVE)
    t = tx(B, 1, T.pay_coin(A.address, 0))
    assert fee_of(t) > 1000
    assert_rejected(view, t, E.ACCOUNT_LOW_RESERVE)


def test_insufficient_balance_for_payment(view, paths):
    # B can cover fee_limit (lower gas price network) but not fee_limit + the amount:
    # the amount is checked against the balance left after fee_limit was taken
    v = DictView(ChainConfig(CHAIN, FeeConfig(1, 0)), [Account(B.address, 0, balance=1000), Account(A.address, 1)])
    t = tx(B, 1, T.pay_coin(A.address, 701), gas_price=1, fee_limit=300)
    r = assert_op_fails(v, t, E.ACCOUNT_LOW_RESERVE)
    assert v.get_account(A.address).balance == 0
    assert r.actual_fee == 300 and v.get_account(B.address).balance == 700
    r = ok(v, tx(B, 2, T.pay_coin(A.address, 400), gas_price=1, fee_limit=300))
    assert v.get_account(B.address).balance == 700 - 400 - r.actual_fee


def test_signature_failures(view):
    good = tx(A, 1, T.pay_coin(B.address, 1))
    pk, sd = good.signatures[0][0], good.signatures[0][3]
    from mbi.types import SignedTransaction
    # A signature that does not verify, is short, or whose key does not decode is
    # ignored; with no valid one left, the weight is 0: 93.
    bad = SignedTransaction.from_parts(good.tx_bytes, [(pk, bytes([sd[0] ^ 1]) + sd[1:])])
    assert_rejected(view, bad, E.INVALID_SIGNATURE)
    short = SignedTransaction.from_parts(good.tx_bytes, [(pk, sd[:63])])
    assert_rejected(view, short, E.INVALID_SIGNATURE)
    badpk = SignedTransaction.from_parts(good.tx_bytes, [(pk[:-2] + ("00" if pk[-2:] != "00" else "11"), sd)])
    assert_rejected(view, badpk, E.INVALID_SIGNATURE)
    assert badpk.sig_ok is False and badpk.sig_error[0] == E.INVALID_PUBKEY
    # signed by a key that has no weight on A
    assert_rejected(view, tx([B], 1, T.pay_coin(C.address, 1), source=A.address), E.INVALID_SIGNATURE)
    # no signatures at all
    nosig = SignedTransaction.from_parts(good.tx_bytes, [])
    assert_rejected(view, nosig, E.INVALID_SIGNATURE)
    # one good and one bad signature: the bad one is ignored and the good one's weight
    # (A's master key) suffices (BUMO TransactionFrm::Initialize skips it)
    other = B.sign(good.tx_bytes)
    mixed = SignedTransaction.from_parts(good.tx_bytes, [(pk, sd), (B.encoded_public_key, bytes(64)),
                                                         ("b001zz", other)])
    r = ok(view, mixed)
    assert mixed.sig_ok is False and mixed.valid_signers == frozenset([A.address])
    both = SignedTransaction.from_parts(tx(A, 2, T.pay_coin(B.address, 1)).tx_bytes, [])
    blob = both.tx_bytes
    ok(view, SignedTransaction.from_parts(blob, [(pk, A.sign(blob)), (B.encoded_public_key, B.sign(blob))]))


# ---------------------------------------------------------------- PAY_COIN
@pytest.fixture(params=[(True, True), (True, False), (False, False)], ids=["native-loop", "fast-path", "generic"])
def paths(request, monkeypatch):
    """Run a test through the inlined single-PAY_COIN path (its loop native or Python)
    and the generic handler."""
    from mbi.ledger import execute
    monkeypatch.setattr(execute, "FAST_PATHS", request.param[0])
    monkeypatch.setattr(execute, "NATIVE_RUN", request.param[1])
    return request.param[0]


def test_pay_coin_creates_a_missing_dest(view, paths):
    """Paying a fresh address creates it (BUMO/Zetrix wallets rely on this)."""
    t = tx(A, 1, T.pay_coin(X.address, 500))
    changes, (r,) = apply_block(view, [t], 2, 1_000_000)
    assert r.error_code == 0 and r.applied, r.error_desc
    # no account-creation surcharge: the fee is the payment's byte fee (docs/ledger.md §6)
    assert r.actual_fee == len(t.envelope) * 100 == fee_of(t)
    assert changes.new_accounts == 1 and changes.base_count == 4
    assert [a.address for a in changes.accounts] == [A.address, X.address]
    view.commit(changes)
    x = view.get_account(X.address)
    assert x.index == 4 and view.n == 5
    assert (x.nonce, x.balance, x.master_weight, x.tx_threshold) == (0, 500, 1, 1)
    assert not x.signers and not x.type_thresholds and not x.assets and not x.metadata
    # the same privilege as an account made by CREATE_ACCOUNT with master_weight 1, tx_threshold 1
    y = Account(X.address, 4, balance=500, master_weight=1, tx_threshold=1)
    assert x.encode() == y.encode()
    assert view.get_account(A.address).balance == 10**9 - 500 - r.actual_fee
    # a second payment credits it like any account; CREATE_ACCOUNT now finds it existing
    ok(view, tx(A, 2, T.pay_coin(X.address, 7)))
    assert view.get_account(X.address).balance == 507 and view.n == 5
    assert_op_fails(view, tx(A, 3, T.create_account(X.address, 1)), E.ACCOUNT_DEST_EXIST)


def test_pay_coin_created_account_can_transact(paths):
    v = DictView(CFG, [Account(A.address, 0, balance=10**9)])
    ok(v, tx(A, 1, T.pay_coin(X.address, 10**6)))
    r = ok(v, tx(X, 1, T.pay_coin(A.address, 1000), fee_limit=10**5))
    x = v.get_account(X.address)
    assert x.nonce == 1 and x.balance == 10**6 - 1000 - r.actual_fee


def test_pay_coin_creation_below_base_reserve(paths):
    v = DictView(ChainConfig(CHAIN, FeeConfig(1, 100)), [Account(A.address, 0, balance=10**6)])
    # amount < base_reserve: 106, nothing but nonce and fee changes, no account appears
    assert_op_fails(v, tx(A, 1, T.pay_coin(X.address, 99), gas_price=1, fee_limit=1000), E.ACCOUNT_INIT_LOW_RESERVE)
    assert_op_fails(v, tx(A, 2, T.pay_coin(X.address, 0), gas_price=1, fee_limit=1000), E.ACCOUNT_INIT_LOW_RESERVE)
    assert X.address not in v.accts
    # the source's own reserve (100) is checked before a missing dest (106), as in BUMO
    # (balance 400 - fee_limit 300 = 100 < 50 + reserve 100: 100, though 50 is also too
    # little to create X)
    poor = DictView(ChainConfig(CHAIN, FeeConfig(1, 100)), [Account(A.address, 0, balance=400)])
    assert_op_fails(poor, tx(A, 1, T.pay_coin(X.address, 50), gas_price=1, fee_limit=300), E.ACCOUNT_LOW_RESERVE)
    # exactly the reserve is enough
    ok(v, tx(A, 3, T.pay_coin(X.address, 100), gas_price=1, fee_limit=1000))
    x = v.get_account(X.address)
    assert (x.index, x.balance, x.nonce) == (1, 100, 0) and v.n == 2


def test_pay_coin_creation_in_one_block_and_rollback(view, paths):
    # created by one transaction, paid again by the next (dest found in the block's overlay)
    rs = run(view, tx(A, 1, T.pay_coin(X.address, 10)), tx(A, 2, T.pay_coin(X.address, 5)))
    assert [r.error_code for r in rs] == [0, 0]
    assert view.get_account(X.address).balance == 15 and view.get_account(X.address).index == 4
    # multi-operation: a creation undone by a later failure frees its index
    t = tx(A, 3, T.pay_coin(S2.address, 1), T.pay_coin(S2.address, 2), T.pay_coin(C.address, 10**12))
    r = assert_op_fails(view, t, E.ACCOUNT_LOW_RESERVE)
    assert r.error_desc.startswith("operation 2:") and S2.address not in view.accts
    ok(view, tx(A, 4, T.pay_coin(S3.address, 1), T.pay_coin(S3.address, 2), T.pay_coin(S2.address, 4)))
    assert view.get_account(S3.address).balance == 3 and view.get_account(S2.address).balance == 4
    assert [view.get_account(k.address).index for k in (X, S3, S2)] == [4, 5, 6]


def test_pay_coin_overflow_changes_nothing(paths):
    v = DictView(CFG, [Account(A.address, 0, balance=10**12), Account(B.address, 1, balance=INT64_MAX - 5)])
    assert_op_fails(v, tx(A, 1, T.pay_coin(B.address, 6)), E.MATH_OVERFLOW)
    assert v.get_account(B.address).balance == INT64_MAX - 5
    ok(v, tx(A, 2, T.pay_coin(B.address, 5)))
    assert v.get_account(B.address).balance == INT64_MAX


def test_base_reserve_applies_to_payments(paths):
    v = DictView(ChainConfig(CHAIN, FeeConfig(1, 1000)),
                 [Account(A.address, 0, balance=10_000), Account(B.address, 1, balance=1000)])
    # fee_limit 500 is taken first: 9,500 left, so paying more than 8,500 breaks the reserve
    assert_op_fails(v, tx(A, 1, T.pay_coin(B.address, 8_501), gas_price=1, fee_limit=500), E.ACCOUNT_LOW_RESERVE)
    assert v.get_account(A.address).balance == 9_500
    # leaving exactly the reserve while fee_limit is held is fine; the unused part comes back
    r = ok(v, tx(A, 2, T.pay_coin(B.address, 8_000), gas_price=1, fee_limit=500))
    assert v.get_account(A.address).balance == 9_500 - 8_000 - r.actual_fee
    assert v.get_account(A.address).balance > 1000


# ---------------------------------------------------------------- CREATE_ACCOUNT
def test_create_account_success(view):
    t = tx(A, 1, T.create_account(X.address, 5000, master_weight=2, tx_threshold=3,
                                  signers=[(S1.address, 1)], type_thresholds=[(7, 4)],
                                  metadatas=[("k", "v")]))
    r = ok(view, t)
    x = view.get_account(X.address)
    assert x.index == 4 and view.n == 5 and x.nonce == 0 and x.balance == 5000
    assert (x.master_weight, x.tx_threshold) == (2, 3)
    assert x.signers == {S1.address: 1} and x.type_thresholds == {7: 4}
    assert x.metadata == {"k": ("v", 1)}
    assert view.get_account(A.address).balance == 10**9 - 5000 - r.actual_fee
    assert r.actual_fee == len(t.envelope) * 100  # bytes only: Zetrix names no per-operation fee


def test_create_account_sdk_style_zero_balance(view):
    ok(view, tx(A, 1, T.create_account(X.address)))
    assert view.get_account(X.address).balance == 0


def test_create_account_below_base_reserve():
    v = DictView(ChainConfig(CHAIN, FeeConfig(1, 100)), [Account(A.address, 0, balance=10**6)])
    assert_op_fails(v, tx(A, 1, T.create_account(X.address, 99), gas_price=1, fee_limit=1000),
                    E.ACCOUNT_INIT_LOW_RESERVE)
    ok_r = run(v, tx(A, 2, T.create_account(X.address, 100), gas_price=1, fee_limit=1000))[0]
    assert ok_r.error_code == 0 and v.get_account(X.address).balance == 100


def test_limits_on_signers(view):
    ks = [KeyPair.from_seed(bytes([100 + i]) * 32).address for i in range(101)]
    assert_rejected(view, tx(A, 1, T.create_account(X.address, 0, signers=[(a, 1) for a in ks])),
                    E.INVALID_PARAMETER)
    ok(view, tx(A, 1, T.set_signer_weight(-1, [(a, 1) for a in ks[:60]])))
    # more than 100 on the account: MBI refuses (BUMO's UpdateSigner silently skipped them)
    assert_op_fails(view, tx(A, 2, T.set_signer_weight(-1, [(a, 1) for a in ks[60:]])), E.INVALID_PARAMETER)
    assert len(view.get_account(A.address).signers) == 60


# ---------------------------------------------------------------- assets
def test_issue_and_pay_asset(view):
    ok(view, tx(A, 1, T.issue_asset("GOLD", 1000)))
    assert view.get_account(A.address).assets == {(A.address, "GOLD"): 1000}
    ok(view, tx(A, 2, T.issue_asset("GOLD", 1)))
    ok(view, tx(A, 3, T.pay_asset(B.address, A.address, "GOLD", 600)))
    assert view.get_account(B.address).assets == {(A.address, "GOLD"): 600}
    assert view.get_account(A.address).assets == {(A.address, "GOLD"): 401}
    ok(view, tx(A, 4, T.pay_asset(B.address, A.address, "GOLD", 401)))
    assert view.get_account(A.address).assets == {}  # a zero holding disappears


def test_pay_asset_errors(view):
    ok(view, tx(A, 1, T.issue_asset("T", 100)))
    ok(view, tx(G, 1, T.issue_asset("T", INT64_MAX)))
    ok(view, tx(G, 2, T.pay_asset(B.address, G.address, "T", INT64_MAX)))
    ok(view, tx(G, 3, T.issue_asset("T", 1)))
    # parameter errors (92, 94, 101) are refused before charging: test_ledger_rules.py
    assert_op_fails(view, tx(A, 2, T.pay_asset(X.address, A.address, "T", 1)), E.ACCOUNT_NOT_EXIST)
    assert_op_fails(view, tx(A, 3, T.pay_asset(B.address, A.address, "T", 101)), E.ACCOUNT_ASSET_LOW_RESERVE)
    assert_op_fails(view, tx(A, 4, T.pay_asset(B.address, G.address, "T", 1)), E.ACCOUNT_ASSET_LOW_RESERVE)
    # B holds INT64_MAX of G's T: one more overflows and nothing changes
    assert_op_fails(view, tx(G, 4, T.pay_asset(B.address, G.address, "T", 1)), E.MATH_OVERFLOW)
    assert view.get_account(B.address).assets[(G.address, "T")] == INT64_MAX
    assert view.get_account(G.address).assets[(G.address, "T")] == 1


# ---------------------------------------------------------------- metadata
def test_set_metadata_versions_and_delete(view):
    # BUMO OperationFrm::SetMetaData: 0 = no check; an update needs current + 1; a new
    # key 0 or 1 (stored as 1); a delete with a version needs the current one.
    ok(view, tx(A, 1, T.set_metadata("k", "v1")))
    assert view.get_account(A.address).metadata == {"k": ("v1", 1)}
    ok(view, tx(A, 2, T.set_metadata("k", "v2", version=2)))
    assert view.get_account(A.address).metadata == {"k": ("v2", 2)}
    assert_op_fails(view, tx(A, 3, T.set_metadata("k", "v3", version=2)), E.INVALID_DATAVERSION)
    assert_op_fails(view, tx(A, 4, T.set_metadata("k", "v3", version=-1)), E.INVALID_DATAVERSION)
    assert_op_fails(view, tx(A, 5, T.set_metadata("new", "v", version=2)), E.INVALID_DATAVERSION)
    ok(view, tx(A, 6, T.set_metadata("new", "v", version=1)))
    ok(view, tx(A, 7, T.set_metadata("k", "", version=0)))
    assert view.get_account(A.address).metadata == {"k": ("", 3), "new": ("v", 1)}
    # one key twice in one transaction with the SDK's default version 0
    ok(view, tx(A, 8, T.set_metadata("k", "a"), T.set_metadata("k", "b")))
    assert view.get_account(A.address).metadata["k"] == ("b", 5)
    assert_op_fails(view, tx(A, 9, T.set_metadata("k", delete=True, version=4)), E.INVALID_DATAVERSION)
    ok(view, tx(A, 10, T.set_metadata("k", delete=True, version=5)))
    ok(view, tx(A, 11, T.set_metadata("new", delete=True)))
    assert view.get_account(A.address).metadata == {}
    assert_op_fails(view, tx(A, 12, T.set_metadata("k", delete=True)), E.NOT_EXIST)


# ---------------------------------------------------------------- privileges
def test_set_signer_weight(view):
    ok(view, tx(A, 1, T.set_signer_weight(5, [(S1.address, 2), (S2.address, 3)])))
    a = view.get_account(A.address)
    assert a.master_weight == 5 and a.signers == {S1.address: 2, S2.address: 3}
    ok(view, tx(A, 2, T.set_signer_weight(-1, [(S1.address, 0)])))
    a = view.get_account(A.address)
    assert a.master_weight == 5 and a.signers == {S2.address: 3}
    # a signer listed twice: applied in order, the later entry wins (BUMO has no check)
    ok(view, tx(A, 3, T.set_signer_weight(-1, [(S3.address, 1), (S3.address, 4)])))
    assert view.get_account(A.address).signers == {S2.address: 3, S3.address: 4}
    ok(view, tx(A, 4, T.set_signer_weight(UINT32_MAX, [(S3.address, UINT32_MAX)])))
    assert view.get_account(A.address).master_weight == UINT32_MAX


def test_set_threshold(view):
    ok(view, tx(A, 1, T.set_threshold(1, [(7, 2), (4, 3)])))
    a = view.get_account(A.address)
    assert a.tx_threshold == 1 and a.type_thresholds == {7: 2, 4: 3}
    ok(view, tx(A, 2, T.set_threshold(-1, [(7, 0)])))  # master weight 1 < 2 is not needed to set thresholds
    assert view.get_account(A.address).type_thresholds == {4: 3}
    # types run 1-100 (room for future operation types); a repeat: the later one wins
    ok(view, tx(A, 3, T.set_threshold(-1, [(100, 1), (50, 2), (50, 1)])))
    assert view.get_account(A.address).type_thresholds == {4: 3, 100: 1, 50: 1}


def test_set_privilege(view):
    ok(view, tx(A, 1, T.set_privilege("3", "2", [(S1.address, 1)], [(3, 9)])))
    a = view.get_account(A.address)
    assert (a.master_weight, a.tx_threshold, a.signers, a.type_thresholds) == (3, 2, {S1.address: 1}, {3: 9})
    ok(view, tx(A, 2, T.set_privilege()))  # all empty: nothing changes
    b = view.get_account(A.address)
    assert (b.master_weight, b.tx_threshold, b.signers, b.type_thresholds) == (3, 2, {S1.address: 1}, {3: 9})
    # BUMO's SafeStoi64: only the canonical decimal form of an int64
    for bad in ("abc", "-1", "01", "4294967296", "1.5", " 1", "+1", "-0"):
        assert_rejected(view, tx(A, 3, T.set_privilege(master_weight=bad)), E.WEIGHT_NOT_VALID)
    for bad in ("x", "-2", "9223372036854775808", "00"):
        assert_rejected(view, tx(A, 3, T.set_privilege(tx_threshold=bad)), E.THRESHOLD_NOT_VALID)
    ok(view, tx(A, 3, T.set_privilege(tx_threshold="9223372036854775807", master_weight="4294967295")))
    c = view.get_account(A.address)
    assert (c.master_weight, c.tx_threshold) == (UINT32_MAX, INT64_MAX)


# ---------------------------------------------------------------- multisig
@pytest.fixture
def msig(view):
    """A with master 1, signers S1:2, S2:2, tx_threshold 3, PAY_COIN threshold 5."""
    ok(view, tx(A, 1, T.set_privilege("1", "3", [(S1.address, 2), (S2.address, 2)], [(7, 5)])))
    return view


def test_multisig_tx_threshold(msig):
    view = msig
    assert_rejected(view, tx([A], 2, T.set_metadata("k", "v")), E.INVALID_SIGNATURE)
    assert_rejected(view, tx([S1], 2, T.set_metadata("k", "v"), source=A.address), E.INVALID_SIGNATURE)
    ok(view, tx([A, S1], 2, T.set_metadata("k", "v")))
    ok(view, tx([S1, S2], 3, T.set_metadata("k", "w"), source=A.address))
    # duplicate signatures by one key count once
    assert_rejected(view, tx([S1, S1], 4, T.set_metadata("k", "x"), source=A.address), E.INVALID_SIGNATURE)


def test_multisig_type_threshold(msig, paths):
    view = msig
    # weight 3 reaches tx_threshold but not PAY_COIN's 5: nonce and fee are charged, payment reverted
    assert_op_fails(view, tx([A, S1], 2, T.pay_coin(B.address, 1)), E.INVALID_SIGNATURE)
    ok(view, tx([A, S1, S2], 3, T.pay_coin(B.address, 1)))


def test_single_signature_below_the_pay_coin_type_threshold(view, paths):
    """One signature by the master key that reaches tx_threshold but not PAY_COIN's own
    threshold: the shape the inline path settles, on an account it must not settle."""
    ok(view, tx(A, 1, T.set_privilege("3", "1", [], [(7, 5)])))
    before = view.get_account(B.address).balance
    assert_op_fails(view, tx(A, 2, T.pay_coin(B.address, 1)), E.INVALID_SIGNATURE)
    assert view.get_account(B.address).balance == before
    # a type threshold for another operation leaves PAY_COIN to tx_threshold
    ok(view, tx(A, 3, T.set_privilege("", "", [], [(7, 0), (3, 9)])))
    ok(view, tx(A, 4, T.pay_coin(B.address, 1)))
    assert view.get_account(B.address).balance == before + 1


def test_operation_with_other_source(view):
    # A's transaction spends from B: B must sign too
    assert_op_fails(view, tx([A], 1, T.pay_coin(C.address, 10, source=B.address)), E.INVALID_SIGNATURE)
    ok(view, tx([A, B], 2, T.pay_coin(C.address, 10, source=B.address)))
    assert view.get_account(C.address).balance == 10
    assert view.get_account(B.address).nonce == 0  # only the transaction source's nonce moves
    assert_op_fails(view, tx([A, X], 3, T.pay_coin(C.address, 1, source=X.address)), E.ACCOUNT_NOT_EXIST)
    assert_rejected(view, tx([A], 4, T.pay_coin(C.address, 1, source="ZTX3bad")), E.INVALID_ADDRESS)


def test_zero_weight_never_authorizes(view):
    # master weight 0 and threshold 0: nobody can act for the account any more
    ok(view, tx(A, 1, T.set_privilege("0", "0")))
    assert_rejected(view, tx(A, 2, T.pay_coin(B.address, 1)), E.INVALID_SIGNATURE)


# ---------------------------------------------------------------- LOG
def test_log(view):
    r = ok(view, tx(A, 1, T.log("topic", ["a", "b"])))
    assert r.logs == ((A.address, "topic", ("a", "b")),)
    ok(view, tx(A, 2, T.log("t" * 128, ["d" * 1024])))
    r = ok(view, tx(A, 3, T.log("t", [])))  # no data items: allowed, as in BUMO
    assert r.logs == ((A.address, "t", ()),)


# ---------------------------------------------------------------- failure semantics
def test_failed_operation_reverts_earlier_operations(view):
    t = tx(A, 1, T.pay_coin(B.address, 100), T.create_account(X.address, 50), T.issue_asset("Z", 5),
           T.set_metadata("k", "v"), T.set_privilege("7"), T.pay_coin(C.address, 10**12))
    r = assert_op_fails(view, t, E.ACCOUNT_LOW_RESERVE)
    assert r.error_desc.startswith("operation 5:")
    a = view.get_account(A.address)
    assert a.master_weight == 1 and not a.assets and not a.metadata
    assert view.get_account(B.address).balance == 1000 and X.address not in view.accts
    # the index X would have had is free: the next created account takes it
    ok(view, tx(A, 2, T.create_account(S3.address, 1)))
    assert view.get_account(S3.address).index == 4


def test_failed_tx_in_block_keeps_others(view):
    rs = run(view, tx(A, 1, T.pay_coin(B.address, 5)),
             tx(A, 2, T.pay_coin(B.address, 5), T.pay_coin(X.address, 1, source=S1.address)),
             tx(A, 3, T.create_account(X.address, 7), T.pay_coin(X.address, 3)))
    assert [r.error_code for r in rs] == [0, E.ACCOUNT_NOT_EXIST, 0]
    assert view.get_account(B.address).balance == 1005
    assert view.get_account(X.address).balance == 10
    fees = sum(r.actual_fee for r in rs)
    total = sum(a.balance for a in view.accts.values())
    assert total + fees == 10**15 + 10**9 + 1000


def test_view_is_not_mutated(view):
    before = snapshot(view)
    objs = dict(view.accts)
    changes, receipts = apply_block(view, [tx(A, 1, T.pay_coin(B.address, 5), T.issue_asset("Q", 1),
                                              T.set_metadata("m", "x"))], 2, 0)
    assert receipts[0].error_code == 0
    assert snapshot(view) == before and all(view.accts[a] is o for a, o in objs.items())
    assert [a.address for a in changes.accounts] == [A.address, B.address]


def test_apply_block_argument_checks(view):
    with pytest.raises(ValueError, match="ledger_seq"):
        apply_block(view, [], 0, 0)
    with pytest.raises(ValueError, match="close_time"):
        apply_block(view, [], 2, -1)
    # header fields are int64: larger values must be refused before anything executes
    with pytest.raises(ValueError, match="close_time"):
        apply_block(view, [], 2, 2**63)
    with pytest.raises(ValueError, match="ledger_seq"):
        apply_block(view, [], 2**63, 0)


def test_batch_signature_check_marks_each_transaction(monkeypatch):
    from mbi.ledger import verify_signatures
    from mbi.types import SignedTransaction
    good = [tx(K[i], 1, T.pay_coin(B.address, 1)) for i in range(5)]
    fresh = [SignedTransaction.from_envelope(t.envelope) for t in good]
    pk, sd = fresh[2].signatures[0][0], fresh[2].signatures[0][3]
    fresh[2] = SignedTransaction.from_parts(fresh[2].tx_bytes, [(pk, sd[:-1] + bytes([sd[-1] ^ 1]))])
    two = T.make_tx([A, B], 1, [T.pay_coin(C.address, 1)], chain_id=CHAIN)
    two = SignedTransaction.from_parts(two.tx_bytes, [(A.encoded_public_key, A.sign(two.tx_bytes)),
                                                      (B.encoded_public_key, bytes(64))])
    batch = fresh + [two]
    assert all(t.sig_ok is None for t in batch)
    verify_signatures(batch)
    assert [t.sig_ok for t in batch] == [True, True, False, True, True, False]
    assert batch[2].sig_error[0] == E.INVALID_SIGNATURE
    # a kernel failure leaves transactions unverified, never half-marked as good
    again = [SignedTransaction.from_envelope(t.envelope) for t in good]
    import mbi.crypto.sig as sig

    def boom(*a, **k):
        raise RuntimeError("kernel failed")
    monkeypatch.setattr(sig, "verify_batch", boom)
    with pytest.raises(RuntimeError):
        verify_signatures(again)
    assert all(t.sig_ok is None for t in again)


def test_fee_estimate_matches_the_charged_fee(view):
    from mbi.ledger.fees import estimate_fee
    for signers, ops in [([A], [T.pay_coin(B.address, 1)]), ([A, S1], [T.create_account(X.address, 0)]),
                         ([A], [T.issue_asset("T", 5), T.log("t", ["x" * 300])])]:
        t = tx(signers, 1, *ops, source=A.address)
        gas, fee = estimate_fee(len(t.tx_bytes), [o.type for o in t.tx.operations], len(signers), 100)
        assert fee == fee_of(t) and gas == fee // 100


def test_log_data_count_is_bounded_by_the_receipt_encoding(view):
    # The receipt commits a log's item count as u16 (mbi.ledger.header.receipt_preimage):
    # a LOG with more items used to pass execution and then crash receipt hashing in
    # Ledger.close, after the state had already been updated.
    from mbi.ledger.header import receipt_entry
    from mbi.ledger.validity import MAX_LOG_DATAS

    assert MAX_LOG_DATAS == 0xFFFF
    assert_rejected(view, tx(A, 1, T.log("t", ["d"] * (MAX_LOG_DATAS + 1)), fee_limit=10**8), E.INVALID_PARAMETER)
    r = ok(view, tx(A, 1, T.log("t", ["d"] * MAX_LOG_DATAS), fee_limit=10**8))
    assert len(receipt_entry(r.hash, r.error_code, r.actual_fee, r.logs)) == 32
