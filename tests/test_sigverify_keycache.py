"""The decoded-public-key cache (core_ext/src/ed25519/keycache.c) changes no verdict.

A hit must give exactly the point a fresh decode gives, keyed by the key's exact bytes
(a non-canonical encoding of the same point is a different key: k = H(R || A || M) hashes
the bytes). Expected verdicts come from ed25519-zebra and libsodium, not from this code.
Single checks use the cache on every backend, batches only on the portable one (the IFMA
batch path decodes eight keys at a time), so the counters are asserted accordingly.
"""
from __future__ import annotations

import random

import pysodium
import pytest
import test_sigverify_ref as ref
from test_sigverify_zip215 import adversarial_cases, backend, zebra  # noqa: F401 (backend: every backend)

from core_ext import sigverify as sv


@pytest.fixture(autouse=True)
def cache_back_on():
    yield
    sv._keycache(True)


@pytest.fixture(scope="module")
def cases() -> list[tuple[bytes, bytes, bytes]]:
    return adversarial_cases(random.Random(216))


def _cold() -> None:
    """An empty cache, switched on, counters at zero."""
    sv._keycache(False)
    sv._keycache(True, reset=True)


def _batch_uses_cache() -> bool:
    return sv.backend() == "portable"


def test_cache_is_on_by_default_and_counts() -> None:
    assert sv._keycache()[0] is True
    _cold()
    pk, sk = pysodium.crypto_sign_seed_keypair(b"k" * 32)
    msgs = [bytes([i]) * 40 for i in range(20)]
    sigs = [pysodium.crypto_sign_detached(m, sk) for m in msgs]
    assert sv.verify_batch([pk] * 20, msgs, sigs, threads=1).all()
    on, hits, misses = sv._keycache(reset=True)
    assert on
    if _batch_uses_cache():  # one key: the first lookup decodes it, the rest find it
        assert misses >= 1 and hits >= 10 and hits + misses == 20
    else:
        assert hits == misses == 0
    assert sv.verify(pk, msgs[0], sigs[0])
    assert sv.verify(pk, msgs[1], sigs[1])
    _, hits, misses = sv._keycache()
    assert hits >= 1 and hits + misses == 2


def test_warm_cache_matches_zebra(cases) -> None:
    """Every ZIP-215 edge case (small- and mixed-order keys, y >= p encodings, keys with
    no point), checked cold and then with every decodable key already cached."""
    expect = [zebra(*c) for c in cases]
    pks, msgs, sigs = zip(*cases)
    _cold()
    assert sv.verify_batch(pks, msgs, sigs, threads=1).tolist() == expect
    for _ in range(2):
        assert sv.verify_batch(pks, msgs, sigs, threads=2).tolist() == expect
        assert [sv.verify(*c) for c in cases] == expect
    _, hits, _ = sv._keycache()
    assert hits > len(cases) // 2


def test_noncanonical_twin_is_its_own_entry() -> None:
    """y and y + p name the same point; a key cached under one encoding must not answer
    for the other, since the signature hashes the bytes."""
    twins = [e for e in ref.noncanonical_nonsmall_encodings()]
    assert twins
    rng = random.Random(5)
    for enc in twins:
        y = int.from_bytes(enc, "little") & ((1 << 255) - 1)
        canon = ((y - ref.P) | (int.from_bytes(enc, "little") & (1 << 255))).to_bytes(32, "little")
        assert sv._decode_point(enc) == sv._decode_point(canon) is not None
        for first, second in ((enc, canon), (canon, enc)):
            _cold()
            # R small-order and S = 0: valid for any key; then the same with an honest R
            # and S = r, which only a zero k would make valid
            r_small = ref.small_order_encodings()[3]
            r = rng.randrange(1, ref.L)
            r_enc = ref.encode(ref.mul(r, ref.B))
            cases = [(k, b"twin", sig) for k in (first, second)
                     for sig in (r_small + bytes(32), r_enc + r.to_bytes(32, "little"))]
            assert [sv.verify(*c) for c in cases] == [zebra(*c) for c in cases]


def test_keys_with_no_point_are_never_cached() -> None:
    bad = ref.invalid_encodings(random.Random(9), 40)
    pk, sk = pysodium.crypto_sign_seed_keypair(b"b" * 32)
    sig = pysodium.crypto_sign_detached(b"m", sk)
    _cold()
    per_round = 40 * _batch_uses_cache()
    for rounds in range(1, 4):
        assert not sv.verify_batch(bad, [b"m"] * 40, [sig] * 40, threads=1).any()
        assert sv._keycache() == (True, 0, per_round * rounds)
    for rounds in range(1, 3):
        assert not any(sv.verify(k, b"m", sig) for k in bad)
        assert sv._keycache() == (True, 0, 3 * per_round + 40 * rounds)


def test_colliding_keys_under_two_threads() -> None:
    """More keys than cache entries (16,384), so keys evict each other, from two threads
    at once, with 1% spoiled signatures: a lookup that matched on the slot alone, or a
    torn entry, would give some valid signature the wrong key."""
    rng = random.Random(17)
    nkeys, n = 20_000, 40_000
    keys = [pysodium.crypto_sign_seed_keypair(rng.randbytes(32)) for _ in range(nkeys)]
    pks, msgs, sigs, expect = [], [], [], []
    for i in range(n):
        pk, sk = keys[rng.randrange(nkeys) if i >= nkeys else i]
        m = rng.randbytes(rng.randint(10, 120))
        sig = pysodium.crypto_sign_detached(m, sk)
        if rng.random() < 0.01:
            m = m[:-1] + bytes([m[-1] ^ 1])
        pks.append(pk)
        msgs.append(m)
        sigs.append(sig)
        try:
            pysodium.crypto_sign_verify_detached(sig, m, pk)
            expect.append(True)
        except ValueError:
            expect.append(False)
    assert 0 < expect.count(False) < n // 50
    _cold()
    for _ in range(3):
        assert sv.verify_batch(pks, msgs, sigs, threads=2).tolist() == expect
    _, hits, misses = sv._keycache()
    if _batch_uses_cache():
        assert hits > n and misses > nkeys  # both: it was used, and keys were evicted
    else:  # the same keys through single checks, which use the cache on every backend
        sample = range(0, n, 7)
        assert [sv.verify(pks[i], msgs[i], sigs[i]) for i in sample] == [expect[i] for i in sample]


def test_off_gives_the_same_verdicts(cases) -> None:
    expect = [zebra(*c) for c in cases]
    pks, msgs, sigs = zip(*cases)
    sv._keycache(False, reset=True)
    assert sv.verify_batch(pks, msgs, sigs, threads=2).tolist() == expect
    assert sv._keycache() == (False, 0, 0)
