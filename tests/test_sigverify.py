"""core_ext.sigverify: API contract, RFC 8032 vectors, honest signatures from libsodium
and PyNaCl, and every single-bit corruption."""
from __future__ import annotations

import hashlib
import random

import ed25519_zebra
import nacl.signing
import numpy as np
import pysodium
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core_ext import sigverify as sv

RFC8032 = [  # (secret seed, public key, message, signature), RFC 8032 section 7.1
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
    ("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     hashlib.sha512(b"abc").hexdigest(),
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"),
]


def _sodium_batch(n: int, rng: random.Random, lo: int = 0, hi: int = 400):
    pks, msgs, sigs = [], [], []
    keys = [pysodium.crypto_sign_seed_keypair(rng.randbytes(32)) for _ in range(min(n, 64))]
    for i in range(n):
        pk, sk = keys[rng.randrange(len(keys))] if i % 2 else pysodium.crypto_sign_seed_keypair(rng.randbytes(32))
        m = rng.randbytes(rng.randint(lo, hi))
        pks.append(pk)
        msgs.append(m)
        sigs.append(pysodium.crypto_sign_detached(m, sk))
    return pks, msgs, sigs


# ------------------------------------------------------------------ vectors

@pytest.mark.parametrize("seed,pk,msg,sig", RFC8032)
def test_rfc8032_vectors(seed: str, pk: str, msg: str, sig: str) -> None:
    pkb, mb, sb = bytes.fromhex(pk), bytes.fromhex(msg), bytes.fromhex(sig)
    # the vectors are what libsodium produces from the seed (guards against typos here)
    p, sk = pysodium.crypto_sign_seed_keypair(bytes.fromhex(seed))
    assert p == pkb and pysodium.crypto_sign_detached(mb, sk) == sb
    assert sv.verify(pkb, mb, sb) is True
    assert ed25519_zebra.ed_verify(sb, mb, pkb)
    assert sv.verify(pkb, mb + b"\x00", sb) is False
    assert sv.verify_batch([pkb] * 3, [mb, mb + b"!", mb], [sb] * 3).tolist() == [True, False, True]


def test_backend_reported() -> None:
    assert sv.backend() in sv.available_backends()
    assert "portable" in sv.available_backends()
    import core_ext
    assert core_ext.cpu_features()["kernels"]["sigverify"] == sv.backend()


# ------------------------------------------------------------------ API contract

def test_verify_argument_errors() -> None:
    pk, sk = pysodium.crypto_sign_keypair()
    sig = pysodium.crypto_sign_detached(b"m", sk)
    with pytest.raises(ValueError, match="public_key must be 32 bytes"):
        sv.verify(pk[:31], b"m", sig)
    with pytest.raises(ValueError, match="signature must be 64 bytes"):
        sv.verify(pk, b"m", sig + b"\x00")
    with pytest.raises(TypeError, match="message must be bytes-like, not str"):
        sv.verify(pk, "m", sig)
    with pytest.raises(TypeError, match="public_key must be a bytes-like object, not int"):
        sv.verify(32, b"m", sig)
    with pytest.raises(TypeError):
        sv.verify(pk, None, sig)
    # bytes-like of every kind is accepted
    assert sv.verify(bytearray(pk), memoryview(b"m"), np.frombuffer(sig, dtype=np.uint8))
    assert sv.verify(pk, bytearray(b"m"), bytearray(sig))


def test_verify_batch_argument_errors() -> None:
    pk, sk = pysodium.crypto_sign_keypair()
    sig = pysodium.crypto_sign_detached(b"m", sk)
    with pytest.raises(ValueError, match="public_keys has 1 items but messages has 2"):
        sv.verify_batch([pk], [b"m", b"m"], [sig, sig])
    with pytest.raises(ValueError, match=r"signatures\[1\] must be 64 bytes"):
        sv.verify_batch([pk, pk], [b"m", b"m"], [sig, sig[:63]])
    with pytest.raises(ValueError, match=r"shape \(2, 32\)"):
        sv.verify_batch(np.zeros((2, 33), np.uint8), [b"m", b"m"], [sig, sig])
    with pytest.raises(TypeError, match="dtype uint8"):
        sv.verify_batch(np.zeros((2, 32), np.int64), [b"m", b"m"], [sig, sig])
    with pytest.raises(ValueError, match="as one buffer must be 2\\*64"):
        sv.verify_batch([pk, pk], [b"m", b"m"], sig)
    with pytest.raises(TypeError, match="messages must be a sequence"):
        sv.verify_batch([pk], b"m", [sig])
    with pytest.raises(TypeError, match=r"messages\[0\] must be bytes-like, not str"):
        sv.verify_batch([pk], ["m"], [sig])
    with pytest.raises(TypeError, match="messages must be a sequence"):
        sv.verify_batch([pk], 5, [sig])
    with pytest.raises(ValueError, match="threads must be >= 1"):
        sv.verify_batch([pk], [b"m"], [sig], threads=0)
    with pytest.raises(TypeError, match="threads must be None or an int"):
        sv.verify_batch([pk], [b"m"], [sig], threads=1.5)
    out = sv.verify_batch([], [], [])
    assert out.dtype == np.bool_ and out.shape == (0,)
    out = sv.verify_batch(np.zeros((0, 32), np.uint8), [], np.zeros((0, 64), np.uint8))
    assert out.shape == (0,)


def test_verify_batch_input_forms_agree() -> None:
    rng = random.Random(7)
    pks, msgs, sigs = _sodium_batch(40, rng)
    sigs[5] = sigs[5][:40] + bytes([sigs[5][40] ^ 4]) + sigs[5][41:]
    expect = [sv.verify(p, m, s) for p, m, s in zip(pks, msgs, sigs)]
    assert expect.count(False) == 1
    forms = [
        (pks, msgs, sigs),
        (b"".join(pks), msgs, b"".join(sigs)),
        (np.frombuffer(b"".join(pks), np.uint8).reshape(40, 32), tuple(msgs),
         np.frombuffer(b"".join(sigs), np.uint8).reshape(40, 64)),
        ([bytearray(p) for p in pks], [memoryview(m) for m in msgs], [bytearray(s) for s in sigs]),
    ]
    for f in forms:
        out = sv.verify_batch(*f)
        assert out.dtype == np.bool_ and out.tolist() == expect
    # a non-contiguous array view is accepted too
    big = np.zeros((80, 32), np.uint8)
    big[::2] = np.frombuffer(b"".join(pks), np.uint8).reshape(40, 32)
    assert sv.verify_batch(big[::2], msgs, sigs).tolist() == expect


def test_garbage_is_false_not_an_error() -> None:
    rng = random.Random(1)
    n = 300
    pks = [rng.randbytes(32) for _ in range(n)]
    sigs = [rng.randbytes(64) for _ in range(n)]
    msgs = [rng.randbytes(rng.randint(0, 50)) for _ in range(n)]
    assert not any(sv.verify(p, m, s) for p, m, s in zip(pks, msgs, sigs))
    assert not sv.verify_batch(pks, msgs, sigs).any()
    assert not sv.verify(b"\xff" * 32, b"", b"\xff" * 64)
    assert not sv.verify(bytes(32), b"", bytes(64)) or ed25519_zebra.ed_verify(bytes(64), b"", bytes(32))


# ------------------------------------------------------------------ honest signatures

def test_pynacl_signatures_single_and_batch() -> None:
    rng = random.Random(3)
    pks, msgs, sigs = [], [], []
    for i in range(500):
        key = nacl.signing.SigningKey(rng.randbytes(32))
        m = rng.randbytes(rng.randint(0, 700))
        pks.append(bytes(key.verify_key))
        msgs.append(m)
        sigs.append(key.sign(m).signature)
    assert all(sv.verify(p, m, s) for p, m, s in zip(pks, msgs, sigs))
    assert sv.verify_batch(pks, msgs, sigs).all()


@pytest.mark.slow
def test_100k_random_libsodium_signatures() -> None:
    """The issue's bar: 100k+ valid signatures, random message lengths, all accepted by
    verify_batch (in batches of different sizes) and a sample by verify."""
    rng = random.Random(2024)
    total = 0
    for n, hi in ((60000, 300), (30000, 1200), (10000, 64), (999, 5000), (1, 0)):
        pks, msgs, sigs = _sodium_batch(n, rng, 0, hi)
        out = sv.verify_batch(pks, msgs, sigs)
        assert out.shape == (n,) and out.all(), np.flatnonzero(~out)[:10]
        for i in rng.sample(range(n), min(n, 300)):
            assert sv.verify(pks[i], msgs[i], sigs[i])
        total += n
    assert total >= 100000


# ------------------------------------------------------------------ corruption

def _flip(b: bytes, bit: int) -> bytes:
    a = bytearray(b)
    a[bit // 8] ^= 1 << (bit % 8)
    return bytes(a)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_every_single_bit_corruption_is_rejected(seed: int) -> None:
    rng = random.Random(seed)
    pk, sk = pysodium.crypto_sign_seed_keypair(rng.randbytes(32))
    msg = rng.randbytes(rng.randint(1, 90))
    sig = pysodium.crypto_sign_detached(msg, sk)
    cases = [(pk, msg, sig)]
    cases += [(_flip(pk, b), msg, sig) for b in range(256)]             # key
    cases += [(pk, msg, _flip(sig, b)) for b in range(256)]             # R
    cases += [(pk, msg, _flip(sig, 256 + b)) for b in range(256)]       # S
    cases += [(pk, _flip(msg, b), sig) for b in range(8 * len(msg))]    # message
    single = [sv.verify(*c) for c in cases]
    assert single[0] and not any(single[1:])
    zebra = [ed25519_zebra.ed_verify(s, m, p) for p, m, s in cases]
    assert single == zebra
    pks, msgs, sigs = zip(*cases)
    assert sv.verify_batch(pks, msgs, sigs).tolist() == single
    assert sv.verify_batch(pks, msgs, sigs, threads=1).tolist() == single


def test_message_boundaries() -> None:
    """SHA-512 block boundaries: message lengths around multiples of 128 (with the 64
    bytes of R || A in front)."""
    rng = random.Random(5)
    pk, sk = pysodium.crypto_sign_seed_keypair(rng.randbytes(32))
    lens = sorted({max(0, 128 * j + d) for j in range(9) for d in range(-66, -60)} | {0, 1, 1000, 65536})
    items = []
    for n in lens:
        m = rng.randbytes(n)
        s = pysodium.crypto_sign_detached(m, sk)
        assert sv.verify(pk, m, s), n
        assert not sv.verify(pk, m[:-1] if n else b"\x00", s), n
        items += [(pk, m, s), (pk, m[:-1] if n else b"\x00", s)]
    # the batch path hashes eight messages at a time with IFMA: same boundaries there
    pks, msgs, sigs = zip(*items)
    before = sv.backend()
    try:
        for be in sv.available_backends():
            sv._set_backend(be)
            for order in (1, -1):
                out = sv.verify_batch(pks[::order], msgs[::order], sigs[::order], threads=1)
                assert out.tolist() == [True, False] * len(lens) if order == 1 else \
                    out.tolist() == [False, True] * len(lens)
    finally:
        sv._set_backend(before)


def test_threads_do_not_change_results() -> None:
    rng = random.Random(99)
    pks, msgs, sigs = _sodium_batch(700, rng, 0, 200)
    for i in rng.sample(range(700), 30):
        sigs[i] = _flip(sigs[i], rng.randrange(512))
    ref = sv._verify_each(pks, msgs, sigs)
    assert ref.sum() == 670
    for t in (1, 2, 3, 4, 8, None):
        assert (sv.verify_batch(pks, msgs, sigs, threads=t) == ref).all(), t


# ------------------------------------------------------------------ property test

_KEYS = [pysodium.crypto_sign_seed_keypair(bytes([i]) * 32) for i in range(8)]


@settings(max_examples=600, deadline=None)
@given(key=st.integers(0, 7), msg=st.binary(max_size=300),
       edits=st.lists(st.tuples(st.integers(0, 32 + 64 - 1), st.integers(0, 255)), max_size=3),
       msg_edit=st.one_of(st.none(), st.binary(max_size=4)))
def test_property_mutations_match_zebra_and_batch(key, msg, edits, msg_edit) -> None:
    """Random byte edits of key/signature (and message) of an honest signature: verify
    equals ed25519-zebra, and verify_batch equals verify item by item."""
    pk, sk = _KEYS[key]
    sig = pysodium.crypto_sign_detached(msg, sk)
    blob = bytearray(pk + sig)
    for pos, val in edits:
        blob[pos] = val
    pk2, sig2 = bytes(blob[:32]), bytes(blob[32:])
    msg2 = msg if msg_edit is None else msg + msg_edit
    got = sv.verify(pk2, msg2, sig2)
    assert got == bool(ed25519_zebra.ed_verify(sig2, msg2, pk2))
    if bytes(blob) == pk + sig and msg2 == msg:
        assert got
    items = [(pk, msg, sig), (pk2, msg2, sig2)] * 5
    pks, msgs, sigs = zip(*items)
    assert sv.verify_batch(pks, msgs, sigs).tolist() == [True, got] * 5
