"""Every row of docs/ledger.md's rule table (§3.5), one test each.

A row is (id, where, code): "drop" rows fail ``validate`` (nothing charged, nonce
unused, not stored), "charge" rows fail while executing (nonce used, the whole
fee_limit kept, every operation effect reverted). ``test_every_documented_row_is_tested``
reads the table out of the docs, so a row added there without a test here fails.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from mbi.ledger import Account, ChainConfig, FeeConfig, apply_block, validate
from mbi.ledger import testing as T
from mbi.ledger.fees import INT64_MAX, UINT32_MAX
from mbi.types import Operation, SignedTransaction, Transaction

from test_ledger import CHAIN, A, B, C, DictView, X, snapshot, tx

FEE_LIMIT = 10**7
BAD = "ZTX3notanaddress"


def world(reserve: int = 0, a_balance: int = 10**9) -> DictView:
    return DictView(ChainConfig(CHAIN, FeeConfig(gas_price=100, base_reserve=reserve)),
                    [Account(A.address, 0, balance=a_balance), Account(B.address, 1, balance=1000),
                     Account(C.address, 2, balance=0)])


def resign(t: SignedTransaction, edit) -> SignedTransaction:
    m = Transaction.FromString(t.tx_bytes)
    edit(m)
    blob = m.SerializeToString()
    return SignedTransaction.from_parts(blob, [(A.encoded_public_key, A.sign(blob))])


def pay(**kw):
    return tx(A, 1, T.pay_coin(B.address, 1), **kw)


def one(op, **kw):
    return tx(A, 1, op, **kw)


def with_op(op_fn, **fields):
    op = op_fn()
    for k, v in fields.items():
        setattr(op, k, v)
    return one(op)


def sized(target: int) -> SignedTransaction:
    """A PAY_COIN whose envelope is exactly ``target`` bytes (padded with tx metadata)."""
    pad = target - 1000
    for _ in range(8):
        t = pay(metadata=b"m" * pad, fee_limit=10**9)
        if len(t.envelope) == target:
            return t
        pad += target - len(t.envelope)
    raise AssertionError("could not hit the size")


def setup_asset(v):
    ch, (r,) = apply_block(v, [tx(A, 1, T.issue_asset("TOK", 10))], 2, 0)
    assert r.error_code == 0
    v.commit(ch)


# (row id, kind, code, build(view) -> transaction). Nonce 1 unless a setup used it.
ROWS = [
    # ---- the transaction (TransactionFrm::CheckValid / ValidForParameter / CheckFee)
    ("V1", "drop", 103, lambda v: tx(X, 1, T.pay_coin(B.address, 1))),
    ("V1b", "drop", 103, lambda v: pay(source=BAD)),
    ("V2", "drop", 99, lambda v: None),  # built in _build: the account has used nonce 1
    ("V3", "drop", 2, lambda v: pay(chain_id=CHAIN + 1)),
    ("V4", "drop", 146, lambda v: sized(1 << 20)),
    ("V5", "drop", 97, lambda v: tx(A, 1)),
    ("V6", "drop", 98, lambda v: tx(A, 1, *[T.pay_coin(B.address, 1)] * 101)),
    ("V7", "drop", 2, lambda v: pay(metadata=b"m" * (256 * 1024 + 1), fee_limit=10**8)),
    ("V8", "drop", 2, lambda v: pay(ceil_ledger_seq=1)),
    ("V9", "drop", 2, lambda v: pay(ceil_ledger_seq=-1)),
    ("V10", "drop", 2, lambda v: pay(fee_limit=-1)),
    ("V11", "drop", 2, lambda v: pay(gas_price=99)),
    ("V13", "drop", 2, lambda v: resign(pay(), lambda m: setattr(m, "expr_condition", "1"))),
    ("V14", "drop", 94, lambda v: one(T.pay_coin(B.address, 1, source=BAD))),
    ("V15", "drop", 2, lambda v: with_op(lambda: T.pay_coin(B.address, 1), metadata=b"m" * (256 * 1024 + 1))),
    ("V16", "drop", 2, lambda v: with_op(lambda: T.pay_coin(B.address, 1), expr_condition="x")),
    ("V17", "drop", 2, lambda v: one(Operation(type=0))),
    ("V17b", "drop", 2, lambda v: one(Operation(type=11))),
    ("V18", "drop", 99, lambda v: tx(A, 2, T.pay_coin(B.address, 1))),
    ("V19", "drop", 93, lambda v: tx([B], 1, T.pay_coin(C.address, 1), source=A.address)),
    ("V20", "drop", 100, lambda v: tx(B, 1, T.pay_coin(A.address, 0), fee_limit=1001)),
    ("V21", "drop", 2, lambda v: tx(G_RICH, 1, T.pay_coin(B.address, 1), gas_price=2**60, fee_limit=2**62)),
    ("V22", "drop", 111, lambda v: pay(fee_limit=100)),
    # ---- operation parameters (OperationFrm::CheckValid)
    ("C1", "drop", 151, lambda v: one(T.create_account(X.address, 0, contract="function main(){}"))),
    ("C1b", "drop", 151, lambda v: one(T.create_account(X.address, 0, init_input="{}"))),
    ("C2", "drop", 94, lambda v: one(T.create_account(BAD, 0))),
    ("C3", "drop", 2, lambda v: one(T.create_account(X.address, 0, priv=False))),
    ("C4", "drop", 120, lambda v: one(T.create_account(X.address, 0, master_weight=UINT32_MAX + 1))),
    ("C5", "drop", 2, lambda v: one(T.create_account(X.address, 0, signers=[(B.address, 1)] * 101))),
    ("C6", "drop", 120, lambda v: one(T.create_account(X.address, 0, signers=[(B.address, -1)]))),
    ("C7", "drop", 94, lambda v: one(T.create_account(X.address, 0, signers=[(X.address, 1)]))),
    ("C8", "drop", 94, lambda v: one(T.create_account(X.address, 0, signers=[(BAD, 1)]))),
    ("C9", "drop", 2, lambda v: one(T.create_account(X.address, 0, signers=[(B.address, 1), (B.address, 2)]))),
    ("C10", "drop", 2, lambda v: one(_no_thresholds())),
    ("C11", "drop", 121, lambda v: one(T.create_account(X.address, 0, tx_threshold=-1))),
    ("C12", "drop", 2, lambda v: one(T.create_account(X.address, 0, type_thresholds=[(101, 1)]))),
    ("C13", "drop", 121, lambda v: one(T.create_account(X.address, 0, type_thresholds=[(7, -1)]))),
    ("C14", "drop", 2, lambda v: one(T.create_account(X.address, 0, type_thresholds=[(7, 1), (7, 2)]))),
    ("C15", "drop", 2, lambda v: one(T.create_account(X.address, 0, metadatas=[("", "v")]))),
    ("C16", "drop", 2, lambda v: one(T.create_account(X.address, 0, metadatas=[("k", "v" * (256 * 1024 + 1))]),
                                     fee_limit=10**8)),
    ("I1", "drop", 92, lambda v: one(T.issue_asset("TOK", 0))),
    ("I2", "drop", 92, lambda v: one(T.issue_asset("T" * 65, 1))),
    ("I2b", "drop", 92, lambda v: one(T.issue_asset(" TOK", 1))),
    ("I2c", "drop", 92, lambda v: one(T.issue_asset("TOK\t", 1))),
    ("PA1", "drop", 92, lambda v: one(T.pay_asset(B.address, A.address, "TOK", 1, asset_type=1))),
    ("PA2", "drop", 92, lambda v: one(T.pay_asset(B.address, A.address, "TOK", 0))),
    ("PA2b", "drop", 92, lambda v: one(T.pay_asset(B.address, A.address, "TOK", -5))),
    ("PA3", "drop", 92, lambda v: one(T.pay_asset(B.address, A.address, "", 1))),
    ("PA4", "drop", 92, lambda v: one(T.pay_asset(B.address, BAD, "TOK", 1))),
    ("PA5", "drop", 101, lambda v: one(T.pay_asset(A.address, A.address, "TOK", 1))),
    ("PA6", "drop", 94, lambda v: one(T.pay_asset(BAD, A.address, "TOK", 1))),
    ("PA7", "drop", 151, lambda v: one(T.pay_asset(B.address, A.address, "TOK", 1, input="x"))),
    ("M1", "drop", 2, lambda v: one(T.set_metadata("", "v"))),
    ("M1b", "drop", 2, lambda v: one(T.set_metadata("k" * 1025, "v"))),
    ("M2", "drop", 2, lambda v: one(T.set_metadata("k", "v" * (256 * 1024 + 1)), fee_limit=10**8)),
    ("SW1", "drop", 120, lambda v: one(T.set_signer_weight(-2))),
    ("SW2", "drop", 120, lambda v: one(T.set_signer_weight(signers=[(B.address, UINT32_MAX + 1)]))),
    ("SW3", "drop", 94, lambda v: one(T.set_signer_weight(signers=[(A.address, 1)]))),
    ("SW4", "drop", 94, lambda v: one(T.set_signer_weight(signers=[(BAD, 1)]))),
    ("ST1", "drop", 121, lambda v: one(T.set_threshold(-2))),
    ("ST2", "drop", 121, lambda v: one(T.set_threshold(type_thresholds=[(0, 1)]))),
    ("ST2b", "drop", 121, lambda v: one(T.set_threshold(type_thresholds=[(101, 1)]))),
    ("ST3", "drop", 121, lambda v: one(T.set_threshold(type_thresholds=[(7, -1)]))),
    ("P1", "drop", 2, lambda v: one(T.pay_coin(B.address, -1))),
    ("P2", "drop", 101, lambda v: one(T.pay_coin(A.address, 1))),
    ("P3", "drop", 94, lambda v: one(T.pay_coin(BAD, 1))),
    ("P4", "drop", 151, lambda v: one(T.pay_coin(B.address, 1, input="{}"))),
    ("L1", "drop", 2, lambda v: one(T.log("", ["a"]))),
    ("L1b", "drop", 2, lambda v: one(T.log("t" * 129, ["a"]))),
    ("L2", "drop", 2, lambda v: one(T.log("t", ["a", ""]))),
    ("L2b", "drop", 2, lambda v: one(T.log("t", ["d" * 1025]))),
    ("L3", "drop", 2, lambda v: one(T.log("t", ["d"] * 0x10000), fee_limit=10**8)),
    ("SP1", "drop", 120, lambda v: one(T.set_privilege(master_weight="01"))),
    ("SP1b", "drop", 120, lambda v: one(T.set_privilege(master_weight=str(UINT32_MAX + 1)))),
    ("SP2", "drop", 120, lambda v: one(T.set_privilege(signers=[(B.address, -1)]))),
    ("SP3", "drop", 94, lambda v: one(T.set_privilege(signers=[(A.address, 1)]))),
    ("SP4", "drop", 94, lambda v: one(T.set_privilege(signers=[(BAD, 1)]))),
    ("SP5", "drop", 2, lambda v: one(T.set_privilege(signers=[(B.address, 1), (B.address, 1)]))),
    ("SP6", "drop", 121, lambda v: one(T.set_privilege(tx_threshold="-1"))),
    ("SP6b", "drop", 121, lambda v: one(T.set_privilege(tx_threshold="1x"))),
    ("SP7", "drop", 2, lambda v: one(T.set_privilege(type_thresholds=[(101, 1)]))),
    ("SP8", "drop", 121, lambda v: one(T.set_privilege(type_thresholds=[(7, -1)]))),
    ("SP9", "drop", 2, lambda v: one(T.set_privilege(type_thresholds=[(7, 1), (7, 2)]))),
    ("U1", "drop", 151, lambda v: one(T.upgrade_contract(B.address, "x"))),
    # ---- execution (OperationFrm::CheckSignature / Apply)
    ("X1", "charge", 103, lambda v: tx([A, X], 1, T.pay_coin(C.address, 1, source=X.address))),
    ("X2", "charge", 93, lambda v: tx([A], 1, T.pay_coin(C.address, 1, source=B.address))),
    ("XP1", "charge", 7, "reserve1", lambda v: tx(A, 1, T.pay_coin(X.address, INT64_MAX))),
    ("XP2", "charge", 100, lambda v: one(T.pay_coin(B.address, 10**9 - FEE_LIMIT + 1))),
    ("XP3", "charge", 106, "reserve50", lambda v: one(T.pay_coin(X.address, 49))),
    ("XP4", "charge", 7, "rich_dest", lambda v: one(T.pay_coin(B.address, 1))),
    ("XC1", "charge", 102, lambda v: one(T.create_account(B.address, 0))),
    ("XC1b", "charge", 102, lambda v: one(T.create_account(A.address, 0))),
    ("XC2", "charge", 106, "reserve50", lambda v: one(T.create_account(X.address, 49))),
    ("XC2b", "charge", 106, lambda v: one(T.create_account(X.address, -1))),
    ("XC3", "charge", 100, lambda v: one(T.create_account(X.address, 10**9 - FEE_LIMIT + 1))),
    ("XC4", "charge", 144, lambda v: one(_create_with_meta_version(2))),
    ("XI1", "charge", 7, lambda v: tx(A, 1, T.issue_asset("TOK", INT64_MAX), T.issue_asset("TOK", 1))),
    ("XA1", "charge", 103, lambda v: one(T.pay_asset(X.address, A.address, "TOK", 1))),
    ("XA2", "charge", 104, lambda v: one(T.pay_asset(B.address, A.address, "TOK", 1))),
    ("XA3", "charge", 104, "asset", lambda v: tx(A, 2, T.pay_asset(B.address, A.address, "TOK", 11))),
    ("XA4", "charge", 7, "asset", lambda v: tx(A, 2, T.issue_asset("TOK", INT64_MAX - 10),
                                              T.pay_asset(B.address, A.address, "TOK", INT64_MAX),
                                              T.issue_asset("TOK", 1),
                                              T.pay_asset(B.address, A.address, "TOK", 1))),
    ("XM1", "charge", 4, lambda v: one(T.set_metadata("k", delete=True))),
    ("XM2", "charge", 144, "meta", lambda v: tx(A, 2, T.set_metadata("k", delete=True, version=2))),
    ("XM3", "charge", 144, "meta", lambda v: tx(A, 2, T.set_metadata("k", "v2", version=1))),
    ("XM4", "charge", 144, lambda v: one(T.set_metadata("k", "v", version=2))),
    ("XS1", "charge", 2, lambda v: one(T.set_signer_weight(signers=[(k.address, 1) for k in KEYS101]))),
]


def _no_thresholds():
    op = T.create_account(X.address, 0)
    op.create_account.priv.ClearField("thresholds")
    return op


def _create_with_meta_version(version: int):
    op = T.create_account(X.address, 0, metadatas=[("k", "v")])
    op.create_account.metadatas[0].version = version
    return op


from mbi.crypto import KeyPair  # noqa: E402

G_RICH = KeyPair.from_seed(b"\x51" * 32)
KEYS101 = [KeyPair.from_seed(bytes([0x60, i]) * 16) for i in range(101)]


def _view_for(setup: str | None) -> DictView:
    if setup == "reserve1":
        return world(reserve=1)
    if setup == "reserve50":
        return world(reserve=50)
    v = world()
    if setup == "rich_dest":
        v.accts[B.address] = Account(B.address, 1, balance=INT64_MAX)
    if setup == "asset":
        setup_asset(v)
    if setup == "meta":
        ch, (r,) = apply_block(v, [tx(A, 1, T.set_metadata("k", "v1"))], 2, 0)
        assert r.error_code == 0
        v.commit(ch)
    v.accts[G_RICH.address] = Account(G_RICH.address, v.n, balance=INT64_MAX)
    v.n += 1
    return v


def _norm(row):
    if len(row) == 4:
        rid, kind, code, build = row
        return rid, kind, code, None, build
    rid, kind, code, setup, build = row
    return rid, kind, code, setup, build


@pytest.fixture(params=[(True, True, True), (True, True, False), (True, False, True), (False, True, True)],
                ids=["native-loop", "fast-path", "fast-path-decoded", "generic"])
def paths(request, monkeypatch):
    # the inline path: its loop native (core_ext.execpay) or Python, reading fields
    # natively (core_ext.txscan) or from the decoded message; or the generic handlers
    from mbi.ledger import execute
    assert execute._native_run is not None, "core_ext.execpay did not bind"
    monkeypatch.setattr(execute, "FAST_PATHS", request.param[0])
    monkeypatch.setattr(execute, "NATIVE_SCAN", request.param[1])
    monkeypatch.setattr(execute, "NATIVE_RUN", request.param[2])
    return request.param


# tx() has no nonce override: V2's "used nonce" needs the account to have used one.
def _build(rid, build, v):
    if rid == "V2":
        ch, (r,) = apply_block(v, [tx(A, 1, T.pay_coin(B.address, 1))], 2, 0)
        assert r.error_code == 0
        v.commit(ch)
        return tx(A, 1, T.pay_coin(B.address, 1))
    return build(v)


@pytest.mark.parametrize("row", [_norm(r) for r in ROWS], ids=[r[0] for r in ROWS])
def test_rule(row, paths):
    rid, kind, code, setup, build = row
    v = _view_for(setup)
    t = _build(rid, build, v)
    before = snapshot(v)
    src = t.tx.source_address
    acct = v.get_account(src)
    # validate (what admission runs) agrees with execution on every "drop" row
    vcode, vdesc = validate(t, v, 2)
    changes, (r,) = apply_block(v, [t], 2, 0)
    assert r.error_code == code, (rid, r.error_desc)
    if kind == "drop":
        assert (vcode, vdesc) == (code, r.error_desc)
        assert not r.applied and r.actual_fee == 0
        v.commit(changes)
        assert snapshot(v) == before
        return
    assert vcode == 0, vdesc
    assert r.applied and r.actual_fee == t.tx.fee_limit  # the whole fee_limit is kept
    n = v.n
    v.commit(changes)
    after = v.get_account(src)
    assert (after.nonce, after.balance) == (acct.nonce + 1, acct.balance - t.tx.fee_limit)
    assert after.assets == acct.assets and after.metadata == acct.metadata
    assert after.signers == acct.signers and after.type_thresholds == acct.type_thresholds
    assert {a: s for a, s in snapshot(v).items() if a != src} == {a: s for a, s in before.items() if a != src}
    assert v.n == n


def test_v12_more_than_100_signatures_is_refused_at_decoding():
    from mbi.types import EnvelopeError
    t = pay()
    sig = (A.encoded_public_key, A.sign(t.tx_bytes))
    with pytest.raises(EnvelopeError) as ei:
        SignedTransaction.from_parts(t.tx_bytes, [sig] * 101)
    assert ei.value.code == 2


def _doc_rows() -> set[str]:
    text = (Path(__file__).resolve().parents[1] / "docs" / "ledger.md").read_text()
    section = text.split("### 3.5 Rule table", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| (\w+) \|", section, re.M)) - {"id"}


def test_every_documented_row_is_tested():
    tested = {re.sub(r"[bc]$", "", r[0]) for r in ROWS} | {"V12"}
    tested |= {"F1", "F2", "F3", "F4", "S1", "S2"}  # fee and signature rows: test_ledger_fees.py
    rows = _doc_rows()
    assert len(rows) > 50, "rule table not found in docs/ledger.md"
    assert rows == tested, (f"documented without a test: {sorted(rows - tested)}; "
                            f"tested but not documented: {sorted(tested - rows)}")


def test_validate_api_for_admission():
    """validate(stx, view, ledger_seq, *, config, future_nonce) against the real
    LedgerState, as the node's ingress calls it."""
    from mbi.ledger import Genesis, Ledger
    from mbi.ledger.validity import ValidationView

    gen = Genesis.from_dict(T.genesis_dict(A, [B], chain_id=CHAIN, supply=10**12))
    ledger, _ = Ledger.create(gen)
    st = ledger.state
    assert isinstance(st, ValidationView)
    seq = ledger.seq + 1
    t = tx(A, 1, T.pay_coin(B.address, 5))
    assert t.sig_ok is None
    assert validate(t, st, seq) == (0, "")
    assert t.sig_ok is True and t.valid_signers == frozenset([A.address])  # recorded on the transaction
    assert st.get_account(A.address).nonce == 0 and st.get_account(B.address) is None  # nothing changed
    # a queued future nonce: accepted at admission only when asked for
    later = tx(A, 3, T.pay_coin(B.address, 5))
    assert validate(later, st, seq)[0] == 99
    assert validate(later, st, seq, future_nonce=True) == (0, "")
    # a view without .config: the network parameters come as config
    class Bare:
        def get_account(self, address):
            return st.get_account(address)
    assert validate(t, Bare(), seq, config=ledger.config) == (0, "")
    strict = ChainConfig(CHAIN, FeeConfig(gas_price=101))
    assert validate(t, Bare(), seq, config=strict)[0] == 2
    # expiry is judged against the ledger it would execute in
    soon = tx(A, 1, T.pay_coin(B.address, 5), ceil_ledger_seq=seq)
    assert validate(soon, st, seq) == (0, "") and validate(soon, st, seq + 1)[0] == 2
    # and execution agrees with admission
    closed = ledger.close([t], 1_000)
    assert closed.receipts[0].error_code == 0
    assert validate(t, ledger.state, ledger.seq + 1)[0] == 99  # now a replay
