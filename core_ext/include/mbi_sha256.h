/* SHA-256 (FIPS 180-4) for core_ext: one message, many messages, and the building
 * blocks the Merkle kernel batches its node hashes through.
 *
 * Implementations
 *   single-stream:  portable C (everywhere), x86 SHA-NI (sha256_shani.c, also a
 *                   two-stream interleaved variant), ARMv8 crypto extension (same file).
 *   multi-buffer:   AVX-512 16 lanes (sha256_avx512.c), AVX2 8 lanes (sha256_avx2.c):
 *                   N independent messages hashed in lockstep, one message per 32-bit lane.
 * Each arch file compiles to stubs (has_* returns 0) where its target is absent, so every
 * build links the same symbols; which one runs is chosen at run time from CPUID
 * (mbi_cpu.h) and can be overridden with mbi_sha256_set_backend() (tests).
 *
 * A "backend" is a single-stream implementation plus an optional multi-buffer one, named
 * "<multi>+<single>" or just "<single>": "avx512x16+sha_ni", "sha_ni", "portable", ...
 * Batches go through the multi-buffer kernel in groups of its lane count; the remainder
 * and single messages go through the single-stream one.
 *
 * Every function here is thread-safe and never touches Python: callers release the GIL. */
#ifndef MBI_SHA256_H
#define MBI_SHA256_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MBI_SHA256_MAX_LANES 16

extern const uint32_t mbi_sha256_K[64];
extern const uint32_t mbi_sha256_IV[8];

/* ---- kernels (one 64-byte block at a time, state in native word order) ---- */
typedef void (*mbi_sha256_compress_fn)(uint32_t st[8], const uint8_t *blocks, size_t nblocks);
/* Two independent streams of the same number of blocks, interleaved. */
typedef void (*mbi_sha256_compress2_fn)(uint32_t a[8], uint32_t b[8], const uint8_t *pa,
                                        const uint8_t *pb, size_t nblocks);
/* N lanes in lockstep; st is lane-major per word: st[w * N + lane]. Absorbs nblocks blocks
 * per lane, lane l reading p[l], p[l] + 64, ...; from_iv: start from the IV instead of
 * loading st (st is still written at the end). */
typedef void (*mbi_sha256_xn_fn)(uint32_t *st, const uint8_t *const *p, size_t nblocks,
                                 int from_iv);
/* Writes lane l's digest (big-endian bytes) to out[l]. */
typedef void (*mbi_sha256_xn_out_fn)(const uint32_t *st, uint8_t *const *out);
/* A block with the same, precomputed message words in every lane: wk[t] = K[t] + W[t]. */
typedef void (*mbi_sha256_xn_wk_fn)(uint32_t *st, const uint32_t *wk, int from_iv);
/* Batches of n messages (n a multiple of the lane count; a remainder is ignored), from the
 * IV, digest i to out[i]. Shapes of RFC 6962: node64 hashes 0x01 || p[i][0..64), leaf32
 * hashes 0x00 || p[i][0..32). Reads of a lane group happen before its writes and before
 * the next group's writes, so a Merkle level may be reduced in place. */
typedef void (*mbi_sha256_xn_msg_fn)(const uint8_t *const *p, uint8_t *const *out, size_t n);
/* n messages of nb >= 1 whole blocks at p[i], then the precomputed block wk (if not NULL). */
typedef void (*mbi_sha256_xn_many_fn)(const uint8_t *const *p, size_t n, size_t nb,
                                      const uint32_t *wk, uint8_t *const *out);

void mbi_sha256_compress_portable(uint32_t st[8], const uint8_t *blocks, size_t nblocks);

int mbi_sha256_has_shani(void); /* compiled in (x86-64 build) */
void mbi_sha256_compress_shani(uint32_t st[8], const uint8_t *blocks, size_t nblocks);
void mbi_sha256_compress2_shani(uint32_t a[8], uint32_t b[8], const uint8_t *pa,
                                const uint8_t *pb, size_t nblocks);

int mbi_sha256_has_armce(void); /* compiled in (AArch64 build) */
void mbi_sha256_compress_armce(uint32_t st[8], const uint8_t *blocks, size_t nblocks);
void mbi_sha256_compress2_armce(uint32_t a[8], uint32_t b[8], const uint8_t *pa,
                                const uint8_t *pb, size_t nblocks);

int mbi_sha256_has_avx512(void);
void mbi_sha256_x16_avx512(uint32_t *st, const uint8_t *const *p, size_t nblocks, int from_iv);
void mbi_sha256_x16_avx512_out(const uint32_t *st, uint8_t *const *out);
void mbi_sha256_x16_avx512_wk(uint32_t *st, const uint32_t *wk, int from_iv);
void mbi_sha256_x16_avx512_node64(const uint8_t *const *p, uint8_t *const *out, size_t n);
void mbi_sha256_x16_avx512_leaf32(const uint8_t *const *p, uint8_t *const *out, size_t n);
void mbi_sha256_x16_avx512_many(const uint8_t *const *p, size_t n, size_t nb, const uint32_t *wk,
                                uint8_t *const *out);

int mbi_sha256_has_avx2(void);
void mbi_sha256_x8_avx2(uint32_t *st, const uint8_t *const *p, size_t nblocks, int from_iv);
void mbi_sha256_x8_avx2_out(const uint32_t *st, uint8_t *const *out);

/* ---- backends ---- */
typedef struct {
    char name[40];
    const char *single;              /* "portable" | "sha_ni" | "arm_sha2" */
    const char *multi;               /* NULL | "avx2x8" | "avx512x16" */
    mbi_sha256_compress_fn compress;
    mbi_sha256_compress2_fn compress2; /* NULL if the single kernel has no 2-stream form */
    int lanes;                       /* 0 (no multi-buffer), 8 or 16 */
    mbi_sha256_xn_fn xn;
    mbi_sha256_xn_out_fn xn_out;
    mbi_sha256_xn_wk_fn xn_wk;       /* optional (NULL) */
    mbi_sha256_xn_msg_fn xn_node64;  /* optional (NULL) */
    mbi_sha256_xn_msg_fn xn_leaf32;  /* optional (NULL) */
    mbi_sha256_xn_many_fn xn_many;   /* optional (NULL) */
} mbi_sha256_impl;

/* The backend in use (chosen from CPUID on first call unless set). Never NULL. */
const mbi_sha256_impl *mbi_sha256_impl_get(void);
/* Every backend this CPU can run, best first; returns the count (<= 16). */
int mbi_sha256_impls(const mbi_sha256_impl **list, int max);
/* Select by name ("auto" = the CPUID choice). Returns 0, or -1 if unknown/unavailable. */
int mbi_sha256_set_backend(const char *name);

/* ---- hashing (im == NULL means the current backend) ---- */
void mbi_sha256(const mbi_sha256_impl *im, const uint8_t *data, size_t len, uint8_t out[32]);

/* n messages of `nb` pre-padded blocks each, message i at blocks + i * stride;
 * digest i to out + 32 * i. */
void mbi_sha256_padded_many(const mbi_sha256_impl *im, const uint8_t *blocks, size_t stride,
                            size_t nb, size_t n, uint8_t *out);

/* Message i = data[off[i] : off[i+1]] (offsets already validated: non-decreasing, in
 * range). Digest i to out + 32 * i. Splits across `threads` threads when worth it. */
void mbi_sha256_many(const mbi_sha256_impl *im, const uint8_t *data, const int64_t *off,
                     size_t n, uint8_t *out, int threads);

#ifdef __cplusplus
}
#endif
#endif
