"""Envelopes: received bytes are kept, hashed and verified as they are; malformed
envelopes fail with a clear error."""
from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mbi.crypto import KeyPair
from mbi.ledger import ChainConfig, FeeConfig, apply_block
from mbi.ledger import testing as T
from mbi.ledger.account import Account
from mbi.types import (
    MAX_ENVELOPE_SIZE,
    EnvelopeError,
    Signature,
    SignedTransaction,
    Transaction,
    TransactionEnv,
    split_envelope,
)
from mbi.types.envelope import _len_field, _split_general, _walk_general, walk_envelope

A = KeyPair.from_seed(b"\x41" * 32)
B = KeyPair.from_seed(b"\x42" * 32)


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def test_envelope_keeps_exact_bytes_and_hash():
    t = T.make_tx(A, 1, [T.pay_coin(B.address, 5)], chain_id=3)
    env = TransactionEnv.FromString(t.envelope)
    assert t.tx_bytes == env.transaction.SerializeToString()
    assert t.hash == hashlib.sha256(t.tx_bytes).digest() and t.hash_hex == t.hash.hex()
    again = SignedTransaction.from_envelope(t.envelope)
    assert again.hash == t.hash and again.tx_bytes == t.tx_bytes and again.envelope == t.envelope
    assert t.signer_addresses == frozenset([A.address])
    assert t.tx.source_address == A.address and t.tx.nonce == 1 and t.tx.chain_id == 3


def _noncanonical_tx_bytes(src: str, dest: str) -> bytes:
    """A valid Transaction encoding no serializer would produce: fields out of order and
    an over-long varint for the nonce."""
    op = T.pay_coin(dest, 5).SerializeToString()
    return (b"\x48" + _varint(3)                      # chain_id = 3 (field 9) first
            + b"\x38" + _varint(100)                  # gas_price
            + b"\x22" + _varint(len(op)) + op         # operations
            + b"\x10\x81\x80\x00"                     # nonce = 1, in three bytes
            + b"\x30" + _varint(10**8)                # fee_limit
            + b"\x0a" + _varint(len(src)) + src.encode())


def test_hash_and_signature_cover_received_bytes_not_a_reserialization():
    blob = _noncanonical_tx_bytes(A.address, B.address)
    m = Transaction.FromString(blob)
    assert m.nonce == 1 and m.chain_id == 3
    assert m.SerializeToString() != blob  # a re-serialization would differ ...
    t = SignedTransaction.from_parts(blob, [(A.encoded_public_key, A.sign(blob))])
    assert t.tx_bytes == blob
    assert t.hash == hashlib.sha256(blob).digest() != hashlib.sha256(m.SerializeToString()).digest()
    # ... and the signature over the received bytes verifies and executes
    view_accts = {A.address: Account(A.address, 0, balance=10**9), B.address: Account(B.address, 1)}

    class V:
        config = ChainConfig(3, FeeConfig(100, 0))
        get_account = staticmethod(view_accts.get)

        @staticmethod
        def account_count():
            return 2
    _, (r,) = apply_block(V, [t], 2, 0)
    assert r.error_code == 0, r.error_desc


def test_malformed_envelopes():
    t = T.make_tx(A, 1, [T.pay_coin(B.address, 5)], chain_id=3)
    tx_field = _len_field(1, t.tx_bytes)
    cases = {
        "garbage": b"\xff\xff\xff",
        "truncated": t.envelope[:-3],
        "no transaction": _len_field(2, Signature(public_key="x").SerializeToString()),
        "two transactions": tx_field + tx_field,
        "transaction as varint": b"\x08\x01",
        "empty": b"",
        "length past end": b"\x0a\x7f" + b"\x00" * 10,
    }
    for why, data in cases.items():
        with pytest.raises(EnvelopeError) as ei:
            SignedTransaction.from_envelope(data)
        assert ei.value.code == 2, why
    with pytest.raises(TypeError):
        SignedTransaction.from_envelope("0a00")  # type: ignore[arg-type]
    with pytest.raises(EnvelopeError):
        SignedTransaction.from_parts(b"\xff\xff", [])
    with pytest.raises(TypeError):
        SignedTransaction.from_parts(t.tx_bytes, [("pk", "not bytes")])  # type: ignore[list-item]
    # a public key that cannot be UTF-8 (a lone surrogate, which JSON's \ud800 escape
    # produces) is a malformed envelope (2), not a UnicodeEncodeError from protobuf
    with pytest.raises(EnvelopeError, match="signature 0") as ei:
        SignedTransaction.from_parts(t.tx_bytes, [("\ud800", b"\0" * 64)])
    assert ei.value.code == 2
    # anything but (str, bytes) pairs is a TypeError saying so
    for bad in ([(A.encoded_public_key,)], [None], [(A.encoded_public_key, b"", 1)]):
        with pytest.raises(TypeError, match="pairs"):
            SignedTransaction.from_parts(t.tx_bytes, bad)  # type: ignore[arg-type]


def test_size_and_signature_count_limits():
    blob = Transaction(source_address=A.address, nonce=1, chain_id=3,
                       operations=[T.set_metadata("k", "v" * 200_000)] * 6).SerializeToString()
    big = _len_field(1, blob) + _len_field(2, Signature(public_key=A.encoded_public_key,
                                                         sign_data=A.sign(blob)).SerializeToString())
    assert len(big) > MAX_ENVELOPE_SIZE
    for make in (lambda: SignedTransaction.from_envelope(big),
                 lambda: SignedTransaction.from_parts(blob, [(A.encoded_public_key, A.sign(blob))])):
        with pytest.raises(EnvelopeError) as ei:
            make()
        assert ei.value.code == 146
    t = T.make_tx(A, 1, [T.pay_coin(B.address, 5)], chain_id=3)
    sig = (A.encoded_public_key, A.sign(t.tx_bytes))
    assert len(SignedTransaction.from_parts(t.tx_bytes, [sig] * 100).signatures) == 100
    with pytest.raises(EnvelopeError, match="at most 100"):
        SignedTransaction.from_parts(t.tx_bytes, [sig] * 101)


def test_unknown_fields_and_trigger_are_tolerated():
    t = T.make_tx(A, 1, [T.pay_coin(B.address, 5)], chain_id=3)
    env = t.envelope + _len_field(3, b"\x10\x05") + b"\x78\x01"  # trigger{ledger_seq: 5}, field 15 = 1
    s = SignedTransaction.from_envelope(env)
    assert s.tx_bytes == t.tx_bytes and s.hash == t.hash and s.envelope == env


def test_bad_public_key_is_kept_not_fatal():
    t = T.make_tx(A, 1, [T.pay_coin(B.address, 5)], chain_id=3)
    s = SignedTransaction.from_parts(t.tx_bytes, [("b001deadbeef", b"\0" * 64)])
    assert s.signatures[0][1] is None and s.signer_addresses == frozenset()


@given(st.lists(st.tuples(st.sampled_from([1, 2, 3, 4, 15]), st.binary(max_size=300)), max_size=6),
       st.binary(max_size=200))
def test_fast_and_general_split_agree(fields, tx):
    data = _len_field(1, tx) + b"".join(_len_field(f, p) for f, p in fields)
    n1 = sum(1 for f, _ in fields if f == 1)
    if n1:
        for fn in (split_envelope, _split_general):
            with pytest.raises(EnvelopeError):
                fn(data)
    else:
        assert split_envelope(data) == _split_general(data) == tx
        assert walk_envelope(data) == _walk_general(data)


def test_signature_encodings_fast_and_slow_agree():
    t = T.make_tx(A, 1, [T.pay_coin(B.address, 5)], chain_id=3)
    pk, sd = A.encoded_public_key, A.sign(t.tx_bytes)
    canonical = Signature(public_key=pk, sign_data=sd).SerializeToString()
    reordered = b"\x12\x40" + sd + b"\x0a\x4c" + pk.encode()
    with_extra = canonical + b"\x18\x01"  # unknown field 3
    results = []
    for enc in (canonical, reordered, with_extra):
        s = SignedTransaction.from_envelope(_len_field(1, t.tx_bytes) + _len_field(2, enc))
        results.append(s.signatures)
    assert results[0] == results[1] == results[2]
    assert results[0][0][2] == A.address
    # a signature that does not decode, or a trigger that does not, is a malformed envelope
    for bad in (_len_field(2, b"\x0a\x05ab"), _len_field(3, b"\x10")):
        with pytest.raises(EnvelopeError):
            SignedTransaction.from_envelope(_len_field(1, t.tx_bytes) + bad)
    # a non-UTF-8 public key string is refused as protobuf refuses it
    bad_pk = b"\x0a\x4c" + b"\xff" * 76 + b"\x12\x40" + sd
    with pytest.raises(EnvelopeError):
        SignedTransaction.from_envelope(_len_field(1, t.tx_bytes) + _len_field(2, bad_pk))


@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_crash(data):
    try:
        s = SignedTransaction.from_envelope(data)
    except EnvelopeError as exc:
        assert exc.code in (2, 146)
    else:
        assert s.hash == hashlib.sha256(s.tx_bytes).digest()


def test_generated_code_matches_the_schema(tmp_path):
    """The committed *_pb2 files are what the pinned protoc makes of proto/ (make proto)."""
    import importlib.metadata
    import os

    protoc = pytest.importorskip("grpc_tools.protoc")
    if importlib.metadata.version("grpcio-tools") != "1.85.1":
        pytest.skip("a different grpcio-tools than the pinned 1.85.1 is installed")
    root = os.path.join(os.path.dirname(__file__), "..")
    files = ["zetrix_protocol.proto", "mbi_types.proto"]
    rc = protoc.main(["protoc", f"-I{root}/proto", f"--python_out={tmp_path}", f"--pyi_out={tmp_path}"]
                     + [f"{root}/proto/{f}" for f in files])
    assert rc == 0
    for f in files:
        for ext in ("_pb2.py", "_pb2.pyi"):
            name = f.replace(".proto", ext)
            with open(os.path.join(root, "mbi", "types", name), "rb") as a, open(tmp_path / name, "rb") as b:
                assert a.read() == b.read(), f"mbi/types/{name} is stale: run `make proto`"
