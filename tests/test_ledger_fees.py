"""Fee boundaries (rows F1-F4) and signature counting (S1, S2) of docs/ledger.md §3.5,
with every figure written out.

The reference transaction: A pays B 1 ZETA, nonce 1, gas_price 100, chain_id 7, a
fee_limit between 16,384 and 2,097,151 (a 3-byte varint). Its bytes, by field:

    Transaction  96 = source (1+1+37) + nonce (1+1) + fee_limit (1+3) + gas_price (1+1)
                      + chain_id (1+1) + operation (1+1+45: type 1+1, pay_coin 1+1+41:
                      dest 1+1+37, amount 1+1)
    envelope    245 = transaction field (1+1+96) + signature field (1+2+144: public key
                      1+1+76, sign_data 1+1+64)

so gas = 245 and the fee is 24,500 ZETA. Each test first checks that premise (protobuf's
serialization, not the ledger, decides it).
"""
from __future__ import annotations

from mbi.ledger import Account, ChainConfig, FeeConfig, apply_block, estimate_fee
from mbi.ledger import errors as E
from mbi.ledger import testing as T
from mbi.types import SignedTransaction

from test_ledger import CHAIN, A, B, S1, DictView, tx


def world(a_balance: int, reserve: int = 0) -> DictView:
    return DictView(ChainConfig(CHAIN, FeeConfig(gas_price=100, base_reserve=reserve)),
                    [Account(A.address, 0, balance=a_balance), Account(B.address, 1, balance=1000)])


def run1(v: DictView, t):
    changes, (r,) = apply_block(v, [t], 2, 0)
    v.commit(changes)
    return r


def bal(v: DictView, k) -> int:
    return v.get_account(k.address).balance


def ref(fee_limit: int, amount: int = 1):
    t = tx(A, 1, T.pay_coin(B.address, amount), fee_limit=fee_limit)
    return t


def test_premise_reference_transaction_is_245_bytes():
    for fl in (16_384, 24_499, 24_500, 30_000, 2_097_151):
        t = ref(fl)
        assert (len(t.tx_bytes), len(t.envelope)) == (96, 245)
    assert estimate_fee(96, [7], 1, 100) == (245, 24_500)


def test_f1_fee_limit_equal_to_the_fee():
    v = world(1_000_000)
    r = run1(v, ref(24_500))
    assert (r.error_code, r.applied, r.actual_fee) == (0, True, 24_500)
    assert bal(v, A) == 1_000_000 - 1 - 24_500 == 975_499
    assert bal(v, B) == 1001 and v.get_account(A.address).nonce == 1


def test_v22_fee_limit_one_below_the_fee():
    v = world(1_000_000)
    r = run1(v, ref(24_499))
    assert (r.error_code, r.applied, r.actual_fee) == (E.FEE_NOT_ENOUGH, False, 0)
    assert bal(v, A) == 1_000_000 and v.get_account(A.address).nonce == 0


def test_f1_unused_fee_limit_is_refunded():
    v = world(1_000_000)
    r = run1(v, ref(30_000))
    assert (r.error_code, r.actual_fee) == (0, 24_500)
    assert bal(v, A) == 975_499  # 30,000 taken, 5,500 back


def test_f2_failed_operation_keeps_the_whole_fee_limit():
    # 1,000,000 - fee_limit 30,000 = 970,000 left while the operation runs
    v = world(1_000_000)
    r = run1(v, ref(30_000, amount=970_001))
    assert (r.error_code, r.applied, r.actual_fee) == (E.ACCOUNT_LOW_RESERVE, True, 30_000)
    assert bal(v, A) == 970_000 and bal(v, B) == 1000
    assert v.get_account(A.address).nonce == 1
    # paying everything left while fee_limit == fee is held succeeds (a 3-byte amount
    # makes this envelope 247 bytes: fee 24,700)
    t = tx(A, 2, T.pay_coin(B.address, 945_300), fee_limit=24_700)
    assert len(t.envelope) == 247
    r = run1(v, t)
    assert (r.error_code, r.actual_fee) == (0, 24_700)
    assert bal(v, A) == 970_000 - 945_300 - 24_700 == 0 and bal(v, B) == 946_300


def test_f4_balance_exactly_fee_limit_plus_reserve():
    # amount 0 is not serialized (proto3 default): 243 bytes, fee 24,300
    t = ref(30_000, amount=0)
    assert len(t.envelope) == 243
    v = world(31_000, reserve=1_000)  # = fee_limit + reserve
    r = run1(v, t)
    assert (r.error_code, r.actual_fee) == (0, 24_300)
    assert bal(v, A) == 31_000 - 24_300 == 6_700
    v = world(30_999, reserve=1_000)  # one short
    r = run1(v, t)
    assert (r.error_code, r.applied, r.actual_fee) == (E.ACCOUNT_LOW_RESERVE, False, 0)
    assert bal(v, A) == 30_999
    # fee_limit == fee and balance == fee_limit + reserve: what is left is the reserve
    t = ref(24_300, amount=0)
    assert len(t.envelope) == 243
    v = world(25_300, reserve=1_000)
    r = run1(v, t)
    assert (r.error_code, r.actual_fee) == (0, 24_300) and bal(v, A) == 1_000


def test_f3_gas_is_the_envelope_bytes_at_the_transactions_gas_price():
    # gas_price 150 needs two varint bytes: 246 bytes x 150
    t = tx(A, 1, T.pay_coin(B.address, 1), fee_limit=40_000, gas_price=150)
    assert len(t.envelope) == 246
    v = world(1_000_000)
    assert run1(v, t).actual_fee == 36_900
    # a second signature adds its 147 bytes (also when it is ignored, S1)
    t = tx([A, S1], 1, T.pay_coin(B.address, 1), fee_limit=40_000, source=A.address)
    assert len(t.envelope) == 245 + 147 == 392
    v = world(1_000_000)
    assert run1(v, t).actual_fee == 39_200
    # no per-operation gas: an account creation costs its bytes only
    t = tx(A, 1, T.create_account(S1.address, 0), fee_limit=60_000)
    v = world(1_000_000)
    assert run1(v, t).actual_fee == len(t.envelope) * 100


def test_s1_invalid_signatures_are_ignored():
    t = ref(60_000)
    good = (A.encoded_public_key, A.sign(t.tx_bytes))
    stale = (S1.encoded_public_key, S1.sign(b"another transaction"))
    junk_key = ("b001" + "00" * 36, A.sign(t.tx_bytes))
    stx = SignedTransaction.from_parts(t.tx_bytes, [stale, good, junk_key])
    v = world(1_000_000)
    r = run1(v, stx)
    assert r.error_code == 0 and stx.valid_signers == frozenset([A.address])
    assert len(stx.envelope) == 245 + 2 * 147 and r.actual_fee == 53_900  # ignored ones still pay their bytes
    # only invalid ones: weight 0, refused before charging
    stx = SignedTransaction.from_parts(t.tx_bytes, [stale, junk_key])
    v = world(1_000_000)
    r = run1(v, stx)
    assert (r.error_code, r.applied, r.actual_fee) == (E.INVALID_SIGNATURE, False, 0)


def test_s2_weights_count_each_signer_once():
    v = world(1_000_000)
    assert run1(v, tx(A, 1, T.set_privilege("1", "2", [(S1.address, 1)]), fee_limit=10**5)).error_code == 0
    t = tx(A, 2, T.pay_coin(B.address, 1), fee_limit=10**5)
    twice = SignedTransaction.from_parts(t.tx_bytes, [(A.encoded_public_key, A.sign(t.tx_bytes))] * 2)
    assert run1(v, twice).error_code == E.INVALID_SIGNATURE  # master 1, counted once < 2
    both = SignedTransaction.from_parts(t.tx_bytes, [(A.encoded_public_key, A.sign(t.tx_bytes)),
                                                     (S1.encoded_public_key, S1.sign(t.tx_bytes))])
    assert run1(v, both).error_code == 0  # 1 + 1 = 2
