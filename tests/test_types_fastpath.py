"""The envelope decoder's fast paths give what protobuf and the general walk give."""
from __future__ import annotations

import random

import pytest

from mbi.crypto import KeyPair
from mbi.ledger import testing as T
from mbi.types import SignedTransaction, Transaction, TransactionEnv
from mbi.types.envelope import EnvelopeError, _len_field
from mbi.types.zetrix_protocol_pb2 import Signature

KEYS = [KeyPair.from_seed(bytes([i]) * 32) for i in range(1, 6)]


def tx_blob(rng: random.Random, meta: int) -> bytes:
    k = KEYS[rng.randrange(5)]
    return Transaction(source_address=k.address, nonce=rng.randrange(1, 10**6), fee_limit=10**8, gas_price=100,
                       chain_id=5, metadata=rng.randbytes(meta),
                       operations=[T.pay_coin(KEYS[0].address, rng.randrange(1, 10**9))]).SerializeToString()


def reference(env: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The transaction bytes and signatures as protobuf reads them (canonical inputs)."""
    m = TransactionEnv.FromString(env)
    return m.transaction.SerializeToString(), [(s.public_key, s.sign_data) for s in m.signatures]


@pytest.mark.parametrize("meta", [0, 20, 200, 3000, 20000])  # tx length: 1-, 2- and 3-byte varints
def test_from_envelope_and_from_parts_match_protobuf(meta: int) -> None:
    rng = random.Random(meta)
    for _ in range(20):
        blob = tx_blob(rng, meta)
        shape = rng.randrange(5)
        k = KEYS[rng.randrange(5)]
        if shape == 0:
            sigs = [(k.encoded_public_key, k.sign(blob))]  # the fast path's shape
        elif shape == 1:
            sigs = [(k.encoded_public_key, k.sign(blob)), (KEYS[0].encoded_public_key, KEYS[0].sign(blob))]
        elif shape == 2:
            sigs = [("", b"")]
        elif shape == 3:
            sigs = [("é" * 38, b"\x01" * 64)]  # 76 characters, not ASCII: not the fast path
        else:
            sigs = [(k.encoded_public_key, b"\x02" * 63)]
        a = SignedTransaction.from_parts(blob, sigs)
        b = SignedTransaction.from_envelope(a.envelope)
        tx_ref, sig_ref = reference(a.envelope)
        for t in (a, b):
            assert t.tx_bytes == blob == tx_ref
            assert [(pk, sd) for pk, _, _, sd in t.signatures] == sig_ref == [(p, bytes(s)) for p, s in sigs]
            assert t.tx == Transaction.FromString(blob)
        assert a.signatures == b.signatures and a.hash == b.hash and a.envelope == b.envelope
        # from_parts assembles exactly protobuf's own serialization of the same parts
        want = TransactionEnv(transaction=Transaction.FromString(blob),
                              signatures=[Signature(public_key=p, sign_data=bytes(s)) for p, s in sigs])
        assert a.envelope == want.SerializeToString()
        raws = [(raw, addr) for _, raw, addr, _ in a.signatures]
        for (pk, _), (raw, addr) in zip(sigs, raws):
            if pk == k.encoded_public_key:
                assert raw == k.raw_public_key and addr == k.address
            elif pk == KEYS[0].encoded_public_key:
                assert addr == KEYS[0].address
            else:
                assert raw is None and addr is None


def test_fast_shape_with_a_trailing_field_or_bad_transaction_takes_the_checked_route() -> None:
    rng = random.Random(3)
    blob = tx_blob(rng, 10)
    k = KEYS[1]
    env = SignedTransaction.from_parts(blob, [(k.encoded_public_key, k.sign(blob))]).envelope
    # a trigger after the signature: still decodes, same parts
    t = SignedTransaction.from_envelope(env + _len_field(3, b""))
    assert t.tx_bytes == blob and t.signatures == SignedTransaction.from_envelope(env).signatures
    # a second transaction field after the signature is refused
    with pytest.raises(EnvelopeError):
        SignedTransaction.from_envelope(env + _len_field(1, blob))
    # the fast shape around bytes that are not a Transaction
    junk = b"\xff" * len(blob)
    bad = _len_field(1, junk) + env[len(_len_field(1, blob)):]
    with pytest.raises(EnvelopeError):
        SignedTransaction.from_envelope(bad)


def test_from_envelopes_equals_from_envelope_item_by_item() -> None:
    import hashlib

    rng = random.Random(11)
    envs: list = []
    for i in range(60):
        blob = tx_blob(rng, rng.choice([0, 50, 500]))
        k = KEYS[i % 5]
        envs.append(SignedTransaction.from_parts(blob, [(k.encoded_public_key, k.sign(blob))] * (1 + i % 3)).envelope)
        if i % 7 == 0:
            envs.append(b"\x0a\x05abc")  # truncated: an error in its place
        if i % 11 == 0:
            envs.append(bytearray(envs[-1]))  # bytes-like is accepted
    envs.append("not bytes")
    got = SignedTransaction.from_envelopes(envs)
    assert len(got) == len(envs)
    for e, g in zip(envs, got):
        try:
            want = SignedTransaction.from_envelope(e)
        except (EnvelopeError, TypeError) as exc:
            assert type(g) is type(exc) and str(g) == str(exc)
            continue
        assert isinstance(g, SignedTransaction)
        assert (g.envelope, g.tx_bytes, g.signatures, g.tx) == (want.envelope, want.tx_bytes, want.signatures, want.tx)
        assert g.hash == want.hash == hashlib.sha256(g.tx_bytes).digest()
    assert SignedTransaction.from_envelopes([]) == []
    one = SignedTransaction.from_envelopes(envs[:1])[0]
    assert isinstance(one, SignedTransaction) and one.hash == hashlib.sha256(one.tx_bytes).digest()
