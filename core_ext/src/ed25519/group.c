/* Ed25519 group arithmetic (see group.h): points, the base-point tables and the
 * self-check of the group constants.
 *
 * Group arithmetic uses extended twisted Edwards coordinates (X:Y:Z:T), x = X/Z,
 * y = Y/Z, T = XY/Z on -x^2 + y^2 = 1 + d x^2 y^2, with the Hisil-Wong-Carter-Dawson
 * (2008) unified addition and doubling. Both formulas are complete on this curve
 * (a = -1 is a square, d is not), so they are correct for every input, including the
 * small-order points an adversary may use as A or R. Nothing here is secret, so the
 * code is variable-time. */
#include "ed25519/group.h"

#include <string.h>

/* RFC 8032 base point encoding (y = 4/5, x even) */
static const uint8_t B_ENC[32] = {0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                                  0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                                  0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66};

/* ------------------------------------------------------------------ points */

void ge_identity(ge_p3 *h) {
    fe_0(&h->X); fe_1(&h->Y); fe_1(&h->Z); fe_0(&h->T);
}

void ge_add_p3(ge_p3 *r, const ge_p3 *p, const ge_p3 *q) {
    ge_cached c;
    ge_p1p1 t;
    ge_p3_to_cached(&c, q);
    ge_add_cached(&t, p, &c);
    p1p1_to_p3(r, &t);
}

void ge_dbl_p3(ge_p3 *r, const ge_p3 *p) {
    ge_p2 q;
    ge_p1p1 t;
    p3_to_p2(&q, p);
    ge_dbl(&t, &q);
    p1p1_to_p3(r, &t);
}

/* Affine point (Z = 1) to the mixed-addition form. */
void ge_affine_to_precomp(ge_precomp *r, const ge_p3 *p) {
    fe_add(&r->YpX, &p->Y, &p->X);
    fe_sub(&r->YmX, &p->Y, &p->X);
    fe_mul(&r->T2d, &p->T, &FE_D2);
}

void ge_p3_to_precomp(ge_precomp *r, const ge_p3 *p) {
    fe zi, x, y;
    ge_p3 a;
    fe_invert(&zi, &p->Z);
    fe_mul(&x, &p->X, &zi);
    fe_mul(&y, &p->Y, &zi);
    a.X = x; a.Y = y; fe_1(&a.Z); fe_mul(&a.T, &x, &y);
    ge_affine_to_precomp(r, &a);
}

/* [8]P == identity, i.e. P lies in the torsion subgroup. Identity in projective
 * coordinates is X = 0, Y = Z. */
int ge_is_small_order(const ge_p3 *p) {
    ge_p2 q;
    ge_p1p1 t;
    p3_to_p2(&q, p);
    for (int i = 0; i < 3; i++) {
        ge_dbl(&t, &q);
        p1p1_to_p2(&q, &t);
    }
    return fe_iszero(&q.X) && fe_eq(&q.Y, &q.Z);
}

/* ZIP-215 decoding: y is the low 255 bits taken mod p (non-canonical y accepted), x is
 * the square root of (y^2 - 1)/(d y^2 + 1) whose parity matches bit 255; x = 0 with the
 * sign bit set is accepted as x = 0. Returns 0 on success, -1 if no such x exists.
 * Output is affine (Z = 1). */
int ge_decode_zip215(ge_p3 *h, const uint8_t s[32]) {
    fe u, v, v3, x, vxx, one, t;
    fe_1(&one);
    fe_frombytes(&h->Y, s);
    fe_1(&h->Z);
    fe_sq(&u, &h->Y);
    fe_mul(&v, &u, &FE_D);
    fe_sub(&u, &u, &one);            /* u = y^2 - 1 */
    fe_add(&v, &v, &one);            /* v = d y^2 + 1, never 0 since -1/d is not a square */
    fe_sq(&v3, &v);
    fe_mul(&v3, &v3, &v);            /* v^3 */
    fe_sq(&x, &v3);
    fe_mul(&x, &x, &v);
    fe_mul(&x, &x, &u);              /* u v^7 */
    fe_pow22523(&x, &x);             /* (u v^7)^((p-5)/8) */
    fe_mul(&x, &x, &v3);
    fe_mul(&x, &x, &u);              /* candidate root u v^3 (u v^7)^((p-5)/8) */
    fe_sq(&vxx, &x);
    fe_mul(&vxx, &vxx, &v);
    if (!fe_eq(&vxx, &u)) {
        fe_add(&t, &vxx, &u);
        if (!fe_iszero(&t)) return -1;  /* v x^2 = -u would need sqrt(-1) too: not a square */
        fe_mul(&x, &x, &FE_SQRTM1);
    }
    if (fe_isodd(&x) != (s[31] >> 7)) fe_neg(&x, &x);
    h->X = x;
    fe_mul(&h->T, &x, &h->Y);
    return 0;
}

void ge_neg(ge_p3 *r, const ge_p3 *p) {
    fe_neg(&r->X, &p->X);
    r->Y = p->Y;
    r->Z = p->Z;
    fe_neg(&r->T, &p->T);
}

/* ------------------------------------------------------------------ base tables */

static ge_precomp B_ODD[B_TABLE_N];
static ge_p3 B_POINT;

const ge_precomp *ed25519_base_odd_table(void) { return B_ODD; }
const ge_p3 *ed25519_base_point(void) { return &B_POINT; }

/* tab[i] = (2i + 1) p, for wNAF tables. */
void ge_odd_multiples_cached(ge_cached *tab, int n, const ge_p3 *p) {
    ge_p3 p2, cur;
    ge_dbl_p3(&p2, p);
    cur = *p;
    ge_p3_to_cached(&tab[0], &cur);
    for (int i = 1; i < n; i++) {
        ge_p1p1 t;
        ge_add_cached(&t, &p2, &tab[i - 1]);
        p1p1_to_p3(&cur, &t);
        ge_p3_to_cached(&tab[i], &cur);
    }
}

/* The group constants and B: sqrt(-1), d, B's encoding, B's order. */
static int self_check(void) {
    fe t, u;
    /* sqrt(-1)^2 = -1 and d * 121666 = -121665 */
    fe_sq(&t, &FE_SQRTM1);
    fe_1(&u);
    fe_add(&t, &t, &u);
    if (!fe_iszero(&t)) return -1;
    fe c1, c2;
    fe_0(&c1); c1.v[0] = 121666;
    fe_0(&c2); c2.v[0] = 121665;
    fe_mul(&t, &FE_D, &c1);
    fe_add(&t, &t, &c2);
    if (!fe_iszero(&t)) return -1;
    /* B decodes and re-encodes to itself, is not of small order, and [l]B = O
     * (plain double-and-add, independent of the wNAF and table code). */
    if (ge_decode_zip215(&B_POINT, B_ENC) != 0) return -1;
    if (ge_is_small_order(&B_POINT)) return -1;
    uint8_t enc[32];
    fe_tobytes(enc, &B_POINT.Y);
    enc[31] |= (uint8_t)(fe_isodd(&B_POINT.X) << 7);
    if (memcmp(enc, B_ENC, 32) != 0) return -1;
    ge_p3 acc;
    ge_identity(&acc);
    for (int i = 252; i >= 0; i--) {
        ge_dbl_p3(&acc, &acc);
        if ((ED25519_L[i >> 6] >> (i & 63)) & 1) ge_add_p3(&acc, &acc, &B_POINT);
    }
    if (!fe_iszero(&acc.X) || !fe_eq(&acc.Y, &acc.Z)) return -1;
    return 0;
}

int ed25519_group_init(void) {
    if (self_check() != 0) return -1;
    ge_p3 b2, cur;
    ge_dbl_p3(&b2, &B_POINT);
    cur = B_POINT;
    for (int i = 0; i < B_TABLE_N; i++) {
        ge_p3_to_precomp(&B_ODD[i], &cur);
        ge_add_p3(&cur, &cur, &b2);
    }
    return 0;
}
