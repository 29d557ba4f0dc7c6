"""pytest-benchmark micro benchmarks of core_ext.hashing, with hashlib baselines.

    .venv/bin/python -m pytest -q bench/bench_hashing.py --benchmark-only

The ratio table (native vs pure Python, one run) is bench/ratio_merkle.py.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from core_ext import hashing

N_MSGS = 1 << 16
RNG = np.random.default_rng(1)
DATA64 = RNG.integers(0, 256, N_MSGS * 64, dtype=np.uint8).tobytes()
OFF64 = np.arange(N_MSGS + 1, dtype=np.int64) * 64


@pytest.fixture(params=hashing._backends())
def backend(request):
    hashing._set_backend(request.param)
    yield request.param
    hashing._set_backend("auto")


def test_sha256_many_64B_1thread(benchmark, backend):
    """64-byte messages, one core, every backend (target: >= 25 M hashes/s on the default)."""
    benchmark.extra_info["hashes"] = N_MSGS
    benchmark(hashing.sha256_many, DATA64, OFF64, threads=1)


def test_sha256_many_64B_all_threads(benchmark):
    benchmark.extra_info["hashes"] = N_MSGS
    benchmark(hashing.sha256_many, DATA64, OFF64)


def test_sha256_many_variable_lengths(benchmark):
    lens = RNG.integers(0, 300, N_MSGS)
    off = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    data = RNG.integers(0, 256, int(off[-1]), dtype=np.uint8).tobytes()
    benchmark(hashing.sha256_many, data, off, threads=1)


def test_hashlib_loop_64B_baseline(benchmark):
    """The pure-Python baseline: one hashlib call per message."""
    sha = hashlib.sha256
    view = DATA64

    def run():
        return [sha(view[i:i + 64]).digest() for i in range(0, N_MSGS * 64, 64)]

    benchmark(run)


@pytest.mark.parametrize("size", [64, 1024, 1 << 20])
def test_sha256_single(benchmark, size):
    data = DATA64[:size] if size <= len(DATA64) else DATA64 * (size // len(DATA64) + 1)
    benchmark(hashing.sha256, data[:size])
