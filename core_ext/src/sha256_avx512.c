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

/* zm: bit i set while W[i] is known to be zero at compile time (message words of a
 * padding block). Every use of zm below is a compile-time constant after inlining, so the
 * zero terms of the rounds and of the schedule are dropped from the generated code. */
#define ZERO(i) ((zm >> (i)) & 1u)
#define KC(t) _mm512_set1_epi32((int)mbi_sha256_K[t])
#define KW(t) (ZERO((t) & 15) ? KC(t) : ADD(W[(t) & 15], KC(t)))
#define SCHED(t)                                                                   \
    do {                                                                           \
        const int i0_ = (t) & 15, i1_ = ((t) + 1) & 15, i9_ = ((t) + 9) & 15,      \
                  i14_ = ((t) + 14) & 15;                                          \
        V acc_ = _mm512_setzero_si512();                                           \
        int have_ = 0;                                                             \
        if (!ZERO(i0_)) { acc_ = W[i0_]; have_ = 1; }                              \
        if (!ZERO(i1_)) { V x_ = SSIG0(W[i1_]); acc_ = have_ ? ADD(acc_, x_) : x_; have_ = 1; } \
        if (!ZERO(i9_)) { acc_ = have_ ? ADD(acc_, W[i9_]) : W[i9_]; have_ = 1; }  \
        if (!ZERO(i14_)) { V x_ = SSIG1(W[i14_]); acc_ = have_ ? ADD(acc_, x_) : x_; have_ = 1; } \
        W[i0_] = acc_;                                                             \
        zm = have_ ? (zm & ~(1u << i0_)) : (zm | (1u << i0_));                     \
    } while (0)

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

/* One block for 16 lanes: s += rounds(s, W). W holds the message words (big-endian
 * values) and is clobbered by the schedule. */
static inline __attribute__((always_inline)) void compress16(V s[8], V W[16], unsigned zm) {
    V a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
    ROUND8(0);
    ROUND8(8);
    SCHED8(16); ROUND8(16);
    SCHED8(24); ROUND8(24);
    SCHED8(32); ROUND8(32);
    SCHED8(40); ROUND8(40);
    SCHED8(48); ROUND8(48);
    SCHED8(56); ROUND8(56);
    s[0] = ADD(s[0], a); s[1] = ADD(s[1], b); s[2] = ADD(s[2], c); s[3] = ADD(s[3], d);
    s[4] = ADD(s[4], e); s[5] = ADD(s[5], f); s[6] = ADD(s[6], g); s[7] = ADD(s[7], h);
}

static inline void load_state(V s[8], const uint32_t *st) {
    for (int w = 0; w < 8; w++) s[w] = _mm512_loadu_si512(st + 16 * w);
}

static inline void store_state(uint32_t *st, const V s[8]) {
    for (int w = 0; w < 8; w++) _mm512_storeu_si512(st + 16 * w, s[w]);
}

static inline void iv_state(V s[8]) {
    for (int w = 0; w < 8; w++) s[w] = _mm512_set1_epi32((int)mbi_sha256_IV[w]);
}

void mbi_sha256_x16_avx512(uint32_t *st, const uint8_t *const *p, size_t nblocks, int from_iv) {
    V s[8];
    if (from_iv) iv_state(s);
    else load_state(s, st);
    for (size_t blk = 0; blk < nblocks; blk++) {
        V W[16];
        for (int l = 0; l < 16; l++) W[l] = _mm512_loadu_si512(p[l] + 64 * blk);
        transpose16(W);
        for (int i = 0; i < 16; i++) W[i] = bswap32(W[i]);
        compress16(s, W, 0);
    }
    store_state(st, s);
}

/* The 64 rounds of a block whose message words are the same in every lane and known in
 * advance (wk[t] = K[t] + W[t], broadcast), then the feed-forward into s. Always inlined
 * into both callers, so the code is what each had written out. */
static inline __attribute__((always_inline)) void wk_block(V s[8], const uint32_t *wk) {
    V a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
#define WKB(t) _mm512_set1_epi32((int)wk[t])
#define ROUND8C(t)                                                         \
    ROUND(a, b, c, d, e, f, g, h, WKB((t) + 0));                           \
    ROUND(h, a, b, c, d, e, f, g, WKB((t) + 1));                           \
    ROUND(g, h, a, b, c, d, e, f, WKB((t) + 2));                           \
    ROUND(f, g, h, a, b, c, d, e, WKB((t) + 3));                           \
    ROUND(e, f, g, h, a, b, c, d, WKB((t) + 4));                           \
    ROUND(d, e, f, g, h, a, b, c, WKB((t) + 5));                           \
    ROUND(c, d, e, f, g, h, a, b, WKB((t) + 6));                           \
    ROUND(b, c, d, e, f, g, h, a, WKB((t) + 7))
    ROUND8C(0); ROUND8C(8); ROUND8C(16); ROUND8C(24);
    ROUND8C(32); ROUND8C(40); ROUND8C(48); ROUND8C(56);
#undef ROUND8C
#undef WKB
    s[0] = ADD(s[0], a); s[1] = ADD(s[1], b); s[2] = ADD(s[2], c); s[3] = ADD(s[3], d);
    s[4] = ADD(s[4], e); s[5] = ADD(s[5], f); s[6] = ADD(s[6], g); s[7] = ADD(s[7], h);
}

/* A block whose message words are the same in every lane and known in advance (the
 * padding block of messages whose length is a multiple of 64): wk[t] = K[t] + W[t]. */
void mbi_sha256_x16_avx512_wk(uint32_t *st, const uint32_t *wk, int from_iv) {
    V s[8];
    if (from_iv) iv_state(s);
    else load_state(s, st);
    wk_block(s, wk);
    store_state(st, s);
}

/* (hi << 24) | (lo >> 8): a big-endian word of a message shifted right by one byte. */
#define SHIFT8(hi, lo) _mm512_or_si512(_mm512_slli_epi32(hi, 24), _mm512_srli_epi32(lo, 8))

static inline void out16(const V s[8], uint8_t *const *out);

/* The batch kernels below take n messages (n a multiple of 16) and run the groups of 16
 * software-pipelined: group g+1's loads and transposes are issued, in program order,
 * before group g's rounds, so the out-of-order core overlaps them with the rounds instead
 * of stalling at the start of every group. All of a group's inputs are read before any
 * of its outputs are written, and group g's outputs before group g+1's inputs are read
 * only in the order (g+1 read, g written): callers whose outputs overwrite inputs (Merkle
 * levels in place) must write at or below what they read, as level j -> j/2 does. */

/* Message words of 0x01 || L || R (the node's first block) and R's last word. */
static inline __attribute__((always_inline)) void prep_node(V W[16], V *last, const uint8_t *const *p) {
    V X[16];
    for (int l = 0; l < 16; l++) X[l] = _mm512_loadu_si512(p[l]);
    transpose16(X);
    for (int i = 0; i < 16; i++) X[i] = bswap32(X[i]);
    W[0] = _mm512_or_si512(_mm512_set1_epi32(0x01000000), _mm512_srli_epi32(X[0], 8));
    for (int j = 1; j < 16; j++) W[j] = SHIFT8(X[j - 1], X[j]);
    *last = X[15];
}

/* RFC 6962 interior nodes: message i is 0x01 || p[i][0..64) (left || right child). */
void mbi_sha256_x16_avx512_node64(const uint8_t *const *p, uint8_t *const *out, size_t n) {
    if (n < 16) return;
    V Wn[16], lastn;
    prep_node(Wn, &lastn, p);
    for (size_t g = 0; g + 16 <= n; g += 16) {
        V W[16], s[8], last = lastn;
        for (int j = 0; j < 16; j++) W[j] = Wn[j];
        if (g + 32 <= n) prep_node(Wn, &lastn, p + g + 16);
        iv_state(s);
        compress16(s, W, 0);
        /* second block: R's last byte, 0x80, zeros, bit length 520 */
        W[0] = _mm512_or_si512(_mm512_slli_epi32(last, 24), _mm512_set1_epi32(0x00800000));
        for (int j = 1; j < 15; j++) W[j] = _mm512_setzero_si512();
        W[15] = _mm512_set1_epi32(65 * 8);
        compress16(s, W, 0x7FFEu);
        out16(s, out + g);
    }
}

static inline __attribute__((always_inline)) void prep_leaf(V W[16], const uint8_t *const *p) {
    V X[16];
    for (int l = 0; l < 16; l++)
        X[l] = _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)p[l]));
    transpose16(X); /* X[0..7]: entry words; X[8..15] are zero */
    for (int i = 0; i < 8; i++) X[i] = bswap32(X[i]);
    W[0] = _mm512_srli_epi32(X[0], 8);
    for (int j = 1; j < 8; j++) W[j] = SHIFT8(X[j - 1], X[j]);
    W[8] = _mm512_or_si512(_mm512_slli_epi32(X[7], 24), _mm512_set1_epi32(0x00800000));
}

/* RFC 6962 leaves: message i is 0x00 || p[i][0..32) (one block). */
void mbi_sha256_x16_avx512_leaf32(const uint8_t *const *p, uint8_t *const *out, size_t n) {
    if (n < 16) return;
    V Wn[16];
    prep_leaf(Wn, p);
    for (size_t g = 0; g + 16 <= n; g += 16) {
        V W[16], s[8];
        for (int j = 0; j < 9; j++) W[j] = Wn[j];
        for (int j = 9; j < 15; j++) W[j] = _mm512_setzero_si512();
        W[15] = _mm512_set1_epi32(33 * 8);
        if (g + 32 <= n) prep_leaf(Wn, p + g + 16);
        iv_state(s);
        compress16(s, W, 0x7E00u);
        out16(s, out + g);
    }
}

static inline __attribute__((always_inline)) void prep_block(V W[16], const uint8_t *const *p, size_t off) {
    for (int l = 0; l < 16; l++) W[l] = _mm512_loadu_si512(p[l] + off);
    transpose16(W);
    for (int i = 0; i < 16; i++) W[i] = bswap32(W[i]);
}

/* n messages of nb >= 1 full blocks each (p[i], p[i] + 64, ...), then, if wk is not NULL,
 * one more block whose precomputed K + W words are wk (the padding block of a message
 * whose length is a multiple of 64). From the IV; digests to out[i]. */
void mbi_sha256_x16_avx512_many(const uint8_t *const *p, size_t n, size_t nb, const uint32_t *wk,
                                uint8_t *const *out) {
    if (n < 16 || nb == 0) return;
    V Wn[16];
    prep_block(Wn, p, 0);
    for (size_t q = 0; q + 16 <= n; q += 16) {
        V s[8];
        iv_state(s);
        for (size_t blk = 0; blk < nb; blk++) {
            V W[16];
            for (int j = 0; j < 16; j++) W[j] = Wn[j];
            if (blk + 1 < nb) prep_block(Wn, p + q, 64 * (blk + 1));
            else if (q + 32 <= n) prep_block(Wn, p + q + 16, 0);
            compress16(s, W, 0);
        }
        if (wk) wk_block(s, wk);
        out16(s, out + q);
    }
}

void mbi_sha256_x16_avx512_out(const uint32_t *st, uint8_t *const *out) {
    V s[8];
    load_state(s, st);
    out16(s, out);
}

static inline void out16(const V st[8], uint8_t *const *out) {
    V s[8];
    for (int w = 0; w < 8; w++) s[w] = bswap32(st[w]);
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
void mbi_sha256_x16_avx512(uint32_t *st, const uint8_t *const *p, size_t nblocks, int from_iv) {
    (void)st; (void)p; (void)nblocks; (void)from_iv; abort();
}
void mbi_sha256_x16_avx512_out(const uint32_t *st, uint8_t *const *out) {
    (void)st; (void)out; abort();
}
void mbi_sha256_x16_avx512_wk(uint32_t *st, const uint32_t *wk, int from_iv) {
    (void)st; (void)wk; (void)from_iv; abort();
}
void mbi_sha256_x16_avx512_node64(const uint8_t *const *p, uint8_t *const *out, size_t n) {
    (void)p; (void)out; (void)n; abort();
}
void mbi_sha256_x16_avx512_leaf32(const uint8_t *const *p, uint8_t *const *out, size_t n) {
    (void)p; (void)out; (void)n; abort();
}
void mbi_sha256_x16_avx512_many(const uint8_t *const *p, size_t n, size_t nb, const uint32_t *wk,
                                uint8_t *const *out) {
    (void)p; (void)n; (void)nb; (void)wk; (void)out; abort();
}
#endif
