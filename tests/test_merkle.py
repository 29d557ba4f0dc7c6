"""core_ext.merkle against the pure-Python RFC 6962 reference (tests/rfc6962_ref.py), on
every SHA-256 path this CPU offers."""
from __future__ import annotations

import hashlib
import itertools
import os
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

import core_ext
from core_ext import merkle

sys.path.insert(0, os.path.dirname(__file__))
import rfc6962_ref as ref

BACKENDS = merkle._backends()
MAX_ALL = 2100  # every size 0..MAX_ALL
EDGE = sorted({s for k in range(1, 15) for s in (2**k - 1, 2**k, 2**k + 1)} | {3 * 4096 + 5})
RNG = np.random.default_rng(6962)
ENTRIES = RNG.integers(0, 256, (max(MAX_ALL, max(EDGE)) + 1, 32), dtype=np.uint8)
ENTRY_BYTES = [bytes(r) for r in ENTRIES]


def _level_roots(sizes):
    """Reference roots of every prefix size in `sizes`, level by level from cached leaves."""
    leaves = [ref.leaf_hash(e) for e in ENTRY_BYTES]
    out = {}
    for n in sizes:
        level = leaves[:n]
        if not level:
            out[n] = ref.EMPTY_ROOT
            continue
        while len(level) > 1:
            nxt = [ref.node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) & 1:
                nxt.append(level[-1])
            level = nxt
        out[n] = level[0]
    return out


@pytest.fixture(scope="module")
def ref_roots():
    roots = _level_roots(list(range(MAX_ALL + 1)) + EDGE)
    for n in list(range(300)) + [511, 512, 513, 1025]:  # the two reference forms agree
        assert roots[n] == ref.mth(ENTRY_BYTES[:n]), n
    return roots


@pytest.fixture(params=BACKENDS)
def backend(request):
    merkle._set_backend(request.param)
    yield request.param
    merkle._set_backend("auto")


def rand_entries(n: int) -> np.ndarray:
    return RNG.integers(0, 256, (n, 32), dtype=np.uint8)


# ---------------------------------------------------------------- basics

def test_backend_reported():
    assert merkle.backend() == BACKENDS[0]
    assert core_ext.cpu_features()["kernels"]["merkle"] == merkle.backend()
    with pytest.raises(ValueError, match="unknown or unavailable"):
        merkle._set_backend("nope")


def test_hash_helpers():
    e = bytes(range(32))
    assert merkle.leaf_hash(e) == hashlib.sha256(b"\x00" + e).digest()
    assert merkle.node_hash(e, e[::-1]) == hashlib.sha256(b"\x01" + e + e[::-1]).digest()
    assert merkle.EMPTY_ROOT == hashlib.sha256(b"").digest()
    lh = merkle.leaf_hashes(ENTRIES[:100])
    assert [bytes(r) for r in lh] == [ref.leaf_hash(x) for x in ENTRY_BYTES[:100]]


def test_small_known_roots():
    e = np.zeros((0, 32), dtype=np.uint8)
    assert merkle.merkle_root(e) == hashlib.sha256(b"").digest()
    one = ENTRIES[:1]
    assert merkle.merkle_root(one) == hashlib.sha256(b"\x00" + ENTRY_BYTES[0]).digest()
    a, b, c = (ref.leaf_hash(x) for x in ENTRY_BYTES[:3])
    assert merkle.merkle_root(ENTRIES[:3]) == ref.node_hash(ref.node_hash(a, b), c)


# ---------------------------------------------------------------- roots, every path

def test_root_every_size(backend, ref_roots):
    for n in range(MAX_ALL + 1):
        assert merkle.merkle_root(ENTRIES[:n]) == ref_roots[n], (backend, n)


def test_root_edge_sizes(backend, ref_roots):
    for n in EDGE:
        assert merkle.merkle_root(ENTRIES[:n]) == ref_roots[n], (backend, n)
        assert merkle.merkle_root(ENTRIES[:n], threads=1) == ref_roots[n], (backend, n)


def test_tree_every_size_incremental(backend, ref_roots):
    """Append one entry at a time, then in growing chunks: every intermediate root."""
    t = merkle.MerkleTree()
    for n in range(1, 601):
        t.append(ENTRIES[n - 1:n])
        assert t.size == n and len(t) == n
        assert t.root() == ref_roots[n], (backend, n)
    pos, step = 600, 1
    while pos + step <= MAX_ALL:
        t.append(ENTRIES[pos:pos + step])
        pos += step
        assert t.root() == ref_roots[pos], (backend, pos)
        step += 7


@pytest.mark.parametrize("n", [4096 * 5 + 3, 2**16, 2**16 + 1, 100_003])
def test_root_threads_identical(n):
    e = rand_entries(n)
    want = ref.mth_fast([bytes(r) for r in e])
    for threads in (1, 2, 3, 8):
        assert merkle.merkle_root(e, threads=threads) == want, threads
    assert merkle.MerkleTree(e, threads=2).root() == want
    assert merkle.MerkleTree(e, threads=1).root() == want


def test_read_only_entries_accepted():
    e = ENTRIES[:77].copy()
    e.setflags(write=False)
    assert merkle.merkle_root(e) == ref.mth(ENTRY_BYTES[:77])
    assert merkle.MerkleTree(e).root() == ref.mth(ENTRY_BYTES[:77])


@given(st.lists(st.binary(min_size=32, max_size=32), max_size=300))
def test_root_hypothesis(entries):
    arr = np.frombuffer(b"".join(entries), dtype=np.uint8).reshape(len(entries), 32)
    assert merkle.merkle_root(arr) == ref.mth(entries)


# ---------------------------------------------------------------- proofs

def _flip(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


def test_inclusion_proofs_all_small(backend):
    for n in range(1, 70 if backend != BACKENDS[0] else 140):
        ents = ENTRY_BYTES[:n]
        root = ref.mth(ents)
        tree = merkle.MerkleTree(ENTRIES[:n])
        for i in range(n):
            p = tree.inclusion_proof(i)
            assert p == ref.path(i, ents), (n, i)
            assert merkle.verify_inclusion(ents[i], i, n, p, root)
            assert ref.verify_inclusion(ents[i], i, n, p, root)
            # tampering
            assert not merkle.verify_inclusion(_flip(ents[i]), i, n, p, root)
            assert not merkle.verify_inclusion(ents[i], i, n, p, _flip(root, 7))
            for j in range(len(p)):
                bad = list(p)
                bad[j] = _flip(bad[j], j % 8)
                assert not merkle.verify_inclusion(ents[i], i, n, bad, root)
            if n > 1:
                other = (i + 1) % n
                if len(ref.path(other, ents)) == len(p):
                    assert not merkle.verify_inclusion(ents[i], other, n, p, root)
        assert merkle.inclusion_proof(ENTRIES[:n], n - 1) == ref.path(n - 1, ents)


def test_inclusion_proofs_sampled_large(ref_roots):
    for n in [1000, 1023, 1024, 1025, 2047, 2048, 2049, 4097, 12293, 16385]:
        tree = merkle.MerkleTree(ENTRIES[:n])
        root = ref_roots[n]
        assert tree.root() == root
        for i in sorted({0, 1, n // 2, n - 2, n - 1, *RNG.integers(0, n, 20).tolist()}):
            p = tree.inclusion_proof(i)
            assert ref.verify_inclusion(ENTRY_BYTES[i], i, n, p, root), (n, i)
            assert merkle.verify_inclusion(ENTRY_BYTES[i], i, n, p, root), (n, i)
            if n <= 4097:
                assert p == ref.path(i, ENTRY_BYTES[:n])


def test_consistency_proofs_all_small(backend):
    for n in range(1, 60 if backend != BACKENDS[0] else 130):
        ents = ENTRY_BYTES[:n]
        tree = merkle.MerkleTree(ENTRIES[:n])
        new_root = tree.root()
        for m in range(n + 1):
            old_root = ref.mth(ents[:m])
            p = tree.consistency_proof(m)
            assert p == ref.proof(m, ents), (n, m)
            assert merkle.consistency_proof(ENTRIES[:n], m) == p
            assert merkle.verify_consistency(m, n, old_root, new_root, p), (n, m)
            if 0 < m < n:
                assert ref.verify_consistency(m, n, old_root, new_root, p)
                assert not merkle.verify_consistency(m, n, _flip(old_root), new_root, p)
                assert not merkle.verify_consistency(m, n, old_root, _flip(new_root), p)
                for j in range(len(p)):
                    bad = list(p)
                    bad[j] = _flip(bad[j], 3)
                    assert not merkle.verify_consistency(m, n, old_root, new_root, bad), (n, m, j)


def test_consistency_sampled_large(ref_roots):
    for n in [2048, 2049, 4097, 12293, 16385]:
        tree = merkle.MerkleTree(ENTRIES[:n])
        for m in sorted({1, 2, 3, n // 3, 1024, 2048, n - 1, *RNG.integers(1, n, 10).tolist()}):
            if not 0 < m < n:
                continue
            p = tree.consistency_proof(m)
            assert ref.verify_consistency(m, n, ref_roots.get(m) or ref.mth_fast(ENTRY_BYTES[:m]),
                                          ref_roots[n], p), (n, m)
            assert merkle.verify_consistency(m, n, merkle.merkle_root(ENTRIES[:m]), ref_roots[n], p)


def test_consistency_edges():
    e = ENTRY_BYTES[:5]
    r5 = ref.mth(e)
    assert merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, r5, [])
    assert not merkle.verify_consistency(0, 5, r5, r5, [])
    assert merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [])
    assert not merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, r5, [])
    assert merkle.verify_consistency(5, 5, r5, r5, [])
    assert not merkle.verify_consistency(5, 5, r5, _flip(r5), [])
    assert merkle.consistency_proof(ENTRIES[:5], 0) == []
    assert merkle.consistency_proof(ENTRIES[:5], 5) == []


@settings(max_examples=60)
@given(st.integers(1, 400), st.data())
def test_proofs_hypothesis(n, data):
    ents = ENTRY_BYTES[:n]
    i = data.draw(st.integers(0, n - 1))
    m = data.draw(st.integers(0, n))
    root = ref.mth(ents)
    p = merkle.inclusion_proof(ENTRIES[:n], i)
    assert p == ref.path(i, ents)
    assert merkle.verify_inclusion(ents[i], i, n, p, root)
    c = merkle.consistency_proof(ENTRIES[:n], m)
    assert c == ref.proof(m, ents)
    assert merkle.verify_consistency(m, n, ref.mth(ents[:m]), root, c)


# ---------------------------------------------------------------- incremental tree

def test_update_small_vs_reference(backend):
    n = 1000
    t = merkle.MerkleTree(ENTRIES[:n])
    ents = list(ENTRY_BYTES[:n])
    for k in [1, 2, 5, 17, 64, 300]:
        idx = RNG.integers(0, n, k)
        new = rand_entries(k)
        t.update(idx, new)
        for i, row in zip(idx, new):
            ents[i] = bytes(row)
        assert t.root() == ref.mth_fast(ents), (backend, k)
        for i in idx[:3]:
            assert t.inclusion_proof(int(i)) == ref.path(int(i), ents)


def test_update_duplicates_last_wins():
    t = merkle.MerkleTree(ENTRIES[:10])
    new = rand_entries(3)
    t.update([4, 4, 4], new)
    ents = list(ENTRY_BYTES[:10])
    ents[4] = bytes(new[2])
    assert t.root() == ref.mth(ents)


@pytest.mark.parametrize("threads", [1, 2])
def test_update_large_batch_matches_rebuild(threads):
    n = 2**17 + 3
    e = rand_entries(n)
    t = merkle.MerkleTree(e, threads=threads)
    for k in (300, 10_000, 60_000):  # the last is above the threaded-update threshold
        idx = RNG.integers(0, n, k)
        new = rand_entries(k)
        t.update(idx, new)
        e[idx] = new  # numpy: last write wins for repeated indices too
        assert t.root() == merkle.merkle_root(e, threads=1)
    t.append(e[:5000])
    assert t.root() == merkle.merkle_root(np.concatenate([e, e[:5000]]))


def test_append_empty_and_types():
    t = merkle.MerkleTree()
    assert t.size == 0 and t.root() == merkle.EMPTY_ROOT
    t.append(np.zeros((0, 32), dtype=np.uint8))
    assert t.root() == merkle.EMPTY_ROOT
    t.update([], np.zeros((0, 32), dtype=np.uint8))
    t.append(ENTRIES[:3])
    t.update(np.array([1], dtype=np.uint16), ENTRIES[5:6])
    ents = [ENTRY_BYTES[0], ENTRY_BYTES[5], ENTRY_BYTES[2]]
    assert t.root() == ref.mth(ents)
    assert "size=3" in repr(t)


class TreeMachine(RuleBasedStateMachine):
    """Random appends and batched updates; the tree always matches the reference."""

    @initialize()
    def start(self):
        self.tree = merkle.MerkleTree()
        self.ents: list[bytes] = []

    @rule(k=st.integers(0, 40), seed=st.integers(0, 2**32 - 1))
    def append(self, k, seed):
        new = np.random.default_rng(seed).integers(0, 256, (k, 32), dtype=np.uint8)
        self.tree.append(new)
        self.ents += [bytes(r) for r in new]

    @precondition(lambda self: self.ents)
    @rule(k=st.integers(1, 30), seed=st.integers(0, 2**32 - 1))
    def update(self, k, seed):
        g = np.random.default_rng(seed)
        idx = g.integers(0, len(self.ents), k)
        new = g.integers(0, 256, (k, 32), dtype=np.uint8)
        self.tree.update(idx, new)
        for i, r in zip(idx, new):
            self.ents[i] = bytes(r)

    @precondition(lambda self: self.ents)
    @rule(data=st.data())
    def proof(self, data):
        n = len(self.ents)
        i = data.draw(st.integers(0, n - 1))
        p = self.tree.inclusion_proof(i)
        assert p == ref.path(i, self.ents)
        assert merkle.verify_inclusion(self.ents[i], i, n, p, self.tree.root())

    @invariant()
    def root_matches(self):
        assert self.tree.size == len(self.ents)
        assert self.tree.root() == ref.mth_fast(self.ents)


TestTreeMachine = TreeMachine.TestCase
TestTreeMachine.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)


# ---------------------------------------------------------------- bad input

def test_entries_validation():
    for fn in (merkle.merkle_root, merkle.MerkleTree, merkle.leaf_hashes,
               lambda e: merkle.MerkleTree().append(e)):
        with pytest.raises(TypeError, match=r"numpy uint8 array of shape \(n, 32\)"):
            fn([b"\x00" * 32])
        with pytest.raises(TypeError, match=r"numpy uint8 array"):
            fn(b"\x00" * 64)
        with pytest.raises(TypeError, match="dtype uint8"):
            fn(np.zeros((2, 32), dtype=np.int64))
        with pytest.raises(ValueError, match=r"shape \(n, 32\), got \(64,\)"):
            fn(np.zeros(64, dtype=np.uint8))
        with pytest.raises(ValueError, match=r"shape \(n, 32\), got \(2, 31\)"):
            fn(np.zeros((2, 31), dtype=np.uint8))
        with pytest.raises(ValueError, match="C-contiguous"):
            fn(np.zeros((4, 32), dtype=np.uint8)[::2])
        with pytest.raises(ValueError, match="C-contiguous"):
            fn(np.zeros((32, 2), dtype=np.uint8).T)
    with pytest.raises(ValueError, match="threads must be >= 1"):
        merkle.merkle_root(ENTRIES[:3], threads=0)


def test_proof_arguments_validation():
    e = ENTRIES[:5]
    with pytest.raises(ValueError, match="index 5 out of range for a tree of size 5"):
        merkle.inclusion_proof(e, 5)
    with pytest.raises(ValueError, match="index -1 out of range"):
        merkle.inclusion_proof(e, -1)
    with pytest.raises(ValueError, match="out of range for a tree of size 0"):
        merkle.inclusion_proof(e[:0], 0)
    with pytest.raises(TypeError, match="index must be an int"):
        merkle.inclusion_proof(e, 1.0)
    with pytest.raises(TypeError, match="not bool"):
        merkle.inclusion_proof(e, True)
    assert merkle.inclusion_proof(e, np.int64(2)) == ref.path(2, ENTRY_BYTES[:5])
    with pytest.raises(ValueError, match="old_size 6 out of range"):
        merkle.consistency_proof(e, 6)
    with pytest.raises(ValueError, match="old_size -1 out of range"):
        merkle.consistency_proof(e, -1)


def test_verify_inclusion_structural_errors():
    ents = ENTRY_BYTES[:6]
    root = ref.mth(ents)
    p = ref.path(2, ents)
    assert merkle.verify_inclusion(ents[2], 2, 6, p, root)
    assert merkle.verify_inclusion(bytearray(ents[2]), 2, 6, [memoryview(x) for x in p], np.frombuffer(root, np.uint8))
    with pytest.raises(ValueError, match="has 2 hashes; an inclusion proof for index 2 in a tree of size 6 has exactly 3"):
        merkle.verify_inclusion(ents[2], 2, 6, p[:2], root)
    with pytest.raises(ValueError, match="exactly 3"):
        merkle.verify_inclusion(ents[2], 2, 6, p + [p[0]], root)
    with pytest.raises(ValueError, match="index 6 out of range"):
        merkle.verify_inclusion(ents[2], 6, 6, p, root)
    with pytest.raises(ValueError, match="size must be >= 1"):
        merkle.verify_inclusion(ents[2], 0, 0, [], root)
    with pytest.raises(ValueError, match=r"proof\[1\] must be 32 bytes, got 31"):
        merkle.verify_inclusion(ents[2], 2, 6, [p[0], p[1][:31], p[2]], root)
    with pytest.raises(ValueError, match="root must be 32 bytes"):
        merkle.verify_inclusion(ents[2], 2, 6, p, root + b"\x00")
    with pytest.raises(ValueError, match="entry must be 32 bytes"):
        merkle.verify_inclusion(ents[2][:5], 2, 6, p, root)
    with pytest.raises(TypeError, match="entry must be a 32-byte"):
        merkle.verify_inclusion("x" * 32, 2, 6, p, root)
    with pytest.raises(TypeError, match="proof must be a list"):
        merkle.verify_inclusion(ents[2], 2, 6, b"".join(p), root)
    with pytest.raises(TypeError, match="proof must be a list"):
        merkle.verify_inclusion(ents[2], 2, 6, None, root)
    with pytest.raises(TypeError, match=r"proof\[0\] must be a 32-byte"):
        merkle.verify_inclusion(ents[2], 2, 6, [1, 2, 3], root)
    with pytest.raises(TypeError, match="size must be an int"):
        merkle.verify_inclusion(ents[2], 2, "6", p, root)
    # A well-formed proof for a different position simply fails.
    assert not merkle.verify_inclusion(ents[3], 3, 6, p, root)


def test_verify_consistency_structural_errors():
    ents = ENTRY_BYTES[:7]
    r3, r7 = ref.mth(ents[:3]), ref.mth(ents)
    p = ref.proof(3, ents)
    assert merkle.verify_consistency(3, 7, r3, r7, p)
    with pytest.raises(ValueError, match=r"need 0 <= old_size <= new_size, got old_size=8, new_size=7"):
        merkle.verify_consistency(8, 7, r3, r7, p)
    with pytest.raises(ValueError, match="need 0 <= old_size"):
        merkle.verify_consistency(-1, 7, r3, r7, p)
    with pytest.raises(ValueError, match=f"has {len(p) - 1} hashes; a consistency proof from size 3 to size 7 has exactly {len(p)}"):
        merkle.verify_consistency(3, 7, r3, r7, p[:-1])
    with pytest.raises(ValueError, match="exactly 0"):
        merkle.verify_consistency(7, 7, r7, r7, p)
    with pytest.raises(ValueError, match="exactly 0"):
        merkle.verify_consistency(0, 7, merkle.EMPTY_ROOT, r7, p)
    with pytest.raises(ValueError, match="old_root must be 32 bytes"):
        merkle.verify_consistency(3, 7, r3[:16], r7, p)
    with pytest.raises(TypeError, match="new_root must be a 32-byte"):
        merkle.verify_consistency(3, 7, r3, None, p)
    with pytest.raises(TypeError, match="old_size must be an int"):
        merkle.verify_consistency(3.0, 7, r3, r7, p)
    # Same sizes, wrong roots: False, not an exception.
    assert not merkle.verify_consistency(3, 7, r7, r3, p)


def test_update_validation_leaves_tree_unchanged():
    t = merkle.MerkleTree(ENTRIES[:10])
    before = t.root()
    with pytest.raises(ValueError, match="index 10 out of range for a tree of size 10"):
        t.update([1, 10], ENTRIES[:2])
    with pytest.raises(ValueError, match="index -1 out of range"):
        t.update(np.array([-1]), ENTRIES[:1])
    with pytest.raises(ValueError, match="2 indices, 1 entries"):
        t.update([1, 2], ENTRIES[:1])
    with pytest.raises(TypeError, match="integer array"):
        t.update(np.array([1.0]), ENTRIES[:1])
    with pytest.raises(TypeError, match="sequence of ints"):
        t.update(["a"], ENTRIES[:1])
    with pytest.raises(TypeError, match="indices must be"):
        t.update(3, ENTRIES[:1])
    with pytest.raises(ValueError, match="1-D"):
        t.update(np.zeros((1, 1), dtype=np.int64), ENTRIES[:1])
    with pytest.raises(TypeError, match="dtype uint8"):
        t.update([1], np.zeros((1, 32), dtype=np.float32))
    with pytest.raises(ValueError, match="index 10 out of range"):
        t.inclusion_proof(10)
    assert t.root() == before


@pytest.mark.parametrize("threads", [1, 2])
def test_append_unaligned_chunks(threads):
    """Appends that start and end inside the 4096-leaf work chunks, on 1 and 2 threads."""
    e = rand_entries(4 * 4096 + 8192 + 5 + 12000 + 20)
    t = merkle.MerkleTree(threads=threads)
    pos = 0
    for m in [1, 4095, 4097, 3, 8192 + 5, 12000, 1, 0, 18]:
        t.append(e[pos:pos + m])
        pos += m
        assert t.size == pos
        assert t.root() == merkle.merkle_root(e[:pos], threads=1), (m, pos)
    fresh = merkle.MerkleTree(e[:pos], threads=1)
    for i in [0, 4095, 4096, 8191, 12345, pos - 1]:
        assert t.inclusion_proof(i) == fresh.inclusion_proof(i)


_DTYPES = st.sampled_from([np.uint8, np.int8, np.uint16, np.int32, np.int64, np.float32, np.bool_])


@settings(max_examples=100)
@given(dtype=_DTYPES, shape=st.lists(st.integers(0, 40), min_size=0, max_size=3), transpose=st.booleans())
def test_any_array_is_hashed_or_rejected_cleanly(dtype, shape, transpose):
    """Arbitrary dtypes / shapes / layouts: a correct root or TypeError / ValueError."""
    arr = np.zeros(tuple(shape), dtype=dtype)
    if transpose and arr.ndim >= 2:
        arr = arr.T
    ok_shape = arr.ndim == 2 and arr.shape[1] == 32 and arr.flags.c_contiguous
    if dtype is np.uint8 and ok_shape:
        assert merkle.merkle_root(arr) == ref.mth([bytes(r) for r in arr])
        t = merkle.MerkleTree(arr)
        assert t.root() == merkle.merkle_root(arr)
        return
    for fn in (merkle.merkle_root, merkle.MerkleTree, merkle.leaf_hashes):
        with pytest.raises((TypeError, ValueError)):
            fn(arr)
    t = merkle.MerkleTree(ENTRIES[:4])
    with pytest.raises((TypeError, ValueError)):
        t.update([0], arr)
    with pytest.raises((TypeError, ValueError)):
        t.append(arr)
    assert t.root() == ref.mth(ENTRY_BYTES[:4])


@settings(max_examples=100)
@given(st.lists(st.integers(0, 80), max_size=5), st.integers(0, 1000), st.booleans())
def test_sha256_many_offsets_fuzz(lens, data_len, shuffle):
    """Random offsets, in or out of range/order: correct digests or a clean ValueError."""
    from core_ext import hashing

    off = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    if shuffle and len(off) > 2:
        off = off[::-1].copy()
    data = bytes(range(256)) * (data_len // 256 + 1)
    data = data[:data_len]
    valid = bool(np.all(np.diff(off) >= 0)) and off[0] >= 0 and off[-1] <= data_len
    if valid:
        got = hashing.sha256_many(data, off)
        assert [bytes(r) for r in got] == [hashlib.sha256(data[a:b]).digest() for a, b in itertools.pairwise(off)]
    else:
        with pytest.raises(ValueError, match="out of order or out of range"):
            hashing.sha256_many(data, off)


# ---------------------------------------------------------------- caller buffers vs the GIL

_INDICES_RACE = r"""
import sys, threading, time
import numpy as np
from core_ext import merkle
n = 1 << 16
tree = merkle.MerkleTree(np.zeros((n, 32), np.uint8), threads=1)
idx = np.arange(n, dtype=np.uint64)
ent = np.ones((n, 32), np.uint8)
stop = False
def flip():
    # Another Python thread rewrites the indices while update runs without the GIL.
    while not stop:
        idx[n // 2] = 1 << 40
        idx[n // 2] = n // 2
t = threading.Thread(target=flip)
t.start()
end = time.monotonic() + float(sys.argv[1])
try:
    while time.monotonic() < end:
        try:
            tree.update(idx, ent)
        except ValueError:
            pass
finally:
    stop = True
    t.join()
print("ok")
"""


def test_update_indices_changed_by_another_thread_do_not_crash():
    """Indices are range-checked once and must be the indices written: a caller's array
    that another thread rewrites during update may give ValueError, never a write out of
    the tree's bounds."""
    import subprocess
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    res = subprocess.run([sys.executable, "-c", _INDICES_RACE, "3"], cwd=root,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, (res.returncode, res.stderr[-2000:])
    assert res.stdout.strip() == "ok"


# ---------------------------------------------------------------- sizes near 2**64

def _uniform_tree(entry: bytes):
    """MTH of n copies of ``entry`` for any n < 2**64, without materialising the tree:
    a perfect subtree of 2**j identical entries has the same root wherever it sits."""
    perfect = [ref.leaf_hash(entry)]
    for _ in range(64):
        perfect.append(ref.node_hash(perfect[-1], perfect[-1]))

    def mth(n: int) -> bytes:
        if n & (n - 1) == 0:
            return perfect[n.bit_length() - 1]
        k = ref._split(n)
        return ref.node_hash(perfect[k.bit_length() - 1], mth(n - k))

    def path(m: int, n: int) -> list[bytes]:
        if n == 1:
            return []
        k = ref._split(n)
        return path(m, k) + [mth(n - k)] if m < k else path(m - k, n - k) + [mth(k)]

    def subproof(m: int, n: int, b: bool) -> list[bytes]:
        if m == n:
            return [] if b else [mth(m)]
        k = ref._split(n)
        if m <= k:
            return subproof(m, k, b) + [mth(n - k)]
        return subproof(m - k, n - k, False) + [mth(k)]

    return mth, path, subproof


@pytest.mark.parametrize("size", [2**63, 2**63 + 1, 2**64 - 2, 2**64 - 1])
def test_verify_inclusion_huge_sizes(size):
    """Proof lengths for sizes near 2**64 (the level width once overflowed at 2**64 - 1,
    so a valid 64-hash proof was refused as having the wrong length)."""
    entry = bytes(range(32))
    mth, path, _ = _uniform_tree(entry)
    root = mth(size)
    for index in (0, 1, size // 2, size - 2, size - 1):
        proof = path(index, size)
        assert ref.verify_inclusion(entry, index, size, proof, root)
        assert merkle.verify_inclusion(entry, index, size, proof, root)
        assert not merkle.verify_inclusion(entry, index, size, proof, ref.leaf_hash(root))


@pytest.mark.parametrize("old,new", [(1, 2**64 - 1), (2**63, 2**64 - 1), (2**63 + 1, 2**64 - 1),
                                     (3, 2**63 + 1), (2**64 - 2, 2**64 - 1)])
def test_verify_consistency_huge_sizes(old, new):
    entry = bytes(range(32))
    mth, _, subproof = _uniform_tree(entry)
    proof = subproof(old, new, True)
    assert ref.verify_consistency(old, new, mth(old), mth(new), proof)
    assert merkle.verify_consistency(old, new, mth(old), mth(new), proof)
    assert not merkle.verify_consistency(old, new, mth(old), ref.leaf_hash(mth(new)), proof)


# ---------------------------------------------------------------- integer lists (issue 12)

@pytest.mark.parametrize("indices", [[0.7], ["3"], [True], [np.float32(1)], [np.bool_(False)],
                                     [1, None]])
def test_update_index_list_takes_ints_only(indices):
    """A list is not cast: [0.7] would write index 0, ["3"] index 3."""
    t = merkle.MerkleTree(ENTRIES[:10])
    before = t.root()
    with pytest.raises(TypeError, match="indices must be a sequence of ints"):
        t.update(indices, ENTRIES[20:20 + len(indices)])
    assert t.root() == before


def test_update_index_list_of_numpy_integer_scalars():
    t = merkle.MerkleTree(ENTRIES[:10])
    t.update([np.int64(3), np.uint16(7)], ENTRIES[20:22])
    want = [bytes(r) for r in ENTRIES[:10]]
    want[3], want[7] = bytes(ENTRIES[20]), bytes(ENTRIES[21])
    assert t.root() == ref.mth(want)
    with pytest.raises(ValueError, match="int64 range"):
        t.update([2**64], ENTRIES[:1])


def test_threads_takes_numpy_integers():
    want = ref.mth(ENTRY_BYTES[:300])
    assert merkle.merkle_root(ENTRIES[:300], threads=np.int64(2)) == want
    assert merkle.MerkleTree(ENTRIES[:300], threads=np.int32(2)).root() == want
    assert [bytes(r) for r in merkle.leaf_hashes(ENTRIES[:3], threads=np.uint8(1))] == \
        [ref.leaf_hash(e) for e in ENTRY_BYTES[:3]]
    with pytest.raises(TypeError, match="threads"):
        merkle.merkle_root(ENTRIES[:3], threads=np.bool_(True))
