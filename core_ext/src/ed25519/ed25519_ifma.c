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

#include "ifma_sha512.inc"  /* SHA-512, 8 lanes */

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

#include "ifma_p4.inc"  /* one verification and the window sum, 4 lanes */

#else
typedef int mbi_ed25519_ifma_unused;
#endif
