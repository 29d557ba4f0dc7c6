# C declarations of the SHA-256 kernel (core_ext/include/mbi_sha256.h), shared by
# core_ext.hashing and core_ext.merkle (each links its own copy of the C sources).
from libc.stdint cimport uint8_t, uint32_t, int64_t

cdef extern from "mbi_sha256.h" nogil:
    ctypedef struct mbi_sha256_impl:
        char name[40]
        const char *single
        const char *multi
        int lanes

    const mbi_sha256_impl *mbi_sha256_impl_get()
    int mbi_sha256_impls(const mbi_sha256_impl **lst, int mx)
    int mbi_sha256_set_backend(const char *name)
    void mbi_sha256(const mbi_sha256_impl *im, const uint8_t *data, size_t length, uint8_t *out)
    void mbi_sha256_padded_many(const mbi_sha256_impl *im, const uint8_t *blocks, size_t stride,
                                size_t nb, size_t n, uint8_t *out)
    void mbi_sha256_many(const mbi_sha256_impl *im, const uint8_t *data, const int64_t *off,
                         size_t n, uint8_t *out, int threads)
