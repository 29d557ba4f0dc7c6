"""pytest-benchmark micro benchmarks of core_ext.sigverify, with libsodium baselines.

    .venv/bin/python -m pytest -q bench/bench_sigverify.py --benchmark-only

The ratio table (native vs libsodium, measured in one run, 1 and 2 threads, 1% invalid)
is bench/ratio_sigverify.py. Messages are 100-300 bytes; keys are reused (256 keys).
"""
from __future__ import annotations

import os
import random
import sys

import pysodium
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ratio_sigverify as R

from core_ext import sigverify as sv

RNG = random.Random(7)
KEYS = [pysodium.crypto_sign_seed_keypair(RNG.randbytes(32)) for _ in range(256)]
BATCHES = {n: R.make(n, RNG, KEYS) for n in (64, 256, 4096)}
BAD = {n: R.corrupt(b[2], 0.01, RNG) for n, b in BATCHES.items()}


@pytest.fixture(params=sv.available_backends())
def backend(request):
    before = sv.backend()
    sv._set_backend(request.param)
    yield request.param
    sv._set_backend(before)


def test_libsodium_single_x64(benchmark):
    pks, msgs, sigs = BATCHES[64]
    benchmark.extra_info["signatures"] = 64

    def run():
        for p, m, s in zip(pks, msgs, sigs):
            pysodium.crypto_sign_verify_detached(s, m, p)

    benchmark(run)


def test_native_single_x64(benchmark):
    pks, msgs, sigs = BATCHES[64]
    benchmark.extra_info["signatures"] = 64

    def run():
        for p, m, s in zip(pks, msgs, sigs):
            sv.verify(p, m, s)

    benchmark(run)


@pytest.mark.parametrize("n", [64, 256, 4096])
def test_batch_1thread(benchmark, backend, n):
    pks, msgs, sigs = BATCHES[n]
    benchmark.extra_info["signatures"] = n
    out = benchmark(sv.verify_batch, pks, msgs, sigs, threads=1)
    assert out.all()


@pytest.mark.parametrize("n", [256, 4096])
def test_batch_2threads(benchmark, n):
    pks, msgs, sigs = BATCHES[n]
    benchmark.extra_info["signatures"] = n
    out = benchmark(sv.verify_batch, pks, msgs, sigs, threads=2)
    assert out.all()


@pytest.mark.parametrize("n", [256, 4096])
def test_batch_1pct_invalid_1thread(benchmark, backend, n):
    pks, msgs, _ = BATCHES[n]
    benchmark.extra_info["signatures"] = n
    out = benchmark(sv.verify_batch, pks, msgs, BAD[n], threads=1)
    assert (~out).sum() == max(1, round(n * 0.01))
