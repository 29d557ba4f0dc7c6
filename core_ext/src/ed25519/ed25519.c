/* ZIP-215 Ed25519 verification: the public API (mbi_ed25519.h) and the choice of
 * backend. The layers below, each depending only on those under it: the field (fe51.h),
 * the group and scalar arithmetic (group.h), the single-signature backends (backend.h:
 * portable and AVX-512 IFMA) and the batch engine (batch.h). Nothing here is secret, so
 * the code is variable-time. */
#include "mbi_ed25519.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ed25519/batch.h"
#include "ed25519/keycache.h"
#include "mbi_parallel.h"

static int g_init_ok = 0;
static int g_backend = MBI_ED25519_PORTABLE;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

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

/* ------------------------------------------------------------------ verify */

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
    int ifma;  /* the backend, read once per call */
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
        rc = ed25519_batch_range(b, e, c->pks, c->msgs, c->lens, c->sigs, c->out, c->ifma, &st);
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
    c.ifma = g_backend == MBI_ED25519_IFMA;
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

void mbi_ed25519_keycache_enable(int on) { ed25519_keycache_enable(on); }
int mbi_ed25519_keycache_enabled(void) { return ed25519_keycache_enabled(); }
void mbi_ed25519_keycache_counters(uint64_t *hits, uint64_t *misses, int reset) {
    ed25519_keycache_counters(hits, misses, reset);
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

static void init_once(void) {
    if (ed25519_group_init() != 0) { g_init_ok = 0; return; }
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

const char *mbi_ed25519_backend(void) {
    return g_backend == MBI_ED25519_IFMA ? "avx512ifma" : "portable";
}

int mbi_ed25519_set_backend(int which) {
    if (!mbi_ed25519_backend_available(which)) return -1;
    g_backend = which;
    return 0;
}

int mbi_ed25519_backend_available(int which) {
    if (which == MBI_ED25519_PORTABLE) return 1;
    if (which == MBI_ED25519_IFMA) return ed25519_ifma_available();
    return 0;
}
