/* Internal interfaces shared by the Ed25519 translation units (not a public API). */
#ifndef MBI_ED25519_INTERNAL_H
#define MBI_ED25519_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include "ed25519/fe51.h"

typedef struct { fe X, Y, Z, T; } ge_p3;          /* extended: x=X/Z, y=Y/Z, xy=T/Z */
typedef struct { fe X, Y, Z; } ge_p2;             /* projective */
typedef struct { fe E, F, G, H; } ge_p1p1;        /* completed: X=EF, Y=GH, Z=FG, T=EH */
typedef struct { fe YpX, YmX, Z, T2d; } ge_cached; /* addition operand */
typedef struct { fe YpX, YmX, T2d; } ge_precomp;   /* addition operand with Z = 1 */

/* One signature after decoding: the negated points and the two scalars. */
typedef struct {
    ge_p3 nA, nR;       /* -A, -R, affine (Z = 1) */
    uint64_t k[4];      /* SHA-512(R || A || M) mod l */
    uint64_t s[4];      /* S, < l */
} ed25519_item;

void ge_identity(ge_p3 *h);
void ge_p3_to_cached(ge_cached *r, const ge_p3 *p);
void ge_affine_to_precomp(ge_precomp *r, const ge_p3 *p);
void ge_add_p3(ge_p3 *r, const ge_p3 *p, const ge_p3 *q);
void ge_dbl_p3(ge_p3 *r, const ge_p3 *p);
void ge_neg(ge_p3 *r, const ge_p3 *p);
int ge_is_small_order(const ge_p3 *p);
int ge_decode_zip215(ge_p3 *h, const uint8_t s[32]);
void ge_odd_multiples_cached(ge_cached *tab, int n, const ge_p3 *p);

void sc_from_bytes(uint64_t r[4], const uint8_t s[32]);
int sc_is_canonical(const uint64_t s[4]);
void sc_reduce_wide(uint64_t r[4], const uint64_t x[8]);
void sc_mul(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]);
void sc_hram(uint64_t k[4], const uint8_t R[32], const uint8_t A[32], const uint8_t *m, size_t mlen);
void sc_wnaf(int8_t naf[257], const uint64_t s[4], int w);

const ge_precomp *ed25519_base_odd_table(void); /* 1B, 3B, ..., 127B */
const ge_p3 *ed25519_base_point(void);

int ed25519_prepare(ed25519_item *it, const uint8_t pk[32], const uint8_t *msg, size_t mlen,
                    const uint8_t sig[64]);
int ed25519_check_one(const ge_p3 *nA, const ge_p3 *nR, const uint64_t k[4], const uint64_t s[4]);
int ed25519_os_random(uint8_t *buf, size_t n);
int ed25519_current_backend(void);
int ed25519_ifma_available(void);

/* Batch-verify items [begin, end) into out[begin..end); batch.c. Returns -1 only if
 * memory ran out. */
int ed25519_batch_range(size_t begin, size_t end, const uint8_t *pks,
                        const uint8_t *const *msgs, const size_t *lens, const uint8_t *sigs,
                        uint8_t *out);
#endif
