# C declarations of the Merkle kernel (core_ext/include/mbi_merkle.h) and the MerkleTree
# extension type, for Cython code that wants the tree without Python calls.
from libc.stdint cimport uint8_t, uint64_t

from core_ext.hashing cimport (mbi_sha256_impl, mbi_sha256_impl_get, mbi_sha256_impls,
                              mbi_sha256_set_backend, mbi_sha256)

cdef extern from "mbi_merkle.h" nogil:
    ctypedef struct mbi_mtree:
        uint64_t n
        int nlev
    void mbi_merkle_leaves(const mbi_sha256_impl *im, const uint8_t *entries, size_t n,
                           uint8_t *out, int threads)
    int mbi_merkle_root(const mbi_sha256_impl *im, const uint8_t *entries, size_t n,
                        int threads, uint8_t *out)
    size_t mbi_merkle_inclusion_len(uint64_t index, uint64_t size)
    size_t mbi_merkle_consistency_len(uint64_t m, uint64_t n)
    void mbi_mtree_init(mbi_mtree *t)
    void mbi_mtree_free(mbi_mtree *t)
    int mbi_mtree_append(mbi_mtree *t, const mbi_sha256_impl *im, const uint8_t *entries,
                         size_t m, int threads)
    int mbi_mtree_update(mbi_mtree *t, const mbi_sha256_impl *im, const uint64_t *idx,
                         const uint8_t *entries, size_t k, int threads)
    void mbi_mtree_root(const mbi_mtree *t, uint8_t *out)
    size_t mbi_mtree_inclusion(const mbi_mtree *t, uint64_t index, uint8_t *out)
    size_t mbi_mtree_consistency(const mbi_mtree *t, uint64_t m, uint8_t *out)


cdef class MerkleTree:
    cdef mbi_mtree t
    cdef int nthreads
    cdef bint busy
    cdef int _enter(self) except -1
