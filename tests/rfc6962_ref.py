"""Independent pure-Python RFC 6962 reference (hashlib only), written straight from the
RFC's recursive definitions (§2.1, §2.1.1, §2.1.2) and the verification algorithms of
RFC 9162 (§2.1.3.2, §2.1.4.2). Used by the tests as the oracle for core_ext.merkle and by
the benchmarks as the pure-Python baseline.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly below n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(entries: Sequence[bytes]) -> bytes:
    """Merkle Tree Hash, recursive as in RFC 6962 §2.1."""
    n = len(entries)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hash(entries[0])
    k = _split(n)
    return node_hash(mth(entries[:k]), mth(entries[k:]))


def mth_fast(entries: Sequence[bytes]) -> bytes:
    """The same root computed level by level (what a careful pure-Python node would do);
    the benchmark baseline. Equal to mth() for every n."""
    if not entries:
        return EMPTY_ROOT
    sha = hashlib.sha256
    level = [sha(b"\x00" + e).digest() for e in entries]
    while len(level) > 1:
        nxt = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) & 1:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def path(m: int, entries: Sequence[bytes]) -> list[bytes]:
    """Audit path PATH(m, D[n]), RFC 6962 §2.1.1."""
    n = len(entries)
    if n <= 1:
        return []
    k = _split(n)
    if m < k:
        return path(m, entries[:k]) + [mth(entries[k:])]
    return path(m - k, entries[k:]) + [mth(entries[:k])]


def proof(m: int, entries: Sequence[bytes]) -> list[bytes]:
    """Consistency proof PROOF(m, D[n]), RFC 6962 §2.1.2 (empty for m == 0 or m == n)."""
    if m == 0 or m == len(entries):
        return []
    return _subproof(m, entries, True)


def _subproof(m: int, entries: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if b else [mth(entries)]
    k = _split(n)
    if m <= k:
        return _subproof(m, entries[:k], b) + [mth(entries[k:])]
    return _subproof(m - k, entries[k:], False) + [mth(entries[:k])]


def verify_inclusion(entry: bytes, index: int, size: int, proof_: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash(entry)
    for p in proof_:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(m: int, n: int, old_root: bytes, new_root: bytes, proof_: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2 (0 < m < n)."""
    if not 0 < m < n or not proof_:
        return False
    path_ = list(proof_)
    if m & (m - 1) == 0:
        path_.insert(0, old_root)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path_[0]
    for c in path_[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


class RefTree:
    """A pure-Python incremental tree with every level stored (lists of bytes), the same
    design as core_ext.merkle.MerkleTree: the benchmark baseline for batched updates."""

    def __init__(self, entries: Sequence[bytes] = ()) -> None:
        sha = hashlib.sha256
        self.levels: list[list[bytes]] = [[sha(b"\x00" + e).digest() for e in entries]]
        while len(self.levels[-1]) > 1:
            lv = self.levels[-1]
            nxt = [sha(b"\x01" + lv[i] + lv[i + 1]).digest() for i in range(0, len(lv) - 1, 2)]
            if len(lv) & 1:
                nxt.append(lv[-1])
            self.levels.append(nxt)

    def root(self) -> bytes:
        return self.levels[-1][0] if self.levels[0] else EMPTY_ROOT

    def update(self, indices: Sequence[int], entries: Sequence[bytes]) -> None:
        sha = hashlib.sha256
        leaves = self.levels[0]
        for i, e in zip(indices, entries):
            leaves[i] = sha(b"\x00" + e).digest()
        dirty = sorted(set(indices))
        for lvl in range(1, len(self.levels)):
            below, here = self.levels[lvl - 1], self.levels[lvl]
            dirty = sorted({i >> 1 for i in dirty})
            for j in dirty:
                if 2 * j + 1 < len(below):
                    here[j] = sha(b"\x01" + below[2 * j] + below[2 * j + 1]).digest()
                else:
                    here[j] = below[2 * j]
