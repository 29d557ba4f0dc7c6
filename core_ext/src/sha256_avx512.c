/* Multi-buffer SHA-256 with AVX-512: 16 independent messages, one per 32-bit lane.
 *
 * Each call absorbs `nblocks` blocks per lane. The 16 blocks of a step are loaded as 16
 * rows and transposed (16x16 dwords) so register W[t] holds word t of every lane; rounds
 * use VPRORD for the rotations and VPTERNLOGD for Ch / Maj / the three-way XORs.
 * Compiled with -mavx512f -mavx512vl -mavx512bw; a stub elsewhere. */
#include "mbi_sha256.h"

#include <stdlib.h>

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#include <immintrin.h>

int mbi_sha256_has_avx512(void) { return 1; }

typedef __m512i V;

#define ADD(a, b) _mm512_add_epi32(a, b)
#define ROR(x, n) _mm512_ror_epi32(x, n)
#define SHR(x, n) _mm512_srli_epi32(x, n)
#define XOR3(a, b, c) _mm512_ternarylogic_epi32(a, b, c, 0x96)
#define CH(e, f, g) _mm512_ternarylogic_epi32(e, f, g, 0xCA)
#define MAJ(a, b, c) _mm512_ternarylogic_epi32(a, b, c, 0xE8)
#define BSIG0(x) XOR3(ROR(x, 2), ROR(x, 13), ROR(x, 22))
#define BSIG1(x) XOR3(ROR(x, 6), ROR(x, 11), ROR(x, 25))
#define SSIG0(x) XOR3(ROR(x, 7), ROR(x, 18), SHR(x, 3))
#define SSIG1(x) XOR3(ROR(x, 17), ROR(x, 19), SHR(x, 10))

static inline V bswap32(V x) {
    const V m = _mm512_set_epi8(
        60, 61, 62, 63, 56, 57, 58, 59, 52, 53, 54, 55, 48, 49, 50, 51,
        44, 45, 46, 47, 40, 41, 42, 43, 36, 37, 38, 39, 32, 33, 34, 35,
        28, 29, 30, 31, 24, 25, 26, 27, 20, 21, 22, 23, 16, 17, 18, 19,
        12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
    return _mm512_shuffle_epi8(x, m);
}

/* r[i] = row i (16 dwords) -> r[j] = column j. */
static inline void transpose16(V r[16]) {
    V t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        u[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int j = 0; j < 4; j++) {
        V a = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x44);
        V b = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xEE);
        V c = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x44);
        V d = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xEE);
        r[j] = _mm512_shuffle_i32x4(a, c, 0x88);
        r[4 + j] = _mm512_shuffle_i32x4(a, c, 0xDD);
        r[8 + j] = _mm512_shuffle_i32x4(b, d, 0x88);
        r[12 + j] = _mm512_shuffle_i32x4(b, d, 0xDD);
    }
}

#define ROUND(a, b, c, d, e, f, g, h, wk)                                  \
    do {                                                                   \
        V t1_ = ADD(ADD(h, BSIG1(e)), ADD(CH(e, f, g), wk));               \
        V t2_ = ADD(BSIG0(a), MAJ(a, b, c));                               \
        d = ADD(d, t1_);                                                   \
        h = ADD(t1_, t2_);                                                 \
    } while (0)

#define KW(t) ADD(W[(t) & 15], _mm512_set1_epi32((int)mbi_sha256_K[t]))
#define SCHED(t)                                                           \
    W[(t) & 15] = ADD(ADD(W[(t) & 15], SSIG0(W[((t) + 1) & 15])),          \
                      ADD(W[((t) + 9) & 15], SSIG1(W[((t) + 14) & 15])))

#define ROUND8(t)                                                          \
    ROUND(a, b, c, d, e, f, g, h, KW((t) + 0));                            \
    ROUND(h, a, b, c, d, e, f, g, KW((t) + 1));                            \
    ROUND(g, h, a, b, c, d, e, f, KW((t) + 2));                            \
    ROUND(f, g, h, a, b, c, d, e, KW((t) + 3));                            \
    ROUND(e, f, g, h, a, b, c, d, KW((t) + 4));                            \
    ROUND(d, e, f, g, h, a, b, c, KW((t) + 5));                            \
    ROUND(c, d, e, f, g, h, a, b, KW((t) + 6));                            \
    ROUND(b, c, d, e, f, g, h, a, KW((t) + 7))

#define SCHED8(t)                                                          \
    SCHED((t) + 0); SCHED((t) + 1); SCHED((t) + 2); SCHED((t) + 3);        \
    SCHED((t) + 4); SCHED((t) + 5); SCHED((t) + 6); SCHED((t) + 7)

void mbi_sha256_x16_avx512(uint32_t *st, const uint8_t *const *p, size_t nblocks) {
    V a = _mm512_loadu_si512(st + 0 * 16), b = _mm512_loadu_si512(st + 1 * 16);
    V c = _mm512_loadu_si512(st + 2 * 16), d = _mm512_loadu_si512(st + 3 * 16);
    V e = _mm512_loadu_si512(st + 4 * 16), f = _mm512_loadu_si512(st + 5 * 16);
    V g = _mm512_loadu_si512(st + 6 * 16), h = _mm512_loadu_si512(st + 7 * 16);
    for (size_t blk = 0; blk < nblocks; blk++) {
        V W[16];
        for (int l = 0; l < 16; l++) W[l] = _mm512_loadu_si512(p[l] + 64 * blk);
        transpose16(W);
        for (int i = 0; i < 16; i++) W[i] = bswap32(W[i]);
        V a0 = a, b0 = b, c0 = c, d0 = d, e0 = e, f0 = f, g0 = g, h0 = h;
        ROUND8(0);
        ROUND8(8);
        SCHED8(16); ROUND8(16);
        SCHED8(24); ROUND8(24);
        SCHED8(32); ROUND8(32);
        SCHED8(40); ROUND8(40);
        SCHED8(48); ROUND8(48);
        SCHED8(56); ROUND8(56);
        a = ADD(a, a0); b = ADD(b, b0); c = ADD(c, c0); d = ADD(d, d0);
        e = ADD(e, e0); f = ADD(f, f0); g = ADD(g, g0); h = ADD(h, h0);
    }
    _mm512_storeu_si512(st + 0 * 16, a); _mm512_storeu_si512(st + 1 * 16, b);
    _mm512_storeu_si512(st + 2 * 16, c); _mm512_storeu_si512(st + 3 * 16, d);
    _mm512_storeu_si512(st + 4 * 16, e); _mm512_storeu_si512(st + 5 * 16, f);
    _mm512_storeu_si512(st + 6 * 16, g); _mm512_storeu_si512(st + 7 * 16, h);
}

void mbi_sha256_x16_avx512_out(const uint32_t *st, uint8_t *const *out) {
    V s[8];
    for (int w = 0; w < 8; w++) s[w] = bswap32(_mm512_loadu_si512(st + 16 * w));
    V t[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(s[2 * i], s[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(s[2 * i], s[2 * i + 1]);
    }
    /* u[j] chunk k = words 0..3 of lane 4k+j; v[j] chunk k = words 4..7. */
    V u[4], v[4];
    u[0] = _mm512_unpacklo_epi64(t[0], t[2]); u[1] = _mm512_unpackhi_epi64(t[0], t[2]);
    u[2] = _mm512_unpacklo_epi64(t[1], t[3]); u[3] = _mm512_unpackhi_epi64(t[1], t[3]);
    v[0] = _mm512_unpacklo_epi64(t[4], t[6]); v[1] = _mm512_unpackhi_epi64(t[4], t[6]);
    v[2] = _mm512_unpacklo_epi64(t[5], t[7]); v[3] = _mm512_unpackhi_epi64(t[5], t[7]);
    for (int j = 0; j < 4; j++) {
        V x = _mm512_shuffle_i32x4(u[j], v[j], 0x44); /* u.c0 u.c1 v.c0 v.c1 */
        V y = _mm512_shuffle_i32x4(u[j], v[j], 0xEE); /* u.c2 u.c3 v.c2 v.c3 */
        x = _mm512_shuffle_i32x4(x, x, 0xD8);         /* u.c0 v.c0 u.c1 v.c1 */
        y = _mm512_shuffle_i32x4(y, y, 0xD8);
        _mm256_storeu_si256((__m256i *)out[j], _mm512_castsi512_si256(x));
        _mm256_storeu_si256((__m256i *)out[4 + j], _mm512_extracti64x4_epi64(x, 1));
        _mm256_storeu_si256((__m256i *)out[8 + j], _mm512_castsi512_si256(y));
        _mm256_storeu_si256((__m256i *)out[12 + j], _mm512_extracti64x4_epi64(y, 1));
    }
}

#else /* no AVX-512 in this build */

int mbi_sha256_has_avx512(void) { return 0; }
void mbi_sha256_x16_avx512(uint32_t *st, const uint8_t *const *p, size_t nblocks) {
    (void)st; (void)p; (void)nblocks; abort();
}
void mbi_sha256_x16_avx512_out(const uint32_t *st, uint8_t *const *out) {
    (void)st; (void)out; abort();
}
#endif
