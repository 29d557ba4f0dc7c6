/* AVX-512 IFMA backend: eight independent field elements per register.
 *
 * Same radix 2^51, five-limb representation as fe51.h, one limb of eight lanes per
 * __m512i, so lanes convert to and from the scalar code by a transpose and every
 * result is bit-for-bit the value the scalar formulas give mod p. vpmadd52luq/huq
 * read only the low 52 bits of each operand, so every multiplication input here is
 * kept below 2^52: fe8_add and fe8_sub end with a carry pass (limbs < 2^51 + 2^18).
 *
 * Used for (1) decoding eight points at a time (the square-root exponentiation is the
 * largest fixed cost per signature) and (2) eight single-signature checks at a time,
 * one per lane, by a fixed-window (radix-16) double-scalar multiplication with
 * branch-free table selection, so invalid items cost no more than valid ones.
 * Compiled with -mavx512f/vl/bw/dq -mavx512ifma; only called when CPUID says so. */
#include "ed25519/backend.h"
#include "ed25519/sha512.h"

#if defined(__x86_64__) && defined(__AVX512IFMA__) && defined(__AVX512F__)
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

typedef struct { __m512i v[5]; } fe8;
typedef struct { fe8 X, Y, Z, T; } ge8_p3;
typedef struct { fe8 X, Y, Z; } ge8_p2;
typedef struct { fe8 E, F, G, H; } ge8_p1p1;
typedef struct { fe8 YpX, YmX, Z, T2d; } ge8_cached;

#define MASK51 _mm512_set1_epi64((long long)0x7ffffffffffffULL)

#ifdef MBI_ED25519_CHECK_BOUNDS
static inline void fe8_check(const fe8 *f, int bits) {
    for (int i = 0; i < 5; i++)
        if (_mm512_test_epi64_mask(_mm512_srli_epi64(f->v[i], bits), _mm512_set1_epi64(-1))) abort();
}
#define FE8_CHECK_IN(f, bits) fe8_check((f), (bits))
#else
#define FE8_CHECK_IN(f, bits) do { } while (0)
#endif

static inline __m512i mul19(__m512i x) {
    return _mm512_add_epi64(x, _mm512_add_epi64(_mm512_slli_epi64(x, 1), _mm512_slli_epi64(x, 4)));
}

static inline void fe8_carry(fe8 *h) {
    const __m512i m = MASK51;
    __m512i c;
    c = _mm512_srli_epi64(h->v[0], 51); h->v[0] = _mm512_and_si512(h->v[0], m); h->v[1] = _mm512_add_epi64(h->v[1], c);
    c = _mm512_srli_epi64(h->v[1], 51); h->v[1] = _mm512_and_si512(h->v[1], m); h->v[2] = _mm512_add_epi64(h->v[2], c);
    c = _mm512_srli_epi64(h->v[2], 51); h->v[2] = _mm512_and_si512(h->v[2], m); h->v[3] = _mm512_add_epi64(h->v[3], c);
    c = _mm512_srli_epi64(h->v[3], 51); h->v[3] = _mm512_and_si512(h->v[3], m); h->v[4] = _mm512_add_epi64(h->v[4], c);
    c = _mm512_srli_epi64(h->v[4], 51); h->v[4] = _mm512_and_si512(h->v[4], m); h->v[0] = _mm512_add_epi64(h->v[0], mul19(c));
}

static inline void fe8_add(fe8 *h, const fe8 *f, const fe8 *g) {
    for (int i = 0; i < 5; i++) h->v[i] = _mm512_add_epi64(f->v[i], g->v[i]);
    fe8_carry(h);
}

/* f + 4p - g, g limbs < 2^53 */
static inline void fe8_sub(fe8 *h, const fe8 *f, const fe8 *g) {
    FE8_CHECK_IN(g, 53);
    const __m512i p0 = _mm512_set1_epi64(0x1fffffffffffb4LL), pi = _mm512_set1_epi64(0x1ffffffffffffcLL);
    h->v[0] = _mm512_sub_epi64(_mm512_add_epi64(f->v[0], p0), g->v[0]);
    for (int i = 1; i < 5; i++) h->v[i] = _mm512_sub_epi64(_mm512_add_epi64(f->v[i], pi), g->v[i]);
    fe8_carry(h);
}

/* t_k = L_k + 2 H_{k-1} for k = 0..9, then r_k = t_k + 19 t_{k+5}, then carry. */
static inline void fe8_reduce(fe8 *h, __m512i L[9], __m512i H[9]) {
    __m512i t[10];
    t[0] = L[0];
    for (int k = 1; k < 9; k++) t[k] = _mm512_add_epi64(L[k], _mm512_add_epi64(H[k - 1], H[k - 1]));
    t[9] = _mm512_add_epi64(H[8], H[8]);
    for (int k = 0; k < 5; k++) h->v[k] = _mm512_add_epi64(t[k], mul19(t[k + 5]));
    fe8_carry(h);
}


static inline void fe8_mul(fe8 *h, const fe8 *f, const fe8 *g) {
    FE8_CHECK_IN(f, 52); FE8_CHECK_IN(g, 52);
    __m512i L[9], H[9];
    const __m512i z = _mm512_setzero_si512();
    for (int k = 0; k < 9; k++) { L[k] = z; H[k] = z; }
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) {
            L[i + j] = _mm512_madd52lo_epu64(L[i + j], f->v[i], g->v[j]);
            H[i + j] = _mm512_madd52hi_epu64(H[i + j], f->v[i], g->v[j]);
        }
    fe8_reduce(h, L, H);
}

static inline void fe8_sq(fe8 *h, const fe8 *f) {
    FE8_CHECK_IN(f, 52);
    __m512i L[9], H[9], Lc[9], Hc[9];
    const __m512i z = _mm512_setzero_si512();
    for (int k = 0; k < 9; k++) { L[k] = z; H[k] = z; Lc[k] = z; Hc[k] = z; }
    for (int i = 0; i < 5; i++) {
        L[2 * i] = _mm512_madd52lo_epu64(L[2 * i], f->v[i], f->v[i]);
        H[2 * i] = _mm512_madd52hi_epu64(H[2 * i], f->v[i], f->v[i]);
        for (int j = i + 1; j < 5; j++) {
            Lc[i + j] = _mm512_madd52lo_epu64(Lc[i + j], f->v[i], f->v[j]);
            Hc[i + j] = _mm512_madd52hi_epu64(Hc[i + j], f->v[i], f->v[j]);
        }
    }
    for (int k = 0; k < 9; k++) {
        L[k] = _mm512_add_epi64(L[k], _mm512_add_epi64(Lc[k], Lc[k]));
        H[k] = _mm512_add_epi64(H[k], _mm512_add_epi64(Hc[k], Hc[k]));
    }
    fe8_reduce(h, L, H);
}

static inline void fe8_sqn(fe8 *h, const fe8 *f, int n) {
    fe8_sq(h, f);
    while (--n > 0) fe8_sq(h, h);
}

static inline void fe8_bcast(fe8 *h, const fe *f) {
    for (int i = 0; i < 5; i++) h->v[i] = _mm512_set1_epi64((long long)f->v[i]);
}

static inline void fe8_from_lanes(fe8 *h, const fe *const f[8]) {
    for (int i = 0; i < 5; i++)
        h->v[i] = _mm512_set_epi64((long long)f[7]->v[i], (long long)f[6]->v[i], (long long)f[5]->v[i],
                                   (long long)f[4]->v[i], (long long)f[3]->v[i], (long long)f[2]->v[i],
                                   (long long)f[1]->v[i], (long long)f[0]->v[i]);
}

static inline void fe8_to_lanes(fe out[8], const fe8 *h) {
    uint64_t tmp[5][8] __attribute__((aligned(64)));
    for (int i = 0; i < 5; i++) _mm512_store_si512((void *)tmp[i], h->v[i]);
    for (int l = 0; l < 8; l++)
        for (int i = 0; i < 5; i++) out[l].v[i] = tmp[i][l];
}

/* z^(2^252 - 3), the same addition chain as fe_pow22523 */
static void fe8_pow22523(fe8 *h, const fe8 *z) {
    fe8 t0, t1, t2, t3, z11;
    fe8_sq(&t0, z);
    fe8_sqn(&t1, &t0, 2);
    fe8_mul(&t1, z, &t1);
    fe8_mul(&t0, &t0, &t1);
    z11 = t0; (void)z11;
    fe8_sq(&t2, &t0);
    fe8_mul(&t1, &t1, &t2);
    fe8_sqn(&t2, &t1, 5);
    fe8_mul(&t1, &t2, &t1);
    fe8_sqn(&t2, &t1, 10);
    fe8_mul(&t2, &t2, &t1);
    fe8_sqn(&t3, &t2, 20);
    fe8_mul(&t2, &t3, &t2);
    fe8_sqn(&t2, &t2, 10);
    fe8_mul(&t1, &t2, &t1);
    fe8_sqn(&t2, &t1, 50);
    fe8_mul(&t2, &t2, &t1);
    fe8_sqn(&t3, &t2, 100);
    fe8_mul(&t2, &t3, &t2);
    fe8_sqn(&t2, &t2, 50);
    fe8_mul(&t1, &t2, &t1);     /* 2^250 - 1 */
    fe8_sqn(&t1, &t1, 2);
    fe8_mul(h, &t1, z);         /* 2^252 - 3 */
}

/* ZIP-215 decoding of eight encodings; ok[i] = 1 and out[i] filled (affine) on success.
 * The exponentiation runs in the lanes; the root checks and sign fix-up per lane are
 * the scalar code's own steps. */
void ed25519_ifma_decode8(ge_p3 out[8], int ok[8], const uint8_t *const enc[8]) {
    fe y[8], u[8], v[8];
    const fe *up[8], *vp[8];
    fe one;
    fe_1(&one);
    for (int l = 0; l < 8; l++) {
        fe_frombytes(&y[l], enc[l]);
        fe_sq(&u[l], &y[l]);
        fe_mul(&v[l], &u[l], &FE_D);
        fe_sub(&u[l], &u[l], &one);
        fe_add(&v[l], &v[l], &one);
        fe_carry(&v[l]);
        up[l] = &u[l]; vp[l] = &v[l];
    }
    fe8 U, V, V3, X;
    fe8_from_lanes(&U, up);
    fe8_from_lanes(&V, vp);
    fe8_sq(&V3, &V);
    fe8_mul(&V3, &V3, &V);          /* v^3 */
    fe8_sq(&X, &V3);
    fe8_mul(&X, &X, &V);
    fe8_mul(&X, &X, &U);            /* u v^7 */
    fe8_pow22523(&X, &X);
    fe8_mul(&X, &X, &V3);
    fe8_mul(&X, &X, &U);            /* candidate root */
    fe xs[8];
    fe8_to_lanes(xs, &X);
    for (int l = 0; l < 8; l++) {
        fe vxx, t, x = xs[l];
        fe_sq(&vxx, &x);
        fe_mul(&vxx, &vxx, &v[l]);
        ok[l] = 1;
        if (!fe_eq(&vxx, &u[l])) {
            fe_add(&t, &vxx, &u[l]);
            if (!fe_iszero(&t)) { ok[l] = 0; continue; }
            fe_mul(&x, &x, &FE_SQRTM1);
        }
        if (fe_isodd(&x) != (enc[l][31] >> 7)) fe_neg(&x, &x);
        out[l].X = x;
        out[l].Y = y[l];
        fe_1(&out[l].Z);
        fe_mul(&out[l].T, &x, &y[l]);
    }
}

/* ------------------------------------------------------------------ points, 8 lanes */

static inline void ge8_dbl(ge8_p1p1 *r, const ge8_p2 *p) {
    fe8 A, B, C, AB, s, zero;
    fe8_sq(&A, &p->X);
    fe8_sq(&B, &p->Y);
    fe8_sq(&C, &p->Z);
    fe8_add(&C, &C, &C);
    fe8_add(&AB, &A, &B);
    fe8_add(&s, &p->X, &p->Y);
    fe8_sq(&s, &s);
    fe8_sub(&r->E, &s, &AB);
    fe8_sub(&r->G, &B, &A);
    fe8_sub(&r->F, &r->G, &C);
    for (int i = 0; i < 5; i++) zero.v[i] = _mm512_setzero_si512();
    fe8_sub(&r->H, &zero, &AB);
}

static inline void ge8_add(ge8_p1p1 *r, const ge8_p3 *p, const ge8_cached *q) {
    fe8 A, B, C, D, t;
    fe8_sub(&t, &p->Y, &p->X);
    fe8_mul(&A, &t, &q->YmX);
    fe8_add(&t, &p->Y, &p->X);
    fe8_mul(&B, &t, &q->YpX);
    fe8_mul(&C, &p->T, &q->T2d);
    fe8_mul(&D, &p->Z, &q->Z);
    fe8_add(&D, &D, &D);
    fe8_sub(&r->E, &B, &A);
    fe8_sub(&r->F, &D, &C);
    fe8_add(&r->G, &D, &C);
    fe8_add(&r->H, &B, &A);
}

static inline void ge8_to_p2(ge8_p2 *r, const ge8_p1p1 *p) {
    fe8_mul(&r->X, &p->E, &p->F);
    fe8_mul(&r->Y, &p->G, &p->H);
    fe8_mul(&r->Z, &p->F, &p->G);
}

static inline void ge8_to_p3(ge8_p3 *r, const ge8_p1p1 *p) {
    fe8_mul(&r->X, &p->E, &p->F);
    fe8_mul(&r->Y, &p->G, &p->H);
    fe8_mul(&r->Z, &p->F, &p->G);
    fe8_mul(&r->T, &p->E, &p->H);
}

static inline void ge8_to_cached(ge8_cached *r, const ge8_p3 *p, const fe8 *d2) {
    fe8_add(&r->YpX, &p->Y, &p->X);
    fe8_sub(&r->YmX, &p->Y, &p->X);
    r->Z = p->Z;
    fe8_mul(&r->T2d, &p->T, d2);
}

/* r = the lane-wise selection tab[|d|] with (YpX, YmX, T2d) -> (YmX, YpX, -T2d) where
 * d < 0. Entry 0 is the identity. Branch-free: every entry is visited. */
static inline void ge8_select(ge8_cached *r, const ge8_cached tab[9], __m512i d) {
    __m512i ad = _mm512_abs_epi64(d);
    *r = tab[0];
    for (int j = 1; j < 9; j++) {
        __mmask8 m = _mm512_cmpeq_epi64_mask(ad, _mm512_set1_epi64(j));
        for (int i = 0; i < 5; i++) {
            r->YpX.v[i] = _mm512_mask_mov_epi64(r->YpX.v[i], m, tab[j].YpX.v[i]);
            r->YmX.v[i] = _mm512_mask_mov_epi64(r->YmX.v[i], m, tab[j].YmX.v[i]);
            r->Z.v[i] = _mm512_mask_mov_epi64(r->Z.v[i], m, tab[j].Z.v[i]);
            r->T2d.v[i] = _mm512_mask_mov_epi64(r->T2d.v[i], m, tab[j].T2d.v[i]);
        }
    }
    __mmask8 neg = _mm512_cmplt_epi64_mask(d, _mm512_setzero_si512());
    if (neg) {
        fe8 nt, zero;
        for (int i = 0; i < 5; i++) zero.v[i] = _mm512_setzero_si512();
        fe8_sub(&nt, &zero, &r->T2d);
        for (int i = 0; i < 5; i++) {
            __m512i a = r->YpX.v[i], b = r->YmX.v[i];
            r->YpX.v[i] = _mm512_mask_mov_epi64(a, neg, b);
            r->YmX.v[i] = _mm512_mask_mov_epi64(b, neg, a);
            r->T2d.v[i] = _mm512_mask_mov_epi64(r->T2d.v[i], neg, nt.v[i]);
        }
    }
}

/* Signed radix-16 digits of s < 2^253: 64 digits in [-8, 8]. */
static void radix16(int8_t d[64], const uint64_t s[4]) {
    int carry = 0;
    for (int i = 0; i < 64; i++) {
        int v = (int)((s[i >> 4] >> ((i & 15) * 4)) & 15) + carry;
        carry = v > 8;
        d[i] = (int8_t)(v - (carry << 4));
    }
}

static void p4_init(void);
static ge8_cached B8[9];   /* [j]B, j = 0..8, in every lane */
static int B8_ready = 0;

void ed25519_ifma_init(void) {
    ge_p3 m[9];
    ge_identity(&m[0]);
    m[1] = *ed25519_base_point();
    for (int j = 2; j < 9; j++) ge_add_p3(&m[j], &m[j - 1], &m[1]);
    for (int j = 0; j < 9; j++) {
        ge_cached c;
        ge_p3_to_cached(&c, &m[j]);
        fe_carry(&c.YpX); /* lanes must enter IFMA below 2^52 */
        fe8_bcast(&B8[j].YpX, &c.YpX);
        fe8_bcast(&B8[j].YmX, &c.YmX);
        fe8_bcast(&B8[j].Z, &c.Z);
        fe8_bcast(&B8[j].T2d, &c.T2d);
    }
    B8_ready = 1;
    p4_init();
}

/* tab[j] = [j]P for j = 0..8 in cached form (tab[0] the identity); P has Z = 1. */
static void ge8_table(ge8_cached tab[9], const ge8_p3 *P, const fe8 *d2) {
    for (int i = 0; i < 5; i++) {
        tab[0].YpX.v[i] = tab[0].YmX.v[i] = tab[0].Z.v[i] = _mm512_set1_epi64(i == 0);
        tab[0].T2d.v[i] = _mm512_setzero_si512();
    }
    ge8_to_cached(&tab[1], P, d2);
    ge8_p2 a2;
    ge8_p1p1 t;
    ge8_p3 cur;
    a2.X = P->X; a2.Y = P->Y; a2.Z = P->Z;
    ge8_dbl(&t, &a2);
    ge8_to_p3(&cur, &t);
    ge8_to_cached(&tab[2], &cur, d2);
    for (int j = 3; j < 9; j++) {
        ge8_add(&t, &cur, &tab[1]);
        ge8_to_p3(&cur, &t);
        ge8_to_cached(&tab[j], &cur, d2);
    }
}

/* res[l] = [8]([s]B + [k]nA + nR) == O for the eight items (repeat an item to fill). */
void ed25519_ifma_check8(const ed25519_item *const it[8], uint8_t res[8]) {
    fe8 d2;
    fe8_bcast(&d2, &FE_D2);
    /* -A, -R of each lane */
    ge8_p3 A, R;
    const fe *ax[8], *ay[8], *at[8], *rx[8], *ry[8], *rt[8];
    for (int l = 0; l < 8; l++) {
        ax[l] = &it[l]->nA.X; ay[l] = &it[l]->nA.Y; at[l] = &it[l]->nA.T;
        rx[l] = &it[l]->nR.X; ry[l] = &it[l]->nR.Y; rt[l] = &it[l]->nR.T;
    }
    fe8_from_lanes(&A.X, ax); fe8_from_lanes(&A.Y, ay); fe8_from_lanes(&A.T, at);
    fe8_from_lanes(&R.X, rx); fe8_from_lanes(&R.Y, ry); fe8_from_lanes(&R.T, rt);
    /* decoded points are affine with carried limbs; normalise once more for IFMA */
    fe8_carry(&A.X); fe8_carry(&A.Y); fe8_carry(&A.T);
    fe8_carry(&R.X); fe8_carry(&R.Y); fe8_carry(&R.T);
    for (int i = 0; i < 5; i++) {
        A.Z.v[i] = _mm512_set1_epi64(i == 0);
        R.Z.v[i] = A.Z.v[i];
    }
    /* table [j](-A), j = 0..8 */
    ge8_cached tab[9];
    ge8_table(tab, &A, &d2);
    int8_t kd[8][64], sd[8][64];
    for (int l = 0; l < 8; l++) {
        radix16(kd[l], it[l]->k);
        radix16(sd[l], it[l]->s);
    }
    ge8_p3 Q;
    ge8_p2 Q2;
    ge8_p1p1 t;
    ge8_cached sel;
    for (int i = 0; i < 5; i++) {
        Q.X.v[i] = Q.T.v[i] = _mm512_setzero_si512();
        Q.Y.v[i] = Q.Z.v[i] = _mm512_set1_epi64(i == 0);
    }
    for (int w = 63; w >= 0; w--) {
        if (w != 63) {
            Q2.X = Q.X; Q2.Y = Q.Y; Q2.Z = Q.Z;
            for (int k = 0; k < 4; k++) {
                ge8_dbl(&t, &Q2);
                if (k < 3) ge8_to_p2(&Q2, &t);
            }
            ge8_to_p3(&Q, &t);
        }
        __m512i dk = _mm512_set_epi64(kd[7][w], kd[6][w], kd[5][w], kd[4][w], kd[3][w], kd[2][w], kd[1][w], kd[0][w]);
        __m512i ds = _mm512_set_epi64(sd[7][w], sd[6][w], sd[5][w], sd[4][w], sd[3][w], sd[2][w], sd[1][w], sd[0][w]);
        ge8_select(&sel, tab, dk);
        ge8_add(&t, &Q, &sel);
        ge8_to_p3(&Q, &t);
        ge8_select(&sel, B8, ds);
        ge8_add(&t, &Q, &sel);
        ge8_to_p3(&Q, &t);
    }
    /* + (-R), then [8] */
    ge8_to_cached(&sel, &R, &d2);
    ge8_add(&t, &Q, &sel);
    ge8_to_p2(&Q2, &t);
    for (int k = 0; k < 3; k++) {
        ge8_dbl(&t, &Q2);
        ge8_to_p2(&Q2, &t);
    }
    fe xs[8], ys[8], zs[8];
    fe8_to_lanes(xs, &Q2.X);
    fe8_to_lanes(ys, &Q2.Y);
    fe8_to_lanes(zs, &Q2.Z);
    for (int l = 0; l < 8; l++) res[l] = (uint8_t)(fe_iszero(&xs[l]) && fe_eq(&ys[l], &zs[l]));
}

/* Multi-scalar multiplication in eight lanes: sum = [b]B + sum_j [c_j] P_j, where the
 * first n_long points have scalars < 2^253 and the other n_short ones scalars < 2^128
 * (the batch coefficients of R). Points are affine (Z = 1). Each lane accumulates its
 * own share of the points (slot s of lane l holds point 8 s + l) over a shared
 * fixed-window (radix-16) schedule, so all lanes do the same operations; the eight lane
 * sums are added at the end. Returns 0, or -1 if memory ran out. */
int ed25519_ifma_msm(ge_p3 *sum, size_t n_long, size_t n_short, const ge_p3 *const *pts,
                     const uint64_t *const *scalars, const uint64_t b[4]) {
    size_t sl = (n_long + 7) / 8, ss = (n_short + 7) / 8, ns = sl + ss;
    ge8_cached *tab = (ge8_cached *)_mm_malloc(ns * 9 * sizeof(ge8_cached), 64);
    int8_t *dig = (int8_t *)malloc(ns * 8 * 64);
    if (!tab || !dig) { _mm_free(tab); free(dig); return -1; }
    fe8 d2;
    fe8_bcast(&d2, &FE_D2);
    ge_p3 ident;
    ge_identity(&ident);
    for (size_t sidx = 0; sidx < ns; sidx++) {
        size_t base = sidx < sl ? 8 * sidx : n_long + 8 * (sidx - sl);
        size_t lim = sidx < sl ? n_long : n_long + n_short;
        const fe *xs[8], *ys[8], *ts[8];
        for (int l = 0; l < 8; l++) {
            size_t j = base + (size_t)l;
            const ge_p3 *p = j < lim ? pts[j] : &ident;
            xs[l] = &p->X; ys[l] = &p->Y; ts[l] = &p->T;
            if (j < lim) radix16(dig + (sidx * 8 + (size_t)l) * 64, scalars[j]);
            else memset(dig + (sidx * 8 + (size_t)l) * 64, 0, 64);
        }
        ge8_p3 P;
        fe8_from_lanes(&P.X, xs); fe8_from_lanes(&P.Y, ys); fe8_from_lanes(&P.T, ts);
        fe8_carry(&P.X); fe8_carry(&P.Y); fe8_carry(&P.T);
        for (int i = 0; i < 5; i++) P.Z.v[i] = _mm512_set1_epi64(i == 0);
        ge8_table(tab + 9 * sidx, &P, &d2);
    }
    int8_t bd[64];
    radix16(bd, b);
    ge8_p3 Q;
    ge8_p2 Q2;
    ge8_p1p1 t;
    ge8_cached sel;
    for (int i = 0; i < 5; i++) {
        Q.X.v[i] = Q.T.v[i] = _mm512_setzero_si512();
        Q.Y.v[i] = Q.Z.v[i] = _mm512_set1_epi64(i == 0);
    }
    for (int w = 63; w >= 0; w--) {
        if (w != 63) {
            Q2.X = Q.X; Q2.Y = Q.Y; Q2.Z = Q.Z;
            for (int k = 0; k < 4; k++) {
                ge8_dbl(&t, &Q2);
                if (k < 3) ge8_to_p2(&Q2, &t);
            }
            ge8_to_p3(&Q, &t);
        }
        /* short (128-bit) scalars have digits only up to window 32 */
        size_t active = w <= 32 ? ns : sl;
        for (size_t sidx = 0; sidx < active; sidx++) {
            const int8_t *d = dig + sidx * 8 * 64;
            __m512i dv = _mm512_set_epi64(d[7 * 64 + w], d[6 * 64 + w], d[5 * 64 + w], d[4 * 64 + w],
                                          d[3 * 64 + w], d[2 * 64 + w], d[1 * 64 + w], d[0 * 64 + w]);
            if (!_mm512_test_epi64_mask(dv, dv)) continue; /* all lanes add the identity */
            ge8_select(&sel, tab + 9 * sidx, dv);
            ge8_add(&t, &Q, &sel);
            ge8_to_p3(&Q, &t);
        }
        if (bd[w]) { /* [b]B in lane 0 only */
            __m512i dv = _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, bd[w]);
            ge8_select(&sel, B8, dv);
            ge8_add(&t, &Q, &sel);
            ge8_to_p3(&Q, &t);
        }
    }
    fe xs[8], ys[8], zs[8], ts[8];
    fe8_to_lanes(xs, &Q.X); fe8_to_lanes(ys, &Q.Y); fe8_to_lanes(zs, &Q.Z); fe8_to_lanes(ts, &Q.T);
    ge_p3 acc = {xs[0], ys[0], zs[0], ts[0]};
    for (int l = 1; l < 8; l++) {
        ge_p3 lp = {xs[l], ys[l], zs[l], ts[l]};
        ge_add_p3(&acc, &acc, &lp);
    }
    *sum = acc;
    _mm_free(tab);
    free(dig);
    return 0;
}

/* ------------------------------------------------------------------ SHA-512, 8 lanes */

/* Round constants: mbi_sha512_K from sha512.c. */

/* Byte `pos` of the padded SHA-512 input R || A || M || 0x80 || 0.. || len (128-bit BE). */
typedef struct {
    const uint8_t *R, *A, *M;
    size_t mlen, total, nblocks;
} hram_lane;

static void hram_block(const hram_lane *h, size_t bi, uint8_t blk[128]) {
    size_t start = bi * 128;
    for (size_t j = 0; j < 128; j++) {
        size_t pos = start + j;
        uint8_t v;
        if (pos < 32) v = h->R[pos];
        else if (pos < 64) v = h->A[pos - 32];
        else if (pos < h->total) v = h->M[pos - 64];
        else if (pos == h->total) v = 0x80;
        else if (pos >= h->nblocks * 128 - 8) {
            int sh = (int)(h->nblocks * 128 - 1 - pos) * 8;
            v = sh < 64 ? (uint8_t)(((uint64_t)h->total << 3) >> sh) : 0;
        } else v = 0;
        blk[j] = v;
    }
}

/* Copy the bulk with memcpy and leave the byte loop for the edges. */
static void hram_block_fast(const hram_lane *h, size_t bi, uint8_t blk[128]) {
    size_t start = bi * 128;
    if (start >= 64 && start + 128 <= h->total) {
        memcpy(blk, h->M + (start - 64), 128);
        return;
    }
    hram_block(h, bi, blk);
}

#define ROR(x, n) _mm512_ror_epi64((x), (n))

/* k_l = SHA-512(R_l || A_l || M_l) mod l for eight items; lanes with fewer blocks stop
 * updating their state (masked) while the others continue. */
void ed25519_ifma_hram8(uint64_t k[8][4], const uint8_t *const R[8], const uint8_t *const A[8],
                        const uint8_t *const M[8], const size_t mlen[8]) {
    hram_lane h[8];
    size_t maxb = 0;
    for (int l = 0; l < 8; l++) {
        h[l].R = R[l]; h[l].A = A[l]; h[l].M = M[l]; h[l].mlen = mlen[l];
        h[l].total = 64 + mlen[l];
        h[l].nblocks = (h[l].total + 17 + 127) / 128;
        if (h[l].nblocks > maxb) maxb = h[l].nblocks;
    }
    static const uint64_t iv[8] = {
        0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
        0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
    };
    __m512i st[8];
    for (int i = 0; i < 8; i++) st[i] = _mm512_set1_epi64((long long)iv[i]);
    uint8_t blk[8][128] __attribute__((aligned(64)));
    for (size_t bi = 0; bi < maxb; bi++) {
        __mmask8 active = 0;
        for (int l = 0; l < 8; l++) {
            if (bi < h[l].nblocks) {
                hram_block_fast(&h[l], bi, blk[l]);
                active |= (__mmask8)(1u << l);
            } else {
                memset(blk[l], 0, 128);
            }
        }
        __m512i w[80];
        /* transpose: w[t] lane l = big-endian word t of lane l's block */
        for (int t = 0; t < 16; t++) {
            uint64_t x[8];
            for (int l = 0; l < 8; l++) {
                uint64_t v;
                memcpy(&v, blk[l] + 8 * t, 8);
                x[l] = __builtin_bswap64(v);
            }
            w[t] = _mm512_loadu_si512((const void *)x);
        }
        for (int t = 16; t < 80; t++) {
            __m512i s0 = _mm512_xor_si512(_mm512_xor_si512(ROR(w[t - 15], 1), ROR(w[t - 15], 8)),
                                          _mm512_srli_epi64(w[t - 15], 7));
            __m512i s1 = _mm512_xor_si512(_mm512_xor_si512(ROR(w[t - 2], 19), ROR(w[t - 2], 61)),
                                          _mm512_srli_epi64(w[t - 2], 6));
            w[t] = _mm512_add_epi64(_mm512_add_epi64(w[t - 16], s0), _mm512_add_epi64(w[t - 7], s1));
        }
        __m512i a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6], hh = st[7];
        for (int t = 0; t < 80; t++) {
            __m512i S1 = _mm512_xor_si512(_mm512_xor_si512(ROR(e, 14), ROR(e, 18)), ROR(e, 41));
            __m512i ch = _mm512_ternarylogic_epi64(e, f, g, 0xCA);   /* (e & f) ^ (~e & g) */
            __m512i t1 = _mm512_add_epi64(_mm512_add_epi64(hh, S1),
                                          _mm512_add_epi64(ch, _mm512_add_epi64(
                                              _mm512_set1_epi64((long long)mbi_sha512_K[t]), w[t])));
            __m512i S0 = _mm512_xor_si512(_mm512_xor_si512(ROR(a, 28), ROR(a, 34)), ROR(a, 39));
            __m512i maj = _mm512_ternarylogic_epi64(a, b, c, 0xE8);  /* majority */
            __m512i t2 = _mm512_add_epi64(S0, maj);
            hh = g; g = f; f = e; e = _mm512_add_epi64(d, t1); d = c; c = b; b = a;
            a = _mm512_add_epi64(t1, t2);
        }
        __m512i nv[8] = {a, b, c, d, e, f, g, hh};
        for (int i = 0; i < 8; i++)
            st[i] = _mm512_mask_add_epi64(st[i], active, st[i], nv[i]);
    }
    uint64_t out[8][8] __attribute__((aligned(64)));
    for (int i = 0; i < 8; i++) _mm512_store_si512((void *)out[i], st[i]);
    for (int l = 0; l < 8; l++) {
        /* digest bytes are the big-endian state words; as a little-endian 512-bit
         * integer, word i of the digest is bswap(state word i) */
        uint64_t wd[8];
        for (int i = 0; i < 8; i++) wd[i] = __builtin_bswap64(out[i][l]);
        sc_reduce_wide(k[l], wd);
    }
}

/* Test hook: out[l] = canonical encoding of a[l] * b[l] (or a[l]^2 if sq) through the
 * 8-lane arithmetic, for limbs up to the documented input bound 2^52. */
void ed25519_ifma_fe_test(int sq, const uint64_t a[8][5], const uint64_t b[8][5], uint8_t out[8][32]) {
    fe8 A, B, R;
    for (int i = 0; i < 5; i++) {
        A.v[i] = _mm512_set_epi64((long long)a[7][i], (long long)a[6][i], (long long)a[5][i], (long long)a[4][i],
                                  (long long)a[3][i], (long long)a[2][i], (long long)a[1][i], (long long)a[0][i]);
        B.v[i] = _mm512_set_epi64((long long)b[7][i], (long long)b[6][i], (long long)b[5][i], (long long)b[4][i],
                                  (long long)b[3][i], (long long)b[2][i], (long long)b[1][i], (long long)b[0][i]);
    }
    if (sq) fe8_sq(&R, &A);
    else fe8_mul(&R, &A, &B);
    fe r[8];
    fe8_to_lanes(r, &R);
    for (int l = 0; l < 8; l++) fe_tobytes(out[l], &r[l]);
}

/* ------------------------------------------------------------------ one verification, 4 lanes */

/* Single verification uses the four 64-bit lanes of a 256-bit register for the four
 * coordinates of one point: (X, Y, Z, T). The HWCD formulas have four independent
 * multiplications per step, so doubling is one squaring and one multiplication of
 * four lanes, addition two multiplications; lanes are rearranged with permutes. */
typedef struct { __m256i v[5]; } fe4;

#define M51_4 _mm256_set1_epi64x((long long)0x7ffffffffffffULL)

static inline __m256i mul19_4(__m256i x) {
    return _mm256_add_epi64(x, _mm256_add_epi64(_mm256_slli_epi64(x, 1), _mm256_slli_epi64(x, 4)));
}

static inline void fe4_carry(fe4 *h) {
    const __m256i m = M51_4;
    __m256i c;
    c = _mm256_srli_epi64(h->v[0], 51); h->v[0] = _mm256_and_si256(h->v[0], m); h->v[1] = _mm256_add_epi64(h->v[1], c);
    c = _mm256_srli_epi64(h->v[1], 51); h->v[1] = _mm256_and_si256(h->v[1], m); h->v[2] = _mm256_add_epi64(h->v[2], c);
    c = _mm256_srli_epi64(h->v[2], 51); h->v[2] = _mm256_and_si256(h->v[2], m); h->v[3] = _mm256_add_epi64(h->v[3], c);
    c = _mm256_srli_epi64(h->v[3], 51); h->v[3] = _mm256_and_si256(h->v[3], m); h->v[4] = _mm256_add_epi64(h->v[4], c);
    c = _mm256_srli_epi64(h->v[4], 51); h->v[4] = _mm256_and_si256(h->v[4], m); h->v[0] = _mm256_add_epi64(h->v[0], mul19_4(c));
}

static inline void fe4_add(fe4 *h, const fe4 *f, const fe4 *g) {
    for (int i = 0; i < 5; i++) h->v[i] = _mm256_add_epi64(f->v[i], g->v[i]);
    fe4_carry(h);
}

static inline void fe4_sub(fe4 *h, const fe4 *f, const fe4 *g) {
    const __m256i p0 = _mm256_set1_epi64x(0x1fffffffffffb4LL), pi = _mm256_set1_epi64x(0x1ffffffffffffcLL);
    h->v[0] = _mm256_sub_epi64(_mm256_add_epi64(f->v[0], p0), g->v[0]);
    for (int i = 1; i < 5; i++) h->v[i] = _mm256_sub_epi64(_mm256_add_epi64(f->v[i], pi), g->v[i]);
    fe4_carry(h);
}

static inline void fe4_reduce(fe4 *h, __m256i L[9], __m256i H[9]) {
    __m256i t[10];
    t[0] = L[0];
    for (int k = 1; k < 9; k++) t[k] = _mm256_add_epi64(L[k], _mm256_add_epi64(H[k - 1], H[k - 1]));
    t[9] = _mm256_add_epi64(H[8], H[8]);
    for (int k = 0; k < 5; k++) h->v[k] = _mm256_add_epi64(t[k], mul19_4(t[k + 5]));
    fe4_carry(h);
}

#ifdef MBI_ED25519_CHECK_BOUNDS
static inline void fe4_check(const fe4 *f, int bits) {
    for (int i = 0; i < 5; i++)
        if (_mm256_test_epi64_mask(_mm256_srli_epi64(f->v[i], bits), _mm256_set1_epi64x(-1))) abort();
}
#define FE4_CHECK_IN(f, bits) fe4_check((f), (bits))
#else
#define FE4_CHECK_IN(f, bits) do { } while (0)
#endif

static inline void fe4_mul(fe4 *h, const fe4 *f, const fe4 *g) {
    FE4_CHECK_IN(f, 52); FE4_CHECK_IN(g, 52);
    __m256i L[9], H[9];
    const __m256i z = _mm256_setzero_si256();
    for (int k = 0; k < 9; k++) { L[k] = z; H[k] = z; }
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) {
            L[i + j] = _mm256_madd52lo_epu64(L[i + j], f->v[i], g->v[j]);
            H[i + j] = _mm256_madd52hi_epu64(H[i + j], f->v[i], g->v[j]);
        }
    fe4_reduce(h, L, H);
}

static inline void fe4_sq(fe4 *h, const fe4 *f) {
    FE4_CHECK_IN(f, 52);
    __m256i L[9], H[9], Lc[9], Hc[9];
    const __m256i z = _mm256_setzero_si256();
    for (int k = 0; k < 9; k++) { L[k] = z; H[k] = z; Lc[k] = z; Hc[k] = z; }
    for (int i = 0; i < 5; i++) {
        L[2 * i] = _mm256_madd52lo_epu64(L[2 * i], f->v[i], f->v[i]);
        H[2 * i] = _mm256_madd52hi_epu64(H[2 * i], f->v[i], f->v[i]);
        for (int j = i + 1; j < 5; j++) {
            Lc[i + j] = _mm256_madd52lo_epu64(Lc[i + j], f->v[i], f->v[j]);
            Hc[i + j] = _mm256_madd52hi_epu64(Hc[i + j], f->v[i], f->v[j]);
        }
    }
    for (int k = 0; k < 9; k++) {
        L[k] = _mm256_add_epi64(L[k], _mm256_add_epi64(Lc[k], Lc[k]));
        H[k] = _mm256_add_epi64(H[k], _mm256_add_epi64(Hc[k], Hc[k]));
    }
    fe4_reduce(h, L, H);
}

#define PERM4(r, f, imm) do { for (int i_ = 0; i_ < 5; i_++) (r)->v[i_] = _mm256_permute4x64_epi64((f)->v[i_], (imm)); } while (0)
#define SEL(a, b, c, d) ((a) | ((b) << 2) | ((c) << 4) | ((d) << 6))

static inline void fe4_blend(fe4 *r, const fe4 *a, const fe4 *b, __mmask8 m) {
    for (int i = 0; i < 5; i++) r->v[i] = _mm256_mask_blend_epi64(m, a->v[i], b->v[i]);
}

/* (Y - X, Y + X, T, Z) of a point (X, Y, Z, T) */
static inline void p4_diffsum(fe4 *L, const fe4 *P) {
    fe4 y, x, s, d;
    PERM4(&y, P, SEL(1, 1, 3, 2));
    PERM4(&x, P, SEL(0, 0, 0, 0));
    for (int i = 0; i < 5; i++) x.v[i] = _mm256_maskz_mov_epi64(0x3, x.v[i]);  /* (X, X, 0, 0) */
    fe4_add(&s, &y, &x);
    fe4_sub(&d, &y, &x);
    fe4_blend(L, &s, &d, 0x1);
}

/* (E, F, G, H) lanes -> (X3, Y3, Z3, T3) = (EF, GH, FG, EH) */
static inline void p4_finish(fe4 *R, const fe4 *EFGH) {
    fe4 U, V;
    PERM4(&U, EFGH, SEL(0, 2, 1, 0));
    PERM4(&V, EFGH, SEL(1, 3, 2, 3));
    fe4_mul(R, &U, &V);
}

static inline void p4_dbl(fe4 *R, const fe4 *P) {
    fe4 xy, S, Q, a, b, c, ab, a2c, v1, v2, t;
    PERM4(&a, P, SEL(0, 0, 0, 0));
    PERM4(&b, P, SEL(1, 1, 1, 1));
    fe4_add(&xy, &a, &b);
    fe4_blend(&S, P, &xy, 0x8);                      /* (X, Y, Z, X+Y) */
    fe4_sq(&Q, &S);                                  /* (A, B, C, D) */
    PERM4(&a, &Q, SEL(0, 0, 0, 0));
    PERM4(&b, &Q, SEL(1, 1, 1, 1));
    PERM4(&c, &Q, SEL(2, 2, 2, 2));
    for (int i = 0; i < 5; i++) {
        ab.v[i] = _mm256_add_epi64(a.v[i], b.v[i]);                              /* < 2^53 */
        a2c.v[i] = _mm256_add_epi64(a.v[i], _mm256_add_epi64(c.v[i], c.v[i]));   /* < 2^53 */
    }
    PERM4(&v1, &Q, SEL(3, 1, 1, 0));
    for (int i = 0; i < 5; i++) {
        v1.v[i] = _mm256_maskz_mov_epi64(0x7, v1.v[i]);                          /* (D, B, B, 0) */
        __m256i w = _mm256_mask_blend_epi64(0x2, ab.v[i], a.v[i]);               /* (AB, A, .., ..) */
        w = _mm256_mask_blend_epi64(0x4, w, a2c.v[i]);                           /* (AB, A, A+2C, AB) */
        v2.v[i] = w;
    }
    fe4_sub(&t, &v1, &v2);                           /* (E, G, F, H) */
    fe4 U, V;
    PERM4(&U, &t, SEL(0, 1, 2, 0));                  /* (E, G, F, E) */
    PERM4(&V, &t, SEL(2, 3, 1, 3));                  /* (F, H, G, H) */
    fe4_mul(R, &U, &V);
}

/* R = P + Q, Q in lane-cached form (Y-X, Y+X, 2dT, 2Z) */
static inline void p4_add(fe4 *R, const fe4 *P, const fe4 *Q) {
    fe4 L, M, p, q, s, t, EFGH;
    p4_diffsum(&L, P);
    fe4_mul(&M, &L, Q);                              /* (A, B, C, D) */
    PERM4(&p, &M, SEL(1, 3, 3, 1));                  /* (B, D, D, B) */
    PERM4(&q, &M, SEL(0, 2, 2, 0));                  /* (A, C, C, A) */
    fe4_sub(&s, &p, &q);
    fe4_add(&t, &p, &q);
    fe4_blend(&EFGH, &s, &t, 0xC);                   /* (B-A, D-C, D+C, B+A) */
    p4_finish(R, &EFGH);
}

/* lane-cached form of a point; K4 = (1, 1, 2d, 2) */
static fe4 K4;
static inline void p4_cached(fe4 *C, const fe4 *P) {
    fe4 L;
    p4_diffsum(&L, P);
    fe4_mul(C, &L, &K4);
}

/* -Q for a lane-cached Q: swap the first two lanes, negate 2dT */
static inline void p4_cneg(fe4 *N, const fe4 *C) {
    fe4 sw, z, ng;
    PERM4(&sw, C, SEL(1, 0, 2, 3));
    for (int i = 0; i < 5; i++) z.v[i] = _mm256_setzero_si256();
    fe4_sub(&ng, &z, &sw);
    fe4_blend(N, &sw, &ng, 0x4);
}

static inline void p4_from(fe4 *r, const ge_p3 *p) {
    for (int i = 0; i < 5; i++)
        r->v[i] = _mm256_set_epi64x((long long)p->T.v[i], (long long)p->Z.v[i],
                                    (long long)p->Y.v[i], (long long)p->X.v[i]);
    fe4_carry(r);
}

static fe4 B4[64], NB4[64];  /* odd multiples of B and their negatives, lane-cached */

static void p4_init(void) {
    fe one, two, c[4];
    fe_1(&one);
    fe_0(&two); two.v[0] = 2;
    c[0] = one; c[1] = one; c[2] = FE_D2; c[3] = two;
    for (int i = 0; i < 5; i++)
        K4.v[i] = _mm256_set_epi64x((long long)c[3].v[i], (long long)c[2].v[i], (long long)c[1].v[i],
                                    (long long)c[0].v[i]);
    const ge_precomp *bt = ed25519_base_odd_table();
    for (int j = 0; j < 64; j++) {
        fe ym = bt[j].YmX, yp = bt[j].YpX, t2 = bt[j].T2d;
        fe_carry(&ym); fe_carry(&yp); fe_carry(&t2);
        for (int i = 0; i < 5; i++)
            B4[j].v[i] = _mm256_set_epi64x(2 * (i == 0), (long long)t2.v[i], (long long)yp.v[i],
                                           (long long)ym.v[i]);
        p4_cneg(&NB4[j], &B4[j]);
    }
}

/* Same contract as ed25519_check_one: is [8]([s]B + [k]nA + nR) the identity? */
int ed25519_ifma_check_one(const ge_p3 *nA, const ge_p3 *nR, const uint64_t k[4], const uint64_t s[4]) {
    int8_t kn[257], sn[257];
    sc_wnaf(kn, k, 5);
    sc_wnaf(sn, s, 8);
    fe4 A, A2, cur, at[8], nat[8];
    p4_from(&A, nA);
    p4_cached(&at[0], &A);
    p4_dbl(&A2, &A);
    cur = A;
    fe4 c2;
    p4_cached(&c2, &A2);
    for (int j = 1; j < 8; j++) {
        p4_add(&cur, &cur, &c2);
        p4_cached(&at[j], &cur);
    }
    for (int j = 0; j < 8; j++) p4_cneg(&nat[j], &at[j]);
    int top = 256;
    while (top >= 0 && !kn[top] && !sn[top]) top--;
    fe4 R;
    for (int i = 0; i < 5; i++) R.v[i] = _mm256_set_epi64x(0, i == 0, i == 0, 0); /* (0, 1, 1, 0) */
    for (int i = top; i >= 0; i--) {
        p4_dbl(&R, &R);
        if (kn[i] > 0) p4_add(&R, &R, &at[kn[i] >> 1]);
        else if (kn[i] < 0) p4_add(&R, &R, &nat[(-kn[i]) >> 1]);
        if (sn[i] > 0) p4_add(&R, &R, &B4[sn[i] >> 1]);
        else if (sn[i] < 0) p4_add(&R, &R, &NB4[(-sn[i]) >> 1]);
    }
    fe4 Rp, Rc;
    p4_from(&Rp, nR);
    p4_cached(&Rc, &Rp);
    p4_add(&R, &R, &Rc);
    for (int j = 0; j < 3; j++) p4_dbl(&R, &R);
    uint64_t lanes[5][4] __attribute__((aligned(32)));
    for (int i = 0; i < 5; i++) _mm256_store_si256((__m256i *)(void *)lanes[i], R.v[i]);
    fe X, Y, Z;
    for (int i = 0; i < 5; i++) { X.v[i] = lanes[i][0]; Y.v[i] = lanes[i][1]; Z.v[i] = lanes[i][2]; }
    return fe_iszero(&X) && fe_eq(&Y, &Z);
}

static inline void p4_to(ge_p3 *p, const fe4 *r) {
    uint64_t lanes[5][4] __attribute__((aligned(32)));
    for (int i = 0; i < 5; i++) _mm256_store_si256((__m256i *)(void *)lanes[i], r->v[i]);
    for (int i = 0; i < 5; i++) {
        p->X.v[i] = lanes[i][0]; p->Y.v[i] = lanes[i][1]; p->Z.v[i] = lanes[i][2]; p->T.v[i] = lanes[i][3];
    }
}

/* Pippenger window sum: out = sum_k (k+1) bucket[k] over the used buckets, by running
 * sums from the top bucket down, in the four coordinate lanes. Returns 0 if no bucket
 * was used (out untouched). */
int ed25519_ifma_bucket_sum(ge_p3 *out, const ge_p3 *bucket, const uint8_t *used, size_t nb) {
    fe4 running, sum, t;
    int have_run = 0, have_sum = 0;
    for (size_t k = nb; k-- > 0;) {
        if (used[k]) {
            fe4 b;
            p4_from(&b, &bucket[k]);
            if (have_run) { p4_cached(&t, &b); p4_add(&running, &running, &t); }
            else { running = b; have_run = 1; }
        }
        if (have_run) {
            if (have_sum) { p4_cached(&t, &running); p4_add(&sum, &sum, &t); }
            else { sum = running; have_sum = 1; }
        }
    }
    if (have_sum) p4_to(out, &sum);
    return have_sum;
}

/* Pippenger bucket accumulation, eight buckets at a time: bucket[bidx[l]] += +-pts[l]
 * (negated where bit l of neg is set). The eight bucket indices must be distinct.
 * Buckets are gathered from and scattered back to the scalar ge_p3 array (20 limbs per
 * bucket), so the scalar code reads the same points it would have produced. */
void ed25519_ifma_bucket_add8(ge_p3 *bucket, const uint32_t bidx[8], const ge_precomp *const pts[8],
                              unsigned neg) {
    const long long *bb = (const long long *)(const void *)bucket;
    __m256i bi32 = _mm256_loadu_si256((const __m256i *)(const void *)bidx);
    __m512i bbase = _mm512_mullo_epi64(_mm512_cvtepu32_epi64(bi32), _mm512_set1_epi64(20));
    __m512i pbase = _mm512_set_epi64((long long)(intptr_t)pts[7], (long long)(intptr_t)pts[6],
                                     (long long)(intptr_t)pts[5], (long long)(intptr_t)pts[4],
                                     (long long)(intptr_t)pts[3], (long long)(intptr_t)pts[2],
                                     (long long)(intptr_t)pts[1], (long long)(intptr_t)pts[0]);
    ge8_p3 P;
    fe8 *pc[4] = {&P.X, &P.Y, &P.Z, &P.T};
    for (int c = 0; c < 4; c++)
        for (int i = 0; i < 5; i++)
            pc[c]->v[i] = _mm512_i64gather_epi64(_mm512_add_epi64(bbase, _mm512_set1_epi64(c * 5 + i)), bb, 8);
    fe8 YpX, YmX, T2d;
    fe8 *qc[3] = {&YpX, &YmX, &T2d};
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 5; i++)
            qc[c]->v[i] = _mm512_i64gather_epi64(
                _mm512_add_epi64(pbase, _mm512_set1_epi64((long long)(sizeof(fe) * c + 8 * i))),
                (const long long *)0, 1);
    fe8_carry(&YpX); /* ge_affine_to_precomp leaves Y + X uncarried: IFMA needs < 2^52 */
    fe8_carry(&YmX);
    fe8_carry(&T2d);
    fe8_carry(&P.X); fe8_carry(&P.Y); fe8_carry(&P.Z); fe8_carry(&P.T);
    __mmask8 nm = (__mmask8)neg;
    if (nm) {
        fe8 nt, zero;
        for (int i = 0; i < 5; i++) zero.v[i] = _mm512_setzero_si512();
        fe8_sub(&nt, &zero, &T2d);
        for (int i = 0; i < 5; i++) {
            __m512i a = YpX.v[i], b = YmX.v[i];
            YpX.v[i] = _mm512_mask_mov_epi64(a, nm, b);
            YmX.v[i] = _mm512_mask_mov_epi64(b, nm, a);
            T2d.v[i] = _mm512_mask_mov_epi64(T2d.v[i], nm, nt.v[i]);
        }
    }
    /* mixed addition (Z2 = 1), then back to extended coordinates */
    fe8 A, B, C, D, t;
    ge8_p1p1 r;
    fe8_sub(&t, &P.Y, &P.X);
    fe8_mul(&A, &t, &YmX);
    fe8_add(&t, &P.Y, &P.X);
    fe8_mul(&B, &t, &YpX);
    fe8_mul(&C, &P.T, &T2d);
    fe8_add(&D, &P.Z, &P.Z);
    fe8_sub(&r.E, &B, &A);
    fe8_sub(&r.F, &D, &C);
    fe8_add(&r.G, &D, &C);
    fe8_add(&r.H, &B, &A);
    ge8_to_p3(&P, &r);
    long long *bw = (long long *)(void *)bucket;
    for (int c = 0; c < 4; c++)
        for (int i = 0; i < 5; i++)
            _mm512_i64scatter_epi64(bw, _mm512_add_epi64(bbase, _mm512_set1_epi64(c * 5 + i)), pc[c]->v[i], 8);
}
#else
typedef int mbi_ed25519_ifma_unused;
#endif
