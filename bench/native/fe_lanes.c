/* Does a 4-lane AVX2 field multiplication beat the portable radix-2^51 code on this CPU?
 *
 *   gcc -O3 -mavx2 -Icore_ext/src bench/native/fe_lanes.c -o /tmp/fe_lanes && /tmp/fe_lanes
 *
 * Compares, per field multiplication mod 2^255 - 19:
 *   - fe_mul (core_ext/src/ed25519/fe51.h) in one dependent chain (its latency: what a
 *     square-root exponentiation pays);
 *   - fe_mul on four independent chains, interleaved (its throughput: what the
 *     multi-scalar multiplication's independent point additions can get);
 *   - an AVX2 multiplication of four independent elements at once, radix 2^25.5 (ten
 *     limbs per element, one 64-bit lane per element, vpmuludq), one chain of 4-element
 *     vectors and two interleaved.
 * The AVX2 product is checked against fe_mul on random inputs first, so the figure is of
 * a correct multiplication. Each figure is the median of 9 interleaved rounds, in ns per
 * element multiplied. Verdict on the 2-vCPU AMD EPYC (Zen 3) of docs/bench-e2e.md: the
 * 4-lane AVX2 product costs about what interleaved scalar code does, so an AVX2 backend
 * would not make the verifier faster there. */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ed25519/fe51.h"

typedef struct { __m256i v[10]; } fe4;  /* limb i of four elements; 26 bits (even i) or 25 */

/* h = f g: column k sums f_i g_j over i + j = k (and 19 f_i g_j over i + j = k + 10), with
 * the product doubled when i and j are both odd (radix 2^25.5); then one carry pass. */
static inline __attribute__((always_inline)) void fe4_mul(fe4 *h, const fe4 *f, const fe4 *g) {
    const __m256i c19 = _mm256_set1_epi64x(19);
    __m256i g19[10], f2[10], r[10];
    for (int i = 0; i < 10; i++) {
        g19[i] = _mm256_mul_epu32(g->v[i], c19);
        f2[i] = (i & 1) ? _mm256_add_epi64(f->v[i], f->v[i]) : f->v[i];
    }
    for (int k = 0; k < 10; k++) {
        __m256i acc = _mm256_setzero_si256();
        for (int i = 0; i < 10; i++) {
            int j = k - i;
            const __m256i *gj = j >= 0 ? &g->v[j] : &g19[j + 10];
            int jj = j >= 0 ? j : j + 10;
            __m256i a = ((i & 1) && (jj & 1)) ? f2[i] : f->v[i];
            acc = _mm256_add_epi64(acc, _mm256_mul_epu32(a, *gj));
        }
        r[k] = acc;
    }
    const __m256i m26 = _mm256_set1_epi64x((1 << 26) - 1), m25 = _mm256_set1_epi64x((1 << 25) - 1);
    static const int order[12] = {0, 4, 1, 5, 2, 6, 3, 7, 4, 8, 9, 0};
    for (int s = 0; s < 12; s++) {
        int i = order[s];
        __m256i c = _mm256_srli_epi64(r[i], (i & 1) ? 25 : 26);
        r[i] = _mm256_and_si256(r[i], (i & 1) ? m25 : m26);
        if (i == 9) r[0] = _mm256_add_epi64(r[0], _mm256_mul_epu32(c, c19));
        else r[i + 1] = _mm256_add_epi64(r[i + 1], c);
    }
    for (int i = 0; i < 10; i++) h->v[i] = r[i];
}

static const int OFF[10] = {0, 26, 51, 77, 102, 128, 153, 179, 204, 230};

static void fe_to_lanes(fe4 *out, const fe in[4]) {  /* canonical values, limb by limb */
    uint64_t limb[4][10];
    for (int l = 0; l < 4; l++) {
        uint8_t b[32];
        fe_tobytes(b, &in[l]);
        for (int i = 0; i < 10; i++) {
            int bits = (i & 1) ? 25 : 26;
            uint64_t x = 0;
            for (int k = 0; k < bits; k++) x |= (uint64_t)((b[(OFF[i] + k) >> 3] >> ((OFF[i] + k) & 7)) & 1) << k;
            limb[l][i] = x;
        }
    }
    for (int i = 0; i < 10; i++) out->v[i] = _mm256_set_epi64x(limb[3][i], limb[2][i], limb[1][i], limb[0][i]);
}

static void lanes_to_bytes(uint8_t out[4][32], const fe4 *in) {
    for (int l = 0; l < 4; l++) {
        fe t;
        uint64_t x[10];
        for (int i = 0; i < 10; i++) {
            uint64_t lane[4];
            memcpy(lane, &in->v[i], sizeof lane);
            x[i] = lane[l];
        }
        for (int k = 0; k < 5; k++) t.v[k] = x[2 * k] + (x[2 * k + 1] << 26);  /* limb k of radix 2^51 */
        fe_carry(&t);
        fe_tobytes(out[l], &t);
    }
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint64_t rnd51(void) { return (((uint64_t)rand() << 31) ^ (uint64_t)rand() ^ ((uint64_t)rand() << 50)) & FE_MASK51; }

static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

int main(void) {
    srand(1);
    for (int it = 0; it < 20000; it++) {  /* the AVX2 product is the field product */
        fe a[4], b[4], want;
        for (int l = 0; l < 4; l++)
            for (int k = 0; k < 5; k++) { a[l].v[k] = rnd51(); b[l].v[k] = rnd51(); }
        fe4 A, B, C;
        fe_to_lanes(&A, a);
        fe_to_lanes(&B, b);
        fe4_mul(&C, &A, &B);
        fe4_mul(&C, &C, &B);  /* a reduced output must be a valid input */
        uint8_t got[4][32], exp[32];
        lanes_to_bytes(got, &C);
        for (int l = 0; l < 4; l++) {
            fe_mul(&want, &a[l], &b[l]);
            fe_mul(&want, &want, &b[l]);
            fe_tobytes(exp, &want);
            if (memcmp(exp, got[l], 32)) { printf("AVX2 product wrong at %d lane %d\n", it, l); return 1; }
        }
    }
    enum { N = 2000000, ROUNDS = 9 };
    double r_chain[ROUNDS], r_inter[ROUNDS], r_avx[ROUNDS], r_avx2[ROUNDS];
    fe x[4], g = {{12345, 6789, 1111, 2222, 3333}};
    for (int l = 0; l < 4; l++) { x[l] = g; x[l].v[0] += l; }
    fe4 y, z, w;
    fe_to_lanes(&y, x);
    z = y;
    w = y;
    uint64_t sink = 0;
    for (int r = 0; r < ROUNDS; r++) {
        double t = now();
        for (int i = 0; i < N; i++) fe_mul(&x[0], &x[0], &x[1]);
        r_chain[r] = (now() - t) / N * 1e9;
        t = now();
        for (int i = 0; i < N / 4; i++) {
            fe_mul(&x[0], &x[0], &g); fe_mul(&x[1], &x[1], &g); fe_mul(&x[2], &x[2], &g); fe_mul(&x[3], &x[3], &g);
        }
        r_inter[r] = (now() - t) / N * 1e9;
        t = now();
        for (int i = 0; i < N / 4; i++) fe4_mul(&y, &y, &w);
        r_avx[r] = (now() - t) / N * 1e9;
        t = now();
        for (int i = 0; i < N / 8; i++) { fe4_mul(&y, &y, &w); fe4_mul(&z, &z, &w); }
        r_avx2[r] = (now() - t) / N * 1e9;
        sink += x[0].v[0] + x[3].v[2] + (uint64_t)_mm256_extract_epi64(y.v[3], 1) + (uint64_t)_mm256_extract_epi64(z.v[5], 2);
    }
    qsort(r_chain, ROUNDS, sizeof(double), cmp);
    qsort(r_inter, ROUNDS, sizeof(double), cmp);
    qsort(r_avx, ROUNDS, sizeof(double), cmp);
    qsort(r_avx2, ROUNDS, sizeof(double), cmp);
    printf("ns per element multiplied (median of %d rounds; AVX2 product checked against fe_mul):\n", ROUNDS);
    printf("  fe_mul, one dependent chain          %6.2f\n", r_chain[ROUNDS / 2]);
    printf("  fe_mul, four chains interleaved      %6.2f\n", r_inter[ROUNDS / 2]);
    printf("  AVX2 4 lanes, one chain              %6.2f\n", r_avx[ROUNDS / 2]);
    printf("  AVX2 4 lanes, two chains interleaved %6.2f\n", r_avx2[ROUNDS / 2]);
    printf("  (checksum %llu)\n", (unsigned long long)sink);
    return 0;
}
