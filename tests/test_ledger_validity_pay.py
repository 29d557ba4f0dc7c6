"""`precheck`'s PAY_COIN route (read from the native scan) against its decoded route.

`mbi.ledger.validity.precheck` answers the common PAY_COIN from `SignedTransaction.pay`
without decoding the message when every check passes, and otherwise runs BUMO's checks
in order on the decoded message. Each case here is checked twice: once as the decoder
makes it (scan present) and once as a twin with no scan (the decoded route alone, which
tests/test_ledger_rules.py pins to written-out codes). Both must give the same code or
the same (account, fee), over random transactions and every field pushed past the
limit its check guards.
"""
from __future__ import annotations

import random

import pytest

from mbi.crypto import KeyPair
from mbi.ledger import errors as E
from mbi.ledger import testing as T
from mbi.ledger.account import Account
from mbi.ledger.fees import FeeConfig
from mbi.ledger.validity import Invalid, precheck, validate
from mbi.ledger.execute import verify_signatures
from mbi.types import SignedTransaction, Transaction

CHAIN = 9
SEQ = 50
FEES = FeeConfig(gas_price=100, base_reserve=10**6)
KEYS = [KeyPair.from_seed(bytes([i]) * 32) for i in range(1, 6)]


class View:
    def __init__(self, accounts: list[Account]) -> None:
        self.accounts = {a.address: a for a in accounts}

    def get_account(self, address: str) -> Account | None:
        return self.accounts.get(address)


def verdict(stx: SignedTransaction, view: View, future_nonce: bool) -> object:
    try:
        acct, fee = precheck(stx, view.get_account, CHAIN, FEES, SEQ, future_nonce)
    except Invalid as e:
        return e.code
    return acct.address, fee


def unscanned(stx: SignedTransaction) -> SignedTransaction:
    """The same transaction with no scan: precheck takes the decoded route."""
    t = SignedTransaction(stx.envelope, stx.tx_bytes, Transaction.FromString(stx.tx_bytes), stx.signatures)
    verify_signatures([t])
    return t


def build(rng: random.Random, **over) -> SignedTransaction:
    signer = over.pop("signer", KEYS[0])
    src = over.pop("source", KEYS[0].address)
    dest = over.pop("dest", KEYS[1].address)
    amount = over.pop("amount", rng.randrange(1, 10**6))
    kw = dict(chain_id=CHAIN, source=src, gas_price=rng.choice([100, 150, 10**4]),
              fee_limit=rng.choice([10**5, 10**6, 10**7]), ceil_ledger_seq=rng.choice([0, SEQ, SEQ + 7]))
    nonce = over.pop("nonce", 6)
    kw.update(over)
    stx = T.make_tx(signer, nonce, [T.pay_coin(dest, amount)], **kw)
    verify_signatures([stx])
    return stx


def accounts(rng: random.Random, **over) -> View:
    a = Account(KEYS[0].address, 1, nonce=over.pop("nonce", 5), balance=over.pop("balance", 10**9),
                master_weight=over.pop("master_weight", 1), tx_threshold=over.pop("tx_threshold", 1))
    return View([a, Account(KEYS[1].address, 2, balance=10**7)])


def both(stx: SignedTransaction, view: View, future_nonce: bool) -> object:
    assert stx.pay is not None, "the case must be the scanned shape"
    fast = verdict(stx, view, future_nonce)
    ref = verdict(unscanned(stx), view, future_nonce)
    assert fast == ref, (fast, ref)
    return fast


def test_a_passing_payment_is_not_decoded() -> None:
    stx = build(random.Random(1), gas_price=100, fee_limit=10**6)
    assert stx._tx is None
    size = len(stx.envelope)
    # Zetrix's fee is envelope bytes x gas_price (no per-operation gas: mbi/ledger/fees.py)
    assert both(stx, accounts(random.Random(1)), False) == (KEYS[0].address, size * 100)
    assert validate(stx, accounts(random.Random(1)), SEQ, config=_Cfg()) == (0, "")
    assert stx._tx is None  # the scan answered: no protobuf message was made


class _Cfg:
    chain_id = CHAIN
    fees = FEES


# Each case pushes one field past the limit its check guards, with the code the decoded
# route gives (written out; the fast route must agree, and must not pass it).
CASES = [
    ("unknown source", dict(source=KEYS[3].address, signer=KEYS[3]), {}, E.ACCOUNT_NOT_EXIST),
    ("used nonce", dict(nonce=5), {}, E.BAD_SEQUENCE),
    ("gap nonce", dict(nonce=9), {}, "gap"),
    ("other chain", dict(chain_id=CHAIN + 1), {}, E.INVALID_PARAMETER),
    ("expired", dict(ceil_ledger_seq=SEQ - 1), {}, E.INVALID_PARAMETER),
    ("negative ceil", dict(ceil_ledger_seq=-1), {}, E.INVALID_PARAMETER),
    ("negative fee_limit", dict(fee_limit=-1), {}, E.INVALID_PARAMETER),
    ("cheap", dict(gas_price=99), {}, E.INVALID_PARAMETER),
    ("negative amount", dict(amount=-1), {}, E.INVALID_PARAMETER),
    ("to itself", dict(dest=KEYS[0].address), {}, E.ACCOUNT_SOURCEDEST_EQUAL),
    ("bad dest", dict(dest="ZTX3notanaddress"), {}, E.INVALID_ADDRESS),
    ("other signer", dict(signer=KEYS[2]), {}, E.INVALID_SIGNATURE),
    ("threshold", {}, dict(tx_threshold=2), E.INVALID_SIGNATURE),
    ("no weight", {}, dict(master_weight=0), E.INVALID_SIGNATURE),
    ("low reserve", dict(fee_limit=10**7), dict(balance=10**7 + 10**6 - 1), E.ACCOUNT_LOW_RESERVE),
    ("fee above limit", dict(fee_limit=1000, gas_price=100), {}, E.FEE_NOT_ENOUGH),
]


@pytest.mark.parametrize("name,tx_over,acct_over,code", CASES, ids=[c[0] for c in CASES])
def test_each_failing_check_gives_the_decoded_routes_code(name, tx_over, acct_over, code) -> None:
    rng = random.Random(name)
    stx = build(rng, **tx_over)
    view = accounts(rng, **acct_over)
    got = both(stx, view, False)
    if code == "gap":  # a future nonce: refused at execution, queued at admission
        assert got == E.BAD_SEQUENCE
        assert both(build(random.Random(name), **tx_over), view, True)[0] == KEYS[0].address
    else:
        assert got == code
        assert both(build(random.Random(name), **tx_over), view, True) == code


def test_a_bad_signature_is_not_passed() -> None:
    stx = build(random.Random(3))
    sig = stx.signatures[0]
    bad = SignedTransaction.from_parts(stx.tx_bytes, [(sig[0], bytes(64))])
    verify_signatures([bad])
    assert bad.sig_ok is False
    assert both(bad, accounts(random.Random(3)), False) == E.INVALID_SIGNATURE


def test_random_payments_agree_with_the_decoded_route() -> None:
    rng = random.Random(7)
    seen: set[object] = set()
    for _ in range(400):
        tx_over = dict(nonce=rng.choice([4, 5, 6, 6, 6, 7, 40]), gas_price=rng.choice([1, 99, 100, 101, 5000]),
                       fee_limit=rng.choice([-5, 0, 1000, 10**5, 10**6, 10**8, 2**62]),
                       ceil_ledger_seq=rng.choice([-3, 0, 0, SEQ - 1, SEQ, SEQ + 1]),
                       amount=rng.choice([-1, 0, 1, 10**6, 10**9]),
                       chain_id=rng.choice([CHAIN, CHAIN, CHAIN, 1]),
                       signer=rng.choice([KEYS[0], KEYS[0], KEYS[0], KEYS[2]]),
                       dest=rng.choice([KEYS[1].address, KEYS[4].address, KEYS[0].address]))
        acct_over = dict(balance=rng.choice([0, 10**6, 10**6 + 10**5, 10**9, 2**62]),
                         tx_threshold=rng.choice([0, 1, 1, 2]), master_weight=rng.choice([0, 1, 1, 3]))
        stx = build(rng, **tx_over)
        view = accounts(rng, **acct_over)
        seen.add(both(stx, view, rng.random() < 0.5))
    # The draw reaches passes and several distinct refusals (not only one outcome).
    codes = {s for s in seen if isinstance(s, int)}
    assert len(codes) >= 5 and any(isinstance(s, tuple) for s in seen)
