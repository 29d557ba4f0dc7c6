/* Hardware SHA-256 instructions.
 *
 * x86-64: SHA-NI (SHA256RNDS2 / SHA256MSG1 / SHA256MSG2), compiled with -msha -msse4.1.
 *   compress2 runs two independent streams interleaved: SHA256RNDS2 has a latency of
 *   several cycles and one stream's rounds form a single dependency chain, so two chains
 *   keep the unit busy (Merkle levels and batches always have two messages at hand).
 * AArch64: the ARMv8 crypto extension (SHA256H / SHA256H2 / SHA256SU0 / SHA256SU1),
 *   compiled with -march=armv8-a+crypto.
 * Elsewhere, or when the flags are missing, everything here compiles to stubs and
 * mbi_sha256_has_*() returns 0, so the dispatcher never picks them. */
#include "mbi_sha256.h"

#include <stdlib.h>

#if defined(__x86_64__) && defined(__SHA__) && defined(__SSE4_1__)
#include <immintrin.h>

int mbi_sha256_has_shani(void) { return 1; }

#define KV(i) _mm_loadu_si128((const __m128i *)&mbi_sha256_K[4 * (i)])

/* Load the state into the ABEF / CDGH register layout SHA256RNDS2 wants. */
#define SHANI_LOAD(S0, S1, st)                                           \
    do {                                                                 \
        __m128i t_ = _mm_loadu_si128((const __m128i *)&(st)[0]);         \
        S1 = _mm_loadu_si128((const __m128i *)&(st)[4]);                 \
        t_ = _mm_shuffle_epi32(t_, 0xB1);  /* CDAB */                    \
        S1 = _mm_shuffle_epi32(S1, 0x1B);  /* EFGH */                    \
        S0 = _mm_alignr_epi8(t_, S1, 8);   /* ABEF */                    \
        S1 = _mm_blend_epi16(S1, t_, 0xF0); /* CDGH */                   \
    } while (0)

#define SHANI_STORE(S0, S1, st)                                          \
    do {                                                                 \
        __m128i t_ = _mm_shuffle_epi32(S0, 0x1B); /* FEBA */             \
        S1 = _mm_shuffle_epi32(S1, 0xB1);         /* DCHG */             \
        S0 = _mm_blend_epi16(t_, S1, 0xF0);       /* DCBA */             \
        S1 = _mm_alignr_epi8(S1, t_, 8);          /* ABEF */             \
        _mm_storeu_si128((__m128i *)&(st)[0], S0);                       \
        _mm_storeu_si128((__m128i *)&(st)[4], S1);                       \
    } while (0)

/* Four rounds of group g with message vector M (already W[4g..4g+3]). */
#define RND4(S0, S1, M, g)                                               \
    do {                                                                 \
        __m128i m_ = _mm_add_epi32(M, KV(g));                            \
        S1 = _mm_sha256rnds2_epu32(S1, S0, m_);                          \
        m_ = _mm_shuffle_epi32(m_, 0x0E);                                \
        S0 = _mm_sha256rnds2_epu32(S0, S1, m_);                          \
    } while (0)

/* Schedule: Mnext = msg2(Mnext + alignr(Mcur, Mprev, 4), Mcur). */
#define SCHED2(Mnext, Mcur, Mprev)                                       \
    do {                                                                 \
        Mnext = _mm_add_epi32(Mnext, _mm_alignr_epi8(Mcur, Mprev, 4));   \
        Mnext = _mm_sha256msg2_epu32(Mnext, Mcur);                       \
    } while (0)
#define SCHED1(Mold, Mcur) Mold = _mm_sha256msg1_epu32(Mold, Mcur)

/* One block for one stream: groups 0..15 over the rotating M0..M3. */
#define BLOCK_BODY(S0, S1, M0, M1, M2, M3)                                             \
    RND4(S0, S1, M0, 0);                                                               \
    RND4(S0, S1, M1, 1); SCHED1(M0, M1);                                               \
    RND4(S0, S1, M2, 2); SCHED1(M1, M2);                                               \
    RND4(S0, S1, M3, 3); SCHED2(M0, M3, M2); SCHED1(M2, M3);                           \
    RND4(S0, S1, M0, 4); SCHED2(M1, M0, M3); SCHED1(M3, M0);                           \
    RND4(S0, S1, M1, 5); SCHED2(M2, M1, M0); SCHED1(M0, M1);                           \
    RND4(S0, S1, M2, 6); SCHED2(M3, M2, M1); SCHED1(M1, M2);                           \
    RND4(S0, S1, M3, 7); SCHED2(M0, M3, M2); SCHED1(M2, M3);                           \
    RND4(S0, S1, M0, 8); SCHED2(M1, M0, M3); SCHED1(M3, M0);                           \
    RND4(S0, S1, M1, 9); SCHED2(M2, M1, M0); SCHED1(M0, M1);                           \
    RND4(S0, S1, M2, 10); SCHED2(M3, M2, M1); SCHED1(M1, M2);                          \
    RND4(S0, S1, M3, 11); SCHED2(M0, M3, M2); SCHED1(M2, M3);                          \
    RND4(S0, S1, M0, 12); SCHED2(M1, M0, M3); SCHED1(M3, M0);                          \
    RND4(S0, S1, M1, 13); SCHED2(M2, M1, M0);                                          \
    RND4(S0, S1, M2, 14); SCHED2(M3, M2, M1);                                          \
    RND4(S0, S1, M3, 15);

void mbi_sha256_compress_shani(uint32_t st[8], const uint8_t *data, size_t nblocks) {
    const __m128i MASK = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i S0, S1;
    SHANI_LOAD(S0, S1, st);
    while (nblocks--) {
        __m128i A0 = S0, A1 = S1;
        __m128i M0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 0)), MASK);
        __m128i M1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16)), MASK);
        __m128i M2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 32)), MASK);
        __m128i M3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 48)), MASK);
        BLOCK_BODY(S0, S1, M0, M1, M2, M3)
        S0 = _mm_add_epi32(S0, A0);
        S1 = _mm_add_epi32(S1, A1);
        data += 64;
    }
    SHANI_STORE(S0, S1, st);
}

/* Two streams, interleaved group by group so both dependency chains are in flight. */
#define RND4x2(g, Ma, Mb) RND4(S0a, S1a, Ma, g); RND4(S0b, S1b, Mb, g)

void mbi_sha256_compress2_shani(uint32_t sta[8], uint32_t stb[8], const uint8_t *pa,
                                const uint8_t *pb, size_t nblocks) {
    const __m128i MASK = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i S0a, S1a, S0b, S1b;
    SHANI_LOAD(S0a, S1a, sta);
    SHANI_LOAD(S0b, S1b, stb);
    while (nblocks--) {
        __m128i A0a = S0a, A1a = S1a, A0b = S0b, A1b = S1b;
        __m128i M0a = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pa + 0)), MASK);
        __m128i M1a = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pa + 16)), MASK);
        __m128i M2a = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pa + 32)), MASK);
        __m128i M3a = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pa + 48)), MASK);
        __m128i M0b = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pb + 0)), MASK);
        __m128i M1b = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pb + 16)), MASK);
        __m128i M2b = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pb + 32)), MASK);
        __m128i M3b = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pb + 48)), MASK);
        RND4x2(0, M0a, M0b);
        RND4x2(1, M1a, M1b); SCHED1(M0a, M1a); SCHED1(M0b, M1b);
        RND4x2(2, M2a, M2b); SCHED1(M1a, M2a); SCHED1(M1b, M2b);
#define STEP(g, Mc, Mn, Mp, Mo)                                                  \
        RND4x2(g, Mc##a, Mc##b);                                                 \
        SCHED2(Mn##a, Mc##a, Mp##a); SCHED2(Mn##b, Mc##b, Mp##b);                \
        SCHED1(Mp##a, Mc##a); SCHED1(Mp##b, Mc##b);
        STEP(3, M3, M0, M2, _)
        STEP(4, M0, M1, M3, _)
        STEP(5, M1, M2, M0, _)
        STEP(6, M2, M3, M1, _)
        STEP(7, M3, M0, M2, _)
        STEP(8, M0, M1, M3, _)
        STEP(9, M1, M2, M0, _)
        STEP(10, M2, M3, M1, _)
        STEP(11, M3, M0, M2, _)
        STEP(12, M0, M1, M3, _)
#undef STEP
        RND4x2(13, M1a, M1b); SCHED2(M2a, M1a, M0a); SCHED2(M2b, M1b, M0b);
        RND4x2(14, M2a, M2b); SCHED2(M3a, M2a, M1a); SCHED2(M3b, M2b, M1b);
        RND4x2(15, M3a, M3b);
        S0a = _mm_add_epi32(S0a, A0a); S1a = _mm_add_epi32(S1a, A1a);
        S0b = _mm_add_epi32(S0b, A0b); S1b = _mm_add_epi32(S1b, A1b);
        pa += 64;
        pb += 64;
    }
    SHANI_STORE(S0a, S1a, sta);
    SHANI_STORE(S0b, S1b, stb);
}

#else /* no x86 SHA-NI in this build */

int mbi_sha256_has_shani(void) { return 0; }
void mbi_sha256_compress_shani(uint32_t st[8], const uint8_t *blocks, size_t nblocks) {
    (void)st; (void)blocks; (void)nblocks; abort();
}
void mbi_sha256_compress2_shani(uint32_t a[8], uint32_t b[8], const uint8_t *pa,
                                const uint8_t *pb, size_t nblocks) {
    (void)a; (void)b; (void)pa; (void)pb; (void)nblocks; abort();
}
#endif

#if defined(__aarch64__) && (defined(__ARM_FEATURE_SHA2) || defined(__ARM_FEATURE_CRYPTO))
#include <arm_neon.h>

int mbi_sha256_has_armce(void) { return 1; }

void mbi_sha256_compress_armce(uint32_t st[8], const uint8_t *data, size_t nblocks) {
    uint32x4_t ABCD = vld1q_u32(&st[0]);
    uint32x4_t EFGH = vld1q_u32(&st[4]);
    while (nblocks--) {
        uint32x4_t ABCD0 = ABCD, EFGH0 = EFGH;
        uint32x4_t M[4];
        for (int i = 0; i < 4; i++)
            M[i] = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(data + 16 * i)));
        for (int g = 0; g < 16; g++) {
            uint32x4_t wk = vaddq_u32(M[g & 3], vld1q_u32(&mbi_sha256_K[4 * g]));
            if (g < 12)
                M[g & 3] = vsha256su1q_u32(vsha256su0q_u32(M[g & 3], M[(g + 1) & 3]),
                                           M[(g + 2) & 3], M[(g + 3) & 3]);
            uint32x4_t t = ABCD;
            ABCD = vsha256hq_u32(ABCD, EFGH, wk);
            EFGH = vsha256h2q_u32(EFGH, t, wk);
        }
        ABCD = vaddq_u32(ABCD, ABCD0);
        EFGH = vaddq_u32(EFGH, EFGH0);
        data += 64;
    }
    vst1q_u32(&st[0], ABCD);
    vst1q_u32(&st[4], EFGH);
}

/* Two streams interleaved, as on x86: SHA256H/H2 have a latency of several cycles. */
void mbi_sha256_compress2_armce(uint32_t sa[8], uint32_t sb[8], const uint8_t *pa,
                                const uint8_t *pb, size_t nblocks) {
    uint32x4_t A0 = vld1q_u32(&sa[0]), A1 = vld1q_u32(&sa[4]);
    uint32x4_t B0 = vld1q_u32(&sb[0]), B1 = vld1q_u32(&sb[4]);
    while (nblocks--) {
        uint32x4_t A0s = A0, A1s = A1, B0s = B0, B1s = B1;
        uint32x4_t MA[4], MB[4];
        for (int i = 0; i < 4; i++) {
            MA[i] = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(pa + 16 * i)));
            MB[i] = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(pb + 16 * i)));
        }
        for (int g = 0; g < 16; g++) {
            uint32x4_t k = vld1q_u32(&mbi_sha256_K[4 * g]);
            uint32x4_t wa = vaddq_u32(MA[g & 3], k), wb = vaddq_u32(MB[g & 3], k);
            if (g < 12) {
                MA[g & 3] = vsha256su1q_u32(vsha256su0q_u32(MA[g & 3], MA[(g + 1) & 3]),
                                            MA[(g + 2) & 3], MA[(g + 3) & 3]);
                MB[g & 3] = vsha256su1q_u32(vsha256su0q_u32(MB[g & 3], MB[(g + 1) & 3]),
                                            MB[(g + 2) & 3], MB[(g + 3) & 3]);
            }
            uint32x4_t ta = A0, tb = B0;
            A0 = vsha256hq_u32(A0, A1, wa);
            B0 = vsha256hq_u32(B0, B1, wb);
            A1 = vsha256h2q_u32(A1, ta, wa);
            B1 = vsha256h2q_u32(B1, tb, wb);
        }
        A0 = vaddq_u32(A0, A0s); A1 = vaddq_u32(A1, A1s);
        B0 = vaddq_u32(B0, B0s); B1 = vaddq_u32(B1, B1s);
        pa += 64;
        pb += 64;
    }
    vst1q_u32(&sa[0], A0); vst1q_u32(&sa[4], A1);
    vst1q_u32(&sb[0], B0); vst1q_u32(&sb[4], B1);
}

#else /* no ARMv8 crypto extension in this build */

int mbi_sha256_has_armce(void) { return 0; }
void mbi_sha256_compress_armce(uint32_t st[8], const uint8_t *blocks, size_t nblocks) {
    (void)st; (void)blocks; (void)nblocks; abort();
}
void mbi_sha256_compress2_armce(uint32_t a[8], uint32_t b[8], const uint8_t *pa,
                                const uint8_t *pb, size_t nblocks) {
    (void)a; (void)b; (void)pa; (void)pb; (void)nblocks; abort();
}
#endif
