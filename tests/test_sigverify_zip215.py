"""ZIP-215 edge cases, differential against ed25519-zebra (an independent ZIP-215
implementation) and the pure-Python reference, single and inside random batches."""
from __future__ import annotations

import random

import ed25519_zebra
import numpy as np
import pysodium
import pytest
import test_sigverify_ref as ref

from core_ext import sigverify as sv

SMALL = ref.small_order_encodings()


@pytest.fixture(autouse=True, params=sv.available_backends())
def backend(request):
    """Every test here runs on every backend this CPU can run (portable, avx512ifma)."""
    before = sv.backend()
    sv._set_backend(request.param)
    yield request.param
    sv._set_backend(before)

TORSION = ref.torsion_points()


def zebra(pk: bytes, msg: bytes, sig: bytes) -> bool:
    return bool(ed25519_zebra.ed_verify(sig, msg, pk))


def _s(x: int) -> bytes:
    return x.to_bytes(32, "little")


def adversarial_cases(rng: random.Random) -> list[tuple[bytes, bytes, bytes]]:
    """(pk, msg, sig) triples covering the rule edges the issue lists."""
    cases = []
    msg = b"zip215"
    # all small-order encodings (canonical and not) as A and as R; S = 0 makes every
    # pair valid under the cofactored rule, S = 1 makes every pair invalid
    for a in SMALL:
        for r in SMALL:
            cases.append((a, msg, r + _s(0)))
            cases.append((a, msg, r + _s(1)))
    # mixed-order keys and R: A = [a]B + T_i, R = [r]B + T_j, honest S
    for i in range(8):
        for j in range(8):
            a, pk = ref.keypair(rng, TORSION[i])
            m = rng.randbytes(rng.randint(0, 40))
            cases.append((pk, m, ref.sign(a, pk, m, rng, TORSION[j])))
    # small-order R with a prime-order key (r = 0): S = k a
    for r in SMALL:
        a, pk = ref.keypair(rng)
        cases.append((pk, msg, ref.sign(a, pk, msg, rng, r_enc=r)))
    # S = l, l + 1, S + l, high bits of S set, on otherwise valid signatures
    a, pk = ref.keypair(rng)
    good = ref.sign(a, pk, msg, rng)
    s = int.from_bytes(good[32:], "little")
    for bad_s in (ref.L, ref.L + 1, s + ref.L, s + 15 * ref.L, s | (1 << 255), s | (1 << 253),
                  s | (0xF0 << 248), 2**256 - 1, ref.L - 1):
        if bad_s < 2**256:
            cases.append((pk, msg, good[:32] + _s(bad_s)))
    cases.append((pk, msg, good))
    # the same for a small-order A / R signature (valid with S = 0): S = l is still invalid
    cases.append((SMALL[0], msg, SMALL[1] + _s(ref.L)))
    # invalid encodings (no x for this y) as A and as R
    for enc in ref.invalid_encodings(rng, 6):
        cases.append((enc, msg, good))
        cases.append((pk, msg, enc + good[32:]))
    # y >= p encodings of large-order points as A and R
    for enc in ref.noncanonical_nonsmall_encodings():
        cases.append((enc, msg, good))
        cases.append((pk, msg, enc + good[32:]))
        cases.append((enc, msg, SMALL[2] + _s(0)))
    return cases


@pytest.fixture(scope="module")
def cases() -> list[tuple[bytes, bytes, bytes]]:
    return adversarial_cases(random.Random(215))


def test_small_order_set_is_complete() -> None:
    assert len(SMALL) == 14
    assert all(sv._decode_point(e) is not None for e in SMALL)


def test_adversarial_single_matches_zebra_and_reference(cases) -> None:
    ours = [sv.verify(*c) for c in cases]
    theirs = [zebra(*c) for c in cases]
    mismatches = [(i, c[0].hex(), c[2].hex(), o, t)
                  for i, (c, o, t) in enumerate(zip(cases, ours, theirs)) if o != t]
    assert not mismatches, mismatches[:5]
    pyref = [ref.verify(*c) for c in cases]
    assert ours == pyref
    # the set is meaningful: many accepts and many rejects, and some accepted
    # signatures are exactly those a cofactorless verifier would reject
    assert 200 < sum(ours) < len(ours) - 100
    cofactorless = [ref.verify_cofactorless(*c) for c in cases[:400]]
    assert sum(o and not c for o, c in zip(ours, cofactorless)) > 50


def test_small_order_pairs_accepted_with_s_zero() -> None:
    for a in SMALL:
        for r in SMALL:
            assert sv.verify(a, b"", r + _s(0))
            assert not sv.verify(a, b"", r + _s(1))
            assert not sv.verify(a, b"", r + _s(ref.L))


def test_adversarial_cases_inside_random_batches(cases) -> None:
    """verify_batch must equal verify item by item whatever else is in the batch."""
    single = {c: sv.verify(*c) for c in cases}
    rng = random.Random(4)
    honest = []
    for _ in range(600):
        pk, sk = pysodium.crypto_sign_seed_keypair(rng.randbytes(32))
        m = rng.randbytes(rng.randint(0, 200))
        honest.append((pk, m, pysodium.crypto_sign_detached(m, sk)))
    for c in honest:
        single[c] = True
    for seed in range(40):
        r = random.Random(seed)
        n_adv = r.choice([1, 2, 5, 30, 150, len(cases)])
        n_ok = r.choice([0, 1, 10, 63, 64, 65, 200, 600])
        batch = r.sample(cases, min(n_adv, len(cases))) + r.sample(honest, n_ok)
        if seed % 3 == 0:  # only the valid adversarial ones: the batch equation must pass
            batch = [c for c in batch if single[c]]
        if not batch:
            continue
        r.shuffle(batch)
        pks, msgs, sigs = zip(*batch)
        expect = [single[c] for c in batch]
        threads = 1 + seed % 3
        assert sv.verify_batch(pks, msgs, sigs, threads=threads).tolist() == expect, seed


def test_decode_matches_reference() -> None:
    rng = random.Random(8)
    encs = list(SMALL) + ref.noncanonical_nonsmall_encodings() + ref.invalid_encodings(rng, 50)
    for y in list(range(40)) + list(range(ref.P - 20, 2**255)):
        for sign in (0, 1):
            encs.append((y | (sign << 255)).to_bytes(32, "little"))
    encs += [rng.randbytes(32) for _ in range(1500)]
    many = sv._decode_points(encs)  # the batch decoder of this backend (IFMA: 8 lanes)
    for e, got_many in zip(encs, many):
        d = ref.decode(e)
        got = sv._decode_point(e)
        if d is None:
            assert got is None and got_many is None, e.hex()
        else:
            assert got == got_many == ref.encode(d), e.hex()
    assert sum(m is not None for m in many) > 700


@pytest.mark.slow
def test_many_seeds_mixed_random_batches() -> None:
    """Random honest signatures with random corruptions and small-order/mixed-order
    substitutions, many seeds, batch == single == zebra."""
    rng = random.Random(77)
    keys = [ref.keypair(rng, TORSION[i % 8]) for i in range(16)]
    for seed in range(30):
        r = random.Random(1000 + seed)
        items = []
        for _ in range(r.choice([7, 64, 257])):
            kind = r.random()
            a, pk = keys[r.randrange(len(keys))]
            m = r.randbytes(r.randint(0, 64))
            sig = ref.sign(a, pk, m, r, TORSION[r.randrange(8)])
            if kind < 0.15:
                bit = r.randrange(512)
                sig = bytearray(sig); sig[bit // 8] ^= 1 << (bit % 8); sig = bytes(sig)
            elif kind < 0.2:
                sig = r.choice(SMALL) + _s(0)
                pk = r.choice(SMALL)
            elif kind < 0.25:
                m = m + b"?"
            items.append((pk, m, sig))
        pks, msgs, sigs = zip(*items)
        single = [sv.verify(*c) for c in items]
        assert single == [zebra(*c) for c in items], seed
        for t in (1, 2):
            assert sv.verify_batch(pks, msgs, sigs, threads=t).tolist() == single, seed
        assert sv._verify_each(pks, msgs, sigs).tolist() == single
        arr = sv.verify_batch(np.frombuffer(b"".join(pks), np.uint8).reshape(-1, 32), msgs,
                              np.frombuffer(b"".join(sigs), np.uint8).reshape(-1, 64))
        assert arr.tolist() == single


@pytest.mark.parametrize("n", [2, 8, 9, 96, 97, 384, 385, 1500])
def test_valid_mixed_order_batch_passes_the_batch_equation(n: int, backend: str) -> None:
    """All-valid batches full of small-order and mixed-order A and R pass the cofactored
    batch equation itself (one check, no fallback), on every MSM path (portable: Straus
    <= 96 < Pippenger; IFMA: 8-lane Straus <= 384 < Pippenger with 8-lane buckets): the
    [8] makes batch acceptance deterministic for valid items. (IFMA checks sets of <= 8
    items by exact single checks in the eight lanes.)"""
    rng = random.Random(n)
    items = []
    keys = [ref.keypair(rng, TORSION[i % 8]) for i in range(8)]
    for i in range(n):
        if i % 5 == 0:
            items.append((rng.choice(SMALL), b"m%d" % i, rng.choice(SMALL) + _s(0)))
        else:
            a, pk = keys[i % 8]
            m = rng.randbytes(rng.randint(0, 50))
            items.append((pk, m, ref.sign(a, pk, m, rng, TORSION[rng.randrange(8)])))
    pks, msgs, sigs = zip(*items)
    sv._recent_invalid_rate(0.0)  # no recent invalid traffic: the whole set is tried first
    out, st = sv._verify_batch_stats(pks, msgs, sigs, threads=1)
    assert out.all()
    if backend == "avx512ifma" and n <= 8:
        assert st == {"msm_checks": 0, "msm_failures": 0, "single_checks": n}
    else:
        assert st == {"msm_checks": 1, "msm_failures": 0, "single_checks": 0}
    # a cofactorless verifier would reject many of them
    assert sum(not ref.verify_cofactorless(*c) for c in items[:40]) >= min(n, 40) // 3
    # one corrupted S is found by the batch equation and pinned down
    bad = list(sigs)
    j = n // 2
    bad[j] = bad[j][:32] + _s((int.from_bytes(bad[j][32:], "little") + 1) % ref.L)
    sv._recent_invalid_rate(0.0)
    out, st = sv._verify_batch_stats(pks, msgs, bad, threads=1)
    assert out.tolist() == [i != j for i in range(n)]
    assert st["single_checks"] >= 1
    assert st["msm_failures"] >= 1 or (backend == "avx512ifma" and n <= 8)
