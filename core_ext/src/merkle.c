/* RFC 6962 Merkle kernel. See mbi_merkle.h. */
#include "mbi_merkle.h"

#include <stdlib.h>
#include <string.h>

#include "mbi_parallel.h"

/* Messages packed per batch: 64 leaves (4 KiB of blocks) or 64 nodes (8 KiB): in L1. */
#define GROUP 64
/* Leaves per work chunk of merkle_root: 4096 * 32 B = 128 KiB of scratch, in L2. */
#define ROOT_CHUNK 4096
/* Below this many hashes (~0.3 ms of work) a batch stays on the calling thread: a thread
 * start costs tens of microseconds on an idle machine and much more on a busy one. */
#define MT_MIN 16384
/* Batched updates use threads from this many distinct changed entries on. */
#define MT_UPDATE_MIN 32768
/* Pointer batches handed to the batch kernels (a multiple of every lane count). */
#define BATCH 256

static inline void store_be64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) { p[i] = (uint8_t)v; v >>= 8; }
}

/* 0x00 || entry (33 bytes) padded to one block. */
static void leaf_template(uint8_t *buf, int g) {
    memset(buf, 0, (size_t)g * 64);
    for (int q = 0; q < g; q++) {
        buf[64 * q + 33] = 0x80;
        store_be64(buf + 64 * q + 56, 33 * 8);
    }
}

/* 0x01 || left || right (65 bytes) padded to two blocks. */
static void node_template(uint8_t *buf, int g) {
    memset(buf, 0, (size_t)g * 128);
    for (int q = 0; q < g; q++) {
        buf[128 * q] = 0x01;
        buf[128 * q + 65] = 0x80;
        store_be64(buf + 128 * q + 120, 65 * 8);
    }
}

static void leaves_range(const mbi_sha256_impl *im, const uint8_t *entries, size_t n,
                         uint8_t *out) {
    size_t i = 0;
    if (im->xn_leaf32) {
        const size_t N = (size_t)im->lanes;
        const uint8_t *p[BATCH];
        uint8_t *o[BATCH];
        while (n - i >= N) {
            size_t cnt = (n - i) / N * N;
            if (cnt > BATCH) cnt = BATCH;
            for (size_t k = 0; k < cnt; k++) {
                p[k] = entries + 32 * (i + k);
                o[k] = out + 32 * (i + k);
            }
            im->xn_leaf32(p, o, cnt);
            i += cnt;
        }
        if (i == n) return;
    }
    _Alignas(64) uint8_t buf[GROUP * 64];
    leaf_template(buf, GROUP);
    for (; i < n; i += GROUP) {
        size_t g = n - i < GROUP ? n - i : GROUP;
        for (size_t q = 0; q < g; q++) memcpy(buf + 64 * q + 1, entries + 32 * (i + q), 32);
        mbi_sha256_padded_many(im, buf, 64, 1, g, out + 32 * i);
    }
}

/* Parents [0, n_in / 2) of in, plus the carried last node when n_in is odd. */
static void level_range(const mbi_sha256_impl *im, const uint8_t *in, size_t n_in, uint8_t *out) {
    size_t np = n_in / 2, j = 0;
    if (im->xn_node64) {
        const size_t N = (size_t)im->lanes;
        const uint8_t *p[BATCH];
        uint8_t *o[BATCH];
        while (np - j >= N) {
            size_t cnt = (np - j) / N * N;
            if (cnt > BATCH) cnt = BATCH;
            for (size_t k = 0; k < cnt; k++) {
                p[k] = in + 64 * (j + k);
                o[k] = out + 32 * (j + k);
            }
            im->xn_node64(p, o, cnt);
            j += cnt;
        }
    }
    if (j < np) {
        _Alignas(64) uint8_t buf[GROUP * 128];
        node_template(buf, GROUP);
        for (; j < np; j += GROUP) {
            size_t g = np - j < GROUP ? np - j : GROUP;
            for (size_t q = 0; q < g; q++) memcpy(buf + 128 * q + 1, in + 64 * (j + q), 64);
            mbi_sha256_padded_many(im, buf, 128, 2, g, out + 32 * j);
        }
    }
    if (n_in & 1) memmove(out + 32 * np, in + 32 * (n_in - 1), 32);
}

static void nodes_at_range(const mbi_sha256_impl *im, const uint8_t *in, size_t n_in,
                           const uint64_t *idx, size_t k, uint8_t *out_level) {
    _Alignas(64) uint8_t buf[GROUP * 128];
    _Alignas(64) uint8_t tmp[GROUP * 32];
    uint64_t dst[GROUP];
    const int N = im->xn_node64 ? im->lanes : 0;
    const uint8_t *p[BATCH];
    uint8_t *o[BATCH];
    int np = 0;
    size_t g = 0;
    int templ = 0;
    for (size_t q = 0; q < k; q++) {
        uint64_t j = idx[q];
        if (q + 2 * MBI_SHA256_MAX_LANES < k) {
            __builtin_prefetch(in + 64 * idx[q + 2 * MBI_SHA256_MAX_LANES]);
            __builtin_prefetch(out_level + 32 * idx[q + 2 * MBI_SHA256_MAX_LANES], 1);
        }
        if (2 * j + 1 >= n_in) { /* no right sibling: carried up */
            memmove(out_level + 32 * j, in + 64 * j, 32);
            continue;
        }
        if (N) {
            p[np] = in + 64 * j;
            o[np] = out_level + 32 * j;
            if (++np == BATCH) { im->xn_node64(p, o, (size_t)np); np = 0; }
            continue;
        }
        if (!templ) { node_template(buf, GROUP); templ = 1; }
        memcpy(buf + 128 * g + 1, in + 64 * j, 64);
        dst[g++] = j;
        if (g == GROUP) {
            mbi_sha256_padded_many(im, buf, 128, 2, g, tmp);
            for (size_t r = 0; r < g; r++) memcpy(out_level + 32 * dst[r], tmp + 32 * r, 32);
            g = 0;
        }
    }
    /* leftovers of the lane batches go through the single-stream path */
    int r0 = 0;
    if (np >= N && N) {
        r0 = np / N * N;
        im->xn_node64(p, o, (size_t)r0);
    }
    for (int r = r0; r < np; r++) {
        if (!templ) { node_template(buf, GROUP); templ = 1; }
        memcpy(buf + 128 * g + 1, p[r], 64);
        dst[g++] = (uint64_t)(p[r] - in) / 64;
    }
    if (g) {
        mbi_sha256_padded_many(im, buf, 128, 2, g, tmp);
        for (size_t r = 0; r < g; r++) memcpy(out_level + 32 * dst[r], tmp + 32 * r, 32);
    }
}

/* ---- parallel wrappers ---- */

typedef struct {
    const mbi_sha256_impl *im;
    const uint8_t *in;
    size_t n_in;
    const uint64_t *idx;
    uint8_t *out;
} lvl_ctx;

static void leaves_job(void *v, size_t b, size_t e) {
    lvl_ctx *c = (lvl_ctx *)v;
    leaves_range(c->im, c->in + 32 * b, e - b, c->out + 32 * b);
}

static void level_job(void *v, size_t b, size_t e) {
    /* parents [b, e): children [2b, min(2e, n_in)) */
    lvl_ctx *c = (lvl_ctx *)v;
    size_t ce = 2 * e < c->n_in ? 2 * e : c->n_in;
    level_range(c->im, c->in + 64 * b, ce - 2 * b, c->out + 32 * b);
}

static void nodes_at_job(void *v, size_t b, size_t e) {
    lvl_ctx *c = (lvl_ctx *)v;
    nodes_at_range(c->im, c->in, c->n_in, c->idx + b, e - b, c->out);
}

void mbi_merkle_leaves(const mbi_sha256_impl *im, const uint8_t *entries, size_t n, uint8_t *out,
                       int threads) {
    if (!im) im = mbi_sha256_impl_get();
    lvl_ctx c = {im, entries, n, NULL, out};
    mbi_parallel_for(n, threads, MT_MIN, leaves_job, &c);
}

void mbi_merkle_level(const mbi_sha256_impl *im, const uint8_t *in, size_t n_in, uint8_t *out,
                      int threads) {
    if (!im) im = mbi_sha256_impl_get();
    if (in == out) threads = 1; /* in place is only safe front to back on one thread */
    lvl_ctx c = {im, in, n_in, NULL, out};
    mbi_parallel_for((n_in + 1) / 2, threads, MT_MIN / 2, level_job, &c);
}

void mbi_merkle_nodes_at(const mbi_sha256_impl *im, const uint8_t *in, size_t n_in,
                         const uint64_t *idx, size_t k, uint8_t *out_level, int threads) {
    if (!im) im = mbi_sha256_impl_get();
    lvl_ctx c = {im, in, n_in, idx, out_level};
    mbi_parallel_for(k, threads, MT_MIN / 2, nodes_at_job, &c);
}

/* ---- merkle_root: aligned chunks of ROOT_CHUNK leaves reduced to their subtree roots
 * (each chunk is a node of the tree), then the chunk roots reduced. ---- */

typedef struct {
    const mbi_sha256_impl *im;
    const uint8_t *entries;
    size_t n;
    uint8_t *roots;
    volatile int failed;
} root_ctx;

static void reduce_in_place(const mbi_sha256_impl *im, uint8_t *buf, size_t m) {
    while (m > 1) {
        level_range(im, buf, m, buf);
        m = (m + 1) / 2;
    }
}

static void root_job(void *v, size_t b, size_t e) {
    root_ctx *c = (root_ctx *)v;
    uint8_t *scratch = (uint8_t *)malloc((size_t)ROOT_CHUNK * 32);
    if (!scratch) { c->failed = 1; return; }
    for (size_t ch = b; ch < e; ch++) {
        size_t s = ch * ROOT_CHUNK;
        size_t cnt = c->n - s < ROOT_CHUNK ? c->n - s : ROOT_CHUNK;
        leaves_range(c->im, c->entries + 32 * s, cnt, scratch);
        reduce_in_place(c->im, scratch, cnt);
        memcpy(c->roots + 32 * ch, scratch, 32);
    }
    free(scratch);
}

int mbi_merkle_root(const mbi_sha256_impl *im, const uint8_t *entries, size_t n, int threads,
                    uint8_t out[32]) {
    if (!im) im = mbi_sha256_impl_get();
    if (n == 0) { mbi_sha256(im, (const uint8_t *)"", 0, out); return 0; }
    size_t nch = (n + ROOT_CHUNK - 1) / ROOT_CHUNK;
    uint8_t *roots = (uint8_t *)malloc(nch * 32);
    if (!roots) return -1;
    root_ctx c = {im, entries, n, roots, 0};
    mbi_parallel_for(nch, threads, 1, root_job, &c);
    if (c.failed) { free(roots); return -1; }
    reduce_in_place(im, roots, nch);
    memcpy(out, roots, 32);
    free(roots);
    return 0;
}

/* ---- proof sizes ---- */

size_t mbi_merkle_inclusion_len(uint64_t index, uint64_t size) {
    size_t len = 0;
    uint64_t i = index, w = size; /* w = nodes on the current level */
    while (w > 1) {
        if ((i ^ 1) < w) len++;
        i >>= 1;
        w = (w >> 1) + (w & 1); /* ceil(w / 2); (w + 1) / 2 wraps at w = 2^64 - 1 */
    }
    return len;
}

static inline uint64_t largest_pow2_below(uint64_t n) { /* n >= 2 */
    uint64_t k = 1;
    while (k < n - k) k <<= 1; /* k * 2 < n, without overflow */
    return k;
}

size_t mbi_merkle_consistency_len(uint64_t m, uint64_t n) {
    size_t len = 0;
    int b = 1;
    while (m != n) {
        uint64_t k = largest_pow2_below(n);
        if (m <= k) n = k;
        else { m -= k; n -= k; b = 0; }
        len++;
    }
    return len + (b ? 0 : 1);
}

/* ---- incremental tree ---- */

static inline uint64_t level_len(uint64_t n, int l) { return n ? ((n - 1) >> l) + 1 : 0; }

static int levels_for(uint64_t n) {
    if (n == 0) return 0;
    int l = 1;
    while (level_len(n, l - 1) > 1) l++;
    return l;
}

void mbi_mtree_init(mbi_mtree *t) { memset(t, 0, sizeof *t); }

void mbi_mtree_free(mbi_mtree *t) {
    for (int l = 0; l < MBI_MERKLE_MAX_LEVELS; l++) free(t->lv[l]);
    memset(t, 0, sizeof *t);
}

/* Make room for n leaves on every level; on failure nothing is lost (old buffers stay). */
static int reserve(mbi_mtree *t, uint64_t n) {
    int nl = levels_for(n);
    for (int l = 0; l < nl; l++) {
        uint64_t need = level_len(n, l);
        if (need <= t->cap[l]) continue;
        uint64_t cap = t->cap[l] ? t->cap[l] : 16;
        while (cap < need) cap *= 2;
        void *p = NULL;
        if (posix_memalign(&p, 64, (size_t)cap * 32) != 0) return -1;
        if (t->lv[l]) {
            memcpy(p, t->lv[l], (size_t)level_len(t->n, l) * 32);
            free(t->lv[l]);
        }
        t->lv[l] = (uint8_t *)p;
        t->cap[l] = cap;
    }
    return 0;
}

/* Appending: leaves [n0, n1) and, per aligned chunk of ROOT_CHUNK leaves, the levels up
 * to the chunk's own subtree root are computed chunk by chunk (a chunk's nodes depend only
 * on its own leaves; its working set stays in L2), the chunks spread over the threads.
 * The few levels above are then finished level by level. */
typedef struct {
    mbi_mtree *t;
    const mbi_sha256_impl *im;
    const uint8_t *entries;
    uint64_t n0, n1, k0;
    int top; /* last level computed per chunk */
} append_ctx;

static void append_job(void *v, size_t b, size_t e) {
    append_ctx *c = (append_ctx *)v;
    for (size_t q = b; q < e; q++) {
        uint64_t k = c->k0 + q;
        uint64_t cs = k * ROOT_CHUNK, ce = cs + ROOT_CHUNK;
        uint64_t ls = cs > c->n0 ? cs : c->n0, le = ce < c->n1 ? ce : c->n1;
        leaves_range(c->im, c->entries + 32 * (ls - c->n0), (size_t)(le - ls), c->t->lv[0] + 32 * ls);
        for (int l = 1; l <= c->top; l++) {
            uint64_t lo = c->n0 >> l, a = cs >> l, z = ce >> l;
            uint64_t below = level_len(c->n1, l - 1);
            if (a < lo) a = lo;
            uint64_t cend = 2 * z < below ? 2 * z : below; /* children end */
            if (2 * a >= cend) continue;
            level_range(c->im, c->t->lv[l - 1] + 64 * a, (size_t)(cend - 2 * a), c->t->lv[l] + 32 * a);
        }
    }
}

int mbi_mtree_append(mbi_mtree *t, const mbi_sha256_impl *im, const uint8_t *entries, size_t m,
                     int threads) {
    if (!im) im = mbi_sha256_impl_get();
    if (m == 0) return 0;
    uint64_t n0 = t->n, n1 = t->n + m;
    if (reserve(t, n1) != 0) return -1;
    int nl = levels_for(n1);
    int chunk_levels = 0;
    while (((uint64_t)1 << chunk_levels) < ROOT_CHUNK) chunk_levels++;
    append_ctx c = {t, im, entries, n0, n1, n0 / ROOT_CHUNK, nl - 1 < chunk_levels ? nl - 1 : chunk_levels};
    size_t nchunks = (size_t)((n1 - 1) / ROOT_CHUNK - c.k0 + 1);
    mbi_parallel_for(nchunks, m >= MT_MIN ? threads : 1, 1, append_job, &c);
    for (int l = c.top + 1; l < nl; l++) {
        uint64_t plo = n0 >> l;
        uint64_t below = level_len(n1, l - 1);
        mbi_merkle_level(im, t->lv[l - 1] + 64 * plo, below - 2 * plo, t->lv[l] + 32 * plo, threads);
    }
    t->n = n1;
    t->nlev = nl;
    return 0;
}

/* LSD radix sort of k keys < 2^(8 * bytes), using tmp (k keys). Result in a. */
static void radix_sort(uint64_t *a, uint64_t *tmp, size_t k, int bytes) {
    uint64_t *src = a, *dst = tmp;
    for (int b = 0; b < bytes; b++) {
        size_t cnt[257] = {0};
        int sh = 8 * b;
        for (size_t i = 0; i < k; i++) cnt[((src[i] >> sh) & 0xff) + 1]++;
        for (int d = 0; d < 256; d++) cnt[d + 1] += cnt[d];
        for (size_t i = 0; i < k; i++) dst[cnt[(src[i] >> sh) & 0xff]++] = src[i];
        uint64_t *x = src; src = dst; dst = x;
    }
    if (src != a) memcpy(a, src, k * sizeof *a);
}

static size_t dedupe_sorted(uint64_t *a, size_t k) {
    if (k == 0) return 0;
    size_t w = 1;
    for (size_t i = 1; i < k; i++)
        if (a[i] != a[w - 1]) a[w++] = a[i];
    return w;
}

/* Levels l_from..l_to for the sorted unique node indices keys[0..k) of level l_from - 1;
 * returns how many indices remain (the dirty nodes of level l_to, in keys). */
static size_t update_levels(mbi_mtree *t, const mbi_sha256_impl *im, uint64_t *keys, size_t k,
                            int l_from, int l_to) {
    for (int l = l_from; l <= l_to; l++) {
        for (size_t q = 0; q < k; q++) keys[q] >>= 1;
        k = dedupe_sorted(keys, k);
        nodes_at_range(im, t->lv[l - 1], level_len(t->n, l - 1), keys, k, t->lv[l]);
    }
    return k;
}

/* Threads split the dirty leaves into runs under disjoint subtrees of level S, so each
 * hashes its subtrees up to level S with no barrier; the few levels above follow on the
 * calling thread. */
typedef struct {
    mbi_mtree *t;
    const mbi_sha256_impl *im;
    uint64_t *keys;
    size_t bounds[257];
    size_t left[256];
    int S;
} update_ctx;

static void update_job(void *v, size_t b, size_t e) {
    update_ctx *c = (update_ctx *)v;
    for (size_t j = b; j < e; j++)
        c->left[j] = update_levels(c->t, c->im, c->keys + c->bounds[j],
                                   c->bounds[j + 1] - c->bounds[j], 1, c->S);
}

int mbi_mtree_update(mbi_mtree *t, const mbi_sha256_impl *im, const uint64_t *idx,
                     const uint8_t *entries, size_t k, int threads) {
    if (!im) im = mbi_sha256_impl_get();
    if (k == 0) return 0;
    threads = mbi_threads(threads);
    uint8_t *hashes = (uint8_t *)malloc(k * 32);
    uint64_t *keys = (uint64_t *)malloc(2 * k * sizeof(uint64_t));
    update_ctx *c = (update_ctx *)malloc(sizeof(update_ctx));
    if (!hashes || !keys || !c) { free(hashes); free(keys); free(c); return -1; }
    mbi_merkle_leaves(im, entries, k, hashes, k >= MT_MIN ? threads : 1);
    /* in input order, so a repeated index keeps its last entry */
    for (size_t q = 0; q < k; q++) {
        if (q + 8 < k) __builtin_prefetch(t->lv[0] + 32 * idx[q + 8], 1);
        memcpy(t->lv[0] + 32 * idx[q], hashes + 32 * q, 32);
    }
    free(hashes);

    memcpy(keys, idx, k * sizeof *keys);
    int bytes = 0;
    for (uint64_t top = t->n - 1; top; top >>= 8) bytes++;
    radix_sort(keys, keys + k, k, bytes);
    k = dedupe_sorted(keys, k);

    int S = t->nlev - 1 - 4; /* 16 subtrees of level S under the root, or fewer */
    int l_done = 0;
    if (threads > 1 && k >= MT_UPDATE_MIN && S >= 1) {
        c->t = t; c->im = im; c->keys = keys; c->S = S;
        int T = threads;
        c->bounds[0] = 0;
        for (int j = 1; j < T; j++) {
            size_t pos = k * (size_t)j / (size_t)T;
            if (pos < c->bounds[j - 1]) pos = c->bounds[j - 1];
            while (pos > c->bounds[j - 1] && pos < k && (keys[pos] >> S) == (keys[pos - 1] >> S)) pos++;
            c->bounds[j] = pos;
        }
        c->bounds[T] = k;
        mbi_parallel_for((size_t)T, T, 1, update_job, c);
        size_t w = 0;
        for (int j = 0; j < T; j++) {
            memmove(keys + w, keys + c->bounds[j], c->left[j] * sizeof *keys);
            w += c->left[j];
        }
        k = w;
        l_done = S;
    }
    update_levels(t, im, keys, k, l_done + 1, t->nlev - 1);
    free(keys);
    free(c);
    return 0;
}

void mbi_mtree_root(const mbi_mtree *t, uint8_t out[32]) {
    if (t->n == 0) { mbi_sha256(NULL, (const uint8_t *)"", 0, out); return; }
    memcpy(out, t->lv[t->nlev - 1], 32);
}

size_t mbi_mtree_inclusion(const mbi_mtree *t, uint64_t index, uint8_t *out) {
    size_t len = 0;
    for (int l = 0; l + 1 < t->nlev; l++) {
        uint64_t s = (index >> l) ^ 1;
        if (s < level_len(t->n, l)) memcpy(out + 32 * len++, t->lv[l] + 32 * s, 32);
    }
    return len;
}

const uint8_t *mbi_mtree_node(const mbi_mtree *t, uint64_t s, uint64_t e) {
    if (!(s < e && e <= t->n)) return NULL;
    int l = 0;
    while (((uint64_t)1 << l) < e - s) l++;
    if (l >= t->nlev || (s & (((uint64_t)1 << l) - 1))) return NULL;
    uint64_t full_end = s + ((uint64_t)1 << l);
    if (e != (full_end < t->n ? full_end : t->n)) return NULL;
    return t->lv[l] + 32 * (s >> l);
}

/* RFC 6962 SUBPROOF(m, D[s:e], b), unrolled: the outer nodes are collected on the way
 * down and emitted innermost first. */
size_t mbi_mtree_consistency(const mbi_mtree *t, uint64_t m, uint8_t *out) {
    const uint8_t *outer[MBI_MERKLE_MAX_LEVELS + 1];
    size_t no = 0, len = 0;
    uint64_t s = 0, e = t->n;
    int b = 1;
    while (m != e - s) {
        uint64_t k = largest_pow2_below(e - s);
        if (m <= k) {
            outer[no++] = mbi_mtree_node(t, s + k, e);
            e = s + k;
        } else {
            outer[no++] = mbi_mtree_node(t, s, s + k);
            s += k;
            m -= k;
            b = 0;
        }
    }
    if (!b) memcpy(out + 32 * len++, mbi_mtree_node(t, s, e), 32);
    while (no) memcpy(out + 32 * len++, outer[--no], 32);
    return len;
}
