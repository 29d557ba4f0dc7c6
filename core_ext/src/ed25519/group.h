/* Ed25519 arithmetic: the group (points, group.c) and scalars mod l (scalar.c), and the
 * decoded form of one signature. The bottom layer of the verifier, above the field
 * (fe51.h): it depends on nothing else of it. Not a public API.
 *
 *   fe51.h  <-  group.h (group.c, scalar.c, keycache.c)  <-  backend.h (backend.c, ed25519_ifma.c)
 *           <-  batch.h (batch.c)  <-  ed25519.c (public API and backend dispatch)
 */
#ifndef MBI_ED25519_GROUP_H
#define MBI_ED25519_GROUP_H
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


static const fe FE_D = {{0x34dca135978a3ULL, 0x1a8283b156ebdULL, 0x5e7a26001c029ULL,
                         0x739c663a03cbbULL, 0x52036cee2b6ffULL}};
static const fe FE_SQRTM1 = {{0x61b274a0ea0b0ULL, 0x0d5a5fc8f189dULL, 0x7ef5e9cbd0c60ULL,
                              0x78595a6804c9eULL, 0x2b8324804fc1dULL}};
static const fe FE_D2 = {{0x69b9426b2f159ULL, 0x35050762add7aULL, 0x3cf44c0038052ULL,
                          0x6738cc7407977ULL, 0x2406d9dc56dffULL}};

static inline void p1p1_to_p2(ge_p2 *r, const ge_p1p1 *p) {
    fe_mul(&r->X, &p->E, &p->F);
    fe_mul(&r->Y, &p->G, &p->H);
    fe_mul(&r->Z, &p->F, &p->G);
}

static inline void p1p1_to_p3(ge_p3 *r, const ge_p1p1 *p) {
    fe_mul(&r->X, &p->E, &p->F);
    fe_mul(&r->Y, &p->G, &p->H);
    fe_mul(&r->Z, &p->F, &p->G);
    fe_mul(&r->T, &p->E, &p->H);
}

static inline void p3_to_p2(ge_p2 *r, const ge_p3 *p) {
    r->X = p->X; r->Y = p->Y; r->Z = p->Z;
}

static inline void ge_p3_to_cached(ge_cached *r, const ge_p3 *p) {
    fe_add(&r->YpX, &p->Y, &p->X);
    fe_sub(&r->YmX, &p->Y, &p->X);
    r->Z = p->Z;
    fe_mul(&r->T2d, &p->T, &FE_D2);
}

/* dbl-2008-hwcd with a = -1: E = 2XY, G = Y^2 - X^2, F = G - 2Z^2, H = -(X^2 + Y^2). */
static inline void ge_dbl(ge_p1p1 *r, const ge_p2 *p) {
    fe A, B, C, AB, s;
    fe_sq(&A, &p->X);
    fe_sq(&B, &p->Y);
    fe_sq(&C, &p->Z);
    fe_add(&C, &C, &C);
    fe_add(&AB, &A, &B);
    fe_add(&s, &p->X, &p->Y);
    fe_sq(&s, &s);
    fe_sub(&r->E, &s, &AB);
    fe_sub(&r->G, &B, &A);
    fe_sub(&r->F, &r->G, &C);
    fe_neg(&r->H, &AB);
}

/* add-2008-hwcd-3 (unified, complete): r = p + q. */
static inline void ge_add_cached(ge_p1p1 *r, const ge_p3 *p, const ge_cached *q) {
    fe A, B, C, D, t;
    fe_sub(&t, &p->Y, &p->X);
    fe_mul(&A, &t, &q->YmX);
    fe_add(&t, &p->Y, &p->X);
    fe_mul(&B, &t, &q->YpX);
    fe_mul(&C, &p->T, &q->T2d);
    fe_mul(&D, &p->Z, &q->Z);
    fe_add(&D, &D, &D);
    fe_sub(&r->E, &B, &A);
    fe_sub(&r->F, &D, &C);
    fe_add(&r->G, &D, &C);
    fe_add(&r->H, &B, &A);
}

/* r = p - q: q negated is (YmX, YpX, Z, -T2d). */
static inline void ge_sub_cached(ge_p1p1 *r, const ge_p3 *p, const ge_cached *q) {
    fe A, B, C, D, t;
    fe_sub(&t, &p->Y, &p->X);
    fe_mul(&A, &t, &q->YpX);
    fe_add(&t, &p->Y, &p->X);
    fe_mul(&B, &t, &q->YmX);
    fe_mul(&C, &p->T, &q->T2d);
    fe_mul(&D, &p->Z, &q->Z);
    fe_add(&D, &D, &D);
    fe_sub(&r->E, &B, &A);
    fe_add(&r->F, &D, &C);
    fe_sub(&r->G, &D, &C);
    fe_add(&r->H, &B, &A);
}

/* Mixed addition with an affine point (Z = 1): saves one multiplication. */
static inline void ge_add_precomp(ge_p1p1 *r, const ge_p3 *p, const ge_precomp *q) {
    fe A, B, C, D, t;
    fe_sub(&t, &p->Y, &p->X);
    fe_mul(&A, &t, &q->YmX);
    fe_add(&t, &p->Y, &p->X);
    fe_mul(&B, &t, &q->YpX);
    fe_mul(&C, &p->T, &q->T2d);
    fe_add(&D, &p->Z, &p->Z);
    fe_sub(&r->E, &B, &A);
    fe_sub(&r->F, &D, &C);
    fe_add(&r->G, &D, &C);
    fe_add(&r->H, &B, &A);
}

static inline void ge_sub_precomp(ge_p1p1 *r, const ge_p3 *p, const ge_precomp *q) {
    fe A, B, C, D, t;
    fe_sub(&t, &p->Y, &p->X);
    fe_mul(&A, &t, &q->YpX);
    fe_add(&t, &p->Y, &p->X);
    fe_mul(&B, &t, &q->YmX);
    fe_mul(&C, &p->T, &q->T2d);
    fe_add(&D, &p->Z, &p->Z);
    fe_sub(&r->E, &B, &A);
    fe_add(&r->F, &D, &C);
    fe_sub(&r->G, &D, &C);
    fe_add(&r->H, &B, &A);
}


void ge_identity(ge_p3 *h);
void ge_affine_to_precomp(ge_precomp *r, const ge_p3 *p);
void ge_p3_to_precomp(ge_precomp *r, const ge_p3 *p);
void ge_add_p3(ge_p3 *r, const ge_p3 *p, const ge_p3 *q);
void ge_dbl_p3(ge_p3 *r, const ge_p3 *p);
void ge_neg(ge_p3 *r, const ge_p3 *p);
int ge_is_small_order(const ge_p3 *p);
int ge_decode_zip215(ge_p3 *h, const uint8_t s[32]);
void ge_odd_multiples_cached(ge_cached *tab, int n, const ge_p3 *p);

/* l = 2^252 + 27742317777372353535851937790883648493, little-endian 64-bit limbs */
extern const uint64_t ED25519_L[4];
void sc_from_bytes(uint64_t r[4], const uint8_t s[32]);
int sc_is_canonical(const uint64_t s[4]);
void sc_reduce_wide(uint64_t r[4], const uint64_t x[8]);
void sc_mul(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]);
void sc_hram(uint64_t k[4], const uint8_t R[32], const uint8_t A[32], const uint8_t *m, size_t mlen);
void sc_wnaf(int8_t naf[257], const uint64_t s[4], int w);

/* The base point B and its odd multiples 1B, 3B, ..., 127B (wNAF width 8), built and
 * checked by ed25519_group_init (group constants, B's encoding and order): 0, or -1 if
 * the self-check failed. Call once, before anything else here (ed25519.c does). */
#define B_WNAF_W 8
#define B_TABLE_N (1 << (B_WNAF_W - 2))
int ed25519_group_init(void);
const ge_precomp *ed25519_base_odd_table(void);
const ge_p3 *ed25519_base_point(void);

/* Decode and hash one item. Returns 1 if it passed the format checks (S < l, A and R
 * decode); then nA, nR, k, s are filled. (scalar.c) */
int ed25519_prepare(ed25519_item *it, const uint8_t pk[32], const uint8_t *msg, size_t mlen,
                    const uint8_t sig[64]);
#endif
