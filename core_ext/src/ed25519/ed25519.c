/* ZIP-215 Ed25519 verification: points, scalars, single and batch verification.
 *
 * Group arithmetic uses extended twisted Edwards coordinates (X:Y:Z:T), x = X/Z,
 * y = Y/Z, T = XY/Z on -x^2 + y^2 = 1 + d x^2 y^2, with the Hisil-Wong-Carter-Dawson
 * (2008) unified addition and doubling. Both formulas are complete on this curve
 * (a = -1 is a square, d is not), so they are correct for every input, including the
 * small-order points an adversary may use as A or R. Nothing here is secret, so the
 * code is variable-time. */
#include "mbi_ed25519.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

#include "ed25519/fe51.h"
#include "ed25519/ed25519_internal.h"
#include "ed25519/sha512.h"
#include "mbi_cpu.h"
#include "mbi_parallel.h"

/* ------------------------------------------------------------------ constants */

/* l = 2^252 + 27742317777372353535851937790883648493, little-endian 64-bit limbs */
static const uint64_t SC_L[4] = {0x5812631a5cf5d3edULL, 0x14def9dea2f79cd6ULL, 0, 0x1000000000000000ULL};
/* floor(2^512 / l), for Barrett reduction */
static const uint64_t SC_MU[5] = {0xed9ce5a30a2c131bULL, 0x2106215d086329a7ULL, 0xffffffffffffffebULL,
                                  0xffffffffffffffffULL, 0x000000000000000fULL};
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

static void ge_p3_to_precomp(ge_precomp *r, const ge_p3 *p) {
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

/* ------------------------------------------------------------------ scalars */

void sc_from_bytes(uint64_t r[4], const uint8_t s[32]) {
    for (int i = 0; i < 4; i++) {
        uint64_t x = 0;
        for (int j = 7; j >= 0; j--) x = (x << 8) | s[8 * i + j];
        r[i] = x;
    }
}

/* s < l ? (the ZIP-215 / RFC 8032 canonical-S rule) */
int sc_is_canonical(const uint64_t s[4]) {
    for (int i = 3; i >= 0; i--) {
        if (s[i] < SC_L[i]) return 1;
        if (s[i] > SC_L[i]) return 0;
    }
    return 0; /* s == l */
}

/* r = x mod l for x < 2^512 (8 limbs), Barrett reduction (HAC 14.42, b = 2^64, k = 4). */
void sc_reduce_wide(uint64_t r[4], const uint64_t x[8]) {
    uint64_t q2[10] = {0};
    for (int i = 0; i < 5; i++) {        /* q2 = (x >> 192) * mu */
        mbi_u128 carry = 0;
        for (int j = 0; j < 5; j++) {
            mbi_u128 t = (mbi_u128)x[3 + i] * SC_MU[j] + q2[i + j] + carry;
            q2[i + j] = (uint64_t)t;
            carry = t >> 64;
        }
        q2[i + 5] = (uint64_t)carry;
    }
    const uint64_t *q3 = q2 + 5;         /* q3 = q2 >> 320 */
    uint64_t r2[5] = {0};                /* r2 = q3 * l mod 2^320 */
    for (int i = 0; i < 5; i++) {
        mbi_u128 carry = 0;
        for (int j = 0; j < 4 && i + j < 5; j++) {
            mbi_u128 t = (mbi_u128)q3[i] * SC_L[j] + r2[i + j] + carry;
            r2[i + j] = (uint64_t)t;
            carry = t >> 64;
        }
        if (i + 4 < 5) r2[i + 4] += (uint64_t)carry;
    }
    uint64_t rr[5];                      /* rr = x mod 2^320 - r2 (mod 2^320) */
    uint64_t borrow = 0;
    for (int i = 0; i < 5; i++) {
        mbi_u128 t = (mbi_u128)x[i] - r2[i] - borrow;
        rr[i] = (uint64_t)t;
        borrow = (uint64_t)(t >> 64) & 1;
    }
    for (;;) {                           /* at most two subtractions of l */
        int ge = rr[4] != 0;
        if (!ge) {
            ge = 1;
            for (int i = 3; i >= 0; i--) {
                if (rr[i] > SC_L[i]) break;
                if (rr[i] < SC_L[i]) { ge = 0; break; }
            }
        }
        if (!ge) break;
        borrow = 0;
        for (int i = 0; i < 5; i++) {
            uint64_t li = i < 4 ? SC_L[i] : 0;
            mbi_u128 t = (mbi_u128)rr[i] - li - borrow;
            rr[i] = (uint64_t)t;
            borrow = (uint64_t)(t >> 64) & 1;
        }
    }
    for (int i = 0; i < 4; i++) r[i] = rr[i];
}

/* k = SHA-512(R || A || M) mod l */
void sc_hram(uint64_t k[4], const uint8_t R[32], const uint8_t A[32], const uint8_t *m, size_t mlen) {
    mbi_sha512_ctx c;
    uint8_t h[64];
    uint64_t w[8];
    mbi_sha512_init(&c);
    mbi_sha512_update(&c, R, 32);
    mbi_sha512_update(&c, A, 32);
    mbi_sha512_update(&c, m, mlen);
    mbi_sha512_final(&c, h);
    for (int i = 0; i < 8; i++) {
        uint64_t x = 0;
        for (int j = 7; j >= 0; j--) x = (x << 8) | h[8 * i + j];
        w[i] = x;
    }
    sc_reduce_wide(k, w);
}

/* r = a * b mod l, a and b < 2^256 */
void sc_mul(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]) {
    uint64_t p[8] = {0};
    for (int i = 0; i < 4; i++) {
        mbi_u128 carry = 0;
        for (int j = 0; j < 4; j++) {
            mbi_u128 t = (mbi_u128)a[i] * b[j] + p[i + j] + carry;
            p[i + j] = (uint64_t)t;
            carry = t >> 64;
        }
        p[i + 4] = (uint64_t)carry;
    }
    sc_reduce_wide(r, p);
}

/* Width-w NAF of a scalar < 2^256: digits odd in (-2^(w-1), 2^(w-1)) or 0, at most one
 * non-zero in any w consecutive positions. naf has 257 entries. */
void sc_wnaf(int8_t naf[257], const uint64_t s[4], int w) {
    uint64_t k[5] = {s[0], s[1], s[2], s[3], 0};
    const int64_t half = (int64_t)1 << (w - 1), full = (int64_t)1 << w;
    memset(naf, 0, 257);
    for (int i = 0; i < 257; i++) {
        if (!(k[0] | k[1] | k[2] | k[3] | k[4])) break;
        if (k[0] & 1) {
            int64_t d = (int64_t)(k[0] & (uint64_t)(full - 1));
            if (d >= half) d -= full;
            naf[i] = (int8_t)d;
            if (d > 0) {             /* k -= d */
                uint64_t b = (uint64_t)d;
                for (int j = 0; j < 5 && b; j++) { uint64_t o = k[j]; k[j] = o - b; b = o < b; }
            } else {                 /* k += -d */
                uint64_t c = (uint64_t)(-d);
                for (int j = 0; j < 5 && c; j++) { k[j] += c; c = k[j] < c; }
            }
        }
        for (int j = 0; j < 4; j++) k[j] = (k[j] >> 1) | (k[j + 1] << 63);
        k[4] >>= 1;
    }
}

/* ------------------------------------------------------------------ base tables */

#define B_WNAF_W 8
#define B_TABLE_N (1 << (B_WNAF_W - 2)) /* odd multiples 1B, 3B, ..., 127B */
static ge_precomp B_ODD[B_TABLE_N];
static ge_p3 B_POINT;
static int g_init_ok = 0;
static int g_backend = MBI_ED25519_PORTABLE;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

const ge_precomp *ed25519_base_odd_table(void) { return B_ODD; }
const ge_p3 *ed25519_base_point(void) { return &B_POINT; }

/* ------------------------------------------------------------------ single check */

#define A_WNAF_W 5
#define A_TABLE_N (1 << (A_WNAF_W - 2)) /* 1P, 3P, ..., 15P */

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

/* Is [8]([s]B + [k]nA + nR) the identity? nA = -A and nR = -R, decoded points.
 * This is the whole single-signature equation, shared by verify and by the batch path
 * when it falls back to checking items one by one. */
int ed25519_check_one(const ge_p3 *nA, const ge_p3 *nR, const uint64_t k[4], const uint64_t s[4]) {
    int8_t kn[257], sn[257];
    ge_cached atab[A_TABLE_N];
    sc_wnaf(kn, k, A_WNAF_W);
    sc_wnaf(sn, s, B_WNAF_W);
    ge_odd_multiples_cached(atab, A_TABLE_N, nA);

    int top = 256;
    while (top >= 0 && !kn[top] && !sn[top]) top--;
    ge_p2 r;
    ge_p3 r3;
    ge_p1p1 t;
    ge_identity(&r3);
    p3_to_p2(&r, &r3);
    for (int i = top; i >= 0; i--) {
        ge_dbl(&t, &r);
        if (kn[i] || sn[i]) {
            p1p1_to_p3(&r3, &t);
            if (kn[i] > 0) { ge_add_cached(&t, &r3, &atab[kn[i] >> 1]); p1p1_to_p3(&r3, &t); }
            else if (kn[i] < 0) { ge_sub_cached(&t, &r3, &atab[(-kn[i]) >> 1]); p1p1_to_p3(&r3, &t); }
            if (sn[i] > 0) { ge_add_precomp(&t, &r3, &B_ODD[sn[i] >> 1]); }
            else if (sn[i] < 0) { ge_sub_precomp(&t, &r3, &B_ODD[(-sn[i]) >> 1]); }
            else { p3_to_p2(&r, &r3); continue; }
        }
        p1p1_to_p2(&r, &t);
    }
    /* r is projective (no T). (XZ : YZ : Z^2 : XY) is the same point in extended
     * coordinates, which costs 4 multiplications instead of an inversion. */
    ge_p3 acc;
    ge_cached cr;
    fe_mul(&acc.T, &r.X, &r.Y);
    fe_mul(&acc.X, &r.X, &r.Z);
    fe_mul(&acc.Y, &r.Y, &r.Z);
    fe_sq(&acc.Z, &r.Z);
    ge_p3_to_cached(&cr, nR);
    ge_add_cached(&t, &acc, &cr);
    p1p1_to_p3(&acc, &t);
    return ge_is_small_order(&acc);
}

int mbi_ed25519_point_decode(const uint8_t enc[32], uint8_t out[32]) {
    ge_p3 p;
    if (ge_decode_zip215(&p, enc) != 0) return 0;
    fe_tobytes(out, &p.Y);
    out[31] |= (uint8_t)(fe_isodd(&p.X) << 7);
    return 1;
}

void mbi_ed25519_point_decode_many(size_t n, const uint8_t *enc, uint8_t *out, uint8_t *ok) {
    for (size_t g = 0; g < n; g += 8) {
        size_t gn = n - g < 8 ? n - g : 8;
        ge_p3 P[8];
        int okl[8];
        if (g_backend == MBI_ED25519_IFMA) {
            const uint8_t *e[8];
            for (size_t l = 0; l < 8; l++) e[l] = enc + 32 * (g + (l < gn ? l : gn - 1));
            ed25519_ifma_decode8(P, okl, e);
        } else {
            for (size_t l = 0; l < gn; l++) okl[l] = ge_decode_zip215(&P[l], enc + 32 * (g + l)) == 0;
        }
        for (size_t l = 0; l < gn; l++) {
            uint8_t *o = out + 32 * (g + l);
            ok[g + l] = (uint8_t)okl[l];
            if (!okl[l]) { memset(o, 0, 32); continue; }
            fe_tobytes(o, &P[l].Y);
            o[31] |= (uint8_t)(fe_isodd(&P[l].X) << 7);
        }
    }
}

int mbi_ed25519_fe_test(int op, const uint64_t *a, const uint64_t *b, uint8_t *out) {
    if (op == 0 || op == 1) {           /* scalar mul / sq of one element */
        fe x, y, r;
        memcpy(x.v, a, sizeof x.v);
        memcpy(y.v, b, sizeof y.v);
        if (op == 0) fe_mul(&r, &x, &y);
        else fe_sq(&r, &x);
        fe_tobytes(out, &r);
        return 0;
    }
    if ((op == 2 || op == 3) && ed25519_ifma_available()) { /* 8 lanes */
        ed25519_ifma_fe_test(op == 3, (const uint64_t (*)[5])a, (const uint64_t (*)[5])b,
                             (uint8_t (*)[32])out);
        return 0;
    }
    return -1;
}

/* ------------------------------------------------------------------ items */

/* Decode and hash one item. Returns 1 if it passed the format checks (S < l, A and R
 * decode); then nA, nR, k, s are filled. */
int ed25519_prepare(ed25519_item *it, const uint8_t pk[32], const uint8_t *msg, size_t mlen,
                    const uint8_t sig[64]) {
    ge_p3 p;
    sc_from_bytes(it->s, sig + 32);
    if (!sc_is_canonical(it->s)) return 0;
    if (ge_decode_zip215(&p, pk) != 0) return 0;
    ge_neg(&it->nA, &p);
    if (ge_decode_zip215(&p, sig) != 0) return 0;
    ge_neg(&it->nR, &p);
    sc_hram(it->k, sig, pk, msg, mlen);
    return 1;
}

int mbi_ed25519_verify(const uint8_t pk[32], const uint8_t *msg, size_t msg_len,
                       const uint8_t sig[64]) {
    ed25519_item it;
    if (!ed25519_prepare(&it, pk, msg, msg_len, sig)) return 0;
    if (g_backend == MBI_ED25519_IFMA) return ed25519_ifma_check_one(&it.nA, &it.nR, it.k, it.s);
    return ed25519_check_one(&it.nA, &it.nR, it.k, it.s);
}

void mbi_ed25519_verify_each(size_t n, const uint8_t *pks, const uint8_t *const *msgs,
                             const size_t *msg_lens, const uint8_t *sigs, uint8_t *out) {
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)mbi_ed25519_verify(pks + 32 * i, msgs[i], msg_lens[i], sigs + 64 * i);
}

/* ------------------------------------------------------------------ batch */

typedef struct {
    const uint8_t *pks, *sigs;
    const uint8_t *const *msgs;
    const size_t *lens;
    uint8_t *out;
    int failed;
    pthread_mutex_t lock;
    ed25519_batch_stats stats;
} batch_ctx;

static void batch_range(void *vctx, size_t begin, size_t end) {
    batch_ctx *c = (batch_ctx *)vctx;
    ed25519_batch_stats st = {0, 0, 0};
    int rc = 0;
    /* bounded sub-batches: memory stays O(32768) items per thread, and the Pippenger
     * gain beyond that size is negligible */
    for (size_t b = begin; b < end && rc == 0; b += 32768) {
        size_t e = end - b > 32768 ? b + 32768 : end;
        rc = ed25519_batch_range(b, e, c->pks, c->msgs, c->lens, c->sigs, c->out, &st);
    }
    pthread_mutex_lock(&c->lock);
    if (rc != 0) c->failed = 1;
    c->stats.msm_checks += st.msm_checks;
    c->stats.msm_failures += st.msm_failures;
    c->stats.single_checks += st.single_checks;
    pthread_mutex_unlock(&c->lock);
}

int mbi_ed25519_verify_batch_ex(size_t n, const uint8_t *pks, const uint8_t *const *msgs,
                                const size_t *msg_lens, const uint8_t *sigs, uint8_t *out,
                                int threads, uint64_t stats[3]) {
    batch_ctx c;
    memset(&c, 0, sizeof c);
    c.pks = pks; c.sigs = sigs; c.msgs = msgs; c.lens = msg_lens; c.out = out;
    pthread_mutex_init(&c.lock, NULL);
    /* Each thread batch-verifies its own contiguous share; small shares would lose the
     * batch speed-up, hence the minimum chunk. */
    mbi_parallel_for(n, threads, 32, batch_range, &c);
    pthread_mutex_destroy(&c.lock);
    if (stats) {
        stats[0] = c.stats.msm_checks;
        stats[1] = c.stats.msm_failures;
        stats[2] = c.stats.single_checks;
    }
    return c.failed ? -1 : 0;
}

double mbi_ed25519_recent_invalid_rate(void) { return ed25519_recent_invalid_rate(); }
void mbi_ed25519_set_recent_invalid_rate(double rate) {
    /* !(rate >= 0) also catches NaN, whose conversion to an integer is undefined */
    ed25519_reset_invalid_rate(!(rate >= 0) ? 0 : rate > 1 ? 1 : rate);
}

int mbi_ed25519_verify_batch(size_t n, const uint8_t *pks, const uint8_t *const *msgs,
                             const size_t *msg_lens, const uint8_t *sigs, uint8_t *out,
                             int threads) {
    return mbi_ed25519_verify_batch_ex(n, pks, msgs, msg_lens, sigs, out, threads, NULL);
}

/* ------------------------------------------------------------------ init */

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
        if ((SC_L[i >> 6] >> (i & 63)) & 1) ge_add_p3(&acc, &acc, &B_POINT);
    }
    if (!fe_iszero(&acc.X) || !fe_eq(&acc.Y, &acc.Z)) return -1;
    return 0;
}

static void init_once(void) {
    if (self_check() != 0) { g_init_ok = 0; return; }
    ge_p3 b2, cur;
    ge_dbl_p3(&b2, &B_POINT);
    cur = B_POINT;
    for (int i = 0; i < B_TABLE_N; i++) {
        ge_p3_to_precomp(&B_ODD[i], &cur);
        ge_add_p3(&cur, &cur, &b2);
    }
    g_backend = MBI_ED25519_PORTABLE;
    if (ed25519_ifma_available()) {
        ed25519_ifma_init();
        g_backend = MBI_ED25519_IFMA;
    }
    g_init_ok = 1;
}

int mbi_ed25519_init(void) {
    pthread_once(&g_once, init_once);
    return g_init_ok ? 0 : -1;
}

int ed25519_current_backend(void) { return g_backend; }

const char *mbi_ed25519_backend(void) {
    return g_backend == MBI_ED25519_IFMA ? "avx512ifma" : "portable";
}

int mbi_ed25519_set_backend(int which) {
    if (!mbi_ed25519_backend_available(which)) return -1;
    g_backend = which;
    return 0;
}

/* The IFMA functions exist only if ed25519_ifma.c was compiled with the IFMA flags
 * (x86-64 builds); weak references resolve to NULL otherwise. */
int ed25519_ifma_available(void) {
    if (!ed25519_ifma_fe_test || !ed25519_ifma_check_one || !ed25519_ifma_bucket_sum ||
        !ed25519_ifma_check8 || !ed25519_ifma_decode8 || !ed25519_ifma_init) return 0;
    return MBI_CPU_HAS(MBI_CPU_AVX512_BASE | MBI_CPU_AVX512IFMA);
}

int mbi_ed25519_backend_available(int which) {
    if (which == MBI_ED25519_PORTABLE) return 1;
    if (which == MBI_ED25519_IFMA) return ed25519_ifma_available();
    return 0;
}

/* ------------------------------------------------------------------ CSPRNG */

int ed25519_os_random(uint8_t *buf, size_t n) {
#if defined(__linux__)
    while (n > 0) {
        ssize_t r = getrandom(buf, n, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        buf += r; n -= (size_t)r;
    }
    if (n == 0) return 0;
#endif
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    while (n > 0) {
        ssize_t r = read(fd, buf, n);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            close(fd);
            return -1;
        }
        buf += r; n -= (size_t)r;
    }
    close(fd);
    return 0;
}
