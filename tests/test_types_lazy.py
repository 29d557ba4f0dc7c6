"""SignedTransaction decodes the common PAY_COIN's message only when it is read.

The decoder's fast path runs core_ext.txscan.scan_pay first; when the scan takes the
bytes, `pay` holds its fields and `tx` is decoded on first read. Expected values come
from protobuf's own decoder of the same bytes.
"""
from __future__ import annotations

import random

import pytest

from mbi.crypto import KeyPair
from mbi.ledger import testing as T
from mbi.types import SignedTransaction, Transaction
from mbi.types.envelope import EnvelopeError, _len_field

KEYS = [KeyPair.from_seed(bytes([i]) * 32) for i in range(1, 4)]


def pay_blob(rng: random.Random, **extra) -> bytes:
    k = KEYS[rng.randrange(3)]
    return Transaction(source_address=k.address, nonce=rng.randrange(1, 10**6), fee_limit=10**8,
                       gas_price=rng.randrange(100, 10**4), chain_id=5, ceil_ledger_seq=rng.randrange(0, 99),
                       operations=[T.pay_coin(KEYS[0].address, rng.randrange(1, 10**9))],
                       **extra).SerializeToString()


def envelope(blob: bytes, k: KeyPair = KEYS[1]) -> bytes:
    return SignedTransaction.from_parts(blob, [(k.encoded_public_key, k.sign(blob))]).envelope


def test_common_pay_coin_is_scanned_and_decoded_on_first_read() -> None:
    rng = random.Random(1)
    for _ in range(50):
        blob = pay_blob(rng)
        ref = Transaction.FromString(blob)
        t = SignedTransaction.from_envelope(envelope(blob))
        assert t.pay is not None and t._tx is None  # nothing decoded yet
        assert (t.source_address, t.nonce, t.gas_price) == (ref.source_address, ref.nonce, ref.gas_price)
        assert t.pay == (ref.source_address, ref.nonce, ref.fee_limit, ref.gas_price, ref.ceil_ledger_seq,
                         ref.chain_id, ref.operations[0].pay_coin.dest_address, ref.operations[0].pay_coin.amount)
        assert t._tx is None  # the fields above came from the scan
        assert t.tx == ref and t._tx is not None
        assert t.tx is t.tx  # decoded once


def test_batched_decode_scans_too() -> None:
    rng = random.Random(2)
    blobs = [pay_blob(rng) for _ in range(10)]
    got = SignedTransaction.from_envelopes([envelope(b) for b in blobs])
    for b, t in zip(blobs, got):
        assert isinstance(t, SignedTransaction) and t.pay is not None
        assert t.tx == Transaction.FromString(b) and t.tx_bytes == b


@pytest.mark.parametrize("extra", [{"metadata": b"memo"}, {"expr_condition": "1"}])
def test_other_transactions_are_decoded_at_once(extra: dict) -> None:
    blob = pay_blob(random.Random(3), **extra)
    ref = Transaction.FromString(blob)
    t = SignedTransaction.from_envelope(envelope(blob))
    assert t.pay is None and t._tx is not None
    assert (t.source_address, t.nonce, t.gas_price) == (ref.source_address, ref.nonce, ref.gas_price)
    assert t.tx == ref


def test_from_parts_scans_too() -> None:
    # /submitTransaction's route: the blob and signatures arrive apart.
    blob = pay_blob(random.Random(4))
    ref = Transaction.FromString(blob)
    t = SignedTransaction.from_parts(blob, [(KEYS[1].encoded_public_key, KEYS[1].sign(blob))])
    assert t.pay is not None and t._tx is None
    assert (t.nonce, t.source_address, t.gas_price) == (ref.nonce, ref.source_address, ref.gas_price)
    assert t._tx is None
    assert t.tx == ref
    assert SignedTransaction.from_envelope(t.envelope).pay == t.pay


def test_from_parts_decodes_other_transactions_at_once() -> None:
    blob = pay_blob(random.Random(5), metadata=b"memo")
    t = SignedTransaction.from_parts(blob, [(KEYS[1].encoded_public_key, KEYS[1].sign(blob))])
    assert t.pay is None and t._tx is not None and t.tx == Transaction.FromString(blob)


def test_from_parts_refuses_a_blob_that_does_not_decode() -> None:
    with pytest.raises(EnvelopeError, match="does not decode"):
        SignedTransaction.from_parts(b"\x0a\x09ZTX3abc", [(KEYS[1].encoded_public_key, b"\x01" * 64)])


def test_a_transaction_that_does_not_decode_is_still_refused() -> None:
    # Field 1 (source_address) claims 9 bytes, then the blob ends: scan and protobuf refuse.
    bad = b"\x0a\x09ZTX3abc"
    env = _len_field(1, bad) + _len_field(2, _len_field(1, KEYS[1].encoded_public_key.encode())
                                          + _len_field(2, b"\x01" * 64))
    with pytest.raises(EnvelopeError, match="does not decode"):
        SignedTransaction.from_envelope(env)


def test_neither_decoded_nor_scanned_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="decoded transaction or its scan"):
        SignedTransaction(b"", b"", None, ())
