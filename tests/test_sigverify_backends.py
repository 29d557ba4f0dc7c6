"""Backends of core_ext.sigverify give identical results; run-time selection honours
the CPU masks; thread counts do not change results."""
from __future__ import annotations

import os
import random
import subprocess
import sys

import numpy as np
import pysodium
import pytest
import test_sigverify_ref as ref

from core_ext import sigverify as sv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(code: str, **env: str) -> str:
    e = dict(os.environ, PYTHONPATH=ROOT, **env)
    return subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True,
                          check=True, cwd=ROOT).stdout.strip()


def test_env_masks_select_portable() -> None:
    code = "from core_ext import sigverify as sv; print(sv.backend(), sv.available_backends())"
    assert _run(code, MBI_FORCE_PORTABLE="1").startswith("portable ['portable']")
    assert _run(code, MBI_CPU_DISABLE="avx512ifma").startswith("portable ['portable']")
    default = _run(code)
    if "avx512ifma" in _run("import core_ext._cpu as c; print(c.features())"):
        assert default.startswith("avx512ifma")


def test_set_backend_errors() -> None:
    with pytest.raises(ValueError, match="unknown backend"):
        sv._set_backend("gpu")
    if "avx512ifma" not in sv.available_backends():
        with pytest.raises(ValueError, match="not available"):
            sv._set_backend("avx512ifma")


def _mixed_sweep(seed: int, n: int):
    """Honest libsodium signatures with ~5% corrupted in assorted ways, plus torsion-laden
    valid and invalid items from the reference."""
    rng = random.Random(seed)
    torsion = ref.torsion_points()
    small = ref.small_order_encodings()
    keys = [pysodium.crypto_sign_seed_keypair(rng.randbytes(32)) for _ in range(32)]
    rkeys = [ref.keypair(rng, torsion[i]) for i in range(8)]
    pks, msgs, sigs = [], [], []
    for i in range(n):
        x = rng.random()
        m = rng.randbytes(rng.randint(0, 300))
        if x < 0.03:
            a, pk = rkeys[rng.randrange(8)]
            sig = ref.sign(a, pk, m, rng, torsion[rng.randrange(8)])
        elif x < 0.04:
            pk, sig = rng.choice(small), rng.choice(small) + bytes(32)
        else:
            pk, sk = keys[rng.randrange(32)]
            sig = pysodium.crypto_sign_detached(m, sk)
        y = rng.random()
        if y < 0.02:
            b = bytearray(sig); b[rng.randrange(64)] ^= 1 << rng.randrange(8); sig = bytes(b)
        elif y < 0.03:
            m = m + b"\x00"
        elif y < 0.035:
            pk = bytes(rng.randbytes(32))
        elif y < 0.04:
            sig = sig[:32] + (int.from_bytes(sig[32:], "little") + ref.L).to_bytes(32, "little") \
                if int.from_bytes(sig[32:], "little") + ref.L < 2**256 else sig[:32] + b"\xff" * 32
        pks.append(pk); msgs.append(m); sigs.append(sig)
    return pks, msgs, sigs


@pytest.mark.parametrize("seed,n", [(1, 9), (2, 64), (3, 300), (4, 2000)])
def test_backends_identical(seed: int, n: int) -> None:
    pks, msgs, sigs = _mixed_sweep(seed, n)
    before = sv.backend()
    results = {}
    try:
        for be in sv.available_backends():
            sv._set_backend(be)
            results[be] = (sv.verify_batch(pks, msgs, sigs, threads=1),
                           sv.verify_batch(pks, msgs, sigs, threads=2),
                           sv._verify_each(pks, msgs, sigs))
    finally:
        sv._set_backend(before)
    ref_each = results["portable"][2]
    assert 0 < ref_each.sum() < n or n < 20
    for be, outs in results.items():
        for o in outs:
            assert (o == ref_each).all(), (be, np.flatnonzero(o != ref_each)[:5])
    # spot-check against the pure-Python reference
    for i in random.Random(seed).sample(range(n), min(n, 25)):
        assert bool(ref_each[i]) == ref.verify(pks[i], msgs[i], sigs[i])


def test_thread_counts_identical_on_every_backend() -> None:
    pks, msgs, sigs = _mixed_sweep(9, 1500)
    before = sv.backend()
    try:
        outs = []
        for be in sv.available_backends():
            sv._set_backend(be)
            for t in (1, 2, 3, 5, 16):
                outs.append(sv.verify_batch(pks, msgs, sigs, threads=t))
    finally:
        sv._set_backend(before)
    for o in outs[1:]:
        assert (o == outs[0]).all()


@pytest.mark.parametrize("rate", [0.0, 0.002, 0.01, 0.05, 0.3, 1.0])
def test_invalid_rate_history_changes_speed_not_verdicts(rate: float) -> None:
    """verify_batch picks its strategy from the recent invalid rate (whole set first, small
    parts, or exact checks only); the verdicts must be identical whatever the history."""
    pks, msgs, sigs = _mixed_sweep(31, 700)
    expect = sv._verify_each(pks, msgs, sigs)
    before = sv.backend()
    try:
        for be in sv.available_backends():
            sv._set_backend(be)
            sv._recent_invalid_rate(rate)
            assert abs(sv._recent_invalid_rate() - rate) < 1e-6
            out, st = sv._verify_batch_stats(pks, msgs, sigs, threads=1)
            assert (out == expect).all(), (be, rate)
            if rate == 0.0:
                assert st["msm_checks"] >= 1  # the whole set was tried first
            if rate >= 0.3:
                assert st["single_checks"] == int(expect.size - _format_invalid(pks, sigs))
            # the history moved toward what this batch showed
            assert sv._recent_invalid_rate() != rate or rate == 0.0
    finally:
        sv._set_backend(before)
        sv._recent_invalid_rate(0.0)


def test_invalid_rate_rejects_nan() -> None:
    """A NaN rate would reach a float-to-integer conversion in C (undefined behaviour);
    it is refused and the history is left as it was. Out-of-range rates are clamped."""
    try:
        sv._recent_invalid_rate(0.25)
        with pytest.raises(ValueError, match="rate"):
            sv._recent_invalid_rate(float("nan"))
        assert abs(sv._recent_invalid_rate() - 0.25) < 1e-6
        assert sv._recent_invalid_rate(7.0) == 1.0
        assert sv._recent_invalid_rate(-1.0) == 0.0
    finally:
        sv._recent_invalid_rate(0.0)


def _format_invalid(pks, sigs) -> int:
    """Items rejected before any equation (S >= l, A or R not decodable)."""
    n = 0
    for pk, sig in zip(pks, sigs):
        if (int.from_bytes(sig[32:], "little") >= ref.L or sv._decode_point(pk) is None
                or sv._decode_point(sig[:32]) is None):
            n += 1
    return n
