/* SHA-256: portable kernel, backend selection and the batch drivers. See mbi_sha256.h. */
#include "mbi_sha256.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mbi_cpu.h"
#include "mbi_parallel.h"

const uint32_t mbi_sha256_K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

const uint32_t mbi_sha256_IV[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/* ------------------------------------------------------------------ portable kernel */

#define ROR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static inline uint32_t load_be32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static inline void store_be32(uint8_t *p, uint32_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    memcpy(p, &v, 4);
}

static inline void store_be64(uint8_t *p, uint64_t v) {
    store_be32(p, (uint32_t)(v >> 32));
    store_be32(p + 4, (uint32_t)v);
}

void mbi_sha256_compress_portable(uint32_t st[8], const uint8_t *blocks, size_t nblocks) {
    const uint32_t *K = mbi_sha256_K;
    while (nblocks--) {
        uint32_t w[64];
        for (int t = 0; t < 16; t++) w[t] = load_be32(blocks + 4 * t);
        for (int t = 16; t < 64; t++) {
            uint32_t s0 = ROR32(w[t - 15], 7) ^ ROR32(w[t - 15], 18) ^ (w[t - 15] >> 3);
            uint32_t s1 = ROR32(w[t - 2], 17) ^ ROR32(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
        uint32_t e = st[4], f = st[5], g = st[6], h = st[7];
        for (int t = 0; t < 64; t++) {
            uint32_t S1 = ROR32(e, 6) ^ ROR32(e, 11) ^ ROR32(e, 25);
            uint32_t ch = (e & f) ^ (~e & g);
            uint32_t t1 = h + S1 + ch + K[t] + w[t];
            uint32_t S0 = ROR32(a, 2) ^ ROR32(a, 13) ^ ROR32(a, 22);
            uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
            uint32_t t2 = S0 + maj;
            h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
        }
        st[0] += a; st[1] += b; st[2] += c; st[3] += d;
        st[4] += e; st[5] += f; st[6] += g; st[7] += h;
        blocks += 64;
    }
}

/* ------------------------------------------------------------------ backends */

static mbi_sha256_impl g_impls[16];
static int g_nimpls = -1;
static const mbi_sha256_impl *volatile g_current = NULL;

static mbi_sha256_impl *add_impl(const char *multi, int lanes, mbi_sha256_xn_fn xn, mbi_sha256_xn_out_fn xo,
                     const char *single, mbi_sha256_compress_fn c1, mbi_sha256_compress2_fn c2) {
    if (g_nimpls >= 16) return &g_impls[15];
    mbi_sha256_impl *im = &g_impls[g_nimpls++];
    memset(im, 0, sizeof *im);
    if (multi) {
        size_t ml = strlen(multi), sl = strlen(single);
        memcpy(im->name, multi, ml);
        im->name[ml] = '+';
        memcpy(im->name + ml + 1, single, sl + 1);
    } else {
        memcpy(im->name, single, strlen(single) + 1);
    }
    im->single = single;
    im->multi = multi;
    im->compress = c1;
    im->compress2 = c2;
    im->lanes = lanes;
    im->xn = xn;
    im->xn_out = xo;
    return im;
}

static void build_impls(void) {
    uint32_t f = mbi_cpu_features();
    struct { const char *name; mbi_sha256_compress_fn c1; mbi_sha256_compress2_fn c2; } singles[3];
    int ns = 0;
    if (mbi_sha256_has_shani() && (f & (MBI_CPU_SHA_NI | MBI_CPU_SSE41 | MBI_CPU_SSSE3)) ==
                                      (MBI_CPU_SHA_NI | MBI_CPU_SSE41 | MBI_CPU_SSSE3)) {
        singles[ns].name = "sha_ni"; singles[ns].c1 = mbi_sha256_compress_shani;
        singles[ns].c2 = mbi_sha256_compress2_shani; ns++;
    }
    if (mbi_sha256_has_armce() && (f & MBI_CPU_ARM_SHA2)) {
        singles[ns].name = "arm_sha2"; singles[ns].c1 = mbi_sha256_compress_armce;
        singles[ns].c2 = mbi_sha256_compress2_armce; ns++;
    }
    singles[ns].name = "portable"; singles[ns].c1 = mbi_sha256_compress_portable;
    singles[ns].c2 = NULL; ns++;

    int has512 = mbi_sha256_has_avx512() &&
                 (f & (MBI_CPU_AVX512F | MBI_CPU_AVX512VL | MBI_CPU_AVX512BW)) ==
                     (MBI_CPU_AVX512F | MBI_CPU_AVX512VL | MBI_CPU_AVX512BW);
    int has2 = mbi_sha256_has_avx2() && (f & MBI_CPU_AVX2);

    g_nimpls = 0;
    /* Best first. A multi-buffer kernel wins for batches whenever it is there, except that
     * 8-lane AVX2 does not beat SHA-NI, so with SHA-NI and no AVX-512 the single kernel
     * alone comes first. */
    if (has512)
        for (int i = 0; i < ns; i++) {
            mbi_sha256_impl *im = add_impl("avx512x16", 16, mbi_sha256_x16_avx512,
                                           mbi_sha256_x16_avx512_out, singles[i].name,
                                           singles[i].c1, singles[i].c2);
            im->xn_wk = mbi_sha256_x16_avx512_wk;
            im->xn_node64 = mbi_sha256_x16_avx512_node64;
            im->xn_leaf32 = mbi_sha256_x16_avx512_leaf32;
            im->xn_many = mbi_sha256_x16_avx512_many;
        }
    for (int i = 0; i < ns; i++) {
        int hw_single = strcmp(singles[i].name, "portable") != 0;
        if (has2 && !hw_single)
            add_impl("avx2x8", 8, mbi_sha256_x8_avx2, mbi_sha256_x8_avx2_out, singles[i].name,
                     singles[i].c1, singles[i].c2);
        add_impl(NULL, 0, NULL, NULL, singles[i].name, singles[i].c1, singles[i].c2);
        if (has2 && hw_single)
            add_impl("avx2x8", 8, mbi_sha256_x8_avx2, mbi_sha256_x8_avx2_out, singles[i].name,
                     singles[i].c1, singles[i].c2);
    }
}

/* Built exactly once, whichever thread gets here first. */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_impls(void) { pthread_once(&g_once, build_impls); }

int mbi_sha256_impls(const mbi_sha256_impl **list, int max) {
    init_impls();
    int n = g_nimpls < max ? g_nimpls : max;
    for (int i = 0; i < n; i++) list[i] = &g_impls[i];
    return n;
}

const mbi_sha256_impl *mbi_sha256_impl_get(void) {
    const mbi_sha256_impl *im = g_current;
    if (im) return im;
    init_impls();
    g_current = &g_impls[0];
    return g_current;
}

int mbi_sha256_set_backend(const char *name) {
    init_impls();
    if (strcmp(name, "auto") == 0) { g_current = &g_impls[0]; return 0; }
    for (int i = 0; i < g_nimpls; i++)
        if (strcmp(g_impls[i].name, name) == 0) { g_current = &g_impls[i]; return 0; }
    return -1;
}

/* ------------------------------------------------------------------ drivers */

static inline void digest_out(const uint32_t st[8], uint8_t *out) {
    for (int i = 0; i < 8; i++) store_be32(out + 4 * i, st[i]);
}

/* Padding for a message of total length `len` whose last partial block holds `rem` bytes
 * at tail[0..rem): writes the rest and returns the number of tail blocks (1 or 2). */
static int pad_tail(uint8_t tail[128], size_t rem, uint64_t len) {
    int tb = rem + 9 <= 64 ? 1 : 2;
    tail[rem] = 0x80;
    memset(tail + rem + 1, 0, (size_t)tb * 64 - rem - 1 - 8);
    store_be64(tail + tb * 64 - 8, len * 8);
    return tb;
}

void mbi_sha256(const mbi_sha256_impl *im, const uint8_t *data, size_t len, uint8_t out[32]) {
    if (!im) im = mbi_sha256_impl_get();
    uint32_t st[8];
    memcpy(st, mbi_sha256_IV, sizeof st);
    size_t full = len / 64, rem = len % 64;
    if (full) im->compress(st, data, full);
    uint8_t tail[128];
    if (rem) memcpy(tail, data + full * 64, rem);
    int tb = pad_tail(tail, rem, len);
    im->compress(st, tail, (size_t)tb);
    digest_out(st, out);
}

/* Pointer batches handed to the batch kernels. */
#define BATCH 256
/* Equal-length messages up to this long are hashed from padded copies (see many_uniform). */
#define UNIFORM_COPY_MAX 1024
#define UNIFORM_SCRATCH 32768

static void xn_init(uint32_t *st, int lanes) {
    for (int w = 0; w < 8; w++)
        for (int l = 0; l < lanes; l++) st[w * lanes + l] = mbi_sha256_IV[w];
}

void mbi_sha256_padded_many(const mbi_sha256_impl *im, const uint8_t *blocks, size_t stride,
                            size_t nb, size_t n, uint8_t *out) {
    if (!im) im = mbi_sha256_impl_get();
    size_t i = 0;
    const int N = im->lanes;
    if (im->xn_many && n >= (size_t)N) {
        const uint8_t *p[BATCH];
        uint8_t *o[BATCH];
        for (; i + (size_t)N <= n;) {
            size_t cnt = (n - i) / (size_t)N * (size_t)N;
            if (cnt > BATCH) cnt = BATCH;
            for (size_t k = 0; k < cnt; k++) {
                p[k] = blocks + (i + k) * stride;
                o[k] = out + 32 * (i + k);
            }
            im->xn_many(p, cnt, nb, NULL, o);
            i += cnt;
        }
    }
    if (N && n - i >= (size_t)N) {
        uint32_t st[8 * MBI_SHA256_MAX_LANES];
        const uint8_t *p[MBI_SHA256_MAX_LANES];
        uint8_t *o[MBI_SHA256_MAX_LANES];
        for (; i + (size_t)N <= n; i += (size_t)N) {
            for (int l = 0; l < N; l++) {
                p[l] = blocks + (i + (size_t)l) * stride;
                o[l] = out + 32 * (i + (size_t)l);
            }
            im->xn(st, p, nb, 1);
            im->xn_out(st, o);
        }
    }
    if (im->compress2) {
        for (; i + 2 <= n; i += 2) {
            uint32_t a[8], b[8];
            memcpy(a, mbi_sha256_IV, sizeof a);
            memcpy(b, mbi_sha256_IV, sizeof b);
            im->compress2(a, b, blocks + i * stride, blocks + (i + 1) * stride, nb);
            digest_out(a, out + 32 * i);
            digest_out(b, out + 32 * (i + 1));
        }
    }
    for (; i < n; i++) {
        uint32_t a[8];
        memcpy(a, mbi_sha256_IV, sizeof a);
        im->compress(a, blocks + i * stride, nb);
        digest_out(a, out + 32 * i);
    }
}

/* All messages in [b, e) have the same length: lockstep groups, tails from per-lane
 * templates whose padding is written once. */
static void many_uniform(const mbi_sha256_impl *im, const uint8_t *data, const int64_t *off,
                         size_t b, size_t e, uint8_t *out) {
    size_t len = (size_t)(off[b + 1] - off[b]);
    size_t full = len / 64, rem = len % 64;
    const int N = im->lanes;
    size_t i = b;
    uint8_t tails[MBI_SHA256_MAX_LANES][128];
    int tb = 1;
    if (N && e - b >= (size_t)N) {
        for (int l = 0; l < N; l++) tb = pad_tail(tails[l], rem, len);
        uint32_t st[8 * MBI_SHA256_MAX_LANES];
        const uint8_t *p[MBI_SHA256_MAX_LANES], *t[MBI_SHA256_MAX_LANES];
        uint8_t *o[MBI_SHA256_MAX_LANES];
        for (int l = 0; l < N; l++) t[l] = tails[rem ? l : 0];
        /* Length a multiple of 64: the last block is padding only, the same in every lane,
         * so its message schedule is computed once here. */
        uint32_t wk[64];
        int use_wk = rem == 0 && im->xn_wk;
        if (use_wk) {
            uint32_t w[64];
            for (int k = 0; k < 16; k++) w[k] = load_be32(tails[0] + 4 * k);
            for (int k = 16; k < 64; k++) {
                uint32_t s0 = ROR32(w[k - 15], 7) ^ ROR32(w[k - 15], 18) ^ (w[k - 15] >> 3);
                uint32_t s1 = ROR32(w[k - 2], 17) ^ ROR32(w[k - 2], 19) ^ (w[k - 2] >> 10);
                w[k] = w[k - 16] + s0 + w[k - 7] + s1;
            }
            for (int k = 0; k < 64; k++) wk[k] = w[k] + mbi_sha256_K[k];
        }
        if (use_wk && full && im->xn_many) {
            const uint8_t *bp[BATCH];
            uint8_t *bo[BATCH];
            while (e - i >= (size_t)N) {
                size_t cnt = (e - i) / (size_t)N * (size_t)N;
                if (cnt > BATCH) cnt = BATCH;
                for (size_t k = 0; k < cnt; k++) {
                    bp[k] = data + off[i + k];
                    bo[k] = out + 32 * (i + k);
                }
                im->xn_many(bp, cnt, full, wk, bo);
                i += cnt;
            }
        }
        /* Other short lengths: copy each message into a pre-padded slot and run the
         * pipelined batch kernel over the slots (the copy is far cheaper than the stalls
         * of one kernel call per group). */
        if (!(use_wk && full) && im->xn_many && len <= UNIFORM_COPY_MAX && e - i >= (size_t)N) {
            _Alignas(64) uint8_t scratch[UNIFORM_SCRATCH];
            const uint8_t *bp[BATCH];
            uint8_t *bo[BATCH];
            size_t nb = full + (size_t)tb, slot = nb * 64;
            size_t B = UNIFORM_SCRATCH / slot / (size_t)N * (size_t)N;
            if (B > BATCH) B = BATCH;
            for (size_t k = 0; k < B; k++) {
                uint8_t *sl = scratch + k * slot;
                memset(sl + len, 0, slot - len);
                sl[len] = 0x80;
                store_be64(sl + slot - 8, (uint64_t)len * 8);
                bp[k] = sl;
            }
            while (e - i >= (size_t)N) {
                size_t cnt = (e - i) / (size_t)N * (size_t)N;
                if (cnt > B) cnt = B;
                for (size_t k = 0; k < cnt; k++) {
                    memcpy(scratch + k * slot, data + off[i + k], len);
                    bo[k] = out + 32 * (i + k);
                }
                im->xn_many(bp, cnt, nb, NULL, bo);
                i += cnt;
            }
        }
        for (; i + (size_t)N <= e; i += (size_t)N) {
            for (int l = 0; l < N; l++) {
                p[l] = data + off[i + (size_t)l];
                o[l] = out + 32 * (i + (size_t)l);
                if (rem) memcpy(tails[l], p[l] + full * 64, rem);
            }
            if (full) im->xn(st, p, full, 1);
            if (use_wk) im->xn_wk(st, wk, !full);
            else im->xn(st, t, (size_t)tb, !full);
            im->xn_out(st, o);
        }
    }
    if (im->compress2 && i + 2 <= e) {
        tb = pad_tail(tails[0], rem, len);
        pad_tail(tails[1], rem, len);
        for (; i + 2 <= e; i += 2) {
            uint32_t s0[8], s1[8];
            memcpy(s0, mbi_sha256_IV, sizeof s0);
            memcpy(s1, mbi_sha256_IV, sizeof s1);
            const uint8_t *p0 = data + off[i], *p1 = data + off[i + 1];
            if (full) im->compress2(s0, s1, p0, p1, full);
            if (rem) {
                memcpy(tails[0], p0 + full * 64, rem);
                memcpy(tails[1], p1 + full * 64, rem);
            }
            im->compress2(s0, s1, tails[0], tails[1], (size_t)tb);
            digest_out(s0, out + 32 * i);
            digest_out(s1, out + 32 * (i + 1));
        }
    }
    for (; i < e; i++) mbi_sha256(im, data + off[i], len, out + 32 * i);
}

/* Messages of different lengths: a lane scheduler. Each lane hashes one message; when it
 * finishes, its digest is written and the next message takes the lane. When no message
 * is left to refill a lane, the lanes still busy are finished one by one. */
typedef struct {
    const uint8_t *p;   /* next full block of the message */
    size_t full;        /* full blocks left */
    int tail_n, tail_i; /* tail blocks in total / done */
    size_t msg;
    uint8_t tail[128];
} mbi_lane;

static void lane_load(mbi_lane *ln, const uint8_t *data, const int64_t *off, size_t m) {
    size_t len = (size_t)(off[m + 1] - off[m]);
    ln->p = data + off[m];
    ln->full = len / 64;
    size_t rem = len % 64;
    if (rem) memcpy(ln->tail, ln->p + ln->full * 64, rem);
    ln->tail_n = pad_tail(ln->tail, rem, len);
    ln->tail_i = 0;
    ln->msg = m;
}

static void many_lanes(const mbi_sha256_impl *im, const uint8_t *data, const int64_t *off,
                       size_t b, size_t e, uint8_t *out) {
    const int N = im->lanes;
    mbi_lane lanes[MBI_SHA256_MAX_LANES];
    uint32_t st[8 * MBI_SHA256_MAX_LANES];
    const uint8_t *p[MBI_SHA256_MAX_LANES];
    size_t next = b;
    for (int l = 0; l < N; l++) lane_load(&lanes[l], data, off, next++);
    xn_init(st, N);
    int refill_ok = 1;
    while (refill_ok) {
        size_t k = SIZE_MAX;
        for (int l = 0; l < N; l++) {
            mbi_lane *ln = &lanes[l];
            size_t left;
            if (ln->full) { p[l] = ln->p; left = ln->full; }
            else { p[l] = ln->tail + 64 * ln->tail_i; left = (size_t)(ln->tail_n - ln->tail_i); }
            if (left < k) k = left;
        }
        im->xn(st, p, k, 0);
        for (int l = 0; l < N; l++) {
            mbi_lane *ln = &lanes[l];
            if (ln->full) { ln->full -= k; ln->p += 64 * k; }
            else ln->tail_i += (int)k;
            if (!ln->full && ln->tail_i == ln->tail_n && ln->tail_n) {
                uint8_t *o = out + 32 * ln->msg;
                for (int w = 0; w < 8; w++) store_be32(o + 4 * w, st[w * N + l]);
                if (next < e) {
                    lane_load(ln, data, off, next++);
                    for (int w = 0; w < 8; w++) st[w * N + l] = mbi_sha256_IV[w];
                } else {
                    ln->tail_n = 0; /* idle */
                    refill_ok = 0;
                }
            }
        }
    }
    /* Drain: finish the busy lanes with the single-stream kernel. */
    for (int l = 0; l < N; l++) {
        mbi_lane *ln = &lanes[l];
        if (!ln->tail_n) continue;
        uint32_t s[8];
        for (int w = 0; w < 8; w++) s[w] = st[w * N + l];
        if (ln->full) im->compress(s, ln->p, ln->full);
        if (ln->tail_i < ln->tail_n)
            im->compress(s, ln->tail + 64 * ln->tail_i, (size_t)(ln->tail_n - ln->tail_i));
        digest_out(s, out + 32 * ln->msg);
    }
}

static void many_range(const mbi_sha256_impl *im, const uint8_t *data, const int64_t *off,
                       size_t b, size_t e, uint8_t *out) {
    if (b >= e) return;
    int64_t len = off[b + 1] - off[b];
    int uniform = 1;
    for (size_t i = b + 1; i < e; i++)
        if (off[i + 1] - off[i] != len) { uniform = 0; break; }
    if (uniform) { many_uniform(im, data, off, b, e, out); return; }
    if (im->lanes && e - b >= 2 * (size_t)im->lanes) { many_lanes(im, data, off, b, e, out); return; }
    for (size_t i = b; i < e; i++)
        mbi_sha256(im, data + off[i], (size_t)(off[i + 1] - off[i]), out + 32 * i);
}

typedef struct {
    const mbi_sha256_impl *im;
    const uint8_t *data;
    const int64_t *off;
    uint8_t *out;
} many_ctx;

static void many_job(void *vctx, size_t b, size_t e) {
    many_ctx *c = (many_ctx *)vctx;
    many_range(c->im, c->data, c->off, b, e, c->out);
}

void mbi_sha256_many(const mbi_sha256_impl *im, const uint8_t *data, const int64_t *off,
                     size_t n, uint8_t *out, int threads) {
    if (!im) im = mbi_sha256_impl_get();
    if (n == 0) return;
    size_t bytes = (size_t)(off[n] - off[0]);
    threads = mbi_threads(threads);
    /* Threads pay off above ~1 ms of work: ~16k short messages or a few MB. */
    if (threads > 1 && (n >= 16384 || bytes >= ((size_t)4 << 20)) && n >= 2 * (size_t)threads) {
        many_ctx c = {im, data, off, out};
        mbi_parallel_for(n, threads, 1, many_job, &c);
    } else {
        many_range(im, data, off, 0, n, out);
    }
}
