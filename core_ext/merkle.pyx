# cython: language_level=3
"""RFC 6962 Merkle trees over 32-byte entries (e.g. transaction hashes, account hashes).

leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 || left || right); the tree over n
entries splits at the largest power of two below n, with no duplicated nodes; the empty
tree's root is SHA-256(b""). Proofs follow RFC 6962 §2.1.1 (audit paths) and §2.1.2
(consistency), verified as in RFC 9162 §2.1.3.2 / §2.1.4.2. See docs/merkle.md.

Every hash is batched through the native SHA-256 kernels (``backend()``); large trees
use several threads with the GIL released. No OpenSSL.
"""
from cpython.buffer cimport PyObject_CheckBuffer, PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from libc.stdint cimport uint8_t, uint64_t, int64_t
from libc.string cimport memcpy, memcmp

import operator

import numpy as np


include "_intargs.pxi"
include "_sha256_common.pxi"

__all__ = [
    "merkle_root", "inclusion_proof", "verify_inclusion", "consistency_proof",
    "verify_consistency", "leaf_hash", "node_hash", "leaf_hashes", "MerkleTree", "EMPTY_ROOT", "backend",
]

# Below this many entries a call keeps the GIL (the work is shorter than the switch).
cdef enum:
    NOGIL_MIN = 256

EMPTY_ROOT = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


# ---------------------------------------------------------------- argument checks

cdef object _entries(object obj, str what="entries"):
    """An (n, 32) uint8 C-contiguous ndarray, or a clear TypeError / ValueError."""
    if not isinstance(obj, np.ndarray):
        raise TypeError(f"{what} must be a numpy uint8 array of shape (n, 32), "
                        f"not {type(obj).__name__}")
    if obj.dtype != np.uint8:
        raise TypeError(f"{what} must have dtype uint8, got {obj.dtype}")
    if obj.ndim != 2 or obj.shape[1] != 32:
        raise ValueError(f"{what} must have shape (n, 32), got {obj.shape}")
    if not obj.flags.c_contiguous:
        raise ValueError(f"{what} must be C-contiguous (use np.ascontiguousarray)")
    return obj


cdef inline const uint8_t *_ptr(const uint8_t[:, ::1] mv):
    return &mv[0, 0] if mv.shape[0] > 0 else NULL


cdef object _int(object v, str what):
    if isinstance(v, bool):
        raise TypeError(f"{what} must be an int, not bool")
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError(f"{what} must be an int, not {type(v).__name__}") from None


cdef bytes _hash32(object v, str what):
    """A 32-byte hash from a bytes-like object."""
    if isinstance(v, str) or not PyObject_CheckBuffer(v):
        raise TypeError(f"{what} must be a 32-byte bytes-like object, not {type(v).__name__}")
    try:
        b = bytes(memoryview(v).cast("B")) if not isinstance(v, bytes) else v
    except (TypeError, ValueError, BufferError) as exc:
        raise ValueError(f"{what} must be a C-contiguous 32-byte buffer ({exc})") from None
    if len(b) != 32:
        raise ValueError(f"{what} must be 32 bytes, got {len(b)}")
    return b


cdef list _proof_list(object proof, str what="proof"):
    if isinstance(proof, (bytes, bytearray, memoryview, str)) or not isinstance(proof, (list, tuple)):
        raise TypeError(f"{what} must be a list of 32-byte hashes, not {type(proof).__name__}")
    return [_hash32(p, f"{what}[{i}]") for i, p in enumerate(proof)]


# ---------------------------------------------------------------- hashing helpers

cdef void _leaf(const uint8_t *entry, uint8_t *out) noexcept nogil:
    cdef uint8_t buf[33]
    buf[0] = 0
    memcpy(&buf[1], entry, 32)
    mbi_sha256(NULL, buf, 33, out)


cdef void _node(const uint8_t *l, const uint8_t *r, uint8_t *out) noexcept nogil:
    cdef uint8_t buf[65]
    buf[0] = 1
    memcpy(&buf[1], l, 32)
    memcpy(&buf[33], r, 32)
    mbi_sha256(NULL, buf, 65, out)


def leaf_hash(entry):
    """RFC 6962 leaf hash of one 32-byte entry: SHA-256(0x00 || entry)."""
    cdef bytes e = _hash32(entry, "entry")
    out = PyBytes_FromStringAndSize(NULL, 32)
    _leaf(<const uint8_t *>PyBytes_AS_STRING(e), <uint8_t *>PyBytes_AS_STRING(out))
    return out


def node_hash(left, right):
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    cdef bytes l = _hash32(left, "left")
    cdef bytes r = _hash32(right, "right")
    out = PyBytes_FromStringAndSize(NULL, 32)
    _node(<const uint8_t *>PyBytes_AS_STRING(l), <const uint8_t *>PyBytes_AS_STRING(r),
          <uint8_t *>PyBytes_AS_STRING(out))
    return out


def leaf_hashes(entries, *, threads=None):
    """Leaf hashes of every entry of an (n, 32) uint8 array, as an (n, 32) uint8 array."""
    arr = _entries(entries)
    cdef const uint8_t[:, ::1] mv = arr
    cdef size_t n = mv.shape[0]
    cdef int nt = _threads(threads)
    res = np.empty((n, 32), dtype=np.uint8)
    cdef uint8_t[:, ::1] o = res
    if n:
        with nogil:
            mbi_merkle_leaves(NULL, &mv[0, 0], n, &o[0, 0], nt)
    return res


# ---------------------------------------------------------------- roots and proofs

def merkle_root(entries, *, threads=None):
    """RFC 6962 Merkle Tree Hash of an (n, 32) uint8 array of entries (n may be 0).

    ``threads``: at most this many threads (default: the shared pool size,
    ``core_ext.threads()``); the result does not depend on it.
    """
    arr = _entries(entries)
    cdef const uint8_t[:, ::1] mv = arr
    cdef size_t n = mv.shape[0]
    cdef int nt = _threads(threads)
    cdef int rc
    out = PyBytes_FromStringAndSize(NULL, 32)
    cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
    cdef const uint8_t *p = _ptr(mv)
    if n >= NOGIL_MIN:
        with nogil:
            rc = mbi_merkle_root(NULL, p, n, nt, o)
    else:
        rc = mbi_merkle_root(NULL, p, n, 1, o)
    if rc != 0:
        raise MemoryError("merkle_root: out of memory")
    return out


cdef list _hash_list(const uint8_t *buf, size_t k):
    return [PyBytes_FromStringAndSize(<const char *>buf + 32 * i, 32) for i in range(k)]


def inclusion_proof(entries, index):
    """RFC 6962 audit path PATH(index, D[n]) for entry ``index`` of ``entries``.

    The sibling hashes from the leaf level upwards. Raises ValueError unless
    0 <= index < n.
    """
    tree = MerkleTree(entries)
    return tree.inclusion_proof(index)


def consistency_proof(entries, old_size):
    """RFC 6962 consistency proof PROOF(old_size, D[n]) between the tree over the first
    ``old_size`` entries and the tree over all n entries.

    Empty when old_size is 0 or n. Raises ValueError unless 0 <= old_size <= n.
    """
    tree = MerkleTree(entries)
    return tree.consistency_proof(old_size)


def verify_inclusion(entry, index, size, proof, root):
    """Whether ``proof`` shows that ``entry`` (32 bytes) is entry ``index`` of the tree of
    ``size`` entries whose root is ``root``.

    Returns False for a proof that does not verify. Raises for arguments no proof could
    satisfy: TypeError for wrong types; ValueError unless 0 <= index < size, when
    ``entry``, ``root`` or a proof element is not 32 bytes, or when ``len(proof)`` is not
    the audit-path length for (index, size).
    """
    cdef bytes e = _hash32(entry, "entry")
    cdef bytes rt = _hash32(root, "root")
    idx = _int(index, "index")
    sz = _int(size, "size")
    if sz < 1 or sz > 0xFFFFFFFFFFFFFFFF:
        raise ValueError(f"size must be >= 1 (a tree holding the entry), got {sz}")
    if not 0 <= idx < sz:
        raise ValueError(f"index {idx} out of range for a tree of size {sz}")
    path = _proof_list(proof)
    cdef size_t want = mbi_merkle_inclusion_len(idx, sz)
    if <size_t>len(path) != want:
        raise ValueError(f"proof has {len(path)} hashes; an inclusion proof for index {idx} "
                         f"in a tree of size {sz} has exactly {want}")
    cdef uint64_t fn = idx, sn = sz - 1
    cdef uint8_t r[32]
    cdef const uint8_t *c
    _leaf(<const uint8_t *>PyBytes_AS_STRING(e), r)
    for item in path:
        c = <const uint8_t *>PyBytes_AS_STRING(<bytes>item)
        if sn == 0:
            return False
        if (fn & 1) or fn == sn:
            _node(c, r, r)
            while not (fn & 1) and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            _node(r, c, r)
        fn >>= 1
        sn >>= 1
    return sn == 0 and memcmp(r, <const uint8_t *>PyBytes_AS_STRING(rt), 32) == 0


def verify_consistency(old_size, new_size, old_root, new_root, proof):
    """Whether ``proof`` shows that the tree of ``old_size`` entries with root ``old_root``
    is a prefix of the tree of ``new_size`` entries with root ``new_root``.

    With old_size == new_size the proof is empty and the roots must be equal; with
    old_size == 0 the proof is empty and old_root must be the empty-tree root. Returns
    False for a proof that does not verify. Raises TypeError for wrong types, and
    ValueError unless 0 <= old_size <= new_size, when a root or a proof element is not 32
    bytes, or when ``len(proof)`` is not the consistency-proof length for the two sizes.
    """
    m = _int(old_size, "old_size")
    n = _int(new_size, "new_size")
    cdef bytes r1 = _hash32(old_root, "old_root")
    cdef bytes r2 = _hash32(new_root, "new_root")
    if m < 0 or n > 0xFFFFFFFFFFFFFFFF or m > n:
        raise ValueError(f"need 0 <= old_size <= new_size, got old_size={m}, new_size={n}")
    path = _proof_list(proof)
    cdef size_t want = 0 if (m == 0 or m == n) else mbi_merkle_consistency_len(m, n)
    if <size_t>len(path) != want:
        raise ValueError(f"proof has {len(path)} hashes; a consistency proof from size {m} "
                         f"to size {n} has exactly {want}")
    if m == 0:
        return r1 == EMPTY_ROOT and (n > 0 or r2 == EMPTY_ROOT)
    if m == n:
        return r1 == r2
    if m & (m - 1) == 0:
        path.insert(0, r1)
    cdef uint64_t fn = m - 1, sn = n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    cdef uint8_t fr[32]
    cdef uint8_t sr[32]
    memcpy(fr, <const uint8_t *>PyBytes_AS_STRING(<bytes>path[0]), 32)
    memcpy(sr, fr, 32)
    cdef const uint8_t *c
    for item in path[1:]:
        c = <const uint8_t *>PyBytes_AS_STRING(<bytes>item)
        if sn == 0:
            return False
        if (fn & 1) or fn == sn:
            _node(c, fr, fr)
            _node(c, sr, sr)
            while not (fn & 1) and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            _node(sr, c, sr)
        fn >>= 1
        sn >>= 1
    return (sn == 0 and memcmp(fr, <const uint8_t *>PyBytes_AS_STRING(r1), 32) == 0
            and memcmp(sr, <const uint8_t *>PyBytes_AS_STRING(r2), 32) == 0)


# ---------------------------------------------------------------- incremental tree

cdef class MerkleTree:
    """An RFC 6962 tree that is changed in place: append entries, update entries.

    Every level is stored (about 64 bytes per entry), so a change rehashes only the paths
    above it: appending m entries costs O(m + log n) hashes, updating k entries at most
    k * log2(n) (paths that meet are hashed once). ``root()`` and proofs are O(log n).

    Not safe for concurrent use: a call made while another thread is inside a method of
    the same tree raises RuntimeError rather than corrupting it.
    """
    def __cinit__(self):
        mbi_mtree_init(&self.t)
        self.busy = False

    def __dealloc__(self):
        mbi_mtree_free(&self.t)

    def __init__(self, entries=None, *, threads=None):
        """``entries``: optional (n, 32) uint8 array to start from. ``threads``: threads for
        large changes (default: the shared pool size, ``core_ext.threads()``)."""
        self.nthreads = _threads(threads)
        if entries is not None:
            self.append(entries)

    cdef int _enter(self) except -1:
        if self.busy:
            raise RuntimeError("MerkleTree is in use by another thread")
        self.busy = True
        return 0

    @property
    def size(self):
        """Number of entries."""
        return self.t.n

    def __len__(self):
        return self.t.n

    def __repr__(self):
        return f"MerkleTree(size={self.t.n}, root={self.root().hex()})"

    def append(self, entries):
        """Append the rows of an (m, 32) uint8 array as new entries."""
        arr = _entries(entries)
        cdef const uint8_t[:, ::1] mv = arr
        cdef size_t m = mv.shape[0]
        cdef int rc = 0
        if m == 0:
            return
        self._enter()
        try:
            if m >= NOGIL_MIN:
                with nogil:
                    rc = mbi_mtree_append(&self.t, NULL, &mv[0, 0], m, self.nthreads)
            else:
                rc = mbi_mtree_append(&self.t, NULL, &mv[0, 0], m, 1)
        finally:
            self.busy = False
        if rc != 0:
            raise MemoryError("MerkleTree.append: out of memory")

    def update(self, indices, entries):
        """Set entry ``indices[i]`` to ``entries[i]`` for every i, in one batch.

        ``indices``: 1-D integer array (or list) of k positions, each 0 <= index < size;
        ``entries``: (k, 32) uint8 array. A position listed twice takes its last entry.
        """
        arr = _entries(entries)
        if isinstance(indices, np.ndarray):
            if indices.dtype.kind not in "iu":
                raise TypeError(f"indices must be an integer array, got dtype {indices.dtype}")
            # A private copy: the indices are range-checked, then written through without
            # the GIL; another thread rewriting the caller's array in between must not
            # turn into a write outside the tree.
            idx = indices.copy()
        elif isinstance(indices, (list, tuple)):
            idx = _int64_seq(indices, "indices")
        else:
            raise TypeError(f"indices must be an integer numpy array or a list of ints, "
                            f"not {type(indices).__name__}")
        if idx.ndim != 1:
            raise ValueError(f"indices must be 1-D, got shape {idx.shape}")
        cdef size_t k = idx.shape[0]
        if <size_t>arr.shape[0] != k:
            raise ValueError(f"indices and entries disagree: {k} indices, {arr.shape[0]} entries")
        if k == 0:
            return
        lo = int(idx.min())
        hi = int(idx.max())
        if lo < 0 or hi >= <object>self.t.n:
            bad = lo if lo < 0 else hi
            raise ValueError(f"index {bad} out of range for a tree of size {self.t.n}")
        idx64 = np.ascontiguousarray(idx, dtype=np.uint64)
        cdef const uint64_t[::1] iv = idx64
        cdef const uint8_t[:, ::1] mv = arr
        cdef int rc = 0
        self._enter()
        try:
            if k >= NOGIL_MIN:
                with nogil:
                    rc = mbi_mtree_update(&self.t, NULL, &iv[0], &mv[0, 0], k, self.nthreads)
            else:
                rc = mbi_mtree_update(&self.t, NULL, &iv[0], &mv[0, 0], k, 1)
        finally:
            self.busy = False
        if rc != 0:
            raise MemoryError("MerkleTree.update: out of memory")

    def root(self):
        """The RFC 6962 root (SHA-256(b"") for the empty tree)."""
        out = PyBytes_FromStringAndSize(NULL, 32)
        self._enter()
        mbi_mtree_root(&self.t, <uint8_t *>PyBytes_AS_STRING(out))
        self.busy = False
        return out

    def inclusion_proof(self, index):
        """RFC 6962 audit path for entry ``index`` (0 <= index < size), leaf level first."""
        i = _int(index, "index")
        if not 0 <= i < self.t.n:
            raise ValueError(f"index {i} out of range for a tree of size {self.t.n}")
        cdef uint8_t buf[64 * 32]
        self._enter()
        cdef size_t k = mbi_mtree_inclusion(&self.t, i, buf)
        self.busy = False
        return _hash_list(buf, k)

    def consistency_proof(self, old_size):
        """RFC 6962 consistency proof from the first ``old_size`` entries to the whole tree.

        Meaningful when the tree has only been appended to since it had ``old_size``
        entries (``update`` rewrites history). Empty when old_size is 0 or size; raises
        ValueError unless 0 <= old_size <= size.
        """
        m = _int(old_size, "old_size")
        if not 0 <= m <= self.t.n:
            raise ValueError(f"old_size {m} out of range for a tree of size {self.t.n}")
        if m == 0 or m == self.t.n:
            return []
        cdef uint8_t buf[130 * 32]
        self._enter()
        cdef size_t k = mbi_mtree_consistency(&self.t, m, buf)
        self.busy = False
        return _hash_list(buf, k)
