/* Ed25519 single-signature backends: the portable check (backend.c) and the AVX-512
 * IFMA kernels (ed25519_ifma.c, present only in x86-64 builds: weak symbols). They use
 * the arithmetic of group.h and nothing above it. Not a public API. */
#ifndef MBI_ED25519_BACKEND_H
#define MBI_ED25519_BACKEND_H
#include "ed25519/group.h"

/* Is [8]([s]B + [k]nA + nR) the identity? nA = -A and nR = -R, decoded points. The
 * whole single-signature equation, portable C. */
int ed25519_check_one(const ge_p3 *nA, const ge_p3 *nR, const uint64_t k[4], const uint64_t s[4]);

/* Whether the IFMA kernels are linked in and this CPU can run them. */
int ed25519_ifma_available(void);

/* ed25519_ifma.c (AVX-512 IFMA; weak: absent on other builds) */
void ed25519_ifma_init(void) __attribute__((weak));
void ed25519_ifma_decode8(ge_p3 out[8], int ok[8], const uint8_t *const enc[8]) __attribute__((weak));
void ed25519_ifma_check8(const ed25519_item *const it[8], uint8_t res[8]) __attribute__((weak));
void ed25519_ifma_hram8(uint64_t k[8][4], const uint8_t *const R[8], const uint8_t *const A[8],
                        const uint8_t *const M[8], const size_t mlen[8]) __attribute__((weak));
void ed25519_ifma_fe_test(int sq, const uint64_t a[8][5], const uint64_t b[8][5],
                          uint8_t out[8][32]) __attribute__((weak));
int ed25519_ifma_check_one(const ge_p3 *nA, const ge_p3 *nR, const uint64_t k[4],
                           const uint64_t s[4]) __attribute__((weak));
int ed25519_ifma_bucket_sum(ge_p3 *out, const ge_p3 *bucket, const uint8_t *used,
                            size_t nb) __attribute__((weak));
int ed25519_ifma_msm(ge_p3 *sum, size_t n_long, size_t n_short, const ge_p3 *const *pts,
                     const uint64_t *const *scalars, const uint64_t b[4]) __attribute__((weak));
void ed25519_ifma_bucket_add8(ge_p3 *bucket, const uint32_t bidx[8], const ge_precomp *const pts[8],
                              unsigned neg) __attribute__((weak));
#endif
