/* Arithmetic mod p = 2^255 - 19 in radix 2^51: five unsigned 64-bit limbs, products
 * in unsigned __int128. Portable baseline for every Ed25519 path.
 *
 * Limb bounds (the invariant every function relies on): fe_mul/fe_sq accept limbs up
 * to 2^54 (so no 64-bit carry overflows) and return limbs < 2^51 + 2^14; fe_add does not
 * carry (callers add at most two carried values, < 2^53);
 * fe_sub adds 4p before subtracting and then carries, so its subtrahend may have limbs
 * up to 2^53 and its result is carried. Values are not canonical until fe_tobytes. */
#ifndef MBI_FE51_H
#define MBI_FE51_H
#include <stdint.h>
#include <string.h>

typedef unsigned __int128 mbi_u128;

/* Debug builds (-DMBI_ED25519_CHECK_BOUNDS) abort when a multiplication input breaks
 * the limb bound; the test suite is run that way to check the bound analysis. */
#ifdef MBI_ED25519_CHECK_BOUNDS
#include <stdlib.h>
#define FE_CHECK_IN(f, bits) do { for (int i_ = 0; i_ < 5; i_++) if ((f)->v[i_] >> (bits)) abort(); } while (0)
#else
#define FE_CHECK_IN(f, bits) do { } while (0)
#endif
typedef struct { uint64_t v[5]; } fe;

#define FE_MASK51 ((uint64_t)0x7ffffffffffffULL)

static inline void fe_0(fe *h) { memset(h, 0, sizeof *h); }
static inline void fe_1(fe *h) { memset(h, 0, sizeof *h); h->v[0] = 1; }

static inline void fe_add(fe *h, const fe *f, const fe *g) {
    for (int i = 0; i < 5; i++) h->v[i] = f->v[i] + g->v[i];
}

static inline void fe_carry(fe *h) {
    uint64_t c;
    c = h->v[0] >> 51; h->v[0] &= FE_MASK51; h->v[1] += c;
    c = h->v[1] >> 51; h->v[1] &= FE_MASK51; h->v[2] += c;
    c = h->v[2] >> 51; h->v[2] &= FE_MASK51; h->v[3] += c;
    c = h->v[3] >> 51; h->v[3] &= FE_MASK51; h->v[4] += c;
    c = h->v[4] >> 51; h->v[4] &= FE_MASK51; h->v[0] += c * 19;
}

/* h = f - g, computed as f + 4p - g so no limb goes negative (g limbs <= 2^53). */
static inline void fe_sub(fe *h, const fe *f, const fe *g) {
    FE_CHECK_IN(g, 53); FE_CHECK_IN(f, 62);
    h->v[0] = (f->v[0] + 0x1fffffffffffb4ULL) - g->v[0];
    h->v[1] = (f->v[1] + 0x1ffffffffffffcULL) - g->v[1];
    h->v[2] = (f->v[2] + 0x1ffffffffffffcULL) - g->v[2];
    h->v[3] = (f->v[3] + 0x1ffffffffffffcULL) - g->v[3];
    h->v[4] = (f->v[4] + 0x1ffffffffffffcULL) - g->v[4];
    fe_carry(h);
}

static inline void fe_neg(fe *h, const fe *f) {
    fe z; fe_0(&z); fe_sub(h, &z, f);
}

/* The carry chain shared by fe_mul and fe_sq: 128-bit column sums r0..r4 (each
 * < 2^115 under the input bounds) to limbs < 2^51 + 2^14. */
static inline __attribute__((always_inline)) void fe_carry_wide(fe *h, mbi_u128 r0, mbi_u128 r1,
                                                                mbi_u128 r2, mbi_u128 r3,
                                                                mbi_u128 r4) {
    uint64_t c;
    r1 += (uint64_t)(r0 >> 51); uint64_t h0 = (uint64_t)r0 & FE_MASK51;
    r2 += (uint64_t)(r1 >> 51); uint64_t h1 = (uint64_t)r1 & FE_MASK51;
    r3 += (uint64_t)(r2 >> 51); uint64_t h2 = (uint64_t)r2 & FE_MASK51;
    r4 += (uint64_t)(r3 >> 51); uint64_t h3 = (uint64_t)r3 & FE_MASK51;
    c = (uint64_t)(r4 >> 51);   uint64_t h4 = (uint64_t)r4 & FE_MASK51;
    h0 += c * 19;
    h1 += h0 >> 51; h0 &= FE_MASK51;
    h->v[0] = h0; h->v[1] = h1; h->v[2] = h2; h->v[3] = h3; h->v[4] = h4;
}

static inline void fe_mul(fe *h, const fe *f, const fe *g) {
    FE_CHECK_IN(f, 54); FE_CHECK_IN(g, 54);
    const uint64_t f0 = f->v[0], f1 = f->v[1], f2 = f->v[2], f3 = f->v[3], f4 = f->v[4];
    const uint64_t g0 = g->v[0], g1 = g->v[1], g2 = g->v[2], g3 = g->v[3], g4 = g->v[4];
    const uint64_t g1_19 = 19 * g1, g2_19 = 19 * g2, g3_19 = 19 * g3, g4_19 = 19 * g4;
    mbi_u128 r0 = (mbi_u128)f0 * g0 + (mbi_u128)f1 * g4_19 + (mbi_u128)f2 * g3_19 +
                  (mbi_u128)f3 * g2_19 + (mbi_u128)f4 * g1_19;
    mbi_u128 r1 = (mbi_u128)f0 * g1 + (mbi_u128)f1 * g0 + (mbi_u128)f2 * g4_19 +
                  (mbi_u128)f3 * g3_19 + (mbi_u128)f4 * g2_19;
    mbi_u128 r2 = (mbi_u128)f0 * g2 + (mbi_u128)f1 * g1 + (mbi_u128)f2 * g0 +
                  (mbi_u128)f3 * g4_19 + (mbi_u128)f4 * g3_19;
    mbi_u128 r3 = (mbi_u128)f0 * g3 + (mbi_u128)f1 * g2 + (mbi_u128)f2 * g1 +
                  (mbi_u128)f3 * g0 + (mbi_u128)f4 * g4_19;
    mbi_u128 r4 = (mbi_u128)f0 * g4 + (mbi_u128)f1 * g3 + (mbi_u128)f2 * g2 +
                  (mbi_u128)f3 * g1 + (mbi_u128)f4 * g0;
    fe_carry_wide(h, r0, r1, r2, r3, r4);
}

static inline void fe_sq(fe *h, const fe *f) {
    FE_CHECK_IN(f, 54);
    const uint64_t f0 = f->v[0], f1 = f->v[1], f2 = f->v[2], f3 = f->v[3], f4 = f->v[4];
    const uint64_t f0_2 = 2 * f0, f1_2 = 2 * f1;
    const uint64_t f1_38 = 38 * f1, f2_38 = 38 * f2, f3_38 = 38 * f3;
    const uint64_t f3_19 = 19 * f3, f4_19 = 19 * f4;
    mbi_u128 r0 = (mbi_u128)f0 * f0 + (mbi_u128)f1_38 * f4 + (mbi_u128)f2_38 * f3;
    mbi_u128 r1 = (mbi_u128)f0_2 * f1 + (mbi_u128)f2_38 * f4 + (mbi_u128)f3_19 * f3;
    mbi_u128 r2 = (mbi_u128)f0_2 * f2 + (mbi_u128)f1 * f1 + (mbi_u128)f3_38 * f4;
    mbi_u128 r3 = (mbi_u128)f0_2 * f3 + (mbi_u128)f1_2 * f2 + (mbi_u128)f4_19 * f4;
    mbi_u128 r4 = (mbi_u128)f0_2 * f4 + (mbi_u128)f1_2 * f3 + (mbi_u128)f2 * f2;
    fe_carry_wide(h, r0, r1, r2, r3, r4);
}

static inline void fe_sqn(fe *h, const fe *f, int n) {
    fe_sq(h, f);
    while (--n > 0) fe_sq(h, h);
}

/* Bytes -> field element: the low 255 bits, bit 255 ignored. Values in [p, 2^255) are
 * kept as they are (they equal value - p mod p): this is what makes non-canonical y
 * encodings decode, as ZIP-215 requires. */
static inline void fe_frombytes(fe *h, const uint8_t s[32]) {
    uint64_t w[4];
    for (int i = 0; i < 4; i++) {
        uint64_t x = 0;
        for (int j = 7; j >= 0; j--) x = (x << 8) | s[8 * i + j];
        w[i] = x;
    }
    h->v[0] = w[0] & FE_MASK51;
    h->v[1] = ((w[0] >> 51) | (w[1] << 13)) & FE_MASK51;
    h->v[2] = ((w[1] >> 38) | (w[2] << 26)) & FE_MASK51;
    h->v[3] = ((w[2] >> 25) | (w[3] << 39)) & FE_MASK51;
    h->v[4] = (w[3] >> 12) & FE_MASK51;
}

/* Fully reduced (canonical) little-endian encoding. */
static inline void fe_tobytes(uint8_t s[32], const fe *f) {
    fe t = *f;
    fe_carry(&t);
    fe_carry(&t);
    /* now every limb < 2^51, value < 2^255; subtract p iff value + 19 >= 2^255 */
    uint64_t q = (t.v[0] + 19) >> 51;
    q = (t.v[1] + q) >> 51;
    q = (t.v[2] + q) >> 51;
    q = (t.v[3] + q) >> 51;
    q = (t.v[4] + q) >> 51;
    t.v[0] += 19 * q;
    uint64_t c;
    c = t.v[0] >> 51; t.v[0] &= FE_MASK51; t.v[1] += c;
    c = t.v[1] >> 51; t.v[1] &= FE_MASK51; t.v[2] += c;
    c = t.v[2] >> 51; t.v[2] &= FE_MASK51; t.v[3] += c;
    c = t.v[3] >> 51; t.v[3] &= FE_MASK51; t.v[4] += c;
    t.v[4] &= FE_MASK51; /* drops 2^255, completing the subtraction of p */
    uint64_t w[4];
    w[0] = t.v[0] | (t.v[1] << 51);
    w[1] = (t.v[1] >> 13) | (t.v[2] << 38);
    w[2] = (t.v[2] >> 26) | (t.v[3] << 25);
    w[3] = (t.v[3] >> 39) | (t.v[4] << 12);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) s[8 * i + j] = (uint8_t)(w[i] >> (8 * j));
}

static inline int fe_iszero(const fe *f) {
    uint8_t s[32], acc = 0;
    fe_tobytes(s, f);
    for (int i = 0; i < 32; i++) acc |= s[i];
    return acc == 0;
}

static inline int fe_eq(const fe *f, const fe *g) {
    fe d; fe_sub(&d, f, g);
    return fe_iszero(&d);
}

/* Parity of the canonical value ("negative" in RFC 8032 terms). */
static inline int fe_isodd(const fe *f) {
    uint8_t s[32];
    fe_tobytes(s, f);
    return s[0] & 1;
}

/* z^(2^250 - 1) and z^11: the shared prefix of inversion and the square-root power. */
static inline void fe_pow2_250_1(fe *out, fe *z11, const fe *z) {
    fe t0, t1, t2, t3;
    fe_sq(&t0, z);              /* z^2 */
    fe_sqn(&t1, &t0, 2);        /* z^8 */
    fe_mul(&t1, z, &t1);        /* z^9 */
    fe_mul(&t0, &t0, &t1);      /* z^11 */
    *z11 = t0;
    fe_sq(&t2, &t0);            /* z^22 */
    fe_mul(&t1, &t1, &t2);      /* z^(2^5-1) */
    fe_sqn(&t2, &t1, 5);
    fe_mul(&t1, &t2, &t1);      /* 2^10-1 */
    fe_sqn(&t2, &t1, 10);
    fe_mul(&t2, &t2, &t1);      /* 2^20-1 */
    fe_sqn(&t3, &t2, 20);
    fe_mul(&t2, &t3, &t2);      /* 2^40-1 */
    fe_sqn(&t2, &t2, 10);
    fe_mul(&t1, &t2, &t1);      /* 2^50-1 */
    fe_sqn(&t2, &t1, 50);
    fe_mul(&t2, &t2, &t1);      /* 2^100-1 */
    fe_sqn(&t3, &t2, 100);
    fe_mul(&t2, &t3, &t2);      /* 2^200-1 */
    fe_sqn(&t2, &t2, 50);
    fe_mul(out, &t2, &t1);      /* 2^250-1 */
}

/* h = z^(p-2) = 1/z (0 for z = 0). */
static inline void fe_invert(fe *h, const fe *z) {
    fe t, z11;
    fe_pow2_250_1(&t, &z11, z);
    fe_sqn(&t, &t, 5);          /* 2^255 - 32 */
    fe_mul(h, &t, &z11);        /* 2^255 - 21 = p - 2 */
}

/* h = z^((p-5)/8) = z^(2^252 - 3). */
static inline void fe_pow22523(fe *h, const fe *z) {
    fe t, z11;
    fe_pow2_250_1(&t, &z11, z);
    fe_sqn(&t, &t, 2);          /* 2^252 - 4 */
    fe_mul(h, &t, z);           /* 2^252 - 3 */
}
#endif
