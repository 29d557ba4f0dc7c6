/* Multi-buffer SHA-256 with AVX2: 8 independent messages, one per 32-bit lane. The
 * fallback batch kernel for x86 CPUs that have neither SHA-NI nor AVX-512 (with SHA-NI,
 * the two-stream SHA-NI kernel is faster). Compiled with -mavx2; a stub elsewhere. */
#include "mbi_sha256.h"

#include <stdlib.h>

#if defined(__x86_64__) && defined(__AVX2__)
#include <immintrin.h>

int mbi_sha256_has_avx2(void) { return 1; }

typedef __m256i V;

#define ADD(a, b) _mm256_add_epi32(a, b)
#define ROR(x, n) _mm256_or_si256(_mm256_srli_epi32(x, n), _mm256_slli_epi32(x, 32 - (n)))
#define SHR(x, n) _mm256_srli_epi32(x, n)
#define XOR3(a, b, c) _mm256_xor_si256(_mm256_xor_si256(a, b), c)
#define CH(e, f, g) _mm256_xor_si256(_mm256_and_si256(_mm256_xor_si256(f, g), e), g)
#define MAJ(a, b, c) _mm256_xor_si256(_mm256_and_si256(a, _mm256_xor_si256(b, c)), _mm256_and_si256(b, c))
#define BSIG0(x) XOR3(ROR(x, 2), ROR(x, 13), ROR(x, 22))
#define BSIG1(x) XOR3(ROR(x, 6), ROR(x, 11), ROR(x, 25))
#define SSIG0(x) XOR3(ROR(x, 7), ROR(x, 18), SHR(x, 3))
#define SSIG1(x) XOR3(ROR(x, 17), ROR(x, 19), SHR(x, 10))

static inline V bswap32(V x) {
    const V m = _mm256_set_epi8(28, 29, 30, 31, 24, 25, 26, 27, 20, 21, 22, 23, 16, 17, 18, 19,
                                12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
    return _mm256_shuffle_epi8(x, m);
}

static inline void transpose8(V r[8]) {
    V t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        u[4 * i + 0] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int j = 0; j < 4; j++) {
        r[j] = _mm256_permute2x128_si256(u[j], u[4 + j], 0x20);
        r[4 + j] = _mm256_permute2x128_si256(u[j], u[4 + j], 0x31);
    }
}

#define ROUND(a, b, c, d, e, f, g, h, wk)                                  \
    do {                                                                   \
        V t1_ = ADD(ADD(h, BSIG1(e)), ADD(CH(e, f, g), wk));               \
        V t2_ = ADD(BSIG0(a), MAJ(a, b, c));                               \
        d = ADD(d, t1_);                                                   \
        h = ADD(t1_, t2_);                                                 \
    } while (0)

#define KW(t) ADD(W[(t) & 15], _mm256_set1_epi32((int)mbi_sha256_K[t]))
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

#define ST(w) (from_iv ? _mm256_set1_epi32((int)mbi_sha256_IV[w]) : _mm256_loadu_si256((const V *)(st + (w) * 8)))
void mbi_sha256_x8_avx2(uint32_t *st, const uint8_t *const *p, size_t nblocks, int from_iv) {
    V a = ST(0), b = ST(1), c = ST(2), d = ST(3), e = ST(4), f = ST(5), g = ST(6), h = ST(7);
#undef ST
    for (size_t blk = 0; blk < nblocks; blk++) {
        V W[16], lo[8], hi[8];
        for (int l = 0; l < 8; l++) {
            lo[l] = _mm256_loadu_si256((const V *)(p[l] + 64 * blk));
            hi[l] = _mm256_loadu_si256((const V *)(p[l] + 64 * blk + 32));
        }
        transpose8(lo);
        transpose8(hi);
        for (int i = 0; i < 8; i++) {
            W[i] = bswap32(lo[i]);
            W[8 + i] = bswap32(hi[i]);
        }
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
    _mm256_storeu_si256((V *)(st + 0 * 8), a); _mm256_storeu_si256((V *)(st + 1 * 8), b);
    _mm256_storeu_si256((V *)(st + 2 * 8), c); _mm256_storeu_si256((V *)(st + 3 * 8), d);
    _mm256_storeu_si256((V *)(st + 4 * 8), e); _mm256_storeu_si256((V *)(st + 5 * 8), f);
    _mm256_storeu_si256((V *)(st + 6 * 8), g); _mm256_storeu_si256((V *)(st + 7 * 8), h);
}

void mbi_sha256_x8_avx2_out(const uint32_t *st, uint8_t *const *out) {
    V s[8];
    for (int w = 0; w < 8; w++) s[w] = _mm256_loadu_si256((const V *)(st + 8 * w));
    transpose8(s);
    for (int l = 0; l < 8; l++) _mm256_storeu_si256((V *)out[l], bswap32(s[l]));
}

#else /* no AVX2 in this build */

int mbi_sha256_has_avx2(void) { return 0; }
void mbi_sha256_x8_avx2(uint32_t *st, const uint8_t *const *p, size_t nblocks, int from_iv) {
    (void)st; (void)p; (void)nblocks; (void)from_iv; abort();
}
void mbi_sha256_x8_avx2_out(const uint32_t *st, uint8_t *const *out) {
    (void)st; (void)out; abort();
}
#endif
