"""pytest-benchmark micro benchmarks of core_ext.merkle, with the pure-Python baseline.

    .venv/bin/python -m pytest -q bench/bench_merkle.py --benchmark-only

Targets (2-core Zen-class server with SHA-NI): merkle_root over 2^20 entries <= 35 ms on
2 cores and >= 20x the pure-Python implementation; MerkleTree.update of 10,000 random
entries in a 2^20 tree <= 10 ms. bench/ratio_merkle.py prints them side by side.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from core_ext import merkle

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
import rfc6962_ref as ref

N = 1 << 20
RNG = np.random.default_rng(2)
ENTRIES = RNG.integers(0, 256, (N, 32), dtype=np.uint8)


@pytest.mark.parametrize("threads", [1, 2])
def test_merkle_root_2p20(benchmark, threads):
    benchmark(merkle.merkle_root, ENTRIES, threads=threads)


def test_merkle_root_2p20_pure_python(benchmark):
    entries = [bytes(r) for r in ENTRIES]
    benchmark.pedantic(ref.mth_fast, args=(entries,), rounds=2, iterations=1)


@pytest.mark.parametrize("n", [1000, 1 << 14])
def test_merkle_root_small(benchmark, n):
    benchmark(merkle.merkle_root, ENTRIES[:n])


@pytest.fixture(scope="module")
def tree():
    return merkle.MerkleTree(ENTRIES)


def test_tree_update_10k_in_2p20(benchmark, tree):
    g = np.random.default_rng(3)
    batches = [(g.integers(0, N, 10_000), g.integers(0, 256, (10_000, 32), dtype=np.uint8))
               for _ in range(16)]
    it = iter(range(1 << 30))

    def run():
        idx, new = batches[next(it) % len(batches)]
        tree.update(idx, new)

    benchmark(run)


def test_tree_update_1_in_2p20(benchmark, tree):
    new = RNG.integers(0, 256, (1, 32), dtype=np.uint8)
    benchmark(tree.update, [12345], new)


def test_tree_append_1000(benchmark):
    t = merkle.MerkleTree(ENTRIES[: 1 << 16])
    new = ENTRIES[:1000]
    benchmark(t.append, new)


def test_tree_build_2p20(benchmark):
    benchmark.pedantic(merkle.MerkleTree, args=(ENTRIES,), rounds=5, iterations=1)


def test_tree_inclusion_proof(benchmark, tree):
    benchmark(tree.inclusion_proof, 777_777)


def test_verify_inclusion(benchmark):
    t = merkle.MerkleTree(ENTRIES[: 1 << 16])
    i = 4321
    proof, root, entry = t.inclusion_proof(i), t.root(), bytes(ENTRIES[i])
    assert benchmark(merkle.verify_inclusion, entry, i, 1 << 16, proof, root)
