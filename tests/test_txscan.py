"""core_ext.txscan.scan_pay against protobuf's own decoder.

The scanner may refuse anything (the ledger then reads the decoded message), but when it
accepts bytes, protobuf must accept them too and give the same fields. Checked on
transactions built by the SDK, on hand-written wire forms (repeated, unknown and
reordered fields, long varints, non-ASCII strings, truncations) and on random mutations.
"""
from __future__ import annotations

import random

import pytest
from google.protobuf.message import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st

from core_ext.txscan import scan_pay
from mbi.ledger import testing as T
from mbi.ledger.execute import _scan_decoded
from mbi.types import Transaction

SRC = "ZTX3Ta7d4GyAXD41H2kFCTd2eXhDesM83rvC3"
DEST = "ZTX3QKMa2xPfXWYmGxdjKDYxJ5ak9Q9UN5ziw"


def pay(**kw) -> bytes:
    op = T.pay_coin(kw.pop("dest", DEST), kw.pop("amount", 5), source=kw.pop("op_source", None),
                    input=kw.pop("input", ""))
    f = dict(source_address=SRC, nonce=1, fee_limit=10**8, gas_price=100, chain_id=5)
    f.update(kw)
    return Transaction(operations=[op], **f).SerializeToString()


def decoded(b: bytes):
    try:
        return _scan_decoded(Transaction.FromString(b))
    except DecodeError:
        return "refused by protobuf"


def check(b: bytes) -> object:
    got = scan_pay(b)
    if got is not None:
        assert got == decoded(b), b.hex()
    return got


def varint(v: int) -> bytes:
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        c = v & 0x7F
        v >>= 7
        if v:
            out.append(c | 0x80)
        else:
            out.append(c)
            return bytes(out)


def fld(num: int, wt: int, body: bytes | int) -> bytes:
    if wt == 0:
        return varint(num << 3) + varint(body)  # type: ignore[arg-type]
    return varint(num << 3 | 2) + varint(len(body)) + body  # type: ignore[arg-type]


def op_bytes(dest: bytes = DEST.encode(), amount: int = 5, extra: bytes = b"", pay_extra: bytes = b"") -> bytes:
    return fld(1, 0, 7) + fld(12, 2, fld(1, 2, dest) + fld(2, 0, amount) + pay_extra) + extra


def tx_bytes(op: bytes | None = None, extra: bytes = b"", src: bytes = SRC.encode()) -> bytes:
    return (fld(1, 2, src) + fld(2, 0, 1) + fld(4, 2, op_bytes() if op is None else op) + fld(6, 0, 10**8)
            + fld(7, 0, 100) + fld(9, 0, 5) + extra)


def test_sdk_payments_are_accepted_with_protobufs_values():
    cases = [pay(), pay(nonce=2**63 - 1, fee_limit=-1, gas_price=0, chain_id=-5, amount=-(2**63)),
             pay(ceil_ledger_seq=9, amount=0), pay(dest="", amount=0), pay(source_address="")]
    for b in cases:
        got = check(b)
        assert got is not None and got == decoded(b)
    assert scan_pay(pay()) == (SRC, 1, 10**8, 100, 0, 5, DEST, 5)


def test_hand_written_common_forms_are_accepted():
    assert check(tx_bytes()) == (SRC, 1, 10**8, 100, 0, 5, DEST, 5)
    # any field order, empty optional strings present, a non-minimal varint
    reordered = fld(9, 0, 5) + fld(4, 2, fld(12, 2, fld(2, 0, 5) + fld(1, 2, DEST.encode())) + fld(1, 0, 7)) \
        + fld(6, 0, 10**8) + fld(1, 2, SRC.encode()) + fld(7, 0, 100) + fld(2, 0, 1) + fld(3, 2, b"") + fld(5, 2, b"")
    assert check(reordered) == (SRC, 1, 10**8, 100, 0, 5, DEST, 5)
    padded = fld(1, 2, SRC.encode()) + b"\x10\x81\x80\x00" + fld(4, 2, op_bytes())
    assert check(padded) == (SRC, 1, 0, 0, 0, 0, DEST, 5)
    empty_op_strings = op_bytes(extra=fld(2, 2, b"") + fld(3, 2, b"") + fld(4, 2, b""), pay_extra=fld(3, 2, b""))
    assert check(tx_bytes(empty_op_strings)) == (SRC, 1, 10**8, 100, 0, 5, DEST, 5)


REFUSED = [
    ('nonce twice: protobuf keeps the last', tx_bytes(extra=fld(2, 0, 9))),
    ('two operations', tx_bytes(extra=fld(4, 2, op_bytes()))),
    ('metadata', tx_bytes(extra=fld(5, 2, b"m"))),
    ('expr_condition', tx_bytes(extra=fld(3, 2, b"x"))),
    ('unknown field', tx_bytes(extra=fld(10, 0, 1))),
    ('known number, wrong wire type', tx_bytes(extra=fld(2, 2, b"\x01"))),
    ('operation source', tx_bytes(op_bytes(extra=fld(2, 2, SRC.encode())))),
    ('operation metadata', tx_bytes(op_bytes(extra=fld(3, 2, b"m")))),
    ('a second operation body', tx_bytes(op_bytes(extra=fld(5, 2, b"")))),
    ('pay_coin twice: protobuf merges', tx_bytes(op_bytes(extra=fld(12, 2, fld(2, 0, 1))))),
    ('contract input', tx_bytes(op_bytes(pay_extra=fld(3, 2, b"{}")))),
    ('amount twice', tx_bytes(op_bytes(pay_extra=fld(2, 0, 6)))),
    ('not PAY_COIN', tx_bytes(fld(1, 0, 3) + fld(12, 2, fld(1, 2, DEST.encode())))),
    ('type 7 only after int32 truncation', tx_bytes(fld(1, 0, 7 + (1 << 32)) + fld(12, 2, b""))),
    ('no type (0)', tx_bytes(fld(12, 2, fld(1, 2, DEST.encode())))),
    ('no pay_coin', tx_bytes(fld(1, 0, 7))),
    ('not ASCII', tx_bytes(src="ZTX3é".encode())),
    ('not even UTF-8', tx_bytes(op_bytes(dest=b"\xff"))),
    ('varint past 64 bits', fld(1, 2, SRC.encode()) + b"\x10" + b"\xff" * 9 + b"\x02"),
    ('11-byte varint', fld(1, 2, SRC.encode()) + b"\x10" + b"\xff" * 10 + b"\x01"),
    ('truncated', tx_bytes()[:-1]),
    ('no operation', fld(1, 2, SRC.encode())),
    ("empty", b""),
]


@pytest.mark.parametrize("b", [b for _, b in REFUSED], ids=[n for n, _ in REFUSED])
def test_other_forms_are_refused(b):
    assert scan_pay(b) is None


def test_random_mutations_never_disagree_with_protobuf():
    rng = random.Random(13)
    base = [pay(), tx_bytes(), pay(ceil_ledger_seq=3, amount=2**40), pay(input="{}"), pay(op_source=DEST)]
    accepted = 0
    for _ in range(20_000):
        b = bytearray(rng.choice(base))
        for _ in range(rng.randint(1, 3)):
            k = rng.randrange(len(b) + 1)
            m = rng.random()
            if m < 0.4 and len(b):
                b[min(k, len(b) - 1)] = rng.randrange(256)
            elif m < 0.7:
                b[k:k] = bytes([rng.randrange(256)])
            elif len(b):
                del b[min(k, len(b) - 1)]
        accepted += check(bytes(b)) is not None
    assert accepted > 500  # the mutations kept many acceptable forms (values checked above)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes(b):
    check(b)


@settings(max_examples=300, deadline=None)
@given(nonce=st.integers(-(2**63), 2**63 - 1), fee=st.integers(-(2**63), 2**63 - 1),
       amount=st.integers(-(2**63), 2**63 - 1), ceil=st.integers(-(2**63), 2**63 - 1),
       src=st.text(max_size=40), dest=st.text(max_size=40))
def test_random_field_values(nonce, fee, amount, ceil, src, dest):
    b = pay(nonce=nonce, fee_limit=fee, amount=amount, ceil_ledger_seq=ceil, source_address=src, dest=dest)
    got = check(b)
    assert (got is not None) == (src.isascii() and dest.isascii())


def test_argument_type():
    with pytest.raises(TypeError):
        scan_pay(bytearray(pay()))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        scan_pay(None)  # type: ignore[arg-type]
